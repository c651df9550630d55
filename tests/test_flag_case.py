"""'--datasets all' (what the help calls the default) and protocol names in any case, like set and method names."""

from __future__ import annotations

import pandas as pd

from srbench.cli import main
from srbench.data.sets import DATASETS, dataset_names


def test_dataset_names_expand_all():
    assert dataset_names(["ALL"]) == list(DATASETS)
    assert dataset_names(["Set14", "all"]) == ["set14", "set5", "bsd100"]


def test_run_accepts_datasets_all_and_protocol_in_capitals(tmp_path, data_root):
    out = tmp_path / "run"
    assert main(["run", "--methods", "nn", "--datasets", "all", "--protocol", "PAPER", "--data-root",
                 str(data_root), "--out", str(out), "--no-progress"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.dataset) == list(DATASETS) and set(summary.protocol) == {"paper"}
    assert main(["report", "--runs", str(out), "--protocol", "Paper", "--out", str(tmp_path / "report"),
                 "--data-root", str(tmp_path / "no-images")]) == 0
    assert "metric protocol: `paper`" in (tmp_path / "report" / "report.md").read_text()
