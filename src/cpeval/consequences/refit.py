"""Fitting the design's own estimator on a variant of the design (other areas, outcomes or treatment).

Variants are built from the design's own dump and validated again through ``design_from_dict`` (never
``model_copy``, which would skip validation), then fitted through the estimator registry, so displacement,
adverse indicators and subgroups use exactly the design's estimator and options.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase
    from cpeval.results import Effect

ROLE_TREATED = "_cpeval_role_treated"  # 0/1: a buffer area in a programme period (buffer-vs-control fit)
ROLE_COHORT = "_cpeval_role_cohort"  # the programme's first period for buffer areas, 0 for controls


def variant(design: DesignBase, *, outcomes: list[dict[str, Any]] | None = None,
            treatment: dict[str, Any] | None = None, inference_method: str | None = None) -> DesignBase:
    """The design with other outcomes, treatment and/or ``inference.method``, without checks, cost-benefit or
    consequences, validated as a user's design would be."""
    from cpeval.designs import design_from_dict

    raw = design.model_dump(mode="json", by_alias=True)
    raw.update(consequences=None, cost_benefit=None, checks=[])
    if outcomes is not None:
        raw["outcomes"] = outcomes
    if treatment is not None:
        raw["treatment"] = treatment
    if inference_method is not None:
        raw["inference"] = {**raw["inference"], "method": inference_method}
    return design_from_dict(raw, source=f"{design.origin or '<design>'} (consequences variant)")


def outcome_dicts(design: DesignBase, names: list[str]) -> list[dict[str, Any]]:
    """The design's own outcome specs for ``names``, as dicts for :func:`variant`."""
    by_name = {o.name: o for o in design.outcomes}
    return [by_name[n].model_dump(mode="json", by_alias=True) for n in names]


def buffer_treatment(design: DesignBase, buffers: list[Any], start: Any) -> dict[str, Any]:
    """The treatment block of the buffer-versus-control variant: buffer areas 'treated' from the programme's
    start (the frame must carry :data:`ROLE_TREATED` / :data:`ROLE_COHORT`)."""
    treatment = design.treatment  # type: ignore[attr-defined]
    if design.kind == "synthetic_control":  # type: ignore[attr-defined]
        return {"units": list(buffers), "start": start}
    if getattr(treatment, "first_treated", None):
        return {"first_treated": ROLE_COHORT}
    return {"indicator": ROLE_TREATED}


def fit(design: DesignBase, frame: pd.DataFrame, outcome: str, tag: str, *, lead: bool = False) -> Effect:
    """Validate ``frame`` against ``design`` and fit its estimator for ``outcome``. ``tag`` names the data for
    joint uncertainty: effects fitted with the same tag may share influence values. ``lead``: the inference
    that does not rest on the cluster-robust standard error leads whatever the cluster count
    (:func:`_leading`), as a subgroup's estimate and a placebo start need."""
    from cpeval.data import validate_panel
    from cpeval.errors import CpevalWarning
    from cpeval.estimation.registry import estimator_for

    panel = validate_panel(frame, design, source=f"consequences: {tag}", sha256=tag)
    spec = next(o for o in design.outcomes if o.name == outcome)
    estimator = estimator_for(design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)  # kept on the Effect; the finding reports what matters
        effect = estimator.fit(panel, spec)
        if lead:
            effect = _leading(panel, spec, effect, estimator)
        elif design.inference.method != "analytic":  # as the pipeline does: the bootstrap or randomisation
            effect = _alternative(panel, spec, effect, estimator)
    if effect.sampling is not None:
        effect = dataclasses.replace(effect, sampling=dataclasses.replace(effect.sampling, source=tag))
    return effect


def _alternative(panel: Any, spec: Any, effect: Effect, estimator: Any, *, tolerant: bool = False) -> Effect:
    """The wild bootstrap or randomisation inference ``inference.method`` calls for; under 'auto' (or when
    ``tolerant``) a failure leaves the analytic inference, with the reason among the Effect's warnings."""
    from cpeval.errors import EstimationError
    from cpeval.estimation.alternative import attach

    try:
        return attach(panel, spec, effect, estimator)
    except EstimationError as exc:
        if panel.design.inference.method != "auto" and not tolerant:
            raise
        return dataclasses.replace(effect, warnings=(*effect.warnings, f"alternative inference failed: {exc}"))


def _leading(panel: Any, spec: Any, effect: Effect, estimator: Any) -> Effect:
    """The Effect with inference that does not rest on the cluster-robust standard error, leading.

    A subgroup holds only part of the treated clusters, and cluster-robust tests over-reject well above the
    project's few-clusters threshold for count models (in the simulated hot-spots city, 12 treated areas of
    108 per subgroup, the analytic Poisson test rejected a true null 8% of the time at the 5% level over 400
    draws; the score bootstrap 5.5-5.75%). So under ``inference.method: auto`` a subgroup gets the estimator's
    wild (or score) bootstrap whatever its cluster count, and randomisation inference with very few treated or
    untreated clusters (as ``auto`` chooses); an explicit method runs as declared; 'analytic' keeps the
    analytic inference (the finding says so). Estimators with no alternative keep the analytic one."""
    from cpeval.errors import DesignError
    from cpeval.estimation.alternative import cluster_counts
    from cpeval.estimation.inference import FEW_TREATED_CLUSTERS

    design = panel.design
    if design.inference.requests("analytic"):
        return effect
    reason = "subgroup estimate: inference.method " + design.inference.method
    clustered = design.kind != "rct" or design.treatment.cluster is not None
    caps = design.estimator.capabilities
    bootstraps = design.inference.requests("auto") and clustered and "wild_bootstrap" in caps.alternative_inference
    if bootstraps and min(cluster_counts(panel, design, effect)) >= FEW_TREATED_CLUSTERS:
        try:
            boot = variant(design, inference_method="wild_bootstrap")
        except DesignError:  # the design does not admit it (a trial's CACE): its own inference stays
            boot = None
        if boot is not None:
            panel = dataclasses.replace(panel, design=boot)
            reason = "subgroup estimate: the bootstrap leads whatever the cluster count"
    effect = _alternative(panel, spec, effect, estimator, tolerant=True)
    if effect.inference is None:
        return effect
    return dataclasses.replace(effect, inference=dataclasses.replace(
        effect.inference, headline=True, reason=f"{reason}; {effect.inference.reason}".rstrip("; ")))


def flag_p_value(effect: Effect) -> float:
    """The p-value a flag reads: the leading alternative inference's, else the analytic one."""
    alt = effect.inference
    return float(alt.p_value) if alt is not None and alt.headline else float(effect.p_value)


def interval(effect: Effect) -> tuple[float, float]:
    """The interval to read: the wild bootstrap's or randomisation's when it leads (few treated or untreated
    clusters) and is bounded, else the analytic one."""
    alt = effect.inference
    if alt is not None and alt.headline and None not in alt.conf_int:
        return float(alt.conf_int[0]), float(alt.conf_int[1])  # type: ignore[arg-type]
    return effect.conf_int()


def adverse_status(effect: Effect, adverse_if: str) -> tuple[str, bool]:
    """('fail', False) when the interval excludes zero in the adverse direction, ('pass', True) when it excludes
    zero in the other (a benefit), ('pass', False) otherwise. A leading randomisation test without an interval
    decides by its p-value and the estimate's sign."""
    alt = effect.inference
    if alt is not None and alt.headline and None in alt.conf_int:
        significant = alt.p_value < 1 - effect.level
        up, down = significant and effect.estimate > 0, significant and effect.estimate < 0
    else:
        lo, hi = interval(effect)
        up, down = lo > 0, hi < 0
    if (up and adverse_if == "increase") or (down and adverse_if == "decrease"):
        return "fail", False
    if up or down:
        return "pass", True
    return "pass", False


def describe(effect: Effect) -> dict[str, Any]:
    """The numbers of an effect a finding shows; ``conf_int`` is the interval to read (:func:`interval`), the
    analytic one is kept beside it when they differ."""
    lo, hi = interval(effect)
    out = {"estimate": effect.estimate, "std_error": effect.std_error, "conf_int": [lo, hi],
           "p_value": effect.p_value, "level": effect.level, "method": effect.method, "scale": effect.scale,
           "n_units": effect.n_units, "n_obs": effect.n_obs}
    if effect.scale == "log":
        out["percent_change"] = [100.0 * math.expm1(v) for v in (effect.estimate, lo, hi)]
    if effect.inference is not None:
        out["inference"] = effect.inference.to_dict()
        out["analytic_conf_int"] = list(effect.conf_int())
    return out


def change_words(effect: Effect) -> str:
    """'rose by 12.3% (95% CI ...)' or 'changed by 1.23 (95% CI ...)' in plain words."""
    lo, hi = interval(effect)
    if effect.scale == "log":
        pct = [100.0 * math.expm1(v) for v in (effect.estimate, lo, hi)]
        verb = "rose" if pct[0] > 0 else "fell"
        return f"{verb} by {abs(pct[0]):.1f}% ({effect.level:.0%} interval {pct[1]:+.1f}% to {pct[2]:+.1f}%)"
    verb = "rose" if effect.estimate > 0 else "fell"
    return f"{verb} by {abs(effect.estimate):.3g} ({effect.level:.0%} interval {lo:+.3g} to {hi:+.3g})"
