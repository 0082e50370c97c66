"""Quadratic programmes on the probability simplex: the inner problem of every synthetic control.

``simplex_qp`` minimises ``0.5 w'Hw - g'w`` subject to ``w >= 0`` and ``sum(w) = 1`` with a primal active-set
method (Lawson-Hanson style, with the equality constraint kept in every KKT solve). It is exact up to
floating point, handles the rank-deficient Gram matrices synthetic control produces (fewer predictors than
donors) and can be warm-started from the previous support, which makes the outer V search cheap.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dgesv, dposv, dpotrs  # this module loads only when a synthetic control is fitted


def _bordered_matrix(h: np.ndarray) -> np.ndarray:
    """[[h, 1], [1', 0]]: the KKT matrix of a quadratic with the weights summing to a constant."""
    m = len(h)
    k = np.empty((m + 1, m + 1))
    k[:m, :m] = h
    k[:m, m] = 1.0
    k[m, :m] = 1.0
    k[m, m] = 0.0
    return k


def _kkt_solve(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Solve min 0.5 z'hz - g'z s.t. sum(z) = 1 (no sign constraint), minimum-norm if singular."""
    m = len(g)
    if m == 1:
        return np.ones(1)
    k = _bordered_matrix(h)
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


class NestedInner:
    """W(V) for one synthetic control problem, solved for many V: the inner problem of the nested V search.

    ``W(V) = argmin_w (x1 - X0 w)' diag(v) (x1 - X0 w) + delta ||w||^2`` over the simplex, with ``delta`` the
    relative ridge of ``simplex_ls`` (the same problem ``simplex_ls(sqrt(v) X0, sqrt(v) x1)`` solves). The
    primal active-set method works on the k x J predictors directly: every KKT system is the support's
    m x m block ``X0_P' diag(v) X0_P + delta I`` (positive definite), solved by one Cholesky factorisation
    for ``g_P`` and the constraint's ones at once, and optimality is checked with one k x J product. The
    previous solution's support and weights start the next solve, so a search that keeps the support costs
    one factorisation and two small products per V. The factor is kept for the gradient of the outer loss.
    """

    EPS = 1e-14

    def __init__(self, x1: np.ndarray, x0: np.ndarray):
        self.x0 = np.ascontiguousarray(x0, dtype=float)
        self.x1 = np.asarray(x1, dtype=float)
        n = self.x0.shape[1]
        self.n = n
        sq = self.x0**2
        self.sq = sq  # (k, J): H_jj = v @ sq[:, j] + delta
        self.colsq = sq.sum(axis=1) / n  # delta = RIDGE * v @ colsq (simplex_ls's mean column norm)
        self.bound = sq.max(axis=1) + self.x1**2  # v @ bound >= max |H_ij|, max |g_j|: the tolerance's scale
        self.p: np.ndarray | None = None  # support of the last solution
        self.z = np.ones(0)  # its weights
        self.chol: np.ndarray | None = None  # Cholesky factor of the support's block (None: bordered solve)
        self.h1 = np.ones(0)  # block^-1 @ ones
        self.block = np.ones((0, 0))  # the support's block (ridge included)
        self.xp = self.x0[:, :0]  # the support's predictor columns

    def _kkt(self, p: np.ndarray, v: np.ndarray, delta: float) -> tuple[np.ndarray, float]:
        m = len(p)
        xp = self.x0[:, p]
        self.xp = xp
        vx = v[:, None] * xp
        h = vx.T @ xp
        h.flat[:: m + 1] += delta
        self.block = h
        if m == 1:
            self.chol, self.h1 = None, np.ones(1)
            return np.ones(1), float(vx[:, 0] @ self.x1 - h[0, 0])
        rhs = np.ones((m, 2), order="F")
        rhs[:, 0] = self.x1 @ vx
        c, x, info = dposv(h, rhs)
        if info == 0:
            sa, sb = x.sum(axis=0)
            nu = (sa - 1.0) / sb
            self.chol, self.h1 = c, x[:, 1]
            return x[:, 0] - nu * x[:, 1], nu
        self.chol = None
        sol = _bordered(h, rhs[:, 0], 1.0)
        return sol[:m], float(sol[m])

    def solve(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(support, weights on it) of W(v); ``v`` (k,) non-negative, not all zero."""
        delta = RIDGE * max(float(v @ self.colsq), 1e-300)
        # optimality tolerance well below the ridge: when the treated predictors lie inside the donors' hull
        # many weight vectors fit them exactly and the ridge alone picks W(V); a donor's marginal gain is then
        # of order delta / |support|, and a tolerance above it stops at a support that depends on the warm start
        tol = min(1e-11 * max(float(v @ self.bound), delta / RIDGE, 1e-300), 1e-4 * delta)
        eps = self.EPS
        if self.p is None:
            vertex = 0.5 * (v @ self.sq + delta) - self.x0.T @ (v * self.x1)
            p = np.array([int(np.argmin(vertex))], dtype=np.intp)
            wp = np.ones(1)
        else:
            p, wp = self.p, self.z
        for _ in range(3 * self.n + 30):
            z, nu = self._kkt(p, v, delta)
            if z.min() > eps:
                wp = z
                u = (v * (self.x1 - self.xp @ z)) @ self.x0  # -gradient of the data term
                u[p] = -np.inf
                j = int(np.argmax(u))
                if u[j] - nu <= tol:
                    break
                p = np.append(p, j)
                wp = np.append(wp, 0.0)
                continue
            ratios = np.where(z <= eps, wp / np.maximum(wp - z, 1e-300), np.inf)
            i = int(np.argmin(ratios))
            wp = wp + min(max(float(ratios[i]), 0.0), 1.0) * (z - wp)
            keep = wp > eps
            keep[i] = False
            if not keep.any():  # degenerate: keep the largest weight
                keep[int(np.argmax(wp))] = True
            p, wp = p[keep], wp[keep] / wp[keep].sum()
        self.p, self.z = p, wp
        return p, wp

    def weights(self, v: np.ndarray) -> np.ndarray:
        p, z = self.solve(v)
        w = np.zeros(self.n)
        w[p] = z
        return w

    def block_solve(self, c: np.ndarray) -> np.ndarray:
        """mu with block mu + eta 1 = c, sum(mu) = 0, on the last solution's support (implicit derivative)."""
        if self.chol is not None:
            a, _ = dpotrs(self.chol, c)
            return a - (a.sum() / self.h1.sum()) * self.h1
        m = len(c)
        return _bordered(self.block, c, 0.0)[:m]


def _bordered(h: np.ndarray, g: np.ndarray, total: float) -> np.ndarray:
    """Least-squares solution of [[h, 1], [1', 0]] [z; nu] = [g; total] (singular blocks)."""
    return np.linalg.lstsq(_bordered_matrix(h), np.r_[g, total], rcond=None)[0]
