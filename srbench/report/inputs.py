"""Read the report's inputs: ``srbench run`` folders and MOS ratings (CSV or the MOS app's DB).

Everything returned is sorted, so the report does not depend on file or
directory listing order. Method names are compared through :func:`method_key`
(:func:`srbench.run.registry.method_key`: lower case; ``external:NAME=DIR`` ->
``external:name``; registered aliases such as ``nn`` -> ``nearest``).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from srbench import schema
from srbench.errors import SrbenchError
from srbench.run.registry import method_key

PER_IMAGE_COLUMNS = list(schema.PER_IMAGE_COLUMNS)
NIQE_HEADER = PER_IMAGE_COLUMNS + list(schema.NIQE_COLUMNS)
KEY_COLUMNS = ["dataset", "image", "method"]
NO_REFERENCE_COLUMNS = KEY_COLUMNS + ["niqe", "niqe_note"]
RATING_COLUMNS = list(schema.RATING_COLUMNS)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RunInput:
    """One ``srbench run`` output folder."""

    name: str
    per_image: pd.DataFrame  # the protocol rows (PSNR/SSIM), columns PER_IMAGE_COLUMNS
    per_image_sha256: str
    run_json: dict = field(default_factory=dict)
    # no-reference rows: KEY_COLUMNS + NAME,NAME_note per metric (NaN = n/a); None: none measured
    no_reference: pd.DataFrame | None = None


def load_run(folder: str | Path) -> RunInput:
    """Read ``folder/per_image.csv`` (required) and ``folder/run.json`` (optional).

    Raises :class:`SrbenchError` for a missing folder/file, a wrong header, or
    unparsable numbers. ``psnr`` may be ``inf`` (identical images). A file
    with no-reference columns (``NAME,NAME_note`` pairs after the protocol
    columns, e.g. NIQE's; see :mod:`srbench.schema`) is split: its protocol
    rows go to ``per_image``, its no-reference rows to ``no_reference``.
    """
    folder = Path(folder)
    csv_path = folder / "per_image.csv"
    if not csv_path.is_file():
        raise SrbenchError(f"{folder}: no per_image.csv (is this an 'srbench run' output folder?)")
    raw = csv_path.read_bytes()
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    names = _no_reference_header(header)
    if names is None:
        raise SrbenchError(f"{csv_path}: header is {header!r}, expected {','.join(PER_IMAGE_COLUMNS)!r} "
                           f"or {','.join(NIQE_HEADER)!r} (more no-reference metrics: NAME,NAME_note each)")
    try:
        df = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
        df["protocol"] = df["protocol"].str.strip().str.lower()
        nr = df[df["protocol"] == schema.NO_PROTOCOL] if names else None
        df = df[df["protocol"] != schema.NO_PROTOCOL][PER_IMAGE_COLUMNS].reset_index(drop=True)
        df["psnr"] = pd.to_numeric(df["psnr"], errors="raise").astype(float)
        df["ssim"] = pd.to_numeric(df["ssim"], errors="raise").astype(float)
        if nr is not None:
            nr = _no_reference_rows(nr, names, csv_path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise SrbenchError(f"{csv_path}: cannot parse ({exc})") from exc
    df["dataset"] = df["dataset"].str.strip().str.lower()
    df["method"] = df["method"].map(method_key)
    run_json: dict = {}
    json_path = folder / "run.json"
    if json_path.is_file():
        try:
            run_json = json.loads(json_path.read_text())
        except json.JSONDecodeError as exc:
            raise SrbenchError(f"{json_path}: not valid JSON ({exc})") from exc
    return RunInput(folder.resolve().name, df, sha256_bytes(raw), run_json, nr)


def _no_reference_header(header: str) -> list[str] | None:
    """The no-reference metrics of a per_image.csv header (``[]``: none), or None if the header is not one of ours."""
    columns = header.split(",")
    if columns[:len(PER_IMAGE_COLUMNS)] != PER_IMAGE_COLUMNS:
        return None
    tail = columns[len(PER_IMAGE_COLUMNS):]
    names = tail[::2]
    if len(tail) % 2 or tail[1::2] != [f"{n}_note" for n in names] or not all(n.isidentifier() for n in names):
        return None
    return names


def _no_reference_rows(rows: pd.DataFrame, names: list[str], csv_path: Path) -> pd.DataFrame:
    """The no-reference rows of a per_image.csv: :data:`KEY_COLUMNS` + ``NAME,NAME_note`` per metric;
    ``n/a`` (with a note) -> NaN."""
    out = pd.DataFrame({
        "dataset": rows["dataset"].str.strip().str.lower(),
        "image": rows["image"],
        "method": rows["method"].map(method_key),
    })
    for name in names:
        text = rows[name].str.strip()
        na = text == schema.NOT_AVAILABLE
        if (na & (rows[f"{name}_note"].str.strip() == "")).any() or (text == "").any():
            label = "NIQE" if name == "niqe" else name
            raise SrbenchError(f"{csv_path}: a {label} row without a value needs 'n/a' and the reason in "
                               f"{name}_note")
        out[name] = pd.to_numeric(text.mask(na), errors="raise").astype(float)
        out[f"{name}_note"] = rows[f"{name}_note"]
    return out.reset_index(drop=True)


def no_reference_metrics(runs: list[RunInput]) -> list[str]:
    """The no-reference metrics any of ``runs`` measured, in the order they first appear."""
    names: dict[str, None] = {}
    for r in runs:
        if r.no_reference is not None:
            names.update((c, None) for c in r.no_reference.columns if f"{c}_note" in r.no_reference.columns)
    return list(names)


def combine_all_no_reference(runs: list[RunInput]) -> dict[str, pd.DataFrame]:
    """Per no-reference metric some run measured: :func:`combine_no_reference` of it."""
    return {name: combine_no_reference(runs, name) for name in no_reference_metrics(runs)}


def combine_no_reference(runs: list[RunInput], name: str = "niqe") -> pd.DataFrame | None:
    """The rows of the no-reference metric ``name`` (default NIQE) of every run that measured it, one per
    (dataset, method, image), columns :data:`KEY_COLUMNS` + ``name,name_note``; None if none did.

    The same row in two runs must agree exactly, and runs must have measured
    it with the same settings (``run.json`` under ``name``; NIQE: model and
    settings), else :class:`SrbenchError`: a column never mixes conventions.
    """
    columns = KEY_COLUMNS + [name, f"{name}_note"]
    measured = [r for r in runs if r.no_reference is not None and name in r.no_reference.columns]
    if not measured:
        return None
    label = "NIQE" if name == "niqe" else name
    settings = {}
    for r in measured:
        rec = r.run_json.get(name)
        if isinstance(rec, dict):
            settings[r.name] = ({k: rec.get(k) for k in ("model_sha256", "luma", "border", "block")}
                                if name == "niqe" else rec)
    if len({repr(sorted(v.items())) for v in settings.values()}) > 1:
        raise SrbenchError(f"runs measured {label} with different settings or models: "
                           + "; ".join(f"{run}: {v}" for run, v in sorted(settings.items())))
    df = pd.concat([r.no_reference[columns].assign(run=r.name) for r in measured], ignore_index=True)
    keys = ["dataset", "method", "image"]
    for key, group in df[df.duplicated(keys, keep=False)].groupby(keys):
        if group[[name]].astype(str).drop_duplicates().shape[0] > 1:
            raise SrbenchError(f"conflicting {label} for {'/'.join(key)} in runs {', '.join(sorted(group['run']))}: "
                               "pass only one of them with --runs")
    return df.sort_values(keys + ["run"]).drop_duplicates(keys, keep="first").reset_index(drop=True)


def combine_runs(runs: list[RunInput], protocol: str) -> pd.DataFrame:
    """Per-image rows of every run under ``protocol``, one row per (dataset, method, image).

    The same row in two runs must agree exactly (else :class:`SrbenchError`).
    Rows of other protocols are dropped, so a table never mixes protocols.
    """
    frames = [r.per_image.assign(run=r.name) for r in runs]
    if not frames:
        return pd.DataFrame(columns=PER_IMAGE_COLUMNS + ["run"])
    df = pd.concat(frames, ignore_index=True)
    df = df[df["protocol"] == protocol]
    keys = ["dataset", "method", "image"]
    dup = df[df.duplicated(keys, keep=False)]
    for key, group in dup.groupby(keys):
        if group[["psnr", "ssim"]].drop_duplicates().shape[0] > 1:
            raise SrbenchError(
                f"conflicting results for {'/'.join(key)} (protocol {protocol}) in runs "
                f"{', '.join(sorted(group['run']))}: pass only one of them with --runs"
            )
    df = df.sort_values(keys + ["run"]).drop_duplicates(keys, keep="first")
    return df.reset_index(drop=True)


@dataclass(frozen=True)
class Ratings:
    """Rating-phase scores, first showings only (``repeat == 0``), one row per (rater, item), and every answer."""

    scores: pd.DataFrame  # columns: rater (study/rater), study, method, dataset, image, score
    sources: list[tuple[str, str, int]]  # (file name, sha256, number of rows read)
    studies: list[str]
    answers: pd.DataFrame | None = None  # every row of every phase (rater = study/rater), for screening and the model


PHASES = ("calibration", "rating", "gold", "attention")
"""Answer phases: the labelled anchors, the MOS items, hidden gold items, attention checks (see
:mod:`srbench.ratings.screening`); only ``rating`` rows make a MOS."""
OPTIONAL_COLUMNS = ("session", "attempts", "view_ms", "expected_low", "expected_high")
"""Columns a ratings file may have beyond :data:`RATING_COLUMNS` (the MOS app's later schemas); read when present."""


def _read_ratings_csv(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SrbenchError(f"{path}: cannot parse ratings CSV ({exc})") from exc
    missing = [c for c in RATING_COLUMNS if c not in df.columns]
    if missing:
        raise SrbenchError(f"{path}: ratings CSV lacks columns {', '.join(missing)} "
                           f"(expected header {','.join(RATING_COLUMNS)})")
    return df


def _read_ratings_db(path: Path) -> pd.DataFrame:
    """Read a MOS app SQLite database through the MOS app's own store (:class:`srbench.mos_app.store.Store`),
    read-only: the file is not changed (no schema, no journal-mode switch), so its checksum holds."""
    from srbench.mos_app.store import CSV_COLUMNS, Store

    try:
        store = Store(path, read_only=True)
        try:
            rows = store.rows()
        finally:
            store.close()
    except (sqlite3.DatabaseError, SrbenchError) as exc:
        raise SrbenchError(f"{path}: not a readable MOS app database ({exc})") from exc
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS), dtype=object).fillna("").astype(str)


def _integers(df: pd.DataFrame, column: str, *, required: bool) -> pd.Series:
    """``column`` as nullable integers; a non-integer entry is one :class:`SrbenchError` naming file and rater."""
    raw = df[column].astype(str).str.strip() if column in df.columns else pd.Series("", index=df.index)
    empty = raw == ""
    values = pd.to_numeric(raw.where(~empty), errors="coerce")
    bad = (~empty & (values.isna() | (values != values.round()))) | (empty & required)
    if bad.any():
        row = df[bad].iloc[0]
        what = "is empty" if raw[bad].iloc[0] == "" else f"is {raw[bad].iloc[0]!r}, not an integer"
        raise SrbenchError(f"{row['source']}: {column} {what} (rater {row['rater']}, item {row['item']}); "
                           "nothing was written")
    return values.astype("Int64")


def _known_images() -> dict[str, set[str]]:
    from srbench.data.sets import DATASETS, load_manifest

    return {d: {img["name"] for img in load_manifest(d)["images"]} for d in DATASETS}


def _check_rows(df: pd.DataFrame) -> None:
    """Refuse (one :class:`SrbenchError`, before anything is written) rows a MOS cannot rest on.

    Phases must be known; a rating-phase row must name a benchmark set, an image of
    that set's manifest and a registered method (or ``hr``); an item id of the MOS
    app's form ``<set>/<stem>/<method>`` must agree with those columns; gold and
    attention rows need an expected range within 1..5; response times are >= 0.
    """
    from srbench.run import registry
    from srbench.schema import HR_METHOD

    def refuse(mask: pd.Series, why: str) -> None:
        if mask.any():
            row = df[mask].iloc[0]
            raise SrbenchError(f"{row['source']}: {why.format(**row.to_dict())} (rater {row['rater']}, item "
                               f"{row['item']}; {int(mask.sum())} such row(s)); nothing was written")

    refuse(~df["phase"].isin(PHASES), "unknown phase {phase!r} (expected one of " + ", ".join(PHASES) + ")")
    refuse((df["score"] < 1) | (df["score"] > 5), "score {score} outside 1..5")
    refuse(df["response_ms"].notna() & (df["response_ms"] < 0), "negative response_ms {response_ms}")
    rating = df["phase"] == "rating"
    images = _known_images()
    refuse(rating & ~df["dataset"].isin(list(images)),
           "unknown item: set {dataset!r} is not a benchmark set (" + ", ".join(images) + ")")
    known_image = pd.Series([img in images.get(ds, ()) for ds, img in zip(df["dataset"], df["image"])],
                            index=df.index)
    refuse(rating & ~known_image, "unknown item: image {image!r} is not in the {dataset} manifest")
    known_method = pd.Series([m == HR_METHOD or ":" in m or registry.is_registered(m) for m in df["method"]],
                             index=df.index)
    refuse(rating & ~known_method, "unknown item: method {method!r} is not registered (load its plugin with "
                                   "--plugin MODULE)")
    parts = df["item"].str.split("/")
    form = parts.str.len() == 3
    agrees = pd.Series([
        p[0].strip().lower() == ds and p[1] == Path(img).stem and method_key(p[2]) == m if ok else True
        for p, ok, ds, img, m in zip(parts, form, df["dataset"], df["image"], df["method"])], index=df.index)
    refuse(rating & ~agrees, "item id {item!r} does not match its columns ({dataset}, {image}, {method})")
    checked = df["phase"].isin(["gold", "attention"])
    lo, hi = df["expected_low"], df["expected_high"]
    refuse(checked & (lo.isna() | hi.isna()), "{phase} answer without expected_low/expected_high")
    refuse(lo.notna() & hi.notna() & ((lo < 1) | (hi > 5) | (lo > hi)),
           "expected range {expected_low}..{expected_high} is not within 1..5")


def load_ratings(paths: list[str | Path]) -> Ratings | None:
    """Load rating files (``.csv``, or ``.db``/``.sqlite`` via the MOS app). ``None`` if no paths.

    Every row is checked first (:func:`_check_rows`); a bad file is refused as a
    whole with one error. ``scores`` keeps ``phase == "rating"`` and ``repeat == 0``
    rows, ``answers`` every row; raters are keyed ``study/rater`` so two studies
    never share a rater.
    """
    if not paths:
        return None
    frames, sources = [], []
    for p in sorted(Path(x) for x in paths):
        if p.is_dir():
            raise SrbenchError(f"ratings {p} is a folder: give the ratings files themselves (.csv or .db)")
        if not p.is_file():
            raise SrbenchError(f"ratings file {p} not found")
        df = _read_ratings_db(p) if p.suffix.lower() in (".db", ".sqlite", ".sqlite3") else _read_ratings_csv(p)
        sources.append((p.name, sha256_bytes(p.read_bytes()), len(df)))
        frames.append(df.assign(source=p.name))
    df = pd.concat(frames, ignore_index=True)
    for column in ("study", "rater", "item", "method", "dataset", "image", "phase"):
        df[column] = df[column].astype(str).str.strip()
    df["method"] = df["method"].map(method_key)
    df["dataset"] = df["dataset"].str.lower()
    df["score"] = _integers(df, "score", required=True)
    df["repeat"] = _integers(df, "repeat", required=True)
    df["response_ms"] = _integers(df, "response_ms", required=False)
    for column in OPTIONAL_COLUMNS:
        df[column] = _integers(df, column, required=False)
    _check_rows(df)
    df["score"] = df["score"].astype(int)
    df["repeat"] = df["repeat"].astype(int)
    df["rater"] = df["study"] + "/" + df["rater"]
    order = ["rater", "phase", "dataset", "method", "image", "repeat", "item"]
    answers = df.drop(columns=["source"]).sort_values(order, kind="stable").reset_index(drop=True)
    df = df[(df["phase"] == "rating") & (df["repeat"] == 0)].copy()
    keys = ["rater", "dataset", "method", "image"]
    dup = df[df.duplicated(keys, keep=False)]
    if not dup.empty:
        row = dup.iloc[0]
        raise SrbenchError(f"ratings: rater {row['rater']} scored {row['dataset']}/{row['image']} "
                           f"({row['method']}) more than once with repeat=0")
    scores = df[["rater", "study", "method", "dataset", "image", "score"]].sort_values(keys).reset_index(drop=True)
    return Ratings(scores, sources, sorted(df["study"].unique()), answers)
