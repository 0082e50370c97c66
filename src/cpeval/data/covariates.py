"""Covariates a two-way fixed-effects regression cannot estimate because the fixed effects absorb them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from cpeval.designs.did import DidDesign


def absorbed_covariates(df: pd.DataFrame, design: DidDesign) -> list[tuple[str, str]]:
    """``(column, message)`` for each covariate that does not vary within units or within periods.

    Such a covariate is collinear with the unit (or period) effects of twfe, the event study and
    Sun-Abraham. Callaway & Sant'Anna take covariates at the base period instead, so covariates constant
    over time are what they expect; they are not checked here.
    """
    est = design.estimator
    if est.capabilities.covariates != "time_varying" or not est.covariates:
        return []
    unit, time = design.data.unit, design.data.time
    u, _ = pd.factorize(df[unit])
    t, _ = pd.factorize(df[time])
    found = []
    for i, col in enumerate(est.covariates):
        if not pd.api.types.is_numeric_dtype(df[col]):
            continue  # reported already
        x = df[col].to_numpy(dtype=float)
        if not np.isfinite(x).all():
            continue  # reported already
        by = [(within, effects) for within, effects, codes in (
            ("units", f"the unit effects ({unit})", u), ("periods", f"the period effects ({time})", t),
        ) if not _varies_within(x, codes)]
        if by:
            what = "takes a single value" if len(by) == 2 else f"does not vary within {by[0][0]}"
            effects = " and ".join(e for _, e in by)
            found.append((col, f"estimator.covariates[{i}] {col!r} {what}, so it is absorbed by {effects} "
                               f"and method '{est.method}' cannot estimate it; remove it from estimator.covariates "
                               "(the fixed effects already control for it)"))
    return found


def _varies_within(x: np.ndarray, groups: np.ndarray) -> bool:
    """Whether ``x`` takes more than one value (beyond rounding) within at least one group."""
    size = int(groups.max()) + 1 if len(groups) else 0
    lo = np.full(size, np.inf)
    hi = np.full(size, -np.inf)
    np.minimum.at(lo, groups, x)
    np.maximum.at(hi, groups, x)
    tol = 1e-12 * max(float(np.abs(x).max()), 1.0)
    return bool((hi - lo > tol).any())
