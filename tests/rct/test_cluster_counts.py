"""Cluster-randomised trials count their treated and control clusters and G* (Carter, Schnepel & Steigerwald
2017) in the result, and warn when an arm has too few clusters for cluster-robust inference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.payloads import ClusterCounts
from cpeval.pipeline import evaluate


def _trial(n_treated: int, n_control: int, size: int = 5, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = n_treated + n_control
    cluster = np.repeat(np.arange(g), size)
    z = np.repeat((np.arange(g) < n_treated).astype(int), size)
    y = rng.normal(size=g)[cluster] + rng.normal(size=g * size)
    return pd.DataFrame({"id": np.arange(g * size), "beat": cluster, "assigned": z, "y": y})


def _design() -> dict:
    return {"name": "t", "kind": "rct", "data": {"path": "x.csv", "unit": "id"},
            "treatment": {"assignment": "assigned", "cluster": "beat"},
            "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
            "inference": {"method": "analytic"}}


def test_counts_and_effective_clusters_by_hand():
    (e,) = evaluate(_design(), data=_trial(4, 6)).effects
    d = e.payload(ClusterCounts)
    assert (d.total, d.treated, d.untreated) == (10, 4, 6)
    # each person's error enters the difference in means with weight 1/20 (treated) or -1/30 (control)
    gamma = np.array([5 / 20**2] * 4 + [5 / 30**2] * 6)
    assert d.effective == pytest.approx(gamma.sum() ** 2 / (gamma**2).sum(), rel=1e-12)


def test_few_treated_clusters_warn_and_point_to_valid_inference():
    (e,) = evaluate(_design(), data=_trial(6, 34)).effects
    (note,) = [w for w in e.warnings if "clusters of 'beat' are treated" in w]
    assert note.startswith("only 6 of the 40 clusters of 'beat' are treated")
    assert "inference.method: auto" in note and "wild_bootstrap or randomization" in note


def test_many_clusters_in_each_arm_do_not_warn():
    (e,) = evaluate(_design(), data=_trial(25, 25)).effects
    assert not [w for w in e.warnings if "clusters of 'beat'" in w]
