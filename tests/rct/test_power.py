"""Power before the trial: analytic MDE against textbook formulas, simulation against the analytic answer."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cpeval.power import analytic_power, icc_anova, mde, power_analysis

from .conftest import ROOT


def test_mde_textbook_individual():
    # n = 400, p = 1/2, sd = 1: SE = 2/sqrt(400) = 0.1; MDE = (t_.975 + t_.8) * 0.1 on 398 df (about 0.28)
    se = 1 * math.sqrt(1 / (400 * 0.25))
    m = mde(se, 398, 0.95, 0.8)
    assert m == pytest.approx((stats.t.ppf(0.975, 398) + stats.t.ppf(0.8, 398)) * 0.1)
    assert m == pytest.approx(0.2808, abs=1e-3)
    assert analytic_power(m, se, 398, 0.95) == pytest.approx(0.8, abs=0.002)


def test_icc_anova_recovers_truth():
    rng = np.random.default_rng(0)
    G, m, rho = 400, 20, 0.1
    cl = np.repeat(np.arange(G), m)
    y = rng.normal(scale=math.sqrt(rho), size=G)[cl] + rng.normal(scale=math.sqrt(1 - rho), size=G * m)
    assert icc_anova(y, cl) == pytest.approx(rho, abs=0.02)


def _design(cluster: bool) -> dict:
    return {
        "name": "p", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
        "treatment": {"assignment": "assigned", "block": "block_id", **({"cluster": "cluster_id"} if cluster else {})},
        "outcomes": [{"name": "y", "column": "y"}],
        "power": {"sd": 1.0, "icc": 0.1 if cluster else None, "simulations": 300},
    }


@pytest.mark.parametrize("cluster", [False, True])
def test_simulated_power_agrees_with_analytic(cluster):
    from cpeval.datasets.rct import simulate_rct

    f = simulate_rct(n_clusters=40, cluster_size=10, n_blocks=2, cluster_randomised=cluster, seed=1)
    (r,) = power_analysis(_design(cluster), f, effect=0.3)
    assert r.power_simulated == pytest.approx(r.power_analytic, abs=0.08)
    assert abs(r.simulated_bias) < 0.05 and 0.90 <= r.simulated_coverage <= 0.99
    assert r.power_simulated_at_mde == pytest.approx(0.8, abs=0.08)
    if cluster:
        assert r.design_effect == pytest.approx(1 + 9 * 0.1)
        assert r.df == 40 - 2 - 1


def test_power_cli_on_shipped_design(capsys):
    from cpeval.cli import main

    assert main(["power", str(ROOT / "designs" / "hotspots_trial.yaml"), "--simulations", "20",
                 "--outcome", "crime_harm"]) == 0
    out = capsys.readouterr().out
    assert "minimum detectable effect" in out and "120 clusters" in out


def test_power_rejects_non_rct(capsys):
    from cpeval.cli import main

    assert main(["power", str(ROOT / "designs" / "castle_doctrine.yaml")]) == 2
    assert "kind: rct" in capsys.readouterr().err


def test_power_outcomes_must_be_the_design_outcomes():
    from cpeval.datasets.rct import simulate_rct
    from cpeval.errors import DesignError

    f = simulate_rct(n_clusters=40, cluster_size=10, n_blocks=2, seed=1)
    for asked in (["yy"], ["y", "yy"]):  # a misspelt name is an error even beside a valid one
        with pytest.raises(DesignError, match=r"no outcome named 'yy'.*outcomes are: y; did you mean 'y'"):
            power_analysis(_design(False), f, outcomes=asked, simulations=0)


def test_power_effect_mapping_must_name_outcomes():
    from cpeval.designs import design_from_dict
    from cpeval.errors import DesignError

    d = _design(False)
    d["power"] = {"effect": {"nope": 1.0}}
    with pytest.raises(DesignError, match="not outcomes"):
        design_from_dict(d)


def test_required_size_is_the_smallest_sample_reaching_target_power():
    from cpeval.power import required_size

    unit_sd = 2.0  # sd / sqrt(p (1 - p)) with sd = 1, p = 1/2
    n = required_size(0.2, unit_sd, 2, 0.95, 0.8)
    assert mde(unit_sd / math.sqrt(n), n - 2, 0.95, 0.8) <= 0.2 < mde(unit_sd / math.sqrt(n - 1), n - 3, 0.95, 0.8)
    assert 780 <= n <= 800  # textbook: about 787 people for 0.2 SD at 80% power


def test_required_clusters_consistent_with_mde():
    from cpeval.datasets.rct import simulate_rct

    f = simulate_rct(n_clusters=40, cluster_size=10, n_blocks=2, seed=1)
    (r,) = power_analysis(_design(True), f, effect=0.3, simulations=0)
    assert r.required is not None
    assert (r.required > 40) == (r.mde > 0.3)
