"""The pixels the viewer shows: HR files, saved SR images, regenerated SR images and difference maps.

All images are ``uint8`` ``(H, W, 3)`` RGB. A saved image is served as the
run's own PNG bytes (checked by :func:`srbench.view.runs.check_saved_images`).
A column whose run saved no images is regenerated from its method: a
checkpoint method only from the checkpoint whose SHA-256 the run recorded,
and every regenerated image must reproduce the run's per-image row (PSNR and
SSIM within :data:`srbench.report.crops.TOLERANCE`) - the same rules as the
report's Figure 2. The difference map is ``|SR - HR|`` per channel (0..255).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from srbench.data.sets import load_manifest, sha256_file
from srbench.errors import DataError
from srbench.data.imageio import read_image
from srbench.report.crops import TOLERANCE, regenerating_method
from srbench.view.runs import Collection, Column, ViewError

CACHE_ITEMS = 256  # decoded images kept in memory (about 0.5 MB each for BSD100)


def encode_png(pixels: np.ndarray) -> bytes:
    """Lossless PNG bytes of ``uint8`` RGB ``pixels`` (deterministic)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def difference(sr: np.ndarray, hr: np.ndarray) -> np.ndarray:
    """``|sr - hr|`` per pixel and channel, ``uint8`` (0 = identical)."""
    return np.abs(sr.astype(np.int16) - hr.astype(np.int16)).astype(np.uint8)


def regeneration_problem(column: Column, settings: dict | None = None) -> str | None:
    """Why ``column``'s images cannot be regenerated here (None: they can)."""
    checkpoints = {m: (r or {}).get("checkpoint") or {} for m, r in column.run.record.get("methods", {}).items()}
    method, reason = regenerating_method(column.method, checkpoints, dict(settings or {}))
    return reason if method is None else None


class ImageStore:
    """Reads, regenerates and caches the images of a :class:`Collection` (thread-safe; one per server)."""

    def __init__(self, collection: Collection, data_root: Path, settings: dict | None = None):
        self.collection = collection
        self.data_root = Path(data_root)
        self.settings = dict(settings or {})
        self._methods: dict[str, object] = {}
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self._lock = threading.RLock()

    def _cached(self, key: tuple, make):
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        value = make()
        with self._lock:
            self._cache[key] = value
            while len(self._cache) > CACHE_ITEMS:
                self._cache.popitem(last=False)
        return value

    def _entry(self, dataset: str, image: str) -> dict:
        for entry in load_manifest(dataset)["images"]:
            if entry["name"] == image:
                return entry
        raise ViewError(f"{dataset} has no image {image!r}")

    def _benchmark_file(self, dataset: str, image: str, kind: str) -> Path:
        entry = self._entry(dataset, image)[kind]
        path = self.data_root / dataset / entry["path"]
        if not path.is_file():
            raise DataError(f"{path}: missing (fetch the set with 'srbench datasets fetch --datasets {dataset}' "
                            "or give --data-root)")
        if sha256_file(path) != entry["sha256"]:
            raise DataError(f"{path}: checksum mismatch with the {dataset} manifest; re-fetch the set")
        return path

    def hr_png(self, dataset: str, image: str) -> bytes:
        """The HR file's own bytes (checked against the set's manifest)."""
        return self._cached(("hr-png", dataset, image), lambda: self._benchmark_file(dataset, image, "hr").read_bytes())

    def hr(self, dataset: str, image: str) -> np.ndarray:
        return self._cached(("hr", dataset, image),
                            lambda: read_image(self._benchmark_file(dataset, image, "hr"))[0])

    def sr_png(self, dataset: str, image: str, key: str) -> bytes:
        """The PNG bytes of ``key``'s image: the saved file, or the regenerated image encoded here."""
        column = self.collection.column(key)
        if not column.regenerate:
            return self._cached(("png", dataset, image, key), lambda: column.saved_path(dataset, image).read_bytes())
        return self._cached(("png", dataset, image, key), lambda: encode_png(self.sr(dataset, image, key)))

    def sr(self, dataset: str, image: str, key: str) -> np.ndarray:
        """``key``'s SR pixels of ``dataset/image``."""
        column = self.collection.column(key)
        if not column.regenerate:
            return self._cached(("sr", dataset, image, key), lambda: read_image(column.saved_path(dataset, image))[0])
        return self._cached(("sr", dataset, image, key), lambda: self._regenerate(column, dataset, image))

    def is_ready(self, dataset: str, image: str, key: str) -> bool:
        """Whether ``key``'s image is at hand without regenerating it."""
        column = self.collection.column(key)
        with self._lock:
            return not column.regenerate or ("sr", dataset, image, key) in self._cache

    def diff_png(self, dataset: str, image: str, key: str) -> bytes:
        """PNG of ``|SR - HR|`` for ``key``'s image."""
        return self._cached(("diff", dataset, image, key),
                            lambda: encode_png(difference(self.sr(dataset, image, key), self.hr(dataset, image))))

    def _method(self, column: Column):
        with self._lock:
            if column.key not in self._methods:
                checkpoints = {m: (r or {}).get("checkpoint") or {}
                               for m, r in column.run.record.get("methods", {}).items()}
                method, reason = regenerating_method(column.method, checkpoints, self.settings)
                if method is None:
                    raise ViewError(f"{column.key}: its images cannot be regenerated: {reason}")
                self._methods[column.key] = method
            return self._methods[column.key]

    def _regenerate(self, column: Column, dataset: str, image: str) -> np.ndarray:
        from srbench.metrics import evaluate

        method = self._method(column)
        lr, _ = read_image(self._benchmark_file(dataset, image, "lr"))
        hr_path = self._benchmark_file(dataset, image, "hr")
        hr, is_gray = read_image(hr_path)
        with self._lock:  # one model call at a time (torch uses every core already)
            sr = method.upscale(lr, dataset=dataset, name=image)
        psnr, ssim = evaluate(sr, hr, protocol=self.collection.protocol, is_gray=is_gray)
        want_psnr = self.collection.value(dataset, image, column.key, "psnr")
        want_ssim = self.collection.value(dataset, image, column.key, "ssim")
        if not (abs(psnr - want_psnr) <= TOLERANCE and abs(ssim - want_ssim) <= TOLERANCE):
            raise ViewError(f"{column.key} on {dataset}/{image}: the image regenerated here measures {psnr:.4f} dB / "
                            f"{ssim:.4f}, not the run's row {want_psnr:.4f} dB / {want_ssim:.4f}: it is not the "
                            "image that was measured")
        return sr
