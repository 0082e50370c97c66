"""Cost-benefit analysis: from estimated effects to money, with the uncertainty carried through.

``prepare(design, panel)`` validates the design's ``cost_benefit`` section (tables, categories, baselines,
prices) before anything is estimated; ``cost_benefit(inputs, effects)`` returns a
:class:`CostBenefitResult`. ``run_cost_benefit(design, panel, effects)`` does both.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.cba.discount import describe
from cpeval.cba.engine import appraise, break_even, by_perspective, ratio, schedule_table
from cpeval.cba.montecarlo import simulate, tornado
from cpeval.cba.prepare import CbaInputs, prepare
from cpeval.cba.result import CostBenefitResult
from cpeval.errors import CpevalWarning, DesignError

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.base import DesignBase
    from cpeval.results import Effect

__all__ = ["CbaInputs", "CostBenefitResult", "cost_benefit", "prepare", "run_cost_benefit"]


def cost_benefit(inputs: CbaInputs, effects: Sequence[Effect], *, simulations: int | None = None,
                 seed: int | None = None) -> CostBenefitResult:
    """Appraise the valued outcomes' effects. ``simulations`` and ``seed`` override the design's."""
    spec = inputs.spec
    by_name = {e.outcome: e for e in effects}
    missing = [o.outcome for o in inputs.outcomes if o.outcome not in by_name]
    if missing:
        raise DesignError(f"cost_benefit.outcomes: no estimated effect for {', '.join(missing)}")
    used = [by_name[o.outcome] for o in inputs.outcomes]
    for o, e in zip(inputs.outcomes, used, strict=True):
        if e.scale == "log" and o.conversion != "log":
            raise DesignError(
                f"cost_benefit.outcomes.{o.outcome}: the effect is a log rate ratio (method {e.method}) but is "
                "valued as a change in counts; give baseline_per_year or baseline_column instead of scale"
            )
    est = np.array([e.estimate for e in used], dtype=float)
    central = appraise(inputs, est)
    pvc, pvb = float(central.pv_costs[0]), float(central.pv_benefits[0])
    crimes = float(central.crimes_total[0])
    warn: list[str] = list(inputs.notes)
    for o, e in zip(inputs.outcomes, used, strict=True):
        c = float(o.crimes_avoided(e.estimate))
        if c < 0:
            warn.append(f"{o.outcome}: the estimated effect increases crime ({-c:,.1f} more per year), so its "
                        "'benefits' are negative")
        if e.ci_lower <= 0 <= e.ci_upper:
            warn.append(f"{o.outcome}: the {e.level:.0%} interval of the effect includes zero; read the "
                        "probability that benefits exceed costs, not the point NPV alone")
    n = spec.simulations if simulations is None else simulations
    s = inputs.seed if seed is None else seed
    valued = {o.outcome for o in inputs.outcomes}
    unpriced = tuple({"outcome": e.outcome, "estimate": e.estimate, "measure": e.measure,
                      "ci_lower": e.ci_lower, "ci_upper": e.ci_upper} for e in effects if e.outcome not in valued)
    if unpriced:
        warn.append("estimated but not priced (no cost_benefit.outcomes entry): "
                    + ", ".join(f"{u['outcome']} ({u['estimate']:+.4g}, {u['measure']})" for u in unpriced)
                    + "; the NPV and the probability leave their effects out")
    drawable, why_not = _drawable(used, warn) if n > 0 else (used, [])
    if n > 0 and why_not:
        warn.append("no Monte Carlo: " + "; ".join(why_not) + " (so the probability that benefits exceed costs "
                    "is not reported)")
    mc = simulate(inputs, drawable, n, s) if n > 0 and not why_not else {}
    warn += [f"Monte Carlo: {note}" for note in (mc.get("effect_dependence") or {}).get("notes", [])]
    if 0 < n < 1000:
        warn.append(f"only {n} Monte Carlo draws; probabilities are imprecise (use 10,000 or more)")
    for w in warn:
        warnings.warn(f"cost-benefit: {w}", CpevalWarning, stacklevel=2)
    outcome_rows = []
    for j, o in enumerate(inputs.outcomes):
        outcome_rows.append({
            "outcome": o.outcome, "category": o.category, "label": o.label, "measure": o.measure,
            "estimate": float(est[j]), "conversion": o.conversion, "conversion_factor": o.factor,
            "conversion_note": o.factor_note,
            "crimes_avoided_per_year": float(central.crimes_per_year[0, j]),
            "unit_cost": o.unit_cost, "unit_cost_as_published": o.unit_cost_table,
            "unit_cost_price_year": o.unit_cost_price_year, "pv_benefits": float(central.pv_by_outcome[0, j]),
            "components": [
                {"component": r.component, "stage": r.stage, "kind": r.kind, "amount": r.amount}
                for r in inputs.table.components(o.category, spec.perspective)
            ],
        })
    prov = inputs.table.provenance()
    prov["deflator"] = {"series": inputs.deflator.name, **{k: v for k, v in inputs.deflator.meta.items()
                                                           if k in ("title", "publisher", "verification")}}
    return CostBenefitResult(
        currency=spec.currency, price_year=spec.price_year, perspective=spec.perspective,
        horizon_years=spec.horizon_years, discount=describe(spec.discount), unit_cost_table=inputs.table.name,
        pv_costs=pvc, pv_benefits=pvb, npv=pvb - pvc, bcr=ratio(pvb, pvc), roi=ratio(pvb - pvc, pvc),
        crimes_avoided=crimes, cost_per_crime_avoided=ratio(pvc, crimes) if crimes > 0 else None,
        outcomes=tuple(outcome_rows), costs=inputs.cost_items, schedule=tuple(schedule_table(inputs, est)),
        break_even=tuple(break_even(inputs, central, est)), monte_carlo=mc,
        by_perspective=tuple(by_perspective(inputs, central)),
        tornado=tuple(tornado(inputs, used, est)), provenance=prov,
        assumptions={
            "effect_decay": spec.effect_decay, "observed_years": spec.observed_years,
            "effect_start_year": spec.effect_start_year, "periods_per_year": spec.periods_per_year,
            "uncertainty": spec.uncertainty.model_dump(mode="json"),
            "cost_per_crime_avoided": "PV of costs / crimes avoided over the horizon (undiscounted count)",
            "year_zero": "year 0 is the present and is not discounted",
            "monte_carlo_effects": (mc.get("effect_dependence") or {}).get("method", "no Monte Carlo run"),
        },
        warnings=tuple(warn),
        unpriced=unpriced,
    )


def _drawable(effects: Sequence[Effect], warn: list[str]) -> tuple[list[Effect], list[str]]:
    """Effects the Monte Carlo can draw. An effect with no standard error (a conformal or permutation interval,
    e.g. synthetic control) and no bootstrap draws is drawn from a normal law whose SE is its interval's
    half-width over the normal critical value (a warned approximation); with an unbounded interval it cannot
    be drawn at all, and the reasons are returned."""
    import dataclasses
    import math

    from cpeval.results import critical_value

    out, why_not = [], []
    for e in effects:
        if math.isfinite(e.std_error) or (e.sampling is not None and e.sampling.draws is not None):
            out.append(e)
            continue
        if not (math.isfinite(e.ci_lower) and math.isfinite(e.ci_upper)):
            why_not.append(f"{e.outcome}: the {e.method} effect has neither a standard error nor a bounded "
                           "interval, so its sampling distribution is unknown")
            continue
        z = critical_value(e.level)
        se = (e.ci_upper - e.ci_lower) / (2 * z)
        warn.append(f"{e.outcome}: the {e.method} interval is not built from a standard error; the Monte Carlo "
                    f"draws the effect from a normal law with SE {se:.4g} (the {e.level:.0%} interval's width / "
                    f"{2 * z:.3f}), an approximation")
        out.append(dataclasses.replace(e, std_error=se, df=None, sampling=None))
    return out, why_not


def run_cost_benefit(design: DesignBase, panel: Panel | None, effects: Sequence[Effect]) -> CostBenefitResult:
    return cost_benefit(prepare(design, panel), effects)
