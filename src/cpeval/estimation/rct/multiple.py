"""Multiple-outcome adjustments: Holm and Romano-Wolf (family-wise error), Benjamini-Hochberg (FDR)."""

from __future__ import annotations

import numpy as np


def _missing_as_one(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``p`` with NaN (an outcome whose design gives no p-value) set to 1, and where they were: such an outcome
    still counts in the family (conservative) and its adjusted p-value stays NaN."""
    p = np.asarray(p, dtype=float)
    missing = np.isnan(p)
    return np.where(missing, 1.0, p), missing


def holm(p: np.ndarray) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (NaN stays NaN and counts in the family as p = 1)."""
    p, missing = _missing_as_one(p)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return np.where(missing, np.nan, out)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) adjusted p-values (q-values of the step-up procedure); NaN as in :func:`holm`."""
    p, missing = _missing_as_one(p)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return np.where(missing, np.nan, out)


def romano_wolf(t_obs: np.ndarray, t_null: np.ndarray, exact: bool = False) -> np.ndarray:
    """Romano & Wolf (2005) step-down adjusted p-values from a joint null distribution of the statistics.

    ``t_obs`` (K,) and ``t_null`` (draws x K) are statistics on comparable scales (here each outcome's
    re-randomised effect divided by its observed standard error). The hypothesis with the j-th largest
    |t| is compared with the distribution of the maximum |t*| over the hypotheses not yet rejected, and
    the adjusted p-values are made monotone. ``exact``: ``t_null`` holds every possible assignment (the
    observed one included), so the p-value is the plain share rather than (1 + count) / (1 + draws).
    """
    a_obs = np.abs(np.asarray(t_obs, dtype=float))
    a_null = np.abs(np.asarray(t_null, dtype=float))
    R = a_null.shape[0]
    order = np.argsort(-a_obs, kind="stable")
    # running max over the remaining (smaller) hypotheses: reverse cumulative max across sorted columns
    tail_max = np.maximum.accumulate(a_null[:, order[::-1]], axis=1)[:, ::-1]
    tol = 1e-9 * np.maximum(1.0, a_obs[order])
    hits = np.sum(tail_max >= a_obs[order] - tol, axis=0)
    raw = hits / R if exact else (1.0 + hits) / (1.0 + R)
    adj = np.maximum.accumulate(raw)
    out = np.empty(len(a_obs))
    out[order] = np.minimum(adj, 1.0)
    return out


def adjust(
    adjustment: str, p: np.ndarray, t_obs: np.ndarray | None = None, t_null: np.ndarray | None = None,
    exact: bool = False,
) -> np.ndarray:
    """p-values adjusted as ``inference.multiple_testing`` says ('none' leaves them as they are)."""
    if adjustment == "holm":
        return holm(p)
    if adjustment == "bh":
        return benjamini_hochberg(p)
    if adjustment == "romano_wolf":
        assert t_obs is not None and t_null is not None
        return romano_wolf(t_obs, t_null, exact)
    return np.asarray(p, dtype=float)
