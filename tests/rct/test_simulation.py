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
        e = estimate_itt(t, method, blocked)
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
