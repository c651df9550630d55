"""The viewer's state and its URL form (query parameters), so that a link reopens the same view.

Parameters (all optional; anything invalid falls back to the default):

``set``   dataset (set5, set14, bsd100)
``image`` image file name, e.g. ``baby.png``
``m``     the methods shown, comma-separated column keys (default: every method of the set)
``x``/``y`` the region's top-left corner in HR pixels (x to the right, y down)
``zoom``  1, 2, 4 or 8: each image pixel drawn as zoom x zoom device pixels (nearest neighbour)
``diff``  1: show ``|SR - HR|`` instead of the SR images
``sort``  psnr, ssim or niqe; ``a``, ``b``: sort by ``a``'s value, or by ``a - b``; ``desc`` 1: descending

The region is square: :func:`region_side` HR pixels a side, so that every panel is
:data:`PANEL_PX` device pixels a side at any zoom (less where the image is smaller).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

ZOOMS = (1, 2, 4, 8)
PANEL_PX = 384  # device pixels a panel's side spans (region side x zoom)
DEFAULT_ZOOM = 2


def region_side(zoom: int, width: int, height: int) -> int:
    """The region's side in HR pixels at ``zoom`` for a ``width x height`` image."""
    return min(PANEL_PX // zoom, width, height)


@dataclass(frozen=True)
class ViewState:
    dataset: str = ""
    image: str = ""
    methods: tuple[str, ...] = ()
    x: int = -1  # -1: centred
    y: int = -1
    zoom: int = DEFAULT_ZOOM
    diff: bool = False
    sort: str = ""
    a: str = ""
    b: str = ""
    descending: bool = False

    def to_params(self) -> dict[str, str]:
        """Query parameters (strings), defaults left out."""
        out = {"set": self.dataset, "image": self.image}
        if self.methods:
            out["m"] = ",".join(self.methods)
        if self.x >= 0 and self.y >= 0:
            out["x"], out["y"] = str(self.x), str(self.y)
        out["zoom"] = str(self.zoom)
        if self.diff:
            out["diff"] = "1"
        if self.sort:
            out["sort"], out["a"] = self.sort, self.a
            if self.b:
                out["b"] = self.b
            if self.descending:
                out["desc"] = "1"
        return {k: v for k, v in out.items() if v}

    def clamped(self, width: int, height: int) -> "ViewState":
        """The state with its region inside a ``width x height`` image (centred where unset)."""
        side = region_side(self.zoom, width, height)
        x = (width - side) // 2 if self.x < 0 else self.x
        y = (height - side) // 2 if self.y < 0 else self.y
        return replace(self, x=max(0, min(x, width - side)), y=max(0, min(y, height - side)))


def _int(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def parse_params(params: Mapping[str, str]) -> ViewState:
    """A :class:`ViewState` from query parameters; unknown or malformed values give the defaults."""
    zoom = _int(params.get("zoom"), DEFAULT_ZOOM)
    methods = tuple(m for m in (params.get("m") or "").split(",") if m)
    sort = params.get("sort") or ""
    return ViewState(
        dataset=params.get("set") or "", image=params.get("image") or "", methods=methods,
        x=max(-1, _int(params.get("x"), -1)), y=max(-1, _int(params.get("y"), -1)),
        zoom=zoom if zoom in ZOOMS else DEFAULT_ZOOM, diff=params.get("diff") == "1",
        sort=sort if sort in ("psnr", "ssim", "niqe") else "", a=params.get("a") or "", b=params.get("b") or "",
        descending=params.get("desc") == "1")
