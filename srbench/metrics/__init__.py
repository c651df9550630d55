"""Full-reference metrics (Y-channel PSNR and SSIM) under named protocols (the README's "Metric protocols").

A *protocol* fixes how the two numbers are computed: which luma (Y') and
which SSIM. Each is one :class:`Protocol` record in :data:`REGISTRY`:

* ``paper``  - the SRGAN paper's: Xiph daala tools (png2y4m luma, dump_psnr,
  dump_ssim with its image-height dependent Gaussian window).
* ``matlab`` - the community protocol: MATLAB rgb2ycbcr luma rounded to
  uint8, 11x11 Gaussian SSIM (sigma 1.5), valid region.

Both crop ``border`` = 4 pixels off every side. Every number srbench writes
carries the name of the protocol that produced it. Which metrics a run
reports is separate from the protocol (:data:`METRICS`, :func:`parse_metrics`):
``psnr`` and ``ssim`` are computed together, once per protocol; ``niqe``
(:mod:`srbench.metrics.niqe`) is no-reference - it measures the SR image
alone, so it has no protocol and is computed once per image, with
:data:`NIQE_LUMA` luma and no border crop (MATLAB's and the authors' setting).

This module imports no numpy: a protocol's implementation module is imported
the first time it computes something.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from srbench.errors import SrbenchError

if TYPE_CHECKING:
    import numpy as np

BORDER = 4
METRICS = ("psnr", "ssim", "niqe")  # the built-in ones; plugins add more (srbench.metrics.registry)
FULL_REFERENCE = ("psnr", "ssim")  # computed together by a protocol
NO_REFERENCE = ("niqe",)  # the built-in no-reference metric
DEFAULT_METRICS = FULL_REFERENCE
NIQE_LUMA = "gray"  # MATLAB rgb2gray, as the authors' release and MATLAB's niqe
NIQE_BORDER = 0


@dataclass(frozen=True)
class Protocol:
    """One way of computing Y-PSNR and SSIM: ``function(sr, hr, border=...)`` -> ``(psnr_db, ssim)``.

    ``function`` is ``"module:name"`` (imported on first use); ``uses_gray``
    says whether it also takes ``is_gray`` (the HR file was grayscale).
    """

    name: str
    luma: str
    ssim: str
    function: str
    uses_gray: bool = False

    def implementation(self) -> Callable[..., tuple[float, float]]:
        module, _, attr = self.function.partition(":")
        return getattr(importlib.import_module(module), attr)

    def psnr_ssim(self, sr: np.ndarray, hr: np.ndarray, *, is_gray: bool = False,
                  border: int = BORDER) -> tuple[float, float]:
        """``(psnr_db, ssim)`` of uint8 RGB ``sr`` against ``hr`` under this protocol."""
        fn = self.implementation()
        return fn(sr, hr, is_gray=is_gray, border=border) if self.uses_gray else fn(sr, hr, border=border)


REGISTRY: dict[str, Protocol] = {p.name: p for p in (
    Protocol("paper", luma="daala png2y4m: BT.709 studio range, 4:2:0 chroma, dithered",
             ssim="daala dump_ssim -r: Gaussian window, sigma 1.5*H/256, truncated at the borders",
             function="srbench.metrics.paper:psnr_ssim"),
    Protocol("matlab", luma="MATLAB rgb2ycbcr (BT.601 studio range), rounded to uint8",
             ssim="Wang et al.: 11x11 Gaussian window, sigma 1.5, valid region",
             function="srbench.metrics.matlab:psnr_ssim", uses_gray=True),
)}
PROTOCOLS = tuple(REGISTRY)


def get_protocol(name: str) -> Protocol:
    """The :class:`Protocol` called ``name``; :class:`SrbenchError` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise SrbenchError(f"unknown protocol {name!r}; choose from {', '.join(PROTOCOLS)}") from None


def evaluate(
    sr: np.ndarray, hr: np.ndarray, *, protocol: str, is_gray: bool = False, border: int = BORDER
) -> tuple[float, float]:
    """Return ``(psnr_db, ssim)`` of ``sr`` against ``hr`` under ``protocol``.

    ``sr`` and ``hr`` are ``uint8`` ``(H, W, 3)`` RGB of equal shape.
    ``is_gray`` says the HR file was grayscale (only the ``matlab`` protocol
    uses it). PSNR is ``inf`` for identical images.
    """
    import numpy as np

    if sr.shape != hr.shape:
        raise SrbenchError(f"SR shape {sr.shape} differs from HR shape {hr.shape}")
    if sr.dtype != np.uint8 or hr.dtype != np.uint8:
        raise SrbenchError("metrics take uint8 images")
    return get_protocol(protocol).psnr_ssim(sr, hr, is_gray=is_gray, border=border)


def parse_metrics(names: Iterable[str]) -> tuple[str, ...]:
    """Check a metric selection and return it in registry order (:func:`srbench.metrics.registry.all_metrics`).

    Names are those of the registered metrics (``psnr``, ``ssim``, ``niqe``
    and any a plugin adds; case-insensitive) or ``all``. ``psnr`` and
    ``ssim`` come together (one protocol pass computes both), so naming only
    one of them is an error; so is an empty selection.
    """
    from srbench.metrics.registry import all_metrics

    known = tuple(m.name for m in all_metrics())
    chosen = set()
    for name in names:
        key = str(name).strip().lower()
        if key == "all":
            chosen |= set(known)
        elif key in known:
            chosen.add(key)
        elif key:
            raise SrbenchError(f"unknown metric {name!r}; choose from {', '.join(known)} (or all)")
    if not chosen:
        raise SrbenchError(f"no metric chosen; choose from {', '.join(known)}")
    partial = chosen & set(FULL_REFERENCE)
    if partial and partial != set(FULL_REFERENCE):
        raise SrbenchError("psnr and ssim are computed together by each protocol: give both (psnr,ssim) or neither")
    return tuple(m for m in known if m in chosen)


def measure_image(
    sr: np.ndarray, hr: np.ndarray, protocols: tuple[str, ...], is_gray: bool = False, no_reference: tuple = ()
) -> tuple[list[tuple[float, float]], list[tuple[float | None, str]]]:
    """Every metric of one image: ``([(psnr_db, ssim) per protocol], [(value or None, note) per no-reference])``.

    ``no_reference``: ``(Metric, state)`` pairs (:mod:`srbench.metrics.registry`;
    the state from :meth:`~srbench.metrics.registry.Metric.prepared`), each
    computed on ``sr`` alone (pass ``sr=hr`` and no protocols to measure an HR
    image). Module-level and light to import, for the runner's worker processes.
    """
    full = [evaluate(sr, hr, protocol=protocol, is_gray=is_gray) for protocol in protocols]
    return full, [metric.measure(sr, state) for metric, state in no_reference]
