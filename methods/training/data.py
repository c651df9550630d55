"""Training data: image folders -> resident uint8 pool -> batched (LR, HR) patches on the device.

The pipeline is built so that the accelerator never waits for Python:

1. :func:`list_training_files` finds every PNG/JPEG/WebP under the given
   folders (recursively, sorted) and :func:`manifest_sha256` fingerprints
   them (recorded in every checkpoint sidecar).
2. :class:`PatchSampler` decodes each image once with
   :func:`srbench.data.imageio.read_image` and keeps all of them in ONE flat
   ``uint8`` buffer on the training device (about 230 MB for the 491 images
   of t91 + bsd200 + bsds500_test). Images smaller than the HR crop on
   either side are skipped and counted.
3. :meth:`PatchSampler.sample` draws a whole batch with a handful of tensor
   operations: an image per patch (uniform over images), a crop position,
   one of the 8 flips/transposes (the dihedral group), all folded into ONE
   gather index, so there is no per-patch Python loop. The LR patch is the
   MATLAB-bicubic 4x shrink of the HR crop (:func:`srbench.data.resize_torch.imresize`,
   antialiased, as MATLAB ``imresize(hr, 1/4)`` on a uint8 image: rounded to
   8-bit levels after each dimension), exactly like the benchmark LR files.

Random numbers come from the sampler's own :class:`torch.Generator` (on the
device), so a resumed run can restore exactly where the crops were.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from srbench import SCALE
from srbench.data.resize_torch import imresize
from srbench.data.sets import sha256_file
from srbench.errors import DataError
from srbench.data.imageio import read_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass(frozen=True)
class TrainFile:
    """One training image: its folder (as given by the user) and its path below it."""

    root: Path
    relpath: str  # POSIX path relative to ``root``

    @property
    def path(self) -> Path:
        return self.root / self.relpath

    @property
    def label(self) -> str:
        """``<root folder name>/<relpath>``: the name used in the manifest hash."""
        return f"{self.root.name}/{self.relpath}"


def list_training_files(dirs: Sequence[str | os.PathLike]) -> list[TrainFile]:
    """Every PNG/JPEG/WebP file under each folder of ``dirs`` (recursive), sorted by label.

    Raises :class:`DataError` if a folder is missing or no image is found at all.
    """
    if not dirs:
        raise DataError("no training data folder given (--train-data DIR[,DIR...])")
    files: list[TrainFile] = []
    for d in dirs:
        root = Path(d)
        if root.is_file():
            raise DataError(f"--train-data {root} is a file; give the folder(s) holding the training images")
        if not root.is_dir():
            raise DataError(f"training data folder {root} does not exist")
        for p in root.rglob("*"):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
                files.append(TrainFile(root, p.relative_to(root).as_posix()))
    if not files:
        raise DataError(
            f"no training images (PNG, JPEG, WebP) found under {', '.join(str(d) for d in dirs)}"
        )
    files.sort(key=lambda f: (f.label, str(f.root)))
    return files


def manifest_sha256(files: Sequence[TrainFile]) -> str:
    """SHA-256 over the sorted lines ``"<label>\\t<file sha256>\\n"`` of ``files``.

    ``label`` is ``<folder name>/<relative path>``, so the hash does not depend
    on where the folders are mounted, only on their names and contents.
    """
    lines = sorted(f"{f.label}\t{sha256_file(f.path)}\n" for f in files)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


class PatchSampler:
    """Random (LR, HR) training patches drawn on ``device`` from resident uint8 images.

    ``hr_patch`` is the HR crop side in pixels (a multiple of 4; the LR patch
    is ``hr_patch // 4``). ``seed`` seeds the sampler's own generator; under
    DistributedDataParallel pass a per-rank seed so ranks see different crops.
    The pool must fit in device memory: on CUDA, more than half of the free
    memory is refused with a :class:`DataError` (the networks need the rest).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        *,
        hr_patch: int,
        device: torch.device | str,
        seed: int,
        skipped: int = 0,
    ) -> None:
        if hr_patch % SCALE:
            raise DataError(f"patch size {hr_patch} is not a multiple of {SCALE}")
        self.device = torch.device(device)
        self.hr_patch = hr_patch
        self.skipped = skipped
        kept = [im for im in images if im.shape[0] >= hr_patch and im.shape[1] >= hr_patch]
        self.skipped += len(images) - len(kept)
        if not kept:
            raise DataError(f"no training image is at least {hr_patch}x{hr_patch} pixels")
        heights = [im.shape[0] for im in kept]
        widths = [im.shape[1] for im in kept]
        sizes = [h * w for h, w in zip(heights, widths)]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        need = 3 * sum(sizes)
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if need > 0.5 * free:
                raise DataError(
                    f"the {len(kept)} training images take {need / 2**30:.1f} GiB as uint8, more than half of the "
                    f"{free / 2**30:.1f} GiB free on {self.device}; train on a subset of the folders"
                )
        flat = np.concatenate([im.reshape(-1, 3) for im in kept])  # (total pixels, 3) uint8
        self.pixels = torch.from_numpy(flat).to(self.device)
        self.offsets = torch.as_tensor(offsets, dtype=torch.int64, device=self.device)
        self.heights = torch.as_tensor(heights, dtype=torch.int64, device=self.device)
        self.widths = torch.as_tensor(widths, dtype=torch.int64, device=self.device)
        self.num_images = len(kept)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        grid = torch.arange(hr_patch, device=self.device)
        self._rows = grid.view(1, hr_patch, 1)
        self._cols = grid.view(1, 1, hr_patch)

    @classmethod
    def from_files(
        cls,
        files: Sequence[TrainFile],
        *,
        hr_patch: int,
        device: torch.device | str,
        seed: int,
        progress: bool = False,
    ) -> "PatchSampler":
        """Decode ``files`` once (threads: Pillow decodes without the GIL; progress bar if ``progress``)."""
        from concurrent.futures import ThreadPoolExecutor

        from tqdm import tqdm

        workers = min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:
            decoded = pool.map(lambda f: read_image(f.path)[0], files)  # keeps the order of ``files``
            images = list(tqdm(decoded, total=len(files), desc="decoding training images", unit="img",
                               disable=not progress))
        return cls(images, hr_patch=hr_patch, device=device, seed=seed)

    @property
    def nbytes(self) -> int:
        """Bytes the resident pixel buffer takes on the device."""
        return self.pixels.numel()

    def sample_hr_uint8(self, batch: int) -> torch.Tensor:
        """``batch`` random HR crops as ``uint8`` NCHW RGB on the device (flips/transposes applied)."""
        g, p = self.generator, self.hr_patch
        dev = self.device
        idx = torch.randint(self.num_images, (batch,), generator=g, device=dev)
        h, w = self.heights[idx], self.widths[idx]
        # crop corner uniform over the valid positions: floor(u * (size - p + 1)), u in [0, 1)
        y0 = (torch.rand(batch, generator=g, device=dev) * (h - p + 1)).long().clamp_max(h - p)
        x0 = (torch.rand(batch, generator=g, device=dev) * (w - p + 1)).long().clamp_max(w - p)
        ops = torch.randint(8, (batch,), generator=g, device=dev)
        transpose = (ops & 1).bool().view(batch, 1, 1)
        flip_rows = (ops & 2).bool().view(batch, 1, 1)
        flip_cols = (ops & 4).bool().view(batch, 1, 1)
        rows, cols = self._rows, self._cols
        src_r = torch.where(transpose, cols, rows)  # (B, p, p)
        src_c = torch.where(transpose, rows, cols)
        src_r = torch.where(flip_rows, p - 1 - src_r, src_r)
        src_c = torch.where(flip_cols, p - 1 - src_c, src_c)
        flat = (
            self.offsets[idx].view(batch, 1, 1)
            + (y0.view(batch, 1, 1) + src_r) * w.view(batch, 1, 1)
            + x0.view(batch, 1, 1)
            + src_c
        )
        patches = self.pixels.index_select(0, flat.reshape(-1))  # (B*p*p, 3)
        return patches.view(batch, p, p, 3).permute(0, 3, 1, 2)

    def sample(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(lr, hr)``: float32 NCHW RGB in [0, 1] on the device.

        ``hr`` is ``(batch, 3, P, P)`` on 8-bit levels (k / 255); ``lr`` is
        ``(batch, 3, P/4, P/4)``, :func:`make_lr` of ``hr``.
        """
        hr = self.sample_hr_uint8(batch).float().div_(255.0).contiguous()
        return make_lr(hr), hr


def make_lr(hr: torch.Tensor) -> torch.Tensor:
    """MATLAB-bicubic 4x shrink of float NCHW ``hr`` (8-bit levels in [0, 1]), on 8-bit levels.

    ``quantize=True`` rounds after each dimension exactly as MATLAB's
    ``imresize`` does on uint8 images, so a whole benchmark HR image gives
    its shipped ``LR_bicubic_x4`` file bit for bit.
    """
    return imresize(hr, 1.0 / SCALE, kernel="bicubic", quantize=True)
