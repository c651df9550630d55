"""Render a :class:`srbench.report.tables.Table` as Markdown, LaTeX and CSV (deterministic text).

Fixed formats: PSNR 2 decimals, SSIM 4, MOS 2 (CSV: 6 decimals for ours and
the difference, the paper's values as published). Missing values print as
"—" (LaTeX ``---``) with a numbered footnote; footnotes are numbered in
order of first appearance.
"""

from __future__ import annotations

import csv
import io
import math

from . import no_reference_column
from .tables import DATASET_LABELS, Cell, Table, display_decimals, ours_only

PAPER_LABELS = {"psnr": "PSNR [dB]", "ssim": "SSIM", "mos": "MOS"}


def metric_label(metric: str) -> str:
    """A column's header: the paper's measures by name, no-reference ones as ``NIQE ↓ (ours)``."""
    return PAPER_LABELS.get(metric) or no_reference_column.label(metric)
DASH = "—"


def _num(x: float, metric: str) -> str:
    if math.isinf(x):
        return "∞"
    return f"{x:.{display_decimals(metric)}f}"


def _signed(x: float | None, metric: str) -> str:
    """Signed difference at display precision; one that rounds to zero prints unsigned ("0.00")."""
    if x is None:
        return ""
    text = f"{x:+.{display_decimals(metric)}f}"
    return text[1:] if float(text) == 0 else text


def _paper(x: float | None, metric: str) -> str:
    return "" if x is None else _num(x, metric)


def caption(table: Table) -> str:
    """One-paragraph caption: what is shown and how marks are defined."""
    t = table.spec
    text = "SYNTHETIC INPUTS (test data, not measurements). " if table.synthetic else ""
    text += (f"Table {t.number}. {t.title}, 4x. Ours beside the paper's published values (Ledig et al. 2017) "
            f"and the difference (ours - paper). PSNR/SSIM: mean over the set's per-image values; "
            f"MOS: mean of screened ratings with a 95% two-way (raters x images) bootstrap CI in brackets and, "
            f"in parentheses, the raters and ratings it rests on after screening.")
    if t.number == 1:
        cats = sorted({s.category for s in t.slots if s.category is not None})
        members = "; ".join(f"{c}: {', '.join(s.label for s in t.slots if s.category == c)}" for c in cats)
        text += (f" * = MOS significantly higher (two-sided Wilcoxon signed-rank on (rater, image) pairs, "
                 f"p < 0.05, multiple-comparison correction: {table.correction}) than every other variant "
                 f"of its category ({members}).")
    else:
        text += " Bold: best of ours per set and measure (HR excluded)."
    if any(s.released for s in t.slots):
        text += (" Rows labelled (authors' images): the SRGAN authors' released outputs measured by srbench, "
                 "a check of the metrics, not a model trained here; never bolded or starred.")
    if any(s.own for s in t.slots):
        text += (" Rows labelled ROW (LABEL): a checkpoint given as checkpoint:LABEL=DIR, run with the network of "
                 "that row; in the significance tests, never bolded or starred.")
    for metric in table.metrics:
        if ours_only(metric):
            text += " " + no_reference_column.caption(metric)
    return text


class _Footnotes:
    def __init__(self) -> None:
        self.notes: list[str] = []

    def mark(self, note: str | None) -> str:
        if not note:
            return ""
        if note not in self.notes:
            self.notes.append(note)
        return str(self.notes.index(note) + 1)


def _ours_text(cell: Cell, metric: str, *, bold: tuple[str, str], star: str) -> str:
    if cell.ours is None:
        return DASH
    text = _num(cell.ours, metric)
    if cell.ci is not None:
        text += f" [{_num(cell.ci[0], metric)}, {_num(cell.ci[1], metric)}]"
    if cell.n_raters is not None:
        text += f" ({cell.n_raters} raters, {cell.n} ratings)"
    if cell.bold:
        text = f"{bold[0]}{text}{bold[1]}"
    if cell.star:
        text += star
    return text


def to_markdown(table: Table) -> str:
    """GitHub-flavoured Markdown table with caption and footnotes."""
    notes = _Footnotes()
    header = ["Set", "Method"]
    for m in table.metrics:
        header += [metric_label(m) + (" [95% CI]" if m == "mos" else "")] + ([] if ours_only(m) else ["paper", "Δ"])
    lines = [f"**{caption(table)}**", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * (len(header) - 2)) + "|"]
    for row in table.rows:
        row_mark = notes.mark(row.note)
        row_label = row.slot.label + (f" [^t{table.spec.number}-{row_mark}]" if row_mark else "")
        cells = [DATASET_LABELS[row.dataset], row_label]
        for m in table.metrics:
            c = row.cells[m]
            mark = notes.mark(c.note)
            ours = _ours_text(c, m, bold=("**", "**"), star="\\*")
            label = f"t{table.spec.number}-{mark}"  # unique across tables in report.md
            cells += [ours + (f" [^{label}]" if mark else "")]
            if not ours_only(m):
                cells += [_paper(c.paper, m), _signed(c.diff, m)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"[^t{table.spec.number}-{i}]: {n}" for i, n in enumerate(notes.notes, 1)]
    return "\n".join(lines) + "\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                # with LaTeX's default OT1 font encoding these print as "¡", "¿" and "—" in text mode
                "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}


def tex_escape(text: str) -> str:
    """Escape LaTeX special characters and map the few non-ASCII symbols srbench prints."""
    out = "".join(_TEX_ESCAPES.get(ch, ch) for ch in text)
    return (out.replace("∞", r"$\infty$").replace("—", "---").replace("–", "--")
            .replace("Δ", r"$\Delta$").replace("≥", r"$\geq$").replace("±", r"$\pm$")
            .replace("↓", r"$\downarrow$"))


def _tex_num(text: str) -> str:
    return text.replace("∞", r"$\infty$")


def to_latex(table: Table) -> str:
    """A booktabs ``table`` environment with caption and footnotes (needs ``\\usepackage{booktabs}``)."""
    notes = _Footnotes()
    width = sum(1 if ours_only(m) else 3 for m in table.metrics)
    lines = [r"\begin{table}[t]", r"\centering", r"\scriptsize",
             r"\begin{tabular}{ll" + "r" * width + "}", r"\toprule"]
    lines.append(" & ".join(["Set", "Method"] + [
        tex_escape(metric_label(m)) if ours_only(m) else r"\multicolumn{3}{c}{" + tex_escape(metric_label(m)) + "}"
        for m in table.metrics]) + r" \\")
    lines.append(" & ".join(["", ""] + [x for m in table.metrics
                                        for x in (["ours"] if ours_only(m) else ["ours", "paper", r"$\Delta$"])])
                 + r" \\")
    previous = None
    for row in table.rows:
        if row.dataset != previous:
            lines.append(r"\midrule")
        row_mark = notes.mark(row.note)
        cells = [DATASET_LABELS[row.dataset] if row.dataset != previous else "",
                 tex_escape(row.slot.label) + (r"\textsuperscript{" + row_mark + "}" if row_mark else "")]
        previous = row.dataset
        for m in table.metrics:
            c = row.cells[m]
            mark = notes.mark(c.note)
            ours = _tex_num(_ours_text(c, m, bold=(r"\textbf{", "}"), star=r"$^{*}$"))
            ours = ours.replace(DASH, "---")
            if mark:
                ours += r"\textsuperscript{" + mark + "}"
            cells += [ours] if ours_only(m) else [ours, _tex_num(_paper(c.paper, m)), _signed(c.diff, m)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    if notes.notes:
        lines.append(r"\par\smallskip\raggedright")
        lines += [r"\textsuperscript{" + str(i) + "}" + tex_escape(n) + r"\\" for i, n in enumerate(notes.notes, 1)]
    lines += [r"\caption{" + tex_escape(caption(table)) + "}",
              rf"\label{{tab:srbench-table{table.spec.number}}}", r"\end{table}"]
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["table", "dataset", "label", "method", "metric", "ours", "ci_low", "ci_high", "n", "n_raters",
               "n_expected", "paper", "diff", "bold", "star", "note", "row_note"]


def csv_text(header: list[str], rows: list[list]) -> str:
    """CSV text with ``\n`` line ends (the report's CSV files are byte-deterministic)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _f6(x: float | None) -> str:
    if x is None:
        return ""
    return "inf" if math.isinf(x) else f"{x:.6f}"


def to_csv(table: Table) -> str:
    """Long CSV: one row per (set, method, metric), unrounded enough (6 decimals) to trace."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in table.rows:
        for m in table.metrics:
            c = row.cells[m]
            writer.writerow([
                table.spec.number, row.dataset, row.slot.label, row.method, m, _f6(c.ours),
                _f6(c.ci[0]) if c.ci else "", _f6(c.ci[1]) if c.ci else "",
                "" if c.n is None else c.n, "" if c.n_raters is None else c.n_raters,
                "" if c.n_expected is None else c.n_expected,
                "" if c.paper is None else ("inf" if math.isinf(c.paper) else f"{c.paper:g}"),
                _f6(c.diff), int(c.bold), int(c.star), c.note or "", row.note or "",
            ])
    return buf.getvalue()
