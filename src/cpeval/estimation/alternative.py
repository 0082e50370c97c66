"""Inference beside the analytic one: which to run (``inference.method``), and running it for one Effect.

``auto`` runs a restricted wild bootstrap (the Kline-Santos score bootstrap for Poisson) for twfe,
event_study, sun_abraham, poisson and clustered trials when fewer than ``FEW_TREATED_CLUSTERS`` clusters are
treated or untreated, and randomisation inference instead when fewer than ``RANDOMISE_BELOW`` are. That
inference then heads the report; otherwise ``auto`` adds nothing. An explicit method always runs (or is
refused with the reason) and heads the report when the clusters are few.

Which wild bootstrap (``inference.wild_bootstrap.bootcluster``): with few treated clusters one weight per
cluster is far too conservative (MacKinnon & Webb 2017, 2018): in cpeval's null simulation with 40 areas it
rejected 0.1% and 1.2% of the time at the 5% level with 2 and 3 treated areas. One weight per observation, the
variance still clustered (MacKinnon & Webb's 2018 subcluster bootstrap at its finest), held 3-8% there, so
``auto`` takes it below ``FEW_TREATED_CLUSTERS`` (benchmarks/README.md has the table). With a single treated or
untreated cluster neither holds (2.8% and 11%) and the linear bootstrap is refused; the score bootstrap, whose
self-normalised statistic is dominated by the few treated clusters' scores, rejected 0.0-1.2% with 1-3
treated areas with either weighting and is refused below ``RANDOMISE_BELOW``. Randomisation inference held
4.5-5.7% for every number of treated areas.

The linear problems are rebuilt from the panel the way each estimator builds them (the same rows, regressors
and fixed effects), and the rebuilt estimate must equal the Effect's before anything is bootstrapped.
"""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.panel import COHORT, TREATED
from cpeval.errors import EstimationError
from cpeval.estimation.inference import FEW_TREATED_CLUSTERS, RANDOMISE_BELOW
from cpeval.payloads import ClusterCounts, RateRatio, TrialTests
from cpeval.results import AlternativeInference

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect

_EXPLAIN = ("the analytic p-value and interval rest on a cluster-robust standard error, which is too small when "
            "few clusters are treated; the {what} does not rely on it")


def cluster_counts(panel: Panel, design: Any, effect: Effect | None = None) -> tuple[int, int]:
    """(treated clusters, untreated clusters): the estimator's own count when it reports one, else the
    clusters with and without any treated unit."""
    own = effect.payload(ClusterCounts) if effect is not None else None
    if own is not None:
        return own.treated, own.untreated
    frame = panel.frame
    if design.kind == "rct":
        col = design.treatment.cluster or panel.unit
        treated = frame.groupby(col)[TREATED].max()
    else:
        col = getattr(design, "cluster_column", panel.unit)
        treated = frame[COHORT].notna().groupby(frame[col]).max()
    n1 = int((treated > 0).sum())
    return n1, int(len(treated) - n1)


def chosen_method(design: Any, counts: tuple[int, int]) -> tuple[str | None, bool, str]:
    """(method to run or None, whether it heads the report, why)."""
    setting = design.inference.method
    few = min(counts) < FEW_TREATED_CLUSTERS
    reason = f"{counts[0]} treated and {counts[1]} untreated clusters"
    if setting == "analytic":
        return None, False, ""
    if setting != "auto":
        return setting, few, f"inference.method: {setting} ({reason})"
    if design.kind == "synthetic_control" or not few:
        return None, False, ""
    if design.estimator.capabilities.wild_bootstrap is None or (
            design.kind == "rct" and design.treatment.cluster is None):
        return None, False, ""
    if design.kind == "rct":  # the trial's own re-randomisation when it was asked for and clusters are very few
        rerandomised = design.inference.permutations > 0 and min(counts) < RANDOMISE_BELOW
        if not rerandomised and min(counts) < 2:  # no wild bootstrap is valid; the warning says to re-randomise
            return None, False, ""
        return ("randomization" if rerandomised else "wild_bootstrap", True,
                f"auto: {reason} (fewer than {FEW_TREATED_CLUSTERS} on one side)")
    chosen = "randomization" if min(counts) < RANDOMISE_BELOW else "wild_bootstrap"
    return chosen, True, f"auto: {reason} (fewer than {FEW_TREATED_CLUSTERS} on one side)"


def _weights(frame: pd.DataFrame, design: Any) -> np.ndarray | None:
    return frame[design.data.weights].to_numpy(dtype=float) if design.data.weights else None


def _demeaned(frame: pd.DataFrame, panel: Panel, columns: list[np.ndarray], w: np.ndarray | None) -> np.ndarray:
    from cpeval.estimation.fixed_effects import demean, indicators

    assert panel.time is not None
    fe = [indicators(np.unique(frame[c].to_numpy(), return_inverse=True)[1]) for c in (panel.unit, panel.time)]
    return demean(np.column_stack(columns), fe, np.ones(len(frame)) if w is None else w)


def _linear_did(panel: Panel, outcome: OutcomeSpec, design: Any) -> tuple[Any, np.ndarray, np.ndarray, Any]:
    """(rows, regressors before demeaning, restriction R, weights) as twfe / event_study / sun_abraham build them."""
    from cpeval.estimation.did.event_study import event_times, last_cohort_as_control

    form = design.estimator.capabilities.regression
    covs = [c for c in design.estimator.covariates]
    if form == "treatment":
        frame = panel.outcome_rows(outcome.column)
        x = frame[[TREATED, *covs]].to_numpy(dtype=float)
        r = np.zeros(x.shape[1])
        r[0] = 1.0
        return frame, x, r, _weights(frame, design)
    frame, _ = last_cohort_as_control(panel.outcome_rows(outcome.column), panel, outcome)
    et = event_times(panel, frame, design)
    w = _weights(frame, design)
    if form == "event_time":
        keys, x = et.indicators()
        a = np.array([1.0 if (et.lo <= k <= et.hi and k >= 0) else 0.0 for k in keys])
    else:  # cohort x event-time cells (Sun & Abraham), headline weighted by cell size
        import pandas as pd

        cohort = frame[COHORT].to_numpy(dtype=float)
        in_cell = ~np.isnan(cohort) & (et.rel != et.ref)
        cells = pd.DataFrame({"g": cohort[in_cell], "e": et.rel[in_cell].astype(int)}).drop_duplicates()
        cells = cells.sort_values(["g", "e"]).reset_index(drop=True)
        code = pd.MultiIndex.from_frame(cells).get_indexer(
            pd.MultiIndex.from_arrays([cohort[in_cell], et.rel[in_cell].astype(int)]))
        x = np.zeros((len(frame), len(cells)))
        x[np.flatnonzero(in_cell), code] = 1.0
        size = np.bincount(code, weights=(np.ones(len(frame)) if w is None else w)[in_cell], minlength=len(cells))
        e = cells["e"].to_numpy()
        binned = np.clip(e, et.lo, et.hi) if et.binned_ends else e
        a = np.where((binned >= 0) & np.isin(binned, et.shown), size, 0.0)
    if not a.any():
        raise EstimationError(f"outcome {outcome.name!r}: no post-treatment event time in the window")
    x = np.column_stack([x, *(frame[c].to_numpy(dtype=float) for c in covs)]) if covs else x
    r = np.concatenate([a / a.sum(), np.zeros(len(covs))])
    return frame, x, r, w


def _scale(effect: Effect) -> float:
    """The analytic SE, or 1 where the design could not estimate one (NaN)."""
    return effect.std_error if math.isfinite(effect.std_error) and effect.std_error > 0 else 1.0


def _small(effect: Effect, cr0: float) -> float:
    """The analytic SE's small-sample factor relative to the CR0 one (1 when there is no analytic SE)."""
    return (effect.std_error / cr0) ** 2 if math.isfinite(effect.std_error) and cr0 > 0 else 1.0


def _check(estimate: float, effect: Effect, what: str) -> None:
    if not math.isclose(estimate, effect.estimate, rel_tol=1e-6, abs_tol=1e-9 * max(1.0, _scale(effect))):
        raise EstimationError(
            f"outcome {effect.outcome!r}: the {what} rebuilt the estimate as {estimate:.10g}, not the reported "
            f"{effect.estimate:.10g}; the bootstrap was not run (please report this)"
        )


def observation_weights(setting: str, counts: tuple[int, int], score: bool = False) -> bool:
    """Whether the bootstrap draws one weight per row (``bootcluster``) rather than one per cluster. The score
    bootstrap keeps one per cluster under 'auto': one per row did not repair it with few treated clusters."""
    auto = setting == "auto" and not score and min(counts) < FEW_TREATED_CLUSTERS
    return setting == "observation" or auto


def refuse_score_bootstrap(counts: tuple[int, int], outcome: str) -> None:
    """Raise when fewer than ``RANDOMISE_BELOW`` clusters are treated or untreated: the score bootstrap then
    almost never rejects."""
    if min(counts) < RANDOMISE_BELOW:
        raise EstimationError(
            f"outcome {outcome!r}: {counts[0]} treated and {counts[1]} untreated clusters, and the score bootstrap "
            f"does not hold its size with fewer than {RANDOMISE_BELOW} on one side: its statistic is "
            "self-normalised, the few clusters' scores dominate both its numerator and its variance, and nearly "
            "every bootstrap statistic is as large as the observed one (it rejected 0.0%, 0.0% and 1.1% of the "
            "time at the 5% level with 1, 2 and 3 treated areas of 40 in cpeval's null simulation, with one "
            "weight per area or per row alike); set inference.method: randomization"
        )


def refuse_single_cluster(counts: tuple[int, int], outcome: str) -> None:
    """Raise when one side has a single cluster: no wild bootstrap is then valid."""
    if min(counts) == 1:
        side = "treated" if counts[0] == 1 else "untreated"
        raise EstimationError(
            f"outcome {outcome!r}: only one cluster is {side}, and no wild bootstrap is valid then: the "
            "cluster-robust t rests on that one cluster's residuals, so one weight per cluster gives p-values "
            "bunched near 0 and 1 (it rejected 2.8% of the time at the 5% level in cpeval's null simulation) and "
            "one weight per row breaks the cluster's serial correlation (11% there; MacKinnon & Webb 2017, 2018); "
            "set inference.method: randomization, which re-assigns the treated area (Conley & Taber 2011; "
            "Ferman & Pinto 2019; a trial re-randomises inference.permutations times)"
        )


def wild_bootstrap(panel: Panel, outcome: OutcomeSpec, effect: Effect, design: Any,
                   counts: tuple[int, int] | None = None) -> Any:
    """The restricted wild (cluster) bootstrap, or the Poisson score bootstrap, of the Effect's null of zero."""
    from cpeval.estimation.wild_bootstrap import LinearWildTest

    spec = design.inference.wild_bootstrap
    counts = cluster_counts(panel, design, effect) if counts is None else counts
    score = design.kind != "rct" and design.estimator.capabilities.wild_bootstrap == "score"
    if score:
        refuse_score_bootstrap(counts, outcome.name)
    refuse_single_cluster(counts, outcome.name)
    rows = observation_weights(spec.bootcluster, counts, score)
    per = ("one weight per observation, variance clustered (subcluster wild bootstrap, WR)" if rows
           else "one weight per cluster (WCR)")
    opts = dict(level=design.inference.level, replications=spec.replications, weights=spec.weights,
                seed=design.inference.seed)
    if design.kind == "rct":
        from cpeval.estimation.rct.core import design_matrix, singleton_arms
        from cpeval.estimation.rct.estimators import trial_frame

        trial = trial_frame(panel, design).trial(outcome.column, design.estimator.covariates,
                                                 design.treatment.received)
        blocked = design.estimator.blocked
        if trial.block is not None and blocked == "weighted" and singleton_arms(trial):
            blocked = "fixed_effects"
        x = design_matrix(trial, design.estimator.capabilities.covariate_adjusted, blocked)
        r = np.zeros(x.shape[1])
        r[1] = 1.0
        test = LinearWildTest(trial.y, x, r, trial.cluster, bootcluster=np.arange(len(trial.y)) if rows else None)
        _check(test.estimate, effect, "trial bootstrap")
        test.small = _small(effect, test.std_error)  # std_error is CR0 until small is set
        return test.run(**opts), f"CR1 t of the ITT, restricted wild bootstrap, {per}"
    if score:
        return _poisson_score(panel, outcome, effect, design, opts, rows)
    frame, x, r, w = _linear_did(panel, outcome, design)
    both = _demeaned(frame, panel, [frame[outcome.column].to_numpy(dtype=float), x], w)
    test = LinearWildTest(both[:, 0], both[:, 1:], r, frame[design.cluster_column].to_numpy(), obs_weights=w,
                          bootcluster=np.arange(len(frame)) if rows else None)
    _check(test.estimate, effect, "wild bootstrap")
    test.small = _small(effect, test.std_error)  # std_error is CR0 until small is set
    return test.run(**opts), f"cluster-robust t of the ATT, restricted wild bootstrap, {per}"


def _poisson_score(panel: Panel, outcome: OutcomeSpec, effect: Effect, design: Any, opts: dict, rows: bool) -> Any:
    from cpeval.estimation.did.poisson import PoissonDid, drop_all_zero
    from cpeval.estimation.wild_bootstrap import PoissonScoreTest

    ratio = effect.payload(RateRatio)
    if ratio is None or ratio.form != "twfe":
        raise EstimationError(
            f"outcome {outcome.name!r}: the score bootstrap tests the single rate ratio of poisson_form twfe; "
            "with staggered adoption (the extended form) use inference.method: randomization"
        )
    assert panel.time is not None
    frame, pop_col = PoissonDid(design)._rows(panel, outcome)
    frame, _ = drop_all_zero(frame, outcome.column, panel.unit, panel.time)
    test = PoissonScoreTest(
        frame[outcome.column].to_numpy(dtype=float), frame[TREATED].to_numpy(dtype=float),
        frame[panel.unit].to_numpy(), frame[panel.time].to_numpy(), frame[design.cluster_column].to_numpy(),
        offset=np.log(frame[pop_col].to_numpy(dtype=float)) if pop_col else None, obs_weights=_weights(frame, design),
        bootcluster=np.arange(len(frame)) if rows else None,
    )
    if abs(test.t_stat(effect.estimate)) > 1e-4:  # the score vanishes at the estimate if the model is the same
        raise EstimationError(f"outcome {outcome.name!r}: the score bootstrap's model does not reproduce the "
                              "Poisson estimate; the bootstrap was not run (please report this)")
    res = test.run(estimate=effect.estimate, std_error=_scale(effect), **opts)
    per = "one weight per observation, variance clustered" if rows else "one weight per cluster"
    return res, f"score statistic of the log rate ratio, Kline-Santos score bootstrap under the null, {per}"


def _group_time_estimate(outcome: OutcomeSpec, design: Any) -> Any:
    """Callaway & Sant'Anna's headline estimate of a panel alone: the ATT(g,t) and the declared aggregation,
    without the influence-function variances, intervals, pre-test and percent scale a full fit adds."""
    from cpeval.estimation.did import cs_aggregate as agg
    from cpeval.estimation.did.callaway_santanna import group_time_att
    from cpeval.estimation.did.cs_data import prepare

    est = design.estimator

    def estimate(p: Panel) -> float:
        data = prepare(p, outcome.column, design)
        cells = group_time_att(data, design)[0]
        if est.aggregation == "dynamic":
            head = agg.dynamic(cells, balance_e=est.balance_e, t_first=data.periods[0], t_last=data.periods[-1],
                               min_e=-np.inf if est.min_e is None else est.min_e,
                               max_e=np.inf if est.max_e is None else est.max_e)
        else:
            head = {"simple": agg.simple, "group": agg.group, "calendar": agg.calendar}[est.aggregation](cells)
        if not np.isfinite(head.overall):
            raise EstimationError(f"outcome {outcome.name!r}: the {est.aggregation} aggregation is not identified "
                                  "under a re-assignment")
        return float(head.overall)
    return estimate


def randomization(panel: Panel, outcome: OutcomeSpec, effect: Effect, design: Any, estimator: Any
                  ) -> tuple[float, tuple[float, float] | None, int, bool, str, str]:
    """(p, interval, draws, exact, statistic, note) of the design-based randomisation test."""
    if design.kind == "rct":
        t = effect.payload(TrialTests) or TrialTests(math.nan, math.nan, "none", 1)
        p = math.nan if t.ri_p_value is None else t.ri_p_value
        return p, None, t.ri_draws, bool(t.ri_exact), t.ri_statistic or "difference in means", (
            "the trial's re-randomisation test")
    from cpeval.estimation.design_randomization import DEFAULT_DRAWS, randomization_test

    linear = None
    if design.estimator.capabilities.regression in ("event_time", "cohort_event_time"):
        def linear(p: Panel, d_obs: pd.Series) -> tuple[float, float]:
            frame, x, r, w = _linear_did(p, outcome, design)
            d = d_obs.reindex(frame.index).to_numpy(dtype=float)
            both = _demeaned(frame, p, [frame[outcome.column].to_numpy(dtype=float), d, x], w)
            sw = np.ones(len(frame)) if w is None else np.sqrt(w)
            coef = np.linalg.lstsq(both[:, 2:] * sw[:, None], both[:, :2] * sw[:, None], rcond=None)[0]
            return float(r @ coef[:, 0]), float(r @ coef[:, 1])
    res = randomization_test(panel, outcome, effect, estimator, draws=design.inference.permutations or DEFAULT_DRAWS,
                             seed=design.inference.seed, level=design.inference.level, linear=linear,
                             estimate=_group_time_estimate(outcome, design)
                             if design.estimator.capabilities.group_time else None)
    note = (f"{'all' if res.exact else 'random'} {res.draws} of {res.n_assignments} re-assignments of the units' "
            "treatment paths; valid if the treated areas are exchangeable with the others")
    if min(cluster_counts(panel, design, effect)) <= 2:
        note += (" (with one or two treated areas this permutation test is the main tool, as in Conley & Taber "
                 "2011 and Ferman & Pinto 2019: it assumes the treated areas' errors are like the others', e.g. "
                 "of similar size and variability)")
    if res.conf_int is None:
        note += "; no interval (inverting the constant-effect null needs an estimator linear in the outcome)"
    elif effect.scale == "log" or outcome.measure == "count":
        note += "; the interval is for a constant additive effect on the outcome's own scale"
    return res.p_value, res.conf_int, res.draws, res.exact, "the estimate (sharp null of no effect)", note


def attach(panel: Panel, outcome: OutcomeSpec, effect: Effect, estimator: Any) -> Effect:
    """The Effect with its alternative inference (or unchanged when none is called for)."""
    design = panel.design
    counts = cluster_counts(panel, design, effect)
    chosen, headline, reason = chosen_method(design, counts)
    if chosen is None or design.kind == "synthetic_control":
        return effect
    score = design.estimator.capabilities.wild_bootstrap == "score"
    if chosen == "wild_bootstrap" and score and design.inference.requests("auto") and (
            getattr(effect.payload(RateRatio), "form", None) != "twfe"):
        chosen = "randomization"  # the score bootstrap tests one rate ratio; staggered adoption has many
    what = {"wild_bootstrap": "wild bootstrap", "randomization": "randomisation test"}[chosen]
    if chosen == "wild_bootstrap":
        res, statistic = wild_bootstrap(panel, outcome, effect, design, counts)
        alt = AlternativeInference(
            method="score_bootstrap" if score else chosen,
            p_value=res.p_value, conf_int=res.conf_int, replications=res.replications,
            enumerated=res.enumerated, headline=headline, statistic=statistic, weights=res.weights, reason=reason,
            note=_EXPLAIN.format(what=what) if headline else "")
    else:
        p, ci, draws, exact, statistic, note = randomization(panel, outcome, effect, design, estimator)
        alt = AlternativeInference(
            method=chosen, p_value=p, conf_int=ci if ci is not None else (None, None), replications=draws,
            enumerated=exact, headline=headline, statistic=statistic, reason=reason,
            note="; ".join(x for x in (_EXPLAIN.format(what=what) if headline else "", note) if x))
    return dataclasses.replace(effect, inference=alt)


def synth_placebo(effect: Effect, check: Any) -> Effect:
    """A synthetic-control Effect with the placebo-in-space permutation p-value as its randomisation inference."""
    values = check.values
    alt = AlternativeInference(
        method="randomization", p_value=float(values["p_value"]), conf_int=(None, None),
        replications=int(values["n_units"]), enumerated=True, headline=False,
        statistic="post/pre RMSPE ratio, rank among the placebos in space",
        reason="inference.method: randomization",
        note="the interval stays the conformal one above; the placebo test gives the p-value")
    return dataclasses.replace(effect, inference=alt)
