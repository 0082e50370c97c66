"""Balance and attrition checks: pass, warn and info paths."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cpeval.datasets.rct import simulate_rct
from cpeval.errors import CpevalWarning
from cpeval.payloads import LeeBounds
from cpeval.pipeline import evaluate


def _design(**over) -> dict:
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id", "missing_outcomes": "drop"},
         "treatment": {"assignment": "assigned"}, "outcomes": [{"name": "y", "column": "y"}]}
    d.update(over)
    return d


def test_balance_info_without_covariates():
    f = simulate_rct(seed=1, cluster_randomised=False)
    res = evaluate(_design(checks=["balance"]), f)
    (c,) = res.checks
    assert c.status == "info" and "no baseline covariates" in c.message


def test_balance_warns_on_imbalanced_covariate():
    f = simulate_rct(seed=1, cluster_randomised=False)
    f = f.assign(bad=f["assigned"] * 1.0 + np.random.default_rng(0).normal(size=len(f)))
    res = evaluate(_design(checks=["balance"], estimator={"covariates": ["x_baseline", "bad"]}), f)
    (c,) = res.checks
    assert c.status == "warn" and "bad" in c.message and c.values["joint"]["p_value"] < 1e-6
    assert {r["covariate"] for r in c.table} == {"x_baseline", "bad"}
    row = next(r for r in c.table if r["covariate"] == "bad")
    assert row["std_diff"] == pytest.approx(
        (f.loc[f.assigned == 1, "bad"].mean() - f.loc[f.assigned == 0, "bad"].mean())
        / np.sqrt((f.loc[f.assigned == 1, "bad"].var() + f.loc[f.assigned == 0, "bad"].var()) / 2)
    )


def test_attrition_warns_above_threshold_and_reports_lee_bounds():
    f = simulate_rct(seed=2, cluster_randomised=False, attrition=0.05, differential_attrition=0.10)
    design = _design(checks=[{"attrition": {"max_differential": 0.05}}], attrition={"observed": "observed"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CpevalWarning)
        res = evaluate(design, f)
    (c,) = res.checks
    assert c.status == "warn" and "exceeds checks.attrition.max_differential" in c.message
    assert c.values["differential"] == pytest.approx(0.10, abs=0.01)
    assert any("max_differential" in str(w.message) for w in caught)
    b = res.effect("y").payload(LeeBounds)
    assert b.trimmed_arm == "control" and b.lower < b.upper
    assert res.effect("y").to_dict()["diagnostics"]["lee_bounds"] == b.to_dict()
    assert "y" in c.values["lee_bounds"]


def test_attrition_passes_when_balanced():
    f = simulate_rct(seed=3, cluster_randomised=False, attrition=0.05, differential_attrition=0.0)
    res = evaluate(_design(checks=["attrition"], attrition={"observed": "observed"}), f)
    assert res.checks[0].status == "pass"


def test_balance_on_the_analysed_sample_when_a_whole_block_is_lost():
    f = simulate_rct(n_clusters=40, cluster_size=5, n_blocks=4, seed=2, attrition=0.0)
    lost = f["block_id"] == 2  # a middle block: its code would leave a gap among the analysed blocks
    f.loc[lost, "observed"] = 0
    f.loc[lost, "y"] = np.nan
    design = _design(treatment={"assignment": "assigned", "cluster": "cluster_id", "block": "block_id"},
                     estimator={"covariates": ["x_baseline"]}, attrition={"observed": "observed"},
                     checks=["balance"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        (c,) = evaluate(design, f).checks
        (kept,) = evaluate(design, f.loc[~lost]).checks
    assert c.status in {"pass", "warn"}, c.message
    assert c.values["joint_analysed_sample"]["statistic"] == pytest.approx(kept.values["joint"]["statistic"],
                                                                          rel=1e-10)
