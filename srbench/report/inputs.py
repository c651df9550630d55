"""Read the report's inputs: ``srbench run`` folders and MOS ratings (CSV or the MOS app's DB).

Everything returned is sorted, so the report does not depend on file or
directory listing order. Method names are compared through :func:`method_key`
(:func:`srbench.registry.method_key`: lower case; ``external:NAME=DIR`` ->
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
from srbench.registry import method_key

PER_IMAGE_COLUMNS = list(schema.PER_IMAGE_COLUMNS)
RATING_COLUMNS = list(schema.RATING_COLUMNS)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class RunInput:
    """One ``srbench run`` output folder."""

    name: str
    per_image: pd.DataFrame
    per_image_sha256: str
    run_json: dict = field(default_factory=dict)


def load_run(folder: str | Path) -> RunInput:
    """Read ``folder/per_image.csv`` (required) and ``folder/run.json`` (optional).

    Raises :class:`SrbenchError` for a missing folder/file, a wrong header, or
    unparsable numbers. ``psnr`` may be ``inf`` (identical images).
    """
    folder = Path(folder)
    csv_path = folder / "per_image.csv"
    if not csv_path.is_file():
        raise SrbenchError(f"{folder}: no per_image.csv (is this an 'srbench run' output folder?)")
    raw = csv_path.read_bytes()
    header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip()
    if header != ",".join(PER_IMAGE_COLUMNS):
        raise SrbenchError(f"{csv_path}: header is {header!r}, expected {','.join(PER_IMAGE_COLUMNS)!r}")
    try:
        df = pd.read_csv(csv_path, dtype={"dataset": str, "image": str, "method": str, "protocol": str},
                         keep_default_na=False)
        df["psnr"] = pd.to_numeric(df["psnr"], errors="raise").astype(float)
        df["ssim"] = pd.to_numeric(df["ssim"], errors="raise").astype(float)
    except (ValueError, pd.errors.ParserError) as exc:
        raise SrbenchError(f"{csv_path}: cannot parse ({exc})") from exc
    df["dataset"] = df["dataset"].str.strip().str.lower()
    df["method"] = df["method"].map(method_key)
    df["protocol"] = df["protocol"].str.strip().str.lower()
    run_json: dict = {}
    json_path = folder / "run.json"
    if json_path.is_file():
        try:
            run_json = json.loads(json_path.read_text())
        except json.JSONDecodeError as exc:
            raise SrbenchError(f"{json_path}: not valid JSON ({exc})") from exc
    return RunInput(folder.resolve().name, df, sha256_bytes(raw), run_json)


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
    """Rating-phase scores, first showings only (``repeat == 0``), one row per (rater, item)."""

    scores: pd.DataFrame  # columns: rater (study/rater), study, method, dataset, image, score
    sources: list[tuple[str, str, int]]  # (file name, sha256, number of rows read)
    studies: list[str]


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
    return pd.DataFrame(rows, columns=list(CSV_COLUMNS)).astype(str)


def load_ratings(paths: list[str | Path]) -> Ratings | None:
    """Load rating files (``.csv``, or ``.db``/``.sqlite`` via the MOS app). ``None`` if no paths.

    Keeps ``phase == "rating"`` and ``repeat == 0`` rows; raters are keyed
    ``study/rater`` so two studies never share a rater. Scores must be 1..5.
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
    try:
        df["score"] = df["score"].astype(int)
        df["repeat"] = df["repeat"].astype(int)
    except ValueError as exc:
        raise SrbenchError(f"ratings: score/repeat must be integers ({exc})") from exc
    bad = df[(df["score"] < 1) | (df["score"] > 5)]
    if not bad.empty:
        row = bad.iloc[0]
        raise SrbenchError(f"{row['source']}: score {row['score']} outside 1..5 (rater {row['rater']})")
    df = df[(df["phase"].str.strip() == "rating") & (df["repeat"] == 0)].copy()
    df["method"] = df["method"].map(method_key)
    df["dataset"] = df["dataset"].str.strip().str.lower()
    df["rater"] = df["study"].str.strip() + "/" + df["rater"].str.strip()
    keys = ["rater", "dataset", "method", "image"]
    dup = df[df.duplicated(keys, keep=False)]
    if not dup.empty:
        row = dup.iloc[0]
        raise SrbenchError(f"ratings: rater {row['rater']} scored {row['dataset']}/{row['image']} "
                           f"({row['method']}) more than once with repeat=0")
    scores = df[["rater", "study", "method", "dataset", "image", "score"]].sort_values(keys).reset_index(drop=True)
    return Ratings(scores, sources, sorted(df["study"].str.strip().unique()))

