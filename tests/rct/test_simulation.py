"""Simulated trials with a known effect: unbiased estimates, nominal coverage, Lee bounds contain the truth."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.datasets.rct import simulate_rct
from cpeval.estimation.rct.core import Trial, estimate_itt
from cpeval.estimation.rct.lee import lee_bounds
from cpeval.results import critical_value


def _trial(f, covariate=False):
    keep = f["observed"].to_numpy() == 1
    g = f.loc[keep]
    X = g[["x_baseline"]].to_numpy(float) if covariate else np.empty((len(g), 0))
    cl = np.unique(g["cluster_id"], return_inverse=True)[1]
    return Trial(g["y"].to_numpy(float), g["assigned"].to_numpy(float), g["block_id"].to_numpy() - 1, cl, X)


def _sweep(reps, method, blocked, clustered, **kw):
    est, cover = [], []
    truth = None
    for r in range(reps):
        f = simulate_rct(seed=1000 + r, cluster_randomised=clustered, **kw)
        truth = f.attrs["true_itt"]
        t = _trial(f, covariate=method == "lin")
        if not clustered:
            t = Trial(t.y, t.z, t.block, None, t.X)
        e = estimate_itt(t, method == "lin", blocked)
        crit = critical_value(0.95, e.df)
        est.append(e.estimate)
        cover.append(abs(e.estimate - truth) <= crit * e.std_error)
    return np.array(est), np.array(cover), truth


CASES = [
    ("difference_in_means", "weighted", False, dict(n_clusters=20, cluster_size=10, n_blocks=4, icc=0.0)),
    ("lin", "weighted", False, dict(n_clusters=20, cluster_size=10, n_blocks=4, icc=0.0)),
    ("difference_in_means", "fixed_effects", True, dict(n_clusters=40, cluster_size=8, n_blocks=4, icc=0.2)),
    ("lin", "weighted", True, dict(n_clusters=40, cluster_size=8, n_blocks=4, icc=0.2)),
]


@pytest.mark.parametrize(("method", "blocked", "clustered", "kw"), CASES)
def test_unbiased_and_covers_small(method, blocked, clustered, kw):
    est, cover, truth = _sweep(150, method, blocked, clustered, effect=-3.0, **kw)
    se_mc = est.std() / np.sqrt(len(est))
    assert abs(est.mean() - truth) < 4 * se_mc
    assert 0.88 <= cover.mean() <= 0.995


@pytest.mark.slow
@pytest.mark.parametrize(("method", "blocked", "clustered", "kw"), CASES)
def test_unbiased_and_covers_large(method, blocked, clustered, kw):
    est, cover, truth = _sweep(2000, method, blocked, clustered, effect=-3.0, **kw)
    assert abs(est.mean() - truth) < 4 * est.std() / np.sqrt(len(est))
    assert 0.93 <= cover.mean() <= 0.97


def test_lee_bounds_contain_truth_under_differential_attrition():
    lows, highs, naive = [], [], []
    for r in range(30):
        f = simulate_rct(seed=r, n_clusters=100, cluster_size=20, cluster_randomised=False, icc=0.0,
                         attrition=0.10, differential_attrition=0.10, attrition_selection=2.0, effect=-3.0)
        y, z, obs = f["y"].to_numpy(float), f["assigned"].to_numpy(), f["observed"].to_numpy()
        b = lee_bounds(y, z, obs)
        lows.append(b["lower"])
        highs.append(b["upper"])
        naive.append(np.nanmean(y[z == 1]) - np.nanmean(y[z == 0]))
    truth = -3.0
    assert np.mean(lows) < truth < np.mean(highs)
    assert abs(np.mean(naive) - truth) > 1.0  # the naive comparison is biased by the attrition


def test_cace_recovers_effect_with_non_compliance():
    from cpeval.estimation._adapters.linearmodels import iv_2sls

    ests, cover = [], []
    for r in range(60):
        f = simulate_rct(seed=500 + r, n_clusters=40, cluster_size=10, n_blocks=1, cluster_randomised=False,
                         icc=0.0, compliance=0.6, always_takers=0.1, effect=-3.0)
        y, d, z = f["y"].to_numpy(float), f["received"].to_numpy(float), f["assigned"].to_numpy(float)
        fit = iv_2sls(y, d, z, np.ones((len(y), 1)))
        ests.append(fit.estimate)
        cover.append(abs(fit.estimate + 3.0) <= 1.96 * fit.std_error)
    ests = np.array(ests)
    assert abs(ests.mean() + 3.0) < 4 * ests.std() / np.sqrt(len(ests))
    assert np.mean(cover) >= 0.85


def test_ri_uniform_under_null_clustered_blocked():
    from cpeval.estimation.rct.randomization import p_values, statistics

    rng = np.random.default_rng(8)
    ps = []
    for r in range(150):
        f = simulate_rct(seed=700 + r, n_clusters=16, cluster_size=5, n_blocks=2, effect=0.0, icc=0.3)
        y, z = f["y"].to_numpy(float), f["assigned"].to_numpy(float)
        o, nl = statistics(y[:, None], z, f["block_id"].to_numpy() - 1, f["cluster_id"].to_numpy() - 1,
                           "weighted", 199, rng)
        ps.append(p_values(o, nl, 199)[0])
    ps = np.array(ps)
    assert 0.01 <= np.mean(ps < 0.05) <= 0.11
    assert 0.40 <= np.mean(ps) <= 0.60


def test_lee_cluster_bootstrap_resamples_whole_clusters():
    from cpeval.estimation.rct.lee import lee_bounds_ci

    f = simulate_rct(seed=3, n_clusters=30, cluster_size=10, attrition=0.1, differential_attrition=0.05, icc=0.5)
    y, z, obs = f["y"].to_numpy(float), f["assigned"].to_numpy(), f["observed"].to_numpy()
    cl = f["cluster_id"].to_numpy() - 1
    lo_c, hi_c = lee_bounds_ci(y, z, obs, 0.95, 300, np.random.default_rng(0), cl)
    lo_i, hi_i = lee_bounds_ci(y, z, obs, 0.95, 300, np.random.default_rng(0))
    b = lee_bounds(y, z, obs)
    assert lo_c < b["lower"] <= b["upper"] < hi_c
    assert hi_c - lo_c > hi_i - lo_i  # with ICC 0.5, clustering widens the interval
