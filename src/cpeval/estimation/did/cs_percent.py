"""Callaway & Sant'Anna effects on counts and rates as a percentage of the counterfactual.

For a post-treatment cell, the treated cohort's untreated (counterfactual) mean is its observed mean minus
ATT(g,t). Aggregating these counterfactual means with the same weights as the ATT gives the denominator,
so the percentage change is 100 * ATT_agg / counterfactual_agg. Its standard error comes from the delta
method on the joint influence functions (cohort-share weights included), so it is consistent with the
ATT's own analytic standard error.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.estimation.did import cs_aggregate as agg

if TYPE_CHECKING:
    from collections.abc import Callable

    from cpeval.estimation.did.cs_data import CsData

MEASURES = ("count", "rate")


def treated_means(data: CsData, cells: agg.Cells) -> tuple[np.ndarray, np.ndarray]:
    """Observed mean outcome of cohort g in period t for every cell, and its influence function (n x K)."""
    K = len(cells.att)
    mu = np.full(K, np.nan)
    inf = np.zeros((data.n, K), order="F")
    pos = {p: i for i, p in enumerate(data.periods)}
    for k in range(K):
        if cells.time[k] < cells.group[k] or not np.isfinite(cells.att[k]):
            continue
        ti = pos[cells.time[k]]
        if data.Y is not None:
            hit = np.flatnonzero(data.unit_group == cells.group[k])
            y, w, ids = data.Y[hit, ti], data.unit_weight[hit], hit
        else:
            assert data.tcode is not None and data.row_group is not None and data.y is not None
            assert data.row_weight is not None and data.ids is not None
            rows = np.flatnonzero((data.tcode == ti) & (data.row_group == cells.group[k]))
            y, w, ids = data.y[rows], data.row_weight[rows], data.ids[rows]
        total = w.sum()
        if len(y) == 0 or total <= 0:
            continue
        mu[k] = (w @ y) / total
        inf[:, k] = np.bincount(ids, weights=data.n * w * (y - mu[k]) / total, minlength=data.n)
    return mu, inf


def percent_change(
    data: CsData, cells: agg.Cells, run: Callable[[agg.Cells], agg.Aggregate], level: float
) -> dict[str, Any] | None:
    """100 * ATT / counterfactual mean for the headline aggregation ``run`` (the function that aggregated the
    ATT(g,t)), with an interval by the delta method."""
    from cpeval.estimation.inference import wald_interval

    mu, mu_inf = treated_means(data, cells)
    post = cells.time >= cells.group
    # counterfactual cells: observed mean minus ATT (pre-treatment cells are not used by the overall figures)
    cf = np.where(post, mu - cells.att, 0.0)
    cf = np.where(np.isfinite(cells.att), cf, np.nan)
    cf_inf = np.where(post, 1.0, 0.0) * (mu_inf - cells.inf)
    cf_cells = replace(cells, att=cf, inf=cf_inf)
    a, m = run(cells), run(cf_cells)
    if not (np.isfinite(m.overall) and m.overall > 0):
        return None
    ratio = a.overall / m.overall
    inf = (a.overall_inf - ratio * m.overall_inf) / m.overall
    se = float(agg.analytic_se(agg.cluster_sums(inf[:, None], data.cluster), data.n)[0])
    if not np.isfinite(se):
        return None
    ci = wald_interval(100 * ratio, 100 * se, level, None)
    return {
        "aggregation": a.name,
        "estimate": 100 * ratio,
        "std_error": 100 * se,
        "ci_lower": ci.lower,
        "ci_upper": ci.upper,
        "p_value": ci.p_value,
        "counterfactual_mean": m.overall,
        "note": "percentage of the treated units' counterfactual (untreated) mean outcome, same aggregation "
        "weights; delta-method analytic standard error",
    }
