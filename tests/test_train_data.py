"""The training data pipeline: file listing, manifest hash, device-side crops/flips and LR generation."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from srbench.methods.training.data import PatchSampler, list_training_files, make_lr, manifest_sha256
from srbench.errors import DataError
from srbench.data.imageio import read_image


def test_lists_real_training_folders_sorted(train_root):
    files = list_training_files([train_root / "t91", train_root / "kodak24"])
    labels = [f.label for f in files]
    assert len(files) == 91 + 24
    assert labels == sorted(labels)
    assert labels[0].startswith("kodak24/") and labels[-1].startswith("t91/")


def test_manifest_hash_tracks_names_and_bytes(train_root, tmp_path):
    # a copy of three real images under another parent: same folder name, same hash
    src = sorted((train_root / "t91").glob("*.webp"))[:3]
    copy = tmp_path / "a" / "t91"
    copy.mkdir(parents=True)
    for p in src:
        shutil.copy(p, copy / p.name)
    original = [f for f in list_training_files([train_root / "t91"]) if f.relpath in {p.name for p in src}]
    h_copy = manifest_sha256(list_training_files([copy]))
    assert h_copy == manifest_sha256(original)

    first = copy / src[0].name
    first.write_bytes(first.read_bytes() + b"\0")  # one byte more in one file
    h_bytes = manifest_sha256(list_training_files([copy]))
    assert h_bytes != h_copy

    # Each check below compares with the hash just before that one change, so only the file name
    # (or the folder name) differs: a hash over the contents alone passes every check above and
    # fails each of these.
    second = copy / src[1].name
    second.rename(copy / ("z" + src[1].name))  # same bytes, another file name
    h_renamed = manifest_sha256(list_training_files([copy]))
    assert h_renamed != h_bytes
    (copy / ("z" + src[1].name)).rename(second)  # renamed back: the name was all that changed
    assert manifest_sha256(list_training_files([copy])) == h_bytes

    moved = copy.rename(tmp_path / "a" / "t92")  # same files, another folder name
    assert manifest_sha256(list_training_files([moved])) != h_bytes


def test_missing_or_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_training_files([tmp_path / "nope"])
    with pytest.raises(DataError, match="no training images"):
        list_training_files([tmp_path])


def _coded_images() -> list[np.ndarray]:
    """Synthetic images (labelled: not real data) whose pixels encode (image, row, col)."""
    images = []
    for i, (h, w) in enumerate([(40, 50), (33, 70), (64, 64)]):
        r, c = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        images.append(np.stack([r, c, np.full_like(r, i)], axis=2).astype(np.uint8))
    return images


def _dihedral(x: np.ndarray) -> list[np.ndarray]:
    """The 8 flips/transposes of an (H, W, C) square array."""
    out = []
    for t in (x, x.transpose(1, 0, 2)):
        for k in range(4):
            out.append(np.rot90(t, k))
    return out


def test_crops_are_real_subimages_under_all_eight_flips():
    images = _coded_images()
    sampler = PatchSampler(images + [np.zeros((20, 90, 3), np.uint8)], hr_patch=32, device="cpu", seed=3)
    assert sampler.skipped == 1 and sampler.num_images == 3
    crops = sampler.sample_hr_uint8(400).permute(0, 2, 3, 1).numpy()
    seen_ops = set()
    for crop in crops:
        img = images[int(crop[0, 0, 2])]
        # the crop's corner values name the source window: rows/cols span 32 consecutive values
        r0, c0 = int(crop[..., 0].min()), int(crop[..., 1].min())
        window = img[r0:r0 + 32, c0:c0 + 32]
        matches = [k for k, v in enumerate(_dihedral(window)) if np.array_equal(v, crop)]
        assert matches, "crop is not a flipped/transposed window of its image"
        seen_ops.add(matches[0])
    assert seen_ops == set(range(8))


def test_sampling_is_seeded_and_restorable():
    images = _coded_images()
    a = PatchSampler(images, hr_patch=16, device="cpu", seed=7)
    b = PatchSampler(images, hr_patch=16, device="cpu", seed=7)
    c = PatchSampler(images, hr_patch=16, device="cpu", seed=8)
    first = a.sample_hr_uint8(8)
    assert torch.equal(first, b.sample_hr_uint8(8))
    assert not torch.equal(first, c.sample_hr_uint8(8))
    state = a.generator.get_state()
    nxt = a.sample_hr_uint8(8)
    a.generator.set_state(state)
    assert torch.equal(nxt, a.sample_hr_uint8(8))


def test_small_real_image_is_skipped(train_root):
    files = [f for f in list_training_files([train_root / "t91"]) if f.relpath in ("t20.webp", "t1.webp")]
    sampler = PatchSampler.from_files(files, hr_patch=96, device="cpu", seed=0)
    assert (sampler.num_images, sampler.skipped) == (1, 1)
    lr, hr = sampler.sample(2)
    assert hr.shape == (2, 3, 96, 96) and lr.shape == (2, 3, 24, 24)
    assert hr.dtype == lr.dtype == torch.float32
    for x in (hr, lr):  # both on 8-bit levels in [0, 1]
        levels = x * 255
        assert torch.equal(levels, levels.round()) and x.min() >= 0 and x.max() <= 1


def test_lr_of_a_whole_benchmark_image_is_the_shipped_lr_file(data_root):
    hr, _ = read_image(data_root / "set5" / "HR" / "butterfly.png")
    lr_file, _ = read_image(data_root / "set5" / "LR_bicubic_x4" / "butterfly.png")
    x = torch.from_numpy(hr.copy()).permute(2, 0, 1).unsqueeze(0).float().div(255)
    lr = make_lr(x)[0].permute(1, 2, 0).mul(255).round().to(torch.uint8).numpy()
    assert np.array_equal(lr, lr_file)
