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


@pytest.mark.parametrize("case", ["neyman", "blocked", "block_fe", "pairs", "lin", "clustered"])
def test_itt_influence_sums_of_squares_equal_the_variance(case):
    # the influence kept for joint uncertainty across outcomes must reproduce each path's own variance
    from cpeval.estimation.rct.core import Trial, estimate_itt

    rng = np.random.default_rng(4)
    n = 60
    z = np.tile([0.0, 1.0], n // 2)
    y = 1.5 * z + rng.normal(size=n)
    block = np.repeat(np.arange(n // 2), 2) if case == "pairs" else np.repeat(np.arange(4), n // 4)
    cluster = np.repeat(np.arange(n // 3), 3) if case == "clustered" else None
    if cluster is not None:
        z = (cluster % 2).astype(float)
    X = rng.normal(size=(n, 2))
    trial = Trial(y=y, z=z, block=None if case in ("neyman", "lin", "clustered") else block, cluster=cluster, X=X)
    method = "lin" if case in ("lin", "clustered") else "difference_in_means"
    blocked = "fixed_effects" if case == "block_fe" else "weighted"
    est = estimate_itt(trial, method == "lin", blocked)
    assert est.influence is not None
    expected_len = {"unit": n, "cluster": n // 3, "block": n // 2}[est.influence_by]
    assert len(est.influence) == expected_len
    assert float(est.influence @ est.influence) == pytest.approx(est.std_error**2, rel=1e-10)


@pytest.mark.parametrize("clustered", [False, True])
def test_iv_influence_reproduces_linearmodels_variance(clustered):
    # the CACE's influence (Z'X)^-1 z_i e_i, summed by cluster, times linearmodels' small-sample factor
    # (n/(n-k); clustered G/(G-1) (n-1)/(n-k)) is the IV2SLS variance
    from cpeval.estimation._adapters.linearmodels import iv_2sls

    rng = np.random.default_rng(0)
    n, k = 300, 3
    z = rng.integers(0, 2, n).astype(float)
    d = (rng.random(n) < 0.2 + 0.6 * z).astype(float)
    y = 2 * d + rng.normal(size=n)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    cl = np.repeat(np.arange(60), 5) if clustered else None
    fit = iv_2sls(y, d, z, X, cl)
    factor = 60 / 59 * (n - 1) / (n - k) if clustered else n / (n - k)
    assert len(fit.influence) == (60 if clustered else n)
    assert float(fit.influence @ fit.influence) * factor == pytest.approx(fit.std_error**2, rel=1e-10)
