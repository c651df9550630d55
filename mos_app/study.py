"""A MOS study folder: what it contains, how it is read and verified.

A study is a self-contained folder written once by :func:`srbench.mos_app.create.create_study`::

    DIR/manifest.json                          settings, items, calibration, file checksums
    DIR/images/<dataset>/<method>/<stem>.png   every stimulus, lossless PNG
    DIR/calibration/<stem>/<nearest|hr>.png    calibration anchors (score 1 / score 5)
    DIR/ratings.sqlite                         the answers (created by the app, not in the manifest)

An *item* is one version of one test image: ``(dataset, image, method)``,
identified by ``"<dataset>/<stem>/<method>"``; method ``hr`` is the original
HR image. Every file listed in the manifest has its SHA-256; the app refuses
to show a file whose bytes no longer match.

The manifest's ``settings`` also fix how the study is run (format 2):
``min_view_ms`` (nothing is stored for an image shown for less),
``session_items`` and ``session_minutes`` (a break after either), see
:class:`StudySettings`. Format-1 manifests (before these settings and the
photo-gap order) are refused with a message to re-create the study.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, fields
from pathlib import Path

from srbench.data.sets import sha256_file
from srbench.errors import SrbenchError

MANIFEST = "manifest.json"
FORMAT = "srbench-mos-study/2"
OLD_FORMATS = ("srbench-mos-study/1",)
DB_NAME = "ratings.sqlite"
RATER_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""Allowed rater ids (whole string, ``fullmatch``): 1..32 ASCII letters, digits, ``_`` or ``-`` (no paths, no SQL, no HTML).

Ids are case-insensitive: :func:`check_rater_id` returns them in lower case."""

DEFAULT_MIN_VIEW_MS = 2000
"""Minimum viewing time per image. ITU-T P.910 (ACR) shows each video stimulus for about 10 s; for still
images raters view freely until they vote, typically a few seconds. 2 s is long enough that no image can be
rated without having been looked at (click-through answers take well under 1 s) and short enough not to
dominate a paper-scale study (1,500 images x 2 s = 50 min of forced viewing in ~3 h of rating)."""
DEFAULT_SESSION_ITEMS = 200
DEFAULT_SESSION_MINUTES = 20.0
"""ITU-R BT.500 limits a session to about 30 minutes; 20 minutes (or 200 images, ~17 min at 5 s each) leaves
room for the instructions and calibration of the first session."""
DEFAULT_GOLD_RATE = 0.05
"""Hidden gold items per rating presentation in a new study (:mod:`srbench.mos_app.checks`): one in twenty.
ITU-T P.808's crowdsourcing toolkits put one gold question into each task of about ten to twelve stimuli; a
long lab-style session of hundreds of images needs fewer to measure a rater's attention over its course."""
MIN_VIEW_RANGE_MS = (200, 60000)
SESSION_ITEMS_RANGE = (1, 100000)
SESSION_MINUTES_RANGE = (0.05, 240.0)


@dataclass(frozen=True)
class StudySettings:
    """How a study is run (recorded in the manifest's ``settings``).

    ``min_view_ms``: an image must have been displayed this long (ms) before an
    answer for it is accepted. ``session_items`` / ``session_minutes``: a
    session ends (break screen) after this many answered presentations or
    this many minutes, whichever comes first.
    """

    min_view_ms: int = DEFAULT_MIN_VIEW_MS
    session_items: int = DEFAULT_SESSION_ITEMS
    session_minutes: float = DEFAULT_SESSION_MINUTES

    def check(self) -> "StudySettings":
        """Return self if every value is in range, else raise :class:`StudyError`."""
        lo, hi = MIN_VIEW_RANGE_MS
        if not isinstance(self.min_view_ms, int) or not lo <= self.min_view_ms <= hi:
            raise StudyError(f"minimum viewing time must be {lo / 1000:g}..{hi / 1000:g} s, "
                             f"got {self.min_view_ms!r} ms")
        lo, hi = SESSION_ITEMS_RANGE
        if not isinstance(self.session_items, int) or not lo <= self.session_items <= hi:
            raise StudyError(f"images per session must be {lo}..{hi}, got {self.session_items!r}")
        lo, hi = SESSION_MINUTES_RANGE
        if not isinstance(self.session_minutes, (int, float)) or not lo <= self.session_minutes <= hi:
            raise StudyError(f"minutes per session must be {lo:g}..{hi:g}, got {self.session_minutes!r}")
        return self

    def as_manifest(self) -> dict:
        """The manifest ``settings`` entries (JSON-stable types)."""
        return {"min_view_ms": int(self.min_view_ms), "session_items": int(self.session_items),
                "session_minutes": float(self.session_minutes)}


class StudyError(SrbenchError):
    """A missing, malformed or altered study folder, or a bad rater id."""


@dataclass(frozen=True)
class Stimulus:
    """One image a rater can be shown (a rating item, a calibration anchor, a gold item or an attention check).

    ``path`` is relative to the study folder (POSIX separators); ``anchor`` is
    the score a calibration image stands for (1 or 5), None for rating items.
    ``check`` is ``"gold"`` or ``"attention"`` for the quality-control images
    shown inside the rating phase (:mod:`srbench.mos_app.checks`), whose
    expected score range is ``expected_low..expected_high``; None otherwise.
    """

    item: str
    method: str
    dataset: str
    image: str
    path: str
    sha256: str
    width: int
    height: int
    anchor: int | None = None
    check: str | None = None
    expected_low: int | None = None
    expected_high: int | None = None
    region: tuple[int, int, int, int] | None = None
    """``(x, y, w, h)`` of the full image that this stimulus shows (studies made with ``--region``), else None."""


def _stimulus(entry: dict) -> Stimulus:
    """A manifest entry as a :class:`Stimulus` (its ``region`` list as a tuple)."""
    region = entry.get("region")
    return Stimulus(**{**entry, "region": tuple(region) if region is not None else None})


@dataclass(frozen=True)
class Study:
    """A loaded study: its folder, settings and stimuli (read-only)."""

    root: Path
    name: str
    seed: int
    repeats: tuple[str, ...]
    items: tuple[Stimulus, ...]
    calibration: tuple[Stimulus, ...]
    raters: tuple[str, ...] | None
    settings: dict
    run: StudySettings = StudySettings()
    checks: tuple[Stimulus, ...] = ()
    """Gold items and attention checks, inserted into every rater's rating phase (manifest ``checks``)."""

    def stimulus(self, item: str) -> Stimulus:
        """The rating item, calibration anchor or check with id ``item``."""
        for s in self.items + self.calibration + self.checks:
            if s.item == item:
                return s
        raise StudyError(f"study {self.name!r} has no item {item!r}")

    def read_verified(self, stim: Stimulus) -> bytes:
        """Return the PNG bytes of ``stim`` after checking their SHA-256 against the manifest.

        Raises :class:`StudyError` if the file is missing or was altered.
        """
        path = self.root / stim.path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise StudyError(f"study file {stim.path} is missing or unreadable ({exc.strerror})") from exc
        if hashlib.sha256(data).hexdigest() != stim.sha256:
            raise StudyError(
                f"study file {stim.path} was altered after the study was created "
                "(SHA-256 differs from manifest.json); restore it or create a new study"
            )
        return data


def check_rater_id(rater: str, study: Study | None = None) -> str:
    """Return ``rater`` in lower case if it is a well-formed id (and listed, when the study has a rater list).

    Ids are case-insensitive (``Alice`` and ``alice`` are one rater), so the
    lower-case form is the id everywhere (store, URL). Raises
    :class:`StudyError` otherwise. The message does not echo a malformed id
    (the app renders messages as Markdown).
    """
    if not isinstance(rater, str) or not RATER_ID_RE.fullmatch(rater):
        raise StudyError("invalid rater id: use 1-32 letters, digits, '_' or '-' (for example 'r07')")
    rater = rater.lower()
    if study is not None and study.raters is not None and rater not in study.raters:
        raise StudyError(f"rater id {rater!r} is not on this study's list of raters; check the id you were given")
    return rater


def load_study(root: str | os.PathLike, *, verify: bool = True) -> Study:
    """Read ``root/manifest.json``; with ``verify`` check every listed file's SHA-256.

    Raises :class:`StudyError` for a missing folder or manifest, a manifest
    of another format, or a missing / altered file.
    """
    root = Path(root)
    if root.is_file():
        raise StudyError(f"{root} is a file; give the study folder that holds {MANIFEST}")
    if not root.is_dir():
        raise StudyError(f"study folder {root} does not exist (create one with 'srbench mos create')")
    mpath = root / MANIFEST
    try:
        manifest = json.loads(mpath.read_text())
    except FileNotFoundError as exc:
        raise StudyError(f"{root} is not a study folder: {MANIFEST} is missing") from exc
    except (OSError, ValueError) as exc:
        raise StudyError(f"{mpath}: unreadable or not JSON ({exc})") from exc
    if isinstance(manifest, dict) and manifest.get("format") in OLD_FORMATS:
        raise StudyError(f"{mpath}: study made by an older srbench (format {manifest['format']!r}, without a "
                         "minimum viewing time, sessions or photo-gap orders); re-create it with "
                         "'srbench mos create' under a new --name")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise StudyError(f"{mpath}: not a study manifest of format {FORMAT!r}")
    try:
        items = tuple(_stimulus(s) for s in manifest["items"])
        calibration = tuple(_stimulus(s) for s in manifest["calibration"])
        checks = tuple(_stimulus(s) for s in manifest.get("checks", []))
        if any(c.check not in ("gold", "attention") or not 1 <= c.expected_low <= c.expected_high <= 5
               for c in checks):
            raise ValueError("a check without kind gold/attention or with an expected range outside 1..5")
        settings = manifest["settings"]
        raters = settings.get("raters")
        run = StudySettings(**{f.name: settings[f.name] for f in fields(StudySettings)}).check()
        study = Study(
            root=root,
            name=settings["name"],
            seed=int(settings["seed"]),
            repeats=tuple(manifest["repeats"]),
            items=items,
            calibration=calibration,
            raters=tuple(r.lower() for r in raters) if raters else None,
            settings=settings,
            run=run,
            checks=checks,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StudyError(f"{mpath}: malformed manifest ({exc!r})") from exc
    if verify:
        verify_files(study)
    return study


def verify_files(study: Study) -> None:
    """Check every stimulus file's SHA-256; raise :class:`StudyError` naming the first bad one."""
    for stim in study.items + study.calibration + study.checks:
        path = study.root / stim.path
        if not path.is_file():
            raise StudyError(f"study file {stim.path} is missing from {study.root}")
        if sha256_file(path) != stim.sha256:
            raise StudyError(
                f"study file {stim.path} was altered after the study was created "
                "(SHA-256 differs from manifest.json); restore it or create a new study"
            )
