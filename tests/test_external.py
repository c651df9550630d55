"""external:NAME=DIR on tmp folders built from real Set5/Set14 bicubic outputs."""

from __future__ import annotations

import numpy as np
import pytest

from srbench.methods import get_method
from srbench.methods.external import check_coverage, external_method, parse_external
from srbench.data.sets import load_dataset
from srbench.errors import DataError, MissingOutput, SrbenchError
from srbench.data.imageio import write_png


@pytest.fixture(scope="module")
def set5(data_root):
    return load_dataset("set5", data_root)


@pytest.fixture(scope="module")
def set5_bicubic(set5):
    bicubic = get_method("bicubic")
    return {im.name: bicubic.upscale(im.lr, dataset="set5", name=im.name) for im in set5}


def _write_folder(folder, images: dict[str, np.ndarray]) -> None:
    for name, pixels in images.items():
        write_png(folder / name, pixels)


@pytest.mark.parametrize("layout", ["per-set", "flat"])
def test_external_reproduces_bicubic(tmp_path, set5, set5_bicubic, layout):
    folder = tmp_path / "bic"
    _write_folder(folder / "Set5" if layout == "per-set" else folder, set5_bicubic)
    method = get_method(f"external:mybicubic={folder}")
    assert method.name == "mybicubic"
    assert method.availability() is None
    assert method.layout == layout
    for im in set5:
        sr = method.upscale(im.lr, dataset="set5", name=im.name)
        assert sr.dtype == np.uint8 and sr.shape == im.hr.shape
        np.testing.assert_array_equal(sr, set5_bicubic[im.name])
    report = check_coverage(method, ["set5"])
    assert report.complete and report.layout == layout
    assert report.lines() == ["external:mybicubic covers 5/5 of set5"]
    # The pixels come from the folder, not from an upscaler: a file replaced on disk (here by the
    # bicubic image mirrored left-right) is what the method returns for that image.
    baby = next(im for im in set5 if im.name == "baby.png")
    mirrored = np.ascontiguousarray(set5_bicubic["baby.png"][:, ::-1])
    assert not np.array_equal(mirrored, set5_bicubic["baby.png"])
    write_png((folder / "Set5" if layout == "per-set" else folder) / "baby.png", mirrored)
    again = get_method(f"external:mybicubic={folder}").upscale(baby.lr, dataset="set5", name="baby.png")
    np.testing.assert_array_equal(again, mirrored)


def test_missing_extra_and_mis_sized_files(tmp_path, set5, set5_bicubic):
    folder = tmp_path / "partial"
    images = dict(set5_bicubic)
    del images["bird.png"]
    images["woman.png"] = images["woman.png"][:-4]  # 4 rows short
    _write_folder(folder / "set5", images)
    (folder / "set5" / "notes.txt").write_text("not an SR image")
    method = external_method(f"external:partial={folder}")

    report = method.check_coverage(["set5", "set14"])
    s5, s14 = report.datasets["set5"], report.datasets["set14"]
    assert s5.missing == ("bird.png",) and s5.covered == 4 and not s5.complete
    assert s5.mis_sized == ("woman.png (228x340, expected 228x344)",)
    assert s5.extra == ("notes.txt",) and report.extra == ("set5/notes.txt",)
    assert s14.covered == 0 and len(s14.missing) == 14
    lines = report.lines()
    assert lines[0] == (
        "external:partial covers 4/5 of set5 (missing bird.png; "
        "wrong size woman.png (228x340, expected 228x344))"
    )
    assert lines[1].startswith("external:partial covers 0/14 of set14 (missing baboon.png, barbara.png")
    assert lines[1].endswith("... (6 more))")
    assert lines[2] == f"external:partial: extra files in {folder}: set5/notes.txt"

    bird = next(im for im in set5 if im.name == "bird.png")
    with pytest.raises(MissingOutput, match=r"no SR image for set5/bird.png \(expected .*set5/bird.png"):
        method.upscale(bird.lr, dataset="set5", name="bird.png")
    woman = next(im for im in set5 if im.name == "woman.png")
    with pytest.raises(DataError, match=r"woman.png: SR image is 228x340 but the LR image is 57x86, "
                                        r"so the SR image must be 228x344"):
        method.upscale(woman.lr, dataset="set5", name="woman.png")


def test_flat_folder_counts_only_unknown_files_as_extra(tmp_path, set5_bicubic, data_root):
    folder = tmp_path / "flat"
    _write_folder(folder, set5_bicubic)
    zebra = load_dataset("set14", data_root)[-1]
    write_png(folder / zebra.name, zebra.hr)  # a Set14 file is not "extra" when only Set5 is asked for
    write_png(folder / "baby_x4.png", set5_bicubic["baby.png"])
    report = check_coverage(f"external:flat={folder}", ["set5"])
    assert report.datasets["set5"].complete
    assert report.extra == ("baby_x4.png",)


def test_unreadable_file_is_reported(tmp_path, set5_bicubic):
    folder = tmp_path / "broken"
    _write_folder(folder / "set5", set5_bicubic)
    (folder / "set5" / "head.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    report = check_coverage(f"external:broken={folder}", ["set5"])
    assert report.datasets["set5"].unreadable == ("head.png",)
    assert "unreadable head.png" in report.lines()[0]


def test_availability_and_name_validation(tmp_path):
    missing = get_method(f"external:ghost={tmp_path / 'nope'}")
    assert missing.availability() == f"external:ghost: folder {tmp_path / 'nope'} does not exist"
    a_file = tmp_path / "file.png"
    a_file.write_bytes(b"")
    assert "is not a folder" in external_method(f"external:f={a_file}").availability()
    with pytest.raises(DataError, match="does not exist"):
        missing.check_coverage(["set5"])

    assert parse_external("external:SelfExSR_v1.0=~/sr") [0] == "SelfExSR_v1.0"
    for bad, message in [
        ("external:no dir", "write external:NAME=DIR"),
        ("external:=/tmp", "write external:NAME=DIR"),
        ("external:x=", "write external:NAME=DIR"),
        ("external:a/b=/tmp", "may only contain letters"),
        ("external:my sr=/tmp", "may only contain letters"),
        ("external:bicubic=/tmp", "built-in method's name"),
        ("external:NN=/tmp", "built-in method's name"),
    ]:
        with pytest.raises(SrbenchError, match=message):
            get_method(bad)


def test_two_folders_for_one_set_is_an_error(tmp_path):
    (tmp_path / "set5").mkdir()
    (tmp_path / "Set5").mkdir()
    with pytest.raises(DataError, match="keep one folder for set5"):
        external_method(f"external:dup={tmp_path}").check_coverage(["set5"])
