from __future__ import annotations

import numpy as np
import pytest

from cpeval.estimation.rct.multiple import benjamini_hochberg, holm, romano_wolf


def test_holm_and_bh_match_statsmodels():
    mt = pytest.importorskip("statsmodels.stats.multitest")
    p = np.array([0.01, 0.04, 0.03, 0.2, 0.001])
    assert np.allclose(holm(p), mt.multipletests(p, method="holm")[1])
    assert np.allclose(benjamini_hochberg(p), mt.multipletests(p, method="fdr_bh")[1])


def test_romano_wolf_between_raw_and_bonferroni_with_independent_nulls():
    rng = np.random.default_rng(0)
    null = rng.normal(size=(20000, 3))
    t_obs = np.array([2.5, 2.0, 0.5])
    adj = romano_wolf(t_obs, null)
    raw = np.mean(np.abs(null) >= np.abs(t_obs), axis=0)
    assert np.all(adj >= raw - 1e-3)
    assert np.all(adj <= np.minimum(3 * raw, 1) + 0.01)
    assert adj[0] <= adj[1] <= adj[2]


def test_romano_wolf_with_perfectly_correlated_outcomes_is_unadjusted():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(20000, 1))
    null = np.hstack([base, base, base])
    adj = romano_wolf(np.array([2.0, 2.0, 2.0]), null)
    raw = np.mean(np.abs(base[:, 0]) >= 2.0)
    assert np.allclose(adj, raw, atol=1e-3)
