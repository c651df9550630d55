"""Build the benchmark report: Tables 1-2 (Markdown, LaTeX, CSV), Figure 5, statistics, provenance.

:func:`build_report` reads ``srbench run`` folders and MOS rating files and
writes into ``out``:

=====================  ============================================================
``report.md``          header (inputs as compact tables, statistics, screening),
                       both tables, Figure 5
``inputs.json``        the inputs' whole provenance records (every run.json, digests)
``table{1,2}.md/.tex``  the tables alone; ``.csv`` the same cells in long form
``significance.csv``   every paired Wilcoxon test (PSNR, SSIM, MOS) per set
``mos.csv``            MOS with 95% CI of every rated (set, method), raters and ratings it rests on
``screening.csv``      every rater's screening measures, verdict and reasons (:mod:`srbench.ratings.screening`)
``subject_model.csv``  subject-model quality beside the plain MOS per (set, method) (:mod:`.subjects`)
``subject_raters.csv``  subject-model bias and inconsistency per rater
``figure5.csv/.png/.pdf``  Figure 5's data and drawing (only with BSD100 ratings)
``figure2.csv/.png/.pdf``  Figures 2/6: zoomed crops per method (:mod:`.crops`; needs the images)
``perception.csv``     the perception-distortion plane's data (when a run measured NIQE)
``perception_<set>.png/.pdf``  its drawing per set (:mod:`srbench.report.perception`)
``agreement.csv``      rank correlations of PSNR/SSIM/NIQE with MOS (with ratings; :mod:`srbench.report.agreement`)
=====================  ============================================================

Text outputs are byte-deterministic: inputs are sorted, floats have fixed
formats, the header holds no time stamp and records the inputs' own
revisions, not the current checkout's. Each file is written atomically.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd

from srbench.ratings import stats
from srbench.atomicio import atomic_path, write_atomic
from srbench.errors import SrbenchError
from srbench.metrics import get_protocol
from srbench.paper_values import load_paper_values
from srbench.paths import REPORT_DIR, RESULTS_DIR
from srbench.ratings.screening import ScreeningConfig

from . import agreement as report_agreement
from . import crops as report_crops
from . import figure as report_figure
from . import perception as report_perception
from . import provenance as report_provenance
from . import raters as report_raters
from . import render as report_format
from . import subjects as report_subjects
from .inputs import RunInput, combine_all_no_reference, combine_runs, load_ratings, load_run, method_key
from .pdf_content import same_pdf
from .tables import Evidence, build_table, own_checkpoints, significance_rows, table_spec

RESULTS = RESULTS_DIR
DEFAULT_OUT = REPORT_DIR
OUTPUT_NAMES = ("report.md", "inputs.json", "table1.md", "table1.tex", "table1.csv", "table2.md", "table2.tex", "table2.csv",
                "significance.csv", "mos.csv", "screening.csv", "subject_model.csv", "subject_raters.csv",
                "figure5.csv", "figure5.png", "figure5.pdf", "figure2.csv", "figure2.png", "figure2.pdf",
                "perception.csv", "agreement.csv",
                *(f"perception_{d}.{x}" for d in ("set5", "set14", "bsd100") for x in ("png", "pdf")))
CORRECTIONS = ("none", "holm")


def default_runs(results: Path = RESULTS) -> list[Path]:
    """Every committed run folder: ``results/metrics/*/`` holding a ``per_image.csv``."""
    return sorted(p.parent for p in (results / "metrics").glob("*/per_image.csv"))


def default_ratings(results: Path = RESULTS) -> list[Path]:
    """Every committed ratings file: ``results/ratings/*.csv`` and ``*.db``."""
    folder = results / "ratings"
    return sorted([*folder.glob("*.csv"), *folder.glob("*.db")])


def _g(x: float) -> str:
    return f"{x:.6g}"


def _skipped(runs: list[RunInput]) -> dict[str, str]:
    """``method key -> reason`` from the runs' ``run.json`` ``skipped`` entries (first run by name wins)."""
    out: dict[str, str] = {}
    for run in runs:
        skipped = run.run_json.get("skipped")
        if isinstance(skipped, dict):
            for name, reason in sorted(skipped.items()):
                out.setdefault(method_key(name), f"{reason} (run {run.name})")
    return out


def _method_records(runs: list[RunInput], field: str) -> dict[str, dict]:
    """``method key -> run.json methods.<name>.<field>`` (a dict: checkpoint sidecar, source); first run wins."""
    out: dict[str, dict] = {}
    for run in runs:
        methods = run.run_json.get("methods")
        if isinstance(methods, dict):
            for name, record in sorted(methods.items()):
                if isinstance(record, dict) and isinstance(record.get(field), dict):
                    out.setdefault(method_key(name), record[field])
    return out


@contextmanager
def _figure_paths(png: Path) -> Iterator[tuple[Path, Path]]:
    """Temporary paths for a figure's PNG and its PDF beside it (``png`` with ``.pdf``), published together.

    A PDF that shows the same as the one already there (:func:`.pdf_content.same_pdf`) leaves that file
    untouched: how a library version encodes a font changes no committed figure.
    """
    with atomic_path(png) as png_tmp, atomic_path(png.with_suffix(".pdf"), unchanged=same_pdf) as pdf_tmp:
        yield png_tmp, pdf_tmp


def _crops(ev: Evidence, data_root, published_root) -> report_crops.Figure:
    """Figure 2/6's panels, regenerated from the images and checked against the per-image rows."""
    from srbench.data.sets import data_root_choice
    from srbench.data.releases import method_settings

    root = data_root_choice(data_root)[0]
    settings = {"device": "cpu", **method_settings(["all"], published_root, data_root)}
    return report_crops.collect(ev.per_image, ev.protocol, root, checkpoints=ev.checkpoints, settings=settings)


def _keep_figures_that_cannot_be_redrawn(figure: report_crops.Figure, out: Path) -> None:
    """Refuse (before anything is written) to replace a Figure 2/6 in ``out`` by a report without it only because
    the benchmark images are missing here: a fresh clone without the data would otherwise delete committed files."""
    if figure.images_found or not any((out / name).exists() for name in ("figure2.png", "figure2.pdf")):
        return
    raise SrbenchError(f"{out} holds Figure 2/6, which cannot be redrawn here: {figure.omitted[0]}, "
                       "or point --data-root / $SRBENCH_DATA at them (or write the report elsewhere with --out)")


def _crops_markdown(figure: report_crops.Figure) -> str:
    text = "\n## Figure 2 / Figure 6: zoomed crops\n\n"
    if figure.crops:
        shown = ", ".join(f"{c.dataset}/{c.image}" for c, _, _ in figure.crops)
        text += (f"![zoomed crops per method](figure2.png)\n\nImages: {shown}. Each panel's whole-image PSNR/SSIM "
                 f"(protocol `{figure.protocol}`) is its per-image row in the runs; the image drawn was regenerated "
                 f"and reproduces that row (checkpoints by SHA-256, the authors' images by the release manifest). "
                 f"Crop boxes, values and sources: `figure2.csv` (PDF: `figure2.pdf`).\n")
    else:
        text += "Not drawn: no method's image could be shown.\n"
    if figure.omitted:
        text += "\nLeft out:\n\n" + "".join(f"- {line}\n" for line in figure.omitted)
    return text


def build_report(run_dirs: list[str | Path], rating_paths: list[str | Path], out: str | Path, *,
                 protocol: str = "paper", correction: str = "none", data_root: str | Path | None = None,
                 published_root: str | Path | None = None,
                 screening: ScreeningConfig | None = None) -> list[Path]:
    """Write the report for ``run_dirs`` and ``rating_paths`` into ``out``; return the written paths.

    ``data_root`` (default ``$SRBENCH_DATA`` / ``datasets/cache``) and
    ``published_root`` (default :func:`srbench.data.releases.published_root_choice`)
    are read for Figure 2/6's images only; the tables come from the runs.
    ``screening``: the rater-screening thresholds (default :class:`ScreeningConfig`).

    The steps: check the request, read the runs and ratings into the :class:`Evidence`,
    compute every text output (tables, figure data, statistics) into memory, write them
    atomically, draw the figures, drop outputs an earlier report left that this one lacks.
    """
    _check_request(run_dirs, rating_paths, protocol, correction)
    runs = _load_runs(run_dirs)
    ratings = load_ratings(list(rating_paths))
    screened = report_raters.screen(ratings, screening)
    kept = screened.kept_scores if screened is not None else None
    ev = Evidence(protocol, combine_runs(runs, protocol), _other_protocols(runs, protocol), ratings, kept,
                  _skipped(runs), _method_records(runs, "checkpoint"), _method_records(runs, "source"),
                  no_reference=combine_all_no_reference(runs))
    synthetic = report_provenance.is_synthetic(runs, ratings)
    files: dict[str, bytes] = {
        "inputs.json": report_provenance.inputs_json(protocol=protocol, runs=runs, ratings=ratings).encode()}
    md_parts = [report_provenance.header(protocol=protocol, runs=runs, ratings=ratings, correction=correction),
                report_raters.section(screened)]
    tables = _tables(ev, correction, synthetic, files, md_parts)
    columns = _figure5_data(kept, ratings, tables[1], files, md_parts)
    crops_figure = _crops(ev, data_root, published_root)
    _keep_figures_that_cannot_be_redrawn(crops_figure, Path(out))
    md_parts.append(_crops_markdown(crops_figure))
    if crops_figure.crops:
        files["figure2.csv"] = report_crops.to_csv(crops_figure).encode()
    plane, drawn = _perception_plane(ev, protocol, files, md_parts)
    agreeing = report_agreement.agreement(kept, ev.per_image, ev.niqe)
    md_parts.append("\n## Which metric agrees with people (ours)\n\n" + report_agreement.markdown(
        agreeing, ratings_given=ratings is not None, protocol=protocol, synthetic=synthetic))
    if agreeing:
        files["agreement.csv"] = report_agreement.to_csv(agreeing).encode()
    _statistics_files(ev, kept, screened, files, md_parts)
    files["report.md"] = "".join(md_parts).encode()

    out = Path(out)
    written = _write_files(out, files)
    note = " [SYNTHETIC]" if synthetic else ""
    written += _draw_figures(out, columns, crops_figure, plane, drawn, protocol, note)
    for name in OUTPUT_NAMES:  # drop outputs of an earlier report that this one does not produce
        if out / name not in written:
            (out / name).unlink(missing_ok=True)
    return sorted(written)


def _check_request(run_dirs: list, rating_paths: list, protocol: str, correction: str) -> None:
    get_protocol(protocol)  # an unknown name: SrbenchError naming the known ones
    if correction not in CORRECTIONS:
        raise SrbenchError(f"unknown correction {correction!r}; choose from {', '.join(CORRECTIONS)}")
    if not run_dirs and not rating_paths:
        raise SrbenchError("nothing to report: no run folders (results/metrics/*/per_image.csv) and no ratings")


def _load_runs(run_dirs: list[str | Path]) -> list[RunInput]:
    """The runs, sorted by folder name (distinct names required: the report cites runs by name)."""
    runs = sorted((load_run(d) for d in run_dirs), key=lambda r: (r.name, r.per_image_sha256))
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise SrbenchError(f"two run folders share a name ({', '.join(names)}): give each run a distinct folder name")
    return runs


def _other_protocols(runs: list[RunInput], protocol: str) -> dict[tuple[str, str], list[str]]:
    """(dataset, method) -> the protocols the runs measured it under besides ``protocol`` (for the cells' notes)."""
    all_rows = pd.concat([r.per_image for r in runs], ignore_index=True) if runs else pd.DataFrame(
        columns=["dataset", "method", "protocol"])
    others = {}
    for (dataset, method), group in all_rows.groupby(["dataset", "method"]):
        seen = sorted(set(group["protocol"]) - {protocol})
        if seen:
            others[(dataset, method)] = seen
    return others


def _tables(ev: Evidence, correction: str, synthetic: bool, files: dict, md_parts: list) -> tuple:
    """Tables 1 and 2 as Markdown, LaTeX and CSV (into ``files``, Markdown also into ``md_parts``); their specs."""
    paper = load_paper_values()
    own = own_checkpoints(ev.checkpoints)  # checkpoint:LABEL rows, under their architecture's paper rows
    tables = (table_spec(1, own), table_spec(2, own))  # rows from the registry, with any plugins loaded by now
    for spec in tables:
        table = build_table(spec, ev, paper, correction=correction, synthetic=synthetic)
        md = report_format.to_markdown(table)
        files[f"table{spec.number}.md"] = md.encode()
        files[f"table{spec.number}.tex"] = report_format.to_latex(table).encode()
        files[f"table{spec.number}.csv"] = report_format.to_csv(table).encode()
        md_parts.append(f"\n## Table {spec.number}\n\n{md}")
    return tables


def _figure5_data(kept, ratings, table2_spec, files: dict, md_parts: list) -> list:
    """Figure 5's plotted columns (empty: not drawn, and the Markdown says why)."""
    md_parts.append("\n## Figure 5\n\n")
    columns = report_figure.figure_data(kept, [(s.label, s.keys) for s in table2_spec.slots]) if kept is not None else []
    if columns:
        files["figure5.csv"] = report_figure.to_csv(columns).encode()
        md_parts.append("![MOS distribution on BSD100](figure5.png)\n\nPlotted data: `figure5.csv` "
                        "(counts of scores 1..5, the mean, and the ratings and raters behind them, per method; PDF: "
                        "`figure5.pdf`).\n")
    else:
        why = "no ratings were supplied" if ratings is None else "no kept ratings on BSD100"
        md_parts.append(f"Not drawn: {why}.\n")
    return columns


def _perception_plane(ev: Evidence, protocol: str, files: dict, md_parts: list) -> tuple[list, list]:
    """The perception-distortion plane's points (when a run measured NIQE) and the sets to draw."""
    plane = report_perception.points(ev.per_image, ev.niqe) if ev.niqe is not None else []
    drawn = report_perception.drawable(plane)
    md_parts.append("\n## Perception-distortion plane (ours)\n\n" + report_perception.markdown(plane, protocol, drawn))
    if plane:
        files["perception.csv"] = report_perception.to_csv(plane).encode()
    return plane, drawn


def _statistics_files(ev: Evidence, kept, screened, files: dict, md_parts: list) -> None:
    """significance.csv, mos.csv, screening.csv and the subject model's files and section."""
    sig = significance_rows(ev)
    files["significance.csv"] = report_format.csv_text(
        ["dataset", "metric", "method_a", "method_b", "n_pairs", "n_zero", "n", "statistic", "p_method",
         "pvalue", "p_holm", "effect", "mean_diff"],
        [[r["dataset"], r["metric"], r["method_a"], r["method_b"], r["n_pairs"], r["n_zero"], r["n"],
          _g(r["statistic"]), r["p_method"], _g(r["pvalue"]), _g(r["p_holm"]), _g(r["effect"]),
          _g(r["mean_diff"])] for r in sig]).encode()
    mos_rows = []
    if kept is not None:
        for (dataset, method), group in kept.groupby(["dataset", "method"], sort=True):
            m = stats.mos_with_ci(group[["rater", "image", "score"]], label=f"{dataset}/{method}")
            mos_rows.append([dataset, method, m.n_scores, m.n_raters, m.n_images,
                             f"{m.mean:.6f}", f"{m.ci_low:.6f}", f"{m.ci_high:.6f}"])
    files["mos.csv"] = report_format.csv_text(["dataset", "method", "n_scores", "n_raters", "n_images", "mean",
                                               "ci_low", "ci_high"], mos_rows).encode()
    files["screening.csv"] = report_raters.to_csv(screened).encode()
    subjects = report_subjects.subject_outputs(screened.kept_answers if screened is not None else None)
    files["subject_model.csv"] = subjects.model_csv.encode()
    files["subject_raters.csv"] = subjects.raters_csv.encode()
    md_parts.append(subjects.markdown)


def _write_files(out: Path, files: dict[str, bytes]) -> list[Path]:
    """Write every text output into ``out`` (created if needed), each atomically."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way (FileExistsError / NotADirectoryError), no permission, ...
        raise SrbenchError(f"cannot create the output folder {out} ({exc.strerror or exc}); "
                           "--out must be a folder") from exc
    written = []
    for name in sorted(files):
        write_atomic(out / name, files[name])
        written.append(out / name)
    return written


def _draw_figures(out: Path, columns: list, crops_figure, plane: list, drawn: list, protocol: str,
                  note: str) -> list[Path]:
    """Figures 5 and 2/6 and the perception planes, PNG and PDF each (``note``: the title's SYNTHETIC mark)."""
    written = []
    if columns:
        with _figure_paths(out / "figure5.png") as (png, pdf):
            report_figure.draw(columns, png, pdf, title_note=note)
        written += [out / "figure5.png", out / "figure5.pdf"]
    if crops_figure.crops:
        with _figure_paths(out / "figure2.png") as (png, pdf):
            report_crops.draw(crops_figure, png, pdf, title_note=note)
        written += [out / "figure2.png", out / "figure2.pdf"]
    for dataset in drawn:
        stem = out / report_perception.file_stem(dataset)
        with _figure_paths(stem.with_suffix(".png")) as (png, pdf):
            report_perception.draw(plane, dataset, protocol, png, pdf, title_note=note)
        written += [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    return written
