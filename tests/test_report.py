"""`srbench report` from hand-made SYNTHETIC run folders (tests/fixtures/report) and SYNTHETIC ratings.

Golden files: tests/golden/report_*/. After an intended change of the
output, regenerate them with ``python tests/regenerate_goldens.py`` and review
the diff; the tests only compare (no environment variable makes them rewrite
their own expectations).
"""

from __future__ import annotations

import csv
import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench import report
from srbench.cli import main
from srbench.errors import SrbenchError

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures" / "report"
RUNS = [FIXTURES / "synthetic-classic", FIXTURES / "synthetic-srgan"]
GOLDEN = HERE / "golden"
TEXT_SUFFIXES = (".md", ".tex", ".csv")
SET5 = ["baby.png", "bird.png", "butterfly.png", "head.png", "woman.png"]
BSD = [f"img_{i:03d}.png" for i in range(1, 11)]
# SYNTHETIC rater behaviour: the typical score of each method.
QUALITY = {"nearest": 1.3, "bicubic": 1.9, "external:SelfExSR": 2.6, "srresnet-mse": 3.0, "srresnet-vgg22": 3.1,
           "srgan-mse": 3.2, "srgan-vgg22": 3.3, "srgan-vgg54": 4.2, "hr": 4.5}
HEADER = "study,rater,item,method,dataset,image,phase,repeat,score,response_ms,timestamp".split(",")


def synthetic_ratings() -> list[dict]:
    """12 consistent SYNTHETIC raters, one who answers 5/1 in turn (BT.500 rejects him), a calibration
    phase and repeated items (both ignored by the report)."""
    rng = np.random.default_rng(2017)
    rows, item = [], 0
    for r in range(13):
        bias = rng.normal(0, 0.3)
        for dataset, images in (("set5", SET5), ("bsd100", BSD)):
            for method, q in QUALITY.items():
                if dataset == "bsd100" and method.startswith("srresnet"):
                    continue
                for image in images:
                    item += 1
                    if r == 12:
                        score = 5 if item % 2 else 1
                    else:
                        score = int(np.clip(np.rint(q + bias + rng.normal(0, 0.5)), 1, 5))
                    rows.append(dict(study="SYNTHETIC-test", rater=f"r{r:02d}", item=str(item), method=method,
                                     dataset=dataset, image=image, phase="rating", repeat=0, score=score,
                                     response_ms=1000, timestamp="2026-01-01T00:00:00+00:00"))
        rows.append(dict(rows[-1], repeat=1, score=1))
        rows.append(dict(rows[-1], phase="calibration", repeat=0, image="2092.jpg", score=5))
    return rows


def write_ratings(path: Path) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(synthetic_ratings())
    return path


@pytest.fixture(scope="module")
def with_ratings(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    out = tmp / "out"
    report.build_report(RUNS, [write_ratings(tmp / "synthetic_ratings.csv")], out)
    return out


@pytest.fixture(scope="module")
def without_ratings(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-none") / "out"
    report.build_report(RUNS, [], out)
    return out


GOLDEN_FILES = ("table1.md", "table1.tex", "table2.md", "table2.tex")


def check_golden(out: Path, name: str) -> None:
    """Compare only: goldens are written by ``python tests/regenerate_goldens.py``, never by a test run."""
    for f in GOLDEN_FILES:
        assert (out / f).read_text() == (GOLDEN / name / f).read_text(), (
            f"{f} differs from tests/golden/{name}/{f}; if the change is intended, run "
            "'python tests/regenerate_goldens.py' and review the diff")


def read_table_csv(out: Path, number: int) -> pd.DataFrame:
    return pd.read_csv(out / f"table{number}.csv", keep_default_na=False, dtype=str)


def cell(df: pd.DataFrame, dataset: str, label: str, metric: str) -> pd.Series:
    hit = df[(df["dataset"] == dataset) & (df["label"] == label) & (df["metric"] == metric)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_golden_tables_with_synthetic_ratings(with_ratings):
    check_golden(with_ratings, "report_with_ratings")


def test_golden_tables_without_ratings(without_ratings):
    check_golden(without_ratings, "report_without_ratings")


@pytest.mark.slow
def test_golden_regeneration_command_rebuilds_the_committed_goldens(tmp_path):
    """``python tests/regenerate_goldens.py`` (the only writer of goldens) reproduces them exactly."""
    proc = subprocess.run([sys.executable, str(HERE / "regenerate_goldens.py"), "--golden-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in ("report_with_ratings", "report_without_ratings"):
        for f in GOLDEN_FILES:
            assert (tmp_path / name / f).read_bytes() == (GOLDEN / name / f).read_bytes(), (name, f)


def test_metric_means_trace_to_per_image_rows(with_ratings):
    rows = pd.read_csv(FIXTURES / "synthetic-classic" / "per_image.csv")
    paper_rows = rows[(rows["method"] == "bicubic") & (rows["dataset"] == "set5") & (rows["protocol"] == "paper")]
    t2 = read_table_csv(with_ratings, 2)
    psnr = cell(t2, "set5", "bicubic", "psnr")
    assert float(psnr["ours"]) == pytest.approx(paper_rows["psnr"].mean(), abs=1e-6)  # matlab rows ignored
    assert psnr["n"] == "5" and psnr["paper"] == "28.43"
    assert float(psnr["diff"]) == pytest.approx(paper_rows["psnr"].mean() - 28.43, abs=1e-6)
    # external:SelfExSR fills the SelfExSR row
    assert cell(t2, "set5", "SelfExSR", "ssim")["method"] == "external:selfexsr"


def test_missing_cells_are_never_filled_from_the_paper(with_ratings, without_ratings):
    for out in (with_ratings, without_ratings):
        for number in (1, 2):
            t = read_table_csv(out, number)
            empty = t[t["ours"] == ""]
            assert len(empty) > 0 and (empty["note"] != "").all() and (empty["diff"] == "").all()
    t2 = read_table_csv(with_ratings, 2)
    partial = cell(t2, "set14", "bicubic", "psnr")
    assert partial["ours"] == "" and partial["n"] == "3" and partial["n_expected"] == "14"
    assert "partial coverage: 3 of 14" in partial["note"]
    assert "checkpoint" in cell(t2, "set5", "SRCNN", "psnr")["note"]
    espcn = cell(t2, "set5", "ESPCN", "ssim")["note"]  # the reason recorded in run.json
    assert espcn.startswith("skipped by 'srbench run': no checkpoint at results/checkpoints/espcn/")
    assert "external:drcn=DIR" in cell(t2, "bsd100", "DRCN", "psnr")["note"]
    assert cell(t2, "set14", "SRGAN", "mos")["note"] == "no ratings of this method on this set"
    none = read_table_csv(without_ratings, 1)
    assert set(none[none["metric"] == "mos"]["note"]) == {"no MOS ratings supplied"}
    md = (without_ratings / "table2.md").read_text()
    assert "| Set14 | bicubic | — [^t2-" in md


def test_mos_screening_and_significance(with_ratings):
    report_md = (with_ratings / "report.md").read_text()
    assert "SYNTHETIC INPUTS" in report_md
    assert all((with_ratings / f).read_text().startswith("**SYNTHETIC INPUTS") for f in ("table1.md", "table2.md"))
    assert "| `synthetic-srgan` | `srgan-vgg54` | checkpoint `" in report_md and "| `000000000000` |" in report_md
    assert "13 raters screened, 1 rejected" in report_md and "`SYNTHETIC-test/r12`" in report_md
    screening = pd.read_csv(with_ratings / "screening.csv")
    assert screening[screening["rejected"] == 1]["rater"].tolist() == ["SYNTHETIC-test/r12"]
    # MOS = mean of kept raters' first showings; computed here independently
    df = pd.DataFrame(synthetic_ratings())
    kept = df[(df["phase"] == "rating") & (df["repeat"] == 0) & (df["rater"] != "r12")]
    t1 = read_table_csv(with_ratings, 1)
    vgg54 = cell(t1, "set5", "SRGAN-VGG54", "mos")
    expected = kept[(kept["dataset"] == "set5") & (kept["method"] == "srgan-vgg54")]["score"].mean()
    assert float(vgg54["ours"]) == pytest.approx(expected, abs=1e-6)
    assert float(vgg54["ci_low"]) < float(vgg54["ours"]) < float(vgg54["ci_high"])
    assert vgg54["n"] == str(12 * 5)
    # SRGAN-VGG54 is clearly preferred in the SYNTHETIC data: starred; the close SRResNet pair is not.
    stars = t1[(t1["metric"] == "mos") & (t1["star"] == "1")][["dataset", "label"]].values.tolist()
    assert stars == [["set5", "SRGAN-VGG54"]]
    sig = pd.read_csv(with_ratings / "significance.csv")
    row = sig[(sig["dataset"] == "set5") & (sig["metric"] == "mos") & (sig["method_a"] == "srgan-mse")
              & (sig["method_b"] == "srgan-vgg54")].iloc[0]
    assert row["pvalue"] < 0.05 and row["effect"] < 0 and row["n_pairs"] == 60
    assert row["mean_diff"] < 0  # srgan-mse (a) scores lower than srgan-vgg54 (b): both signs say so
    assert "positive when `method_a` scores higher than `method_b` (`mean_diff` = a - b)" in report_md
    assert (sig["p_holm"] >= sig["pvalue"]).all()
    assert set(sig["metric"]) == {"psnr", "ssim", "mos"}


def test_figure_data(with_ratings):
    fig = pd.read_csv(with_ratings / "figure5.csv")
    df = pd.DataFrame(synthetic_ratings())
    kept = df[(df["phase"] == "rating") & (df["repeat"] == 0) & (df["rater"] != "r12") & (df["dataset"] == "bsd100")]
    # Table 2 order first, then other rated methods by name
    assert fig["label"].tolist() == ["nearest", "bicubic", "SelfExSR", "SRGAN", "HR", "srgan-mse", "srgan-vgg22"]
    for _, row in fig.iterrows():
        scores = kept[kept["method"].str.lower() == row["method"]]["score"]
        assert [row[f"count_{s}"] for s in range(1, 6)] == [int((scores == s).sum()) for s in range(1, 6)]
        assert row["n"] == len(scores) == 120
        assert row["raters"] == kept[kept["method"].str.lower() == row["method"]]["rater"].nunique() > 1
        assert row["mean"] == pytest.approx(scores.mean(), abs=1e-6)
    assert (with_ratings / "figure5.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (with_ratings / "figure5.pdf").read_bytes()[:5] == b"%PDF-"


def test_no_ratings_no_figure(without_ratings):
    assert not (without_ratings / "figure5.png").exists() and not (without_ratings / "figure5.csv").exists()
    assert "Not drawn: no ratings were supplied." in (without_ratings / "report.md").read_text()


def test_byte_deterministic(with_ratings, tmp_path):
    again = tmp_path / "again"
    report.build_report(RUNS[::-1], [write_ratings(tmp_path / "synthetic_ratings.csv")], again)
    names = sorted(p.name for p in with_ratings.iterdir())
    assert names == sorted(p.name for p in again.iterdir())
    for name in names:  # text and the PNG/PDF (their date/version metadata is stripped)
        assert (again / name).read_bytes() == (with_ratings / name).read_bytes(), name


def _report_process(out: Path, runs: list[Path], ratings: Path, *, hash_seed: str, tz: str) -> subprocess.Popen:
    """``srbench report`` in a fresh interpreter with its own hash seed and time zone, from ``out``'s parent."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "TZ": tz, "MPLBACKEND": "Agg"}
    out.parent.mkdir(parents=True)
    return subprocess.Popen([sys.executable, "-m", "srbench", "report", "--runs", *map(str, runs), "--ratings",
                             str(ratings), "--out", str(out)], env=env, cwd=out.parent, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_byte_deterministic_across_processes(with_ratings, tmp_path):
    """Every output file, figures and statistics CSVs included, is the same bytes when built by two
    separate processes (different hash seeds, time zones, run order and working folders) as in-process.

    The in-process test above cannot see anything that varies per interpreter: set iteration order
    of strings (salted hash), the time zone, matplotlib's per-process state."""
    ratings = write_ratings(tmp_path / "synthetic_ratings.csv")  # SYNTHETIC ratings
    a, b = tmp_path / "a" / "out", tmp_path / "b" / "out"
    procs = [_report_process(a, RUNS, ratings, hash_seed="1", tz="UTC"),
             _report_process(b, RUNS[::-1], ratings, hash_seed="2", tz="Pacific/Kiritimati")]  # UTC+14
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    names = sorted(p.name for p in with_ratings.iterdir())
    assert {"figure5.png", "figure5.pdf", "figure5.csv", "significance.csv", "mos.csv", "screening.csv",
            "table1.csv", "table2.csv", "report.md"} <= set(names)
    assert names == sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes() == (with_ratings / name).read_bytes(), name


def test_other_protocol_never_mixed(tmp_path):
    report.build_report(RUNS, [], tmp_path, protocol="matlab")
    t2 = read_table_csv(tmp_path, 2)
    bicubic = cell(t2, "set5", "bicubic", "psnr")
    assert float(bicubic["ours"]) == pytest.approx(np.mean([31.1, 28.9, 22.2, 30.6, 27.0]), abs=1e-6)
    nearest = cell(t2, "set5", "nearest", "psnr")
    assert nearest["ours"] == "" and "measured only under protocol paper" in nearest["note"]
    assert "metric protocol: `matlab`" in (tmp_path / "report.md").read_text()


def test_database_ratings_read_through_the_mos_store(tmp_path, with_ratings):
    from srbench.mos_app.store import Answer, Store

    store = Store(tmp_path / "answers.db")
    for i, r in enumerate(synthetic_ratings()):
        store.record(Answer(study=r["study"], rater=r["rater"], presentation=i, item=r["item"], method=r["method"],
                            dataset=r["dataset"], image=r["image"], phase=r["phase"], repeat=r["repeat"],
                            score=r["score"], response_ms=r["response_ms"]))
    store.close()
    out = tmp_path / "out"
    report.build_report(RUNS, [tmp_path / "answers.db"], out)
    for name in ("table1.csv", "table2.csv", "figure5.csv", "significance.csv", "mos.csv", "screening.csv"):
        assert (out / name).read_bytes() == (with_ratings / name).read_bytes(), name


def test_database_ratings_file_is_not_modified_by_the_report(tmp_path, with_ratings):
    from srbench.mos_app.store import Answer, Store

    db = tmp_path / "answers.db"
    store = Store(db)
    for i, r in enumerate(synthetic_ratings()):
        store.record(Answer(study=r["study"], rater=r["rater"], presentation=i, item=r["item"], method=r["method"],
                            dataset=r["dataset"], image=r["image"], phase=r["phase"], repeat=r["repeat"],
                            score=r["score"], response_ms=r["response_ms"]))
    store.close()
    with sqlite3.connect(db) as conn:  # a copy in rollback-journal mode, as sqlite3's .backup writes it
        conn.execute("PRAGMA journal_mode = DELETE")
    before = db.read_bytes()
    report.build_report(RUNS, [db], tmp_path / "out")
    assert db.read_bytes() == before  # the report's recorded sha256 is that of the file as given
    assert sorted(p.name for p in tmp_path.iterdir()) == ["answers.db", "out"]
    digest = hashlib.sha256(before).hexdigest()
    assert f"ratings `answers.db`: sha256 `{digest}`" in (tmp_path / "out" / "report.md").read_text()
    assert (tmp_path / "out" / "mos.csv").read_bytes() == (with_ratings / "mos.csv").read_bytes()
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(SrbenchError, match="not a readable MOS app database.*no 'answers' table"):
        report.build_report(RUNS, [foreign], tmp_path / "o")


def test_input_errors(tmp_path):
    with pytest.raises(SrbenchError, match="no per_image.csv"):
        report.build_report([tmp_path], [], tmp_path / "o")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "per_image.csv").write_text("dataset,image,method,psnr,ssim\n")
    with pytest.raises(SrbenchError, match="header"):
        report.build_report([bad], [], tmp_path / "o")
    clash = tmp_path / "clash"
    clash.mkdir()
    (clash / "per_image.csv").write_text("dataset,image,method,protocol,psnr,ssim\nset5,baby.png,nearest,paper,1.0,0.5\n")
    with pytest.raises(SrbenchError, match="conflicting results for set5/nearest/baby.png"):
        report.build_report([RUNS[0], clash], [], tmp_path / "o")
    ratings = tmp_path / "r.csv"
    ratings.write_text(",".join(HEADER) + "\nS,a,1,bicubic,set5,baby.png,rating,0,7,10,t\n")
    with pytest.raises(SrbenchError, match="outside 1..5"):
        report.build_report(RUNS, [ratings], tmp_path / "o")
    not_db = tmp_path / "ratings.db"
    not_db.write_text("this is not a database\n" * 100)
    with pytest.raises(SrbenchError, match="not a readable MOS app database"):
        report.build_report(RUNS, [not_db], tmp_path / "o")
    with pytest.raises(SrbenchError, match="not found"):
        report.build_report(RUNS, [tmp_path / "absent.csv"], tmp_path / "o")
    with pytest.raises(SrbenchError, match="is a folder"):
        report.build_report(RUNS, [tmp_path], tmp_path / "o")
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        with pytest.raises(SrbenchError, match="cannot create the output folder"):
            report.build_report(RUNS, [], out)
    with pytest.raises(SrbenchError, match="unknown protocol"):
        report.build_report(RUNS, [], tmp_path / "o", protocol="daala")
    with pytest.raises(SrbenchError, match="nothing to report"):
        report.build_report([], [], tmp_path / "o")


def test_cli(tmp_path, capsys):
    assert main(["report", "--runs", str(RUNS[0])]) == 2
    assert "--out is required" in capsys.readouterr().err
    assert main(["report", "--protocol", "matlab"]) == 2
    assert "--out is required" in capsys.readouterr().err
    assert main(["report", "--runs", *map(str, RUNS), "--out", str(tmp_path), "--correction", "holm"]) == 0
    assert "multiple-comparison correction: holm" in (tmp_path / "table1.md").read_text()
    assert main(["report", "--runs", str(RUNS[0]), "--out", str(tmp_path / "table1.md")]) == 2
    assert "srbench report: error: cannot create the output folder" in capsys.readouterr().err


COMMITTED = Path(__file__).resolve().parent.parent / "results" / "report"


@pytest.mark.skipif(not COMMITTED.is_dir(), reason="results/report/ is not committed yet: generate it with "
                    "'srbench report' (no arguments) once results/metrics/*/ exist, and commit it")
def test_committed_report_is_reproducible(tmp_path):
    report.build_report(report.default_runs(), report.default_ratings(), tmp_path)
    committed = sorted(p.name for p in COMMITTED.iterdir() if p.name.endswith(TEXT_SUFFIXES))
    fresh = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(TEXT_SUFFIXES))
    assert committed == fresh
    for name in fresh:
        assert (tmp_path / name).read_text() == (COMMITTED / name).read_text(), (
            f"results/report/{name} is stale: rerun 'srbench report' and commit results/report/")


def test_report_from_a_real_srbench_run(data_root, tmp_path):
    """End to end on real data: 'srbench run' output (its real run.json format) into the report."""
    import json

    from srbench.run.runner import run_benchmark

    run_dir = tmp_path / "classic-set5"
    run_benchmark(["nearest", "bicubic"], ["set5"], data_root=data_root, out_dir=run_dir,
                  protocols=["paper"], progress=False)
    out = tmp_path / "report"
    report.build_report([run_dir], [], out)
    t2 = read_table_csv(out, 2)
    # protocols.md: the paper protocol reproduces the paper's Set5 rows (26.26 / 0.7552, 28.43 / 0.8211)
    assert float(cell(t2, "set5", "nearest", "psnr")["ours"]) == pytest.approx(26.26, abs=0.005)
    assert float(cell(t2, "set5", "bicubic", "ssim")["ours"]) == pytest.approx(0.8211, abs=0.0003)
    assert "not in the given runs" in cell(t2, "set14", "bicubic", "psnr")["note"]
    run_json = json.loads((run_dir / "run.json").read_text())
    header = (out / "report.md").read_text()
    assert f"| `{run_json['code_revision'][:12]}" in header
    inputs = json.loads((out / "inputs.json").read_text())
    assert inputs["runs"][0]["run_json"]["datasets"]["set5"]["manifest_sha256"] == \
        run_json["datasets"]["set5"]["manifest_sha256"]
    assert "SYNTHETIC" not in header


def test_number_formatting():
    from srbench.report.render import _signed, tex_escape

    assert _signed(-0.001, "psnr") == "0.00" and _signed(0.004, "psnr") == "0.00"
    assert _signed(0.006, "psnr") == "+0.01" and _signed(-0.00051, "ssim") == "-0.0005"
    assert tex_escape("a_b 95% — ∞ & Δ") == r"a\_b 95\% --- $\infty$ \& $\Delta$"
    # OT1 (LaTeX's default encoding) has no < > | glyphs in text mode: they would print as ¡ ¿ —
    assert tex_escape("p < 0.05, n > 3, |P-Q|") == r"p \textless{} 0.05, n \textgreater{} 3, \textbar{}P-Q\textbar{}"
    assert tex_escape("external:my_sr_x & 5%") == r"external:my\_sr\_x \& 5\%"


def test_table_rows_come_from_the_registry():
    """Rows: the paper's, in its order; the methods filling them: the registry's metadata (no copied list)."""
    from srbench.report.tables import Slot, table_spec

    t1, t2 = table_spec(1), table_spec(2)
    assert (t1.datasets, t2.datasets) == (("set5", "set14"), ("set5", "set14", "bsd100"))
    assert t1.slots == (
        Slot("SRResNet-MSE", ("srresnet-mse",), "SRResNet-MSE", "SRResNet"),
        Slot("SRResNet-MSE (authors' images)", ("published:srresnet-mse",), "SRResNet-MSE", None, released=True),
        Slot("SRResNet-VGG22", ("srresnet-vgg22",), "SRResNet-VGG22", "SRResNet"),
        Slot("SRGAN-MSE", ("srgan-mse",), "SRGAN-MSE", "SRGAN"),
        Slot("SRGAN-VGG22", ("srgan-vgg22",), "SRGAN-VGG22", "SRGAN"),
        Slot("SRGAN-VGG54", ("srgan-vgg54",), "SRGAN-VGG54", "SRGAN"),
        Slot("SRGAN-VGG54 (authors' images)", ("published:srgan-vgg54",), "SRGAN-VGG54", None, released=True),
    )
    assert t2.slots == (
        Slot("nearest", ("nearest",), "nearest"),
        Slot("bicubic", ("bicubic",), "bicubic"),
        Slot("SRCNN", ("srcnn",), "SRCNN"),
        Slot("SelfExSR", ("external:selfexsr", "selfexsr"), "SelfExSR"),
        Slot("DRCN", ("external:drcn", "drcn"), "DRCN"),
        Slot("ESPCN", ("espcn",), "ESPCN"),
        Slot("SRResNet", ("srresnet-mse",), "SRResNet"),
        Slot("SRResNet (authors' images)", ("published:srresnet-mse",), "SRResNet", None, released=True),
        Slot("SRGAN", ("srgan-vgg54",), "SRGAN"),
        Slot("SRGAN (authors' images)", ("published:srgan-vgg54",), "SRGAN", None, released=True),
        Slot("HR", ("hr",), "HR"),
    )


def test_figure5_is_legible_at_print_size_with_n_per_method(with_ratings):
    """Drawn at its printed size (<= 7 in wide), no text under 7 pt, ratings n and raters r per method shown
    (the paper's Figure 5 states both)."""
    import matplotlib.pyplot as plt
    from matplotlib.text import Text
    from PIL import Image

    from srbench.report import figure as report_figure

    data = pd.read_csv(with_ratings / "figure5.csv")
    columns = [report_figure.Column(r["label"], r["method"], tuple(int(r[f"count_{s}"]) for s in range(1, 6)),
                                    int(r["raters"])) for _, r in data.iterrows()]
    fig = report_figure.figure(columns)
    try:
        width, height = fig.get_size_inches()
        assert width <= 7.0 and height <= 4.0
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert min(t.get_fontsize() for t in texts) >= report_figure.MIN_FONT_PT
        shown = {t.get_text() for t in texts}
        assert {f"n={n}\nr={r}" for n, r in zip(data["n"], data["raters"])} <= shown  # ratings and raters
        assert {str(c) for c in data[[f"count_{s}" for s in range(1, 6)]].to_numpy().ravel()} <= shown
    finally:
        plt.close(fig)
    png = Image.open(with_ratings / "figure5.png")
    assert png.size == (round(width * report_figure.DPI), round(height * report_figure.DPI))
