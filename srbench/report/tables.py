"""The numbers of Tables 1 and 2: which methods, our means beside the paper's, marks, footnotes.

Our PSNR/SSIM are means over the per-image rows of one protocol, computed
here (never taken from ``summary.csv``); a set that is only partly covered is
not averaged. MOS is the mean of screened rating-phase scores with a two-way
bootstrap CI (:mod:`srbench.ratings.stats`). A cell without data keeps ``ours=None``
and gets a footnote saying why; the paper's value is shown only in its own
column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from typing import Mapping

import numpy as np
import pandas as pd

from srbench.data import releases as published
from srbench.run import registry
from srbench.ratings import stats
from srbench.data.sets import load_manifest
from srbench.errors import DataError
from srbench.paper_values import METRICS, load_paper_values

from . import no_reference_column
from .inputs import Ratings
from .training import training_note

DATASET_LABELS = {"set5": "Set5", "set14": "Set14", "bsd100": "BSD100"}
TITLES = {1: "SRResNet and SRGAN variants (content loss)", 2: "Comparison with reference methods"}


RELEASED_SUFFIX = " (authors' images)"
OWN_PREFIX = "checkpoint:"  # method keys of checkpoints given as checkpoint:LABEL=DIR


@dataclass(frozen=True)
class Slot:
    """One row of a paper table: its label, the method keys that fill it, the paper's name.

    ``released``: the row holds another paper's released images measured by
    srbench (``published:``), shown beside the paper row they reproduce and
    never ranked against what srbench trained (no bold, no significance star).
    ``own``: the row holds a checkpoint given as ``checkpoint:LABEL=DIR``,
    shown under the paper row of its architecture ("ESPCN (my-espcn)"); it is
    in the significance tests but never bold or starred.
    """

    label: str
    keys: tuple[str, ...]
    paper_name: str
    category: str | None = None
    released: bool = False
    own: bool = False

    @property
    def ranked(self) -> bool:
        """True for srbench's own paper rows (bold and stars); False for released images and extra checkpoints."""
        return not (self.released or self.own)


@dataclass(frozen=True)
class TableSpec:
    number: int
    title: str
    datasets: tuple[str, ...]
    slots: tuple[Slot, ...]


def table_spec(number: int, own_checkpoints: Mapping[str, str] | None = None) -> TableSpec:
    """Table ``number``'s rows: the paper's rows in its order, each filled by the methods registered for it.

    Rows and datasets come from the paper's values (:mod:`srbench.paper_values`),
    the methods of a row from the registry's metadata
    (:attr:`srbench.run.registry.MethodInfo.paper_rows`; a family's well-known
    members give two keys, ``external:selfexsr`` and ``selfexsr``). A row that
    no method claims is filled by the method named like it in lower case
    (``HR`` -> ``hr``, the MOS studies' original images). Members of a
    ``published`` family get rows of their own right after the row they
    reproduce, labelled "ROW (authors' images)". ``own_checkpoints`` maps
    ``checkpoint:LABEL`` keys to their architecture (a registered method): each
    gets a row "ROW (LABEL)" after the rows of every paper row its architecture
    fills, in key order.
    """
    paper = load_paper_values()
    rows = list(dict.fromkeys(method for (t, _, method) in paper if t == number))
    datasets = tuple(dict.fromkeys(dataset for (t, dataset, _) in paper if t == number))
    claims, released = _row_claims(number, rows)
    slots = []
    for row in rows:
        keys = tuple(dict.fromkeys(k for k, _ in claims[row])) or (row.lower(),)
        category = next((c for _, c in claims[row] if c is not None), None)
        slots.append(Slot(row, keys, row, category))
        slots += [Slot(row + RELEASED_SUFFIX, (key,), row, None, released=True) for key in released[row]]
        slots += [Slot(f"{row} ({key[len(OWN_PREFIX):]})", (key,), row, None, own=True)
                  for key, architecture in sorted((own_checkpoints or {}).items())
                  if any(pr.table == number and pr.row == row for pr in _paper_rows_of(architecture))]
    return TableSpec(number, TITLES[number], datasets, tuple(slots))


def _row_claims(number: int, rows: list[str]) -> tuple[dict[str, list[tuple[str, str | None]]], dict[str, list[str]]]:
    """Per paper row of Table ``number``: the (method key, category) pairs that fill it, and the released
    (``published`` family) members that reproduce it, from the registry's metadata."""
    claims: dict[str, list[tuple[str, str | None]]] = {row: [] for row in rows}
    released: dict[str, list[str]] = {row: [] for row in rows}
    for info in registry.list_methods(families=True):
        members = info.members.items() if info.family else [(None, info.paper_rows)]
        for member, paper_rows in members:
            mine = [pr for pr in paper_rows if pr.table == number and pr.row in claims]
            if info.family and info.kind == "published":
                for pr in mine:
                    released[pr.row].append(f"{info.name}:{member}")
                continue
            keys = (f"{info.name}:{member}", member) if info.family else (info.name,)
            for pr in mine:
                claims[pr.row] += [(k, pr.category) for k in keys]
    return claims, released


def _paper_rows_of(method: str) -> tuple:
    """The paper rows the registered method ``method`` fills (none if it is not registered here)."""
    return registry.method_info(method).paper_rows if registry.is_registered(method) else ()


def own_checkpoints(checkpoints: Mapping[str, dict]) -> dict[str, str]:
    """``checkpoint:LABEL`` key -> its architecture's method name, from the runs' checkpoint sidecars."""
    return {key: str(record.get("method")) for key, record in checkpoints.items()
            if key.startswith(OWN_PREFIX) and isinstance(record, dict) and record.get("method")}


@dataclass
class Cell:
    """One (row, metric) cell. ``ours`` is None when there is no data (``note`` says why)."""

    ours: float | None
    paper: float | None
    n: int | None = None
    n_expected: int | None = None
    ci: tuple[float, float] | None = None
    bold: bool = False
    star: bool = False
    note: str | None = None
    defined: bool = False  # a value true by definition (HR against itself), not a measurement
    n_raters: int | None = None  # MOS: raters the value rests on after screening (``n``: their ratings)

    @property
    def diff(self) -> float | None:
        if self.defined or self.ours is None or self.paper is None or np.isinf(self.ours) or np.isinf(self.paper):
            return None
        return self.ours - self.paper


@dataclass
class Row:
    dataset: str
    slot: Slot
    method: str
    cells: dict[str, Cell] = field(default_factory=dict)
    note: str | None = None  # about the row as a whole (how its checkpoint was trained; whose images)


@dataclass
class Table:
    spec: TableSpec
    rows: list[Row]
    correction: str
    synthetic: bool = False  # some input is labelled synthetic: the caption says so
    metrics: tuple[str, ...] = METRICS  # the columns, in order; metrics not in the paper come last (ours_only)


@dataclass
class Evidence:
    """Everything a table is computed from (already restricted to one protocol)."""

    protocol: str
    per_image: pd.DataFrame  # rows of `protocol` only
    other_protocols: dict[tuple[str, str], list[str]]  # (dataset, method) -> protocols seen besides ours
    ratings: Ratings | None  # None: no ratings supplied
    kept_scores: pd.DataFrame | None  # ratings of raters kept by screening
    skipped: dict[str, str] = field(default_factory=dict)  # method key -> why 'srbench run' skipped it
    checkpoints: dict[str, dict] = field(default_factory=dict)  # method key -> checkpoint sidecar from run.json
    sources: dict[str, dict] = field(default_factory=dict)  # method key -> where its stored images come from
    no_reference: dict[str, pd.DataFrame] = field(default_factory=dict)  # metric -> its rows (combine_no_reference)

    @property
    def niqe(self) -> pd.DataFrame | None:
        """NIQE's rows of the runs (the perception plane and the MOS agreement use them); None: not measured."""
        return self.no_reference.get("niqe")


def mos_pairs(scores: pd.DataFrame, dataset: str, a: str, b: str) -> tuple[list[float], list[float]]:
    """Scores of methods ``a`` and ``b`` on ``dataset`` paired by (rater, image), sorted by that key."""
    sub = scores[(scores["dataset"] == dataset) & scores["method"].isin([a, b])]
    series = _by_method(sub, ["rater", "image"], "score")
    if a not in series or b not in series:
        return [], []
    return _paired(series[a], series[b])


def _metric_cell(ev: Evidence, dataset: str, key: str, metric: str, paper: float | None) -> Cell:
    expected = int(load_manifest(dataset)["count"])
    if key == "hr":
        value = float("inf") if metric == "psnr" else 1.0
        return Cell(value, paper, note="HR compared with itself: PSNR = ∞ and SSIM = 1 by definition (not measured)",
                    defined=True)
    rows = ev.per_image[(ev.per_image["dataset"] == dataset) & (ev.per_image["method"] == key)]
    n = len(rows)
    if n == 0:
        return Cell(None, paper, 0, expected, note=_missing_reason(ev, dataset, key))
    if n < expected:
        return Cell(None, paper, n, expected,
                    note=f"partial coverage: {n} of {expected} images (a partly covered set is not averaged)")
    return Cell(float(rows[metric].mean()), paper, n, expected)


def _missing_reason(ev: Evidence, dataset: str, key: str) -> str:
    """Why (dataset, key) has no per-image rows under the report's protocol (no set name: rows show it)."""
    others = ev.other_protocols.get((dataset, key))
    if others:
        return (f"measured only under protocol {', '.join(others)} on this set; "
                f"a table never mixes protocols (this one: {ev.protocol})")
    if key in ev.skipped:
        return f"skipped by 'srbench run': {ev.skipped[key]}"
    if key.startswith("published:"):
        member = key.split(":", 1)[1]
        try:
            release = published.release_of(member)
        except DataError:
            return f"no published release holds {member}"
        reason = published.not_released(release, dataset)
        if reason:
            return f"not released: {reason}"
        return (f"the authors' images are not in the given runs for this set (run "
                f"'{published.fetch_hint(release)}' and 'srbench run --methods {key}')")
    if key.startswith("external:"):
        name = key.split(":", 1)[1]
        return f"no external results for this set in the given runs (run them with external:{name}=DIR)"
    if key.startswith(OWN_PREFIX):
        return f"{key} not in the given runs for this set (run it with 'srbench run --methods {key}=DIR')"
    if not registry.is_registered(key):
        return f"method {key} not implemented in srbench"
    if registry.method_info(key).needs_checkpoint:
        return (f"{key} not in the given runs for this set ('srbench run' needs its trained checkpoint "
                f"results/checkpoints/{key}/)")
    return f"{key} not in the given runs for this set"


def _mos_cell(ev: Evidence, dataset: str, key: str, paper: float | None) -> Cell:
    if ev.ratings is None:
        return Cell(None, paper, note="no MOS ratings supplied")
    rated = ev.ratings.scores
    if rated[(rated["dataset"] == dataset) & (rated["method"] == key)].empty:
        return Cell(None, paper, note="no ratings of this method on this set")
    kept = ev.kept_scores
    sub = kept[(kept["dataset"] == dataset) & (kept["method"] == key)]
    if sub.empty:
        return Cell(None, paper, note="every rater of this method on this set was rejected by screening")
    summary = stats.mos_with_ci(sub[["rater", "image", "score"]], label=f"{dataset}/{key}")
    expected = int(load_manifest(dataset)["count"])
    note = None
    if summary.n_images < expected:
        note = f"partial coverage: ratings cover {summary.n_images} of {expected} images of this set"
    return Cell(summary.mean, paper, summary.n_scores, None, (summary.ci_low, summary.ci_high), note=note,
                n_raters=summary.n_raters)


def _pick_key(ev: Evidence, dataset: str, slot: Slot) -> str:
    """The first of the slot's keys with any data on ``dataset`` (else its first key)."""
    for key in slot.keys:
        if ((ev.per_image["dataset"] == dataset) & (ev.per_image["method"] == key)).any():
            return key
        if ev.ratings is not None:
            s = ev.ratings.scores
            if ((s["dataset"] == dataset) & (s["method"] == key)).any():
                return key
    return slot.keys[0]


def build_table(spec: TableSpec, ev: Evidence, paper: dict, *, correction: str = "none",
                synthetic: bool = False) -> Table:
    """Compute every cell of ``spec`` from ``ev``; marks: bold (Table 2), star (Table 1 MOS).

    Table 2 gains a column (ours only) per no-reference metric some run measured (NIQE, plugins' metrics).
    """
    extra = tuple(ev.no_reference) if spec.number == 2 else ()
    rows = []
    for dataset in spec.datasets:
        for slot in spec.slots:
            key = _pick_key(ev, dataset, slot)
            ref = paper.get((spec.number, dataset, slot.paper_name), {})
            row = Row(dataset, slot, key)
            for metric in ("psnr", "ssim"):
                row.cells[metric] = _metric_cell(ev, dataset, key, metric, ref.get(metric))
            row.cells["mos"] = _mos_cell(ev, dataset, key, ref.get("mos"))
            row.note = _row_note(ev, key, measured=bool(row.cells["psnr"].n),
                                 rated=row.cells["mos"].ours is not None)
            psnr = row.cells["psnr"]
            for name in extra:
                row.cells[name] = no_reference_column.cell(ev.no_reference[name], name, dataset, key,
                                                           fallback=psnr.note if psnr.n == 0 else None)
            rows.append(row)
    table = Table(spec, rows, correction, synthetic, METRICS + extra)
    if spec.number == 2:
        _mark_best(table)
        for name in extra:
            no_reference_column.mark_best(table.rows, spec.datasets, name)
    if spec.number == 1 and ev.kept_scores is not None:
        _mark_significant(table, ev.kept_scores, correction)
    return table


def _row_note(ev: Evidence, key: str, *, measured: bool, rated: bool) -> str | None:
    """Whose images a row with data shows: the authors' release, or a checkpoint trained this far."""
    if not (measured or rated):
        return None
    if key.startswith("published:"):
        source = ev.sources.get(key) or {}
        origin = f"{source['repository']}@{str(source['commit'])[:8]}" if source.get("commit") else "origin not recorded"
        return (f"the SRGAN authors' released images (release {source.get('release', 'not recorded')}, {origin}, "
                f"each file's SHA-256 checked against the manifest), measured by srbench under this protocol; "
                f"not a model srbench trained")
    if key.startswith(OWN_PREFIX) and key in ev.checkpoints:
        sidecar = ev.checkpoints[key]
        return training_note(str(sidecar.get("method")), sidecar,
                             shown_as=f"{key[len(OWN_PREFIX):]} ({key}, a {sidecar.get('method')})")
    if key in ev.checkpoints:
        return training_note(key, ev.checkpoints[key])
    if registry.is_registered(key) and registry.method_info(key).needs_checkpoint:
        if measured:
            return training_note(key, None)
        return (f"{key}: unknown training length (ratings do not record which checkpoint made the rated images); "
                "not presented as a finished reproduction")
    return None


PAPER_DECIMALS = {"psnr": 2, "ssim": 4, "mos": 2}


def display_decimals(metric: str) -> int:
    """Decimals a column shows: the paper's for PSNR/SSIM/MOS, the metric record's for no-reference ones."""
    return PAPER_DECIMALS[metric] if metric in PAPER_DECIMALS else no_reference_column.decimals(metric)


def ours_only(metric: str) -> bool:
    """A column without a paper value (no "paper" and "Δ" parts): every metric the paper does not report."""
    return metric not in METRICS


def _mark_best(table: Table) -> None:
    """Bold the best (highest, at display precision) measured value per dataset and metric among srbench's
    own rows; HR, released images (``published:``) and extra checkpoints (``checkpoint:``) are excluded."""
    for dataset in table.spec.datasets:
        rows = [r for r in table.rows if r.dataset == dataset and r.method != "hr" and r.slot.ranked]
        for metric in METRICS:
            values = [round(r.cells[metric].ours, display_decimals(metric)) for r in rows
                      if r.cells[metric].ours is not None]
            if not values:
                continue
            best = max(values)
            for r in rows:
                c = r.cells[metric]
                c.bold = c.ours is not None and round(c.ours, display_decimals(metric)) == best


def _mark_significant(table: Table, scores: pd.DataFrame, correction: str) -> None:
    """Star a MOS significantly higher (p < 0.05) than every other variant of its category (released images,
    which have no category, are never compared)."""
    for dataset in table.spec.datasets:
        rows = [r for r in table.rows if r.dataset == dataset and r.slot.category is not None]
        for category in sorted({r.slot.category for r in rows}):
            members = [r for r in rows if r.slot.category == category]
            if len(members) < 2 or any(r.cells["mos"].ours is None for r in members):
                continue
            wins = _pairwise_wins(members, scores, dataset, correction)
            for r in members:
                r.cells["mos"].star = wins[r.method] == len(members) - 1


def _pairwise_wins(members: list[Row], scores: pd.DataFrame, dataset: str, correction: str) -> dict[str, int]:
    """Per member: how many of the others its MOS beats significantly (paired Wilcoxon on (rater, image),
    p < :data:`srbench.ratings.stats.ALPHA` after ``correction`` over the category's pairs)."""
    pairs = list(combinations(members, 2))
    tests = [stats.wilcoxon_paired(*mos_pairs(scores, dataset, a.method, b.method)) for a, b in pairs]
    pvals = [t.pvalue for t in tests]
    if correction == "holm":
        pvals = stats.holm(pvals)
    wins = {r.method: 0 for r in members}
    for (a, b), t, p in zip(pairs, tests, pvals):
        if p < stats.ALPHA and t.effect != 0:
            wins[a.method if t.effect > 0 else b.method] += 1
    return wins


def _by_method(frame: pd.DataFrame, index: list[str], value: str) -> dict[str, pd.Series]:
    """``method -> Series`` of ``value`` indexed (sorted) by ``index``."""
    return {m: g.set_index(index)[value].astype(float).sort_index() for m, g in frame.groupby("method", sort=True)}


def _paired(a: pd.Series, b: pd.Series) -> tuple[list[float], list[float]]:
    """Values of ``a`` and ``b`` on their common index entries where both are finite, sorted by index."""
    left, right = a.align(b, join="inner")
    ok = np.isfinite(left.to_numpy()) & np.isfinite(right.to_numpy())
    return left[ok].tolist(), right[ok].tolist()


def significance_rows(ev: Evidence) -> list[dict]:
    """Every pairwise test: per dataset, PSNR/SSIM between measured methods, MOS between rated ones.

    PSNR/SSIM pairs are images both methods cover; MOS pairs are (rater,
    image) cells both methods have. Holm-adjusted p-values are given over
    the family (dataset, metric).
    """
    out = []
    scores = ev.kept_scores
    datasets = sorted(set(ev.per_image["dataset"]) | (set(scores["dataset"]) if scores is not None else set()))
    for dataset in datasets:
        for metric in METRICS:
            if metric == "mos":
                if scores is None:
                    continue
                series = _by_method(scores[scores["dataset"] == dataset], ["rater", "image"], "score")
            else:
                series = _by_method(ev.per_image[ev.per_image["dataset"] == dataset], ["image"], metric)
            family = []
            for a, b in combinations(sorted(series), 2):
                xa, xb = _paired(series[a], series[b])
                if xa:
                    family.append((a, b, stats.wilcoxon_paired(xa, xb)))
            adjusted = stats.holm([t.pvalue for _, _, t in family]) if family else []
            for (a, b, t), ph in zip(family, adjusted):
                out.append({"dataset": dataset, "metric": metric, "method_a": a, "method_b": b,
                            "n_pairs": t.n_pairs, "n_zero": t.n_zero, "n": t.n, "statistic": t.statistic,
                            "p_method": t.method, "pvalue": t.pvalue, "p_holm": ph, "effect": t.effect,
                            "mean_diff": t.mean_diff})
    return out
