"""Spatial displacement and diffusion of benefits: WDQ and WDD from the counts by role, and the design-based
estimate (buffer areas against controls with the design's own estimator) with the total net effect.

The design-based part fits the design's estimator twice: treated areas against controls (buffers left out, as
they may be contaminated) and buffer areas against the same controls, buffers 'treated' from the programme's
start. The total net effect is the change in crimes across treated and buffer areas; its interval uses the
joint sampling law of the two effects (their influence values share the control areas; see
:func:`cpeval.estimation.inference.effect_correlation`), not an independence assumption.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.consequences import refit
from cpeval.consequences.result import Finding
from cpeval.consequences.wdd import wdd_shared_control
from cpeval.consequences.wdq import wdq

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.consequences.spatial import Roles
    from cpeval.designs.base import DesignBase
    from cpeval.results import Effect


def role_counts(frame: pd.DataFrame, design: DesignBase, roles: Roles, column: str) -> dict[str, Any]:
    """Counts of ``column`` by role before and after the start, with periods and areas per role."""
    unit, time = design.data.unit, design.data.time
    role = frame[unit].map(roles.role).to_numpy()
    post = (frame[time] >= roles.start).to_numpy()
    y = frame[column].to_numpy(dtype=float)
    out: dict[str, Any] = {}
    for r in ("treated", "buffer", "control"):
        m = role == r
        out[r] = (float(y[m & ~post].sum()), float(y[m & post].sum()))
    out["periods"] = (len(np.unique(frame.loc[~post, time])), len(np.unique(frame.loc[post, time])))
    out["areas"] = roles.counts
    return out


def combine(effects: list[Effect], value: float, grad: np.ndarray) -> dict[str, Any]:
    """Standard error, interval and p-value of ``value``, a function of the effects' estimates with gradient
    ``grad``: variance g' S g, S the effects' covariance from their sampling correlation (their influence
    values; effects of unrelated data are independent). NaN when the variance is not positive."""
    from cpeval.estimation.inference import effect_correlation
    from cpeval.results import critical_value, p_value

    corr, notes, _ = effect_correlation(effects)
    se = np.array([e.std_error for e in effects])
    var = float(grad @ (corr * np.outer(se, se)) @ grad)
    sd = math.sqrt(var) if var > 0 else float("nan")
    dfs = [e.df for e in effects if e.df is not None]
    df = min(dfs) if dfs else None
    level = effects[0].level
    if not math.isfinite(sd):
        ci, p = [float("nan"), float("nan")], float("nan")
    else:
        crit = critical_value(level, df)
        ci, p = [value - crit * sd, value + crit * sd], p_value(value / sd, df)
    return {"std_error": sd, "conf_int": ci, "p_value": p, "level": level, "correlation": float(corr[0, 1]),
            "df": df, "notes": notes}


def net_effect(treated: Effect, buffer: Effect, cells: tuple[float, float], observed: tuple[float, float]
               ) -> dict[str, Any]:
    """Change in crimes across treated and buffer areas from the two effects (negative: fewer crimes).

    Level-scale effects (per area-period) are multiplied by the post-programme area-periods ``cells``; log-scale
    effects (rate ratios) turn the observed post counts ``observed`` into the change Y1 (1 - exp(-b)); the
    interval from the two effects' joint sampling (:func:`combine`)."""
    b = np.array([treated.estimate, buffer.estimate])
    if treated.scale == "log":
        y1 = np.asarray(observed, dtype=float)
        value = float((y1 * -np.expm1(-b)).sum())
        grad = y1 * np.exp(-b)
    else:
        grad = np.asarray(cells, dtype=float)
        value = float(grad @ b)
    return {"net_change": value, **combine([treated, buffer], value, grad)}


def assess(design: DesignBase, frame: pd.DataFrame, roles: Roles, outcomes: list[str], tag: str) -> list[Finding]:
    """One displacement finding per outcome."""
    unit = design.data.unit
    role = frame[unit].map(roles.role)
    time = design.data.time
    findings = []
    with_buffer = frame.loc[role != "treated"].copy()
    in_buffer = (with_buffer[unit].map(roles.role) == "buffer").to_numpy()
    with_buffer[refit.ROLE_TREATED] = (in_buffer & (with_buffer[time] >= roles.start).to_numpy()).astype(int)
    with_buffer[refit.ROLE_COHORT] = np.where(in_buffer, roles.start, 0)
    treated_frame = frame.loc[role != "buffer"]
    buffers = [a.item() if hasattr(a, "item") else a for a in roles.areas("buffer")]
    for name in outcomes:
        spec = next(o for o in design.outcomes if o.name == name)
        counts = role_counts(frame, design, roles, spec.column)
        q = wdq(counts["treated"], counts["buffer"], counts["control"])
        a = counts["areas"]
        w = wdd_shared_control(counts["treated"], counts["buffer"], counts["control"], time_weights=counts["periods"],
                               area_weights=(a["treated"], a["buffer"], a["control"]), level=design.inference.level)
        outs = refit.outcome_dicts(design, [name])
        t_design = refit.variant(design, outcomes=outs)
        b_design = refit.variant(design, outcomes=outs,
                                 treatment=refit.buffer_treatment(design, buffers, roles.start))
        e_t = refit.fit(t_design, treated_frame, name, tag)
        e_b = refit.fit(b_design, with_buffer, name, tag)
        n_post = counts["periods"][1]
        net = net_effect(e_t, e_b, (a["treated"] * n_post, a["buffer"] * n_post),
                         (counts["treated"][1], counts["buffer"][1]))
        adverse_if = "increase" if spec.better_if == "decrease" else "decrease"
        status, positive = refit.adverse_status(e_b, adverse_if)
        sentence = _sentence(e_b, net, status, positive, spec.label or name)
        if status == "fail" and net_reduction(net, adverse_if):
            status = "warn"
            sentence += " Less crime moved than was prevented, so the net effect is still a reduction."
        findings.append(Finding(
            topic="displacement", name=f"spatial displacement: {name}", status=status, sentence=sentence,
            outcome=name, positive=positive,
            evidence={"buffer_effect": refit.describe(e_b), "treated_effect": refit.describe(e_t),
                      "total_net_effect": net, "wdq": q.to_dict(), "wdd": w.to_dict(), "counts": counts,
                      "buffer_warnings": list(e_b.warnings)},
        ))
    return findings


def net_reduction(net: dict[str, Any], adverse_if: str) -> bool:
    """Whether the net change's interval lies wholly on the welcome side of zero."""
    lo, hi = net["conf_int"]
    return bool(hi < 0) if adverse_if == "increase" else bool(lo > 0)


def _sentence(e_b: Effect, net: dict[str, Any], status: str, positive: bool, label: str) -> str:
    lo, hi = net["conf_int"]
    total = (f" Across the programme and buffer areas together the net change is {net['net_change']:+.0f} "
             f"({net['level']:.0%} interval {lo:+.0f} to {hi:+.0f}).") if math.isfinite(lo) else ""
    moved = f"{label} in the surrounding (buffer) areas {refit.change_words(e_b)} compared with the control areas"
    if status == "fail":
        return f"Displacement: {moved}.{total}"
    if positive:
        return f"Diffusion of benefits: {moved}.{total}"
    return f"No clear displacement or diffusion: {moved}.{total}"
