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
from cpeval.estimation.did import cs_influence

if TYPE_CHECKING:
    from collections.abc import Callable

    from cpeval.estimation.did.cs_data import CsData

MEASURES = ("count", "rate")


def treated_means(data: CsData, cells: agg.Cells, inf: Any) -> tuple[np.ndarray, Any]:
    """Observed mean outcome of cohort g in period t for every post-treatment cell, and the holder of their
    influence functions (of the same kind as ``inf``, the cells')."""
    K = len(cells.att)
    mu = np.full(K, np.nan)
    pos = {p: i for i, p in enumerate(data.periods)}
    use = (cells.time >= cells.group) & np.isfinite(cells.att)
    if isinstance(inf, cs_influence.PanelMeans):
        # class g's weighted mean of Y_t; influence n w_i (Y_it - mu) / W_g on its units
        rows = inf.rows
        totals, W = rows.weighted_totals(), rows.weight_totals
        cls = np.searchsorted(cells.glist, cells.group)
        t = np.array([pos[v] for v in cells.time])
        scale = np.where(use, rows.n / W[cls], 0.0)
        mu = np.where(use, totals[cls, t] / W[cls], np.nan)
        beta = np.zeros((K, cells.n_classes, len(data.periods)))
        alpha = np.zeros((K, cells.n_classes))
        beta[np.arange(K), cls, t] = scale
        alpha[np.arange(K), cls] = np.where(use, scale * mu, 0.0)
        return mu, cs_influence.PanelMeans(rows, beta, alpha)
    dense = np.zeros((data.n, K), order="F")
    for k in np.flatnonzero(use):
        ti = pos[cells.time[k]]
        if data.Y is not None:
            hit = np.flatnonzero(data.unit_group == cells.group[k])
            y, w, ids = data.Y[hit, ti], data.unit_weight[hit], hit
        else:
            assert data.tcode is not None and data.row_group is not None and data.y is not None
            assert data.row_weight is not None and data.ids is not None
            rows_k = np.flatnonzero((data.tcode == ti) & (data.row_group == cells.group[k]))
            y, w, ids = data.y[rows_k], data.row_weight[rows_k], data.ids[rows_k]
        total = w.sum()
        if len(y) == 0 or total <= 0:
            continue
        mu[k] = (w @ y) / total
        dense[:, k] = np.bincount(ids, weights=data.n * w * (y - mu[k]) / total, minlength=data.n)
    return mu, cs_influence.Dense(dense, inf.weight, inf.classes, inf.cluster)


def percent_change(
    data: CsData, cells: agg.Cells, inf: Any, run: Callable[[agg.Cells], agg.Aggregate], level: float
) -> dict[str, Any] | None:
    """100 * ATT / counterfactual mean for the headline aggregation ``run`` (the function that aggregated the
    ATT(g,t)), with an interval by the delta method; ``inf`` holds the cells' influence functions."""
    from cpeval.estimation.inference import wald_interval

    mu, mu_inf = treated_means(data, cells, inf)
    post = (cells.time >= cells.group).astype(float)
    # counterfactual cells: observed mean minus ATT (pre-treatment cells are not used by the overall figures);
    # their influence functions are post * (mu_inf - inf)
    cf = np.where(post > 0, mu - cells.att, 0.0)
    cf = np.where(np.isfinite(cells.att), cf, np.nan)
    a, m = run(cells), run(replace(cells, att=cf))
    if not (np.isfinite(m.overall) and m.overall > 0):
        return None
    ratio = a.overall / m.overall
    # (a.overall_inf - ratio * m.overall_inf) / m.overall on the stacked basis (cells, treated means)
    coef = np.concatenate([a.overall_coef + ratio * post * m.overall_coef, -ratio * post * m.overall_coef])
    wif = a.overall_wif - ratio * m.overall_wif
    gram = inf.stack(mu_inf).gram(coef[:, None] / m.overall, wif[:, None] / m.overall)
    se = float(agg.se_from_squares(np.diag(gram), data.n)[0])
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
