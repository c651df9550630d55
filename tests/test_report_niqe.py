"""The report's NIQE parts: Table 2's NIQE column, the perception-distortion plane, and which metric agrees
with people. Run folders and ratings here are SYNTHETIC (written to tmp_path, never under results/), except
one end-to-end test on real images.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from srbench import report
from srbench.data.sets import load_manifest
from srbench.errors import SrbenchError
from srbench.metrics.niqe_model import manifest
from srbench.report import agreement as A
from srbench.report import perception as P

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = PROJECT_ROOT.parent / "shared" / "datasets" / "published" / "ledig2017"
HEADER = ["dataset", "image", "method", "protocol", "psnr", "ssim", "niqe", "niqe_note"]
RATING_HEADER = "study,rater,item,method,dataset,image,phase,repeat,score,response_ms,timestamp".split(",")


def names(dataset: str) -> list[str]:
    return [entry["name"] for entry in load_manifest(dataset)["images"]]


def write_run(folder: Path, fr: dict, nr: dict, *, luma: str = "gray") -> Path:
    """A SYNTHETIC 'srbench run' folder: ``fr[(dataset, method, image)] = (psnr, ssim)`` (protocol paper),
    ``nr[(dataset, method, image)] = niqe`` (a float, or a reason string for n/a)."""
    folder.mkdir(parents=True)
    with open(folder / "per_image.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for (dataset, method, image), (psnr, ssim) in sorted(fr.items()):
            w.writerow([dataset, image, method, "paper", f"{psnr:.6f}", f"{ssim:.6f}", "", ""])
        for (dataset, method, image), value in sorted(nr.items()):
            cells = ["n/a", value] if isinstance(value, str) else [f"{value:.6f}", ""]
            w.writerow([dataset, image, method, "", "", "", *cells])
    record = {"note": "SYNTHETIC fixture for tests (invented numbers, not measurements)", "protocols": ["paper"],
              "metrics": ["psnr", "ssim", "niqe"],
              "niqe": {"model_sha256": manifest()["sha256"], "luma": luma, "border": 0, "block": 96}}
    (folder / "run.json").write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return folder


# ------------------------------------------------------------------ Table 2 and the plane

NIQE_LEVEL = {"nearest": 12.0, "bicubic": 8.0, "srresnet-mse": 6.0, "srgan-vgg54": 4.0, "hr": 3.0}
PSNR_LEVEL = {"nearest": 26.0, "bicubic": 28.0, "srresnet-mse": 32.0, "srgan-vgg54": 29.5}


@pytest.fixture(scope="module")
def table_run(tmp_path_factory) -> Path:
    """SYNTHETIC: Set5 complete; Set14 bicubic with one n/a image, srgan-vgg54 NIQE on 3 of 14 images only."""
    rng = np.random.default_rng(5)
    fr, nr = {}, {}
    for dataset in ("set5", "set14"):
        for i, image in enumerate(names(dataset)):
            for method, level in PSNR_LEVEL.items():
                fr[(dataset, method, image)] = (level + rng.normal(0, 1), 0.8 + 0.01 * rng.normal())
            for method, level in NIQE_LEVEL.items():
                if dataset == "set14" and method == "srgan-vgg54" and i >= 3:
                    continue
                nr[(dataset, method, image)] = level + 0.1 * i
    nr[("set14", "bicubic", "comic.png")] = "120x80 luma plane is smaller than one 96x96 NIQE block"
    return write_run(tmp_path_factory.mktemp("t2") / "synthetic-niqe", fr, nr)


@pytest.fixture(scope="module")
def table_report(table_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("t2-report") / "out"
    report.build_report([table_run], [], out)
    return out


def _table_csv(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "table2.csv", keep_default_na=False, dtype=str)


def test_table2_gains_a_niqe_column_marked_ours(table_run, table_report):
    md = (table_report / "table2.md").read_text()
    header = next(line for line in md.splitlines() if line.startswith("| Set |"))
    assert header.endswith("| MOS [95% CI] | paper | Δ | NIQE ↓ (ours) |")  # no paper value, no difference
    widths = {line.count("|") for line in md.splitlines() if line.startswith("|")}
    assert widths == {header.count("|")}
    assert "the paper has no NIQE" in md
    t2 = _table_csv(table_report)
    niqe = t2[t2.metric == "niqe"]
    assert (niqe["paper"] == "").all() and (niqe["diff"] == "").all()
    per = pd.read_csv(table_run / "per_image.csv", keep_default_na=True)
    per = per[per.protocol.isna()]

    def cell(dataset, label):
        return niqe[(niqe.dataset == dataset) & (niqe.label == label)].iloc[0]

    for label, method in (("nearest", "nearest"), ("SRResNet", "srresnet-mse"), ("HR", "hr")):
        expected = per[(per.dataset == "set5") & (per.method == method)].niqe.mean()
        assert float(cell("set5", label).ours) == pytest.approx(expected, abs=1e-6)
    # bold = lowest of ours, HR excluded although HR is lower
    assert cell("set5", "SRGAN").bold == "1" and cell("set5", "HR").bold == "0" and cell("set5", "bicubic").bold == "0"
    assert "**4.20**" in md and "| 3.20 |" in md
    # an n/a image: no mean over the rest, the reason in the footnote
    bic = cell("set14", "bicubic")
    assert bic.ours == "" and "NIQE n/a for 1 of 14 images (120x80 luma plane is smaller" in bic.note
    assert "not averaged" in bic.note and "120x80 luma plane is smaller" in md
    assert "partial coverage: NIQE of 3 of 14 images" in cell("set14", "SRGAN").note
    assert "not measured" in cell("set5", "SRCNN").note or "not in the given runs" in cell("set5", "SRCNN").note
    tex = (table_report / "table2.tex").read_text()
    rows = [line for line in tex.splitlines() if line.endswith(r"\\") and "&" in line and "multicolumn" not in line]
    assert {line.count("&") for line in rows} == {2 + 3 * 3 + 1 - 1}  # Set, Method, 3 x (ours, paper, Δ), NIQE
    spans = next(line for line in tex.splitlines() if "multicolumn" in line)
    assert spans.count(r"\multicolumn{3}") == 3 and spans.count("&") == 5
    assert r"NIQE $\downarrow$ (ours)" in tex and r"\begin{tabular}{llrrrrrrrrrr}" in tex
    assert "niqe" not in set(_table_csv_1(table_report).metric)  # Table 1: unchanged, no NIQE


def _table_csv_1(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "table1.csv", keep_default_na=False, dtype=str)


def test_no_niqe_column_without_niqe_runs(tmp_path):
    fixtures = PROJECT_ROOT / "tests" / "fixtures" / "report"
    report.build_report([fixtures / "synthetic-classic"], [], tmp_path)
    assert "NIQE" not in (tmp_path / "table2.md").read_text()
    assert not (tmp_path / "perception.csv").exists()
    assert "Not drawn: no run measured NIQE" in (tmp_path / "report.md").read_text()


def test_runs_measured_with_other_niqe_settings_or_values_are_refused(table_run, tmp_path):
    other = write_run(tmp_path / "synthetic-y", {}, {("set5", "bicubic", "baby.png"): 8.0}, luma="y")
    with pytest.raises(SrbenchError, match="different settings"):
        report.build_report([table_run, other], [], tmp_path / "o")
    clash = write_run(tmp_path / "synthetic-clash", {}, {("set5", "bicubic", "baby.png"): 1.0})
    with pytest.raises(SrbenchError, match="conflicting NIQE for set5/bicubic/baby.png"):
        report.build_report([table_run, clash], [], tmp_path / "o2")


def test_perception_plane_data(table_run, table_report):
    plane = pd.read_csv(table_report / "perception.csv", keep_default_na=False, dtype=str)
    per = pd.read_csv(table_run / "per_image.csv")
    fr = per[per.protocol == "paper"]
    for method in PSNR_LEVEL:
        psnr = fr[(fr.dataset == "set5") & (fr.method == method)].psnr
        rmse = np.mean([255.0 / 10 ** (p / 20) for p in psnr])  # independent of P.rmse_from_psnr
        row = plane[(plane.dataset == "set5") & (plane.method == method)].iloc[0]
        assert float(row.rmse) == pytest.approx(rmse, abs=2e-6) and row.plotted == "1"
        assert float(row.psnr) == pytest.approx(psnr.mean(), abs=2e-6)
    hr = plane[(plane.dataset == "set5") & (plane.method == "hr")].iloc[0]
    assert (hr.rmse, hr.psnr, hr.kind, hr.plotted) == ("0.000000", "inf", "hr", "1")
    bic14 = plane[(plane.dataset == "set14") & (plane.method == "bicubic")].iloc[0]
    assert bic14.plotted == "0" and bic14.niqe == "" and "n/a: 120x80" in bic14.note
    assert plane[(plane.dataset == "set14") & (plane.method == "srgan-vgg54")].iloc[0].plotted == "0"
    for dataset in ("set5", "set14"):
        assert (table_report / f"perception_{dataset}.png").stat().st_size > 10_000
        assert (table_report / f"perception_{dataset}.pdf").read_bytes().startswith(b"%PDF")
    md = (table_report / "report.md").read_text()
    assert "![perception-distortion plane, Set5](perception_set5.png)" in md
    assert "Set5: least distortion `srresnet-mse`" in md and "most natural `srgan-vgg54`" in md


def test_report_files_are_byte_identical_across_processes(table_run, tmp_path):
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-m", "srbench", "report", "--runs", str(table_run), "--out", str(out)],
                              capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outs.append(out)
    files = sorted(p.name for p in outs[0].iterdir())
    assert "perception_set5.png" in files and "perception_set5.pdf" in files
    assert files == sorted(p.name for p in outs[1].iterdir())
    for name in files:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_rmse_from_psnr():
    assert P.rmse_from_psnr(math.inf) == 0.0
    assert P.rmse_from_psnr(20 * math.log10(255 / 5.0)) == pytest.approx(5.0, rel=1e-12)


@pytest.mark.skipif(not PUBLISHED.is_dir(), reason="needs ../shared/datasets/published")
def test_plane_from_real_runs_shows_the_trade_off(data_root, tmp_path):
    """Real images: bicubic and the SRGAN authors' SRResNet and SRGAN-VGG54 outputs (as external: folders)."""
    from srbench.run.runner import run_benchmark

    methods = ["bicubic", f"external:ledig-srresnet={PUBLISHED / 'srresnet-mse'}",
               f"external:ledig-srgan={PUBLISHED / 'srgan-vgg54'}"]
    run_benchmark(methods, ["set5"], data_root=data_root, out_dir=tmp_path / "run", protocols=["paper"],
                  progress=False, jobs=1, metrics=["psnr", "ssim", "niqe"])
    report.build_report([tmp_path / "run"], [], tmp_path / "report")
    plane = pd.read_csv(tmp_path / "report" / "perception.csv").set_index("method")
    assert set(plane.index) == {"bicubic", "ledig-srresnet", "ledig-srgan", "hr"} and plane.plotted.all()
    # the paper's point on the plane: SRGAN trades distortion for naturalness against SRResNet
    assert plane.loc["ledig-srgan", "rmse"] > plane.loc["ledig-srresnet", "rmse"]
    assert plane.loc["ledig-srgan", "niqe"] < plane.loc["ledig-srresnet", "niqe"] < plane.loc["bicubic", "niqe"]
    assert plane.loc["ledig-srresnet", "psnr"] == pytest.approx(32.05, abs=0.005)  # Table 2's SRResNet, Set5
    assert (plane.kind == ["classic", "external", "external", "hr"]).all() or set(plane.kind) == {
        "classic", "external", "hr"}


# ------------------------------------------------------------------ which metric agrees with people

def agreement_inputs(tmp_path: Path, score_of, *, n_images: int = 30, n_raters: int = 12, seed: int = 0,
                     methods=("bicubic", "srcnn", "srresnet-mse", "srgan-vgg54")):
    """SYNTHETIC run + ratings on BSD100 images. Metric values per item are drawn at random; each rater's score
    of an item is ``score_of(item_metrics, rater, rng)``. HR is rated too (score 5) and has a NIQE row.
    Responses take 2.5 s, so no rater is screened out as too fast (the report's screening, issue 14)."""
    rng = np.random.default_rng(seed)
    images = names("bsd100")[:n_images]
    fr, nr, items = {}, {}, {}
    for m_index, method in enumerate(methods):
        for i_index, image in enumerate(images):
            values = {"psnr": rng.uniform(22, 30), "ssim": rng.uniform(0.6, 0.9), "niqe": rng.uniform(3, 9),
                      "method_index": m_index, "image_index": i_index}
            fr[("bsd100", method, image)] = (values["psnr"], values["ssim"])
            nr[("bsd100", method, image)] = values["niqe"]
            items[(method, image)] = values
    for image in images:
        nr[("bsd100", "hr", image)] = 3.0
    run = write_run(tmp_path / "synthetic-agreement-run", fr, nr)
    rows, k = [], 0
    for r in range(n_raters):
        for (method, image), values in sorted(items.items()) + [(("hr", image), None) for image in images]:
            k += 1
            score = 5 if values is None else int(score_of(values, r, rng))
            rows.append(dict(study="SYNTHETIC-agreement", rater=f"r{r:02d}", item=str(k), method=method,
                             dataset="bsd100", image=image, phase="rating", repeat=0, score=score, response_ms=2500,
                             timestamp="2026-01-01T00:00:00+00:00"))
    ratings = tmp_path / "synthetic_ratings.csv"
    with open(ratings, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=RATING_HEADER, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return run, ratings, items


def _kept(run: Path, ratings: Path):
    """The report's own inputs for the agreement: kept scores, PSNR/SSIM rows, NIQE rows."""
    from srbench.report.inputs import combine_no_reference, combine_runs, load_ratings, load_run

    loaded = load_run(run)
    return load_ratings([ratings]).scores, combine_runs([loaded], "paper"), combine_no_reference([loaded])


def _niqe_planted(values, rater, rng):
    """People see what NIQE sees: the score follows -NIQE (1..5 over its 3..9 range) plus rater noise."""
    return np.clip(np.rint(1 + 4 * (9 - values["niqe"]) / 6 + rng.normal(0, 0.4)), 1, 5)


def test_planted_niqe_agreement_is_found_and_matches_an_independent_computation(tmp_path):
    run, ratings, items = agreement_inputs(tmp_path, _niqe_planted)
    kept, per_image, niqe = _kept(run, ratings)
    result = A.set_agreement(kept, per_image, niqe, "bsd100", n_boot=400)
    assert result.best == "niqe" and result.n_items == 120 and result.n_images == 30 and result.n_raters == 12
    assert result.left_out == 0  # HR is rated, but it is not an item (not "left out for lack of PSNR")
    # independent: MOS per (method, image) by pandas, correlations by scipy on the raw (unaligned) NIQE
    scores = pd.read_csv(ratings)
    mos = scores[scores.method != "hr"].groupby(["method", "image"]).score.mean()
    keys = list(mos.index)
    for metric, sign in (("psnr", 1), ("ssim", 1), ("niqe", -1)):
        x = [items[k][metric] for k in keys]
        rho = scipy.stats.spearmanr(x, mos.to_numpy()).statistic * sign
        tau = scipy.stats.kendalltau(x, mos.to_numpy()).statistic * sign
        assert result.values[(metric, "spearman")].estimate == pytest.approx(rho, abs=1e-12)
        assert result.values[(metric, "kendall")].estimate == pytest.approx(tau, abs=1e-12)
    rho_niqe = result.values[("niqe", "spearman")]
    assert rho_niqe.estimate > 0.8 and rho_niqe.low < rho_niqe.estimate < rho_niqe.high  # sign-aligned: positive
    for metric in ("psnr", "ssim"):
        iv = result.values[(metric, "spearman")]
        assert abs(iv.estimate) < 0.3 and iv.low < 0 < iv.high  # unrelated to the ratings by construction
        assert result.differences[(metric, "spearman")].excludes_zero()
    assert "NIQE agrees best with people" in A.verdict(result) and "(clear)" in A.verdict(result)


def test_planted_exact_agreement_has_correlation_one_and_a_degenerate_interval(tmp_path):
    """SSIM is a step function of the method and every rater scores the method's step: rho = tau = 1 exactly."""
    def ssim_planted(values, rater, rng):
        return values["method_index"] + 1

    run, ratings, items = agreement_inputs(tmp_path, ssim_planted, n_images=12, n_raters=5)
    for (method, image), values in items.items():
        values["ssim"] = 0.6 + 0.05 * values["method_index"]
    fr = {("bsd100", m, i): (v["psnr"], v["ssim"]) for (m, i), v in items.items()}
    nr = {("bsd100", m, i): v["niqe"] for (m, i), v in items.items()}
    run = write_run(tmp_path / "synthetic-exact", fr, nr)
    kept, per_image, niqe = _kept(run, ratings)
    result = A.set_agreement(kept, per_image, niqe, "bsd100", n_boot=300)
    assert result.best == "ssim"
    for c in A.COEFFICIENTS:
        iv = result.values[("ssim", c)]
        assert (iv.estimate, iv.low, iv.high) == pytest.approx((1.0, 1.0, 1.0), abs=1e-12)


def test_unrelated_ratings_give_intervals_around_zero(tmp_path):
    run, ratings, _ = agreement_inputs(tmp_path, lambda values, rater, rng: rng.integers(1, 6), seed=3)
    result = A.set_agreement(*_kept(run, ratings), "bsd100", n_boot=400)
    for metric in A.METRICS:
        for c in A.COEFFICIENTS:
            iv = result.values[(metric, c)]
            assert iv.low < 0 < iv.high, (metric, c, iv)
    assert "not clear" in A.verdict(result)


def test_agreement_in_the_report(tmp_path):
    run, ratings, _ = agreement_inputs(tmp_path, _niqe_planted)
    out = tmp_path / "report"
    report.build_report([run], [ratings], out)
    md = (out / "report.md").read_text()
    section = md[md.index("## Which metric agrees with people"):]
    assert "**SYNTHETIC INPUTS**" in section and "BSD100: **NIQE agrees best with people**" in section
    assert "| BSD100 | -NIQE |" in section
    rows = pd.read_csv(out / "agreement.csv", keep_default_na=False, dtype=str)
    assert set(rows.comparison) == {"psnr", "ssim", "niqe", "niqe-psnr", "niqe-ssim"}
    assert set(rows.n_items) == {"120"}  # HR rated but left out
    none = tmp_path / "no-ratings"
    report.build_report([run], [], none)
    assert "Not computed: no ratings were supplied." in (none / "report.md").read_text()
    assert not (none / "agreement.csv").exists()


def test_weighted_spearman_equals_scipy_on_the_expanded_sample():
    rng = np.random.default_rng(11)
    for _ in range(200):
        n = int(rng.integers(2, 25))
        x = rng.integers(0, 5, size=n).astype(float)
        y = rng.integers(0, 4, size=n).astype(float)
        w = rng.integers(0, 4, size=n).astype(float)
        reps = w.astype(int)
        ex, ey = np.repeat(x, reps), np.repeat(y, reps)
        ranks = A.weighted_midranks(x[None], w[None])[0]
        if ex.size:
            assert np.allclose(np.repeat(ranks, reps), scipy.stats.rankdata(ex))
        rho = A.weighted_spearman(x[None], y[None], w[None])[0]
        if ex.size < 2 or np.ptp(ex) == 0 or np.ptp(ey) == 0:
            assert math.isnan(rho)
        else:
            assert rho == pytest.approx(scipy.stats.spearmanr(ex, ey).statistic, abs=1e-12)


def test_authors_images_are_never_bold_in_the_niqe_column(tmp_path):
    """SYNTHETIC: the authors' released SRGAN images have the lowest NIQE; the bold goes to the lowest of ours
    (released rows are a check of the metrics, never bolded, as in the PSNR/SSIM columns)."""
    niqe_level = {"bicubic": 8.0, "srresnet-mse": 6.0, "published:srresnet-mse": 5.5, "published:srgan-vgg54": 4.0,
                  "hr": 3.0}
    fr, nr = {}, {}
    for image in names("set5"):
        for method, level in niqe_level.items():
            if method != "hr":
                fr[("set5", method, image)] = (30.0, 0.85)
            nr[("set5", method, image)] = level
    run = write_run(tmp_path / "synthetic-released", fr, nr)
    out = tmp_path / "out"
    report.build_report([run], [], out)
    t2 = _table_csv(out)
    niqe = t2[(t2.metric == "niqe") & (t2.dataset == "set5") & (t2.ours != "")]
    bold = dict(zip(niqe.method, niqe.bold))
    assert bold["published:srgan-vgg54"] == "0" and bold["published:srresnet-mse"] == "0" and bold["hr"] == "0"
    assert bold["srresnet-mse"] == "1" and bold["bicubic"] == "0"
    assert "authors' images excluded" in (out / "table2.md").read_text()
