"""Hidden gold items and attention checks inside the rating phase (ITU-T P.808-style quality control).

* **Gold items** are versions of training photos (BSD200, never shown in the
  calibration) whose score range is known: the original photo (HR, cropped to
  multiples of 4, like the test sets) is expected to score 4..5, the
  nearest-neighbour 4x upscale of its MATLAB-bicubic 4x shrink 1..2 (the
  ranges are P.808's gold rule, "within 1 of the known score", around 5 and
  1). They are shown exactly like rating items - same page, same caption,
  same progress count, an opaque token - so a rater cannot tell them apart;
  their answers are stored with phase ``gold`` and their expected range and
  never enter a MOS. A study sets how many: ``gold_rate`` x (rating
  presentations), each from a different photo, alternately HR and nearest.
* **Attention checks** (optional, ``attention`` per study) are visible
  instructions, P.808's "trapping questions": a grey image that says
  "Attention check: please click 2 (poor)". Expected range: that one score.

Both are inserted at random positions of each rater's rating phase, drawn
from the rater's own seeded generator (``"<seed>:<rater>:checks"``), so the
order of the rating items themselves is the same as without checks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .study import StudyError

GOLD_RANGES = {"nearest": (1, 2), "hr": (4, 5)}
"""Expected score range of each gold version."""
GOLD_SET = "bsd200"
ATTENTION_METHOD = "attention"
ATTENTION_SIZE = (480, 320)
"""Attention images are as large as a BSD100 image (width, height), so the page layout does not change."""
SCORE_WORDS = {1: "1 (bad)", 2: "2 (poor)", 3: "3 (fair)", 4: "4 (good)", 5: "5 (excellent)"}
MAX_GOLD_RATE = 0.5


@dataclass(frozen=True)
class CheckSpec:
    """One check image to write: ``pixels`` uint8 (H, W, 3) RGB shown as ``method`` of ``dataset/image``,
    with ``kind`` ``"gold"`` or ``"attention"`` and its expected score range (inclusive)."""

    kind: str
    dataset: str
    image: str
    method: str
    pixels: np.ndarray
    expected_low: int
    expected_high: int

    @property
    def item(self) -> str:
        return f"{self.kind}/{Path(self.image).stem}/{self.method}"

    @property
    def path(self) -> str:
        return f"{self.kind}/{Path(self.image).stem}/{self.method}.png"


def gold_count(rate: float, rating_presentations: int) -> int:
    """Gold items per rater for ``rate`` (0 .. :data:`MAX_GOLD_RATE`) of ``rating_presentations``: at least 1 if rate > 0."""
    if not (isinstance(rate, (int, float)) and 0 <= rate <= MAX_GOLD_RATE):
        raise StudyError(f"--gold-rate must be between 0 and {MAX_GOLD_RATE}, got {rate!r}")
    if rate == 0:
        return 0
    return max(1, round(rate * rating_presentations))


def gold_specs(photos: list[Path], count: int) -> list[CheckSpec]:
    """``count`` gold items from ``photos`` (one version per photo: HR, nearest, HR, ...)."""
    from srbench import SCALE
    from srbench.data.imageio import read_image
    from srbench.run.registry import get_method
    from srbench.data.resize import imresize

    if count > len(photos):
        raise StudyError(f"{count} gold items need {count} training photos, only {len(photos)} are left after the "
                         "calibration images: lower --gold-rate")
    nearest = get_method("nearest")
    out = []
    for k, path in enumerate(photos[:count]):
        hr, _ = read_image(path)
        h, w = hr.shape[0] // SCALE * SCALE, hr.shape[1] // SCALE * SCALE
        hr = np.ascontiguousarray(hr[:h, :w])
        method = "hr" if k % 2 == 0 else "nearest"
        if method == "nearest":
            pixels = nearest.upscale(imresize(hr, 1 / SCALE, kernel="bicubic"), dataset=GOLD_SET, name=path.name)
        else:
            pixels = hr
        lo, hi = GOLD_RANGES[method]
        out.append(CheckSpec("gold", GOLD_SET, path.name, method, pixels, lo, hi))
    return out


def attention_image(score: int, size: tuple[int, int] = ATTENTION_SIZE) -> np.ndarray:
    """A mid-grey ``size`` (width, height) image that asks, in large black text, for ``score``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = size
    fig = Figure(figsize=(w / 100, h / 100), dpi=100, facecolor=(0.5, 0.5, 0.5))
    canvas = FigureCanvasAgg(fig)
    fig.text(0.5, 0.62, "Attention check", ha="center", va="center", fontsize=24, color="black")
    fig.text(0.5, 0.38, f"Please click {SCORE_WORDS[score]}", ha="center", va="center", fontsize=24, color="black")
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[:h, :w, :3])


MAX_ATTENTION = 20


def check_attention_count(count: int) -> int:
    """``count`` if it is a valid number of attention checks (0..:data:`MAX_ATTENTION`), else StudyError."""
    if isinstance(count, bool) or not (isinstance(count, int) and 0 <= count <= MAX_ATTENTION):
        raise StudyError(f"--attention must be 0..{MAX_ATTENTION}, got {count!r}")
    return count


def attention_specs(count: int, seed: int, size: tuple[int, int] = ATTENTION_SIZE) -> list[CheckSpec]:
    """``count`` attention checks of ``size`` (width, height); the score each asks for is drawn from ``seed``
    (2..4 for every other one)."""
    check_attention_count(count)
    rng = random.Random(f"{seed}:attention")
    out = []
    for k in range(count):
        score = rng.choice([2, 3, 4]) if k % 2 == 0 else rng.choice([1, 2, 3, 4, 5])
        out.append(CheckSpec("attention", ATTENTION_METHOD, f"check{k + 1:02d}.png", ATTENTION_METHOD,
                             attention_image(score, size), score, score))
    return out


def insert_checks(order: list, checks: list, rng: random.Random) -> list:
    """``order`` with every element of ``checks`` inserted at a random position, keeping the relative order of
    ``order``; while there are fewer checks than gaps, no two checks are adjacent."""
    if not checks:
        return list(order)
    checks = list(checks)
    rng.shuffle(checks)
    slots = len(order) + 1
    if len(checks) <= slots:  # distinct slots: an item of ``order`` between any two checks
        positions = sorted(rng.sample(range(slots), len(checks)))
    else:
        positions = sorted(rng.randrange(slots) for _ in checks)
    out, it = [], iter(order)
    pos_iter = iter(zip(positions, checks))
    nxt = next(pos_iter, None)
    for slot in range(slots):
        while nxt is not None and nxt[0] == slot:
            out.append(nxt[1])
            nxt = next(pos_iter, None)
        if slot < len(order):
            out.append(next(it))
    return out
