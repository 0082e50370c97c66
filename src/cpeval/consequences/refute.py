"""Refutation: dowhy's placebo-treatment, random-common-cause and data-subset refuters for trials (the
covariate-adjusted contrast of outcome by assignment), and a placebo-timing refuter for panels (the design's
own estimator with a pretend start halfway through the periods before the real one, on those periods only).

dowhy's refuters read against the estimate refuted, its critical value times its SE: a placebo-treatment effect
should be within that distance of zero, and a random common cause or an 80% subset should leave the estimate
within that distance of the original. The placebo-timing effect should have zero inside its own interval, the
one that leads (the bootstrap's or randomisation's, as for a subgroup; :func:`cpeval.consequences.refit.interval`).
Otherwise the estimate "does not survive" and the finding fails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.consequences import refit
from cpeval.consequences.result import Finding

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase
    from cpeval.results import Effect

DOWHY = ("placebo_treatment", "random_common_cause", "data_subset")
WHAT = {
    "placebo_treatment": "when the treatment is replaced by a random permutation of it",
    "random_common_cause": "when a random common cause is added",
    "data_subset": "when re-estimated on random 80% subsets of the data",
    "placebo_timing": "when the programme is pretended to start earlier, before it did",
}


def _finding(name: str, outcome: str, value: float, reference: float, half: float, evidence: dict[str, Any],
             p_value: tuple[float, float] | None = None) -> Finding:
    """``p_value`` (p, level): a placebo read by a test without an interval (randomisation of a model not
    linear in the outcome) survives when p is at least 1 - level; ``half`` is then not used."""
    survives = abs(value - reference) <= half if p_value is None else not p_value[0] < 1 - p_value[1]
    verb = "survives" if survives else "does not survive"
    placebo = name in ("placebo_treatment", "placebo_timing")
    target = "zero" if placebo else f"the original {reference:.3g}"
    if p_value is None:
        reading = f"{'within' if survives else 'outside'} {half:.3g} of {target}"
    else:
        reading = (f"{'not ' if survives else ''}significantly different from zero (randomisation p = "
                   f"{p_value[0]:.3g})")
    sentence = (f"The estimate for {outcome} {verb} {WHAT[name]}: the {'placebo ' if placebo else 'new '}effect is "
                f"{value:.3g}, {reading}.")
    return Finding(topic="refutation", name=f"{name.replace('_', ' ')}: {outcome}",
                   status="pass" if survives else "fail", sentence=sentence, outcome=outcome,
                   evidence={**evidence, "new_effect": value, "reference": reference,
                             "tolerance": half if p_value is None else None})


def _dowhy(design: DesignBase, frame: pd.DataFrame, effect: Effect, names: list[str], simulations: int
           ) -> list[Finding]:
    from cpeval.estimation._adapters.dowhy import refute

    treatment = design.treatment  # type: ignore[attr-defined]
    covariates = list(getattr(design.estimator, "covariates", []) or [])  # type: ignore[attr-defined]
    spec = next(o for o in design.outcomes if o.name == effect.outcome)
    cols = [treatment.assignment, spec.column, *covariates]
    data = frame.loc[frame[spec.column].notna(), cols].astype(float)
    crit = abs(effect.ci_upper - effect.estimate)  # the design's critical value times its SE
    out = []
    for r in refute(data, treatment=treatment.assignment, outcome=spec.column, common_causes=covariates,
                    refuters=names, simulations=simulations, seed=design.inference.seed):
        ref = 0.0 if r.refuter == "placebo_treatment" else r.estimate
        out.append(_finding(r.refuter, effect.outcome, r.new_effect, ref, crit,
                            {"method": "dowhy backdoor.linear_regression", "dowhy_estimate": r.estimate,
                             "dowhy_p_value": r.p_value, "simulations": simulations,
                             "design_estimate": effect.estimate, "design_std_error": effect.std_error}))
    return out


def _placebo_timing(design: DesignBase, frame: pd.DataFrame, effect: Effect, tag: str) -> Finding:
    from cpeval.consequences.spatial import treated_areas

    unit, time = design.data.unit, design.data.time
    ever, start = treated_areas(frame, design)
    pre = frame.loc[frame[time] < start].copy()
    periods = np.sort(pre[time].unique())
    if len(periods) < 4:
        return Finding(topic="refutation", name=f"placebo timing: {effect.outcome}", status="warn",
                       outcome=effect.outcome,
                       sentence=f"Too few periods before the programme ({len(periods)}) for a placebo start.",
                       evidence={"pre_periods": len(periods)})
    fake = periods[len(periods) // 2]
    is_t = pre[unit].map(ever).fillna(False).to_numpy(dtype=bool)
    pre[refit.ROLE_TREATED] = (is_t & (pre[time] >= fake).to_numpy()).astype(int)
    pre[refit.ROLE_COHORT] = np.where(is_t, fake, 0)
    variant = refit.variant(design, outcomes=refit.outcome_dicts(design, [effect.outcome]),
                            treatment=refit.buffer_treatment(design, [], fake))
    # the placebo's interval leads with inference that does not rest on the cluster-robust SE, as a subgroup's
    # does: in the simulated hot-spots city without any pre-trend (300 draws) the analytic Poisson interval
    # excluded zero in 5.3%, 6.3% and 8.7% of draws for its three outcomes, the score bootstrap's in 4.0%, 5.3%
    # and 7.3%
    placebo = refit.fit(variant, pre, effect.outcome, f"{tag}:placebo_timing", lead=True)
    lo, hi = refit.interval(placebo)
    half = (hi - placebo.estimate) if placebo.estimate <= 0 else (placebo.estimate - lo)  # estimate to the bound
    alt = placebo.inference  # a leading randomisation test without an interval decides by its p-value
    by_p = (alt.p_value, placebo.level) if alt is not None and alt.headline and None in alt.conf_int else None
    return _finding("placebo_timing", effect.outcome, placebo.estimate, 0.0, half,
                    {"placebo_start": fake, "placebo_effect": refit.describe(placebo),
                     "periods_used": len(periods)}, p_value=by_p)


def assess(design: DesignBase, frame: pd.DataFrame, effects: list[Effect], refuters: list[str], simulations: int,
           tag: str = "refute") -> list[Finding]:
    findings = []
    via_dowhy = [r for r in refuters if r in DOWHY]
    for effect in effects:
        if via_dowhy:
            findings += _dowhy(design, frame, effect, via_dowhy, simulations)
        if "placebo_timing" in refuters:
            findings.append(_placebo_timing(design, frame, effect, tag))
    return findings
