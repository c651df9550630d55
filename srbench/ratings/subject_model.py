"""Subject model for MOS studies: item quality, rater bias and inconsistency by (restricted) maximum likelihood.

Model (Li & Bampis 2017, "Recover subjective quality scores from noisy
measurements", DCC; the subject model of ITU-T P.913 (06/2021) and of
Netflix SUREAL's ``MLE_CO``; with ``content`` given, SUREAL's ``MLE``)::

    u_n = psi_j + delta_i + v_i * X_n   (+ a_c * Y_n)      X_n, Y_n ~ N(0, 1), all independent

for rating ``n`` of item ``j`` by rater ``i``: ``psi_j`` the item's quality,
``delta_i`` the rater's bias, ``v_i > 0`` the rater's inconsistency (standard
deviation, score units) and, optionally, ``a_c > 0`` the ambiguity of the
item's content ``c`` (e.g. the source image shared by every method's output of
it). A rater may rate an item several times (repeats are more observations)
and need not rate every item.

Conventions (stated once here; :class:`SubjectModelFit` carries them):

* **Identifiability.** ``psi + k`` and ``delta - k`` fit equally well, so the
  biases are constrained to mean zero over raters (unweighted, as SUREAL's
  ``force_subjbias_zeromean``): ``psi_j`` is the score the *average rater*
  would give item ``j`` without noise. The rater-item graph must be connected
  (every pair of raters linked through shared items); otherwise the groups'
  scales cannot be compared and :func:`fit_subject_model` refuses. With
  ambiguity only ``v_i^2 + a_c^2`` is determined (adding ``k`` to every
  ``v_i^2`` and taking it from every ``a_c^2`` changes nothing): by convention
  the least ambiguous content has ``a = a_floor`` and ``a_c`` is the ambiguity
  in excess of it.
* **Estimator.** ``estimator="reml"`` (default): ``psi`` and ``delta`` by
  maximum likelihood given the variances (weighted least squares), the
  variances by *restricted* maximum likelihood (REML: the likelihood of the
  residual contrasts, Patterson & Thompson 1971), i.e. a rater's squared
  residuals are divided by their residual degrees of freedom ``n_i - sum of
  the leverages of their ratings`` instead of by ``n_i``.
  ``estimator="ml"``: plain maximum likelihood of every parameter, as Li &
  Bampis, SUREAL and P.913. Why REML is the default: the number of item
  parameters grows with the data (a Neyman-Scott problem), and in incomplete
  designs ML has no interior maximum for a rater markedly more consistent than
  the others on the items they rated (one rater against the weighted mean of
  the rest: the ML fixed point exists only if the rater's noise variance is at
  least 3 times that mean's); ML then drives that rater's ``v`` to the floor
  and lets them dictate their items' ``psi``. ``bench/subject_model_study.py``
  measures it: psi CI coverage 0.73-0.79 (ML) against 0.90-0.93 (REML) in
  incomplete designs, with REML's psi also closer to the truth; in complete
  designs both agree.
* **Algorithm.** Block coordinate ascent from the plain-MOS start: (1) given
  the variances, ``(psi, delta)`` is solved exactly by weighted least squares
  (weights ``1/(v_i^2 + a_c^2)``); (2) given the means, ``v_i^2`` = the rater's
  residual sum of squares over ``n_i`` (ML) or over ``n_i`` minus their
  leverages (REML fixed point), or, with ambiguity, one Fisher-scoring step in
  ``(log v, log a)`` with step halving on the (restricted) profile likelihood.
  Stopped when no parameter moves by more than ``tol`` (score units).
  **Convergence** additionally requires every free variance's score to be
  below ``1e-6`` standard errors and the Hessian of the (restricted) profile
  likelihood in the free variances to be negative definite: a strict local
  maximum, not a saddle or a ridge; otherwise ``converged`` is False (an error
  by default) and ``notes`` says which check failed.
* **Degenerate cases.** The likelihood is unbounded: a rater whose scores can
  be fitted exactly has ``v_i -> 0`` and likelihood ``-> +inf``; under REML a
  rater with no residual degrees of freedom (one rating; the only rater
  without repeats) has an unidentifiable ``v_i``. ``v_i`` (``a_c``) is
  floored at ``v_floor`` (``a_floor``) so nothing is NaN or infinite; every
  parameter at its floor is flagged (``at_floor``), named in ``notes``, held
  fixed in the information, and its CI is not meaningful. With exactly two
  raters only ``v_1^2 + v_2^2`` is identified: the fit reports a ridge
  (not converged). One rater: bias 0 by the constraint, ``psi`` = their
  (mean) scores. An item with one rating: ``psi`` = rating minus bias.
* **Confidence intervals** (two-sided, ``level``, normal quantile ``z``).
  ``psi`` and ``delta``: ``estimate +- z * se`` with the covariance
  ``(X' W X)^-`` of the weighted least squares at the estimated weights under
  the constraint: the expected Fisher information of the means, the *full*
  matrix, so ``psi``'s error includes that of the biases it was corrected
  by. (SUREAL reports ``1/sqrt(sum_i 1/v_i^2)`` per item, the diagonal of the
  same information, which leaves that out.) ``v`` and ``a``: Wald on the log
  scale, ``v * exp(+-z * se(log v))``, ``se`` from the inverse of minus the
  Hessian of the (restricted) profile log-likelihood (observed information,
  central differences of the analytic score). The means' intervals ignore the
  error of the estimated weights, so they are somewhat narrow when the
  weights rest on few ratings (measured coverage of nominal 95 %: 0.94 in
  complete designs, 0.90-0.93 with 5-10 raters per item).
* **Per-method quality** (:func:`method_quality`): one joint fit over all
  items (dataset x method x image) so each rater's bias and inconsistency
  are estimated from everything they rated; a method's quality on a set is
  the mean of ``psi`` over its rated images, with the standard error of that
  mean from the same covariance. That interval is *conditional on this panel
  and these images*: it answers "how well do these raters' noisy scores pin
  down the average rater's opinion of these images". A second interval
  (``quality_ci_pop_*``) also treats raters and images as samples, like the
  plain MOS's two-way bootstrap (:func:`srbench.ratings.stats.mos_with_ci`) printed
  beside it; compare the model with plain MOS on that one.

:func:`simulate_ratings` draws SYNTHETIC ratings from the model (tests and
``bench/subject_model_study.py``); its output is not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Literal, Sequence

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse
import scipy.sparse.csgraph
import scipy.stats

from srbench.ratings import stats
from srbench.errors import SrbenchError

V_FLOOR = 0.1
"""Floor of a rater's inconsistency (score units): a tenth of one step of the 1..5 scale, far below
real raters' noise (rounding to integer scores alone adds about 0.29 = 1/sqrt(12))."""
A_FLOOR = 0.01
"""Floor of a content's ambiguity (score units); at the floor = no ambiguity detectable."""
TOL = 1e-9
MAX_ITER = 2000
SCORE_TOL = 1e-6
"""Largest |score| / sqrt(information) of a free parameter accepted as stationary."""

CONSTRAINT = "mean rater bias = 0 (unweighted over raters)"


@dataclass(frozen=True)
class SubjectModelFit:
    """Result of :func:`fit_subject_model` (units: the rating scale; ``level`` two-sided CIs).

    ``items``: index = item; columns ``psi, se, ci_low, ci_high, mos`` (plain mean of its ratings),
    ``n_ratings, n_raters`` and ``content`` when ambiguity is modelled.
    ``raters``: index = rater; columns ``bias, bias_se, bias_ci_low, bias_ci_high, inconsistency,
    inconsistency_ci_low, inconsistency_ci_high, n_ratings, n_items, at_floor``.
    ``contents``: ``None`` without ambiguity, else index = content; columns ``ambiguity,
    ambiguity_ci_low, ambiguity_ci_high, n_ratings, at_floor``.
    ``loglik``: log-likelihood of the ratings at the estimates; ``objective``: the criterion
    maximised (= ``loglik`` for ML; the restricted log-likelihood, up to a constant of the design,
    for REML). ``notes``: every degenerate case met, in words (print them beside the numbers).
    """

    items: pd.DataFrame
    raters: pd.DataFrame
    contents: pd.DataFrame | None
    loglik: float
    objective: float
    estimator: str
    n_ratings: int
    iterations: int
    converged: bool
    level: float
    v_floor: float
    constraint: str = CONSTRAINT
    notes: tuple[str, ...] = ()
    _inv_wj: np.ndarray = field(default=None, repr=False, compare=False)  # (J,) 1 / sum of weights per item
    _g: np.ndarray = field(default=None, repr=False, compare=False)       # (J, I) rater weight shares
    _mplus: np.ndarray = field(default=None, repr=False, compare=False)   # (I, I) covariance of the biases

    def mean_quality(self, items: Sequence[Hashable]) -> tuple[float, float]:
        """Mean of ``psi`` over ``items`` (distinct) and its standard error from the model covariance.

        Conditional on this panel and these items: the error reflects the raters' noise and the
        estimated biases, not the sampling of raters or images (see :func:`method_quality`).
        """
        pos = self.items.index.get_indexer(list(items))
        if len(pos) == 0 or (pos < 0).any():
            missing = [x for x, p in zip(items, pos) if p < 0]
            raise SrbenchError(f"subject model: unknown items {missing[:3]}" if missing else
                               "subject model: no items to average")
        if len(set(pos.tolist())) != len(pos):
            raise SrbenchError("subject model: mean_quality got the same item twice")
        n = len(pos)
        h = self._g[pos].sum(axis=0) / n  # Cov(psi) = diag(inv_wj) + G Mplus G' (block inverse)
        var = self._inv_wj[pos].sum() / n**2 + float(h @ self._mplus @ h)
        return float(self.items["psi"].to_numpy()[pos].mean()), float(np.sqrt(max(var, 0.0)))


# --- data preparation ------------------------------------------------------------------------------


@dataclass
class _Data:
    u: np.ndarray          # (N,) scores
    ri: np.ndarray         # (N,) rater index
    ij: np.ndarray         # (N,) item index
    cj: np.ndarray | None  # (J,) content index of each item
    raters: pd.Index
    items: pd.Index
    contents: pd.Index | None

    @property
    def sizes(self) -> tuple[int, int, int]:
        return len(self.raters), len(self.items), 0 if self.contents is None else len(self.contents)


def _prepare(ratings: pd.DataFrame, rater: str, item: str, score: str, content: str | None) -> _Data:
    if not isinstance(ratings, pd.DataFrame):
        raise SrbenchError("subject model: ratings must be a pandas DataFrame")
    needed = [rater, item, score] + ([content] if content is not None else [])
    missing = [c for c in needed if c not in ratings.columns]
    if missing:
        raise SrbenchError(f"subject model: ratings lack column(s) {', '.join(missing)} "
                           f"(have {', '.join(map(str, ratings.columns))})")
    if ratings.empty:
        raise SrbenchError("subject model: no ratings")
    if ratings[[rater, item] + ([content] if content else [])].isna().any().any():
        raise SrbenchError("subject model: a rating has no rater, item or content")
    u = pd.to_numeric(ratings[score], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(u).all():
        bad = ratings[score].iloc[int(np.flatnonzero(~np.isfinite(u))[0])]
        raise SrbenchError(f"subject model: score {bad!r} is not a finite number")
    ri, raters = pd.factorize(ratings[rater], sort=True)
    ij, items = pd.factorize(ratings[item], sort=True)
    cj = contents = None
    if content is not None:
        pairs = pd.DataFrame({"j": ij, "c": ratings[content].to_numpy()}).drop_duplicates()
        if pairs["j"].duplicated().any():
            j = int(pairs.loc[pairs["j"].duplicated(), "j"].iloc[0])
            raise SrbenchError(f"subject model: item {items[j]!r} belongs to more than one {content}")
        codes, contents = pd.factorize(pairs.sort_values("j")["c"], sort=True)
        cj = np.asarray(codes)
    return _Data(u, np.asarray(ri), np.asarray(ij), cj, pd.Index(raters), pd.Index(items),
                 None if contents is None else pd.Index(contents))


def _check_connected(d: _Data) -> None:
    n_r, n_i, _ = d.sizes
    graph = scipy.sparse.coo_matrix((np.ones(d.u.size), (d.ri, n_r + d.ij)), shape=(n_r + n_i,) * 2)
    n_comp, labels = scipy.sparse.csgraph.connected_components(graph, directed=False)
    if n_comp > 1:
        first = [d.raters[labels[:n_r] == k][:2].tolist() for k in range(min(n_comp, 2))]
        raise SrbenchError(f"subject model: the ratings fall into {n_comp} groups that share no rater-item link "
                           f"(e.g. raters {first[0]} vs {first[1]}): their scales cannot be compared; "
                           "fit each group separately")


# --- likelihood pieces ---------------------------------------------------------------------------------


@dataclass
class _Means:
    """Weighted least squares for (psi, delta) at given variances, with what the covariance needs."""

    psi: np.ndarray
    delta: np.ndarray
    inv_wj: np.ndarray      # (J,) 1 / (sum of weights of item j)
    g: np.ndarray           # (J, I) weight share of rater i in item j
    mplus: np.ndarray       # (I, I) covariance of delta under sum(delta) = 0
    logdet: float           # log det of the (psi, delta) information under the constraint
    h: np.ndarray | None    # (N,) leverage of each rating in the fit


def _variances(d: _Data, v: np.ndarray, a: np.ndarray | None) -> np.ndarray:
    s2 = v[d.ri] ** 2
    if a is not None:
        s2 = s2 + a[d.cj[d.ij]] ** 2
    return s2


def _wls(d: _Data, s2: np.ndarray, leverage: bool) -> _Means:
    """Exact weighted least squares of ``u = psi_j + delta_i`` (weights ``1/s2``), ``sum(delta) = 0``.

    Eliminating psi leaves ``M delta = c`` with ``M`` singular along ``1`` (a common shift) and
    ``1'c = 0``, so ``(M + k 11') delta = c`` gives the zero-sum solution, and
    ``(M + k 11')^-1 - 11'/(k I^2)`` is the pseudo-inverse of ``M``: the covariance of delta.
    """
    n_r, n_i, _ = d.sizes
    w = 1.0 / s2
    wj = np.bincount(d.ij, w, n_i)
    wi = np.bincount(d.ri, w, n_r)
    b = np.bincount(d.ij * n_r + d.ri, w, n_i * n_r).reshape(n_i, n_r)
    g = b / wj[:, None]
    ybar = np.bincount(d.ij, w * d.u, n_i) / wj
    m = np.diag(wi) - b.T @ g
    k = wi.mean() / n_r
    mk = (m + m.T) / 2 + k
    c = np.bincount(d.ri, w * d.u, n_r) - b.T @ ybar
    try:
        chol = scipy.linalg.cho_factor(mk, lower=True)
    except np.linalg.LinAlgError as exc:  # connectivity is checked first; this is numerical breakdown
        raise SrbenchError("subject model: the weighted design became singular (raters' weights differ by "
                           "too many orders of magnitude)") from exc
    delta = scipy.linalg.cho_solve(chol, c)
    psi = ybar - g @ delta
    mplus = scipy.linalg.cho_solve(chol, np.eye(n_r)) - 1.0 / (k * n_r * n_r)
    logdet = float(np.sum(np.log(wj)) + 2 * np.sum(np.log(np.diag(chol[0]))) - np.log(k * n_r))
    h = None
    if leverage:  # h_n = w_n Var(psi_j + delta_i) / 1, the diagonal of the hat matrix
        gm = g @ mplus
        q = np.sum(gm * g, axis=1)[:, None] - 2 * gm + np.diag(mplus)[None, :]
        h = w * (1.0 / wj[d.ij] + q[d.ij, d.ri])
    return _Means(psi, delta, 1.0 / wj, g, mplus, logdet, h)


def _objective(d: _Data, mm: _Means, s2: np.ndarray, reml: bool) -> tuple[float, float]:
    """``(loglik, objective)``: the log-likelihood at (psi, delta, s2) and the maximised criterion
    (the same for ML; for REML the restricted log-likelihood, up to a constant of the design)."""
    r = d.u - mm.psi[d.ij] - mm.delta[d.ri]
    ll = float(-0.5 * np.sum(np.log(2 * np.pi * s2) + r * r / s2))
    return ll, (ll - 0.5 * mm.logdet if reml else ll)


def _theta_split(theta: np.ndarray, n_r: int, with_a: bool):
    return np.exp(theta[:n_r]), (np.exp(theta[n_r:]) if with_a else None)


def _score(d: _Data, mm: _Means, v: np.ndarray, a: np.ndarray | None, reml: bool):
    """Score of the criterion w.r.t. theta = [log v, log a] and a scoring metric (approximate information).

    score = sum_n (dsigma2_n/dtheta / (2 sigma2_n)) (r_n^2 / sigma2_n - (1 - h_n)), h = 0 for ML.
    """
    n_r, _, n_c = d.sizes
    s2 = _variances(d, v, a)
    r = d.u - mm.psi[d.ij] - mm.delta[d.ri]
    keep = 1.0 - mm.h if reml else np.ones_like(s2)
    base = r * r / s2 - keep
    fv = v[d.ri] ** 2 / s2
    score = [np.bincount(d.ri, fv * base, n_r)]
    info_diag = [np.bincount(d.ri, 2 * fv * fv * keep * keep, n_r)]
    cross = None
    if a is not None:
        ck = d.cj[d.ij]
        fa = a[ck] ** 2 / s2
        score.append(np.bincount(ck, fa * base, n_c))
        info_diag.append(np.bincount(ck, 2 * fa * fa * keep * keep, n_c))
        cross = np.bincount(d.ri * n_c + ck, 2 * fv * fa * keep * keep, n_r * n_c).reshape(n_r, n_c)
    info = np.diag(np.concatenate(info_diag))
    if cross is not None:
        info[:n_r, n_r:] = cross
        info[n_r:, :n_r] = cross.T
    return np.concatenate(score), info


def _profile(d: _Data, theta: np.ndarray, reml: bool):
    """Means, criterion and score at the variances ``theta`` (means re-solved: profile likelihood)."""
    n_r = d.sizes[0]
    v, a = _theta_split(theta, n_r, d.cj is not None)
    s2 = _variances(d, v, a)
    mm = _wls(d, s2, leverage=reml)
    ll, obj = _objective(d, mm, s2, reml)
    score, info = _score(d, mm, v, a, reml)
    return mm, ll, obj, score, info


def _scoring_step(d: _Data, theta, lower, reml: bool):
    """One Fisher-scoring step on the profile criterion, with step halving (never lowers it)."""
    _, _, base, g, info = _profile(d, theta, reml)
    free = ~((theta <= lower + 1e-12) & (g <= 0))  # at the floor and pushing down: stays there
    step = np.zeros_like(theta)
    if free.any():
        sub = info[np.ix_(free, free)]
        sub = sub + 1e-10 * max(np.trace(sub) / free.sum(), 1e-300) * np.eye(int(free.sum()))
        step[free] = scipy.linalg.solve(sub, g[free], assume_a="sym")
    lam = 1.0
    for _ in range(40):
        new = np.maximum(theta + lam * step, lower)
        if _profile(d, new, reml)[2] >= base:
            return new
        lam /= 2
    return theta


def _shift_to_raters(theta: np.ndarray, n_r: int, a_floor: float) -> np.ndarray:
    """Move the variance shared by every content into the raters (same likelihood; see the notes).

    ``v_i^2 + a_c^2`` is unchanged by ``v_i^2 + k, a_c^2 - k``; the convention ``min_c a_c = a_floor``
    picks one point of that flat ridge.
    """
    v2, a2 = np.exp(2 * theta[:n_r]), np.exp(2 * theta[n_r:])
    k = a2.min() - a_floor**2
    return np.concatenate([0.5 * np.log(v2 + k), 0.5 * np.log(np.maximum(a2 - k, a_floor**2))])


def _profile_hessian(d: _Data, theta: np.ndarray, free: np.ndarray, reml: bool, eps: float = 1e-5) -> np.ndarray:
    """Hessian of the profile criterion w.r.t. the free entries of theta (central differences of the score)."""
    idx = np.flatnonzero(free)
    hess = np.zeros((idx.size, idx.size))
    for col, k in enumerate(idx):
        up, down = theta.copy(), theta.copy()
        up[k] += eps
        down[k] -= eps
        hess[:, col] = (_profile(d, up, reml)[3][idx] - _profile(d, down, reml)[3][idx]) / (2 * eps)
    return (hess + hess.T) / 2


# --- the fit ------------------------------------------------------------------------------------------


def _check_options(estimator: str, level: float, v_floor: float, a_floor: float) -> None:
    if estimator not in ("reml", "ml"):
        raise SrbenchError(f"subject model: estimator must be 'reml' or 'ml', not {estimator!r}")
    if not 0 < level < 1:
        raise SrbenchError(f"subject model: level must be in (0, 1), got {level}")
    if not (0 < v_floor < np.inf and 0 < a_floor < np.inf):
        raise SrbenchError("subject model: v_floor and a_floor must be positive and finite")


def _start(d, n_per_rater: np.ndarray, v_floor: float, a_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """``(mos, theta)``: plain MOS per item, no bias; log residual spread per rater (halved with content
    ambiguity), then the log spread per content."""
    n_r, n_i, n_c = d.sizes
    with_a = n_c > 0
    mos = np.bincount(d.ij, d.u, n_i) / np.bincount(d.ij, minlength=n_i)
    r2 = (d.u - mos[d.ij]) ** 2
    v = np.sqrt(np.bincount(d.ri, r2, n_r) / n_per_rater / (2 if with_a else 1))
    theta = np.log(np.maximum(v, v_floor))
    if with_a:
        a = np.sqrt(np.bincount(d.cj[d.ij], r2, n_c) / np.bincount(d.cj[d.ij], minlength=n_c) / 2)
        theta = np.concatenate([theta, np.log(np.maximum(a, a_floor))])
    return mos, theta


def _iterate(d, theta: np.ndarray, lower: np.ndarray, n_per_rater: np.ndarray, reml: bool, a_floor: float,
             tol: float, max_iter: int) -> tuple[np.ndarray, float, np.ndarray, int]:
    """Alternate the weighted least-squares fit of quality and bias with the variances' update until no
    parameter moves by ``tol``; ``(theta, last move, raters without residual degrees of freedom, iterations)``."""
    n_r, _, n_c = d.sizes
    with_a = n_c > 0
    no_dof = np.zeros(n_r, bool)
    iterations, moved = 0, np.inf
    mm = _wls(d, _variances(d, *_theta_split(theta, n_r, with_a)), leverage=reml)
    for iterations in range(1, max_iter + 1):
        old = np.concatenate([mm.psi, mm.delta, np.exp(theta)])
        if with_a:
            theta = _shift_to_raters(_scoring_step(d, theta, lower, reml), n_r, a_floor)
        else:  # closed form: v_i^2 = RSS_i / n_i (ML) or RSS_i / (n_i - sum of leverages) (REML)
            r2 = (d.u - mm.psi[d.ij] - mm.delta[d.ri]) ** 2
            dof = n_per_rater - (np.bincount(d.ri, mm.h, n_r) if reml else 0.0)
            no_dof = dof < 1e-6
            v2 = np.bincount(d.ri, r2, n_r) / np.where(no_dof, 1.0, dof)
            theta = np.maximum(0.5 * np.log(np.maximum(v2, 1e-300)), lower)
            theta[no_dof] = lower[:n_r][no_dof]
        mm = _wls(d, _variances(d, *_theta_split(theta, n_r, with_a)), leverage=reml)
        moved = float(np.max(np.abs(np.concatenate([mm.psi, mm.delta, np.exp(theta)]) - old)))
        if moved < tol:
            break
    return theta, moved, no_dof, iterations


def _theta_covariance(d, theta: np.ndarray, free: np.ndarray, reml: bool) -> tuple[np.ndarray, str]:
    """The variance parameters' covariance (inverse information of the free ones), or zeros and why not."""
    n_r = d.sizes[0]
    hess = _profile_hessian(d, theta, free, reml)
    cov_theta = np.zeros((theta.size, theta.size))
    if hess.size:
        eig = np.linalg.eigvalsh(-hess)
        if eig.min() <= 1e-8 * max(eig.max(), 1e-300):
            why = (": with two raters only the sum of their squared inconsistencies is identified"
                   if n_r == 2 else "")
            return cov_theta, ("the point reached is not a strict local maximum (the information of the "
                               f"variances is not positive definite){why}; their CIs are not available (width 0)")
        cov_theta[np.ix_(free, free)] = np.linalg.inv(-hess)
    return cov_theta, ""


def _floor_notes(names, no_dof: np.ndarray, with_a: bool, reml: bool, v_floor: float) -> list[str]:
    """Why each rater whose inconsistency sits at the floor got there."""
    notes = []
    for name, nd in zip(names, no_dof):
        if nd:
            why = "no residual degrees of freedom: the fit reproduces every rating of theirs, v is not identifiable"
        elif with_a:
            why = "their spread is all attributed to content ambiguity"
        else:
            why = "their scores are fitted exactly, where the likelihood is unbounded" + (
                "; estimator='reml' avoids this collapse" if not reml else "")
        notes.append(f"rater {name}: inconsistency at the floor v_floor={v_floor:g} ({why}); held fixed, "
                     "CI not meaningful, weight capped at 1/v_floor^2")
    return notes


def fit_subject_model(
    ratings: pd.DataFrame,
    *,
    rater: str = "rater",
    item: str = "item",
    score: str = "score",
    content: str | None = None,
    estimator: Literal["reml", "ml"] = "reml",
    level: float = stats.CI_LEVEL,
    v_floor: float = V_FLOOR,
    a_floor: float = A_FLOOR,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
    require_convergence: bool = True,
) -> SubjectModelFit:
    """Fit the subject model to long-format ``ratings`` (see the module notes).

    ``ratings`` has one row per rating with columns ``rater``, ``item``, ``score`` (numbers; any
    scale) and, if ``content`` names a column, the content of each item (constant per item): then
    content ambiguity ``a_c`` is modelled too. Missing (rater, item) cells and repeated ratings are
    allowed. ``estimator``: ``"reml"`` (variances by restricted maximum likelihood, default) or
    ``"ml"`` (plain maximum likelihood, as SUREAL). Raises :class:`SrbenchError` for bad input, a
    disconnected design and, when ``require_convergence`` (default), a fit that did not converge
    (else ``converged=False`` with the reason in ``notes``).
    """
    _check_options(estimator, level, v_floor, a_floor)
    reml = estimator == "reml"
    d = _prepare(ratings, rater, item, score, content)
    _check_connected(d)
    n_r, n_i, n_c = d.sizes
    with_a = n_c > 0
    n_per_rater = np.bincount(d.ri, minlength=n_r)
    lower = np.concatenate([np.full(n_r, np.log(v_floor)), np.full(n_c, np.log(a_floor))])
    notes: list[str] = []

    mos, theta = _start(d, n_per_rater, v_floor, a_floor)
    theta, moved, no_dof, iterations = _iterate(d, theta, lower, n_per_rater, reml, a_floor, tol, max_iter)
    converged = moved < tol
    if not converged:
        notes.append(f"not converged: parameters still moved by {moved:.3g} after {max_iter} iterations")

    at_floor = theta <= lower + 1e-9
    theta = np.where(at_floor, lower, theta)
    v, a = _theta_split(theta, n_r, with_a)
    v[at_floor[:n_r]] = v_floor  # exactly (exp(log(x)) may differ from x in the last bit)
    if with_a:
        a[at_floor[n_r:]] = a_floor
    free = ~at_floor
    mm, loglik, objective, grad, info = _profile(d, theta, reml)
    worst = float(np.max(np.abs(grad[free]) / np.sqrt(np.maximum(np.diag(info)[free], 1e-300)), initial=0.0))
    if worst > SCORE_TOL:
        converged = False
        notes.append(f"not stationary: a variance parameter's score is {worst:.3g} standard errors from zero")
    cov_theta, why_not = _theta_covariance(d, theta, free, reml)
    if why_not:
        converged = False
        notes.append(why_not)

    if require_convergence and not converged:
        raise SrbenchError("subject model did not converge: " + "; ".join(notes))

    z = float(scipy.stats.norm.ppf(0.5 + level / 2))
    se_psi = np.sqrt(np.maximum(mm.inv_wj + np.sum((mm.g @ mm.mplus) * mm.g, axis=1), 0.0))
    se_delta = np.sqrt(np.maximum(np.diag(mm.mplus), 0.0))
    se_theta = np.sqrt(np.maximum(np.diag(cov_theta), 0.0))
    psi, delta = mm.psi, mm.delta
    cells = pd.DataFrame({"j": d.ij, "i": d.ri}).drop_duplicates()
    items = pd.DataFrame({
        "psi": psi, "se": se_psi, "ci_low": psi - z * se_psi, "ci_high": psi + z * se_psi, "mos": mos,
        "n_ratings": np.bincount(d.ij, minlength=n_i), "n_raters": np.bincount(cells["j"], minlength=n_i),
    }, index=d.items.rename("item"))
    if with_a:
        items["content"] = d.contents[d.cj]
    raters = pd.DataFrame({
        "bias": delta, "bias_se": se_delta, "bias_ci_low": delta - z * se_delta,
        "bias_ci_high": delta + z * se_delta, "inconsistency": v,
        "inconsistency_ci_low": v * np.exp(-z * se_theta[:n_r]),
        "inconsistency_ci_high": v * np.exp(z * se_theta[:n_r]),
        "n_ratings": n_per_rater, "n_items": np.bincount(cells["i"], minlength=n_r), "at_floor": at_floor[:n_r],
    }, index=d.raters.rename("rater"))
    contents = None
    if with_a:
        contents = pd.DataFrame({
            "ambiguity": a, "ambiguity_ci_low": a * np.exp(-z * se_theta[n_r:]),
            "ambiguity_ci_high": a * np.exp(z * se_theta[n_r:]),
            "n_ratings": np.bincount(d.cj[d.ij], minlength=n_c), "at_floor": at_floor[n_r:],
        }, index=d.contents.rename("content"))

    if n_r == 1:
        notes.append("one rater: the bias is 0 by the constraint, so quality = that rater's scores "
                     "(mean of repeats)")
    notes += _floor_notes(d.raters[at_floor[:n_r]], no_dof[at_floor[:n_r]], with_a, reml, v_floor)
    one = int((items["n_ratings"] == 1).sum())
    if one:
        notes.append(f"{one} item(s) rest on one rating: quality = that rating minus the rater's bias")
    one_r = d.raters[n_per_rater == 1]
    if len(one_r):
        notes.append(f"{len(one_r)} rater(s) gave one rating (their bias absorbs it: no information on "
                     f"quality): {', '.join(map(str, one_r[:5]))}")
    if with_a:
        notes.append("only v_i^2 + a_c^2 is identified: by convention the least ambiguous content has "
                     f"a = a_floor = {a_floor:g} and the variance every content shares is counted in the "
                     "raters' inconsistency; a_c is the ambiguity in excess of the least ambiguous content")

    return SubjectModelFit(
        items=items, raters=raters, contents=contents, loglik=loglik, objective=objective,
        estimator=estimator, n_ratings=int(d.u.size), iterations=iterations, converged=converged,
        level=level, v_floor=v_floor, notes=tuple(notes), _inv_wj=mm.inv_wj, _g=mm.g, _mplus=mm.mplus,
    )


# --- per-method quality for the report ------------------------------------------------------------------

METHOD_COLUMNS = ["n_ratings", "n_raters", "n_images", "mos", "mos_ci_low", "mos_ci_high",
                  "quality", "quality_se", "quality_ci_low", "quality_ci_high",
                  "quality_se_pop", "quality_ci_pop_low", "quality_ci_pop_high"]


def method_quality(
    ratings: pd.DataFrame,
    *,
    dataset: str | None = "dataset",
    method: str = "method",
    image: str = "image",
    rater: str = "rater",
    score: str = "score",
    ambiguity: bool = False,
    level: float = stats.CI_LEVEL,
    n_boot: int = stats.BOOTSTRAP_SAMPLES,
    **fit_kwargs,
) -> tuple[pd.DataFrame, SubjectModelFit]:
    """Per (dataset, method): plain MOS with its bootstrap CI beside the subject model's quality and CI.

    One joint fit: items are (dataset, method, image), so a rater's bias and inconsistency come
    from everything they rated; with ``ambiguity`` the content of an item is its (dataset, image).
    ``quality`` = mean of ``psi`` over the method's rated images; ``quality_se`` (and
    ``quality_ci_*``) its standard error from the model covariance, *conditional on this panel and
    these images* (the level is this panel's average rater); ``quality_se_pop`` (``quality_ci_pop_*``)
    adds the sampling of raters and images, like the plain MOS's two-way bootstrap:
    ``quality_se^2 + var(bias)/n_raters + var(psi over the method's images)/n_images`` (sample
    variances of the estimates; slightly conservative, as they include estimation noise).
    ``mos`` and its CI are
    :func:`srbench.ratings.stats.mos_with_ci` with the report's label ``"dataset/method"`` (same numbers
    as ``mos.csv``); with a ``repeat`` column it uses the ``repeat == 0`` rows, the model all rows.
    ``dataset=None``: no dataset column (label = method). Returns the table (one row per group,
    sorted) and the fit.
    """
    keys = ([dataset] if dataset else []) + [method]
    missing = [c for c in keys + [image, rater, score] if c not in ratings.columns]
    if missing:
        raise SrbenchError(f"method quality: ratings lack column(s) {', '.join(missing)}")
    if ratings.empty:
        raise SrbenchError("method quality: no ratings")
    df = ratings.copy()
    df["_item"] = list(zip(*(df[k].astype(str) for k in keys + [image])))
    content = None
    if ambiguity:
        df["_content"] = list(zip(*(df[k].astype(str) for k in ([dataset] if dataset else []) + [image])))
        content = "_content"
    fit = fit_subject_model(df, rater=rater, item="_item", score=score, content=content, level=level,
                            **fit_kwargs)
    z = float(scipy.stats.norm.ppf(0.5 + level / 2))
    n_raters = len(fit.raters)
    var_level = float(fit.raters["bias"].var(ddof=1)) / n_raters if n_raters > 1 else 0.0
    first = df[df["repeat"] == 0] if "repeat" in df.columns else df
    first = first[[*keys, rater, image, score]].rename(columns={rater: "rater", image: "image", score: "score"})
    plain_groups = dict(iter(first.groupby(keys, sort=True)))
    rows = []
    for group, sub in df.groupby(keys, sort=True):
        plain = plain_groups.get(group)
        group = group if isinstance(group, tuple) else (group,)
        label = "/".join(map(str, group))
        if plain is None:
            raise SrbenchError(f"method quality: {label} has no first-showing (repeat 0) ratings")
        mos = stats.mos_with_ci(plain[["rater", "image", "score"]], label=label, n_boot=n_boot, level=level)
        own = sorted(set(sub["_item"]))
        q, se = fit.mean_quality(own)
        var_images = float(fit.items.loc[own, "psi"].var(ddof=1)) / len(own) if len(own) > 1 else 0.0
        se_pop = float(np.sqrt(se**2 + var_level + var_images))
        rows.append([*group, len(sub), sub[rater].nunique(), sub[image].nunique(), mos.mean, mos.ci_low,
                     mos.ci_high, q, se, q - z * se, q + z * se, se_pop, q - z * se_pop, q + z * se_pop])
    return pd.DataFrame(rows, columns=keys + METHOD_COLUMNS), fit


# --- SYNTHETIC ratings ------------------------------------------------------------------------------------


def simulate_ratings(
    psi: Sequence[float],
    bias: Sequence[float],
    inconsistency: Sequence[float],
    *,
    rng: np.random.Generator,
    p_rated: float = 1.0,
    repeats: int = 1,
    ambiguity: Sequence[float] | None = None,
    content_of_item: Sequence[int] | None = None,
) -> pd.DataFrame:
    """SYNTHETIC ratings drawn from the model (continuous scores, not rounded or clipped).

    Rater ``i`` rates item ``j`` with probability ``p_rated`` (every item is kept rated by at least
    one rater and every rater rates at least one item), ``repeats`` times. Returns columns
    ``rater`` ("r00", ...), ``item`` ("i000", ...), ``score`` and, with ``ambiguity``, ``content``
    ("c00", ...). For tests and the bench study only: not a measurement.
    """
    psi, bias, v = (np.asarray(x, dtype=float) for x in (psi, bias, inconsistency))
    n_i, n_r = psi.size, bias.size
    mask = rng.random((n_r, n_i)) < p_rated
    mask[rng.integers(0, n_r, n_i), np.arange(n_i)] = True
    mask[np.arange(n_r), rng.integers(0, n_i, n_r)] = True
    ri, ij = np.nonzero(mask)
    ri, ij = np.repeat(ri, repeats), np.repeat(ij, repeats)
    u = psi[ij] + bias[ri] + v[ri] * rng.standard_normal(ri.size)
    out = {"rater": [f"r{i:02d}" for i in ri], "item": [f"i{j:03d}" for j in ij]}
    if ambiguity is not None:
        cj = np.asarray(content_of_item)
        u = u + np.asarray(ambiguity, dtype=float)[cj[ij]] * rng.standard_normal(ri.size)
        out["content"] = [f"c{c:02d}" for c in cj[ij]]
    out["score"] = u
    return pd.DataFrame(out)
