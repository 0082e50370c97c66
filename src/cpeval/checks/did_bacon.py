"""Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD under staggered adoption.

The TWFE coefficient on an absorbing treatment in a balanced panel is a weighted average of every 2x2 DiD
between timing groups: treated vs never treated, earlier- vs later-treated (the later group still untreated)
and later- vs earlier-treated (the earlier group, already treated, used as the control: the "forbidden"
comparison that biases TWFE when effects change over time). Weights are shares of the variance of the
two-way-demeaned treatment; they sum to one and the weighted 2x2s reproduce the TWFE estimate exactly.
The decomposition is of the unweighted TWFE without covariates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.checks.did_common import outcome_spec
from cpeval.data.panel import COHORT
from cpeval.errors import EstimationError
from cpeval.estimation.demean import FixedEffects, group_sums
from cpeval.results import CheckResult

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.panel import Panel
    from cpeval.results import Effect

NEVER = "treated vs never treated"
EARLY = "earlier vs later treated"
LATE = "later vs earlier treated (already-treated controls)"


def bacon_decomposition(frame: pd.DataFrame, *, unit: str, time: str, y: str, cohort: str = COHORT) -> dict[str, Any]:
    """Weights and 2x2 estimates of every timing comparison, the TWFE estimate and the weighted sum.

    ``cohort`` holds the first treated period (NaN: never treated). Needs a balanced panel.
    """
    periods = np.sort(frame[time].unique())
    n_t = len(periods)
    units, u_code = np.unique(frame[unit].to_numpy(), return_inverse=True)
    n_u = len(units)
    if len(frame) != n_u * n_t:
        raise EstimationError(
            f"the Bacon decomposition needs a balanced panel ({n_u} units x {n_t} periods = {n_u * n_t} rows); "
            f"the rows with outcome {y!r} are {len(frame)}: keep only units observed in every period, or remove "
            "'bacon' from checks"
        )
    t_code = np.searchsorted(periods, frame[time].to_numpy())
    ymat = np.full((n_u, n_t), np.nan)
    ymat[u_code, t_code] = frame[y].to_numpy(dtype=float)
    g_unit = np.full(n_u, np.nan)
    g_unit[u_code] = frame[cohort].to_numpy(dtype=float)
    start = np.where(np.isnan(g_unit), n_t, np.searchsorted(periods, np.nan_to_num(g_unit, nan=np.inf)))
    start = np.minimum(start, n_t)  # adopting after the last period = untreated in the sample
    if (start == 0).any():
        raise EstimationError(
            f"{int((start == 0).sum())} units are treated from the first period on (column {cohort!r}), which the "
            "decomposition cannot place in a timing group: drop them, or remove 'bacon' from checks"
        )
    # TWFE: the treatment with unit and period effects swept out, regressed on the outcome
    dd = FixedEffects([u_code, t_code]).demean((t_code >= start[u_code]).astype(float))
    v_d = float((dd**2).mean())
    twfe = float(dd @ frame[y].to_numpy(dtype=float) / (dd**2).sum())
    groups, g_code = np.unique(start, return_inverse=True)  # start == n_t: untreated group
    share = np.bincount(g_code) / n_u
    ybar = group_sums(ymat, g_code, len(groups)) / np.bincount(g_code)[:, None]
    dbar = (n_t - groups) / n_t
    has_never = groups[-1] == n_t
    rows: list[dict[str, Any]] = []

    def mean(gi: int, a: int, b: int) -> float:
        return float(ybar[gi, a:b].mean())

    treated = [i for i in range(len(groups)) if groups[i] < n_t]
    if has_never:
        u = len(groups) - 1
        for k in treated:
            p = groups[k]
            nk, nu = share[k], share[u]
            nku = nk / (nk + nu)
            w = (nk + nu) ** 2 * nku * (1 - nku) * dbar[k] * (1 - dbar[k]) / v_d
            est = (mean(k, p, n_t) - mean(k, 0, p)) - (mean(u, p, n_t) - mean(u, 0, p))
            rows.append({"type": NEVER, "treated": _period(periods, p), "control": "never", "weight": w,
                         "estimate": est})
    for i, k in enumerate(treated):
        for l_ in treated[i + 1:]:
            pk, pl = groups[k], groups[l_]
            nk, nl = share[k], share[l_]
            nkl = nk / (nk + nl)
            dk, dl = dbar[k], dbar[l_]
            w_early = ((nk + nl) * (1 - dl)) ** 2 * nkl * (1 - nkl) * ((dk - dl) / (1 - dl)) * ((1 - dk) / (1 - dl))
            est_early = (mean(k, pk, pl) - mean(k, 0, pk)) - (mean(l_, pk, pl) - mean(l_, 0, pk))
            w_late = ((nk + nl) * dk) ** 2 * nkl * (1 - nkl) * (dl / dk) * ((dk - dl) / dk)
            est_late = (mean(l_, pl, n_t) - mean(l_, pk, pl)) - (mean(k, pl, n_t) - mean(k, pk, pl))
            rows.append({"type": EARLY, "treated": _period(periods, pk), "control": _period(periods, pl),
                         "weight": w_early / v_d, "estimate": est_early})
            rows.append({"type": LATE, "treated": _period(periods, pl), "control": _period(periods, pk),
                         "weight": w_late / v_d, "estimate": est_late})
    weights = np.asarray([r["weight"] for r in rows])
    ests = np.asarray([r["estimate"] for r in rows])
    by_type = {}
    for t in (NEVER, EARLY, LATE):
        m = np.asarray([r["type"] == t for r in rows], dtype=bool)
        if m.any():
            by_type[t] = {"weight": float(weights[m].sum()),
                          "estimate": float(weights[m] @ ests[m] / weights[m].sum()) if weights[m].sum() > 0 else None}
    return {"rows": rows, "twfe": twfe, "weighted_sum": float(weights @ ests), "weight_total": float(weights.sum()),
            "by_type": by_type}


def _period(periods: np.ndarray, p: int) -> Any:
    v = periods[p]
    return v.item() if hasattr(v, "item") else v


def bacon(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    assert panel.time is not None
    out: list[CheckResult] = []
    design = panel.design
    caveats = []
    if design.data.weights:
        caveats.append(f"the decomposition is of the unweighted TWFE (weights {design.data.weights!r} ignored)")
    if design.estimator.covariates:  # type: ignore[attr-defined]
        caveats.append("covariates are left out of the decomposition")
    for effect in effects:
        spec = outcome_spec(panel, effect.outcome)
        res = bacon_decomposition(panel.outcome_rows(spec.column), unit=panel.unit, time=panel.time, y=spec.column)
        late = res["by_type"].get(LATE, {"weight": 0.0, "estimate": None})
        clean_rows = [r for r in res["rows"] if r["type"] != LATE]
        cw = sum(r["weight"] for r in clean_rows)
        clean = sum(r["weight"] * r["estimate"] for r in clean_rows) / cw if cw > 0 else None
        parts = "; ".join(
            f"{t}: weight {v['weight']:.2f}, average 2x2 {v['estimate']:.4g}" for t, v in res["by_type"].items()
        )
        status = "info"
        msg = f"TWFE {res['twfe']:.4g} = weighted average of {len(res['rows'])} 2x2 DiDs ({parts})"
        lw = late["weight"]
        if lw >= 0.1 and late["estimate"] is not None and clean is not None and (
            np.sign(late["estimate"]) != np.sign(clean) or abs(late["estimate"] - clean) > 0.5 * abs(clean)
        ):
            status = "warn"
            msg += (
                f". {lw:.0%} of the TWFE weight comes from comparisons that use already-treated units as "
                f"controls, and those 2x2s ({late['estimate']:.4g}) disagree with the clean comparisons "
                f"({clean:.4g}): effects probably change over time, so TWFE is biased; prefer a "
                "heterogeneity-robust estimator (callaway_santanna, sun_abraham)"
            )
        elif lw >= 0.1:
            msg += (f". {lw:.0%} of the weight is on already-treated controls, but those 2x2s agree with the "
                    "clean comparisons")
        if caveats:
            msg += " (" + "; ".join(caveats) + ")"
        out.append(CheckResult(
            name="bacon", status=status, outcome=effect.outcome, message=msg, table=tuple(res["rows"]),
            values={"twfe": res["twfe"], "weighted_sum": res["weighted_sum"], "weight_total": res["weight_total"],
                    "by_type": res["by_type"], "clean_estimate": clean},
        ))
    return out
