"""The rating screen as a Streamlit component (``viewer.js``) and the data it is given.

The component shows the image, the five score buttons and the status and
message lines, and sends a click back as the trigger ``answer``
(``{p, token, score, view_ms, view}``) and the browser window as the state
``view`` (``{w, h, dpr, sw, sh, fits}``). :func:`viewer_data` builds what it
is given for one presentation: nothing in it names a method, dataset or
image (the item is only known by its token, :mod:`srbench.mos_app.blind`).

Images are handed to Streamlit's media file manager as the study's own PNG
bytes (not through ``st.image``, which re-encodes and shrinks), under the
file name ``<token>.png``; the media URL is a hash of bytes and that name.
"""

from __future__ import annotations

import base64
import html
from functools import lru_cache
from pathlib import Path

from .flow import LABELS, Presentation, Progress
from .study import Study
from .viewing import viewer_css

COMPONENT = "srbench_mos_viewer"
KEY = "mos_viewer"
PROBE_KEY = "mos_probe"


@lru_cache(maxsize=1)
def _component():
    import streamlit as st

    js = component_script(Path(__file__).resolve().parent / "viewer.js")
    return st.components.v2.component(COMPONENT, js=js, css=viewer_css(), isolate_styles=False)


PIXEL_EXACT_JS = Path(__file__).resolve().parent / "pixelexact.js"


def component_script(script: Path) -> str:
    """A component's JavaScript: the shared pixel-exact drawing (``pixelexact.js``) followed by ``script``.

    Components v2 take one module as text, so the shared functions (``geometry``, ``nudge``,
    ``drawExact``, ``sizeExact``, ``snapExact``) are put in front of the component's own code.
    """
    return PIXEL_EXACT_JS.read_text() + "\n" + Path(script).read_text()


def mount(*, key: str, data: dict, on_answer=None, on_view=None):
    """Put the component on the page with ``data``; callbacks run on the next page run (no arguments)."""
    callbacks = {}
    if on_answer is not None:
        callbacks["on_answer_change"] = on_answer
    if on_view is not None:
        callbacks["on_view_change"] = on_view
    return _component()(key=key, data=data, width="stretch", height="content", **callbacks)


def media_url(png: bytes, token: str, slot: str) -> str:
    """A URL (relative to the app page) serving ``png`` byte for byte, named only by ``token``.

    Uses the running Streamlit server's media file manager; ``slot`` names the
    page position ("current" / "next") so the previous run's file is released.
    Without a Streamlit runtime (bare script) the bytes are embedded as a ``data:`` URI.
    """
    from streamlit import runtime

    if not runtime.exists():
        return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    url = runtime.get_instance().media_file_mgr.add(png, "image/png", f"mos-{slot}", file_name=f"{token}.png")
    return url.lstrip("/")  # relative, so a --server.baseUrlPath keeps working


def largest(study: Study) -> tuple[int, int]:
    """Largest width and largest height (image pixels) among the study's stimuli."""
    stims = study.items + study.calibration + study.checks
    return max(s.width for s in stims), max(s.height for s in stims)


def sizes(study: Study) -> list[tuple[int, int]]:
    """The distinct ``[width, height]`` (image pixels) of the study's stimuli, sorted (for the window probe)."""
    return sorted({(s.width, s.height) for s in study.items + study.calibration + study.checks})


def caption_html(study: Study, p: Presentation) -> str:
    """The instruction beside the buttons (trusted HTML built here; no item names)."""
    if p.phase == "calibration":
        k, n = p.index + 1, len(study.calibration)
        what = "the original photo" if p.stimulus.anchor == 5 else "a blocky low-resolution version"
        return (f"<b>Calibration {k} of {n}.</b> This is {html.escape(what)}: it stands for score "
                f"<b>{html.escape(LABELS[p.stimulus.anchor])}</b>. Click that score to continue.")
    return "<b>How good is the quality of this image?</b>"


def viewer_data(study: Study, p: Presentation, token: str, src: str, next_src: str | None,
                progress: Progress, message: str | None, rev: int) -> dict:
    """The component's data for presentation ``p`` (shown under ``token`` from ``src``)."""
    return {
        "mode": "rate",
        "p": p.index,
        "token": token,
        "src": src,
        "next": next_src,
        "w": p.stimulus.width,
        "h": p.stimulus.height,
        "stage": list(largest(study)),
        "min_ms": study.run.min_view_ms,
        "progress": progress.text(),
        "session": progress.session_text(),
        "caption": caption_html(study, p),
        "message": message or "",
        "rev": rev,
        "labels": [[s, LABELS[s]] for s in (5, 4, 3, 2, 1)],
    }
