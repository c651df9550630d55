"""Build a MOS study folder (layout in :mod:`srbench.mos_app.study`).

:func:`create_study` runs the methods on the benchmark sets and builds the
calibration anchors; :func:`write_study` writes already computed images (it
is also what tests use to build small synthetic studies). The folder is
written under a temporary name next to ``out`` and renamed at the end, so a
crash never leaves a half-written study behind. The same inputs and seed
give a byte-identical ``manifest.json`` (no timestamps, sorted keys).
"""

from __future__ import annotations

import json
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .crowd import CrowdSettings
from .checks import ATTENTION_SIZE, CheckSpec, attention_specs, check_attention_count, gold_count, gold_specs
from .invites import ACCESS_MODES
from .region import crop, photo_boxes
from .study import DEFAULT_GOLD_RATE, FORMAT, MANIFEST, RATER_ID_RE, StudyError, StudySettings, check_rater_id
from srbench import SCALE, __version__
from srbench.atomicio import make_staging_dir, remove_tree
from srbench.data.sets import load_dataset, load_manifest, normalize_dataset_name, sha256_file
from srbench.data.imageio import read_image, write_png
from srbench.schema import HR_METHOD  # noqa: F401  (the HR image among a study's methods)

TRAIN_ENV = "SRBENCH_TRAIN_DATA"
CALIBRATION_SET = "bsd200"
NAME_RE = RATER_ID_RE  # study names follow the same safe alphabet
ATTENTION_MIN = (360, 160)
"""Smallest region (width, height, pixels) at which an attention check's text is drawn whole."""


@dataclass(frozen=True)
class ImageSpec:
    """One image to write: ``pixels`` uint8 (H, W, 3) RGB, shown as ``method`` of ``dataset/image``."""

    dataset: str
    image: str
    method: str
    pixels: np.ndarray


def write_study(
    out: str | os.PathLike,
    *,
    name: str,
    seed: int,
    items: list[ImageSpec],
    calibration: list[tuple[ImageSpec, ImageSpec]],
    repeats: int = 0,
    raters: list[str] | None = None,
    run: StudySettings | None = None,
    access: str = "open",
    checks: list[CheckSpec] | None = None,
    extra_settings: dict | None = None,
    region: tuple[int, int] | None = None,
) -> Path:
    """Write a study folder at ``out`` (which must not exist) and return its path.

    ``region`` (width, height): show only that centred region of every photo, the same for all its versions
    (:mod:`srbench.mos_app.region`; recorded in the manifest); None shows whole images.

    ``calibration`` holds (score-1 anchor, score-5 anchor) pairs. ``repeats``
    rating items, drawn with ``seed``, are shown twice to every rater.
    ``run`` (default :class:`StudySettings()`) sets the minimum viewing time
    and the session limits. ``access``: ``"invite"`` (raters need their
    invitation link, :mod:`srbench.mos_app.invites`; ``raters`` are not listed
    in the manifest, the invitations file is the list) or ``"open"`` (any id,
    or only ``raters`` when given). The default here is ``"open"``, so this
    low-level writer (tests, studies of given images) keeps its callers'
    behaviour; :func:`create_study` and ``srbench mos create`` default to
    ``"invite"``. ``checks``: gold items and attention checks shown inside the
    rating phase (:mod:`srbench.mos_app.checks`). Rater ids are stored in lower case. Raises
    :class:`StudyError` for a bad name, too many repeats, a duplicate item,
    settings out of range or an existing ``out``.
    """
    out = Path(out)
    if not NAME_RE.fullmatch(name):
        raise StudyError(f"invalid study name {name!r}: use 1-32 letters, digits, '_' or '-'")
    _check_out(out)
    run = (run or StudySettings()).check()
    if access not in ACCESS_MODES:
        raise StudyError(f"access must be one of {', '.join(ACCESS_MODES)}, got {access!r}")
    if not 0 <= repeats <= len(items):
        raise StudyError(f"--repeats {repeats} must be between 0 and the number of items ({len(items)})")
    raters = _rater_list(raters)
    boxes = _region_boxes(items, calibration, checks or [], region) if region is not None else {}
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_staging_dir(out.parent, prefix=f".tmp-{out.name}-")
    except OSError as exc:
        raise StudyError(f"cannot create {out} ({exc.strerror or exc})") from exc
    try:
        item_entries = []
        for spec in tqdm(items, desc="study images", unit="img", leave=False):
            stem = Path(spec.image).stem
            rel = f"images/{spec.dataset}/{_safe(spec.method)}/{stem}.png"
            item_entries.append(_write(tmp, rel, spec, f"{spec.dataset}/{stem}/{spec.method}",
                                       box=boxes.get(("item", spec.dataset, spec.image))))
        ids = [e["item"] for e in item_entries]
        if len(set(ids)) != len(ids):
            raise StudyError("duplicate study items (the same method listed twice?)")
        calib_entries = []
        for low, high in calibration:
            stem = Path(low.image).stem
            for spec, anchor in ((low, 1), (high, 5)):
                rel = f"calibration/{stem}/{spec.method}.png"
                calib_entries.append(
                    _write(tmp, rel, spec, f"calibration/{stem}/{spec.method}", anchor=anchor,
                           box=boxes.get(("calibration", low.dataset, low.image)))
                )
        check_entries = []
        for spec in checks or []:
            entry = _write(tmp, spec.path, ImageSpec(spec.dataset, spec.image, spec.method, spec.pixels), spec.item,
                           box=boxes.get((spec.kind, spec.dataset, spec.image)))
            entry.update(check=spec.kind, expected_low=spec.expected_low, expected_high=spec.expected_high)
            check_entries.append(entry)
        check_ids = [e["item"] for e in check_entries]
        if len(set(check_ids)) != len(check_ids) or set(check_ids) & set(ids):
            raise StudyError("duplicate check items (a gold photo used twice?)")
        repeated = sorted(random.Random(seed).sample(sorted(ids), repeats))
        settings = {
            "name": name,
            "seed": seed,
            "repeats": repeats,
            "calibration": len(calibration),
            "raters": raters if access == "open" else None,
            "access": access,
            "scale": SCALE,
            "srbench_version": __version__,
            **run.as_manifest(),
            **(extra_settings or {}),
            **({"region": list(region)} if region is not None else {}),
        }
        manifest = {
            "format": FORMAT,
            "settings": settings,
            "items": item_entries,
            "calibration": calib_entries,
            "checks": check_entries,
            "repeats": repeated,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        os.rename(tmp, out)
    except BaseException:
        remove_tree(tmp)
        raise
    return out


def _rater_list(raters: list[str] | None) -> list[str] | None:
    """``--raters`` checked and lower-cased (ids are case-insensitive); StudyError for a bad or doubled id."""
    if not raters:
        return None
    out = []
    for r in raters:
        if not RATER_ID_RE.fullmatch(r):
            raise StudyError(f"invalid rater id {r!r} in --raters: use 1-32 letters, digits, '_' or '-'")
        out.append(r.lower())
    if len(set(out)) != len(out):
        raise StudyError("--raters lists an id twice (ids are case-insensitive: 'Alice' and 'alice' are one rater)")
    return out


def _check_out(out: Path) -> None:
    """Raise :class:`StudyError` unless ``out`` is new and could be created there.

    The nearest existing folder above ``out`` must be a folder in which a
    folder can be made now (checked by making and removing one), so that an
    unwritable place is refused before any method runs.
    """
    if out.exists():
        raise StudyError(f"{out} already exists; choose another --out or remove it first")
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise StudyError(f"cannot create {out}: {parent} is a file, not a folder")
            try:
                remove_tree(make_staging_dir(parent, prefix=".srbench-write-test-"))
            except OSError as exc:
                raise StudyError(f"cannot create {out}: {parent} is not writable ({exc.strerror or exc})") from exc
            break


def _safe(method: str) -> str:
    """A folder name for ``method`` (``external:foo`` -> ``external_foo``)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", method)


def _region_boxes(items: list[ImageSpec], calibration: list[tuple[ImageSpec, ImageSpec]], checks: list[CheckSpec],
                  region: tuple[int, int]) -> dict[tuple[str, str, str], tuple[int, ...]]:
    """``(group, dataset, image) -> (x, y, w, h)``: one box per photo, shared by all its versions (attention
    checks, drawn at the region's size, get none)."""
    shapes: dict[tuple[str, str, str], set] = {}
    for spec in items:
        shapes.setdefault(("item", spec.dataset, spec.image), set()).add(spec.pixels.shape[:2])
    for low, high in calibration:
        shapes.setdefault(("calibration", low.dataset, low.image), set()).update(
            {low.pixels.shape[:2], high.pixels.shape[:2]})
    for spec in checks:
        if spec.kind != "attention":
            shapes.setdefault((spec.kind, spec.dataset, spec.image), set()).add(spec.pixels.shape[:2])
    return photo_boxes(shapes, region)


def _write(root: Path, rel: str, spec: ImageSpec, item: str, anchor: int | None = None,
           box: tuple[int, ...] | None = None) -> dict:
    """Write ``spec``'s pixels (only ``box`` = (x, y, w, h) of them, when given) as ``root/rel``; its manifest entry."""
    if spec.pixels.dtype != np.uint8 or spec.pixels.ndim != 3 or spec.pixels.shape[2] != 3:
        raise StudyError(f"{item}: expected uint8 (H, W, 3) pixels, got {spec.pixels.dtype} {spec.pixels.shape}")
    pixels = crop(spec.pixels, box) if box is not None else spec.pixels
    write_png(root / rel, pixels)
    h, w = pixels.shape[:2]
    entry = {
        "item": item, "method": spec.method, "dataset": spec.dataset, "image": spec.image,
        "path": rel, "sha256": sha256_file(root / rel), "width": w, "height": h, "anchor": anchor,
    }
    if box is not None:
        entry["region"] = [int(v) for v in box]
    return entry


def resolve_train_root(flag: str | os.PathLike | None) -> Path:
    """``--train-data`` flag, else ``$SRBENCH_TRAIN_DATA``; must hold ``bsd200/``."""
    raw = flag or os.environ.get(TRAIN_ENV)
    if not raw:
        raise StudyError(f"calibration images and gold items need the training data: pass --train-data or set "
                         f"${TRAIN_ENV} (or --calibration 0 --gold-rate 0)")
    root = Path(raw)
    if not (root / CALIBRATION_SET).is_dir():
        raise StudyError(f"{root / CALIBRATION_SET} not found: the training-data folder must hold {CALIBRATION_SET}/")
    return root


def _calibration_files(train_root: Path, count: int, what: str = "--calibration") -> list[Path]:
    """The first ``count`` files of ``train_root/bsd200`` sorted by name; StudyError if there are fewer."""
    files = sorted(p for p in (train_root / CALIBRATION_SET).iterdir() if p.is_file())
    if count > len(files):
        if what == "--calibration":
            raise StudyError(f"--calibration {count} exceeds the {len(files)} images in {train_root / CALIBRATION_SET}")
        raise StudyError(f"{what} {count} images, {train_root / CALIBRATION_SET} has {len(files)}")
    return files[:count]


def calibration_pairs(train_root: Path, count: int) -> list[tuple[ImageSpec, ImageSpec]]:
    """The first ``count`` images of ``bsd200`` (sorted by name) as (nearest, HR) anchor pairs.

    The HR is cropped at the top-left so both sides are multiples of 4; the
    score-1 anchor is the nearest-neighbour 4x upscale of its MATLAB-bicubic
    4x shrink (:func:`srbench.data.resize.imresize`).
    """
    from srbench.run.registry import get_method
    from srbench.data.resize import imresize

    files = _calibration_files(train_root, count)
    nearest = get_method("nearest")
    pairs = []
    for path in tqdm(files, desc="calibration", unit="img", leave=False):
        hr, _ = read_image(path)
        h, w = hr.shape[0] // SCALE * SCALE, hr.shape[1] // SCALE * SCALE
        hr = np.ascontiguousarray(hr[:h, :w])
        lr = imresize(hr, 1 / SCALE, kernel="bicubic")
        low = nearest.upscale(lr, dataset=CALIBRATION_SET, name=path.name)
        pairs.append((ImageSpec(CALIBRATION_SET, path.name, "nearest", low),
                      ImageSpec(CALIBRATION_SET, path.name, HR_METHOD, hr)))
    return pairs


def rating_items(methods: list[str], datasets: list[str], data_root: Path,
                 method_settings: dict | None = None) -> list[ImageSpec]:
    """Every method's SR image and the HR image of every image in ``datasets``.

    Methods that cannot run here (``availability()`` is not None, e.g. no
    checkpoint) and methods reading stored images (``external:``,
    ``published:``) that do not cover every image of ``datasets`` (missing,
    altered or wrong-size files, a set the release does not hold) are refused
    before any work is done: a study never has holes. ``method_settings``
    (``published_root``, ``device``, ...) go to the methods that take them.
    """
    built = _built_methods(methods, method_settings)
    sets = [normalize_dataset_name(d) for d in datasets]
    _check_full_coverage(built, sets)
    specs = []
    for ds in sets:
        for img in tqdm(load_dataset(ds, data_root), desc=f"{ds}", unit="img", leave=False):
            specs.append(ImageSpec(ds, img.name, HR_METHOD, img.hr))
            for m in built:
                specs.append(ImageSpec(ds, img.name, m.name, m.upscale(img.lr, dataset=ds, name=img.name)))
    return specs


def _built_methods(methods: list[str], method_settings: dict | None) -> list:
    """The methods to rate (``hr`` aside), built with the settings they take; each must be able to run here."""
    from srbench.run.registry import canonical_name, get_method, settings_for

    names = [canonical_name(m) for m in methods if m.strip().lower() != HR_METHOD]
    if len(set(names)) != len(names):
        raise StudyError(f"--methods lists a method twice: {', '.join(methods)}")
    settings = dict(method_settings or {})
    built = [get_method(n, **settings_for(n, settings)) for n in names]
    unused = set(settings) - {k for n in names for k in settings_for(n, settings)}
    if unused:
        raise StudyError(f"no chosen method takes the setting(s) {', '.join(sorted(unused))}")
    if len({m.name for m in built}) != len(built):
        raise StudyError(f"two --methods share the name used in the ratings: {', '.join(m.name for m in built)}")
    missing = [f"{m.name}: {m.availability()}" for m in built if m.availability() is not None]
    if missing:
        raise StudyError("cannot build the study, method(s) unavailable here: " + "; ".join(missing))
    return built


def _check_full_coverage(built: list, sets: list[str]) -> None:
    """Methods reading stored images must cover every image of ``sets``: a study never has holes."""
    gaps = []
    for m in built:
        report = m.check_coverage(sets)
        if report is not None:  # lines() starts with one line per set, in the same order
            gaps += [line for cov, line in zip(report.datasets.values(), report.lines()) if not cov.complete]
    if gaps:
        raise StudyError("cannot build the study, stored images do not cover every item: " + "; ".join(gaps)
                         + " (choose --datasets the method covers, or repair its folder)")


def _check_request(out, name: str, methods: list[str], calibration: int) -> None:
    """The first checks (no image read): the calibration count, the methods, the name, the output folder."""
    if calibration < 0:
        raise StudyError("--calibration must be >= 0")
    if not methods:
        raise StudyError("--methods is empty: list at least one method")
    if all(m.strip().lower() == HR_METHOD for m in methods):
        raise StudyError("--methods names no method besides 'hr' (the HR image is always included); "
                         "list the methods to rate, e.g. nearest,bicubic")
    if not NAME_RE.fullmatch(name):
        raise StudyError(f"invalid study name {name!r}: use 1-32 letters, digits, '_' or '-'")
    _check_out(Path(out))


def _check_raters_and_access(raters: list[str] | None, access: str) -> None:
    for r in raters or []:
        check_rater_id(r)
    _rater_list(raters)
    if access not in ACCESS_MODES:
        raise StudyError(f"access must be one of {', '.join(ACCESS_MODES)}, got {access!r}")


def _checked_sets(datasets: list[str]) -> list[str]:
    """The benchmark sets by canonical name: at least one, none twice."""
    sets = [normalize_dataset_name(d) for d in datasets]
    if not sets:
        raise StudyError("--datasets is empty: list at least one of set5, set14, bsd100")
    if len(set(sets)) != len(sets):
        raise StudyError(f"--datasets lists a set twice: {', '.join(datasets)}")
    return sets


def create_study(
    out: str | os.PathLike,
    *,
    name: str,
    methods: list[str],
    datasets: list[str],
    data_root: Path,
    train_root: str | os.PathLike | None = None,
    calibration: int = 20,
    repeats: int = 0,
    seed: int = 0,
    raters: list[str] | None = None,
    run: StudySettings | None = None,
    method_settings: dict | None = None,
    access: str = "invite",
    gold_rate: float = DEFAULT_GOLD_RATE,
    attention: int = 0,
    screening: dict | None = None,
    region: tuple[int, int] | None = None,
    crowd: CrowdSettings | None = None,
) -> Path:
    """Compute every stimulus and write the study folder (see :func:`write_study`; ``region`` as there).

    ``crowd`` (with ``access="crowd"``): the platform, completion and screening settings
    (:mod:`srbench.mos_app.crowd`), recorded as ``settings.crowd``.

    ``train_root`` is the ``--train-data`` flag (else ``$SRBENCH_TRAIN_DATA``);
    ``method_settings`` go to the methods that take them (:func:`rating_items`).
    ``gold_rate``: hidden gold items per rating presentation (at least one if
    > 0), from the BSD200 photos after the calibration ones; ``attention``:
    attention checks per rater (:mod:`srbench.mos_app.checks`). ``screening``:
    rater-screening thresholds for the admin page (``{KEY: VALUE}`` as
    :meth:`srbench.ratings.screening.ScreeningConfig.with_overrides` takes them).
    """
    # cheap checks first, so that a typo does not cost a full run of every method
    _check_request(out, name, methods, calibration)
    sets = _checked_sets(datasets)
    _check_raters_and_access(raters, access)
    run = (run or StudySettings()).check()
    versions = 1 + len([m for m in methods if m.strip().lower() != HR_METHOD])
    n_items = versions * sum(load_manifest(d)["count"] for d in sets)
    if not 0 <= repeats <= n_items:
        raise StudyError(f"--repeats {repeats} must be between 0 and the number of items ({n_items})")
    n_gold = gold_count(gold_rate, n_items + repeats)
    check_attention_count(attention)
    if region is not None and attention and (region[0] < ATTENTION_MIN[0] or region[1] < ATTENTION_MIN[1]):
        raise StudyError(f"--region {region[0]}x{region[1]} is too small for attention checks (their text needs "
                         f"at least {ATTENTION_MIN[0]}x{ATTENTION_MIN[1]}); use a larger region or --attention 0")
    train = resolve_train_root(train_root) if calibration or n_gold else None
    if train is not None:
        what = f"--calibration {calibration} plus {n_gold} gold item(s) (--gold-rate) need" if n_gold else "--calibration"
        photos = _calibration_files(train, calibration + n_gold, what=what)
    items = rating_items(methods, sets, data_root, method_settings)
    pairs = calibration_pairs(train, calibration) if calibration else []
    size = None if region is None else (min(region[0], ATTENTION_SIZE[0]), min(region[1], ATTENTION_SIZE[1]))
    checks = ((gold_specs(photos[calibration:], n_gold) if n_gold else [])
              + attention_specs(attention, seed, **({"size": size} if size else {})))
    settings = {"methods": sorted({s.method for s in items}), "datasets": sorted({s.dataset for s in items}),
                "gold_rate": float(gold_rate), "gold": n_gold, "attention": attention,
                "screening": dict(sorted((screening or {}).items()))}
    if (access == "crowd") != (crowd is not None):
        raise StudyError("a crowd study needs its crowd settings (--crowd with --completion-code)")
    if crowd is not None:
        settings["crowd"] = crowd.as_manifest()
    return write_study(out, name=name, seed=seed, items=items, calibration=pairs,
                       repeats=repeats, raters=raters, run=run, access=access, checks=checks,
                       extra_settings=settings, region=region)
