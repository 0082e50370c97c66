"""Least squares with design-based standard errors: HC2 (Neyman) and CR2 with Bell-McCaffrey degrees of freedom.

HC2 (MacKinnon & White 1985) rescales each squared residual by 1/(1-h_ii); for a difference in means it is
exactly the Neyman (1923) conservative variance s1^2/n1 + s0^2/n0. CR2 (Bell & McCaffrey 2002) is its
clustered analogue: each cluster's residuals are premultiplied by (I - H_gg)^(-1/2) (a pseudo-inverse
square root where I - H_gg is singular). The degrees of freedom for a coefficient follow Bell & McCaffrey /
Imbens & Kolesar (2016) with a homoskedastic working model: df = tr(P)^2 / tr(P^2) with
P = diag(||A_g X_g M l||^2) - R' M R, R_g = X_g' A_g X_g M l, M = (X'X)^-1. Without weights this is the same
P matrix R ``estimatr`` builds in ``lm_variance_cr2`` (read from its source; there it is assembled from
its H1/H2/H3 blocks), so the CR2 standard errors and degrees of freedom are those ``lm_robust(se_type =
"CR2")`` prints. The tests check both against a dense textbook implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OlsFit:
    beta: np.ndarray
    vcov: np.ndarray
    df: float  # degrees of freedom for the coefficient of interest (index ``focus`` of ols_cr2)
    n_clusters: int | None
    # each row's (HC2) or cluster's (CR2) influence on beta: vcov == influence.T @ influence
    influence: np.ndarray | None = None


def _solve_gram(X: np.ndarray) -> np.ndarray:
    gram = X.T @ X
    try:
        return np.linalg.inv(gram) if np.linalg.cond(gram) < 1e12 else _raise_singular()
    except np.linalg.LinAlgError:
        return _raise_singular()


def _raise_singular() -> np.ndarray:
    from cpeval.errors import EstimationError

    raise EstimationError(
        "the regressors are collinear (for example a covariate that is constant, or that duplicates the "
        "blocks); drop the redundant covariate"
    )


def ols_hc2(X: np.ndarray, y: np.ndarray, extra_leverage: np.ndarray | float = 0.0) -> OlsFit:
    """OLS with the HC2 covariance; df = n - k (as ``estimatr::lm_robust``).

    ``extra_leverage`` is added to the hat values: 1/n_b when X and y were demeaned within blocks, so that the
    result equals HC2 of the regression with the block dummies (Frisch-Waugh-Lovell).
    """
    M = _solve_gram(X)
    beta = M @ (X.T @ y)
    e = y - X @ beta
    h = np.einsum("ij,jk,ik->i", X, M, X) + extra_leverage
    with np.errstate(divide="ignore"):
        r = e / np.sqrt(np.where(h < 1 - 1e-10, 1 - h, np.inf))
    infl = (X * r[:, None]) @ M
    return OlsFit(beta, infl.T @ infl, float(len(y) - X.shape[1]), None, infl)


def ols_cr2(X: np.ndarray, y: np.ndarray, cluster: np.ndarray, focus: int = 1) -> OlsFit:
    """OLS with the CR2 cluster-robust covariance and the Bell-McCaffrey df for coefficient ``focus``.

    ``cluster`` holds integer codes 0..G-1. The (I - H_gg)^(-1/2) adjustment is computed from a thin SVD of
    X_g L (L the Cholesky factor of (X'X)^-1), so a cluster costs O(n_g k^2) rather than O(n_g^3); clusters
    of equal size share one batched SVD.
    """
    M = _solve_gram(X)
    beta = M @ (X.T @ y)
    e = y - X @ beta
    k = X.shape[1]
    L = np.linalg.cholesky(M)
    ell = np.zeros(k)
    ell[focus] = 1.0
    Ml = M @ ell
    sizes = np.bincount(cluster)
    G = len(sizes)
    U = np.empty((G, k))  # X_g' A_g e_g
    R = np.empty((k, G))  # X_g' A_g X_g M ell   (for the df)
    D = np.empty(G)  # ||A_g X_g M ell||^2
    order = np.argsort(cluster, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    XL = X @ L
    XMl = X @ Ml
    # clusters of equal size are handled together by a batched thin SVD (no per-cluster Python loop)
    for size in np.unique(sizes):
        gs = np.flatnonzero(sizes == size)
        idx = order[starts[gs][:, None] + np.arange(size)]  # (n_g_of_this_size, size)
        u, s, _ = np.linalg.svd(XL[idx], full_matrices=False)  # (g, size, r)
        s2 = s**2
        f = np.where(s2 < 1 - 1e-10, 1 / np.sqrt(np.clip(1 - s2, 1e-300, None)) - 1, -1.0)

        def adj(v: np.ndarray, u: np.ndarray = u, f: np.ndarray = f) -> np.ndarray:
            return v + np.einsum("gir,gr->gi", u, f * np.einsum("gir,gi->gr", u, v))

        Xg = X[idx]  # (g, size, k)
        U[gs] = np.einsum("gik,gi->gk", Xg, adj(e[idx]))
        a = adj(XMl[idx])
        R[:, gs] = np.einsum("gik,gi->kg", Xg, a)
        D[gs] = np.einsum("gi,gi->g", a, a)
    infl = U @ M
    GG = np.diag(D) - R.T @ M @ R
    df = float(np.trace(GG) ** 2 / np.sum(GG * GG))
    return OlsFit(beta, infl.T @ infl, df, G, infl)


def welch_df(v1: np.ndarray, n1: np.ndarray, v0: np.ndarray, n0: np.ndarray) -> float:
    """Welch-Satterthwaite degrees of freedom of s1^2/n1 + s0^2/n0."""
    a, b = v1 / n1, v0 / n0
    return float((a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n0 - 1)))


def ols_with_blocks(X: np.ndarray, y: np.ndarray, block: np.ndarray | None, cluster: np.ndarray | None) -> OlsFit:
    """y on (1, X) plus block fixed effects; HC2 (or CR2 by ``cluster``). ``beta``/``vcov`` cover X only.

    Without clusters the blocks are absorbed by demeaning within blocks (no dense dummies, any number of
    blocks); with clusters (nested in blocks) the dummies enter the CR2 regression explicitly.
    """
    n = len(y)
    if block is None or int(block.max()) == 0:
        R = np.column_stack([np.ones(n), X])
        fit = ols_cr2(R, y, cluster) if cluster is not None else ols_hc2(R, y)
        return OlsFit(fit.beta[1:], fit.vcov[1:, 1:], fit.df, fit.n_clusters)
    B = int(block.max()) + 1
    n_b = np.bincount(block, minlength=B).astype(float)
    if cluster is None:
        Xd = X - (np.stack([np.bincount(block, weights=c, minlength=B) for c in X.T], axis=1) / n_b[:, None])[block]
        yd = y - (np.bincount(block, weights=y, minlength=B) / n_b)[block]
        fit = ols_hc2(Xd, yd, extra_leverage=1 / n_b[block])
        return OlsFit(fit.beta, fit.vcov, float(n - X.shape[1] - B), None)
    D = np.zeros((n, B - 1))
    rows = np.flatnonzero(block > 0)
    D[rows, block[rows] - 1] = 1.0
    R = np.column_stack([np.ones(n), X, D])
    fit = ols_cr2(R, y, cluster)
    p = X.shape[1]
    return OlsFit(fit.beta[1 : p + 1], fit.vcov[1 : p + 1, 1 : p + 1], fit.df, fit.n_clusters)
