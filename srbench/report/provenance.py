"""The report header: where every number came from.

Taken from the inputs only (never from the current checkout), so regenerating
a committed report gives the same bytes. ``report.md`` shows two compact
tables: per run its code revision, ``per_image.csv`` SHA-256, rows, sets,
protocols, torch and skipped methods; per run and method the weights
(checkpoint SHA-256 or release), training iterations and patches, training
and inference device (digests cut to :data:`SHORT` hex digits). The whole
records (every ``run.json``) go to ``inputs.json`` (:func:`inputs_json`).
Per ratings file its SHA-256; the statistics settings (the rater screening
section is :mod:`.raters`).
"""

from __future__ import annotations

import json

from srbench.ratings import stats

from .inputs import Ratings, RunInput

REVISION_KEYS = ("code_revision", "git_revision", "revision", "git_commit", "commit")
DATA_KEYS = ("datasets", "manifests", "manifest_sha256", "data", "data_checksums")
CHECKPOINT_KEYS = ("checkpoints", "checkpoints_used")


def find_key(obj: object, names: tuple[str, ...]) -> object | None:
    """First value stored under any of ``names`` (searched breadth-first through nested dicts)."""
    queue = [obj]
    while queue:
        current = queue.pop(0)
        if isinstance(current, dict):
            for name in names:
                if name in current:
                    return current[name]
            queue.extend(v for _, v in sorted(current.items(), key=lambda kv: str(kv[0])) if isinstance(v, dict))
    return None


def canonical(value: object) -> str:
    """Compact, key-sorted JSON: the same value always prints the same way."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def is_synthetic(runs: list[RunInput], ratings: Ratings | None) -> bool:
    """True if any input is labelled synthetic (run folder, run.json flag/note, or study name)."""
    names = [r.name for r in runs] + (ratings.studies if ratings else [])
    flags = [bool(r.run_json.get("synthetic")) or "synthetic" in str(r.run_json.get("note", "")).lower()
             for r in runs]
    return any("synthetic" in n.lower() for n in names) or any(flags)


SHORT = 12  # hex digits of a SHA-256 or a commit shown in the tables (inputs.json has them whole)
INPUTS_JSON = "inputs.json"


def _short(value: object) -> str:
    """A revision or digest cut to :data:`SHORT` hex digits, keeping a ``+dirty`` mark; ``—`` for none."""
    if value is None or value == "":
        return "—"
    text = str(value)
    head, plus, rest = text.partition("+")
    return head[:SHORT] + (plus + rest if plus else "")


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else "—"


def run_row(run: RunInput, protocol: str) -> list[str]:
    """One row of the runs table: run, code revision, per_image.csv SHA-256, rows, sets, protocols, torch, skipped."""
    rj = run.run_json
    rows = run.per_image
    revision = find_key(rj, REVISION_KEYS) if rj else None
    data = find_key(rj, DATA_KEYS) if rj else None
    sets = ", ".join(sorted(data)) if isinstance(data, dict) else "not recorded"
    protocols = find_key(rj, ("protocols", "protocol")) if rj else None
    torch_version = find_key(rj, ("torch", "torch_version")) if rj else None
    n_rows = f"{len(rows)} ({int((rows['protocol'] == protocol).sum())} {protocol})"
    n_rows += "".join(f", {len(run.no_reference)} {_label(name)}" for name in _no_reference_names(run))
    skipped = sorted(rj.get("skipped") or {}) if isinstance(rj.get("skipped"), dict) else []
    return [f"`{run.name}`", f"`{_short(revision)}`" if revision is not None else "not recorded",
            f"`{_short(run.per_image_sha256)}`", n_rows, sets,
            ", ".join(protocols) if isinstance(protocols, list) else str(protocols or "—"),
            str(torch_version or "—"), ", ".join(skipped) or "—"]


def method_rows(run: RunInput) -> list[list[str]]:
    """Rows of the methods table for one run: method, weights (checkpoint SHA-256 or release), iterations,
    patches, training device, inference device."""
    methods = run.run_json.get("methods")
    if not isinstance(methods, dict):
        return [[f"`{run.name}`", "not recorded", "—", "—", "—", "—", "—"]]
    out = []
    for name, record in sorted(methods.items()):
        record = record if isinstance(record, dict) else {}
        ck = record.get("checkpoint") if isinstance(record.get("checkpoint"), dict) else None
        source = record.get("source") if isinstance(record.get("source"), dict) else None
        if ck is not None:
            weights = f"checkpoint `{_short(ck.get('checkpoint_sha256'))}`"
            row = [_count(ck.get("iterations")), _count(ck.get("patches_seen")), _cell(ck.get("device") or "—"),
                   _cell(ck.get("inference_device") or "—")]
        elif source is not None:
            weights = f"release {_cell(source.get('release', '?'))} `{_short(source.get('commit'))}`"
            row = ["—", "—", "—", "—"]
        else:
            weights, row = "—", ["—", "—", "—", "—"]
        out.append([f"`{run.name}`", f"`{_cell(name)}`", weights, *row])
    return out


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return (["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
            + ["| " + " | ".join(r) + " |" for r in rows])


def inputs_record(*, protocol: str, runs: list[RunInput], ratings: Ratings | None) -> dict:
    """Everything known about the report's inputs (``inputs.json``): per run its per_image.csv SHA-256 and row
    counts and its whole ``run.json``; per ratings file its SHA-256 and rows; the studies."""
    return {
        "protocol": protocol,
        "runs": [{"name": r.name, "per_image_sha256": r.per_image_sha256, "rows": len(r.per_image),
                  "rows_under_protocol": int((r.per_image["protocol"] == protocol).sum()),
                  "no_reference_rows": {name: len(r.no_reference) for name in _no_reference_names(r)} or None,
                  "run_json": r.run_json or None} for r in runs],
        "ratings": None if ratings is None else [{"file": name, "sha256": digest, "rows": n}
                                                 for name, digest, n in ratings.sources],
        "studies": None if ratings is None else list(ratings.studies),
    }


def inputs_json(*, protocol: str, runs: list[RunInput], ratings: Ratings | None) -> str:
    """:func:`inputs_record` as indented, key-sorted JSON (the same inputs always give the same bytes)."""
    return json.dumps(inputs_record(protocol=protocol, runs=runs, ratings=ratings), indent=1, sort_keys=True,
                      ensure_ascii=False) + "\n"


def _no_reference_names(run: RunInput) -> list[str]:
    """The no-reference metrics the run measured (columns ``NAME`` with ``NAME_note``), in column order."""
    columns = list(run.no_reference.columns) if run.no_reference is not None else []
    return [c for c in columns if f"{c}_note" in columns]


def _label(name: str) -> str:
    """How the runs table names a no-reference metric: ``NIQE``, a plugin's metric by its name."""
    return "NIQE" if name == "niqe" else name


def checkpoints(run_json: dict) -> object | None:
    """Checkpoints a run used: ``methods.<name>.checkpoint`` (srbench run's run.json), else a
    ``checkpoints`` entry; None if there are none."""
    methods = run_json.get("methods")
    if isinstance(methods, dict):
        used = {name: rec.get("checkpoint") for name, rec in methods.items()
                if isinstance(rec, dict) and rec.get("checkpoint")}
        if used:
            return used
    return find_key(run_json, CHECKPOINT_KEYS) or None


def header(*, protocol: str, runs: list[RunInput], ratings: Ratings | None, correction: str) -> str:
    """Markdown header of ``report.md``."""
    out = ["# srbench report: SRGAN Tables 1-2 and Figure 5 re-created (4x)", ""]
    if is_synthetic(runs, ratings):
        out += ["> **SYNTHETIC INPUTS**: some results or ratings below are synthetic test data, "
                "not measurements of real methods or people.", ""]
    out += [f"- metric protocol: `{protocol}` (every PSNR/SSIM below; other protocols are left out)",
            "- generated by `srbench report` from the inputs listed here; every number is recomputed "
            "from per-image rows and individual ratings", "", "## Inputs", ""]
    if not runs:
        out.append("- runs: none")
    else:
        out += [f"Digests and revisions are cut to {SHORT} hex digits; every run's whole `run.json` (data checksums, "
                f"checkpoint sidecars, NIQE settings, released images, skipped methods and why) is in "
                f"`{INPUTS_JSON}` beside this report.", "",
                *_table(["run", "code revision", "per_image.csv sha256", "rows", "sets", "protocols", "torch",
                         "skipped"], [run_row(r, protocol) for r in runs]), "",
                *_table(["run", "method", "weights", "iterations", "patches", "trained on", "run on"],
                        [row for r in runs for row in method_rows(r)])]
    out.append("")
    if ratings is None:
        out.append("- ratings: none supplied (MOS columns are empty and Figure 5 is not drawn)")
    else:
        for name, digest, n in ratings.sources:
            out.append(f"- ratings `{name}`: sha256 `{digest}`, {n} rows")
        out.append(f"- studies: {', '.join(f'`{s}`' for s in ratings.studies)}")
    out += ["", "## Statistics", "",
            f"- MOS: rating-phase scores, first showing of each item (repeat 0), raters kept by screening "
            f"(calibration, gold and attention answers are never part of a MOS); every MOS cell states the raters "
            f"and ratings it rests on; "
            f"95% CI: percentile bootstrap, {stats.BOOTSTRAP_SAMPLES} resamples of raters and images "
            f"(two-way), seed {stats.BOOTSTRAP_SEED} + CRC32 of `set/method`",
            f"- paired tests: two-sided Wilcoxon signed-rank (scipy), zero differences dropped "
            f"(zero_method=`{stats.ZERO_METHOD}`), exact p-value when n <= {stats.EXACT_MAX_N} and no ties, "
            f"else normal approximation with tie correction; effect size: matched-pairs rank-biserial r "
            f"in [-1, 1], positive when `method_a` scores higher than `method_b` (`mean_diff` = a - b); "
            f"all tests in `significance.csv` (with Holm-adjusted p per set and measure); MOS tests pair the "
            f"ratings of the raters kept by screening only",
            f"- Table 1 significance: p < {stats.ALPHA}, multiple-comparison correction: {correction}"]
    return "\n".join(out) + "\n"
