"""MOS study creation (real set5 + bsd200 through the CLI), verification and per-rater order."""

from __future__ import annotations

import json
import random
import sqlite3
import shutil
import subprocess
import sys

import numpy as np
import pytest

from srbench.methods import get_method
from srbench.mos_app.create import ImageSpec, create_study, write_study
from srbench.mos_app.order import min_gap, photo_gap, presentations, rater_rng, rating_order, repeat_gap
from srbench.mos_app.study import StudyError, StudySettings, check_rater_id, load_study
from srbench.cli import main
from srbench.data.sets import load_dataset
from srbench.data.imageio import read_image
from srbench.data.resize import imresize


def synthetic_study(root, *, n_images=6, methods=("hr", "nearest"), repeats=3, seed=7, calibration=1,
                    size=(8, 12)):
    """A tiny study of random-noise images (synthetic, for order and bad-input tests)."""
    rng = np.random.default_rng(0)
    items = [ImageSpec("set5", f"img{k}.png", m, rng.integers(0, 256, (*size, 3), dtype=np.uint8))
             for k in range(n_images) for m in methods]
    calib = [(ImageSpec("bsd200", f"c{k}.jpg", "nearest", rng.integers(0, 256, (*size, 3), dtype=np.uint8)),
              ImageSpec("bsd200", f"c{k}.jpg", "hr", rng.integers(0, 256, (*size, 3), dtype=np.uint8)))
             for k in range(calibration)]
    return write_study(root, name="synthetic", seed=seed, items=items, calibration=calib, repeats=repeats)


@pytest.fixture(scope="module")
def set5_studies(tmp_path_factory, data_root, train_root):
    """The same set5 study created twice with one seed, through ``srbench mos create``."""
    base = tmp_path_factory.mktemp("mos")
    outs = []
    for k in range(2):
        out = base / f"study{k}"
        rc = main(["mos", "create", "--name", "set5demo", "--methods", "nearest,bicubic", "--datasets", "set5",
                   "--calibration", "2", "--repeats", "3", "--seed", "11", "--data-root", str(data_root),
                   "--train-data", str(train_root), "--out", str(out)])
        assert rc == 0
        outs.append(out)
    return outs


def test_create_is_reproducible_and_complete(set5_studies, data_root):
    a, b = set5_studies
    assert (a / "manifest.json").read_bytes() == (b / "manifest.json").read_bytes()
    study = load_study(a)
    assert study.name == "set5demo" and study.seed == 11
    assert len(study.items) == 5 * 3  # hr, nearest, bicubic for each set5 image
    assert sorted({s.method for s in study.items}) == ["bicubic", "hr", "nearest"]
    assert len(study.repeats) == 3 and set(study.repeats) <= {s.item for s in study.items}
    images = {img.name: img for img in load_dataset("set5", data_root)}
    bicubic = get_method("bicubic")
    for stim in study.items:
        pixels, _ = read_image(a / stim.path)
        src = images[stim.image]
        if stim.method == "hr":
            expected = src.hr
        elif stim.method == "bicubic":
            expected = bicubic.upscale(src.lr, dataset="set5", name=stim.image)
        else:
            expected = imresize(src.lr, 4, kernel="nearest")
        np.testing.assert_array_equal(pixels, expected, err_msg=stim.item)
        assert (stim.width, stim.height) == (pixels.shape[1], pixels.shape[0])
    assert not [p for p in a.parent.iterdir() if p.name.startswith(".tmp-")]


def test_calibration_anchors_are_first_bsd200_images(set5_studies, train_root):
    study = load_study(set5_studies[0])
    first_two = sorted(p.name for p in (train_root / "bsd200").iterdir())[:2]
    assert [s.image for s in study.calibration] == [first_two[0]] * 2 + [first_two[1]] * 2
    assert [(s.method, s.anchor) for s in study.calibration] == [("nearest", 1), ("hr", 5)] * 2
    for low, high in zip(study.calibration[::2], study.calibration[1::2]):
        hr, _ = read_image(study.root / high.path)
        assert hr.shape[0] % 4 == 0 and hr.shape[1] % 4 == 0
        original, _ = read_image(train_root / "bsd200" / high.image)
        np.testing.assert_array_equal(hr, original[: hr.shape[0], : hr.shape[1]])
        nn, _ = read_image(study.root / low.path)
        np.testing.assert_array_equal(nn, imresize(imresize(hr, 0.25, kernel="bicubic"), 4, kernel="nearest"))


def test_create_refuses_unavailable_method(tmp_path, data_root, train_root, capsys):
    out = tmp_path / "study"
    rc = main(["mos", "create", "--name", "x", "--methods", f"bicubic,external:ghost={tmp_path / 'nowhere'}",
               "--datasets", "set5", "--calibration", "0", "--data-root", str(data_root), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unavailable" in err and "external:ghost" in err and "Traceback" not in err
    assert not out.exists()


def test_create_refuses_existing_out_bad_name_and_too_many_repeats(tmp_path):
    spec = ImageSpec("set5", "a.png", "hr", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(StudyError, match="invalid study name"):
        write_study(tmp_path / "s", name="../evil", seed=0, items=[spec], calibration=[])
    with pytest.raises(StudyError, match="--repeats 2"):
        write_study(tmp_path / "s", name="ok", seed=0, items=[spec], calibration=[], repeats=2)
    (tmp_path / "taken").mkdir()
    with pytest.raises(StudyError, match="already exists"):
        write_study(tmp_path / "taken", name="ok", seed=0, items=[spec], calibration=[])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no temp folders left behind


def test_create_refuses_an_unwritable_out_before_any_work(tmp_path, unwritable_dir, data_root, capsys):
    """With a data root that does not exist, the --out problem must be found before any set is read."""
    out = unwritable_dir / "srbench-study" / "pilot"
    with pytest.raises(StudyError, match=f"cannot create {out}: {unwritable_dir} is not writable"):
        create_study(out, name="x", methods=["nearest"], datasets=["set5"], data_root=tmp_path / "no-data",
                     calibration=0)
    rc = main(["mos", "create", "--name", "x", "--methods", "nearest", "--datasets", "set5", "--calibration", "0",
               "--data-root", str(data_root), "--out", str(out)])
    captured = capsys.readouterr()
    line = captured.err.strip()
    assert rc == 2 and "\n" not in line, line
    assert line.startswith(f"srbench mos: error: cannot create {out}: {unwritable_dir} is not writable ("), line
    assert "set5" not in captured.err  # no progress bar: no image was read


def test_create_checks_sets_raters_and_calibration_before_any_image_work(tmp_path):
    # The data root does not exist: each of these mistakes must be reported before any set is read.
    train = tmp_path / "train"
    (train / "bsd200").mkdir(parents=True)
    for k in range(2):
        (train / "bsd200" / f"{k}.png").write_bytes(b"")
    kw = dict(name="x", methods=["nearest"], data_root=tmp_path / "no-data", train_root=train, calibration=0)
    cases = [
        (dict(datasets=[]), "--datasets is empty"),
        (dict(datasets=["set5", "Set5"]), "--datasets lists a set twice"),
        (dict(datasets=["set5"], raters=["ok", "b c"]), "invalid rater id"),
        (dict(datasets=["set5"], calibration=5, gold_rate=0), "--calibration 5 exceeds the 2 images"),
        (dict(datasets=["set5"], calibration=1, gold_rate=0.5),
         r"--calibration 1 plus \d+ gold item\(s\) \(--gold-rate\) need \d+ images, .*bsd200 has 2"),
    ]
    for extra, message in cases:
        with pytest.raises(StudyError, match=message):
            create_study(tmp_path / "study", **{**kw, **extra})
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(StudyError, match="a_file is a file, not a folder"):
        create_study(tmp_path / "a_file" / "sub" / "study", **{**kw, "datasets": ["set5"]})
    with pytest.raises(StudyError, match="a_file is a file, not a folder"):
        write_study(tmp_path / "a_file" / "study", name="x", seed=0, items=[], calibration=[])
    (tmp_path / "a_file").unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train"]


def run_serve(study) -> subprocess.CompletedProcess:
    """``srbench mos serve`` in a subprocess (a working serve replaces its process by Streamlit)."""
    return subprocess.run([sys.executable, "-m", "srbench", "mos", "serve", "--study", str(study), "--port", "1"],
                          capture_output=True, text=True, timeout=120)


def test_missing_study_folder_and_manifest(tmp_path):
    with pytest.raises(StudyError, match="does not exist"):
        load_study(tmp_path / "nope")
    with pytest.raises(StudyError, match="manifest.json is missing"):
        load_study(tmp_path)
    serve = run_serve(tmp_path / "nope")
    assert serve.returncode == 2 and "does not exist" in serve.stderr and "Traceback" not in serve.stderr


def test_serve_refuses_bad_address_busy_port_db_folder_and_file_as_study(tmp_path, monkeypatch, capsys):
    import socket

    import srbench.cli.mos

    def no_exec(*args):  # a check that lets a bad setting through would start a server: fail instead
        raise AssertionError("serve got as far as starting the server")

    monkeypatch.setattr(srbench.cli.mos.os, "execve", no_exec)
    root = synthetic_study(tmp_path / "s")
    capsys.readouterr()  # progress bars of the study creation
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cases = [
            (["--study", str(root), "--address", "not an address", "--port", "8501"], "is not a usable address"),
            (["--study", str(root), "--address", "127.0.0.1", "--port", str(port)], f"cannot listen on 127.0.0.1:{port}"),
            (["--study", str(root), "--db", str(tmp_path), "--port", "8501"], "is a folder"),
            (["--study", str(root / "manifest.json"), "--port", "8501"], "is a file; give the study folder"),
        ]
        for flags, message in cases:
            assert main(["mos", "serve", *flags]) == 2
            err = capsys.readouterr().err
            assert message in err and err.startswith("srbench mos: error:"), err


def test_altered_or_deleted_image_is_detected(tmp_path):
    root = synthetic_study(tmp_path / "s")
    study = load_study(root)
    victim = study.items[0]
    shutil.copy(root / victim.path, tmp_path / "backup.png")
    data = bytearray((root / victim.path).read_bytes())
    data[-20] ^= 0xFF
    (root / victim.path).write_bytes(bytes(data))
    with pytest.raises(StudyError, match="altered"):
        load_study(root)
    with pytest.raises(StudyError, match="altered"):
        study.read_verified(victim)
    serve = run_serve(root)  # refused before any server starts
    assert serve.returncode == 2 and "altered" in serve.stderr
    (root / victim.path).unlink()
    with pytest.raises(StudyError, match="missing"):
        load_study(root)
    with pytest.raises(StudyError, match="missing"):
        study.read_verified(victim)
    shutil.copy(tmp_path / "backup.png", root / victim.path)
    assert load_study(root).name == "synthetic"


def test_rater_id_validation(tmp_path):
    for good in ["r1", "a_b-9", "x" * 32]:
        assert check_rater_id(good) == good
    assert check_rater_id("A_b-9") == "a_b-9" and check_rater_id("ALICE") == "alice"  # case-insensitive
    for bad in ["", "x" * 33, "a/b", "a b", "<script>", "r1\n"]:
        with pytest.raises(StudyError, match="invalid rater id"):
            check_rater_id(bad)
    spec = ImageSpec("set5", "a.png", "hr", np.zeros((4, 4, 3), np.uint8))
    study = load_study(write_study(tmp_path / "s", name="s", seed=0, items=[spec], calibration=[], raters=["r1"]))
    assert check_rater_id("r1", study) == "r1"
    with pytest.raises(StudyError, match="not on this study's list"):
        check_rater_id("r2", study)


def test_order_is_reproducible_per_rater_with_spread_out_repeats(tmp_path):
    study = load_study(synthetic_study(tmp_path / "s", n_images=10, repeats=5, calibration=2))
    seq = presentations(study, "alice")
    assert [p.index for p in seq] == list(range(len(seq)))
    assert [p.phase for p in seq[:4]] == ["calibration"] * 4
    assert [p.stimulus.anchor for p in seq[:4]] == [1, 5, 1, 5]
    rating = [p for p in seq if p.phase == "rating"]
    assert len(rating) == 20 + 5
    shown = [p.stimulus.item for p in rating]
    assert sorted(set(shown)) == sorted(s.item for s in study.items)
    gap = repeat_gap(20, 10)
    assert gap == max(min_gap(20), photo_gap(10)) == 5
    for item in study.repeats:
        where = [k for k, p in enumerate(rating) if p.stimulus.item == item]
        assert len(where) == 2 and where[1] - where[0] >= gap >= 2
        assert [rating[k].repeat for k in where] == [0, 1]
    last: dict = {}
    for k, p in enumerate(rating):  # versions of one photo (two methods, or a repeat) at least 5 apart
        photo = (p.stimulus.dataset, p.stimulus.image)
        assert k - last.get(photo, -99) >= photo_gap(10) == 5, (k, photo)
        last[photo] = k
    assert all(p.repeat == 0 for p in rating if p.stimulus.item not in study.repeats)
    assert presentations(study, "alice") == seq
    assert [p.stimulus.item for p in presentations(study, "bob")] != [p.stimulus.item for p in seq]


def _distances(order, photo):
    last, out = {}, []
    for k, item in enumerate(order):
        if photo[item] in last:
            out.append(k - last[photo[item]])
        last[photo[item]] = k
    return out


@pytest.mark.parametrize("photos,versions,repeats", [(119, 12, 100), (100, 5, 20), (12, 2, 2), (14, 12, 10),
                                                     (6, 2, 3), (5, 3, 3), (3, 2, 1), (2, 2, 1), (1, 3, 0)])
def test_orders_keep_versions_of_one_photo_apart_for_many_study_shapes(photos, versions, repeats):
    """The chosen gap (8, or max(2, photos // 2) for small studies) holds for every rater, and is the gap
    a plain shuffle would break (checked on the paper-scale shape)."""
    items = [f"p{p:03d}/m{m:02d}" for p in range(photos) for m in range(versions)]
    photo = {i: i.split("/")[0] for i in items}
    reps = sorted(random.Random(1).sample(items, repeats))
    gap, rgap = photo_gap(photos), repeat_gap(len(items), photos)
    assert gap == (1 if photos == 1 else min(8, max(2, photos // 2)))
    for rater in ("a", "b", "c"):
        order = rating_order(items, reps, rater_rng(3, rater), photo)
        assert order == rating_order(items, reps, rater_rng(3, rater), photo)  # seeded, reproducible
        names = [i for i, _ in order]
        assert sorted(names) == sorted(items + reps)
        assert min(_distances(names, photo), default=gap) >= gap
        for item in reps:
            where = [k for k, n in enumerate(names) if n == item]
            assert where[1] - where[0] >= min(rgap, len(names) - 1) or photos < 4
    if photos == 119:  # what the gap prevents: a plain shuffle puts versions of a photo close together
        shuffled = list(items)
        random.Random(0).shuffle(shuffled)
        assert min(_distances(shuffled, photo)) < gap


def test_study_settings_are_recorded_and_checked(tmp_path, capsys):
    spec = ImageSpec("set5", "a.png", "hr", np.zeros((4, 4, 3), np.uint8))
    root = write_study(tmp_path / "s", name="s", seed=0, items=[spec], calibration=[],
                       run=StudySettings(3500, 40, 12.5), raters=["Alice", "bob"])
    settings = json.loads((root / "manifest.json").read_text())["settings"]
    assert (settings["min_view_ms"], settings["session_items"], settings["session_minutes"]) == (3500, 40, 12.5)
    assert settings["raters"] == ["alice", "bob"]
    study = load_study(root)
    assert study.run == StudySettings(3500, 40, 12.5)
    assert check_rater_id("ALICE", study) == "alice"
    default = load_study(write_study(tmp_path / "d", name="d", seed=0, items=[spec], calibration=[]))
    assert default.run == StudySettings(2000, 200, 20.0)
    for bad, message in ((StudySettings(100, 40, 12.5), "minimum viewing time"),
                         (StudySettings(2000, 0, 12.5), "images per session"),
                         (StudySettings(2000, 40, 0.0), "minutes per session")):
        with pytest.raises(StudyError, match=message):
            write_study(tmp_path / "bad", name="b", seed=0, items=[spec], calibration=[], run=bad)
    with pytest.raises(StudyError, match="lists an id twice"):
        write_study(tmp_path / "bad", name="b", seed=0, items=[spec], calibration=[], raters=["Al", "al"])
    assert main(["mos", "create", "--name", "x", "--methods", "nearest", "--datasets", "set5", "--min-view-s",
                 "nan", "--out", str(tmp_path / "x")]) == 2
    assert "--min-view-s nan is not a number" in capsys.readouterr().err
    assert main(["mos", "create", "--name", "x", "--methods", "nearest", "--datasets", "set5", "--session-items",
                 "0", "--out", str(tmp_path / "x")]) == 2
    assert "images per session must be" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists() and not (tmp_path / "x").exists()


def test_format1_study_is_refused_with_a_clear_message(tmp_path):
    spec = ImageSpec("set5", "a.png", "hr", np.zeros((4, 4, 3), np.uint8))
    root = write_study(tmp_path / "s", name="s", seed=0, items=[spec], calibration=[])
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["format"] = "srbench-mos-study/1"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(StudyError, match="older srbench.*re-create it"):
        load_study(root)


def test_export_cli(tmp_path, capsys):
    root = synthetic_study(tmp_path / "s")
    assert main(["mos", "export", "--study", str(root), "--out", str(tmp_path / "r.csv")]) == 2
    assert "no answer database" in capsys.readouterr().err
    from srbench.mos_app.store import Answer, Store

    p = presentations(load_study(root), "r1")[0]
    s = p.stimulus
    Store(root / "ratings.sqlite").record(
        Answer("synthetic", "r1", p.index, s.item, s.method, s.dataset, s.image, p.phase, p.repeat, 1, 900))
    assert main(["mos", "export", "--study", str(root), "--out", str(tmp_path / "r.csv")]) == 0
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"synthetic,r1,{s.item},nearest,bsd200,c0.jpg,calibration,0,1,900,")
    assert json.loads((root / "manifest.json").read_text())["settings"]["name"] == "synthetic"


def test_export_cli_bad_database_or_output_is_one_error_line(tmp_path, capsys):
    root = synthetic_study(tmp_path / "s")
    junk = tmp_path / "junk.db"
    junk.write_text("garbage\n")
    assert main(["mos", "export", "--study", str(root), "--db", str(junk), "--out", str(tmp_path / "r.csv")]) == 2
    assert "not a readable SQLite database" in capsys.readouterr().err
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert main(["mos", "export", "--study", str(root), "--db", str(foreign), "--out", str(tmp_path / "r.csv")]) == 2
    assert "no 'answers' table" in capsys.readouterr().err
    with sqlite3.connect(foreign) as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("t",)]
    from srbench.mos_app.store import Store

    Store(root / "ratings.sqlite").close()
    assert main(["mos", "export", "--study", str(root), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert not (tmp_path / "r.csv").exists()
