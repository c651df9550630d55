"""Y-channel PSNR/SSIM under two named protocols (see ``../shared/reference/protocols.md``).

* ``paper``  - the SRGAN paper's: Xiph daala tools (png2y4m luma, dump_psnr,
  dump_ssim with its image-height dependent Gaussian window).
* ``matlab`` - the community protocol: MATLAB rgb2ycbcr luma rounded to
  uint8, 11x11 Gaussian SSIM (sigma 1.5), valid region.

Both crop ``border`` = 4 pixels off every side. Every number srbench writes
carries the name of the protocol that produced it.
"""

from __future__ import annotations

import numpy as np

from srbench.errors import SrbenchError

PROTOCOLS = ("paper", "matlab")
BORDER = 4


def evaluate(
    sr: np.ndarray, hr: np.ndarray, *, protocol: str, is_gray: bool = False, border: int = BORDER
) -> tuple[float, float]:
    """Return ``(psnr_db, ssim)`` of ``sr`` against ``hr`` under ``protocol``.

    ``sr`` and ``hr`` are ``uint8`` ``(H, W, 3)`` RGB of equal shape.
    ``is_gray`` says the HR file was grayscale (only the ``matlab`` protocol
    uses it). PSNR is ``inf`` for identical images.
    """
    if sr.shape != hr.shape:
        raise SrbenchError(f"SR shape {sr.shape} differs from HR shape {hr.shape}")
    if sr.dtype != np.uint8 or hr.dtype != np.uint8:
        raise SrbenchError("metrics take uint8 images")
    if protocol == "paper":
        from srbench.metrics import paper

        return paper.psnr_ssim(sr, hr, border=border)
    if protocol == "matlab":
        from srbench.metrics import matlab

        return matlab.psnr_ssim(sr, hr, is_gray=is_gray, border=border)
    raise SrbenchError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")


def evaluate_protocols(
    sr: np.ndarray, hr: np.ndarray, protocols: tuple[str, ...], is_gray: bool = False
) -> list[tuple[float, float]]:
    """``[(psnr_db, ssim), ...]`` for one SR/HR pair, one entry per protocol.

    Module-level (and light to import) so that the runner's worker processes can call it.
    """
    return [evaluate(sr, hr, protocol=protocol, is_gray=is_gray) for protocol in protocols]
