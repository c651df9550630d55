"""HTML for showing a stimulus losslessly, pixel for pixel.

``st.image`` re-encodes RGB arrays as JPEG and shrinks images wider than the
column, so the app embeds the study's own PNG bytes in a ``data:`` URI
instead. The ``<img>`` has explicit width/height in CSS pixels and
``max-width: none`` so the page never scales it; a frame with
``overflow: auto`` scrolls when the window is narrower than the image. At
browser zoom 100 % on a display with devicePixelRatio 1 one image pixel is
one screen pixel.
"""

from __future__ import annotations

import base64
import html

from mos_app.study import Stimulus

IMG_CLASS = "mos-stimulus"


def stimulus_html(png: bytes, stim: Stimulus, index: int) -> str:
    """An ``<img>`` (class :data:`IMG_CLASS`, ``data-idx`` = presentation index) showing ``png`` unscaled."""
    src = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
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
