"""Full-reference metrics (Y-channel PSNR and SSIM) under named protocols (see ``../shared/reference/protocols.md``).

A *protocol* fixes how the two numbers are computed: which luma (Y') and
which SSIM. Each is one :class:`Protocol` record in :data:`REGISTRY`:

* ``paper``  - the SRGAN paper's: Xiph daala tools (png2y4m luma, dump_psnr,
  dump_ssim with its image-height dependent Gaussian window).
* ``matlab`` - the community protocol: MATLAB rgb2ycbcr luma rounded to
  uint8, 11x11 Gaussian SSIM (sigma 1.5), valid region.

Both crop ``border`` = 4 pixels off every side. Every number srbench writes
carries the name of the protocol that produced it. Which metrics a run
reports (PSNR and SSIM per protocol today) is separate from the protocol:
a no-reference metric (NIQE) measures the SR image alone and has no protocol.

This module imports no numpy: a protocol's implementation module is imported
the first time it computes something.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from srbench.errors import SrbenchError

if TYPE_CHECKING:
    import numpy as np

BORDER = 4


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


def evaluate_protocols(
    sr: np.ndarray, hr: np.ndarray, protocols: tuple[str, ...], is_gray: bool = False
) -> list[tuple[float, float]]:
    """``[(psnr_db, ssim), ...]`` for one SR/HR pair, one entry per protocol.

    Module-level (and light to import) so that the runner's worker processes can call it.
    """
    return [evaluate(sr, hr, protocol=protocol, is_gray=is_gray) for protocol in protocols]
