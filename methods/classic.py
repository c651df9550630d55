"""Non-learned baselines: MATLAB-compatible nearest-neighbour and bicubic 4x upscaling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from srbench import SCALE
from srbench.run.registry import Method, PaperRow, register_method

if TYPE_CHECKING:
    import numpy as np


@dataclass
class ResizeMethod(Method):
    """Upscale with MATLAB ``imresize(lr, 4, kernel)`` and round to uint8."""

    name: str
    kernel: str  # "nearest" or "bicubic"

    def upscale(self, lr: np.ndarray, *, dataset: str = "", name: str = "") -> np.ndarray:
        from srbench.data.resize import imresize

        return imresize(lr, SCALE, kernel=self.kernel)

    def receptive_radius(self) -> int:
        """LR pixels of context per side: bicubic's 4 taps reach 2 pixels at 4x, nearest's 1 tap none (+1 spare)."""
        return 3 if self.kernel == "bicubic" else 1


@register_method("nearest", aliases=("nn",), paper_rows=(PaperRow(2, "nearest"),), kind="classic",
                 description="nearest-neighbour 4x (MATLAB imresize 'nearest')")
def _nearest() -> ResizeMethod:
    return ResizeMethod("nearest", "nearest")


@register_method("bicubic", paper_rows=(PaperRow(2, "bicubic"),), kind="classic",
                 description="bicubic 4x (MATLAB imresize 'bicubic', antialiasing kernel a = -0.5)")
def _bicubic() -> ResizeMethod:
    return ResizeMethod("bicubic", "bicubic")
