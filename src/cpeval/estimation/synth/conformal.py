"""Conformal inference for synthetic controls (Chernozhukov, Wuthrich & Zhu 2021, JASA).

Under the null that the effect in the post-period(s) equals ``theta``, the treated outcome minus ``theta``
is an untreated outcome; the counterfactual model is refitted on *all* periods (pre and post) and the
residuals are exchangeable over time. The p-value compares the post-period residual statistic with its
values under time permutations; intervals collect the ``theta`` not rejected.

- per period t: the data are the pre-periods plus t; the statistic is |u_t|; permutations are the T0+1
  cyclic shifts (so the p-value is the share of periods whose |u| is at least |u_t|);
- the average effect: the post-periods are collapsed to their mean and tested as one extra period like the
  per-period intervals (the constant-effect test over every post-period, with moving-block permutations,
  has little power against large effects when the refitted synthetic control fits badly, so its
  acceptance region need not be an interval; its p-value for zero is reported as a diagnostic).

``predict(y1, y0)`` refits the counterfactual on the rows it is given and returns fitted values for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cpeval.estimation.synth._qp import simplex_ls
from cpeval.estimation.synth.core import rmspe

Predict = Callable[[np.ndarray, np.ndarray], np.ndarray]


def sc_predictor() -> Predict:
    """Outcome-only synthetic control (simplex least squares on the given periods), warm-started."""
    state: dict[str, np.ndarray | None] = {"warm": None}

    def predict(y1: np.ndarray, y0: np.ndarray) -> np.ndarray:
        w = simplex_ls(y0, y1, warm=state["warm"])
        state["warm"] = w
        return y0 @ w

    return predict


def p_period(y1: np.ndarray, y0: np.ndarray, n_pre: int, t: int, theta: float, predict: Predict) -> float:
    rows = np.r_[np.arange(n_pre), t]
    yy = y1[rows].copy()
    yy[-1] -= theta
    u = np.abs(yy - predict(yy, y0[rows]))
    return float(np.mean(u >= u[-1] - 1e-12 * max(1.0, u[-1])))


def p_average(y1: np.ndarray, y0: np.ndarray, n_pre: int, theta: float, predict: Predict) -> float:
    """Average effect: the post-periods collapsed to their mean, tested as one extra period."""
    yy = np.r_[y1[:n_pre], y1[n_pre:].mean() - theta]
    xx = np.vstack([y0[:n_pre], y0[n_pre:].mean(axis=0)])
    u = np.abs(yy - predict(yy, xx))
    return float(np.mean(u >= u[-1] - 1e-12 * max(1.0, u[-1])))


def p_constant(y1: np.ndarray, y0: np.ndarray, n_pre: int, theta: float, predict: Predict) -> float:
    """A constant effect theta in every post-period: sum of |u| over the post-periods (q = 1), moving blocks."""
    yy = y1.copy()
    yy[n_pre:] -= theta
    u = np.abs(yy - predict(yy, y0))
    big_t = len(u)
    idx = (np.arange(n_pre, big_t)[None, :] + np.arange(big_t)[:, None]) % big_t
    s = u[idx].sum(axis=1)
    return float(np.mean(s >= s[0] - 1e-12 * max(1.0, s[0])))


def invert(pfun: Callable[[float], float], center: float, scale: float, alpha: float) -> tuple[float, float]:
    """The range of theta with p(theta) > alpha: grid search, widened if needed, edges refined by bisection.

    (-inf, inf) when no theta is rejected however far out (the refitted model can fit any effect)."""
    scale = scale if scale > 0 and np.isfinite(scale) else 1.0
    unbounded = False
    for _ in range(8):
        grid = center + scale * np.linspace(-1.0, 1.0, 41)
        ok = np.array([pfun(th) > alpha for th in grid])
        if not ok.any():
            scale /= 4.0
            continue
        if ok[0] or ok[-1]:
            unbounded = True
            scale *= 3.0
            continue
        first, last = int(np.argmax(ok)), len(ok) - 1 - int(np.argmax(ok[::-1]))
        lo = _edge(pfun, grid[first - 1], grid[first], alpha)
        hi = _edge(pfun, grid[last + 1], grid[last], alpha)
        return lo, hi
    if unbounded:  # not rejected however far from the estimate: the model can fit any effect
        return -float("inf"), float("inf")
    return float("nan"), float("nan")


def _edge(pfun: Callable[[float], float], rejected: float, accepted: float, alpha: float, steps: int = 14) -> float:
    for _ in range(steps):
        mid = 0.5 * (rejected + accepted)
        if pfun(mid) > alpha:
            accepted = mid
        else:
            rejected = mid
    return float(accepted)


@dataclass(frozen=True)
class Conformal:
    lower: np.ndarray  # (T1,) per post-period
    upper: np.ndarray
    p_zero: np.ndarray  # (T1,) p-value of a zero effect in each period
    avg_lower: float
    avg_upper: float
    avg_p_zero: float
    constant_p_zero: float  # moving-block test of no effect in any post-period


def conformal(
    y1: np.ndarray, y0: np.ndarray, n_pre: int, gap: np.ndarray, level: float,
    make_predict: Callable[[], Predict] = sc_predictor,
) -> Conformal:
    """Per-period and average-effect conformal intervals around the estimated gaps ``gap`` (T,)."""
    alpha = 1.0 - level
    big_t = len(y1)
    if 1.0 / (n_pre + 1) > alpha:  # too few periods: no theta can be rejected at this level
        inf = np.full(big_t - n_pre, np.inf)
        p_zero = np.array([p_period(y1, y0, n_pre, t, 0.0, make_predict()) for t in range(n_pre, big_t)])
        return Conformal(
            -inf, inf, p_zero, -np.inf, np.inf, p_average(y1, y0, n_pre, 0.0, make_predict()),
            p_constant(y1, y0, n_pre, 0.0, make_predict()),
        )
    pre_sd = rmspe(gap, 0, n_pre) if n_pre else 1.0
    lower, upper, pz = [], [], []
    for t in range(n_pre, big_t):
        predict = make_predict()

        def pf(th: float, t: int = t, predict: Predict = predict) -> float:
            return p_period(y1, y0, n_pre, t, th, predict)

        lo, hi = invert(pf, float(gap[t]), 4.0 * pre_sd + 0.25 * abs(float(gap[t])), alpha)
        lower.append(lo)
        upper.append(hi)
        pz.append(pf(0.0))
    predict = make_predict()
    post_mean = float(np.mean(gap[n_pre:]))

    def pa(th: float) -> float:
        return p_average(y1, y0, n_pre, th, predict)

    alo, ahi = invert(pa, post_mean, 3.0 * pre_sd + 0.25 * abs(post_mean), alpha)
    return Conformal(
        np.array(lower), np.array(upper), np.array(pz), alo, ahi, pa(0.0),
        p_constant(y1, y0, n_pre, 0.0, make_predict()),
    )
