"""Poisson pseudo-maximum-likelihood difference-in-differences for crime counts.

E[y_it | .] = exp(a_i + l_t + tau'D_it + log(exposure_it)), fitted by iteratively reweighted least squares
in which the unit and period effects are swept out by weighted alternating projections (as in Stata
``ppmlhdfe`` and R ``fixest::fepois``), so no dummy matrix is built and zeros need no log(0) tricks. Only
the first two moments matter (PPML is consistent whenever the conditional mean is right; the counts need not
be Poisson), and the errors are cluster-robust sandwich errors with the G/(G-1) correction and, with
``estimator.small_sample`` 'reghdfe' (R fixest's fepois default) or 'areg', the (N-1)/(N-K) one as well.

Forms (``estimator.poisson_form``):
- ``twfe``: one coefficient on the treatment indicator; exp(tau) is the rate ratio.
- ``extended``: Wooldridge's (2023) extended TWFE for staggered adoption: one coefficient per treated
  cohort x period cell (never- and not-yet-treated observations identify the period effects). The headline
  rate ratio is the treated cells' expected count over their expected count without treatment,
  sum(mu) / sum(mu exp(-tau_gt)); its error is by the delta method. Event-time paths average the cells'
  log rate ratios with weights proportional to their counterfactual expected counts.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.panel import COHORT, TREATED
from cpeval.errors import EstimationError
from cpeval.estimation.did import clustered_variance_text, did_clusters, small_sample_dof
from cpeval.estimation.did.poisson_separation import (
    describe_separated,
    drop_all_zero,
    separated_rows,
    unidentified_columns,
)
from cpeval.estimation.fixed_effects import RowLeverage, cluster_influence, demean, fixef_k, row_leverage
from cpeval.estimation.inference import cluster_inference, make_effect, wald_interval
from cpeval.payloads import RateRatio
from cpeval.results import Sampling, jsonable

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.panel import Panel
    from cpeval.designs.did import DidDesign
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


def fit_fe_poisson(
    y: np.ndarray,
    x: np.ndarray,
    fe_codes: list[np.ndarray],
    *,
    offset: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    clusters: np.ndarray,
    dof: str = "none",
    tol: float = 1e-11,
    maxit: int = 200,
) -> dict[str, Any]:
    """Fixed-effects Poisson PML by IRLS; returns coefficients, cluster-robust covariance and fitted means.

    ``fe_codes`` are integer codes (0..L-1) of each fixed effect; ``clusters`` integer-like cluster ids.
    The covariance is the cluster sandwich of the concentrated score times G/(G-1) and, unless ``dof`` is
    'none', (N-1)/(N-K) with K the coefficients plus ``fixef_k`` fixed-effect parameters ('nested': R fixest's
    default count; 'all': every fixed effect). BLAS runs on one thread (tall, thin products).
    """
    from cpeval.estimation.demean import one_blas_thread

    with one_blas_thread():
        return _irls(y, x, fe_codes, offset=offset, weights=weights, clusters=clusters, dof=dof, tol=tol, maxit=maxit)


def _irls(y: np.ndarray, x: np.ndarray, fe_codes: list[np.ndarray], *, offset: np.ndarray | None,
          weights: np.ndarray | None, clusters: np.ndarray, dof: str, tol: float, maxit: int) -> dict[str, Any]:
    n = len(y)
    off = np.zeros(n) if offset is None else offset
    a = np.ones(n) if weights is None else weights
    fe = [np.asarray(c, dtype=np.intp) for c in fe_codes]
    mu = (y + y.mean()) / 2.0
    eta = np.log(mu) - off
    dev_old = math.inf
    beta = np.zeros(x.shape[1])
    for _ in range(maxit):
        z = eta + (y - mu) / mu
        w = a * mu
        both = demean(np.column_stack([z, x]), fe, w)
        zt, xt = both[:, 0], both[:, 1:]
        wx = xt * w[:, None]
        beta = np.linalg.lstsq(xt.T @ wx, wx.T @ zt, rcond=None)[0]  # demeaned weighted normal equations
        resid = zt - xt @ beta
        eta = z - resid
        mu = np.exp(eta + off)
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = 2.0 * float(np.sum(a * (np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu))))
        if abs(dev - dev_old) <= tol * max(abs(dev), 1.0):
            break
        dev_old = dev
    else:
        raise EstimationError(f"Poisson IRLS did not converge in {maxit} iterations")
    w = a * mu
    xt = demean(x, fe, w)
    # score of the concentrated likelihood: X~_i a_i (y_i - mu_i) = X~_i (a_i mu_i) (y_i - mu_i) / mu_i
    labels, infl = cluster_influence(xt, w, (y - mu) / mu, clusters)
    n_g = len(labels)
    # one cluster: no cluster-robust variance (NaN, which cluster_inference reports as not estimable)
    vcov = n_g / (n_g - 1.0) * (infl.T @ infl) if n_g > 1 else np.full((x.shape[1], x.shape[1]), np.nan)
    if dof != "none":
        k = x.shape[1] + fixef_k(fe_codes, clusters, nested=dof == "nested")
        vcov *= (n - 1.0) / (n - k)
    # each row's weight in the coefficients, scaled by the standard deviation of (y - mu) / mu under Poisson
    lev = row_leverage(xt, w)
    leverage = RowLeverage(lev.rows / np.sqrt(mu)[:, None], lev.right)
    return {"beta": beta, "vcov": vcov, "mu": mu, "eta": eta, "deviance": dev, "n_clusters": n_g,
            "labels": labels, "influence": infl, "leverage": leverage}


class PoissonDid:
    """PPML difference-in-differences with unit and period effects; effects as rate ratios."""

    method = "poisson"
    effect_scale = "log"  # log rate ratios whatever the outcome's measure (Effect.scale; CBA reads it)

    def __init__(self, design: DidDesign):
        self.design = design

    def _rows(self, panel: Panel, outcome: OutcomeSpec) -> tuple[pd.DataFrame, str | None]:
        """The outcome's rows after the checks every Poisson fit needs; and the exposure column."""
        design = self.design
        est = design.estimator  # estimator.panel is true: the design rejects panel: false for poisson
        frame = panel.outcome_rows(outcome.column)
        yv = frame[outcome.column].to_numpy(dtype=float)
        if (yv < 0).any():
            raise EstimationError(
                f"outcome {outcome.name!r}: column {outcome.column!r} has negative values; the poisson method "
                "needs counts (or non-negative rates); use twfe or event_study for other outcomes"
            )
        pop_col = design.data.population if est.exposure == "population" else None
        if pop_col is not None and not (frame[pop_col].to_numpy(dtype=float) > 0).all():
            raise EstimationError(
                f"data.population column {pop_col!r} has zero, negative or missing values; exposure must be > 0"
            )
        if est.covariates:
            raise EstimationError(
                "estimator.covariates are not supported by the poisson method yet; remove them or use "
                "event_study / callaway_santanna"
            )
        return frame, pop_col

    @staticmethod
    def _fe_codes(frame: pd.DataFrame, panel: Panel) -> list[np.ndarray]:
        assert panel.time is not None
        return [np.unique(frame[c].to_numpy(), return_inverse=True)[1] for c in (panel.unit, panel.time)]

    def _fit(self, frame: pd.DataFrame, panel: Panel, outcome: OutcomeSpec, x: np.ndarray,
             pop_col: str | None) -> dict[str, Any]:
        offset = np.log(frame[pop_col].to_numpy(dtype=float)) if pop_col else None
        weights = frame[self.design.data.weights].to_numpy(dtype=float) if self.design.data.weights else None
        try:
            return fit_fe_poisson(frame[outcome.column].to_numpy(dtype=float), x, self._fe_codes(frame, panel),
                                  offset=offset, weights=weights, clusters=frame[self.design.cluster_column].to_numpy(),
                                  dof=self.dof)
        except (np.linalg.LinAlgError, ValueError, ArithmeticError, EstimationError) as exc:
            raise EstimationError(
                f"outcome {outcome.name!r}: the Poisson fit of column {outcome.column!r} failed ({exc}); the counts "
                "may be too sparse or too extreme for a rate ratio: aggregate to larger areas or longer periods, or "
                "estimate a level effect with estimator.method: twfe"
            ) from exc

    def _drop_separated(self, frame: pd.DataFrame, panel: Panel, outcome: OutcomeSpec, x: np.ndarray,
                        terms: list[str]) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
        """Drop the separated zero counts (``poisson_separation``), as Stata ppmlhdfe does, and refuse treatment
        terms (``terms``: one name per column of ``x``) that the remaining rows cannot identify."""
        assert panel.time is not None
        y = frame[outcome.column].to_numpy(dtype=float)
        where = f"outcome {outcome.name!r}: column {outcome.column!r}"
        fix = ("the counts are too sparse for a Poisson DiD: aggregate to larger areas or longer periods, or "
               "estimate a level effect with estimator.method: twfe")
        if not (y > 0).any() or not x.shape[1]:
            what = "every count is zero" if not (y > 0).any() else "every treated unit's counts are all zero"
            raise EstimationError(f"{where}: {what} once units and periods with only zero counts are dropped, so "
                                  f"no rate ratio can be estimated; {fix}")
        sep = separated_rows(y, x, self._fe_codes(frame, panel))
        notes: list[str] = []
        if sep is None:
            notes.append("the search for separated zero counts (iterative rectifier) did not settle; if the "
                         "estimate is extreme, the counts are too sparse for a Poisson DiD")
            sep = np.zeros(len(y), dtype=bool)
        n_sep, said = int(sep.sum()), ""
        if n_sep:
            said = describe_separated(sep, frame[TREATED].to_numpy() == 1, frame[COHORT].notna().to_numpy())
            frame, x = frame.loc[~sep], x[~sep]
        lost = unidentified_columns(x, self._fe_codes(frame, panel))
        if lost:
            shown = ", ".join(terms[j] for j in lost[:6]) + (f" and {len(lost) - 6} more" if len(lost) > 6 else "")
            dropped = (f"{n_sep} zero counts are separated ({said}): the model fits them only with an expected "
                       "count of zero, so no finite estimate exists with them. With them dropped (as Stata ppmlhdfe "
                       "drops separated observations), " if n_sep else "")
            raise EstimationError(
                f"{where}: the rate ratio is not identified. {dropped}{len(frame)} row(s) of "
                f"{frame[panel.unit].nunique()} unit(s) and {frame[panel.time].nunique()} period(s) remain, and on "
                f"them {shown} cannot be told apart from the unit and period effects; {fix}"
            )
        if n_sep:
            notes.append(f"dropped {n_sep} separated zero counts ({said}), which the model fits only with an "
                         "expected count of zero (Correia, Guimaraes & Zylkin 2021); the estimate is that of the "
                         "remaining rows, as Stata ppmlhdfe reports it")
        return frame, x, notes

    @property
    def dof(self) -> str:
        """The small-sample convention (``estimator.small_sample``; 'auto' is G/(G-1) alone)."""
        return small_sample_dof(self.design, "none")

    def event_study(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        """Leads and lags of first treatment on the log-rate scale (reference event time -1), with the same
        window, binning and joint pre-trend test as the linear event study."""
        from cpeval.estimation.did.event_study import event_effect, event_times, last_cohort_as_control

        assert panel.time is not None
        frame, pop_col = self._rows(panel, outcome)
        frame, note = last_cohort_as_control(frame, panel, outcome)
        frame, notes = drop_all_zero(frame, outcome.column, panel.unit, panel.time)
        notes = [note, *notes] if note else notes
        et = event_times(panel, frame, self.design)
        keys, x = et.indicators()
        kept, x, dropped = self._drop_separated(frame, panel, outcome, x, [f"event time {k}" for k in keys])
        if len(kept) < len(frame):
            frame, notes = kept, [*notes, *dropped]
            et = event_times(panel, frame, self.design)
            keys, x = et.indicators()
        fit = self._fit(frame, panel, outcome, x, pop_col)
        shown, beta, vcov, infl, lev = et.in_window(keys, fit["beta"], fit["vcov"], fit["influence"],
                                                    fit["leverage"])
        return event_effect(
            method=self.method, design=self.design, outcome=outcome, et=et, keys=shown, beta=beta, vcov=vcov,
            n_by_key=et.counts(),
            n_obs=len(frame), n_units=int(frame[panel.unit].nunique()), n_clusters=fit["n_clusters"],
            cluster=self.design.cluster_column, diagnostics={"scale": "log rate ratio", "exposure": pop_col},
            notes=notes, variance_type=clustered_variance_text(self.design.cluster_column, self.dof)
            + "; log rate ratios", influence=(fit["labels"], infl), frame=frame, leverage=lev, scale=1.0,
        )

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        design = self.design
        est = design.estimator
        assert panel.time is not None
        unit, time = panel.unit, panel.time
        frame, pop_col = self._rows(panel, outcome)
        n_rows = len(frame)
        cohorts = frame.groupby(unit)[COHORT].first().dropna()
        form = est.poisson_form
        if form == "auto":
            form = "extended" if cohorts.nunique() > 1 else "twfe"
        notes: list[str] = []
        if form == "extended":  # without never-treated units the last cohort's cells are not identified
            from cpeval.estimation.did.event_study import last_cohort_as_control

            frame, note = last_cohort_as_control(frame, panel, outcome)
            notes += [note] if note else []
        frame, dropped = drop_all_zero(frame, outcome.column, unit, time)
        notes += dropped
        y = frame[outcome.column].to_numpy(dtype=float)
        treated = frame[TREATED].to_numpy() == 1
        if form == "twfe":
            x = treated[:, None].astype(float)
            cells = None
        else:
            import pandas as pd

            key = pd.MultiIndex.from_arrays([frame[COHORT].to_numpy()[treated], frame[time].to_numpy()[treated]])
            cells = key.unique().sort_values()
            code = cells.get_indexer(key)
            x = np.zeros((len(frame), len(cells)))
            x[np.flatnonzero(treated), code] = 1.0
            empty = np.bincount(code, weights=y[treated], minlength=len(cells)) == 0
            if empty.any():
                raise EstimationError(
                    f"outcome {outcome.name!r}: {int(empty.sum())} treated cohort x period cells have only zero "
                    f"counts in column {outcome.column!r}, so their rate ratio is not identified; use "
                    "estimator.poisson_form: twfe (one rate ratio for all treated rows)"
                )
        terms = ["the treatment indicator"] if cells is None else [f"cohort {g} x period {t}" for g, t in cells]
        frame, x, dropped = self._drop_separated(frame, panel, outcome, x, terms)
        notes += dropped
        treated = frame[TREATED].to_numpy() == 1
        cluster = design.cluster_column
        fit = self._fit(frame, panel, outcome, x, pop_col)
        beta, vcov, mu = fit["beta"], fit["vcov"], fit["mu"]
        n_clusters = fit["n_clusters"]
        df = n_clusters - 1
        level = design.inference.level
        diag: dict[str, Any] = {"deviance": fit["deviance"], "weights": design.data.weights}
        path: list[dict[str, Any]] = []
        if cells is None:
            b, se = float(beta[0]), float(math.sqrt(vcov[0, 0]))
            grad = np.ones(1)
            mu1 = mu[treated]
            level_att = float(np.mean(mu1 - mu1 * math.exp(-b)))
            level_se = float(np.mean(mu1)) * se  # d/db of mean(mu0 (e^b - 1)) = mean(mu1)
        else:
            tau = x @ beta  # each treated row's own cell effect (0 elsewhere)
            mu1 = mu[treated]
            mu0 = mu1 * np.exp(-tau[treated])
            b = float(math.log(mu1.sum()) - math.log(mu0.sum()))
            code = x[treated].argmax(axis=1)
            grad = np.bincount(code, weights=mu1, minlength=len(cells)) / mu1.sum()
            se = float(math.sqrt(max(grad @ vcov @ grad, 0.0)))
            level_att = float(np.mean(mu1 - mu0))
            level_grad = np.bincount(code, weights=mu1, minlength=len(cells)) / len(mu1)
            level_se = float(math.sqrt(max(level_grad @ vcov @ level_grad, 0.0)))
            periods = np.sort(panel.frame[time].unique())
            g_arr = np.asarray([c[0] for c in cells], dtype=float)
            t_arr = np.asarray([c[1] for c in cells])
            e_arr = np.searchsorted(periods, t_arr) - np.searchsorted(periods, g_arr)
            cf = np.bincount(code, weights=mu0, minlength=len(cells))
            n_cell = np.bincount(code, minlength=len(cells))
            for e in np.unique(e_arr):
                a = np.where(e_arr == e, cf, 0.0)
                a = a / a.sum()
                pe, pse = float(a @ beta), float(math.sqrt(max(a @ vcov @ a, 0.0)))
                ci = wald_interval(pe, pse, level, df)
                path.append({"event_time": int(e), "estimate": pe, "std_error": pse, "ci_lower": ci.lower,
                             "ci_upper": ci.upper, "p_value": ci.p_value, "n_obs": int(n_cell[e_arr == e].sum()),
                             "rate_ratio": math.exp(pe), "kind": "lag", "binned": False})
            diag["cohort_period_effects"] = [
                {"cohort": float(g), "period": jsonable(t), "log_rate_ratio": float(bb),
                 "std_error": float(math.sqrt(vcov[i, i])), "n_obs": int(n_cell[i])}
                for i, (g, t, bb) in enumerate(zip(g_arr, t_arr, beta, strict=True))
            ]
        if not (math.isfinite(b) and (math.isfinite(se) or n_clusters < 2)):  # one cluster: no SE, said below
            raise EstimationError(f"outcome {outcome.name!r}: the Poisson treatment effect is not identified")
        ci = wald_interval(b, se, level, df)
        diag["dropped_rows"] = n_rows - len(frame)
        counts = did_clusters(frame, time, cluster, fit["leverage"] @ grad)
        se, interval, cluster_notes = cluster_inference(counts, se, 1.0 + abs(b))
        notes += cluster_notes
        no_se = interval is not None  # the design cannot estimate its sampling error: no interval
        ratio = RateRatio(
            form=form, exposure=pop_col, rate_ratio=math.exp(b),
            rate_ratio_ci=(math.nan, math.nan) if no_se else (math.exp(ci.lower), math.exp(ci.upper)),
            percent_change=100 * math.expm1(b), level_att=level_att,
            level_att_std_error=math.nan if no_se else level_se,
        )
        return make_effect(
            outcome, method=self.method, estimand="att", estimate=b, std_error=se, level=level, df=df,
            n_obs=len(frame), n_units=int(frame[unit].nunique()), n_clusters=n_clusters,
            variance_type=clustered_variance_text(cluster, self.dof) + "; log rate ratio",
            path=tuple(path), diagnostics=diag, warnings=notes, scale=self.effect_scale, interval=interval,
            sampling=Sampling(by=cluster, labels=fit["labels"], influence=fit["influence"] @ grad),
            payloads=(counts, ratio),
        )
