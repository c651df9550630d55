"""The ``srbench view`` page (Streamlit script; start it with ``srbench view RUN ...``).

Page code only: runs, sorting and checks are in :mod:`srbench.view.runs`, pixels in
:mod:`srbench.view.images`, the URL state in :mod:`srbench.view.state`, the export in
:mod:`srbench.view.export`, the panels in :mod:`srbench.view.component` (``compare.js``).
"""

from __future__ import annotations

import html
import math
from dataclasses import replace
from functools import partial

import streamlit as st

from srbench.errors import SrbenchError
from srbench.view import component, export
from srbench.view.images import ImageStore, difference, regeneration_problem
from srbench.view.runs import METRICS, SortKey, open_runs, sort_images, sort_values
from srbench.view.serve import read_config
from srbench.view.state import ViewState, parse_params, region_side

st.set_page_config(page_title="srbench view", layout="wide")


@st.cache_resource(show_spinner="Reading the runs ...")
def _store(config_json: str) -> ImageStore:
    import json

    config = json.loads(config_json)
    settings = config.get("settings") or {}
    collection = open_runs(config["runs"], protocol=config.get("protocol", "paper"),
                           regenerate=config.get("regenerate", False),
                           can_regenerate=lambda c: regeneration_problem(c, settings), check_images=False)
    return ImageStore(collection, config["data_root"], settings)


def _fmt(value: float, metric: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return f"{value:.2f}" if metric == "psnr" else f"{value:.4f}"


def _table_html(store: ImageStore, state: ViewState, order: list[str], keys: list[str], sort_by) -> str:
    """The image list as an HTML table: one row per image in ``order``, PSNR/SSIM (NIQE) per method."""
    table = store.collection.table(state.dataset)
    metrics = [m for m in METRICS if any((k, m) in table.columns for k in keys)]
    head = "<th>#</th><th>image</th>" + "".join(
        f"<th>{html.escape(k)}<br>{m.upper()}</th>" for k in keys for m in metrics if (k, m) in table.columns)
    if sort_by is not None:
        label = state.a + (f" - {state.b}" if state.b else "")
        head += f"<th>sort: {html.escape(label)}<br>{state.sort.upper()}</th>"
    rows = []
    for i, image in enumerate(order, start=1):
        cells = "".join(f"<td>{_fmt(float(table.at[image, (k, m)]), m)}</td>"
                        for k in keys for m in metrics if (k, m) in table.columns)
        if sort_by is not None:
            cells += f"<td>{_fmt(float(sort_by[image]), state.sort)}</td>"
        mark = ' class="srv-current"' if image == state.image else ""
        rows.append(f'<tr data-image="{html.escape(image)}"{mark}><td>{i}</td><td>{html.escape(image)}</td>{cells}</tr>')
    return (f'<div class="srv-table-box"><table class="srv-table"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


TABLE_CSS = """<style>
.srv-table-box { max-height: 420px; overflow: auto; }
.srv-table { border-collapse: collapse; font: 13px/1.3 system-ui, sans-serif; }
.srv-table th, .srv-table td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
.srv-table td:nth-child(2), .srv-table th:nth-child(2) { text-align: left; }
.srv-table tr.srv-current { background: #ffe9a8; }
[data-stale="true"], .stale-element { opacity: 1 !important; transition: none !important; }
</style>"""
"""The image list's style, and no fading of the page while the server runs (the panels must keep their pixels)."""


def _initial_state(store: ImageStore) -> ViewState:
    """The view the URL asks for, corrected to what the runs hold."""
    collection = store.collection
    state = parse_params({k: st.query_params.get(k) for k in st.query_params})
    sets = collection.sets()
    dataset = state.dataset if state.dataset in sets else sets[0]
    keys = collection.keys(dataset)
    methods = tuple(m for m in state.methods if m in keys) or tuple(keys)
    images = collection.images(dataset)
    return replace(state, dataset=dataset, methods=methods, image=state.image if state.image in images else "",  # "": the first image in the list
                   a=state.a if state.a in keys else "", b=state.b if state.b in keys else "")


def _on_view() -> None:
    """The browser moved or zoomed the region, or stepped to the previous / next image: keep it (it goes into
    the URL on this run; the browser keeps its own region, no new nonce)."""
    raw = (st.session_state.get(component.KEY) or {}).get("view")
    state: ViewState = st.session_state.state
    if not isinstance(raw, dict):
        return
    image = raw.get("image")
    if image != state.image:  # previous / next, chosen in the browser (which may already show it)
        if image not in st.session_state.get("order", ()):
            return
        st.session_state.w_image = image
    try:
        st.session_state.state = replace(state, image=image, x=int(raw["x"]), y=int(raw["y"]), zoom=int(raw["zoom"]))
    except (KeyError, TypeError, ValueError):
        pass


def _label(key: str, diff: bool) -> str:
    return key + (" |SR-HR|" if diff else "")


def _export_png(store: ImageStore, region: export.Region, keys: tuple[str, ...], diff: bool) -> bytes:
    """The grid of the view (see :mod:`srbench.view.export`): the shown methods, then HR."""
    dataset, image = region.dataset, region.image
    hr = store.hr(dataset, image)
    panels = []
    for k in keys:
        sr = store.sr(dataset, image, k)
        panels.append(export.panel(_label(k, diff), store.collection.value(dataset, image, k, "psnr"),
                                   store.collection.value(dataset, image, k, "ssim"),
                                   difference(sr, hr) if diff else sr))
    return export.export_png(hr, panels + [export.panel("HR", None, None, hr)], region)


def _panels(store: ImageStore, dataset: str, image: str, keys, diff: bool, slot: str) -> list[dict]:
    """The component's panels for ``image``: ``{key, title, src}`` per method, then HR."""
    table = store.collection.table(dataset)
    out = []
    for i, k in enumerate(keys):
        png = store.diff_png(dataset, image, k) if diff else store.sr_png(dataset, image, k)
        title = export.panel_title(_label(k, diff), float(table.at[image, (k, "psnr")]),
                                   float(table.at[image, (k, "ssim")]))
        out.append({"key": k, "title": title, "src": component.served_url(png, f"{k}-{image}{'-diff' * diff}",
                                                                          f"{slot}-{i}")})
    out.append({"key": "hr", "title": "HR", "src": component.served_url(store.hr_png(dataset, image), image,
                                                                        f"{slot}-{len(keys)}")})
    return out


def _ahead(store: ImageStore, dataset: str, image: str, keys, diff: bool, slot: str) -> dict:
    """The previous or next image for the browser to fetch ahead and show at once when stepped to; only its
    name where a panel would need regenerating (the server then makes it, with a progress bar)."""
    if not all(store.is_ready(dataset, image, k) for k in keys):
        return {"image": image}
    hr = store.hr(dataset, image)
    return {"image": image, "w": hr.shape[1], "h": hr.shape[0],
            "panels": _panels(store, dataset, image, keys, diff, slot)}


def _open() -> ImageStore:
    """The runs of this server (one line on the page if they cannot be shown)."""
    import json

    try:
        return _store(json.dumps(read_config(), sort_keys=True))
    except SrbenchError as exc:
        st.error(str(exc))
        st.stop()


def _first_run(store: ImageStore) -> None:
    """A new browser session: the widgets start from the URL's view."""
    ss = st.session_state
    ss.state = _initial_state(store)
    ss.nonce = 0
    ss.w_set, ss.w_methods = ss.state.dataset, list(ss.state.methods)
    if ss.state.image:
        ss.w_image = ss.state.image
    ss.w_sort, ss.w_a, ss.w_b = ss.state.sort or "(set order)", ss.state.a, ss.state.b or "(none)"
    ss.w_desc, ss.w_diff = ss.state.descending, ss.state.diff


def _controls(collection) -> tuple[str, list[str], SortKey, bool]:
    """The sidebar's choices: set, methods, sort order, difference map."""
    ss = st.session_state
    st.subheader("srbench view")
    dataset = st.selectbox("set", collection.sets(), key="w_set")
    keys = collection.keys(dataset)
    if ss.w_methods and not set(ss.w_methods) <= set(keys):
        ss.w_methods = [k for k in ss.w_methods if k in keys] or keys
    methods = st.multiselect("methods", keys, key="w_methods") or keys
    sort = st.selectbox("sort images by", ["(set order)", *METRICS], key="w_sort")
    if ss.w_a not in keys:
        ss.w_a = keys[0]
    a = st.selectbox("of method", keys, key="w_a")
    if ss.w_b not in ["(none)", *keys]:
        ss.w_b = "(none)"
    b = st.selectbox("minus method (difference)", ["(none)", *keys], key="w_b")
    descending = st.checkbox("descending", key="w_desc")
    diff = st.toggle("absolute difference to HR", key="w_diff")
    return dataset, methods, SortKey(sort if sort in METRICS else "", a, "" if b == "(none)" else b, descending), diff


def _regenerate(store: ImageStore, dataset: str, image: str, keys) -> None:
    """Make the images of ``image`` that must be regenerated, with a progress bar (one line if one fails)."""
    missing = [k for k in keys if not store.is_ready(dataset, image, k)]
    if not missing:
        return
    bar = st.progress(0.0, text=f"regenerating {len(missing)} image(s) from the recorded methods ...")
    for i, k in enumerate(missing, start=1):
        try:
            store.sr(dataset, image, k)
        except SrbenchError as exc:
            st.error(str(exc))
            st.stop()
        bar.progress(i / len(missing), text=f"regenerated {k} ({i} of {len(missing)})")
    bar.empty()


def _exports(store: ImageStore, state: ViewState, region: export.Region) -> None:
    """The sidebar's exports of this run's view, then its region as text."""
    stem = region.image.rsplit(".", 1)[0]
    name = (f"{region.dataset}-{stem}-x{region.x}-y{region.y}-{region.side}px-zoom{region.zoom}"
            f"{'-diff' if state.diff else ''}")
    # made when clicked (a deferred download), from this run's view
    st.download_button("export grid (PNG)", partial(_export_png, store, region, state.methods, state.diff),
                       file_name=f"{name}.png", mime="image/png", key="w_export", on_click="ignore")
    st.download_button("export region (text)", region.text() + "\n", file_name=f"{name}.txt",
                       mime="text/plain", key="w_region", on_click="ignore")
    st.code(region.text(), language=None)  # after the exports: once it shows a region, they hold it too


def main() -> None:
    store = _open()
    collection = store.collection
    ss = st.session_state
    if "state" not in ss:
        _first_run(store)
    for note in collection.notes:
        st.caption(note)
    st.markdown(TABLE_CSS, unsafe_allow_html=True)
    with st.sidebar:
        dataset, methods, sort_key, diff = _controls(collection)

    state: ViewState = ss.state
    if dataset != state.dataset:
        state = replace(state, dataset=dataset, image="", x=-1, y=-1)
    order = sort_images(collection, dataset, sort_key)
    if ss.get("w_image") not in order:
        ss.w_image = state.image if state.image in order else order[0]
    sort_by = sort_values(collection, dataset, sort_key)
    ss.order = order
    image = st.selectbox("image", order, key="w_image", format_func=lambda i: i if sort_by is None else
                         f"{i}  ({_fmt(float(sort_by[i]), sort_key.metric)})")
    h, w = store.hr(dataset, image).shape[:2]
    if image != state.image:  # another image (or set): the region is re-clamped and the browser adopts it
        state = replace(state, image=image)
        ss.nonce += 1
    on = bool(sort_key.metric)
    state = replace(state, methods=tuple(methods), sort=sort_key.metric, a=sort_key.a if on else "",
                    b=sort_key.b if on else "", descending=sort_key.descending, diff=diff).clamped(w, h)
    ss.state = state
    if dict(st.query_params) != state.to_params():
        st.query_params.from_dict(state.to_params())

    _regenerate(store, dataset, image, methods)
    at = order.index(image)
    component.mount({"nonce": ss.nonce, "image": image, "w": w, "h": h, "x": state.x, "y": state.y,
                     "zoom": state.zoom, "grey": "#808080", "panels": _panels(store, dataset, image, methods, diff, "view"),
                     "ahead": {"next": _ahead(store, dataset, order[(at + 1) % len(order)], methods, diff, "next"),
                               "previous": _ahead(store, dataset, order[at - 1], methods, diff, "prev")}},
                    on_view=_on_view)
    with st.sidebar:
        _exports(store, state, export.Region(dataset, image, state.x, state.y, region_side(state.zoom, w, h),
                                             state.zoom))
    st.markdown(_table_html(store, state, order, list(methods), sort_by), unsafe_allow_html=True)


main()
