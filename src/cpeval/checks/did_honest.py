"""Rambachan & Roth (2023) "honest DiD": how large a violation of parallel trends overturns the conclusion?

The event-study coefficients are beta = tau + delta, with tau = 0 before treatment and delta the difference
in trends (delta = 0 at the reference period). The target is theta = l'tau_post (the average post effect or
the first one). Two restrictions on how delta may continue after treatment:

- Relative magnitudes, Delta^RM(Mbar): every post-period change |delta_{t+1} - delta_t| is at most Mbar times
  the largest pre-period change. The identified set is l'beta_post -/+ Mbar * m(beta_pre) * W, with m the
  largest pre-period change and W = sum_j |sum_{t>=j} l_t|. The robust interval inverts the Andrews, Roth &
  Pakes conditional least-favourable hybrid test, as R ``HonestDiD`` does (``did_honest_arp``). Only with
  very many post periods (too many LP bases to enumerate) does it fall back to a Monte Carlo percentile
  interval of the identified-set bounds over draws beta* ~ N(beta, V), and says so.
- Smoothness, Delta^SD(M): the slope of delta may change by at most M between consecutive periods
  (M = 0 allows exactly linear trends). The robust interval is the fixed-length confidence interval of
  Armstrong & Kolesar used by Rambachan & Roth: of the affine estimators v'beta (v_post = l), the one whose
  interval sd * cv(worst-case bias / sd) is shortest, cv being the 1 - alpha quantile of |N(., 1)|. It is
  solved exactly over the bias-variance frontier (``did_honest_sd``).

The breakdown value is the smallest Mbar (or M) at which the robust interval includes zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.checks.did_common import NO_VARIANCE, event_coefficients
from cpeval.checks.did_honest_arp import rm_bounds, rm_weight
from cpeval.checks.did_honest_sd import SmoothnessFrontier, flci
from cpeval.results import CheckResult

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect

N_DRAWS = 4000


def _mbar_search_max(mbar_grid: Sequence[float]) -> float:
    """Largest Mbar the breakdown search tries."""
    return max(10.0, 2 * max(mbar_grid))


def _breakdown(ci_at: Any, hi: float) -> float | None:
    """Smallest x in [0, hi] with 0 in ci_at(x) (None if never); ci_at must be monotone widening."""
    def covers(x: float) -> bool:
        lo_, up_ = ci_at(x)
        return lo_ <= 0 <= up_

    if covers(0.0):
        return 0.0
    if not covers(hi):
        return None
    a, b = 0.0, hi
    for _ in range(40):
        mid = (a + b) / 2
        a, b = (a, mid) if covers(mid) else (mid, b)
    return b


def honest_analysis(beta: np.ndarray, vcov: np.ndarray, n_pre: int, lvec: np.ndarray, *, alpha: float,
                    mbar_grid: Sequence[float], m_grid: Sequence[float] | None, seed: int) -> dict[str, Any]:
    """Robust intervals over the grids and breakdown values of both restrictions."""
    from cpeval.checks.did_honest_arp import feasible, rm_interval

    c0, h0 = rm_bounds(beta[None, :], n_pre, lvec)
    method = "Andrews-Roth-Pakes conditional least-favourable hybrid (as R HonestDiD C-LF)"
    if not feasible(len(lvec)):  # too many LP bases to enumerate: percentile interval
        method = "Monte Carlo percentile of identified-set bounds (too many post periods for the ARP test)"
        rng = np.random.default_rng(seed)
        chol = np.linalg.cholesky(vcov + 1e-14 * np.eye(len(beta)) * max(np.diag(vcov).max(), 1e-300))
        draws = beta + rng.standard_normal((N_DRAWS, len(beta))) @ chol.T
        centre, halfw = rm_bounds(draws, n_pre, lvec)

    notes: dict[float, str] = {}

    def rm_ci(mbar: float) -> tuple[float, float]:
        if method.startswith("Monte Carlo"):
            return (float(np.quantile(centre - mbar * halfw, alpha / 2)),
                    float(np.quantile(centre + mbar * halfw, 1 - alpha / 2)))
        ci = rm_interval(beta, vcov, n_pre, lvec, mbar, alpha, seed)
        assert ci is not None
        if ci.note:
            notes[mbar] = ci.note
        return ci.lower, ci.upper

    rows: list[dict[str, Any]] = []
    for mb in mbar_grid:
        lo, up = rm_ci(mb)
        rows.append({"restriction": "relative_magnitudes", "bound": float(mb), "ci_lower": lo, "ci_upper": up,
                     "set_lower": float(c0[0] - mb * h0[0]), "set_upper": float(c0[0] + mb * h0[0]),
                     "includes_zero": bool(lo <= 0 <= up), "note": notes.get(mb)})
    sd_rows: list[dict[str, Any]] = []
    pre = np.concatenate([beta[:n_pre], [0.0]])
    slope_change = np.abs(np.diff(pre, n=2)).max() if n_pre >= 2 else None
    frontier = SmoothnessFrontier.build(vcov, n_pre, lvec) if n_pre >= 2 else None

    def sd_ci(m: float) -> tuple[float, float]:
        return flci(beta, vcov, n_pre, lvec, m, alpha, frontier=frontier)

    if n_pre >= 2:
        if m_grid is None:
            top = 2 * float(slope_change) if slope_change and slope_change > 0 else float(np.sqrt(np.diag(vcov)).mean())
            m_grid = list(np.linspace(0.0, top, 9))
        for mm in m_grid:
            lo, up = sd_ci(float(mm))
            sd_rows.append({"restriction": "smoothness", "bound": float(mm), "ci_lower": lo, "ci_upper": up,
                            "set_lower": None, "set_upper": None, "includes_zero": bool(lo <= 0 <= up)})
    out: dict[str, Any] = {
        "rows": rows + sd_rows,
        "breakdown_mbar": _breakdown(rm_ci, _mbar_search_max(mbar_grid)),
        "max_pre_change": float(h0[0] / rm_weight(lvec)),
        "max_pre_slope_change": None if slope_change is None else float(slope_change),
        "breakdown_m": None,
        "rm_interval_method": method,
    }
    if n_pre >= 2:
        scale = max(float(np.sqrt(np.diag(vcov)).max()), 1e-12)
        out["breakdown_m"] = _breakdown(sd_ci, 20 * scale)
    return out


def honest_did(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    spec = panel.design.checks.options("honest_did")
    out: list[CheckResult] = []
    for effect in effects:
        ec = event_coefficients(panel, effect, need_unbinned=True)
        if not ec.has_variance:
            out.append(CheckResult(name="honest_did", status="info", outcome=effect.outcome,
                                   message=f"not run: {NO_VARIANCE}, and the robust intervals are built from it"))
            continue
        keys = ec.keys
        pre_mask = keys < ec.ref
        pre_keys = keys[pre_mask]
        post_keys = keys[keys > ec.ref]
        # keep only the consecutive leads next to the reference period
        n_pre = 0
        while n_pre < len(pre_keys) and pre_keys[len(pre_keys) - 1 - n_pre] == ec.ref - 1 - n_pre:
            n_pre += 1
        if n_pre == 0:
            out.append(CheckResult(name="honest_did", status="info", outcome=effect.outcome,
                                   message="no lead next to the reference period, so nothing to calibrate the "
                                   "sensitivity analysis on"))
            continue
        idx = np.concatenate([np.flatnonzero(pre_mask)[len(pre_keys) - n_pre:], np.flatnonzero(keys > ec.ref)])
        beta, vcov = ec.beta[idx], ec.vcov[np.ix_(idx, idx)]
        lvec = (post_keys >= 0).astype(float) if spec.target == "average" else (post_keys == 0).astype(float)
        lvec = lvec / lvec.sum()
        alpha = 1 - ec.level
        res = honest_analysis(beta, vcov, n_pre, lvec, alpha=alpha, mbar_grid=spec.mbar, m_grid=spec.m,
                              seed=panel.design.inference.seed)
        theta = float(beta[n_pre:] @ lvec)
        what = "the average post-treatment effect" if spec.target == "average" else "the effect at event time 0"
        bd = res["breakdown_mbar"]
        bdm = res["breakdown_m"]
        sd_txt = (f"; under smoothness the conclusion survives a change in the slope of the trend gap of up to "
                  f"{bdm:.3g} per period" if bdm else "")
        if bd == 0.0:
            status = "info"
            msg = (f"{what} ({theta:.4g}) is not significant even under exact parallel trends, so there is no "
                   "conclusion to break; the table shows how wide the robust intervals become")
            if bdm:
                msg += (f" (a linear extrapolation of the pre-treatment trend would make it significant, but only "
                        f"while the slope of the trend gap changes by less than {bdm:.3g} per period)")
        elif bd is None:
            status = "pass"
            msg = (f"{what} ({theta:.4g}) stays significant for every Mbar up to {_mbar_search_max(spec.mbar):g}: "
                   f"robust to post-treatment violations far larger than the pre-treatment ones{sd_txt}")
        elif bd < 1.0:
            status = "warn"
            msg = (f"fragile: {what} ({theta:.4g}) stays significant only if post-treatment departures from "
                   f"parallel trends are smaller than {bd:.2f} times the largest pre-treatment change "
                   f"(breakdown Mbar = {bd:.2f} < 1); violations as large as those already seen before treatment "
                   f"would overturn the conclusion{sd_txt}")
        else:
            status = "pass"
            msg = (f"{what} ({theta:.4g}) stays significant unless post-treatment departures from parallel trends "
                   f"exceed {bd:.2f} times the largest pre-treatment change (breakdown Mbar = {bd:.2f}){sd_txt}")
        values = {k: v for k, v in res.items() if k != "rows"}
        values.update({"target": spec.target, "theta": theta, "n_pre": n_pre, "source_method": ec.method,
                       "interval_method": {"relative_magnitudes": res["rm_interval_method"],
                                           "smoothness": "fixed-length CI (Armstrong-Kolesar)"}})
        out.append(CheckResult(name="honest_did", status=status, outcome=effect.outcome, message=msg,
                               table=tuple(res["rows"]), values=values))
    return out
