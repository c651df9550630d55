"""The perception-distortion plane (Blau & Michaeli, CVPR 2018): every method as a point, per set.

x: distortion, the **RMSE** of the luma plane in 8-bit levels (0..255), per
image from the report protocol's PSNR (``RMSE = 255 * 10^(-PSNR/20)``, the
protocol's luma and 4-pixel border crop), averaged over the set's images.
y: perceptual quality, the set's mean **NIQE** (no-reference; lower = more natural).

RMSE rather than PSNR because (1) the HR images have no distortion by
definition: RMSE 0 is a point on the plot, PSNR infinity is not; (2) lower is
better on both axes, so the best corner is the bottom-left, as in Blau and
Michaeli's figures and the PIRM 2018 challenge (which also used RMSE); (3) a
set's mean RMSE weights every image equally in the measured quantity, while
a mean of PSNR (a logarithm) is dominated by the easiest images.

Points are drawn only for sets where a method has both values for every
image (the tables' rule: a partly covered set is not averaged); the CSV
lists every (set, method) with what is missing. HR is plotted at RMSE 0 (by
definition, not measured) with its measured NIQE. Rendering: matplotlib Agg,
metadata that varies between runs removed, labels placed by a deterministic
greedy search, so the PNG and PDF bytes depend only on the data.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from srbench.run import registry
from srbench.data.sets import DATASETS, load_manifest
from srbench.schema import HR_METHOD

from .tables import DATASET_LABELS

KIND_STYLES = {  # kind -> (marker, colour, legend label)
    "classic": ("s", "#7f7f7f", "classic"),
    "learned": ("o", "#1f77b4", "learned"),
    "external": ("^", "#2ca02c", "external"),
    "published": ("D", "#d62728", "published (authors' images)"),
    "hr": ("*", "#000000", "HR (RMSE 0 by definition)"),
}
CSV_COLUMNS = ["dataset", "method", "kind", "n_expected", "n_rmse", "n_niqe", "rmse", "psnr", "niqe", "plotted", "note"]


@dataclass(frozen=True)
class Point:
    """One (set, method): its means, or None with ``note`` saying what is missing."""

    dataset: str
    method: str
    kind: str
    n_expected: int
    n_rmse: int
    n_niqe: int
    rmse: float | None
    psnr: float | None
    niqe: float | None
    note: str = ""

    @property
    def plotted(self) -> bool:
        return self.rmse is not None and self.niqe is not None

    @property
    def label(self) -> str:
        return "HR" if self.method == HR_METHOD else self.method


def rmse_from_psnr(psnr_db: float) -> float:
    """RMSE in 8-bit levels of a PSNR (peak 255): ``255 * 10^(-PSNR/20)``; 0 for infinite PSNR."""
    return 0.0 if math.isinf(psnr_db) else 255.0 * 10.0 ** (-psnr_db / 20.0)


def method_kind(key: str) -> str:
    """``classic``/``learned``/``external``/``published``/``hr`` for the marker (prefix for families)."""
    if key == HR_METHOD:
        return "hr"
    prefix = key.split(":", 1)[0] if ":" in key else None
    if prefix in ("external", "published"):
        return prefix
    if registry.is_registered(key):
        return registry.method_info(key).kind
    return "external"  # an external:NAME=DIR run writes NAME into its rows


def points(per_image: pd.DataFrame, niqe: pd.DataFrame | None) -> list[Point]:
    """Every (set, method) seen in the protocol rows or the NIQE rows, sets in the usual order, methods sorted, HR last."""
    niqe = niqe if niqe is not None else pd.DataFrame(columns=["dataset", "image", "method", "niqe", "niqe_note"])
    out = []
    seen = set(per_image["dataset"]) | set(niqe["dataset"])
    for dataset in [d for d in DATASETS if d in seen]:
        expected = int(load_manifest(dataset)["count"])
        fr = per_image[per_image["dataset"] == dataset]
        nr = niqe[niqe["dataset"] == dataset]
        methods = sorted((set(fr["method"]) | set(nr["method"])) - {HR_METHOD})
        if HR_METHOD in set(nr["method"]):
            methods.append(HR_METHOD)
        for method in methods:
            out.append(_point(dataset, method, expected, fr[fr["method"] == method], nr[nr["method"] == method]))
    return out


def _point(dataset: str, method: str, expected: int, fr: pd.DataFrame, nr: pd.DataFrame) -> Point:
    notes = []
    if method == HR_METHOD:
        rmse, psnr, n_rmse = 0.0, math.inf, expected
    else:
        n_rmse = len(fr)
        rmse = psnr = None
        if n_rmse == expected:
            values = fr["psnr"].astype(float)
            rmse = float(values.map(rmse_from_psnr).mean())
            psnr = float(values.mean())
        else:
            notes.append("no PSNR under the report's protocol" if n_rmse == 0
                         else f"PSNR of {n_rmse} of {expected} images only")
    values = nr["niqe"].astype(float) if len(nr) else pd.Series(dtype=float)
    n_niqe = int(values.notna().sum())
    value = None
    if n_niqe == expected:
        value = float(values.mean())
    elif len(nr) == 0:
        notes.append("NIQE not measured")
    else:
        na = nr[values.isna()]
        notes.append(f"NIQE of {n_niqe} of {expected} images only"
                     + (f" (n/a: {na['niqe_note'].iloc[0]})" if len(na) else ""))
    return Point(dataset, method, method_kind(method), expected, n_rmse, n_niqe, rmse, psnr, value, "; ".join(notes))


def _num(x: float | None) -> str:
    if x is None:
        return ""
    return "inf" if math.isinf(x) else f"{x:.6f}"


def to_csv(pts: list[Point]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for p in pts:
        w.writerow([p.dataset, p.method, p.kind, p.n_expected, p.n_rmse, p.n_niqe, _num(p.rmse), _num(p.psnr),
                    _num(p.niqe), int(p.plotted), p.note])
    return buf.getvalue()


def drawable(pts: list[Point]) -> list[str]:
    """Sets with at least one plotted method besides HR (HR alone says nothing about the trade-off)."""
    return [d for d in DATASETS if any(p.dataset == d and p.plotted and p.method != HR_METHOD for p in pts)]


def file_stem(dataset: str) -> str:
    return f"perception_{dataset}"


OFFSETS = ((6, 4, "left", "bottom"), (6, -4, "left", "top"), (-6, 4, "right", "bottom"), (-6, -4, "right", "top"),
           (0, 9, "center", "bottom"), (0, -9, "center", "top"), (12, 0, "left", "center"), (-12, 0, "right", "center"))


def draw(pts: list[Point], dataset: str, protocol: str, png: Path, pdf: Path, *, title_note: str = "") -> None:
    """Draw the plane of ``dataset`` into ``png`` and ``pdf`` (overwritten)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    shown = [p for p in pts if p.dataset == dataset and p.plotted]
    with matplotlib.rc_context({"svg.hashsalt": "srbench", "pdf.fonttype": 42, "font.size": 8}):
        fig, ax = plt.subplots(figsize=(7.6, 4.4), dpi=120)
        kinds = [k for k in KIND_STYLES if any(p.kind == k for p in shown)]
        for kind in kinds:
            marker, colour, legend = KIND_STYLES[kind]
            sel = [p for p in shown if p.kind == kind]
            ax.scatter([p.rmse for p in sel], [p.niqe for p in sel], marker=marker, c=colour,
                       s=90 if kind == "hr" else 36, label=legend, zorder=3, edgecolors="white", linewidths=0.5)
        xs, ys = [p.rmse for p in shown], [p.niqe for p in shown]
        xpad = 0.08 * (max(xs) - min(xs) or 1.0)
        ypad = 0.10 * (max(ys) - min(ys) or 1.0)
        ax.set_xlim(min(xs) - xpad, max(xs) + 2.5 * xpad)
        ax.set_ylim(min(ys) - ypad, max(ys) + 1.5 * ypad)
        ax.grid(True, linewidth=0.4, alpha=0.5)
        ax.set_xlabel(f"distortion: RMSE of luma, 8-bit levels (protocol {protocol}, 4-px crop; mean over images)")
        ax.set_ylabel("perception: NIQE (lower = more natural)")
        ax.set_title(f"Perception-distortion plane, {DATASET_LABELS[dataset]} (better: bottom left){title_note}",
                     fontsize=9)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, frameon=False)
        _place_labels(fig, ax, shown)
        fig.tight_layout()
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(pdf, format="pdf", metadata={"Creator": None, "Producer": None, "CreationDate": None})
        plt.close(fig)


def _place_labels(fig, ax, shown: list[Point]) -> None:
    """Label each point, trying :data:`OFFSETS` in turn until the text overlaps no placed label or marker."""
    renderer = fig.canvas.get_renderer()
    taken = []
    to_display = ax.transData.transform
    markers = [to_display((p.rmse, p.niqe)) for p in shown]
    for p in sorted(shown, key=lambda q: (q.rmse, q.niqe, q.method)):
        best = None
        for dx, dy, ha, va in OFFSETS:
            text = ax.annotate(p.label, (p.rmse, p.niqe), xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=7)
            box = text.get_window_extent(renderer).expanded(1.05, 1.15)
            clash = any(box.overlaps(t) for t in taken) or any(
                box.x0 <= mx <= box.x1 and box.y0 <= my <= box.y1 for mx, my in markers)
            if not clash:
                best = (text, box)
                break
            text.remove()
        if best is None:  # every position clashes: keep the first one
            dx, dy, ha, va = OFFSETS[0]
            text = ax.annotate(p.label, (p.rmse, p.niqe), xytext=(dx, dy), textcoords="offset points",
                               ha=ha, va=va, fontsize=7)
            best = (text, text.get_window_extent(renderer))
        taken.append(best[1])


def markdown(pts: list[Point], protocol: str, drawn: list[str]) -> str:
    """The report's section: what the figure shows, the figures, and where the data is."""
    lines = ["Every method of the runs, and the HR images, as a point: distortion (x: mean per-image RMSE of "
             f"the luma plane in 8-bit levels, from PSNR under protocol `{protocol}`) against perceptual quality "
             "(y: mean NIQE, ours; lower = more natural). Better is bottom left. Blau & Michaeli (CVPR 2018) "
             "prove that a method working from the LR image cannot be arbitrarily good on both axes: below some "
             "distortion, perceptual quality must get worse. HR sits at RMSE 0 by definition, with its measured "
             "NIQE. A set is plotted for a method only when every image has both values. Data: "
             "`perception.csv`.", ""]
    if not drawn:
        why = ("no run measured NIQE ('srbench run --metrics psnr,ssim,niqe')" if not any(p.niqe is not None for p in pts)
               else "no method has both RMSE and NIQE for every image of a set")
        lines.append(f"Not drawn: {why}.")
        return "\n".join(lines) + "\n"
    for k, dataset in enumerate(drawn):
        stem = file_stem(dataset)
        lines += ([""] if k else []) + [f"![perception-distortion plane, {DATASET_LABELS[dataset]}]({stem}.png)", "",
                                        f"PDF: `{stem}.pdf`. " + _extremes(pts, dataset)]
    return "\n".join(lines) + "\n"


def _extremes(pts: list[Point], dataset: str) -> str:
    """One sentence: the lowest-RMSE and lowest-NIQE methods of the set (HR excluded)."""
    sel = [p for p in pts if p.dataset == dataset and p.plotted and p.method != HR_METHOD]
    low_d = min(sel, key=lambda p: (p.rmse, p.method))
    low_p = min(sel, key=lambda p: (p.niqe, p.method))
    name = DATASET_LABELS[dataset]
    if low_d is low_p:
        return (f"{name}: `{low_d.method}` has both the least distortion and the most natural images "
                f"(RMSE {low_d.rmse:.2f}, NIQE {low_d.niqe:.2f}): no trade-off among these methods.")
    return (f"{name}: least distortion `{low_d.method}` (RMSE {low_d.rmse:.2f}, NIQE {low_d.niqe:.2f}); "
            f"most natural `{low_p.method}` (NIQE {low_p.niqe:.2f}, RMSE {low_p.rmse:.2f}).")
