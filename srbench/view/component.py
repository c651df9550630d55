"""The comparison panels (``compare.js``) as a Streamlit component, and the data they are given.

The component draws every panel with the MOS rating screen's pixel-exact
drawing (:func:`srbench.mos_app.viewer.component_script` puts
``mos_app/pixelexact.js`` in front of ``compare.js``) and sends the region as
the state ``view`` ``{x, y, zoom, image}`` after each pan or zoom.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from srbench.mos_app.viewer import component_script, media_url
from srbench.mos_app.viewing import GREY

COMPONENT = "srbench_view_compare"
KEY = "view_compare"
CSS = f"""
.srv-compare {{ outline: none; font: 14px/1.3 system-ui, -apple-system, "Segoe UI", sans-serif; color: #000; }}
.srv-bar {{ display: flex; gap: 8px; align-items: center; margin-bottom: 8px; }}
.srv-zoom, .srv-step {{ font: inherit; padding: 2px 10px; border: 1px solid #444; border-radius: 4px; background: #eee;
  cursor: pointer; }}
.srv-zoom[aria-pressed="true"] {{ background: #333; color: #fff; }}
.srv-region {{ margin-left: 12px; font-family: ui-monospace, monospace; }}
.srv-grid {{ display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }}
.srv-panel {{ flex: none; }}
.srv-title {{ white-space: pre; height: 3.9em; overflow: hidden; }}
.srv-stage {{ position: relative; background: {GREY}; }}
.srv-canvas {{ position: relative; display: block; margin: 0; padding: 0; border: 0; max-width: none !important;
  max-height: none !important; image-rendering: pixelated; cursor: grab; touch-action: none; }}
"""


@lru_cache(maxsize=1)
def _component():
    import streamlit as st

    js = component_script(Path(__file__).resolve().parent / "compare.js")
    return st.components.v2.component(COMPONENT, js=js, css=CSS, isolate_styles=False)


def served_url(png: bytes, name: str, slot: int | str) -> str:
    """A page-relative URL serving ``png`` byte for byte (the server's media file manager)."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return media_url(png, safe, f"view-{slot}")


def mount(data: dict, on_view=None):
    """Put the panels on the page; ``on_view`` runs (no arguments) when the region changed in the browser."""
    callbacks = {"on_view_change": on_view} if on_view is not None else {}
    return _component()(key=KEY, data=data, width="stretch", height="content", **callbacks)
