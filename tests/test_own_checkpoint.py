"""checkpoint:LABEL=DIR: your own trained checkpoint beside the committed one, in run, report, upscale and mos.

The checkpoints made here are SYNTHETIC (ESPCN with seeded random weights), written to tmp folders; the
committed ESPCN checkpoint (results/checkpoints/espcn) is the real one it is compared with.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from srbench.cli import main
from srbench.errors import SrbenchError
from srbench.data.imageio import read_image, write_png
from srbench.methods.checkpoint import save_checkpoint
from srbench.methods.reference_family import build_espcn
from srbench.paths import CHECKPOINTS_DIR
from srbench.run.registry import get_method
from srbench.report.build import build_report
from srbench.run.runner import run_benchmark

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def synthetic_checkpoint(folder, seed: int, method: str = "espcn", **extra) -> str:
    """A SYNTHETIC ESPCN checkpoint (seeded random weights) in ``folder``; returns its model path."""
    torch.manual_seed(seed)
    model = build_espcn()
    sidecar = {"method": method, "iterations": 10 * seed, "patches_seen": 160 * seed, "complete": False,
               "hyper": {"batch": 16, "patch": 96}, "note": "SYNTHETIC test checkpoint", **extra}
    return str(save_checkpoint(folder, model.state_dict(), sidecar))


@pytest.fixture(scope="module")
def two_checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("own")
    synthetic_checkpoint(root / "a", 1)
    synthetic_checkpoint(root / "b", 2)
    return root / "a", root / "b"


@pytest.fixture(scope="module")
def own_run(tmp_path_factory, data_root, two_checkpoints):
    a, b = two_checkpoints
    out = tmp_path_factory.mktemp("run") / "synthetic-own"
    copy = f"checkpoint:copy={CHECKPOINTS_DIR / 'espcn'}"  # the committed weights again: ties with espcn
    run_benchmark(["espcn", f"checkpoint:Mine-A={a}", f"checkpoint:mine-b={b}", copy], ["set5"], data_root=data_root,
                  out_dir=out, protocols=["paper"], progress=False, jobs=1, method_settings={"device": "cpu"})
    return out


def test_rows_carry_label_and_checkpoint_sha(own_run, two_checkpoints):
    rows = pd.read_csv(own_run / "per_image.csv")
    assert sorted(set(rows.method)) == ["checkpoint:Mine-A", "checkpoint:copy", "checkpoint:mine-b", "espcn"]
    record = json.loads((own_run / "run.json").read_text())["methods"]
    import hashlib

    for name, folder in zip(("checkpoint:Mine-A", "checkpoint:mine-b"), two_checkpoints):
        ck = record[name]["checkpoint"]
        assert ck["checkpoint_sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
        assert ck["label"] == name.split(":")[1] and ck["architecture_method"] == "espcn"
    assert record["espcn"]["checkpoint"]["checkpoint_sha256"] == hashlib.sha256(
        (CHECKPOINTS_DIR / "espcn" / "model.safetensors").read_bytes()).hexdigest()
    # different weights, different numbers: the rows really come from the checkpoints given
    means = rows.groupby("method").psnr.mean()
    assert len({round(v, 6) for v in means}) == 3 and means["checkpoint:copy"] == means["espcn"]


def test_report_shows_extra_rows_under_the_paper_row(own_run, tmp_path):
    build_report([own_run], [], tmp_path, data_root=tmp_path / "no-images")
    table = pd.read_csv(tmp_path / "table2.csv")
    set5 = table[(table.dataset == "set5") & (table.metric == "psnr")]
    labels = list(set5.label)
    i = labels.index("ESPCN")
    assert labels[i + 1:i + 4] == ["ESPCN (copy)", "ESPCN (mine-a)", "ESPCN (mine-b)"]
    own = set5[set5.label.str.startswith("ESPCN (")]
    assert own.ours.notna().all() and (own.bold == 0).all()  # never bold, even where best (copy = ESPCN)
    assert set5[set5.label == "ESPCN"].bold.item() == 1
    md = (tmp_path / "table2.md").read_text()
    assert "checkpoint:LABEL=DIR" in md  # the caption explains the rows
    footnotes = [line for line in md.splitlines() if line.startswith("[^t2-") and "mine-a (checkpoint:mine-a" in line]
    assert footnotes and "sha256" in footnotes[0] and "under-trained" in footnotes[0]
    sig = pd.read_csv(tmp_path / "significance.csv")
    pairs = {(a, b) for a, b in zip(sig.method_a, sig.method_b) if "mine-a" in a + b}
    assert {("checkpoint:mine-a", "checkpoint:mine-b"), ("checkpoint:mine-a", "espcn")} <= pairs


def test_committed_espcn_and_own_checkpoint_do_not_conflict(own_run, tmp_path):
    """'my ESPCN vs the committed ESPCN' in one table: the committed run (which holds espcn) and this one."""
    from srbench.paths import RESULTS_DIR

    committed = RESULTS_DIR / "metrics" / "reference"
    build_report([committed, own_run], [], tmp_path, data_root=tmp_path / "no-images")
    rows = pd.read_csv(tmp_path / "table2.csv")
    set14 = rows[(rows.dataset == "set14") & (rows.metric == "psnr")].set_index("label")
    assert not np.isnan(set14.loc["ESPCN", "ours"]) and np.isnan(set14.loc["ESPCN (mine-a)", "ours"])


def test_upscale_with_own_checkpoint(tmp_path, two_checkpoints):
    a, _ = two_checkpoints
    rng = np.random.default_rng(0)
    write_png(tmp_path / "in.png", rng.integers(0, 256, (20, 24, 3), dtype=np.uint8))
    assert main(["upscale", str(tmp_path / "in.png"), "--method", f"checkpoint:mine={a}", "--out",
                 str(tmp_path / "x4"), "--device", "cpu", "--no-progress"]) == 0
    sr, _ = read_image(tmp_path / "x4" / "in.png")
    lr, _ = read_image(tmp_path / "in.png")
    expected = get_method(f"checkpoint:mine={a}", device="cpu").upscale(lr)
    np.testing.assert_array_equal(sr, expected)
    record = json.loads((tmp_path / "x4" / "srbench-upscale.json").read_text())
    assert record["method"]["name"] == "checkpoint:mine" and record["checkpoint"]["method"] == "espcn"


def test_mos_create_accepts_own_checkpoint(tmp_path, data_root, two_checkpoints):
    from srbench.mos_app.create import rating_items

    a, _ = two_checkpoints
    items = rating_items([f"checkpoint:mine={a}"], ["set5"], data_root, {"device": "cpu"})
    assert {item.method for item in items} == {"hr", "checkpoint:mine"} and len(items) == 10


# ---------------------------------------------------------------- bad inputs: one line, nothing written
def _fails(capsys, tmp_path, spec: str, *more: str) -> str:
    out = tmp_path / "out"
    code = main(["run", "--methods", spec, *more, "--datasets", "set5", "--protocol", "paper", "--out", str(out),
                 "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not out.exists()
    return err


def test_folder_without_model(capsys, tmp_path):
    (tmp_path / "empty").mkdir()
    assert "no model.safetensors" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'empty'}")
    assert "is not a folder" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'nowhere'}")


def test_sidecar_of_another_method(capsys, tmp_path):
    synthetic_checkpoint(tmp_path / "bic", 1, method="bicubic")
    assert "names method 'bicubic', which is not a network" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'bic'}")
    synthetic_checkpoint(tmp_path / "srcnn", 1, method="srcnn")  # ESPCN weights, a sidecar saying SRCNN
    assert "does not fit the srcnn network" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'srcnn'}")
    synthetic_checkpoint(tmp_path / "mixed", 1)
    (tmp_path / "mixed" / "model.json").write_text(json.dumps({"method": "srcnn"}))
    assert "mixes two checkpoints" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'mixed'}")


def test_label_clashing_with_builtin(capsys, tmp_path, two_checkpoints):
    a, _ = two_checkpoints
    assert "built-in method's name" in _fails(capsys, tmp_path, f"checkpoint:ESPCN={a}")
    assert "built-in method's name" in _fails(capsys, tmp_path, f"checkpoint:nn={a}")  # an alias
    assert "built-in method's name" in _fails(capsys, tmp_path, f"checkpoint:hr={a}")
    assert "write checkpoint:LABEL=DIR" in _fails(capsys, tmp_path, "checkpoint:mine")


def test_two_specs_with_one_label(capsys, tmp_path, two_checkpoints):
    a, b = two_checkpoints
    assert "own LABEL" in _fails(capsys, tmp_path, f"checkpoint:mine={a},checkpoint:MINE={b}")


def test_corrupt_safetensors(capsys, tmp_path):
    path = synthetic_checkpoint(tmp_path / "cut", 1)
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-100])
    assert "unusable checkpoint" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'cut'}")
    open(path, "wb").write(b"not a safetensors file at all")
    assert "unusable checkpoint" in _fails(capsys, tmp_path, f"checkpoint:x={tmp_path / 'cut'}")


def test_bad_spec_is_an_srbench_error_in_the_api(two_checkpoints):
    with pytest.raises(SrbenchError, match="only contain"):
        get_method(f"checkpoint:a b={two_checkpoints[0]}")
