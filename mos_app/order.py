"""The sequence of presentations one rater goes through, reproducible from (study seed, rater id).

A rater first sees the calibration anchors (for each calibration image its
nearest-neighbour version, anchor score 1, then its HR version, anchor 5, in
manifest order), then every rating item once in a random order, with the
study's repeated items shown a second time.

Two rules shape the random order (both checked by the tests):

* **Versions of one photo are kept apart**: any two presentations of the
  same ``(dataset, image)`` (two methods, or an item and its repeat) are at
  least :func:`photo_gap` positions apart, i.e. at least ``gap - 1`` other
  images in between. Seeing two versions back to back turns an absolute
  rating into a side-by-side comparison; with ``PHOTO_GAP = 8`` the previous
  version was seen more than half a minute earlier at a typical 4-5 s per
  image. Small studies use ``max(2, photos // 2)`` instead (a larger gap
  would leave almost no randomness, or be impossible).
* A repeated item's two showings are at least :func:`repeat_gap` apart.

Presentation indices count from 0 over the whole sequence (calibration
included); the store keys answers by (study, rater, index).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from .checks import insert_checks
from .study import Stimulus, Study

PHOTO_GAP = 8
"""Minimum distance between two versions of one photo in a study with at least 16 photos."""
_ATTEMPTS = 20


@dataclass(frozen=True)
class Presentation:
    """One step of a rater's sequence: show ``stimulus`` (``repeat`` = 0 first showing, 1 second)."""

    index: int
    phase: str  # "calibration", "rating", or a check inside the rating phase: "gold" / "attention"
    stimulus: Stimulus
    repeat: int


def rater_rng(seed: int, rater: str) -> random.Random:
    """A ``random.Random`` seeded from SHA-256 of ``"<seed>:<rater>"`` (stable across Python versions)."""
    digest = hashlib.sha256(f"{seed}:{rater}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def min_gap(n_items: int) -> int:
    """Base distance between the two showings of a repeated item: max(2, n_items // 4)."""
    return max(2, n_items // 4)


def photo_gap(n_photos: int) -> int:
    """Minimum distance between two versions of one photo: min(PHOTO_GAP, max(2, n_photos // 2)); 1 for one photo."""
    if n_photos <= 1:
        return 1
    return min(PHOTO_GAP, max(2, n_photos // 2))


def repeat_gap(n_items: int, n_photos: int) -> int:
    """Minimum distance between a repeated item's two showings: max(min_gap, photo_gap)."""
    return max(min_gap(n_items), photo_gap(n_photos))


def _pick(rng: random.Random, choices: list, weights: list[int]):
    """One of ``choices`` with probability proportional to ``weights`` (uses only ``rng.random()``)."""
    x = rng.random() * sum(weights)
    for choice, w in zip(choices, weights):
        x -= w
        if x < 0:
            return choice
    return choices[-1]


def _spread(groups: dict, gap: int, rng: random.Random, *, randomised: bool) -> list[str] | None:
    """Order every member of ``groups`` (photo -> shuffled items) with members of one group >= ``gap`` apart.

    Each step places a photo whose last version is at least ``gap`` back,
    drawn with weight = its remaining versions (or, with ``randomised``
    False, the photo with the most remaining, ties drawn at random: this
    never fails when a spread order exists). A photo whose remaining
    versions only just fit into the remaining positions is placed at once.
    Returns None on a dead end.
    """
    remaining = {ph: list(items) for ph, items in groups.items()}
    keys = sorted(remaining)
    last: dict = {}
    total = sum(len(v) for v in remaining.values())
    order: list[str] = []
    for pos in range(total):
        left = total - pos
        eligible = [ph for ph in keys if remaining[ph] and pos - last.get(ph, -gap) >= gap]
        if not eligible:
            return None
        tight = [ph for ph in eligible if (len(remaining[ph]) - 1) * gap + 1 >= left]
        if tight:
            ph = tight[0]
        elif randomised:
            ph = _pick(rng, eligible, [len(remaining[p]) for p in eligible])
        else:
            most = max(len(remaining[p]) for p in eligible)
            ph = rng.choice([p for p in eligible if len(remaining[p]) == most])
        order.append(remaining[ph].pop())
        last[ph] = pos
    return order


def spread_order(items: list[str], photo: dict[str, object], gap: int, rng: random.Random) -> list[str]:
    """A random order of ``items`` in which two items of one photo (``photo[item]``) are >= ``gap`` apart.

    Tries :data:`_ATTEMPTS` weighted random orders, then the
    most-remaining-first order; if even that fails (one photo has too many
    versions for the gap) the gap is lowered by one and the search repeats.
    Everything is drawn from ``rng``, so the result is reproducible.
    """
    groups: dict = {}
    for item in items:
        groups.setdefault(photo[item], []).append(item)
    for members in groups.values():
        members.sort()
        rng.shuffle(members)
    for g in range(max(1, gap), 0, -1):
        for attempt in range(_ATTEMPTS + 1):
            found = _spread(groups, g, rng, randomised=attempt < _ATTEMPTS)
            if found is not None:
                return found
    raise AssertionError("unreachable: gap 1 always succeeds")


def _allowed(order: list[str], photo: dict[str, object], item: str, gap: int, rgap: int) -> list[int]:
    """Insertion indices for a second showing of ``item``: >= ``gap`` from every version of its photo and
    >= ``rgap`` from its first showing.

    Inserting at ``i`` shifts elements at ``j >= i`` by one, so the new
    distance to the element at ``j`` is ``i - j`` (``j < i``) or
    ``j + 1 - i`` (``j >= i``): it is below ``d`` exactly for
    ``j + 2 - d <= i <= j + d - 1``.
    """
    ok = [True] * (len(order) + 1)

    def forbid(j: int, d: int) -> None:
        for i in range(max(0, j + 2 - d), min(len(ok), j + d)):
            ok[i] = False

    for j, other in enumerate(order):
        if photo[other] == photo[item]:
            forbid(j, gap)
    forbid(order.index(item), rgap)
    return [i for i, good in enumerate(ok) if good]


def rating_order(items: list[str], repeats: list[str], rng: random.Random,
                 photo: dict[str, object] | None = None) -> list[tuple[str, int]]:
    """Order ``items`` with versions of one photo apart, and insert a second showing of each of ``repeats``.

    ``photo`` maps each item to its photo (default: every item its own
    photo). Returns ``[(item, repeat_index), ...]``. Each second showing is
    inserted at a random position at least :func:`repeat_gap` from its first
    showing and :func:`photo_gap` from every other version of its photo;
    inserting never shortens the distance between two earlier elements, so
    every pair stays apart. (Where no such position exists, in a study too
    small for the gaps, the repeat gap and then the photo gap are relaxed.)
    """
    photo = photo if photo is not None else {item: item for item in items}
    n_photos = len(set(photo[i] for i in items))
    gap = photo_gap(n_photos)
    order = spread_order(items, photo, gap, rng)
    rgap = repeat_gap(len(items), n_photos)
    second = sorted(repeats)
    rng.shuffle(second)
    for item in second:
        allowed = _allowed(order, photo, item, gap, rgap)
        g = gap
        while not allowed and g > 1:  # tiny study: relax the repeat gap first, then the photo gap
            allowed = _allowed(order, photo, item, g, g) or _allowed(order, photo, item, g - 1, g - 1)
            g -= 1
        if not allowed:
            allowed = list(range(len(order) + 1))
        order.insert(rng.choice(allowed), item)
    seen: dict[str, int] = {}
    out = []
    for item in order:
        out.append((item, seen.get(item, 0)))
        seen[item] = seen.get(item, 0) + 1
    return out


def presentations(study: Study, rater: str) -> list[Presentation]:
    """The full, reproducible sequence for ``rater``: calibration first, then rating.

    The study's gold items and attention checks (:mod:`srbench.mos_app.checks`)
    are inserted into the rating phase at random positions drawn from a second
    generator (``"<seed>:<rater>:checks"``), so the rating items keep the order
    they have without checks; their phase is ``"gold"`` or ``"attention"``.
    """
    seq = [Presentation(i, "calibration", s, 0) for i, s in enumerate(study.calibration)]
    by_id = {s.item: s for s in study.items}
    photo = {s.item: (s.dataset, s.image) for s in study.items}
    order = rating_order(list(by_id), list(study.repeats), rater_rng(study.seed, rater), photo)
    steps = [("rating", by_id[item], rep) for item, rep in order]
    checks = [(c.check, c, 0) for c in study.checks]
    steps = insert_checks(steps, checks, rater_rng(study.seed, f"{rater}:checks"))
    base = len(seq)
    seq += [Presentation(base + k, phase, stim, rep) for k, (phase, stim, rep) in enumerate(steps)]
    return seq
