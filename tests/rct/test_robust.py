"""CR2 and Bell-McCaffrey df against a dense textbook implementation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import sqrtm

from cpeval.estimation.rct.robust import ols_cr2, ols_hc2


def _dense_cr2(X, y, cl, focus=1):
    n, k = X.shape
    M = np.linalg.inv(X.T @ X)
    H = X @ M @ X.T
    e = y - H @ y
    meat = np.zeros((k, k))
    G = np.zeros((n, cl.max() + 1))
    ell = np.zeros(k)
    ell[focus] = 1
    IH = np.eye(n) - H
    for g in range(cl.max() + 1):
        idx = np.flatnonzero(cl == g)
        A = np.real(np.linalg.inv(sqrtm(np.eye(len(idx)) - H[np.ix_(idx, idx)])))
        u = X[idx].T @ A @ e[idx]
        meat += np.outer(u, u)
        G[:, g] = IH[:, idx] @ A @ X[idx] @ M @ ell
    V = M @ meat @ M
    GG = G.T @ G
    return V, np.trace(GG) ** 2 / np.sum(GG * GG)


def _assert_cr2_matches_dense(X, y, cl):
    fit = ols_cr2(X, y, cl)
    V, df = _dense_cr2(X, y, cl)
    assert np.allclose(fit.vcov, V, rtol=1e-8)
    assert fit.df == pytest.approx(df, rel=1e-8)


def test_cr2_and_df_match_dense():
    rng = np.random.default_rng(1)
    G, m = 12, 6
    cl = np.repeat(np.arange(G), m)
    zc = np.zeros(G)
    zc[rng.permutation(G)[: G // 2]] = 1
    X = np.column_stack([np.ones(G * m), zc[cl], rng.normal(size=G * m)])
    y = X @ [1, 0.5, 0.3] + rng.normal(size=G)[cl] + rng.normal(size=G * m)
    _assert_cr2_matches_dense(X, y, cl)


def test_cr2_with_singleton_clusters_is_hc2():
    rng = np.random.default_rng(2)
    n = 50
    X = np.column_stack([np.ones(n), rng.integers(0, 2, n), rng.normal(size=n)])
    y = rng.normal(size=n)
    assert np.allclose(ols_cr2(X, y, np.arange(n)).vcov, ols_hc2(X, y).vcov, rtol=1e-8)


def test_collinear_covariate_is_an_estimation_error():
    from cpeval.errors import EstimationError

    X = np.column_stack([np.ones(10), np.arange(10) % 2, np.ones(10)])
    with pytest.raises(EstimationError, match="collinear"):
        ols_hc2(X, np.arange(10.0))


def test_cr2_unequal_cluster_sizes_match_dense():
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 9, size=15)
    cl = np.repeat(np.arange(15), sizes)
    rng.shuffle(cl)  # rows not sorted by cluster
    zc = (np.arange(15) % 2).astype(float)
    n = len(cl)
    X = np.column_stack([np.ones(n), zc[cl], rng.normal(size=n), (cl % 3 == 0).astype(float)])
    y = rng.normal(size=n) + rng.normal(size=15)[cl]
    _assert_cr2_matches_dense(X, y, cl)


def test_within_block_hc2_equals_dummy_regression():
    from cpeval.estimation.rct.robust import ols_with_blocks

    rng = np.random.default_rng(5)
    n, B = 120, 7
    block = rng.integers(0, B, n)
    X = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    y = rng.normal(size=n) + block * 0.3
    fwl = ols_with_blocks(X, y, block, None)
    D = (block[:, None] == np.arange(1, B)).astype(float)
    dense = ols_hc2(np.column_stack([np.ones(n), X, D]), y)
    assert np.allclose(fwl.beta, dense.beta[1:3])
    assert np.allclose(fwl.vcov, dense.vcov[1:3, 1:3], rtol=1e-9)
    assert fwl.df == dense.df
