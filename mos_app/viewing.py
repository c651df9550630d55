"""Viewing conditions: what the rater's browser reports and whether an image fits at one pixel per pixel.

The page draws an image of ``W x H`` pixels at ``W / dpr x H / dpr`` CSS
pixels, so that each image pixel is one device pixel at any
devicePixelRatio ``dpr`` (browser zoom is part of ``dpr``). It must then
fit, whole, next to the score buttons inside the window: the layout below
(CSS pixels) is shared by the page's style sheet (:func:`page_css`) and by
the check before a session starts (:func:`fits`); during the session the
page itself measures where the image lands.

ITU-R BT.500 surround: the page background is mid-grey (sRGB 128, 128, 128),
text black on it (contrast 5.3 : 1).
"""

from __future__ import annotations

import math
import struct

from .store import Viewing

GREY = "#808080"
PAD_TOP, PAD_X, PAD_BOTTOM = 12, 24, 12
STATUS_H, MESSAGE_H, ROW_GAP = 28, 52, 8
SIDE_W, SIDE_GAP = 210, 24
MARGIN = 16
"""Extra room (CSS px) the pre-session check asks for beyond the computed layout (Streamlit's own spacing)."""
MAX_DIM = 100000

VIEWING_GUIDANCE = """
**Viewing conditions** (as ITU-R BT.500 asks for quality tests):

* Use a desktop or laptop screen, not a phone. Sit at a normal viewing distance (about an arm's
  length, 50-70 cm), straight in front of the screen.
* Dim the room lights a little and avoid reflections or direct light on the screen; keep the
  screen's brightness as you normally use it during the whole study.
* Keep the browser zoom at 100 %. The page draws every image one image pixel per screen pixel and
  checks your window: if an image does not fit, it says so and waits until the window is larger
  (maximise the window or press F11 for full screen).
* The grey around the images is intentional (a neutral surround); please do not change it.
"""


def parse_view(raw: object) -> Viewing | None:
    """A :class:`Viewing` from the browser's report ``{w, h, dpr, sw, sh}``; None if malformed."""
    if not isinstance(raw, dict):
        return None
    try:
        ints = [raw[k] for k in ("w", "h", "sw", "sh")]
        dpr = raw["dpr"]
    except KeyError:
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_DIM for v in ints):
        return None
    if not isinstance(dpr, (int, float)) or isinstance(dpr, bool) or not math.isfinite(dpr) or not 0.1 <= dpr <= 16:
        return None
    return Viewing(ints[0], ints[1], float(dpr), ints[2], ints[3])


def needed_window(width: int, height: int, dpr: float) -> tuple[int, int]:
    """Smallest window (inner CSS px) that shows a ``width x height`` image whole at one pixel per pixel."""
    w = PAD_X + SIDE_W + SIDE_GAP + width / dpr + PAD_X + MARGIN
    h = PAD_TOP + STATUS_H + MESSAGE_H + ROW_GAP + height / dpr + PAD_BOTTOM + MARGIN
    return math.ceil(w), math.ceil(h)


def fits(view: Viewing, width: int, height: int) -> bool:
    """Whether a ``width x height`` image fits in ``view``'s window at one image pixel per device pixel."""
    need_w, need_h = needed_window(width, height, view.dpr)
    return view.inner_width >= need_w and view.inner_height >= need_h


COMMON_RATIOS = (1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
"""devicePixelRatios met in practice: browser zoom 100/110/125/150/175 % and display scaling 100..300 %."""
LAPTOP = (1366, 768, 1366, 650)
"""The commonest laptop screen (1366 x 768) and the inner window of a maximised browser on it at 100 % (CSS px,
about 118 px less for the taskbar, tabs and address bar)."""


def browser_ratio(ratio: float) -> float:
    """``ratio`` as Chromium reports a zoom level's devicePixelRatio: rounded to single precision
    (110 % gives 1.100000023841858)."""
    return struct.unpack("f", struct.pack("f", ratio))[0]


def drawable(sizes: list[tuple[int, int]], dpr: float) -> bool:
    """Whether the rating page (``viewer.js``: ``geometry`` and ``nudge``) can draw images of every
    ``(width, height)`` in ``sizes`` one image pixel per device pixel at ratio ``dpr``.

    Each side must reach a whole number of CSS px with at most 15 grey pixels of padding, and some whole
    CSS px position within 16 px must also be a whole device pixel.
    """
    def pad(n: int) -> bool:
        return any(abs((n + k) / dpr - round((n + k) / dpr)) < 1e-6 for k in range(16))

    dpr = browser_ratio(dpr)
    placeable = any(abs(x * dpr - round(x * dpr)) < 1e-4 for x in range(1, 17))
    return placeable and all(pad(w) and pad(h) for w, h in sizes)


def window_report(sizes: list[tuple[int, int]]) -> list[str]:
    """Lines for the experimenter: the smallest inner window (CSS px) per device-pixel ratio the study can be
    drawn at, the ratios it cannot, and whether a maximised browser on a 1366 x 768 laptop at 100 % fits."""
    width, height = max(w for w, _ in sizes), max(h for _, h in sizes)
    ok = [r for r in COMMON_RATIOS if drawable(sizes, r)]
    lines = ["minimum inner browser window (CSS px) per device-pixel ratio (zoom x display scaling): "
             + ", ".join(f"{r:g}: {' x '.join(map(str, needed_window(width, height, r)))}" for r in ok)]
    bad = [r for r in COMMON_RATIOS if r not in ok]
    if bad:
        lines.append("ratios the images cannot be drawn at one pixel per pixel (raters are asked to change the "
                     f"zoom): {', '.join(f'{r:g}' for r in bad)}")
    need = needed_window(width, height, 1.0)
    sw, sh, iw, ih = LAPTOP
    if need[0] <= iw and need[1] <= ih:
        lines.append(f"a {sw} x {sh} laptop at 100 % (inner window about {iw} x {ih}) shows it")
    else:
        fit_w = iw - (need[0] - width)
        fit_h = ih - (need[1] - height)
        lines.append(f"a {sw} x {sh} laptop at 100 % (inner window about {iw} x {ih}) cannot show images of "
                     f"{width} x {height}: re-create the study with --region {min(width, fit_w)}x{min(height, fit_h)} "
                     "(or smaller) to show one fixed region of every photo")
    return lines


def describe(view: Viewing) -> str:
    """One line for the rater, e.g. ``window 1280 x 720 (browser pixels), pixel ratio 2``."""
    return f"window {view.inner_width} x {view.inner_height} (browser pixels), pixel ratio {view.dpr:g}"


def page_css() -> str:
    """The rater pages' style sheet: grey surround, black text, compact layout, no Streamlit chrome."""
    return f"""<style>
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"], [data-testid="stHeader"] {{
  background: {GREY} !important; color: #000 !important; }}
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"],
[data-testid="stStatusWidget"] {{ display: none !important; }}
[data-testid="stMainBlockContainer"] {{ padding: {PAD_TOP}px {PAD_X}px {PAD_BOTTOM}px {PAD_X}px !important;
  max-width: none !important; }}
[data-testid="stMarkdownContainer"], [data-testid="stMarkdownContainer"] * {{ color: #000 !important; }}
[data-stale="true"], .stale-element {{ opacity: 1 !important; transition: none !important; }}
</style>"""


def viewer_css() -> str:
    """The rating screen's own style sheet (classes ``mos-*``), sized by the constants above."""
    return f"""
.mos-viewer {{ color: #000; font: 16px/1.35 system-ui, -apple-system, "Segoe UI", sans-serif; }}
.mos-status {{ height: {STATUS_H}px; display: flex; gap: 24px; align-items: center; white-space: nowrap;
  overflow: hidden; }}
.mos-progress {{ font-weight: 600; }}
.mos-message {{ height: {MESSAGE_H}px; overflow: hidden; position: relative; }}
.mos-message-text {{ display: block; box-sizing: border-box; height: 100%; padding: 4px 8px; border-radius: 4px; }}
.mos-message-text:not(:empty) {{ background: #f3e39b; }}
/* Nothing can be rated while the image is hidden (window too small, odd zoom, image not loaded): the message
   may then grow over the disabled buttons and the grey stage, so that a narrow window shows all of it; its
   reserved line keeps its height, so nothing else moves. */
.mos-viewer[data-state="too-small"] .mos-message, .mos-viewer[data-state="failed"] .mos-message {{
  overflow: visible; z-index: 2; }}
.mos-viewer[data-state="too-small"] .mos-message-text, .mos-viewer[data-state="failed"] .mos-message-text {{
  position: absolute; left: 0; right: 0; top: 0; height: auto; min-height: 100%;
  box-shadow: 0 2px 6px rgba(0, 0, 0, 0.35); }}
.mos-main {{ display: flex; gap: {SIDE_GAP}px; align-items: flex-start; margin-top: {ROW_GAP}px; }}
.mos-side {{ width: {SIDE_W}px; flex: none; }}
.mos-caption {{ height: 150px; overflow: hidden; }}
.mos-score {{ display: block; box-sizing: border-box; width: 100%; height: 44px; margin: 0 0 8px 0;
  font: inherit; color: #000; background: #e8e8e8; border: 2px solid #222; border-radius: 6px;
  cursor: pointer; }}
.mos-score:hover:enabled {{ background: #ffffff; }}
.mos-score:disabled {{ opacity: 0.4; cursor: not-allowed; }}
.mos-hint {{ height: 44px; font-size: 14px; }}
.mos-stage {{ flex: none; position: relative; background: {GREY}; }}
.mos-stimulus {{ position: relative; display: block; margin: 0; padding: 0; border: 0;
  max-width: none !important; max-height: none !important; image-rendering: pixelated; }}
"""
