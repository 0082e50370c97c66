"""``evaluate``: design -> validated panel -> effects -> checks -> EvaluationResult."""

from __future__ import annotations

import dataclasses
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from cpeval.errors import CpevalWarning

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase
    from cpeval.results import EvaluationResult


def _progress(message: str, quiet: bool) -> None:
    if not quiet:
        print(f"cpeval: {message}", file=sys.stderr, flush=True)


def resolve_design(design_or_path: DesignBase | str | Path | dict) -> DesignBase:
    from cpeval.designs import design_from_dict, load_design
    from cpeval.designs.base import DesignBase

    if isinstance(design_or_path, DesignBase):
        return design_or_path
    if isinstance(design_or_path, dict):
        return design_from_dict(design_or_path)
    return load_design(design_or_path)


def check(design_or_path: DesignBase | str | Path | dict, data: pd.DataFrame | None = None):
    """Validate the design and its data without estimating anything; returns the Panel."""
    from cpeval.data import load_panel, read_derived

    design = resolve_design(design_or_path)
    derived = read_derived(design, data)
    panel = load_panel(design, derived=derived)
    if design.consequences is not None:  # roles, residents and moderators against the data
        from cpeval.consequences.run import prepare as prepare_consequences

        panel = _headline_panel(design, derived, panel, prepare_consequences(design, data, derived))
    if design.cost_benefit is not None:  # tables, categories, baselines and prices, on the headline's panel
        from cpeval.cba import prepare

        prepare(design, panel)
    return panel


def _headline_panel(design: DesignBase, derived, panel, prepared):
    """The panel of the headline estimates: without the buffer areas when the design's displacement roles
    leave them out of the comparison group (validated again on those rows), with a note either way."""
    from cpeval.data import load_panel

    note = prepared.headline_note
    if note is None:
        return panel
    if prepared.excluded:
        frame = derived.frame[~derived.frame[design.data.unit].isin(prepared.excluded)]
        panel = load_panel(design, derived=dataclasses.replace(derived, frame=frame))
        return dataclasses.replace(panel, summary={**panel.summary, "headline_comparison": note})
    warnings.warn(note, CpevalWarning, stacklevel=3)
    return dataclasses.replace(panel, warnings=(*panel.warnings, note))


def evaluate(
    design_or_path: DesignBase | str | Path | dict,
    data: pd.DataFrame | None = None,
    *,
    quiet: bool = True,
) -> EvaluationResult:
    """Run the evaluation a design describes and return its :class:`~cpeval.results.EvaluationResult`.

    ``data`` (optional) replaces the design's data source; it is never modified. Everything is validated
    before anything is fitted.
    """
    from cpeval._version import __version__
    from cpeval.checks import run_checks
    from cpeval.data import load_panel, read_derived
    from cpeval.designs.load import design_hash
    from cpeval.estimation.base import fit_outcomes
    from cpeval.estimation.fixed_effects import reuse_demeaning
    from cpeval.estimation.registry import estimator_for
    from cpeval.outcomes import annotate_effect
    from cpeval.results import EvaluationResult

    design = resolve_design(design_or_path)
    _progress(f"validating data for {design.name!r}", quiet)
    derived = read_derived(design, data)  # read once: the panel and the consequences stage share it
    panel = load_panel(design, derived=derived)
    estimator = estimator_for(design)
    consequences_inputs = None
    if design.consequences is not None:  # unintended consequences: validated before anything is fitted
        from cpeval.consequences.run import prepare as prepare_consequences

        consequences_inputs = prepare_consequences(design, data, derived)
        panel = _headline_panel(design, derived, panel, consequences_inputs)
    cba_inputs = None
    if design.cost_benefit is not None:  # validated before anything is fitted
        from cpeval.cba import prepare

        cba_inputs = prepare(design, panel)
    collected: list[str] = list(panel.warnings)
    outcomes = design.outcomes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CpevalWarning)
        # fit each outcome (estimators are stateless; a trial's family p-values are computed once for all)
        _progress(f"estimating {', '.join(o.name for o in outcomes)} ({design.estimator.method})", quiet)  # type: ignore[attr-defined]
        with reuse_demeaning():  # outcomes on the same rows share the demeaned regressors
            effects = fit_outcomes(estimator, panel, outcomes)
        # inference across the family: alternative inference, and joint sampling tied to this data
        paired = zip(outcomes, effects, strict=True)
        effects = [_alternative_inference(panel, o, e, estimator, quiet) for o, e in paired]
        effects = [_sampled_from(e, panel.sha256) for e in effects]
        # annotate: baseline, harm contributions, survey measures
        effects = [annotate_effect(e, panel, o, estimator) for o, e in zip(outcomes, effects, strict=True)]
    for w in caught:  # re-emit for the caller; the Effect already records them
        if issubclass(w.category, CpevalWarning):
            warnings.warn(str(w.message), CpevalWarning, stacklevel=2)
    collected += [f"{e.outcome}: {msg}" for e in effects for msg in e.warnings]
    checks = run_checks(design.checks.requested, panel, effects)
    consequences = None
    if consequences_inputs is not None:
        from cpeval.consequences.run import evaluate as assess_consequences

        _progress("unintended consequences", quiet)
        consequences = assess_consequences(consequences_inputs, panel, effects)
    if design.kind == "synthetic_control" and design.inference.requests("randomization"):
        effects = _synth_placebo_inference(panel, effects, checks)
    cba = None
    if cba_inputs is not None:
        from cpeval.cba import cost_benefit

        _progress("cost-benefit analysis", quiet)
        cba = cost_benefit(cba_inputs, effects)
        collected += [f"cost-benefit: {msg}" for msg in cba.warnings]
    result = EvaluationResult(
        design=design.model_dump(mode="json", by_alias=True),
        design_hash=design_hash(design),
        design_origin=Path(design.origin).name if design.origin else None,
        data_sha256=panel.sha256,
        data_summary=panel.summary,
        cpeval_version=__version__,
        effects=tuple(effects),
        checks=tuple(checks),
        warnings=tuple(collected),
        consequences=consequences,
        cost_benefit=cba,
    )
    from cpeval.appraise import appraise

    return appraise(result, design)  # evidence rating; a claim's verdicts


def _sampled_from(effect, source: str):
    """Joint uncertainty is only shared by effects from the same data: tag the Effect's sampling with it."""
    if effect.sampling is None:
        return effect
    return dataclasses.replace(effect, sampling=dataclasses.replace(effect.sampling, source=source))


def _alternative_inference(panel, outcome, effect, estimator, quiet: bool):
    """Attach the wild bootstrap or randomisation inference that ``inference.method`` calls for. Under
    ``auto`` a failure is recorded on the Effect as a warning; an explicitly requested method raises."""
    from cpeval.errors import EstimationError
    from cpeval.estimation.alternative import attach
    from cpeval.estimation.inference import warn_notes

    design = panel.design
    if design.inference.requests("analytic"):
        return effect
    _progress(f"alternative inference for {outcome.name}", quiet)
    try:
        return attach(panel, outcome, effect, estimator)
    except EstimationError as exc:
        if design.inference.method != "auto":
            raise
        note = f"the wild bootstrap / randomisation inference for few treated clusters failed: {exc}"
        warn_notes(outcome.name, [note])
        return dataclasses.replace(effect, warnings=(*effect.warnings, note))


def _synth_placebo_inference(panel, effects, checks):
    """Synthetic-control Effects with the placebo-in-space p-value (from the check if it ran, else run now)."""
    from cpeval.estimation.alternative import synth_placebo

    by_outcome = {c.outcome: c for c in checks if c.name == "placebo_space" and c.status != "error"}
    missing = [e for e in effects if e.outcome not in by_outcome]
    if missing:
        from cpeval.checks.synth_placebo_space import placebo_space

        by_outcome.update({c.outcome: c for c in placebo_space(panel, missing)})
    return [synth_placebo(e, by_outcome[e.outcome]) if e.outcome in by_outcome else e for e in effects]
