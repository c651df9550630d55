"""HTML for showing a stimulus losslessly, pixel for pixel.

``st.image`` re-encodes RGB arrays as JPEG and shrinks images wider than the
column, so the app hands the study's own PNG bytes, unchanged, to Streamlit's
media file manager (:func:`media_url`) and writes the ``<img>`` itself. The
``<img>`` has explicit width/height in CSS pixels and ``max-width: none`` so
the page never scales it; a frame with ``overflow: auto`` scrolls when the
window is narrower than the image. At browser zoom 100 % on a display with
devicePixelRatio 1 one image pixel is one screen pixel.

The next presentation's image is put on the page too, hidden
(:func:`preload_html`), so the browser has fetched and decoded it before the
rater clicks.
"""

from __future__ import annotations

import base64
import html

from .study import Stimulus

IMG_CLASS = "mos-stimulus"
PRELOAD_CLASS = "mos-preload"


def media_url(png: bytes, sha256: str, slot: str) -> str:
    """A URL (relative to the app page) serving ``png`` byte for byte.

    Uses the running Streamlit server's media file manager; ``slot`` names the
    page position ("current" / "next") so the previous run's file is released.
    The file name includes the PNG's full SHA-256, which makes the media id
    unique per content (Streamlit only fingerprints files over 1 MiB). Without
    a Streamlit runtime (bare script) the bytes are embedded as a ``data:`` URI.
    """
    from streamlit import runtime

    if not runtime.exists():
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    url = runtime.get_instance().media_file_mgr.add(png, "image/png", f"mos-{slot}", file_name=f"{sha256}.png")
    return url.lstrip("/")  # relative, so a --server.baseUrlPath keeps working


def preload_html(src: str) -> str:
    """A hidden ``<img>`` that makes the browser fetch (and cache) ``src`` ahead of time."""
    return f'<img class="{PRELOAD_CLASS}" alt="" style="display:none" src="{html.escape(src, quote=True)}">'


def stimulus_html(src: str, stim: Stimulus, index: int) -> str:
    """An ``<img>`` (class :data:`IMG_CLASS`, ``data-idx`` = presentation index) showing ``src`` unscaled."""
    src = html.escape(src, quote=True)
    w, h = int(stim.width), int(stim.height)
    style = (
        f"width:{w}px;height:{h}px;max-width:none;max-height:none;min-width:{w}px;"
        "display:block;margin:0;padding:0;border:0;image-rendering:pixelated;"
    )
    return (
        '<div class="mos-frame" style="overflow:auto;max-width:100%;">'
        f'<img class="{IMG_CLASS}" data-idx="{int(index)}" data-item="{html.escape(stim.item, quote=True)}" '
        f'alt="image {int(index) + 1}" width="{w}" height="{h}" style="{style}" src="{src}">'
        "</div>"
    )
