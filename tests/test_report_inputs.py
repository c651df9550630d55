"""The report's Inputs section: compact tables (run, code revision, methods, checkpoint SHA-256 prefix,
iterations, patches, device), the whole records in inputs.json beside report.md. Inputs: the SYNTHETIC
fixture runs (tests/fixtures/report) and the committed runs."""

from __future__ import annotations

import json
from pathlib import Path

from srbench.paths import RESULTS_DIR
from srbench.report.build import build_report, default_runs

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "report"
MAX_LINE = 300  # characters: the old section had JSON lines of up to ~5,000


def _inputs_section(report_md: str) -> list[str]:
    text = report_md.split("## Inputs", 1)[1].split("\n## ", 1)[0]
    return text.strip().splitlines()


def test_committed_runs_inputs_are_compact_and_complete(tmp_path):
    runs = default_runs(RESULTS_DIR)
    build_report(runs, [], tmp_path, data_root=tmp_path / "no-images")
    lines = _inputs_section((tmp_path / "report.md").read_text())
    assert max(len(line) for line in lines) <= MAX_LINE, max(lines, key=len)
    assert "| run | method | weights | iterations | patches | trained on | run on |" in lines
    record = json.loads((tmp_path / "inputs.json").read_text())
    assert [r["name"] for r in record["runs"]] == sorted(p.name for p in runs)
    for run in record["runs"]:
        on_disk = json.loads((RESULTS_DIR / "metrics" / run["name"] / "run.json").read_text())
        assert run["run_json"] == on_disk  # the whole record, nothing cut
        for name, method in on_disk["methods"].items():
            ck = method.get("checkpoint")
            if ck:  # its row: checkpoint prefix, iterations, patches, training device
                row = next(line for line in lines if line.startswith(f"| `{run['name']}` | `{name}` |"))
                assert f"checkpoint `{ck['checkpoint_sha256'][:12]}`" in row
                assert f"{ck['iterations']:,}" in row and f"{ck['patches_seen']:,}" in row and ck["device"] in row


def test_inputs_json_is_byte_deterministic(tmp_path):
    runs = sorted(p for p in FIXTURES.iterdir() if p.is_dir())
    build_report(runs, [], tmp_path / "a", data_root=tmp_path / "no-images")
    build_report(list(reversed(runs)), [], tmp_path / "b", data_root=tmp_path / "no-images")
    assert (tmp_path / "a" / "inputs.json").read_bytes() == (tmp_path / "b" / "inputs.json").read_bytes()
    assert "| `synthetic-classic` | `000000000000` |" in (tmp_path / "a" / "report.md").read_text()
