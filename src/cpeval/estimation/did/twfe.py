"""Two-way fixed-effects difference-in-differences (unit and period effects), by ``fe_ols`` (one exact
demeaning of the outcome and regressors; linearmodels PanelOLS is its reference in the tests)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cpeval.data.panel import COHORT, TREATED, switching_units
from cpeval.errors import EstimationError
from cpeval.estimation.did import clustered_variance_text, did_clusters, small_sample_dof
from cpeval.estimation.inference import cluster_inference, make_effect
from cpeval.results import Sampling

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.did import DidDesign
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


class TwoWayFixedEffects:
    """y_it = a_i + l_t + b D_it (+ g'X_it) + e_it; b is reported as the ATT.

    Standard errors are cluster-robust (by ``estimator.cluster``, default the unit) with the G/(G-1) and
    (N-1)/(N-K) corrections; K counts every fixed effect by default (linearmodels PanelOLS, Stata areg), or
    with ``estimator.small_sample: reghdfe`` counts a fixed effect nested in the clusters as one parameter
    (Stata xtreg, fe / reghdfe, R fixest). Intervals and p-values use Student t with G-1 degrees of freedom.

    Of R fixest's ``ssc()`` options, ``reghdfe`` reproduces the default ``ssc(adj = TRUE, fixef.K =
    "nested", cluster.adj = TRUE, t.df = "min")`` and ``areg`` the same with ``fixef.K = "full"``, both with
    ``fixef.force_exact = FALSE`` (irregular fixed effects are not detected) and one-way clustering (so
    ``cluster.df`` does not arise); ``adj = FALSE``, ``fixef.K = "none"`` and ``t.df = "conventional"`` are
    not offered. Stata reghdfe also drops singleton groups, which a balanced panel does not have.

    Units treated from the first period are kept (their indicator is absorbed by the unit effect), as R
    fixest and linearmodels keep them, with a note. Under staggered adoption with effects that change over
    time this estimator can be badly biased (Goodman-Bacon 2021); a warning says so.
    """

    method = "twfe"

    def __init__(self, design: DidDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        from cpeval.estimation.fixed_effects import fe_ols

        design = self.design
        frame = panel.outcome_rows(outcome.column)
        assert panel.time is not None
        cluster = design.cluster_column
        x = [TREATED, *design.estimator.covariates]
        dof = small_sample_dof(design, "all")
        try:
            fit = fe_ols(
                frame, unit=panel.unit, time=panel.time, y=outcome.column, x=x,
                weights=design.data.weights, cluster=cluster, dof=dof,
            )
        except (ValueError, ZeroDivisionError, ArithmeticError) as exc:
            raise EstimationError(f"outcome {outcome.name!r}: two-way fixed effects failed: {exc}") from exc
        b = float(fit.params[TREATED])
        se = float(fit.std_errors[TREATED])
        if not (math.isfinite(b) and math.isfinite(se)):
            raise EstimationError(
                f"outcome {outcome.name!r}: the treatment effect is not identified (estimate {b}, SE {se}); "
                "the treatment indicator may be collinear with the unit and period effects"
            )
        df = (fit.n_clusters - 1) if fit.n_clusters else None
        assert fit.leverage is not None
        counts = did_clusters(frame, panel.time, cluster, fit.leverage @ (fit.params.index == TREATED))
        scale = abs(b) + float(frame[outcome.column].std(ddof=0))
        se, interval, notes = cluster_inference(counts, se, scale)
        cohorts = frame.groupby(panel.unit)[COHORT].first().dropna().nunique()
        switching = switching_units(frame, panel.unit, panel.time)
        if switching:
            notes.append(
                f"treatment switches off and on again in {len(switching)} units: the estimate averages the "
                "periods with the programme against those without it in every unit, assuming an effect that "
                "starts and stops at once and leaves nothing behind"
            )
        elif cohorts > 1:
            notes.append(
                f"treatment is adopted at {cohorts} different times: two-way fixed effects weights some "
                "already-treated units as controls and can be biased when effects change over time; compare "
                "a heterogeneity-robust estimator (e.g. Callaway & Sant'Anna)"
            )
        return make_effect(
            outcome,
            method=self.method,
            estimand="att",
            estimate=b,
            std_error=se,
            level=design.inference.level,
            df=df,
            n_obs=fit.nobs,
            n_units=int(frame[panel.unit].nunique()),
            n_clusters=fit.n_clusters,
            variance_type=clustered_variance_text(cluster, dof),
            diagnostics={
                "rsquared_within": fit.rsquared_within,
                "covariates": list(design.estimator.covariates),
                "weights": design.data.weights,
                "treated_cohorts": int(cohorts),
            },
            payloads=(counts,),
            warnings=notes,
            interval=interval,
            sampling=Sampling(by=cluster, labels=fit.influence.index.to_numpy(),
                              influence=fit.influence[TREATED].to_numpy()),
        )
