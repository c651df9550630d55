"""srbench.ratings.subject_model: hand-checked cases, SYNTHETIC recovery, CI coverage, plain MOS, degenerate input.

Every rating below is SYNTHETIC (drawn by :func:`srbench.ratings.subject_model.simulate_ratings` or written
by hand); nothing is written to results/.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srbench.ratings import stats
from srbench.ratings import subject_model as sm
from srbench.errors import SrbenchError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _long(matrix: np.ndarray) -> pd.DataFrame:
    """SYNTHETIC ratings from a raters x items matrix (NaN = not rated)."""
    rows = [(f"r{i}", f"i{j}", float(matrix[i, j])) for i in range(matrix.shape[0])
            for j in range(matrix.shape[1]) if not np.isnan(matrix[i, j])]
    return pd.DataFrame(rows, columns=["rater", "item", "score"])


def _planted(rng, n_raters, n_items, *, bias_sd=0.5, v_lo=0.4, v_hi=1.2):
    psi = rng.uniform(1.5, 4.5, n_items)
    bias = rng.normal(0.0, bias_sd, n_raters)
    bias -= bias.mean()  # the model's constraint, so psi is comparable with the truth
    v = rng.uniform(v_lo, v_hi, n_raters)
    return psi, bias, v


def _truth(values, prefix, index):
    width = 3 if prefix == "i" else 2
    return pd.Series(values, index=[f"{prefix}{k:0{width}d}" for k in range(len(values))]).reindex(index)


# --- hand-checkable case ------------------------------------------------------------------------------


def _latin_square(n: int = 4):
    """u_ij = q_j + b_i + e_ij, e a cyclic Latin square: zero row and column sums, same spread per rater."""
    e = 0.5 * np.array([[((j - i) % n) - (n - 1) / 2 for j in range(n)] for i in range(n)])
    q = np.arange(1.0, n + 1)
    b = np.array([-0.7, -0.1, 0.3, 1.3])[:n]
    return q[None, :] + b[:, None] + e, q, b, e


def test_hand_checked_complete_design_reml():
    # Complete design, residuals with zero row/column sums and the same spread for every rater:
    # by symmetry every rater gets the same v, so the weights are equal and the weighted least
    # squares is the two-way ANOVA: psi_j = item mean, delta_i = rater mean - grand mean. REML's
    # v^2 is the ANOVA residual mean square RSS / ((I-1)(J-1)); Var(psi_j) = v^2 / I and
    # Var(delta_i) = v^2 (1 - 1/I) / J (the pseudo-inverse of (J/v^2)(Id - 11'/I)).
    u, q, b, e = _latin_square(4)
    fit = sm.fit_subject_model(_long(u))
    assert fit.converged and fit.estimator == "reml" and fit.notes == ()
    np.testing.assert_allclose(fit.items["psi"], u.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(fit.items["psi"], q + b.mean(), atol=1e-9)
    np.testing.assert_allclose(fit.items["mos"], u.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(fit.raters["bias"], b - b.mean(), atol=1e-9)
    v2 = (e**2).sum() / (3 * 3)  # 16 * 0.3125 / 9
    np.testing.assert_allclose(fit.raters["inconsistency"], np.sqrt(v2), rtol=1e-7)
    np.testing.assert_allclose(fit.items["se"], np.sqrt(v2 / 4), rtol=1e-6)
    np.testing.assert_allclose(fit.raters["bias_se"], np.sqrt(v2 * 0.75 / 4), rtol=1e-6)
    z = 1.959963984540054
    np.testing.assert_allclose(fit.items["ci_high"] - fit.items["psi"], z * np.sqrt(v2 / 4), rtol=1e-6)
    assert fit.loglik == pytest.approx(-0.5 * np.sum(np.log(2 * np.pi * v2) + e**2 / v2), rel=1e-9)
    assert fit.constraint.startswith("mean rater bias = 0")
    assert abs(fit.raters["bias"].sum()) < 1e-9


def test_hand_checked_complete_design_ml():
    # Same data, plain ML: v_i^2 = RSS_i / n_i = mean e^2 = 0.3125 for every rater.
    u, q, b, e = _latin_square(4)
    fit = sm.fit_subject_model(_long(u), estimator="ml")
    np.testing.assert_allclose(fit.items["psi"], u.mean(axis=0), atol=1e-9)
    np.testing.assert_allclose(fit.raters["inconsistency"], np.sqrt(0.3125), rtol=1e-7)
    np.testing.assert_allclose(fit.items["se"], np.sqrt(0.3125 / 4), rtol=1e-6)
    assert fit.objective == fit.loglik


def test_leverages_sum_to_the_number_of_free_means():
    # The trace of the hat matrix of the weighted least squares is its rank, J + I - 1 (one
    # constraint); REML divides each rater's residuals by n_i minus their share of it.
    rng = np.random.default_rng(3)
    psi, bias, v = _planted(rng, 7, 12)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.6)
    data = sm._prepare(df, "rater", "item", "score", None)
    means = sm._wls(data, v[data.ri] ** 2, leverage=True)
    assert means.h.sum() == pytest.approx(12 + 7 - 1, rel=1e-9)
    assert (means.h > 0).all() and (means.h <= 1 + 1e-12).all()


def test_single_rater_with_repeats_is_the_pooled_within_item_variance():
    # One rater, each item twice: bias 0 (constraint), psi = item mean, REML v^2 = pooled
    # within-item variance RSS / (n - J) = (4 * 0.25) / (6 - 3) = 1/3, se(psi) = v / sqrt(2).
    df = pd.DataFrame({"rater": ["a"] * 6, "item": ["x", "x", "y", "y", "z", "z"], "score": [1, 2, 3, 3, 4, 5]})
    fit = sm.fit_subject_model(df)
    np.testing.assert_allclose(fit.items["psi"], [1.5, 3.0, 4.5])
    assert fit.raters.loc["a", "bias"] == pytest.approx(0.0, abs=1e-12)
    assert fit.raters.loc["a", "inconsistency"] == pytest.approx(np.sqrt(1 / 3))
    np.testing.assert_allclose(fit.items["se"], np.sqrt(1 / 6))
    assert any("one rater" in n for n in fit.notes)


def test_repeats_are_more_ratings_ml():
    # Every rating given twice: the ML estimates of psi, delta and v are unchanged (the likelihood
    # is squared), and every standard error shrinks by sqrt(2).
    rng = np.random.default_rng(5)
    psi, bias, v = _planted(rng, 6, 15)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.7)
    once = sm.fit_subject_model(df, estimator="ml")
    twice = sm.fit_subject_model(pd.concat([df, df], ignore_index=True), estimator="ml")
    np.testing.assert_allclose(twice.items["psi"], once.items["psi"], atol=1e-7)
    np.testing.assert_allclose(twice.raters["inconsistency"], once.raters["inconsistency"], rtol=1e-6)
    np.testing.assert_allclose(twice.items["se"], once.items["se"] / np.sqrt(2), rtol=1e-5)
    assert (twice.items["n_ratings"] == 2 * once.items["n_ratings"]).all()
    assert (twice.items["n_raters"] == once.items["n_raters"]).all()


def test_scale_and_shift_equivariance():
    rng = np.random.default_rng(6)
    psi, bias, v = _planted(rng, 8, 20)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.7)
    base = sm.fit_subject_model(df)
    moved = sm.fit_subject_model(df.assign(score=3.0 * df["score"] + 10.0))
    np.testing.assert_allclose(moved.items["psi"], 3.0 * base.items["psi"] + 10.0, rtol=1e-7)
    np.testing.assert_allclose(moved.raters["bias"], 3.0 * base.raters["bias"], atol=1e-7)
    np.testing.assert_allclose(moved.raters["inconsistency"], 3.0 * base.raters["inconsistency"], rtol=1e-6)
    np.testing.assert_allclose(moved.items["se"], 3.0 * base.items["se"], rtol=1e-6)


# --- SYNTHETIC recovery, coverage, plain MOS -------------------------------------------------------------


def test_recovers_planted_quality_bias_and_inconsistency_SYNTHETIC():
    # 24 raters x 50 items, each cell rated with p = 0.6 (about 14 raters per item, 30 items per
    # rater). Tolerances from the sample size (4.5 standard errors, so a seeded draw fails only
    # for a real error): psi_j within 4.5 / sqrt(sum over its raters of 1/v_i^2) (its standard
    # error with known weights); delta_i within 4.5 v_i / sqrt(n_i); log v_i within
    # 4.5 / sqrt(n_i) (a variance estimate on at least n_i / 2 degrees of freedom has
    # se(log v) <= 1 / sqrt(n_i)).
    rng = np.random.default_rng(20170721)
    psi, bias, v = _planted(rng, 24, 50)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.6)
    fit = sm.fit_subject_model(df)
    assert fit.converged and not fit.raters["at_floor"].any()
    v_true = _truth(v, "r", fit.raters.index)
    precision = df.assign(w=df["rater"].map(1 / v_true**2)).groupby("item")["w"].sum()
    psi_err = (fit.items["psi"] - _truth(psi, "i", fit.items.index)).abs()
    assert (psi_err <= 4.5 / np.sqrt(precision.reindex(fit.items.index))).all()
    n_i = fit.raters["n_ratings"]
    assert ((fit.raters["bias"] - _truth(bias, "r", fit.raters.index)).abs() <= 4.5 * v_true / np.sqrt(n_i)).all()
    assert (np.abs(np.log(fit.raters["inconsistency"] / v_true)) <= 4.5 / np.sqrt(n_i)).all()
    assert np.corrcoef(fit.items["psi"], _truth(psi, "i", fit.items.index))[0, 1] > 0.97


def test_ci_coverage_close_to_nominal_SYNTHETIC():
    # 40 seeded data sets, 15 raters x 30 items, complete: 1200 psi intervals, 600 bias and
    # inconsistency intervals, 120 means of 10 items (mean_quality). The intervals should cover
    # about 95 % (bench/subject_model_study.py: 0.94 for complete designs). Tolerance: the
    # binomial standard deviation of a coverage over 1200 intervals is 0.006 (0.009 over 600,
    # 0.02 over 120), inflated for the intervals of one data set sharing their estimated weights,
    # so psi must lie in [0.92, 0.98], the others in [0.90, 0.99] and the means in [0.88, 1].
    rng = np.random.default_rng(14)
    hits = {"psi": [], "bias": [], "v": [], "mean": []}
    for _ in range(40):
        psi, bias, v = _planted(rng, 15, 30)
        fit = sm.fit_subject_model(sm.simulate_ratings(psi, bias, v, rng=rng))
        it, ra = fit.items, fit.raters
        truth = _truth(psi, "i", it.index)
        hits["psi"] += list((it["ci_low"] <= truth) & (truth <= it["ci_high"]))
        b_true, v_true = _truth(bias, "r", ra.index), _truth(v, "r", ra.index)
        hits["bias"] += list((ra["bias_ci_low"] <= b_true) & (b_true <= ra["bias_ci_high"]))
        hits["v"] += list((ra["inconsistency_ci_low"] <= v_true) & (v_true <= ra["inconsistency_ci_high"]))
        for start in range(0, 30, 10):
            q, se = fit.mean_quality([f"i{j:03d}" for j in range(start, start + 10)])
            hits["mean"].append(abs(q - psi[start:start + 10].mean()) <= 1.959964 * se)
    coverage = {k: float(np.mean(x)) for k, x in hits.items()}
    assert 0.92 <= coverage["psi"] <= 0.98, coverage
    assert 0.90 <= coverage["bias"] <= 0.99, coverage
    assert 0.90 <= coverage["v"] <= 0.99, coverage
    assert 0.88 <= coverage["mean"] <= 1.0, coverage


def test_closer_to_truth_than_plain_mos_with_biased_raters_and_incomplete_design_SYNTHETIC():
    # Biased (sd 0.8) and unequally consistent (v 0.3..1.5) raters, each rating 35 % of the items:
    # an item's plain MOS carries the mean bias of whoever rated it and weighs a noisy rater like a
    # careful one. Measured (these 10 seeded data sets): RMSE 0.33 (model) vs 0.45 (plain MOS).
    rng = np.random.default_rng(20170721)
    model, plain = [], []
    for _ in range(10):
        psi, bias, v = _planted(rng, 16, 40, bias_sd=0.8, v_lo=0.3, v_hi=1.5)
        fit = sm.fit_subject_model(sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.35))
        truth = _truth(psi, "i", fit.items.index)
        model.append(np.sqrt(np.mean((fit.items["psi"] - truth) ** 2)))
        plain.append(np.sqrt(np.mean((fit.items["mos"] - truth) ** 2)))
    model, plain = np.array(model), np.array(plain)
    assert (model < plain).all(), (model, plain)
    assert model.mean() < 0.8 * plain.mean(), (model.mean(), plain.mean())


def test_reml_keeps_a_consistent_rater_that_ml_collapses_SYNTHETIC():
    # The reason REML is the default: 20 raters, half the cells rated. Rater r07 (v = 0.44, the
    # most consistent) has no interior ML maximum here: ML drives v to the floor (and says so);
    # REML estimates it near the truth and its psi are closer to the truth.
    rng = np.random.default_rng(3)
    psi, bias, v = _planted(rng, 20, 60)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.5)
    ml = sm.fit_subject_model(df, estimator="ml")
    reml = sm.fit_subject_model(df)
    assert ml.raters.loc["r07", "at_floor"] and ml.raters.loc["r07", "inconsistency"] == sm.V_FLOOR
    assert any("r07" in n and "reml" in n for n in ml.notes)
    assert not reml.raters["at_floor"].any()
    assert abs(np.log(reml.raters.loc["r07", "inconsistency"] / v[7])) < 0.3
    truth = _truth(psi, "i", reml.items.index)
    assert np.mean((reml.items["psi"] - truth) ** 2) < np.mean((ml.items["psi"] - truth) ** 2)


def test_content_ambiguity_SYNTHETIC():
    # 12 raters x (10 contents x 4 methods), complete, planted ambiguity with its smallest value at
    # the floor (the model's convention), so every parameter is comparable with the truth. Only
    # v_i^2 + a_c^2 is identified; check those sums and the ordering of the ambiguities.
    rng = np.random.default_rng(8)
    n_c, n_m = 10, 4
    psi, bias, v = _planted(rng, 12, n_c * n_m, v_lo=0.3, v_hi=0.9)
    a = np.sort(rng.uniform(0.2, 1.0, n_c))
    a[0] = sm.A_FLOOR
    content_of_item = np.arange(n_c * n_m) % n_c
    df = sm.simulate_ratings(psi, bias, v, rng=rng, ambiguity=a, content_of_item=content_of_item)
    fit = sm.fit_subject_model(df, content="content")
    assert fit.converged and fit.contents is not None
    assert any("only v_i^2 + a_c^2" in n for n in fit.notes)
    a_hat = fit.contents["ambiguity"].to_numpy()
    assert a_hat.min() == pytest.approx(sm.A_FLOOR)
    assert np.corrcoef(a_hat, a)[0, 1] > 0.85
    v_hat = fit.raters["inconsistency"].to_numpy()
    sums_hat = v_hat[:, None] ** 2 + a_hat[None, :] ** 2
    sums = v[:, None] ** 2 + a[None, :] ** 2
    assert np.median(np.abs(sums_hat / sums - 1)) < 0.25
    truth = _truth(psi, "i", fit.items.index)
    assert np.sqrt(np.mean((fit.items["psi"] - truth) ** 2)) < 0.35
    assert (fit.items["content"] == [f"c{c:02d}" for c in content_of_item[[int(x[1:]) for x in fit.items.index]]]).all()


# --- degenerate cases and bad input ----------------------------------------------------------------------


def test_a_rater_without_noise_is_floored_and_flagged_never_nan():
    # SYNTHETIC: rater r00 gives exactly psi + bias (no noise). Their residuals vanish, the
    # likelihood is unbounded there: v is held at the floor, flagged, and everything stays finite.
    rng = np.random.default_rng(11)
    psi, bias, v = _planted(rng, 8, 20)
    df = sm.simulate_ratings(psi, bias, v, rng=rng)
    exact = df["rater"] == "r00"
    df.loc[exact, "score"] = psi[df.loc[exact, "item"].str[1:].astype(int)] + bias[0]
    fit = sm.fit_subject_model(df)
    assert fit.raters.loc["r00", "at_floor"] and fit.raters.loc["r00", "inconsistency"] == sm.V_FLOOR
    assert any(n.startswith("rater r00: inconsistency at the floor") for n in fit.notes)
    for table in (fit.items, fit.raters):
        assert np.isfinite(table.select_dtypes("number").to_numpy(dtype=float)).all()
    # the capped weight (1/0.1^2 = 100 against about 11 for the 7 others together) makes r00's
    # scores dominate: differences between items are theirs, up to 10 % of the others' noise
    truth = _truth(psi, "i", fit.items.index)
    np.testing.assert_allclose(fit.items["psi"] - fit.items["psi"].mean(), truth - truth.mean(), atol=0.1)


def test_single_rater_without_repeats_is_their_scores_with_a_clear_note():
    fit = sm.fit_subject_model(_long(np.array([[1.0, 2.0, 4.0]])))
    np.testing.assert_allclose(fit.items["psi"], [1.0, 2.0, 4.0])
    assert fit.raters["bias"].tolist() == [0.0]
    assert fit.raters["at_floor"].tolist() == [True]
    assert any("one rater" in n for n in fit.notes)
    assert any("not identifiable" in n for n in fit.notes)
    assert np.isfinite(fit.items[["se", "ci_low", "ci_high"]].to_numpy()).all()


def test_item_with_one_rating_is_that_rating_minus_the_bias():
    rng = np.random.default_rng(12)
    psi, bias, v = _planted(rng, 6, 10)
    df = sm.simulate_ratings(psi, bias, v, rng=rng)
    df = pd.concat([df, pd.DataFrame({"rater": ["r02"], "item": ["lonely"], "score": [3.7]})], ignore_index=True)
    fit = sm.fit_subject_model(df)
    lonely = fit.items.loc["lonely"]
    assert lonely["n_ratings"] == 1
    assert lonely["psi"] == pytest.approx(3.7 - fit.raters.loc["r02", "bias"], abs=1e-9)
    assert lonely["se"] > fit.raters.loc["r02", "inconsistency"] * 0.99  # at least the rater's noise
    assert any("1 item(s) rest on one rating" in n for n in fit.notes)


def test_two_raters_are_refused_as_not_identified():
    u = np.array([[1, 2, 3, 4, 5.0], [2, 2, 4, 5, 5]])
    with pytest.raises(SrbenchError, match="two raters only the sum of their squared inconsistencies"):
        sm.fit_subject_model(_long(u))
    fit = sm.fit_subject_model(_long(u), require_convergence=False)
    assert not fit.converged
    np.testing.assert_allclose(fit.items["psi"], u.mean(axis=0), atol=1e-9)  # means are still defined


def test_non_convergence_is_an_error_or_a_flag_never_silent():
    rng = np.random.default_rng(13)
    psi, bias, v = _planted(rng, 10, 20)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.5)
    with pytest.raises(SrbenchError, match="did not converge: not converged"):
        sm.fit_subject_model(df, max_iter=2)
    fit = sm.fit_subject_model(df, max_iter=2, require_convergence=False)
    assert not fit.converged and fit.iterations == 2
    assert any(n.startswith("not converged") for n in fit.notes)


def test_disconnected_design_is_refused():
    df = pd.DataFrame({"rater": ["a", "a", "b", "b"], "item": ["x", "y", "z", "w"], "score": [1, 2, 3, 4]})
    with pytest.raises(SrbenchError, match="2 groups that share no rater-item link"):
        sm.fit_subject_model(df)


@pytest.mark.parametrize("frame, message", [
    (pd.DataFrame({"rater": ["a"], "score": [3]}), "lack column"),
    (pd.DataFrame({"rater": [], "item": [], "score": []}), "no ratings"),
    (pd.DataFrame({"rater": ["a", None], "item": ["x", "y"], "score": [3, 4]}), "no rater, item"),
    (pd.DataFrame({"rater": ["a", "b"], "item": ["x", "x"], "score": [3, "bad"]}), "'bad' is not a finite"),
    (pd.DataFrame({"rater": ["a", "b"], "item": ["x", "x"], "score": [3, np.inf]}), "not a finite number"),
])
def test_bad_input_is_one_clear_error(frame, message):
    with pytest.raises(SrbenchError, match=message):
        sm.fit_subject_model(frame)


def test_bad_options_and_contents_are_refused():
    df = pd.DataFrame({"rater": ["a", "b", "a", "b"], "item": ["x", "x", "y", "y"], "score": [1, 2, 3, 4],
                       "content": ["c1", "c2", "c1", "c1"]})
    with pytest.raises(SrbenchError, match="item 'x' belongs to more than one content"):
        sm.fit_subject_model(df, content="content")
    with pytest.raises(SrbenchError, match="estimator must be"):
        sm.fit_subject_model(df, estimator="bayes")
    with pytest.raises(SrbenchError, match="level must be"):
        sm.fit_subject_model(df, level=95)
    with pytest.raises(SrbenchError, match="v_floor"):
        sm.fit_subject_model(df, v_floor=0)


# --- per-method quality for the report -------------------------------------------------------------------


def _method_ratings(rng):
    """SYNTHETIC MOS-study ratings: 2 sets x 3 methods x 12 images, 10 raters, complete."""
    rows, truth = [], {}
    bias = rng.normal(0, 0.5, 10)
    bias -= bias.mean()
    v = rng.uniform(0.4, 1.0, 10)
    for dataset in ("set5", "set14"):
        for m, level in (("bicubic", 2.0), ("srgan", 3.6), ("hr", 4.5)):
            quality = level + rng.normal(0, 0.3, 12)
            truth[(dataset, m)] = quality.mean()
            for k in range(12):
                for i in range(10):
                    rows.append((f"r{i}", dataset, m, f"img{k}", quality[k] + bias[i] + v[i] * rng.normal()))
    return pd.DataFrame(rows, columns=["rater", "dataset", "method", "image", "score"]), truth


def test_method_quality_sits_beside_the_reports_plain_mos_SYNTHETIC():
    rng = np.random.default_rng(17)
    ratings, truth = _method_ratings(rng)
    table, fit = sm.method_quality(ratings, n_boot=200)
    assert list(table.columns) == ["dataset", "method"] + sm.METHOD_COLUMNS
    assert len(table) == 6 and fit.converged
    for row in table.itertuples(index=False):
        sub = ratings[(ratings["dataset"] == row.dataset) & (ratings["method"] == row.method)]
        plain = stats.mos_with_ci(sub[["rater", "image", "score"]], label=f"{row.dataset}/{row.method}", n_boot=200)
        assert (row.mos, row.mos_ci_low, row.mos_ci_high) == (plain.mean, plain.ci_low, plain.ci_high)
        items = [(row.dataset, row.method, f"img{k}") for k in range(12)]
        assert row.quality == pytest.approx(fit.items.loc[items, "psi"].mean())
        assert (row.n_ratings, row.n_raters, row.n_images) == (120, 10, 12)
        assert row.quality_ci_low < row.quality < row.quality_ci_high
        assert row.quality_ci_high - row.quality == pytest.approx(1.959964 * row.quality_se, rel=1e-6)
        # complete design: the model's quality is the plain mean up to the raters' weighting,
        # and lies within 4 of its standard errors of the planted mean of the 12 images
        assert abs(row.quality - truth[(row.dataset, row.method)]) < 4 * row.quality_se
        # population interval: adds the spread of the biases and of the method's images
        own = fit.items.loc[items, "psi"]
        pop = np.sqrt(row.quality_se**2 + fit.raters["bias"].var(ddof=1) / 10 + own.var(ddof=1) / 12)
        assert row.quality_se_pop == pytest.approx(pop, rel=1e-12)
        assert row.quality_ci_pop_low == pytest.approx(row.quality - 1.959964 * pop, rel=1e-6)
        assert row.quality_se_pop > 2 * row.quality_se  # images differ (sd 0.3) more than the noise says


def test_covariance_matches_a_brute_force_constrained_inverse_SYNTHETIC():
    # Independent check of the Schur-complement formulas: build the design matrix X of
    # (psi, delta), restrict delta to sum zero (basis Z), and invert Z' X' W X Z densely.
    rng = np.random.default_rng(21)
    psi, bias, v = _planted(rng, 6, 9)
    df = sm.simulate_ratings(psi, bias, v, rng=rng, p_rated=0.6)
    fit = sm.fit_subject_model(df)
    items, raters = list(fit.items.index), list(fit.raters.index)
    n_i, n_r = len(items), len(raters)
    x = np.zeros((len(df), n_i + n_r))
    x[np.arange(len(df)), df["item"].map(items.index)] = 1.0
    x[np.arange(len(df)), n_i + df["rater"].map(raters.index)] = 1.0
    w = 1.0 / df["rater"].map(fit.raters["inconsistency"]).to_numpy() ** 2
    basis = np.zeros((n_r, n_r - 1))  # delta = basis @ t sums to zero: e_k - e_last
    basis[np.arange(n_r - 1), np.arange(n_r - 1)] = 1.0
    basis[-1, :] = -1.0
    z = np.block([[np.eye(n_i), np.zeros((n_i, n_r - 1))], [np.zeros((n_r, n_i)), basis]])
    cov = z @ np.linalg.inv(z.T @ x.T @ (w[:, None] * x) @ z) @ z.T
    np.testing.assert_allclose(fit.items["se"], np.sqrt(np.diag(cov)[:n_i]), rtol=1e-8)
    np.testing.assert_allclose(fit.raters["bias_se"], np.sqrt(np.diag(cov)[n_i:]), rtol=1e-8)
    block = [0, 2, 3, 7]
    _, se = fit.mean_quality([items[k] for k in block])
    assert se == pytest.approx(np.sqrt(cov[np.ix_(block, block)].sum()) / len(block), rel=1e-8)
    assert fit.mean_quality([items[4]]) == pytest.approx((fit.items["psi"].iloc[4], fit.items["se"].iloc[4]))


def test_method_quality_uses_first_showings_for_plain_mos_and_every_rating_for_the_model():
    rng = np.random.default_rng(18)
    ratings, _ = _method_ratings(rng)
    again = ratings.sample(40, random_state=1).assign(score=lambda x: x["score"] + 0.1)
    both = pd.concat([ratings.assign(repeat=0), again.assign(repeat=1)], ignore_index=True)
    table, fit = sm.method_quality(both, n_boot=100)
    plain, _ = sm.method_quality(ratings, n_boot=100)
    np.testing.assert_array_equal(table["mos"], plain["mos"])
    assert fit.n_ratings == len(ratings) + 40
    assert table["n_ratings"].sum() == len(ratings) + 40


def test_method_quality_errors():
    rng = np.random.default_rng(19)
    ratings, _ = _method_ratings(rng)
    with pytest.raises(SrbenchError, match="lack column"):
        sm.method_quality(ratings.drop(columns="image"))
    with pytest.raises(SrbenchError, match="unknown items"):
        sm.method_quality(ratings, n_boot=10)[1].mean_quality([("set5", "nope", "img0")])


def test_bench_study_smoke():
    proc = subprocess.run([sys.executable, str(PROJECT_ROOT / "bench" / "subject_model_study.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("SYNTHETIC subject-model study: 3 data sets per design")
    assert "rmse REML" in lines[1] and lines[2].startswith("complete 20x60")
    values = lines[2].split()[2:]
    assert len(values) == 14 and all(np.isfinite(float(x)) for x in values)
    assert lines[3].startswith("per-method 95% intervals") and "coverage quality_ci_pop" in lines[3]
