"""The data layer (srbench/data/sets.py): data-root resolution, manifests, load_dataset
and its errors, on real benchmark files (set5/set14 copied into tmp_path where damaged)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.data.sets import (
    DATASETS,
    DEFAULT_CACHE,
    ENV_VAR,
    MANIFEST_DIR,
    check_pair_sizes,
    load_dataset,
    load_manifest,
    normalize_dataset_name,
    resolve_data_root,
    sha256_file,
)
from srbench.errors import DataError, ImageError
from srbench.data.sets import data_root_choice


@pytest.fixture
def set5_copy(tmp_path, data_root) -> Path:
    """A writable copy of the real set5 under ``tmp_path/set5``; returns the data root ``tmp_path``."""
    shutil.copytree(data_root / "set5", tmp_path / "set5")
    return tmp_path


# ------------------------------------------------------------------ data root


def test_resolution_order_flag_then_env_then_cache(tmp_path, monkeypatch):
    flag_dir, env_dir = tmp_path / "flag", tmp_path / "env"
    flag_dir.mkdir()
    env_dir.mkdir()
    monkeypatch.setenv(ENV_VAR, str(env_dir))
    assert resolve_data_root(flag_dir) == flag_dir
    assert resolve_data_root(None) == env_dir
    assert data_root_choice(flag_dir) == (flag_dir, "--data-root")
    assert data_root_choice(None) == (env_dir, f"${ENV_VAR}")
    monkeypatch.delenv(ENV_VAR)
    assert data_root_choice(None) == (DEFAULT_CACHE, "the default cache")
    assert DEFAULT_CACHE == Path(__file__).resolve().parent.parent / "datasets" / "cache"
    monkeypatch.setenv(ENV_VAR, "")  # an empty variable counts as unset
    assert data_root_choice("") == (DEFAULT_CACHE, "the default cache")


@pytest.mark.parametrize("origin", ["flag", "env"])
def test_missing_data_root_says_how_to_fetch(tmp_path, monkeypatch, origin):
    missing = tmp_path / "absent"
    monkeypatch.setenv(ENV_VAR, str(missing))
    with pytest.raises(DataError) as info:
        resolve_data_root(missing if origin == "flag" else None)
    message = str(info.value)
    assert str(missing) in message and "srbench datasets fetch" in message
    assert ("--data-root" if origin == "flag" else f"${ENV_VAR}") in message
    assert "\n" not in message


def test_gitignore_keeps_the_cache_out_of_git():
    ignore = (Path(__file__).resolve().parent.parent / ".gitignore").read_text().splitlines()
    assert "datasets/cache/" in ignore


# ------------------------------------------------------------------ manifests


def test_manifests_match_the_shared_data(data_root):
    """Counts, layout and the SelfExSR mapping of every manifest; checksums against the real files."""
    counts = {"set5": 5, "set14": 14, "bsd100": 100}
    for name in DATASETS:
        manifest = load_manifest(name)
        assert manifest["count"] == counts[name] == len(manifest["images"])
        for entry in manifest["images"]:
            for kind, folder in (("hr", "HR"), ("lr", "LR_bicubic_x4")):
                spec = entry[kind]
                assert spec["path"] == f"{folder}/{entry['name']}"
                assert spec["source_path"].endswith(f"_SRF_4_{kind.upper()}.png")
            assert entry["lr"]["width"] * 4 == entry["hr"]["width"]
            assert entry["lr"]["height"] * 4 == entry["hr"]["height"]
    for entry in load_manifest("set5")["images"]:
        path = data_root / "set5" / entry["hr"]["path"]
        assert sha256_file(path) == entry["hr"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert path.stat().st_size == entry["hr"]["bytes"]
    names = [e["name"] for e in load_manifest("set5")["images"]]
    assert names == ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
    assert json.loads((MANIFEST_DIR / "set5.json").read_text())["name"] == "set5"


def test_dataset_names():
    assert normalize_dataset_name(" Set14 ") == "set14"
    assert normalize_dataset_name("BSD100") == "bsd100"
    with pytest.raises(DataError, match="unknown dataset 'urban100'; choose from set5, set14, bsd100"):
        normalize_dataset_name("urban100")


# ------------------------------------------------------------------ load_dataset


def test_load_real_sets(data_root):
    set5 = load_dataset("Set5", data_root)
    assert [i.name for i in set5] == ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
    for image in set5:
        assert image.dataset == "set5" and image.hr.dtype == np.uint8 and image.lr.dtype == np.uint8
        assert image.hr.shape == (image.lr.shape[0] * 4, image.lr.shape[1] * 4, 3)
        assert not image.is_gray
    assert set5[0].hr.shape == (512, 512, 3)
    set14 = {i.name: i for i in load_dataset("set14", data_root)}
    assert len(set14) == 14
    assert [n for n, i in set14.items() if i.is_gray] == ["bridge.png"]
    bridge = set14["bridge.png"]
    assert np.array_equal(bridge.hr[..., 0], bridge.hr[..., 2])
    assert np.array_equal(np.asarray(Image.open(data_root / "set14/HR/bridge.png")), bridge.hr[..., 1])


def test_missing_set_folder(tmp_path):
    with pytest.raises(DataError, match=r"the data root has no 'set5' folder \(run 'srbench datasets fetch --datasets set5'"):
        load_dataset("set5", tmp_path)


def test_missing_file(set5_copy):
    (set5_copy / "set5/LR_bicubic_x4/head.png").unlink()
    with pytest.raises(DataError, match=r"LR_bicubic_x4/head.png: missing \(set5 must have 5 LR images\)"):
        load_dataset("set5", set5_copy)


def test_checksum_mismatch(set5_copy):
    path = set5_copy / "set5/HR/bird.png"
    Image.open(path).save(path, compress_level=0)  # same pixels, different bytes
    with pytest.raises(DataError, match=r"HR/bird.png: checksum mismatch .*re-fetch with 'srbench datasets fetch'"):
        load_dataset("set5", set5_copy)
    # without verification the (pixel-identical) file loads
    assert load_dataset("set5", set5_copy, verify=False)[1].hr.shape == (288, 288, 3)


def test_truncated_png(set5_copy):
    path = set5_copy / "set5/HR/butterfly.png"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="checksum mismatch"):
        load_dataset("set5", set5_copy)
    with pytest.raises(ImageError, match=r"butterfly.png: corrupt or truncated image"):
        load_dataset("set5", set5_copy, verify=False)


def test_lr_size_mismatch(set5_copy):
    path = set5_copy / "set5/LR_bicubic_x4/baby.png"
    lr = np.asarray(Image.open(path))
    Image.fromarray(lr[:, :-1]).save(path)
    with pytest.raises(DataError, match=r"set5/baby.png: LR is 127x128 but HR is 512x512; LR x4 must equal the HR size"):
        load_dataset("set5", set5_copy, verify=False)


def test_check_pair_sizes():
    check_pair_sizes(np.zeros((3, 5, 3), np.uint8), np.zeros((12, 20, 3), np.uint8), "ok")
    with pytest.raises(DataError, match="x: LR is 5x3 but HR is 20x13"):
        check_pair_sizes(np.zeros((3, 5, 3), np.uint8), np.zeros((13, 20, 3), np.uint8), "x")


def test_data_root_that_is_a_file_or_a_set_folder_is_named_as_such(data_root, tmp_path):
    a_file = tmp_path / "root.txt"
    a_file.write_text("not a folder")
    with pytest.raises(DataError, match="is a file, not a folder"):
        resolve_data_root(a_file)
    with pytest.raises(DataError, match="looks like one set's folder: use the folder above it"):
        load_dataset("set5", data_root / "set5")
