"""Figure 5: colour-coded distribution of MOS scores per method on BSD100.

For each method a column of five cells (score 1 at the bottom .. 5 at the
top) whose colour encodes the share of that score among the method's
screened ratings, the count printed inside, the mean as a red marker, and the
number of ratings ``n`` and of raters ``r`` they come from above the column,
as in the paper's Figure 5 (which states 2600 ratings per method, from 26
raters). The plotted numbers are also written
as CSV so that tests check data, not pixels.

Print size: the figure is drawn at its printed size, :data:`WIDTH_IN` wide
(a two-column paper's full text width) and at most 7 inches, with no text
smaller than :data:`MIN_FONT_PT` points, and the PNG is rendered at
:data:`DPI` dots per inch. Rendering uses matplotlib's Agg backend;
PNG/PDF metadata that would vary between runs (dates, versions) is removed.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

FIGURE_DATASET = "bsd100"
SCORES = (1, 2, 3, 4, 5)
WIDTH_IN = 6.9
"""Printed width (inches): the full text width of a two-column paper (CVPR: 6.875 in)."""
HEIGHT_IN = 3.2
DPI = 300
MIN_FONT_PT = 7.0
"""Smallest text in the figure (points at the printed size)."""


@dataclass(frozen=True)
class Column:
    label: str
    method: str
    counts: tuple[int, ...]  # counts of scores 1..5
    raters: int = 0  # distinct raters behind the counts

    @property
    def n(self) -> int:
        return sum(self.counts)

    @property
    def mean(self) -> float:
        return sum(s * c for s, c in zip(SCORES, self.counts)) / self.n


def figure_data(scores: pd.DataFrame, order: list[tuple[str, tuple[str, ...]]]) -> list[Column]:
    """Counts per method on BSD100. ``order``: (label, accepted keys) in display order.

    Rated methods not named in ``order`` follow, sorted by key, labelled by key.
    """
    sub = scores[scores["dataset"] == FIGURE_DATASET]
    rated = set(sub["method"])
    columns, used = [], set()
    for label, keys in order:
        key = next((k for k in keys if k in rated), None)
        if key is None or key in used:
            continue
        used.add(key)
        columns.append(_column(sub, label, key))
    for key in sorted(rated - used):
        columns.append(_column(sub, key, key))
    return columns


def _column(sub: pd.DataFrame, label: str, key: str) -> Column:
    rows = sub[sub["method"] == key]
    values = rows["score"].astype(int)
    return Column(label, key, tuple(int((values == s).sum()) for s in SCORES), int(rows["rater"].nunique()))


def to_csv(columns: list[Column]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "label", "method", "n", "raters"] + [f"count_{s}" for s in SCORES] + ["mean"])
    for c in columns:
        w.writerow([FIGURE_DATASET, c.label, c.method, c.n, c.raters, *c.counts, f"{c.mean:.6f}"])
    return buf.getvalue()


def figure(columns: list[Column], *, title_note: str = ""):
    """The matplotlib Figure at print size (see the module docstring); the caller closes it."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import colors

    cmap = plt.get_cmap("viridis")
    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    count_pt = 7.5 if len(columns) <= 12 else MIN_FONT_PT
    fig, ax = plt.subplots(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    for x, col in enumerate(columns):
        for s, count in zip(SCORES, col.counts):
            share = count / col.n
            ax.add_patch(plt.Rectangle((x - 0.45, s - 0.5), 0.9, 1.0, color=cmap(norm(share)), linewidth=0))
            ax.text(x - 0.4, s, str(count), ha="left", va="center", fontsize=count_pt,
                    color="white" if share < 0.6 else "black")
        # the mean in the right third of the column, clear of the counts
        ax.plot([x + 0.28], [col.mean], marker="o", color="red", markersize=5, markeredgecolor="black",
                markeredgewidth=0.6)
        ax.text(x, 5.58, f"n={col.n}\nr={col.raters}", ha="center", va="bottom", fontsize=MIN_FONT_PT,
                clip_on=False, linespacing=1.0)
    ax.set_xlim(-0.6, len(columns) - 0.4)
    ax.set_ylim(0.5, 5.5)
    rotate = len(columns) > 7
    ax.set_xticks(range(len(columns)), [c.label for c in columns], fontsize=8,
                  rotation=30 if rotate else 0, ha="right" if rotate else "center",
                  rotation_mode="anchor" if rotate else "default")
    ax.set_yticks(SCORES, [str(s) for s in SCORES], fontsize=8)
    ax.set_ylabel("MOS score", fontsize=9)
    ax.set_title(f"MOS distribution on BSD100: count per score, colour = share, red = mean, n = ratings, "
                 f"r = raters{title_note}", fontsize=9, pad=26)
    bar = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("share of the method's ratings", fontsize=8)
    bar.ax.tick_params(labelsize=8)
    fig.tight_layout()
    return fig


def draw(columns: list[Column], png: Path, pdf: Path, *, title_note: str = "") -> None:
    """Draw the figure into ``png`` (at :data:`DPI`) and ``pdf`` (both overwritten)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"svg.hashsalt": "srbench", "pdf.fonttype": 42}):
        fig = figure(columns, title_note=title_note)
        fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
        fig.savefig(pdf, format="pdf", metadata={"Creator": None, "Producer": None, "CreationDate": None})
        plt.close(fig)
