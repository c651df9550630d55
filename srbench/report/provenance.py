"""The report header: where every number came from.

Taken from the inputs only (never from the current checkout), so regenerating
a committed report gives the same bytes: per run the SHA-256 of its
``per_image.csv``, and from its ``run.json`` the code revision, protocols,
data checksums and checkpoints; per ratings file its SHA-256; the statistics
settings (the rater screening section is :mod:`.raters`).
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


def run_lines(run: RunInput, protocol: str) -> list[str]:
    rows = run.per_image
    lines = [f"- run `{run.name}`: per_image.csv sha256 `{run.per_image_sha256}`, {len(rows)} rows "
             f"({int((rows['protocol'] == protocol).sum())} under protocol `{protocol}`)"]
    rj = run.run_json
    lines[0] += _no_reference_counts(run)
    if not rj:
        lines.append("  - run.json: missing (code revision, data and checkpoints unknown)")
        return lines
    revision = find_key(rj, REVISION_KEYS)
    lines.append(f"  - code revision: `{revision if revision is not None else 'not recorded'}`")
    protocols = find_key(rj, ("protocols", "protocol"))
    if protocols is not None:
        lines.append(f"  - protocols: `{canonical(protocols)}`")
    torch_version = find_key(rj, ("torch", "torch_version"))
    if torch_version is not None:
        lines.append(f"  - torch: `{torch_version}`")
    data = find_key(rj, DATA_KEYS)
    lines.append(f"  - data checksums: `{canonical(data)}`" if data is not None else "  - data checksums: not recorded")
    methods = rj.get("methods")
    if isinstance(methods, dict):
        lines.append(f"  - methods: {', '.join(f'`{m}`' for m in sorted(methods))}")
    ckpt = checkpoints(rj)
    lines.append(f"  - checkpoints: `{canonical(ckpt)}`" if ckpt else "  - checkpoints: none")
    if isinstance(methods, dict):
        sources = {name: rec["source"] for name, rec in sorted(methods.items())
                   if isinstance(rec, dict) and rec.get("source")}
        if sources:
            lines.append(f"  - released images: `{canonical(sources)}`")
    if rj.get("skipped"):
        lines.append(f"  - skipped: `{canonical(rj['skipped'])}`")
    return lines


def _no_reference_counts(run: RunInput) -> str:
    """``", 15 NIQE rows (model sha256 ..., luma ..., border ...)"`` per no-reference metric of the run."""
    columns = list(run.no_reference.columns) if run.no_reference is not None else []
    text = ""
    for name in (c for c in columns if f"{c}_note" in columns):
        if name != "niqe":
            text += f", {len(run.no_reference)} {name} rows"
            continue
        niqe = run.run_json.get("niqe") if isinstance(run.run_json.get("niqe"), dict) else {}
        text += (f", {len(run.no_reference)} NIQE rows (model sha256 `{niqe.get('model_sha256', 'not recorded')}`, "
                 f"luma `{niqe.get('luma', '?')}`, border {niqe.get('border', '?')})")
    return text


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
    for run in runs:
        out += run_lines(run, protocol)
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
