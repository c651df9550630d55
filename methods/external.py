"""``external:NAME=DIR``: evaluate a folder of ready-made SR images as method NAME.

Any SR method that is not built into srbench (SelfExSR, DRCN, a paper's
released outputs, your own model run elsewhere) can be benchmarked from its
output images. ``DIR`` holds one PNG per benchmark image, with the **same file
name as the HR file** (``baby.png``, ``img_001.png``), in one of two layouts:

* **per set** (the srbench layout): ``DIR/<set>/NAME.png``, e.g.
  ``DIR/set5/baby.png``, ``DIR/bsd100/img_001.png``. The set folder name is
  matched case-insensitively (``Set5/`` works too). Used as soon as ``DIR``
  has a sub-folder named after any benchmark set. ``srbench run
  --save-images`` writes exactly this layout under ``OUT/images/<method>/``,
  so a saved run can be re-read as ``external:NAME=OUT/images/<method>``.
* **flat**: ``DIR/NAME.png`` for every image of every set (the sets' file
  names do not collide).

Each SR image must be exactly 4x the LR image in both sides (the HR size);
it is read with :func:`srbench.data.imageio.read_image` (so 8-bit RGB, gray or
palette PNGs all work). An image that is not there raises
:class:`srbench.errors.MissingOutput`; :func:`check_coverage` lists missing,
extra and mis-sized files up front so a runner can mark a set as partially
covered instead of averaging it as if it were complete.

In the CSV files the method is called ``NAME``. ``NAME`` must match
``^[A-Za-z0-9_.-]+$`` and must not be a built-in method's name (an
``external:bicubic`` row would be indistinguishable from srbench's bicubic).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from srbench import SCALE
from srbench.data.set_coverage import CoverageReport, DatasetCoverage  # noqa: F401  (re-exported)
from srbench.data.sets import DATASETS, load_manifest, normalize_dataset_name
from srbench.errors import DataError, MissingOutput, SrbenchError
from srbench.data.imageio import read_image
from srbench.run.registry import Method, is_registered

PREFIX = "external:"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]+$")


def parse_external(text: str) -> tuple[str, Path]:
    """Split ``external:NAME=DIR`` into ``(NAME, Path(DIR))``; raise :class:`SrbenchError` if malformed."""
    text = text.strip()
    if not text.startswith(PREFIX):
        raise SrbenchError(f"{text!r} is not an external method; write external:NAME=DIR")
    body = text[len(PREFIX):]
    name, sep, directory = body.partition("=")
    if not sep or not name or not directory.strip():
        raise SrbenchError(
            f"{text!r}: write external:NAME=DIR, e.g. external:selfexsr=results/selfexsr "
            "(NAME labels the method in the CSV files, DIR holds its SR images)"
        )
    if not NAME_PATTERN.match(name):
        raise SrbenchError(
            f"{text!r}: method name {name!r} may only contain letters, digits, '_', '.' and '-'"
        )
    if _is_builtin(name):
        raise SrbenchError(
            f"{text!r}: {name!r} is a built-in method's name; its rows would be indistinguishable "
            "from the built-in one - pick another NAME"
        )
    return name, Path(directory.strip()).expanduser()


def _is_builtin(name: str) -> bool:
    """True if ``name`` (or an alias spelled that way) is a registered method."""
    return is_registered(name)


class ExternalMethod(Method):
    """Reads SR images from a folder (see the module docstring for the layouts)."""

    def __init__(self, name: str, directory: str | Path):
        if not NAME_PATTERN.match(name):
            raise SrbenchError(f"external method name {name!r} may only contain letters, digits, '_', '.' and '-'")
        self.name = name
        self.directory = Path(directory)

    def availability(self) -> str | None:
        """``None`` if ``DIR`` is an existing folder, else why it cannot be used."""
        if not self.directory.exists():
            return f"{PREFIX}{self.name}: folder {self.directory} does not exist"
        if not self.directory.is_dir():
            return f"{PREFIX}{self.name}: {self.directory} is not a folder"
        return None

    # -- layout -------------------------------------------------------------

    def _set_folders(self) -> dict[str, Path]:
        """Map set name -> its sub-folder of ``DIR`` (case-insensitive); empty for a flat folder."""
        found: dict[str, Path] = {}
        for child in sorted(self.directory.iterdir()):
            key = child.name.lower()
            if child.is_dir() and key in DATASETS:
                if key in found:
                    raise DataError(
                        f"{self.directory}: both {found[key].name}/ and {child.name}/ exist; "
                        f"keep one folder for {key}"
                    )
                found[key] = child
        return found

    @property
    def layout(self) -> str:
        """``"per-set"`` if ``DIR`` has a sub-folder named after a benchmark set, else ``"flat"``."""
        return "per-set" if self._set_folders() else "flat"

    def path_for(self, dataset: str, name: str) -> Path:
        """Where the SR image of ``dataset``/``name`` is expected (it may not exist)."""
        self._check_available()
        dataset = normalize_dataset_name(dataset)
        folders = self._set_folders()
        if folders:
            return folders.get(dataset, self.directory / dataset) / name
        return self.directory / name

    def _check_available(self) -> None:
        reason = self.availability()
        if reason:
            raise DataError(reason)

    # -- the Method protocol ------------------------------------------------

    def upscale(self, lr: np.ndarray, *, dataset: str, name: str) -> np.ndarray:
        """Return the stored SR image for ``dataset``/``name`` (uint8 ``(4h, 4w, 3)`` RGB).

        Raises :class:`MissingOutput` if the file is absent and
        :class:`DataError` if its size is not 4x the LR size.
        """
        path = self.path_for(dataset, name)
        if not path.is_file():
            raise MissingOutput(
                f"{PREFIX}{self.name}: no SR image for {dataset}/{name} (expected {path}, {self.layout} layout)"
            )
        sr, _ = read_image(path)
        h, w = lr.shape[:2]
        if sr.shape[:2] != (h * SCALE, w * SCALE):
            raise DataError(
                f"{path}: SR image is {sr.shape[1]}x{sr.shape[0]} but the LR image is {w}x{h}, "
                f"so the SR image must be {w * SCALE}x{h * SCALE} ({SCALE}x)"
            )
        return sr

    # -- coverage -----------------------------------------------------------

    def check_coverage(self, dataset_names: list[str] | tuple[str, ...]) -> CoverageReport:
        """List missing, extra, mis-sized and unreadable files for the given sets.

        Sizes are read from the file headers (cheap) and compared with the HR
        size recorded in the set's manifest.
        """
        self._check_available()
        datasets = [normalize_dataset_name(d) for d in dataset_names]
        folders = self._set_folders()
        layout = "per-set" if folders else "flat"
        report_sets: dict[str, DatasetCoverage] = {}
        used: set[Path] = set()
        for dataset in datasets:
            entries = load_manifest(dataset)["images"]
            missing, mis_sized, unreadable = self._file_problems(dataset, entries, used)
            extra: list[str] = []
            if layout == "per-set" and dataset in folders:
                names = {e["name"] for e in entries}
                extra = [p.name for p in _visible_files(folders[dataset]) if p.name not in names]
            report_sets[dataset] = DatasetCoverage(
                dataset, len(entries), tuple(missing), tuple(sorted(extra)), tuple(mis_sized), tuple(unreadable)
            )
        return CoverageReport(self.name, self.directory, layout, report_sets,
                              self._extra_files(layout, folders, report_sets))

    def _file_problems(self, dataset: str, entries: list[dict], used: set[Path]
                       ) -> tuple[list[str], list[str], list[str]]:
        """``(missing, mis_sized, unreadable)`` of one set's manifest ``entries``; found files go into ``used``.
        Sizes come from the file headers and are compared with the HR size in the manifest."""
        missing, mis_sized, unreadable = [], [], []
        for entry in entries:
            path = self.path_for(dataset, entry["name"])
            if not path.is_file():
                missing.append(entry["name"])
                continue
            used.add(path)
            want = (entry["hr"]["width"], entry["hr"]["height"])
            try:
                with Image.open(path) as im:
                    got = im.size
            except Exception:  # noqa: BLE001 - any failure to parse the header
                unreadable.append(entry["name"])
                continue
            if got != want:
                mis_sized.append(f"{entry['name']} ({got[0]}x{got[1]}, expected {want[0]}x{want[1]})")
        return missing, mis_sized, unreadable

    def _extra_files(self, layout: str, folders: dict, report_sets: dict[str, DatasetCoverage]) -> tuple[str, ...]:
        """Files that belong to no image of any set: in the flat layout, by name against every manifest;
        per set, ``FOLDER/NAME``."""
        if layout == "flat":
            known = {e["name"] for d in DATASETS for e in load_manifest(d)["images"]}
            return tuple(sorted(p.name for p in _visible_files(self.directory) if p.name not in known))
        return tuple(
            f"{cov.dataset if cov.dataset not in folders else folders[cov.dataset].name}/{n}"
            for cov in report_sets.values()
            for n in cov.extra
        )


def _visible_files(folder: Path) -> list[Path]:
    """Regular files in ``folder`` whose names do not start with a dot, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def external_method(text: str) -> ExternalMethod:
    """Build the method for ``external:NAME=DIR``."""
    name, directory = parse_external(text)
    return ExternalMethod(name, directory)


def family_member(spec: str) -> ExternalMethod:
    """The ``external:`` family's factory (``srbench.run.registry.get_method``): ``spec`` is ``NAME=DIR``."""
    return external_method(PREFIX + spec)


def check_coverage(text_or_method: str | ExternalMethod, dataset_names: list[str] | tuple[str, ...]) -> CoverageReport:
    """Coverage report for ``external:NAME=DIR`` (or an :class:`ExternalMethod`) on ``dataset_names``."""
    method = text_or_method if isinstance(text_or_method, ExternalMethod) else external_method(text_or_method)
    return method.check_coverage(dataset_names)
