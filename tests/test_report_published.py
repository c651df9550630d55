"""The report's rows for the authors' images, the training-length footnotes and Figure 2/6 (zoomed crops).

Checked on the committed report (results/report/, rebuilt by 'srbench report' from
results/metrics/*) and, for the figure's rules, on small real runs in tmp folders.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from srbench import report
from srbench.paper_values import load_paper_values
from srbench.report import crops
from srbench.report.training import training_note

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = ROOT / "results" / "report"
METRICS = ROOT / "results" / "metrics"


def table(number: int) -> pd.DataFrame:
    return pd.read_csv(COMMITTED / f"table{number}.csv", keep_default_na=False, dtype=str)


def cell(df: pd.DataFrame, dataset: str, label: str, metric: str) -> pd.Series:
    hit = df[(df.dataset == dataset) & (df.label == label) & (df.metric == metric)]
    assert len(hit) == 1, (dataset, label, metric)
    return hit.iloc[0]


# ------------------------------------------------------------------ the authors' rows


@pytest.mark.parametrize("number,label,paper_row", [
    (1, "SRResNet-MSE (authors' images)", "SRResNet-MSE"), (1, "SRGAN-VGG54 (authors' images)", "SRGAN-VGG54"),
    (2, "SRResNet (authors' images)", "SRResNet"), (2, "SRGAN (authors' images)", "SRGAN")])
def test_authors_rows_are_filled_for_set5_set14_and_never_bold(number, label, paper_row):
    df, paper = table(number), load_paper_values()
    for dataset in ("set5", "set14"):
        for metric, digits in (("psnr", 2), ("ssim", 4)):
            c = cell(df, dataset, label, metric)
            assert c.method == f"published:{'srresnet-mse' if 'SRResNet' in label else 'srgan-vgg54'}"
            assert round(float(c.ours), digits) == paper[(number, dataset, paper_row)][metric]
            assert c.bold == "0" and c.star == "0"
            assert "the SRGAN authors' released images (release ledig2017" in c.row_note
    # our own row of the same paper row stays separate: other numbers, its own footnote
    ours = df[(df.label == paper_row) & (df.dataset == "set5") & (df.metric == "psnr")].iloc[0]
    if ours.ours:
        assert ours.method != cell(df, "set5", label, "psnr").method and "checkpoint" in ours.row_note


def test_bsd100_of_the_authors_rows_is_a_dash_with_the_reason():
    df = table(2)
    for label in ("SRResNet (authors' images)", "SRGAN (authors' images)"):
        c = cell(df, "bsd100", label, "psnr")
        assert c.ours == "" and c.note.startswith("not released: the authors' BSD100 outputs are not available")


def test_best_marks_ignore_the_authors_rows():
    """On Set5 the authors' SRResNet (32.05) beats ours (31.53); bold still goes to our best row."""
    df = table(2)
    bold = df[(df.dataset == "set5") & (df.metric == "psnr") & (df.bold == "1")]
    assert list(bold.label) == ["SRResNet"]
    assert float(cell(df, "set5", "SRResNet (authors' images)", "psnr").ours) > float(bold.iloc[0].ours)


# ------------------------------------------------------------------ training footnotes


def test_every_checkpoint_row_says_how_far_it_was_trained():
    """Each row measured from a committed checkpoint carries its sidecar's counts against the recipe."""
    for number in (1, 2):
        df = table(number)
        measured = df[(df.metric == "psnr") & (df.ours != "") & ~df.method.isin(["nearest", "bicubic", "hr"])
                      & ~df.method.str.startswith("published:")]
        assert len(measured), "no checkpoint-backed row"
        for row in measured.itertuples():
            sidecar = json.loads((ROOT / "results" / "checkpoints" / row.method / "model.json").read_text())
            assert f"trained {sidecar['iterations']:,} iterations" in row.row_note
            assert f"{sidecar['patches_seen']:,} patches" in row.row_note
            assert "not a finished reproduction" in row.row_note  # every committed checkpoint is incomplete
    srresnet = cell(table(2), "set5", "SRResNet", "psnr").row_note
    assert "10^6 iterations at batch 16 = 1.6x10^7 96x96 HR crops" in srresnet and "2.4% of its iterations" in srresnet
    assert "1.5x10^7 iterations at batch 128" in cell(table(2), "set5", "SRCNN", "psnr").row_note
    assert "gives no iteration count" in cell(table(2), "set5", "ESPCN", "psnr").row_note
    md = (COMMITTED / "table2.md").read_text()
    assert "| Set5 | SRResNet [^t2-" in md and "Marked incomplete in its sidecar" in md


def test_training_note_rules():
    full = {"iterations": 1_000_000, "patches_seen": 16_000_000, "hyper": {"batch": 16, "patch": 96},
            "complete": True}
    assert training_note("srresnet-mse", full).endswith("Trained to at least the original recipe's length")
    short = dict(full, iterations=1000, patches_seen=16_000)
    assert "0.1% of its iterations" in training_note("srresnet-mse", short)
    assert training_note("srresnet-mse", short).endswith("an under-trained checkpoint, not a finished reproduction")
    assert "Marked incomplete" in training_note("srresnet-mse", dict(full, complete=False))
    assert "does not say whether training finished" in training_note("srresnet-mse", {k: v for k, v in full.items()
                                                                                         if k != "complete"})
    for sidecar in ({"complete": True}, {"iterations": 10}, None):
        assert "unknown training length" in training_note("srgan-mse", sidecar)
    assert "2x10^5 iterations at batch 16" in training_note("srgan-vgg54", full)
    assert "not known to srbench" in training_note("my-plugin-net", full)


# ------------------------------------------------------------------ Figure 2/6


def test_committed_figure_data():
    """Crop boxes lie inside the images on whole LR pixels; every value is the committed per-image row."""
    from srbench.data.sets import load_manifest

    fig = pd.read_csv(COMMITTED / "figure2.csv", keep_default_na=False, dtype=str)
    rows = pd.concat([pd.read_csv(p) for p in sorted(METRICS.glob("*/per_image.csv"))])
    rows = rows[rows.protocol == "paper"].set_index(["dataset", "image", "method"])
    assert [(c.dataset, c.image) for c in crops.DEFAULT_CROPS] == list(
        dict.fromkeys(zip(fig.dataset, fig.image)))
    for r in fig.itertuples():
        size = next(e["hr"] for e in load_manifest(r.dataset)["images"] if e["name"] == r.image)
        x, y, w, h = int(r.x), int(r.y), int(r.width), int(r.height)
        assert x % 4 == y % 4 == w % 4 == 0 and x + w <= size["width"] and y + h <= size["height"]
        if r.method == "hr":
            assert r.psnr == r.ssim == "" and r.label == "original HR"
            continue
        expected = rows.loc[(r.dataset, r.image, r.method)]
        assert abs(float(r.psnr) - expected.psnr) < 5e-7 and abs(float(r.ssim) - expected.ssim) < 5e-7
    panels = fig[fig.image == "comic.png"]
    assert list(panels.method) == ["bicubic", "srresnet-mse", "published:srresnet-mse", "published:srgan-vgg54",
                                   "hr"]
    assert list(panels.label)[1:4] == ["SRResNet-MSE (ours)", "SRResNet-MSE (authors' images)",
                                       "SRGAN-VGG54 (authors' images)"]
    assert (COMMITTED / "figure2.png").stat().st_size < 1_000_000 and (COMMITTED / "figure2.pdf").is_file()
    md = (COMMITTED / "report.md").read_text()
    assert "![zoomed crops per method](figure2.png)" in md
    assert "- SRGAN-MSE (ours): no per-image results in the given runs" in md


def test_panel_titles_use_the_papers_brackets():
    panel = crops.Panel("published:srgan-vgg54", "SRGAN-VGG54 (authors' images)", "", 21.154772, 0.686849)
    assert crops.panel_title(panel) == "SRGAN-VGG54\n(authors' images)\n(21.15dB/0.6868)"


def test_a_new_checkpoint_joins_the_figure_by_itself(tmp_path, data_root, published_root):
    """SYNTHETIC srgan-mse checkpoint (the committed SRResNet's weights saved under that name): once a run has
    its rows, the figure shows it as 'SRGAN-MSE (ours)' with no change to the figure code; a checkpoint that is
    not the one the run measured is left out with the reason."""
    from safetensors.torch import load_file

    from srbench.methods.checkpoint import save_checkpoint
    from srbench.run.runner import run_benchmark

    ckpt_root = tmp_path / "checkpoints"
    weights = load_file(str(ROOT / "results" / "checkpoints" / "srresnet-mse" / "model.safetensors"))
    save_checkpoint(ckpt_root / "srgan-mse", weights, {"method": "srgan-mse", "iterations": 1, "patches_seen": 16,
                                                       "complete": False, "note": "SYNTHETIC relabelled weights"})
    run = tmp_path / "synthetic-run"
    run_benchmark(["srgan-mse"], ["set5"], data_root=data_root, out_dir=run, protocols=["paper"], progress=False,
                  method_settings={"checkpoint_root": ckpt_root, "device": "cpu"})
    head = (crops.Crop("set5", "head.png", 120, 124),)
    per_image = pd.read_csv(run / "per_image.csv")
    sidecar = json.loads((run / "run.json").read_text())["methods"]["srgan-mse"]["checkpoint"]
    settings = {"checkpoint_root": ckpt_root, "device": "cpu", "published_root": published_root}
    fig = crops.collect(per_image, "paper", data_root, checkpoints={"srgan-mse": sidecar}, settings=settings,
                        crops=head)
    assert [p.label for p in fig.crops[0][2]] == ["SRGAN-MSE (ours)", "original HR"]
    assert "SRResNet-MSE (ours): no per-image results in the given runs" in fig.omitted

    wrong = dict(sidecar, checkpoint_sha256="0" * 64)
    fig = crops.collect(per_image, "paper", data_root, checkpoints={"srgan-mse": wrong}, settings=settings,
                        crops=head)
    assert fig.crops == [] and any("is not the checkpoint the run measured" in line for line in fig.omitted)


def test_a_panel_that_does_not_reproduce_its_row_is_left_out(tmp_path, data_root):
    """SYNTHETIC per-image rows (the report fixtures) are not what the images measure: no panel is drawn."""
    rows = pd.DataFrame([{"dataset": "set5", "image": "head.png", "method": "bicubic", "protocol": "paper",
                          "psnr": 30.0, "ssim": 0.7}])
    fig = crops.collect(rows, "paper", data_root, checkpoints={}, settings={})
    assert fig.crops == []
    assert any(line.startswith("bicubic on set5/head.png: the image regenerated here measures 31.7920 dB")
               for line in fig.omitted)
    out = tmp_path / "report"
    report.build_report([ROOT / "tests" / "fixtures" / "report" / "synthetic-classic"], [], out, data_root=data_root)
    assert not (out / "figure2.png").exists() and "Not drawn: no method's image could be shown." in (
        out / "report.md").read_text()
