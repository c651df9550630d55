"""The sequence of presentations one rater goes through, reproducible from (study seed, rater id).

A rater first sees the calibration anchors (for each calibration image its
nearest-neighbour version, anchor score 1, then its HR version, anchor 5, in
manifest order), then every rating item once in a random order, with the
study's repeated items shown a second time. A repeated item's two showings
are at least :func:`min_gap` presentations apart (never back to back).

Presentation indices count from 0 over the whole sequence (calibration
included); the store keys answers by (study, rater, index).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from .study import Stimulus, Study


@dataclass(frozen=True)
class Presentation:
    """One step of a rater's sequence: show ``stimulus`` (``repeat`` = 0 first showing, 1 second)."""

    index: int
    phase: str  # "calibration" or "rating"
    stimulus: Stimulus
    repeat: int


def rater_rng(seed: int, rater: str) -> random.Random:
    """A ``random.Random`` seeded from SHA-256 of ``"<seed>:<rater>"`` (stable across Python versions)."""
    digest = hashlib.sha256(f"{seed}:{rater}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def min_gap(n_items: int) -> int:
    """Smallest allowed distance between the two showings of a repeated item: max(2, n_items // 4)."""
    return max(2, n_items // 4)


def rating_order(items: list[str], repeats: list[str], rng: random.Random) -> list[tuple[str, int]]:
    """Shuffle ``items`` and insert a second showing of each of ``repeats``.

    Returns ``[(item, repeat_index), ...]``. Each second copy is inserted at
    a random position at least :func:`min_gap` away from its first copy;
    inserting never shortens the distance between two earlier elements, so
    every pair stays apart.
    """
    order = list(items)
    rng.shuffle(order)
    gap = min_gap(len(items))
    second = list(repeats)
    rng.shuffle(second)
    for item in second:
        p = order.index(item)
        allowed = [i for i in range(len(order) + 1) if i <= p + 1 - gap or i >= p + gap]
        if not allowed:  # tiny study: fall back to "not back to back"
            allowed = [i for i in range(len(order) + 1) if i <= p - 1 or i >= p + 2]
        order.insert(rng.choice(allowed), item)
    seen: dict[str, int] = {}
    out = []
    for item in order:
        out.append((item, seen.get(item, 0)))
        seen[item] = seen.get(item, 0) + 1
    return out


def presentations(study: Study, rater: str) -> list[Presentation]:
    """The full, reproducible sequence for ``rater``: calibration first, then rating."""
    seq = [Presentation(i, "calibration", s, 0) for i, s in enumerate(study.calibration)]
    by_id = {s.item: s for s in study.items}
    order = rating_order(list(by_id), list(study.repeats), rater_rng(study.seed, rater))
    base = len(seq)
    seq += [Presentation(base + k, "rating", by_id[item], rep) for k, (item, rep) in enumerate(order)]
    return seq
