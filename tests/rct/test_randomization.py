"""Randomisation inference: draws respect the design; p-values exact on a tiny trial, uniform under the null."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from cpeval.estimation.rct.randomization import draws, p_values, scheme, statistics


def test_draws_keep_block_counts():
    rng = np.random.default_rng(0)
    block = np.repeat([0, 1, 2, 3], [2, 2, 5, 9])
    z = np.array([1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    sch = scheme(z, block)
    Z = np.concatenate(list(draws(sch, 3000, rng)))
    b_sorted = block[sch.order]
    for b in range(4):
        assert np.all(Z[:, b_sorted == b].sum(axis=1) == z[block == b].sum())
    # every unit of the 5-unit block with 2 treated is treated 40% of the time
    frac = Z[:, b_sorted == 2].mean(axis=0)
    assert np.allclose(frac, 0.4, atol=0.04)
    assert sch.n_assignments() == 2 * 2 * 10 * 84


def test_p_value_matches_full_enumeration():
    rng = np.random.default_rng(1)
    n, n1 = 10, 5
    y = rng.normal(size=n)
    z = np.zeros(n)
    z[:n1] = 1
    obs_stat = y[:n1].mean() - y[n1:].mean()
    stats = []
    for t in combinations(range(n), n1):
        m = np.zeros(n, bool)
        m[list(t)] = True
        stats.append(y[m].mean() - y[~m].mean())
    exact = np.mean(np.abs(stats) >= abs(obs_stat) - 1e-12)
    observed, null = statistics(y[:, None], z, None, None, "weighted", 20000, np.random.default_rng(2))
    assert observed[0] == pytest.approx(obs_stat)
    p = p_values(observed, null, 20000)[0]
    assert p == pytest.approx(exact, abs=0.01)


def test_cluster_draws_assign_whole_clusters_and_blocks():
    rng = np.random.default_rng(4)
    cl = np.repeat(np.arange(12), 5)
    blk = (np.arange(12) // 6)[cl]
    zc = np.tile([1, 0], 6)
    y = rng.normal(size=60)
    observed, null = statistics(y[:, None], zc[cl].astype(float), blk, cl, "weighted", 500, rng)
    direct = sum(0.5 * (y[(blk == b) & (zc[cl] == 1)].mean() - y[(blk == b) & (zc[cl] == 0)].mean()) for b in (0, 1))
    assert observed[0] == pytest.approx(direct)
    assert len(np.unique(np.round(null[:, 0], 10))) <= 400  # C(6,3)^2 = 400 assignments at most


def test_ri_p_values_uniform_under_null():
    rng = np.random.default_rng(5)
    ps = []
    for _ in range(200):
        y = rng.normal(size=40)
        z = np.zeros(40)
        z[rng.permutation(40)[:20]] = 1
        o, nl = statistics(y[:, None], z, None, None, "weighted", 199, rng)
        ps.append(p_values(o, nl, 199)[0])
    ps = np.array(ps)
    assert 0.02 <= np.mean(ps < 0.05) <= 0.10
    assert 0.40 <= np.mean(ps) <= 0.60


def test_within_block_draws_uniform_over_subsets():
    rng = np.random.default_rng(9)
    z = np.array([1, 1, 0, 0])
    sch = scheme(z, np.zeros(4, dtype=int))
    Z = np.concatenate(list(draws(sch, 12000, rng)))
    codes = Z.astype(int) @ (2 ** np.arange(4))
    counts = np.bincount(codes, minlength=16)
    assert (counts > 0).sum() == 6
    assert np.allclose(counts[counts > 0] / 12000, 1 / 6, atol=0.015)
