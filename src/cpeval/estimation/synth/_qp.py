"""Quadratic programmes on the probability simplex: the inner problem of every synthetic control.

``simplex_qp`` minimises ``0.5 w'Hw - g'w`` subject to ``w >= 0`` and ``sum(w) = 1`` with a primal active-set
method (Lawson-Hanson style, with the equality constraint kept in every KKT solve). It is exact up to
floating point, handles the rank-deficient Gram matrices synthetic control produces (fewer predictors than
donors) and can be warm-started from the previous support, which makes the outer V search cheap.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dgesv  # this module loads only when a synthetic control is fitted


def _kkt_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve min 0.5 z'hz - g'z s.t. sum(z) = 1 (no sign constraint), minimum-norm if singular."""
    m = len(g)
    if m == 1:
        return np.ones(1)
    k = np.empty((m + 1, m + 1))
    k[:m, :m] = h
    k[:m, m] = 1.0
    k[m, :m] = 1.0
    k[m, m] = 0.0
    rhs = np.empty(m + 1)
    rhs[:m] = g
    rhs[m] = 1.0
    _, _, sol, info = dgesv(k, rhs)  # LAPACK directly: small systems, numpy's wrapper costs more than the solve
    if info == 0 and np.all(np.isfinite(sol)) and np.abs(sol[:m]).max() < 1e8:
        return sol[:m]
    return np.linalg.lstsq(k, rhs, rcond=None)[0][:m]


def simplex_qp(
    h: np.ndarray, g: np.ndarray, warm: np.ndarray | None = None, max_iter: int | None = None
) -> np.ndarray:
    """argmin_w 0.5 w'hw - g'w over the simplex. ``warm``: a feasible point to start from (the previous
    solution of a nearby problem): its support is the first active set, and infeasible KKT solutions are
    stepped back towards it, so a changed support costs a few solves rather than a cold start."""
    n = len(g)
    scale = max(float(np.abs(g).max()), float(h.max()), 1e-300)
    tol = 1e-11 * scale
    eps = 1e-14
    if warm is not None and np.all(warm >= 0) and warm.sum() > 0:
        w = warm / warm.sum()
        p = [int(i) for i in np.flatnonzero(w > 0)]
        solve = True
    else:
        vertex = 0.5 * np.diag(h) - g
        j = int(np.argmin(vertex))
        p = [j]
        w = np.zeros(n)
        w[j] = 1.0
        solve = False
    max_iter = max_iter or 3 * n + 30
    in_p = np.zeros(n, dtype=bool)
    in_p[p] = True
    for _ in range(max_iter):
        if solve:
            for _inner in range(n + 5):
                pa = np.asarray(p, dtype=np.intp)
                z = _kkt_solve(h[pa[:, None], pa], g[pa])
                if np.all(z > eps):
                    w = np.zeros(n)
                    w[pa] = z
                    break
                wp = w[pa]
                neg = z <= eps
                ratios = np.where(neg, wp / np.maximum(wp - z, 1e-300), np.inf)
                alpha = float(np.clip(ratios.min(), 0.0, 1.0))
                wp = wp + alpha * (z - wp)
                keep = wp > eps
                keep[int(np.argmin(ratios))] = False
                if not keep.any():  # degenerate: keep the largest weight
                    keep[int(np.argmax(wp))] = True
                kept = [q for q, k in zip(p, keep, strict=True) if k]
                w = np.zeros(n)
                w[kept] = wp[keep]
                w[kept] /= w[kept].sum()
                for q, k in zip(p, keep, strict=True):
                    if not k:
                        in_p[q] = False
                p = kept
        grad = h @ w - g
        nu = -float(np.mean(grad[in_p]))
        lam = grad + nu
        lam[in_p] = np.inf
        j = int(np.argmin(lam))
        if lam[j] >= -tol:
            return w
        p.append(j)
        in_p[j] = True
        solve = True
    return w


RIDGE = 1e-9  # relative Tikhonov term: makes the QP strictly convex (finite, non-cycling active set)


def simplex_ls(a: np.ndarray, b: np.ndarray, ridge: float = 0.0, warm: np.ndarray | None = None) -> np.ndarray:
    """argmin_w ||a w - b||^2 + ridge ||w||^2 over the simplex (columns of ``a`` are the donors).

    A relative ridge of 1e-9 is always added: among (nearly) equivalent solutions, which rank-deficient
    synthetic control problems have, it picks the smallest-norm one and keeps the active set from cycling.
    ``warm`` is the previous solution of a nearby problem; when its support is still optimal only ``a``'s
    columns in it are touched (O(kJ) work, no Gram matrix): the common case inside an outer search.
    """
    delta = ridge + RIDGE * max(float(np.einsum("ij,ij->", a, a)) / a.shape[1], 1e-300)
    if warm is not None:
        sp = np.flatnonzero(warm > 0)
        if len(sp):
            ap = a[:, sp]
            hp = ap.T @ ap
            hp.flat[:: len(sp) + 1] += delta
            z = _kkt_solve(hp, ap.T @ b)
            if np.all(z > 1e-14):
                w = np.zeros(a.shape[1])
                w[sp] = z
                grad = a.T @ (ap @ z - b) + delta * w
                scale = max(float(np.abs(a.T @ b).max()), delta / RIDGE, 1e-300)
                lam = grad + float(np.mean(-grad[sp]))
                lam[sp] = np.inf
                if lam.min() >= -1e-11 * scale:
                    return w
    h = a.T @ a
    h.flat[:: h.shape[0] + 1] += delta
    return simplex_qp(h, a.T @ b, warm)
