"""Lee (2009) bounds on the effect for those whose outcome would be observed in either arm."""

from __future__ import annotations

import numpy as np


def _trimmed_means(y_sorted: np.ndarray, share: float) -> tuple[float, float]:
    """Means of ``y_sorted`` after dropping ``share`` of it from the top (low) and from the bottom (high).

    Fractional observations at the cut get fractional weight, so the trimming share is exact.
    """
    n = len(y_sorted)
    keep = n * (1 - share)
    w = np.clip(keep - np.arange(n), 0.0, 1.0)  # weights for the lowest ``keep`` observations
    low = float(w @ y_sorted / w.sum())
    high = float(w @ y_sorted[::-1] / w.sum())
    return low, high


def lee_bounds(y: np.ndarray, z: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """Lower and upper bounds; ``y`` may be NaN where ``observed`` is 0.

    The arm with the higher observation rate has its observed outcomes trimmed by
    p = (q_high - q_low) / q_high from the top (lower bound) or the bottom (upper bound).
    """
    z = z.astype(bool)
    obs = observed.astype(bool)
    q1, q0 = obs[z].mean(), obs[~z].mean()
    y1 = np.sort(y[z & obs])
    y0 = np.sort(y[~z & obs])
    if q1 >= q0:
        p = (q1 - q0) / q1
        lo, hi = _trimmed_means(y1, p)
        lower, upper = lo - y0.mean(), hi - y0.mean()
    else:
        p = (q0 - q1) / q0
        lo, hi = _trimmed_means(y0, p)
        lower, upper = y1.mean() - hi, y1.mean() - lo
    return {"lower": lower, "upper": upper, "trim_share": float(p), "trimmed_arm": "treated" if q1 >= q0 else "control",
            "observed_rate_treated": float(q1), "observed_rate_control": float(q0)}


def lee_bounds_ci(
    y: np.ndarray, z: np.ndarray, observed: np.ndarray, level: float, reps: int, rng: np.random.Generator,
    cluster: np.ndarray | None = None,
) -> tuple[float, float]:
    """Bootstrap interval: lower quantile of the lower bound, upper quantile of the upper bound.

    People are resampled, or whole clusters if ``cluster`` codes (0..G-1) are given.
    """
    n = len(y)
    if cluster is not None:
        order = np.argsort(cluster, kind="stable")
        sizes = np.bincount(cluster)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    lows = np.empty(reps)
    highs = np.empty(reps)
    for r in range(reps):  # each replicate sorts the outcomes; reps is a few hundred
        if cluster is None:
            idx = rng.integers(0, n, n)
        else:
            g = rng.integers(0, len(sizes), len(sizes))
            m = sizes[g]
            offsets = np.arange(m.sum()) - np.repeat(np.cumsum(m) - m, m)
            idx = order[np.repeat(starts[g], m) + offsets]
        b = lee_bounds(y[idx], z[idx], observed[idx])
        lows[r], highs[r] = b["lower"], b["upper"]
    alpha = 1 - level
    return float(np.quantile(lows, alpha / 2)), float(np.quantile(highs, 1 - alpha / 2))
