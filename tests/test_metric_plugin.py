"""A SYNTHETIC no-reference metric from a plugin flows through ``srbench run`` -> CSV -> ``srbench report``.

The plugin (written into tmp_path, never into the project) registers
``brightness``: the mean pixel value / 255, higher "is better". It is
meaningless as a quality measure and serves only to show that a registered
metric needs no change anywhere else: the run measures it (in spawned worker
processes too), the CSV files carry ``brightness,brightness_note``, ``run.json``
its record, and the report's Table 2 its column with the metric's label,
precision and direction (bold = highest).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench.data.sets import load_dataset
from srbench.metrics.registry import NO_REFERENCE_KIND, Metric, get_metric, register_metric

PLUGIN = '''"""SYNTHETIC test metric: mean brightness (0..1). Not a quality measure."""
from srbench.metrics.registry import Metric, register_metric


def compute(sr, state):
    return float(sr.mean()) / 255.0, ""


def record(state):
    return {"definition": "mean of the uint8 RGB values / 255 (SYNTHETIC test metric)"}


register_metric(Metric("brightness", "no-reference", "higher", "Brightness", compute="synthetic_brightness:compute",
                       record="synthetic_brightness:record", decimals=3))
'''


def _srbench(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "srbench", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def plugin_run(tmp_path_factory, data_root):
    tmp = tmp_path_factory.mktemp("metric_plugin")
    (tmp / "plugins").mkdir()
    (tmp / "plugins" / "synthetic_brightness.py").write_text(PLUGIN)
    env = {"PYTHONPATH": os.pathsep.join([str(tmp / "plugins"), os.environ.get("PYTHONPATH", "")]),
           "SRBENCH_PLUGINS": "synthetic_brightness", "SRBENCH_DATA": str(data_root)}
    run = _srbench("run", "--methods", "nearest,bicubic", "--datasets", "set5", "--protocol", "paper",
                   "--metrics", "psnr,ssim,brightness", "--jobs", "2", "--no-progress", "--out", str(tmp / "run"),
                   env=env, cwd=tmp)
    assert run.returncode == 0, run.stderr
    report = _srbench("report", "--runs", str(tmp / "run"), "--out", str(tmp / "report"), env=env, cwd=tmp)
    assert report.returncode == 0, report.stderr
    return tmp, run.stdout


def test_the_run_measures_the_plugin_metric_on_sr_and_hr_images(plugin_run, data_root):
    tmp, stdout = plugin_run
    per = pd.read_csv(tmp / "run" / "per_image.csv", keep_default_na=False)
    assert list(per.columns)[-2:] == ["brightness", "brightness_note"]
    nr = per[per.protocol == ""]
    assert sorted(nr.method.unique()) == ["bicubic", "hr", "nearest"] and len(nr) == 15
    for image in load_dataset("set5", data_root):
        row = nr[(nr.method == "hr") & (nr.image == image.name)].iloc[0]
        assert float(row.brightness) == pytest.approx(image.hr.mean() / 255.0, abs=1e-6)
    assert (per[per.protocol == "paper"].brightness == "").all()
    summary = pd.read_csv(tmp / "run" / "summary.csv", keep_default_na=False)
    hr = summary[(summary.method == "hr")].iloc[0]
    assert float(hr.brightness) == pytest.approx(nr[nr.method == "hr"].brightness.astype(float).mean(), abs=1e-6)
    run_json = (tmp / "run" / "run.json").read_text()
    assert '"brightness": {' in run_json and "SYNTHETIC test metric" in run_json
    assert "Brightness" in stdout and "(Brightness: no-reference, higher = better" in stdout


def test_the_report_shows_the_plugin_metric_in_table_2(plugin_run):
    tmp, _ = plugin_run
    table = (tmp / "report" / "table2.md").read_text()
    assert "| Brightness ↑ (ours) |" in table
    assert "Brightness (ours; the paper has no Brightness" in table and "higher = better" in table
    per = pd.read_csv(tmp / "run" / "per_image.csv", keep_default_na=False)
    nr = per[per.protocol == ""]
    means = {m: nr[nr.method == m].brightness.astype(float).mean() for m in ("nearest", "bicubic")}
    rows = pd.read_csv(tmp / "report" / "table2.csv", keep_default_na=False)
    cells = rows[(rows.metric == "brightness") & (rows.dataset == "set5")]
    for method, mean in means.items():
        cell = cells[cells.method == method].iloc[0]
        assert float(cell.ours) == pytest.approx(mean, abs=1e-6)
    best = max(means, key=lambda m: round(means[m], 3))
    assert cells.set_index("method").loc[best, "bold"] == 1
    assert f"**{means[best]:.3f}**" in table  # the metric's 3 decimals, bold = highest (its direction)


def test_register_metric_refuses_bad_records():
    with pytest.raises(Exception, match="registered already"):
        register_metric(Metric("niqe", NO_REFERENCE_KIND, "higher", "Other", compute="x:y"))
    with pytest.raises(Exception, match="direction"):
        register_metric(Metric("synthetic_x", NO_REFERENCE_KIND, "up", "X", compute="x:y"))
    with pytest.raises(Exception, match="lower-case identifier"):
        register_metric(Metric("Bad Name", NO_REFERENCE_KIND, "lower", "X", compute="x:y"))
    assert get_metric("niqe").kind == NO_REFERENCE_KIND and get_metric("niqe").columns == ("niqe", "niqe_note")
    assert np.isfinite(get_metric("psnr").decimals)
