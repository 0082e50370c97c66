"""Discount factors: constant rates, step schedules and the named presets (Green Book, OMB Circular A-4).

A schedule is a list of ``(from_year, rate)`` steps. The factor of year ``t`` compounds the rate in force in
each year ``s = 1..t``: ``DF_t = prod_{s=1}^{t} 1 / (1 + r_s)``, so ``DF_0 = 1`` and, under the Green Book,
``DF_40 = 1.035^-30 x 1.03^-10``. This is how the Green Book applies its declining rates (the rate of a band
applies to the years within the band).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# HM Treasury (2022) The Green Book, Table 8 (declining long-term discount rate, standard schedule).
GREEN_BOOK: tuple[tuple[int, float], ...] = (
    (0, 0.035), (31, 0.030), (76, 0.025), (126, 0.020), (201, 0.015), (301, 0.010),
)
PRESETS: dict[str, tuple[tuple[int, float], ...]] = {
    "green_book": GREEN_BOOK,
    "omb_3": ((0, 0.03),),  # OMB Circular A-4 (2003), section E
    "omb_7": ((0, 0.07),),
}


def schedule_from_spec(discount: float | str | Sequence) -> tuple[tuple[int, float], ...]:
    """Turn the design's ``discount`` value (rate, preset name or list of steps) into ``(from_year, rate)``."""
    if isinstance(discount, str):
        return PRESETS[discount]
    if isinstance(discount, (int, float)):
        return ((0, float(discount)),)
    return tuple((int(s.from_year), float(s.rate)) for s in discount)


def yearly_rates(schedule: Sequence[tuple[int, float]], horizon: int) -> np.ndarray:
    """Rate in force in each year 0..horizon-1 (year 0's rate is never used: DF_0 = 1)."""
    years = np.arange(horizon)
    starts = np.array([s for s, _ in schedule])
    rates = np.array([r for _, r in schedule])
    return rates[np.searchsorted(starts, years, side="right") - 1]


def discount_factors(schedule: Sequence[tuple[int, float]], horizon: int) -> np.ndarray:
    """DF_t for t = 0..horizon-1."""
    r = yearly_rates(schedule, horizon)
    growth = np.concatenate([[1.0], 1.0 + r[1:]])
    return 1.0 / np.cumprod(growth)


def describe(discount: float | str | Sequence) -> str:
    if isinstance(discount, str):
        from cpeval.designs.cost_benefit import DISCOUNT_PRESETS

        return DISCOUNT_PRESETS[discount]
    if isinstance(discount, (int, float)):
        return f"constant {100 * float(discount):.4g}%"
    steps = ", ".join(f"{100 * r:.4g}% from year {y}" for y, r in schedule_from_spec(discount))
    return f"schedule: {steps}"
