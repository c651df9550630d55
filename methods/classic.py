"""Non-learned baselines: MATLAB-compatible nearest-neighbour and bicubic 4x upscaling."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .registry import register
from srbench import SCALE


@dataclass
class ResizeMethod:
    """Upscale with MATLAB ``imresize(lr, 4, kernel)`` and round to uint8."""

    name: str
    kernel: str  # "nearest" or "bicubic"

    def availability(self) -> str | None:
        return None

    def upscale(self, lr: np.ndarray, *, dataset: str = "", name: str = "") -> np.ndarray:
        from srbench.resize import imresize

        return imresize(lr, SCALE, kernel=self.kernel)


register("nearest", lambda: ResizeMethod("nearest", "nearest"), aliases=("nn",))
register("bicubic", lambda: ResizeMethod("bicubic", "bicubic"))
