"""``published:METHOD``: another paper's released SR images, evaluated as a reference method.

``published:srresnet-mse`` and ``published:srgan-vgg54`` are the SRGAN
paper's own outputs (release ``ledig2017``, see :mod:`srbench.data.releases`):
fetched with ``srbench datasets fetch --datasets ledig2017`` and read from
``<published root>/ledig2017/<method>/<set>/NAME.png``. In the CSV files the
method is called ``published:<method>``, so its rows can never be mistaken
for a model srbench trained (``srgan-vgg54``).

Every file is checked against the release manifest's SHA-256 before it is
used: a missing or altered file has no output (:class:`MissingOutput`), so a
set with one is partial and never averaged as complete, and
:meth:`PublishedMethod.check_coverage` lists each such file before a run.
A set the release does not hold (BSD100) is covered 0/N with the reason.
"""

from __future__ import annotations

import os

import numpy as np

from srbench import SCALE
from srbench.data import releases as published
from srbench.data.set_coverage import CoverageReport, DatasetCoverage
from srbench.data.sets import load_manifest, normalize_dataset_name
from srbench.errors import DataError, MissingOutput, SrbenchError
from srbench.data.imageio import read_image
from srbench.run.registry import Method

PREFIX = "published:"


class PublishedMethod(Method):
    """The released images of one method of one release (see the module docstring)."""

    def __init__(self, member: str, *, published_root: str | os.PathLike | None = None):
        key = member.strip().lower()
        try:
            self.release = published.release_of(key)
        except DataError as exc:
            raise SrbenchError(f"{PREFIX}{member}: {exc}") from None
        self.member = key
        self.name = PREFIX + key
        self.root, self.root_origin = published.published_root_choice(published_root)
        self.folder = self.root / self.release
        self._checked: dict[str, published.FileCheck] = {}

    def availability(self) -> str | None:
        """None once the release folder holds this method's folder, else how to install it."""
        if (self.folder / self.member).is_dir():
            return None
        return (f"the authors' images are not installed: no folder {self.folder / self.member} (published root: "
                f"{self.root_origin}); run '{published.fetch_hint(self.release)}'")

    def source_info(self) -> dict:
        """Where the images come from (recorded in run.json): release, manifest checksum, origin."""
        manifest = published.load_release(self.release)
        return {"release": self.release, "manifest_sha256": published.manifest_sha256(self.release),
                "repository": manifest["source"]["repository"], "commit": manifest["source"]["commit"],
                "kind": "published", "description": manifest["title"]}

    # -- files -------------------------------------------------------------

    def _check(self, spec: published.PublishedFile) -> published.FileCheck:
        if spec.path not in self._checked:
            self._checked[spec.path] = published.check_file(spec, self.folder)
        return self._checked[spec.path]

    def _spec(self, dataset: str, name: str) -> published.PublishedFile | None:
        found = published.release_files(self.release, self.member, dataset)
        return next((s for s in found if s.name == name), None)

    def upscale(self, lr: np.ndarray, *, dataset: str, name: str) -> np.ndarray:
        """The released image of ``dataset``/``name`` after its SHA-256 matched the manifest.

        :class:`MissingOutput` if the release does not hold it, the file is
        missing, or it is not the released file (altered).
        """
        dataset = normalize_dataset_name(dataset)
        reason = published.not_released(self.release, dataset)
        if reason:
            raise MissingOutput(f"{self.name}: no image for {dataset}/{name}: {reason}")
        spec = self._spec(dataset, name)
        if spec is None:
            raise MissingOutput(f"{self.name}: the release {self.release} lists no {dataset}/{name}")
        check = self._check(spec)
        if check.state == "missing":
            raise MissingOutput(f"{self.name}: {self.folder / spec.path} is missing ({published.fetch_hint(self.release)})")
        if check.state == "altered":
            raise MissingOutput(f"{self.name}: {self.folder / spec.path} is altered ({check.detail}); "
                                "not measured as the authors' image")
        sr, _ = read_image(self.folder / spec.path)
        h, w = lr.shape[:2]
        if sr.shape[:2] != (h * SCALE, w * SCALE):
            raise DataError(f"{self.folder / spec.path}: {sr.shape[1]}x{sr.shape[0]}, but the LR image is {w}x{h}")
        return sr

    def check_coverage(self, datasets) -> CoverageReport:
        """Per set: missing and altered files (checked by SHA-256), extra files, and sets not released."""
        report: dict[str, DatasetCoverage] = {}
        extra_all: list[str] = []
        for dataset in [normalize_dataset_name(d) for d in datasets]:
            names = [e["name"] for e in load_manifest(dataset)["images"]]
            reason = published.not_released(self.release, dataset)
            if reason:
                report[dataset] = DatasetCoverage(dataset, len(names), missing=tuple(names), note=f"not released: {reason}")
                continue
            missing, altered = [], []
            for spec in published.release_files(self.release, self.member, dataset):
                check = self._check(spec)
                if check.state == "missing":
                    missing.append(spec.name)
                elif check.state == "altered":
                    altered.append(f"{spec.name} ({check.detail})")
            folder = self.folder / self.member / dataset
            listed = {s.name for s in published.release_files(self.release, self.member, dataset)}
            extra = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in listed) \
                if folder.is_dir() else []
            extra_all += [f"{self.member}/{dataset}/{n}" for n in extra]
            report[dataset] = DatasetCoverage(dataset, len(names), tuple(missing), tuple(extra), altered=tuple(altered))
        return CoverageReport(self.member, self.folder, "per-set", report, tuple(extra_all), prefix=PREFIX)


def family_member(member: str, *, published_root: str | os.PathLike | None = None) -> PublishedMethod:
    """The ``published:`` family's factory (``srbench.run.registry.get_method``): ``member`` is ``srgan-vgg54``."""
    return PublishedMethod(member, published_root=published_root)

