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

from cpeval.cba.discount import discount_factors

if TYPE_CHECKING:
    from cpeval.cba.prepare import CbaInputs


def decay_exponents(horizon: int, start: int, observed: int) -> np.ndarray:
    """k_t: years of decay applied in year t (0 until the observed period ends)."""
    t = np.arange(horizon)
    return np.maximum(t - start - observed + 1, 0)


def effect_profile(decay: np.ndarray | float, horizon: int, start: int, observed: int) -> np.ndarray:
    """Share of the full effect in force in each year, shape (n, horizon)."""
    d = np.atleast_1d(np.asarray(decay, dtype=float))
    f = np.power(1.0 - d[:, None], decay_exponents(horizon, start, observed)[None, :])
    f[:, np.arange(horizon) < start] = 0.0
    return f


def _weights_and_cost_pv(inputs: CbaInputs, rate: np.ndarray | None, decay: np.ndarray | float
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sum_t f_t DF_t, sum_t C_t DF_t, sum_t f_t), each of length 1 or n.

    With constant rates and decays drawn per row: DF = exp(-t log(1 + r)) and f = exp(k_t log(1 - d)),
    one exponential each (cheaper than powers).
    """
    spec = inputs.spec
    h = spec.horizon_years
    k = decay_exponents(h, spec.effect_start_year, spec.observed_years)
    active = np.arange(h) >= spec.effect_start_year
    d = np.atleast_1d(np.asarray(decay, dtype=float))
    if rate is None:
        df = discount_factors(inputs.schedule, h)
        f = effect_profile(d, h, spec.effect_start_year, spec.observed_years)
        return f @ df, np.atleast_1d(inputs.costs @ df), f.sum(axis=1)
    df = np.exp(-np.outer(np.log1p(np.asarray(rate, dtype=float)), np.arange(h)))  # (n, h)
    pv_costs = df @ inputs.costs
    with np.errstate(divide="ignore", invalid="ignore"):
        log_keep = np.log1p(-np.minimum(d, 1.0))  # -inf when the effect vanishes at once
        log_f = np.where(k[None, :] > 0, np.outer(log_keep, k), 0.0)  # (n|1, h)
    f = np.where(active[None, :], np.exp(log_f), 0.0)  # (n|1, h)
    return (f * df).sum(axis=1), pv_costs, f.sum(axis=1)


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
    effects = np.atleast_2d(np.asarray(effects, dtype=float))
    n = effects.shape[0]
    weight, cost_pv, f_sum = _weights_and_cost_pv(inputs, rate, spec.effect_decay if decay is None else decay)
    crimes = np.column_stack([o.crimes_avoided(effects[:, j]) for j, o in enumerate(inputs.outcomes)])
    uc = np.array([o.unit_cost for o in inputs.outcomes])[None, :]
    if unit_cost_mult is not None:
        uc = uc * unit_cost_mult
    pv_by = crimes * uc * weight[:, None]
    pv_costs = np.asarray(cost_mult, dtype=float) * cost_pv
    return Appraisal(
        pv_costs=np.broadcast_to(pv_costs, (n,)).astype(float),
        pv_benefits=pv_by.sum(axis=1),
        pv_by_outcome=pv_by,
        crimes_per_year=crimes,
        crimes_total=crimes.sum(axis=1) * f_sum,
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


def by_perspective(inputs: CbaInputs, central: Appraisal) -> list[dict]:
    """PV of benefits and NPV of the central case under each perspective that covers every valued outcome."""
    pvc = float(central.pv_costs[0])
    w = float(central.weight[0])
    rows = []
    for p, _ in inputs.outcomes[0].by_perspective:
        pvb = sum(float(central.crimes_per_year[0, j]) * dict(o.by_perspective)[p] * w
                  for j, o in enumerate(inputs.outcomes))
        rows.append({"perspective": p, "pv_benefits": pvb, "npv": pvb - pvc, "bcr": ratio(pvb, pvc),
                     "chosen": p == inputs.spec.perspective})
    return rows


def schedule_table(inputs: CbaInputs, effects: np.ndarray) -> list[dict]:
    """Year-by-year costs and benefits of the central case."""
    spec = inputs.spec
    h = spec.horizon_years
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
