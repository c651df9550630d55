"""Figure 5: colour-coded distribution of MOS scores per method on BSD100.

For each method a column of five cells (score 1 at the bottom .. 5 at the
top) whose colour encodes the share of that score among the method's
screened ratings, the count printed inside, and the mean as a red marker,
as in the paper's Figure 5. The plotted numbers are also written as CSV so
that tests check data, not pixels. Rendering uses matplotlib's Agg backend;
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


@dataclass(frozen=True)
class Column:
    label: str
    method: str
    counts: tuple[int, ...]  # counts of scores 1..5

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
    values = sub[sub["method"] == key]["score"].astype(int)
    return Column(label, key, tuple(int((values == s).sum()) for s in SCORES))


def to_csv(columns: list[Column]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "label", "method", "n"] + [f"count_{s}" for s in SCORES] + ["mean"])
    for c in columns:
        w.writerow([FIGURE_DATASET, c.label, c.method, c.n, *c.counts, f"{c.mean:.6f}"])
    return buf.getvalue()


def draw(columns: list[Column], png: Path, pdf: Path, *, title_note: str = "") -> None:
    """Draw the figure into ``png`` and ``pdf`` (overwritten)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    from matplotlib import colors

    cmap = plt.get_cmap("viridis")
    norm = colors.Normalize(vmin=0.0, vmax=1.0)
    with matplotlib.rc_context({"svg.hashsalt": "srbench", "pdf.fonttype": 42}):
        fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(columns), 4.0), dpi=100)
        for x, col in enumerate(columns):
            for s, count in zip(SCORES, col.counts):
                share = count / col.n
                ax.add_patch(plt.Rectangle((x - 0.45, s - 0.5), 0.9, 1.0, color=cmap(norm(share))))
                ax.text(x - 0.4, s + 0.3, str(count), ha="left", va="center", fontsize=6,
                        color="white" if share < 0.6 else "black")
            ax.plot([x], [col.mean], marker="o", color="red", markersize=6, markeredgecolor="black")
        ax.set_xlim(-0.6, len(columns) - 0.4)
        ax.set_ylim(0.5, 5.5)
        ax.set_xticks(range(len(columns)), [c.label for c in columns], rotation=45, ha="right")
        ax.set_yticks(SCORES)
        ax.set_ylabel("MOS score")
        ax.set_title(f"MOS distribution on BSD100 (red: mean){title_note}", fontsize=9)
        fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="share of ratings")
        fig.tight_layout()
        fig.savefig(png, format="png", metadata={"Software": None})
        fig.savefig(pdf, format="pdf", metadata={"Creator": None, "Producer": None, "CreationDate": None})
        plt.close(fig)
