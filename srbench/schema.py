"""The column layouts of the files srbench exchanges between its parts (one definition each).

* ``per_image.csv`` (``srbench run``; read by ``srbench report``): one row per
  image, method and protocol; PSNR in dB, SSIM unitless.
* ``summary.csv`` (``srbench run``): set means per method and protocol;
  ``psnr``/``ssim`` stay empty when ``n < n_expected``.
* ratings (the MOS app's export and answer store; read by ``srbench report``):
  one row per accepted answer, ``score`` 1..5; the app's export adds
  :data:`RATING_EXTRA_COLUMNS`.

Method names in these files are registry names (compared through
:func:`srbench.registry.method_key`); the MOS studies' ground-truth images
are the pseudo-method :data:`HR_METHOD`.
"""

from __future__ import annotations

PER_IMAGE_COLUMNS: tuple[str, ...] = ("dataset", "image", "method", "protocol", "psnr", "ssim")
SUMMARY_COLUMNS: tuple[str, ...] = ("dataset", "method", "protocol", "n", "n_expected", "psnr", "ssim")
RATING_COLUMNS: tuple[str, ...] = ("study", "rater", "item", "method", "dataset", "image", "phase", "repeat",
                                   "score", "response_ms", "timestamp")
RATING_EXTRA_COLUMNS: tuple[str, ...] = ("session", "attempts", "view_ms", "expected_low", "expected_high")
"""Columns the MOS app's export adds after :data:`RATING_COLUMNS` (optional for readers): the rater's session
number, clicks it took (calibration: 1 + wrong clicks), the page's display-to-click time in ms, and the
expected score range of a calibration anchor, gold item or attention check (empty for rating items)."""
RATING_PHASES: tuple[str, ...] = ("calibration", "rating", "gold", "attention")
"""Phases of an answer: labelled anchors, the items a MOS is made of, hidden gold items and attention checks
(both inside the rating phase, never part of a MOS)."""
HR_METHOD = "hr"
"""The original HR image as it appears among the methods of a MOS study and in the report's tables."""
