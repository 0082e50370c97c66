"""Dynamic (event-study) difference-in-differences: leads and lags relative to first treatment.

y_it = a_i + l_t + sum_{k != -1} b_k 1{t - G_i = k} (+ g'X_it) + e_it, by two-way fixed-effects least squares
(``fe_ols``: the outcome and every event-time indicator demeaned once, together) with cluster-robust errors.
Event times beyond the window are pooled into the end points (``bin_endpoints``) or kept as their own,
unreported, coefficients. The helpers here (event times, the joint Wald test and the
assembly of the Effect from a vector of event-time coefficients and its covariance) are shared with the
Sun & Abraham estimator and the DiD checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.panel import COHORT
from cpeval.errors import EstimationError
from cpeval.estimation.did import clustered_variance_text, did_clusters, small_sample_dof
from cpeval.estimation.inference import cluster_inference, make_effect, wald_interval
from cpeval.payloads import EventPath, WaldTest
from cpeval.results import Sampling

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.panel import Panel
    from cpeval.designs.did import DidDesign
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.estimation.fixed_effects import PanelFit
    from cpeval.results import Effect

INDICATOR_PREFIX = "_cpeval_x"


@dataclass(frozen=True)
class EventTimes:
    """Event time of every row (NaN for never-treated units), the window shown and the binned event time."""

    rel: np.ndarray  # t - G in periods (positions in the sorted period list); NaN: never treated
    binned: np.ndarray  # rel clipped to [lo, hi] if end points are binned, else rel
    ref: int  # reference event time (-1 - anticipation)
    lo: int  # first event time shown
    hi: int  # last event time shown
    binned_ends: bool
    has_never_treated: bool

    @property
    def shown(self) -> list[int]:
        return [k for k in range(self.lo, self.hi + 1) if k != self.ref]

    def indicators(self, sparse: bool = False) -> tuple[list[int], Any]:
        """The event times estimated (every binned event time but the reference) and their 0/1 columns (a
        scipy sparse CSC matrix with ``sparse=True``)."""
        keys = sorted(int(k) for k in np.unique(self.binned[~np.isnan(self.binned)]) if k != self.ref)
        if not sparse:
            return keys, (self.binned[:, None] == np.asarray(keys)[None, :]).astype(float)
        from scipy import sparse as sp

        pos = np.searchsorted(keys, self.binned)
        rows = np.flatnonzero(~np.isnan(self.binned) & (self.binned != self.ref))
        return keys, sp.csc_matrix((np.ones(len(rows)), (rows, pos[rows])), shape=(len(self.binned), len(keys)))

    def counts(self) -> dict[int, int]:
        """Observations at each (binned) event time."""
        vals, n = np.unique(self.binned[~np.isnan(self.binned)], return_counts=True)
        return {int(k): int(c) for k, c in zip(vals, n, strict=True)}

    def in_window(
        self, keys: list[int], beta: np.ndarray, vcov: np.ndarray, influence: np.ndarray, leverage: np.ndarray
    ) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The coefficients of the event times shown (unbinned tails are estimated but not reported), with
        their covariance and their columns of the cluster influence and row leverage matrices."""
        idx = [j for j, k in enumerate(keys) if self.lo <= k <= self.hi]
        return [keys[j] for j in idx], beta[idx], vcov[np.ix_(idx, idx)], influence[:, idx], leverage[:, idx]


def event_times(panel: Panel, frame: pd.DataFrame, design: DidDesign) -> EventTimes:
    """Event times in periods, counted by position in the sorted list of periods (so dates work too)."""
    assert panel.time is not None
    est = design.estimator
    if not est.panel:
        raise EstimationError(
            f"method {est.method!r} needs panel data (the same units every period); with repeated "
            "cross-sections (estimator.panel: false) use callaway_santanna"
        )
    periods = np.sort(panel.frame[panel.time].unique())
    t_idx = np.searchsorted(periods, frame[panel.time].to_numpy())
    cohort = frame[COHORT].to_numpy(dtype=float)
    treated = ~np.isnan(cohort)
    rel = np.full(len(frame), np.nan)
    rel[treated] = t_idx[treated] - np.searchsorted(periods, cohort[treated])
    ref = -1 - est.anticipation
    if not treated.any():
        raise EstimationError("no treated unit in the data: an event study needs units that adopt")
    rmin, rmax = int(np.nanmin(rel)), int(np.nanmax(rel))
    if rmin > ref - 1:
        raise EstimationError(
            f"no treated unit is observed before event time {ref}, so there is no lead to estimate; an event "
            "study needs at least two pre-treatment periods for some adopters"
        )
    lo = max(rmin, ref - est.leads) if est.leads is not None else rmin
    hi = min(rmax, est.lags) if est.lags is not None else rmax
    binned = np.clip(rel, lo, hi) if est.bin_endpoints else rel
    return EventTimes(rel, binned, ref, lo, hi, bool(est.bin_endpoints), bool((~treated).any()))


def last_cohort_as_control(frame: pd.DataFrame, panel: Panel, outcome: OutcomeSpec) -> tuple[pd.DataFrame, str | None]:
    """Without never-treated units, the last cohort to adopt becomes the comparison group and periods from
    its adoption on are dropped (no unit is untreated there), as in Sun & Abraham (2021)."""
    cohort = frame[COHORT].to_numpy(dtype=float)
    if np.isnan(cohort).any():
        return frame, None
    assert panel.time is not None
    last = float(np.nanmax(cohort))
    if np.all(cohort == last):
        raise EstimationError(f"outcome {outcome.name!r}: every unit adopts at {last:g}, so there is no comparison")
    frame = frame.loc[frame[panel.time].to_numpy() < last].copy()
    frame[COHORT] = frame[COHORT].where(frame[COHORT] != last)
    return frame, (
        f"no never-treated units: the last cohort to adopt ({last:g}) is the comparison group, so periods from "
        f"{last:g} on are dropped"
    )


def fit_indicators(
    frame: pd.DataFrame, x: Any, *, panel: Panel, outcome: OutcomeSpec, design: DidDesign, what: str
) -> tuple[PanelFit, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two-way fixed effects regression of the outcome on the 0/1 columns ``x`` (and the covariates) with the
    fixest / reghdfe cluster-robust covariance; returns the fit and the coefficients, covariance, cluster
    influence (clusters x columns) and row leverage (rows x columns) of ``x``."""
    from cpeval.estimation.fixed_effects import fe_ols

    assert panel.time is not None
    cols = [f"{INDICATOR_PREFIX}{j}" for j in range(x.shape[1])]
    covs = list(design.estimator.covariates)
    if covs:
        from scipy import sparse

        extra = frame[covs].to_numpy(dtype=float)
        values = sparse.hstack([x, extra], format="csc") if sparse.issparse(x) else np.column_stack([x, extra])
    else:
        values = x
    try:
        fit = fe_ols(frame, unit=panel.unit, time=panel.time, y=outcome.column, x=[*cols, *covs],
                     weights=design.data.weights, cluster=design.cluster_column,
                     dof=small_sample_dof(design, "nested"), values=values)
    except (ValueError, ZeroDivisionError, ArithmeticError) as exc:
        raise EstimationError(f"outcome {outcome.name!r}: {what} regression failed: {exc}") from exc
    assert fit.cov is not None and fit.influence is not None and fit.leverage is not None
    k = len(cols)  # the indicators come first, then the covariates
    return (fit, fit.params[cols].to_numpy(), fit.cov.loc[cols, cols].to_numpy(), fit.influence[cols].to_numpy(),
            fit.leverage[:, :k])


def uniform_critical_value(vcov: np.ndarray, level: float, seed: int, draws: int = 20_000) -> float:
    """Sup-t critical value: P(max_k |Z_k| <= c) = level for Z ~ N(0, corr(vcov)), by simulation. Intervals
    estimate +/- c * SE then cover every event-time effect at once (Montiel Olea & Plagborg-Moller 2019)."""
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    ok = se > 0
    if not ok.any():
        return float("nan")
    from cpeval.estimation.demean import one_blas_thread

    corr = vcov[np.ix_(ok, ok)] / np.outer(se[ok], se[ok])
    with one_blas_thread():
        vals, vecs = np.linalg.eigh(corr)
        root = vecs * np.sqrt(np.clip(vals, 0, None))
        z = np.random.default_rng(seed).standard_normal((draws, len(vals))) @ root.T
    return float(np.quantile(np.abs(z).max(axis=1), level))


def joint_wald(b: np.ndarray, v: np.ndarray, df2: float | None) -> dict[str, float]:
    """Wald test that every element of ``b`` is zero: chi2(q) and F(q, df2) forms (F is used when df2 given)."""
    from scipy import stats

    q = len(b)
    if q == 0 or not np.isfinite(v).all():  # no lead, or no covariance to test them with (df = q, rest NaN)
        return {"statistic": float("nan"), "df": q, "df2": df2, "p_value": float("nan"), "chi2_p_value": float("nan")}
    stat = float(b @ np.linalg.pinv(v) @ b)
    chi2_p = float(stats.chi2.sf(stat, q))
    p = float(stats.f.sf(stat / q, q, df2)) if df2 else chi2_p
    return {"statistic": stat, "f_statistic": stat / q, "df": q, "df2": df2, "p_value": p, "chi2_p_value": chi2_p}


def event_effect(
    *,
    method: str,
    design: DidDesign,
    outcome: OutcomeSpec,
    et: EventTimes,
    keys: list[int],
    beta: np.ndarray,
    vcov: np.ndarray,
    n_by_key: dict[int, int],
    n_obs: int,
    n_units: int,
    n_clusters: int | None,
    cluster: str,
    headline_weights: np.ndarray | None = None,
    diagnostics: dict[str, Any] | None = None,
    notes: list[str] | None = None,
    variance_type: str | None = None,
    influence: tuple[np.ndarray, np.ndarray] | None = None,
    frame: pd.DataFrame,
    leverage: np.ndarray,
    scale: float | None = None,
) -> Effect:
    """The Effect of an event study from its event-time coefficients ``beta`` (ordered as ``keys``).

    The headline is the average of the post-treatment coefficients (event times >= 0 in the window), or a
    weighted average if ``headline_weights`` (aligned with ``keys``) is given. Leads are tested jointly.
    ``influence``: (cluster labels, clusters x keys influence matrix), carried to the headline for joint
    uncertainty across outcomes. ``frame`` (the estimation rows) and ``leverage`` (rows x keys) give the
    cluster counts and G* of the headline; ``scale`` (default: the outcome's standard deviation) is what a
    degenerate standard error is judged against.
    """
    level = design.inference.level
    df = (n_clusters - 1) if n_clusters else None
    band = uniform_critical_value(vcov, level, design.inference.seed)
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    keys_arr = np.asarray(keys)
    rows: list[dict[str, Any]] = []
    for k in sorted([*keys, et.ref]):
        if k == et.ref:
            rows.append({"event_time": k, "estimate": 0.0, "std_error": 0.0, "ci_lower": 0.0, "ci_upper": 0.0,
                         "p_value": None, "n_obs": n_by_key.get(k, 0), "kind": "reference", "binned": False,
                         "band_lower": 0.0, "band_upper": 0.0})
            continue
        j = keys.index(k)
        ci = wald_interval(float(beta[j]), float(se[j]), level, df)
        kind = "lead" if k < et.ref else ("anticipation" if k < 0 else "lag")
        end = et.binned_ends and ((k == et.lo and k < et.ref) or (k == et.hi and k >= 0))
        rows.append({"event_time": k, "estimate": float(beta[j]), "std_error": float(se[j]),
                     "ci_lower": ci.lower, "ci_upper": ci.upper,
                     "p_value": ci.p_value, "n_obs": n_by_key.get(k, 0), "kind": kind, "binned": bool(end),
                     "band_lower": float(beta[j] - band * se[j]), "band_upper": float(beta[j] + band * se[j])})
    lead = keys_arr < et.ref
    post = keys_arr >= 0
    if not post.any():
        raise EstimationError(f"outcome {outcome.name!r}: no post-treatment event time in the window")
    a = np.zeros(len(keys))
    if headline_weights is None:
        a[post] = 1.0 / post.sum()
    else:
        a[post] = headline_weights[post] / headline_weights[post].sum()
    est = float(a @ beta)
    est_se = float(math.sqrt(max(a @ vcov @ a, 0.0)))
    if not (math.isfinite(est) and math.isfinite(est_se)):
        raise EstimationError(f"outcome {outcome.name!r}: the event-study effect is not identified")
    assert design.data.time is not None
    counts = did_clusters(frame, design.data.time, cluster, leverage @ a)
    if scale is None:
        scale = float(frame[outcome.column].std(ddof=0))
    est_se, interval, cluster_notes = cluster_inference(counts, est_se, abs(est) + scale)
    notes = [*(notes or []), *cluster_notes]
    if interval is not None:  # no sampling error for the event times, their band or the test of the leads either
        blank = dict.fromkeys(("std_error", "ci_lower", "ci_upper", "p_value", "band_lower", "band_upper"), math.nan)
        rows = [r if r["kind"] == "reference" else {**r, **blank} for r in rows]
        vcov, band = np.full_like(vcov, np.nan), math.nan
    pre = joint_wald(beta[lead], vcov[np.ix_(lead, lead)], df)
    if pre["df"] and pre["p_value"] < 1 - level:
        notes.append(
            f"the {pre['df']} leads are jointly different from zero (Wald F = {pre['f_statistic']:.3g}, "
            f"p = {pre['p_value']:.3g}): outcomes were already diverging before treatment, so parallel trends "
            "is doubtful; see the honest_did check"
        )
    event_path = EventPath(
        event_times=tuple(int(k) for k in keys), vcov=tuple(map(tuple, vcov.tolist())),
        reference_period=int(et.ref), window=(int(et.lo), int(et.hi)), bin_endpoints=bool(et.binned_ends),
        uniform_band_critical_value=band,
        headline="average of post-treatment event-time effects"
        if headline_weights is None else "average of post-treatment cohort-period effects weighted by cell size",
        pretrend_test=WaldTest(**pre),
    )
    diag: dict[str, Any] = {
        "covariates": list(design.estimator.covariates),
        "weights": design.data.weights,
    }
    diag.update(diagnostics or {})
    return make_effect(
        outcome, method=method, estimand="att", estimate=est, std_error=est_se, level=level, df=df,
        n_obs=n_obs, n_units=n_units, n_clusters=n_clusters,
        variance_type=variance_type or clustered_variance_text(cluster, small_sample_dof(design, "nested")),
        path=tuple(rows), diagnostics=diag, warnings=notes, interval=interval,
        sampling=None if influence is None else Sampling(by=cluster, labels=influence[0], influence=influence[1] @ a),
        payloads=(counts, event_path),
    )


class EventStudy:
    """Leads and lags of first treatment with unit and period effects (reference event time -1).

    Never-treated units anchor the period effects. Without them the fully dynamic model is not identified
    (Borusyak, Jaravel & Spiess 2024): the last cohort to adopt then serves as the comparison group and the
    periods from its adoption on are dropped, as Sun & Abraham do, with a warning. Under staggered
    adoption with heterogeneous effects the leads and lags can be contaminated by other event times (Sun &
    Abraham 2021); compare ``sun_abraham``.
    """

    method = "event_study"

    def __init__(self, design: DidDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        design = self.design
        frame, note = last_cohort_as_control(panel.outcome_rows(outcome.column), panel, outcome)
        et = event_times(panel, frame, design)
        keys, x = et.indicators(sparse=True)
        fit, beta, vcov, infl, lev = fit_indicators(frame, x, panel=panel, outcome=outcome, design=design,
                                                    what="event-study")
        shown, beta, vcov, infl, lev = et.in_window(keys, beta, vcov, infl, lev)
        return event_effect(
            method=self.method, design=design, outcome=outcome, et=et, keys=shown, beta=beta, vcov=vcov,
            n_by_key=et.counts(), n_obs=fit.nobs, n_units=int(frame[panel.unit].nunique()),
            n_clusters=fit.n_clusters, cluster=design.cluster_column,
            diagnostics={"rsquared_within": fit.rsquared_within, "never_treated_units": et.has_never_treated},
            notes=[note] if note else [], influence=(fit.influence.index.to_numpy(), infl), frame=frame,
            leverage=lev,
        )
