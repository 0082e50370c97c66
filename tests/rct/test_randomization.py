"""Randomisation inference: draws respect the design; p-values exact on a tiny trial, uniform under the null."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from cpeval.estimation.rct.randomization import draws, p_values, scheme, statistics
from cpeval.payloads import TrialTests


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


def test_exact_enumeration_in_a_small_blocked_trial():
    from cpeval.pipeline import evaluate

    rng = np.random.default_rng(11)
    block = np.repeat([0, 1], [6, 5])
    z = np.array([1, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0])
    y = rng.normal(size=11) + z
    df = pd.DataFrame({"id": range(11), "b": block, "z": z, "y": y})
    design = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
              "treatment": {"assignment": "z", "block": "b"}, "outcomes": [{"name": "y", "column": "y"}],
              "inference": {"permutations": 1000}}
    e = evaluate(design, df).effect("y")
    assert e.payload(TrialTests).ri_exact is True and e.payload(TrialTests).ri_draws == 20 * 10
    # brute force: every within-block assignment, block-weighted difference in means
    stats = []
    for t0 in combinations(range(6), 3):
        for t1 in combinations(range(6, 11), 2):
            zz = np.zeros(11, bool)
            zz[list(t0) + list(t1)] = True
            stats.append(sum(len(ix) / 11 * (y[ix][zz[ix]].mean() - y[ix][~zz[ix]].mean())
                             for ix in (np.arange(6), np.arange(6, 11))))
    obs = e.estimate
    exact = np.mean(np.abs(stats) >= abs(obs) - 1e-12)
    assert e.payload(TrialTests).ri_p_value == pytest.approx(exact, abs=1e-12)


def test_general_path_many_blocks_with_missing_outcomes():
    rng = np.random.default_rng(12)
    J = 300  # 300 blocks of 4 -> sparse accumulation (2 * K * B > DENSE_COLUMNS)
    block = np.repeat(np.arange(J), 4)
    z = np.tile([1.0, 1.0, 0.0, 0.0], J)
    y = rng.normal(size=4 * J)
    y[rng.random(4 * J) < 0.1] = np.nan
    observed, null = statistics(y[:, None], z, block, None, "weighted", 300, rng)
    num = den = 0.0
    for b in range(J):
        ix = block == b
        yt, yc = y[ix & (z == 1)], y[ix & (z == 0)]
        yt, yc = yt[~np.isnan(yt)], yc[~np.isnan(yc)]
        if len(yt) and len(yc):
            w = len(yt) + len(yc)
            num += w * (yt.mean() - yc.mean())
            den += w
    assert observed[0] == pytest.approx(num / den)
    assert null.shape == (300, 1) and np.all(np.isfinite(null))
    assert abs(null.mean()) < 3 * null.std() / np.sqrt(300)


def test_assignment_counts_are_exact_integers_far_beyond_float_range():
    import math

    big = scheme(np.repeat([1, 0], 600), None)
    assert big.n_assignments() == math.comb(1200, 600)
    assert not big.enumerable(10**9)
    pairs = scheme(np.tile([1, 0], 1100), np.repeat(np.arange(1100), 2))
    assert pairs.n_assignments() == 2**1100
    assert not pairs.enumerable(10**9)
    small = scheme(np.array([1, 1, 0, 0, 0]), None)  # C(5, 2) = 10
    assert small.enumerable(10) and not small.enumerable(9)


def _large_trial(pairs: bool, n: int = 10_000) -> tuple[dict, pd.DataFrame]:
    rng = np.random.default_rng(31)
    z = np.tile([1, 0], n // 2) if pairs else rng.permutation(np.repeat([1, 0], n // 2))
    frame = pd.DataFrame({"id": range(n), "b": np.arange(n) // 2, "z": z,
                          "y": rng.normal(size=n) + 0.2 * z, "y0": rng.normal(size=n)})
    design = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
              "treatment": {"assignment": "z", **({"block": "b"} if pairs else {})},
              "outcomes": [{"name": "y", "column": "y"}, {"name": "y0", "column": "y0"}],
              "inference": {"permutations": 199, "multiple_testing": "romano_wolf", "seed": 4}}
    return design, frame


@pytest.mark.parametrize("pairs", [False, True], ids=["10000-units", "5000-pairs"])
def test_randomisation_inference_runs_on_a_10000_unit_trial(pairs):
    from cpeval.pipeline import evaluate

    design, frame = _large_trial(pairs)
    result = evaluate(design, frame)
    e, e0 = result.effect("y"), result.effect("y0")
    assert e.payload(TrialTests).ri_exact is False and e.payload(TrialTests).ri_draws == 199
    # a 0.2 SD effect on 10,000 units (z about 10) beats every one of the 199 re-randomisations
    assert e.payload(TrialTests).ri_p_value == pytest.approx(1 / 200)
    assert e.payload(TrialTests).p_value_adjusted == pytest.approx(1 / 200)
    # the null outcome's randomisation p-value agrees with its t-test p-value to Monte Carlo error
    assert abs(e0.payload(TrialTests).ri_p_value - e0.p_value) < 0.15
    assert e0.payload(TrialTests).p_value_adjusted >= e0.payload(TrialTests).ri_p_value - 1e-12


def test_exact_enumeration_of_clusters_within_blocks_matches_a_hand_loop():
    from cpeval.pipeline import evaluate

    rng = np.random.default_rng(17)
    # two blocks of clusters (block 0: two of four treated; block 1: two of five): 6 x 10 = 60 assignments
    sizes = np.array([2, 3, 1, 2, 2, 4, 1, 3, 2])
    cl = np.repeat(np.arange(9), sizes)
    blk_c = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    zc = np.array([1, 0, 1, 0, 1, 1, 0, 0, 0])
    y = rng.normal(size=len(cl)) + zc[cl]
    frame = pd.DataFrame({"id": range(len(cl)), "c": cl, "b": blk_c[cl], "z": zc[cl], "y": y})
    design = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
              "treatment": {"assignment": "z", "block": "b", "cluster": "c"},
              "outcomes": [{"name": "y", "column": "y"}], "inference": {"permutations": 500}}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e = evaluate(design, frame).effect("y")
    assert e.payload(TrialTests).ri_exact is True and e.payload(TrialTests).ri_draws == 60

    def stat(zcl: np.ndarray) -> float:
        z = zcl[cl]
        return sum(np.mean(blk_c[cl] == b) * (y[(blk_c[cl] == b) & (z == 1)].mean()
                                               - y[(blk_c[cl] == b) & (z == 0)].mean()) for b in (0, 1))

    stats = []
    for t0 in combinations(range(4), 2):
        for t1 in combinations(range(4, 9), 2):
            zz = np.zeros(9, dtype=int)
            zz[list(t0) + list(t1)] = 1
            stats.append(stat(zz))
    observed = stat(zc)
    assert e.estimate == pytest.approx(observed, rel=1e-12)
    assert e.payload(TrialTests).ri_p_value == pytest.approx(np.mean(np.abs(stats) >= abs(observed) - 1e-12), abs=1e-12)
