"""The arithmetic of one appraisal, vectorised over draws.

Every quantity can carry a leading axis of draws (length ``n``; 1 for the central case), so the central
appraisal, the Monte Carlo and the tornado all run through :func:`appraise`.

    profile f_t      = 0 before the effect starts; 1 for ``observed_years`` years; then (1 - decay)^k
    benefit B_t      = sum_o crimes_o x unit_cost_o x multiplier_o x f_t
    PV benefits      = sum_t B_t DF_t ;  PV costs = cost multiplier x sum_t C_t DF_t
    NPV = PVB - PVC ;  BCR = PVB / PVC ;  ROI = NPV / PVC
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cpeval.cba.discount import constant_factors, discount_factors

if TYPE_CHECKING:
    from cpeval.cba.prepare import CbaInputs


def effect_profile(decay: np.ndarray | float, horizon: int, start: int, observed: int) -> np.ndarray:
    """Share of the full effect in force in each year, shape (n, horizon)."""
    d = np.atleast_1d(np.asarray(decay, dtype=float))
    t = np.arange(horizon)
    k = np.maximum(t - start - observed + 1, 0)
    f = np.power(1.0 - d[:, None], k[None, :])
    f[:, t < start] = 0.0
    return f


@dataclass(frozen=True)
class Appraisal:
    """Arrays of length n (draws)."""

    pv_costs: np.ndarray
    pv_benefits: np.ndarray
    pv_by_outcome: np.ndarray  # (n, outcomes)
    crimes_per_year: np.ndarray  # (n, outcomes): at full effect
    crimes_total: np.ndarray  # (n,): over the horizon, undiscounted
    weight: np.ndarray  # (n,): sum_t f_t DF_t

    @property
    def npv(self) -> np.ndarray:
        return self.pv_benefits - self.pv_costs


def appraise(
    inputs: CbaInputs,
    effects: np.ndarray,
    *,
    unit_cost_mult: np.ndarray | None = None,
    cost_mult: np.ndarray | float = 1.0,
    rate: np.ndarray | None = None,
    decay: np.ndarray | float | None = None,
) -> Appraisal:
    """Appraise ``effects`` (shape (n, outcomes), in each outcome's own units).

    ``rate`` (n,) replaces the declared discount schedule with constant rates; ``decay`` overrides the
    declared decay; multipliers default to 1.
    """
    spec = inputs.spec
    h = inputs.horizon
    effects = np.atleast_2d(np.asarray(effects, dtype=float))
    n = effects.shape[0]
    df = discount_factors(inputs.schedule, h)[None, :] if rate is None else constant_factors(rate, h)
    f = effect_profile(spec.effect_decay if decay is None else decay, h, spec.effect_start_year,
                       spec.observed_years)
    weight = (f * df).sum(axis=1)  # broadcasts (1|n, h)
    crimes = np.column_stack([o.crimes_avoided(effects[:, j]) for j, o in enumerate(inputs.outcomes)])
    uc = np.array([o.unit_cost for o in inputs.outcomes])[None, :]
    if unit_cost_mult is not None:
        uc = uc * unit_cost_mult
    pv_by = crimes * uc * weight[:, None]
    pv_costs = np.asarray(cost_mult, dtype=float) * (inputs.costs[None, :] * df).sum(axis=1)
    return Appraisal(
        pv_costs=np.broadcast_to(pv_costs, (n,)).astype(float),
        pv_benefits=pv_by.sum(axis=1),
        pv_by_outcome=pv_by,
        crimes_per_year=crimes,
        crimes_total=crimes.sum(axis=1) * f.sum(axis=1),
        weight=np.broadcast_to(weight, (n,)).astype(float),
    )


def ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def break_even(inputs: CbaInputs, central: Appraisal, estimates: np.ndarray) -> list[dict]:
    """For each outcome: the effect (in its own units) at which NPV = 0, the others held at their estimates."""
    rows = []
    pvc = float(central.pv_costs[0])
    w = float(central.weight[0])
    for j, o in enumerate(inputs.outcomes):
        others = float(central.pv_benefits[0] - central.pv_by_outcome[0, j])
        per_crime = o.unit_cost * w
        crimes_needed = (pvc - others) / per_crime if per_crime > 0 else None
        effect = o.effect_for(crimes_needed) if crimes_needed is not None else None
        est_crimes = float(central.crimes_per_year[0, j])
        rows.append({
            "outcome": o.outcome,
            "estimate": float(estimates[j]),
            "break_even_effect": effect,
            "break_even_crimes_per_year": crimes_needed,
            "estimated_crimes_per_year": est_crimes,
            "share_of_estimate": ratio(crimes_needed, est_crimes) if crimes_needed is not None and est_crimes > 0
            else None,
            "percent_change": 100 * float(np.expm1(effect)) if effect is not None and o.conversion == "log"
            else None,
        })
    return rows


def schedule_table(inputs: CbaInputs, effects: np.ndarray) -> list[dict]:
    """Year-by-year costs and benefits of the central case."""
    spec = inputs.spec
    h = inputs.horizon
    df = discount_factors(inputs.schedule, h)
    f = effect_profile(spec.effect_decay, h, spec.effect_start_year, spec.observed_years)[0]
    crimes = np.array([o.crimes_avoided(effects[j]) for j, o in enumerate(inputs.outcomes)])
    annual_value = float((crimes * np.array([o.unit_cost for o in inputs.outcomes])).sum())
    rows = []
    for t in range(h):
        benefit = annual_value * f[t]
        rows.append({
            "year": t, "discount_factor": float(df[t]), "effect_share": float(f[t]),
            "crimes_avoided": float(crimes.sum() * f[t]), "costs": float(inputs.costs[t]),
            "benefits": benefit, "pv_costs": float(inputs.costs[t] * df[t]), "pv_benefits": benefit * df[t],
        })
    return rows
