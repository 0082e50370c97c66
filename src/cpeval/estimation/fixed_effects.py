"""Sweeping out fixed effects (weighted alternating projections) and cluster-robust sandwiches built on it.

Used by the Poisson DiD (IRLS with unit and period effects) and by the linearmodels adapter's covariance
with the fixest / reghdfe degrees-of-freedom convention (``fixef_k``), and each cluster's influence on the
coefficients (for joint uncertainty across outcomes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cpeval.errors import EstimationError


def indicators(codes: np.ndarray, n_levels: int | None = None) -> Any:
    """Sparse n x L indicator matrix of integer codes 0..L-1."""
    from scipy import sparse

    n = len(codes)
    levels = int(codes.max()) + 1 if n_levels is None else n_levels
    return sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, levels))


def demean(x: np.ndarray, fe: list[Any], w: np.ndarray, tol: float = 1e-13, maxit: int = 10_000) -> np.ndarray:
    """Weighted residuals of the columns of ``x`` on the fixed effects (sparse indicator matrices)."""
    out = np.array(x, dtype=float, copy=True)
    sums = [np.asarray(d.T @ w).ravel() for d in fe]
    scale = max(float(np.abs(out).max()), 1.0)
    for _ in range(maxit):
        change = 0.0
        for d, s in zip(fe, sums, strict=True):
            means = (d.T @ (w[:, None] * out)) / s[:, None]
            out -= d @ means
            change = max(change, float(np.abs(means).max()))
        if change <= tol * scale or len(fe) == 1:
            return out
    raise EstimationError("the fixed effects could not be swept out (alternating projections did not converge)")


def cluster_influence(xt: np.ndarray, w: np.ndarray, resid: np.ndarray, clusters: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's influence on the coefficients: (labels, G x K matrix (X~'WX~)^-1 s_g), with scores
    s_g = sum_{i in g} X~_i w_i e_i. Its cross-product ``infl.T @ infl`` is the CR0 sandwich."""
    bread = np.linalg.pinv(xt.T @ (w[:, None] * xt))
    labels, g = np.unique(clusters, return_inverse=True)
    sg = np.zeros((len(labels), xt.shape[1]))
    np.add.at(sg, g, xt * (w * resid)[:, None])
    return labels, sg @ bread


def row_leverage(xt: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each row's weight in the coefficients, (X~'WX~)^-1 x~_i w_i (n x K): beta - b = sum_i c_i e_i."""
    return (xt * w[:, None]) @ np.linalg.pinv(xt.T @ (w[:, None] * xt))



def nested_in(codes: np.ndarray, clusters: np.ndarray) -> bool:
    """Whether every level of the fixed effect ``codes`` lies within a single cluster."""
    c = np.unique(clusters, return_inverse=True)[1].astype(np.int64)
    levels = int(codes.max()) + 1
    return len(np.unique(codes.astype(np.int64) * (int(c.max()) + 1) + c)) == levels


def fixef_k(codes: list[np.ndarray], clusters: np.ndarray, *, nested: bool) -> int:
    """The fixed-effect parameters counted in K of the (N-1)/(N-K) correction, as R fixest counts them.

    ``codes``: integer codes 0..L-1 of each fixed effect. ``nested=False`` is fixest's ``fixef.K = "full"``
    (Stata areg, linearmodels): every level, less one per extra fixed effect, sum(L) - (F - 1).
    ``nested=True`` is fixest's default ``fixef.K = "nested"`` (Stata xtreg, fe and reghdfe): a fixed
    effect nested in the clusters keeps one of its L parameters (L - 1 are dropped), and when every fixed
    effect is nested a single parameter, the intercept, remains. Irregular (disconnected) fixed effects are
    not detected (fixest's ``fixef.force_exact = FALSE``).
    """
    sizes = [int(c.max()) + 1 for c in codes]
    full = sum(sizes) - (len(codes) - 1)
    if not nested:
        return full
    is_nested = [nested_in(c, clusters) for c in codes]
    if all(is_nested):
        return 1
    return full - sum(size - 1 for size, n in zip(sizes, is_nested, strict=True) if n)
