"""The column layouts of the files srbench exchanges between its parts (one definition each).

* ``per_image.csv`` (``srbench run``; read by ``srbench report``): one row per
  image, method and protocol; PSNR in dB, SSIM unitless.
* ``summary.csv`` (``srbench run``): set means per method and protocol;
  ``psnr``/``ssim`` stay empty when ``n < n_expected``.
* When a run measures NIQE (``srbench run --metrics psnr,ssim,niqe``) both
  files gain the columns :data:`NIQE_COLUMNS`, ``niqe`` and ``niqe_note``.
  NIQE is no-reference: it depends on no protocol, so it is written once per
  image and method, on a row of its own whose ``protocol`` is empty
  (:data:`NO_PROTOCOL`) and whose ``psnr``/``ssim`` are empty; the protocol
  rows leave ``niqe``/``niqe_note`` empty. Such rows also exist for the HR
  images (method :data:`HR_METHOD`). A value that cannot be computed (an
  image smaller than one 96x96 NIQE block, ...) is ``n/a`` with the reason in
  ``niqe_note``; in ``summary.csv`` the set mean is ``n/a`` (with the reason)
  unless every image of the set has a value. Runs without NIQE keep the
  original columns, byte for byte.
* ratings (the MOS app's export and answer store; read by ``srbench report``):
  one row per accepted answer, ``score`` 1..5; the app's export adds
  :data:`RATING_EXTRA_COLUMNS`.

Method names in these files are registry names (compared through
:func:`srbench.run.registry.method_key`); the MOS studies' ground-truth images
are the pseudo-method :data:`HR_METHOD`.
"""

from __future__ import annotations

PER_IMAGE_COLUMNS: tuple[str, ...] = ("dataset", "image", "method", "protocol", "psnr", "ssim")
SUMMARY_COLUMNS: tuple[str, ...] = ("dataset", "method", "protocol", "n", "n_expected", "psnr", "ssim")
NIQE_COLUMNS: tuple[str, ...] = ("niqe", "niqe_note")
NO_PROTOCOL = ""
"""The ``protocol`` of a no-reference (NIQE) row."""
NOT_AVAILABLE = "n/a"
"""A NIQE value that could not be computed (``niqe_note`` says why); pandas reads it as NaN."""
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
