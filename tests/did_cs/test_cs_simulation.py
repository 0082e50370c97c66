"""Simulation truth: Callaway & Sant'Anna recovers a time-varying staggered effect that biases TWFE, with
covariates (conditional parallel trends), repeated cross-sections and unbalanced panels; intervals cover."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cpeval.data import validate_panel
from cpeval.datasets.did import did_truth, simulate_did, true_att_gt
from cpeval.designs import design_from_dict
from cpeval.estimation.did.twfe import TwoWayFixedEffects
from cpeval.payloads import GroupTimeFit
from did_cs._cs import fit_sim, rows


def _twfe(frame):
    design = design_from_dict(
        {
            "name": "twfe", "kind": "did", "data": {"path": "x.csv", "unit": "unit", "time": "period"},
            "treatment": {"first_treated": "first_treated"}, "outcomes": [{"name": "y", "column": "y"}],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return TwoWayFixedEffects(design).fit(validate_panel(frame, design), design.outcomes[0])


def test_twfe_biased_cs_recovers_truth():
    frame = simulate_did(n_units=2000, sd=0.5, seed=11)
    truth = did_truth(frame)
    cs = fit_sim(frame)
    twfe = _twfe(frame)
    assert abs(cs.estimate - truth["simple"]) < 3 * cs.std_error
    assert abs(twfe.estimate - truth["simple"]) > 10 * twfe.std_error  # TWFE is badly off here
    dyn = fit_sim(frame, aggregation="dynamic")
    assert abs(dyn.estimate - truth["dynamic"]) < 3 * dyn.std_error
    grp = fit_sim(frame, aggregation="group")
    assert abs(grp.estimate - truth["group"]) < 3 * grp.std_error


def test_every_cell_recovers_its_truth():
    cells = rows(fit_sim(simulate_did(n_units=3000, sd=0.5, seed=5)), "att_gt")
    truth = np.array([true_att_gt(g, t) for g, t in zip(cells.group, cells.time, strict=True)])
    z = (cells.estimate - truth) / cells.std_error
    assert np.all(np.abs(z) < 4)


@pytest.mark.parametrize("approach", ["reg", "ipw", "dr"])
def test_covariates_restore_conditional_parallel_trends(approach):
    frame = simulate_did(n_units=3000, covariate=True, sd=0.5, seed=7)
    truth = did_truth(frame)["simple"]
    adjusted = fit_sim(frame, approach=approach, covariates=["x"])
    naive = fit_sim(frame, approach=approach)
    assert abs(adjusted.estimate - truth) < 3 * adjusted.std_error
    assert abs(naive.estimate - truth) > 5 * naive.std_error


@pytest.mark.parametrize("approach", ["reg", "ipw", "dr"])
def test_repeated_cross_sections(approach):
    frame = simulate_did(n_units=600, panel=False, covariate=True, sd=0.5, seed=3)
    effect = fit_sim(frame, approach=approach, panel=False, covariates=["x"])
    assert effect.payload(GroupTimeFit).layout == "repeated cross-sections"
    assert effect.n_units == len(frame)
    assert abs(effect.estimate - did_truth(frame)["simple"]) < 3 * effect.std_error


def test_rc_estimators_agree_with_panel_formula_without_covariates():
    """With no covariates reg, ipw and dr coincide for repeated cross-sections too."""
    frame = simulate_did(n_units=200, panel=False, seed=4)
    est = [fit_sim(frame, approach=a, panel=False) for a in ("reg", "ipw", "dr")]
    assert est[0].estimate == pytest.approx(est[1].estimate, abs=1e-10)
    assert est[0].estimate == pytest.approx(est[2].estimate, abs=1e-10)
    assert est[0].std_error == pytest.approx(est[2].std_error, rel=1e-8)


@pytest.mark.parametrize("unbalanced", ["balance", "keep"])
def test_unbalanced_panel(unbalanced):
    frame = simulate_did(n_units=1500, missing=0.05, sd=0.5, seed=8)
    effect = fit_sim(frame, unbalanced=unbalanced)
    expected_layout = "balanced panel" if unbalanced == "balance" else "unbalanced panel"
    assert effect.payload(GroupTimeFit).layout == expected_layout
    assert any("unbalanced panel" in w for w in effect.warnings)
    assert abs(effect.estimate - did_truth(frame)["simple"]) < 3 * effect.std_error
    if unbalanced == "keep":
        assert effect.n_units == frame.unit.nunique()


def _coverage(reps: int, **sim) -> tuple[float, float]:
    truth = did_truth(n_periods=10)["simple"]  # equal cohort shares in the population
    hits, bias = [], []
    for seed in range(reps):
        frame = simulate_did(seed=10_000 + seed, **sim)
        effect = fit_sim(frame, panel=sim.get("panel", True))
        hits.append(effect.ci_lower <= truth <= effect.ci_upper)
        bias.append(effect.estimate - truth)
    return float(np.mean(hits)), float(np.mean(bias))


def test_coverage_small():
    cover, bias = _coverage(60, n_units=200)
    assert 0.85 <= cover <= 1.0
    assert abs(bias) < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("sim", [{"n_units": 300}, {"n_units": 300, "panel": False}], ids=["panel", "rcs"])
def test_coverage_sweep(sim):
    cover, bias = _coverage(500, **sim)
    assert 0.93 <= cover <= 0.97, cover
    assert abs(bias) < 0.03


def _band_coverage(reps: int, n_units: int) -> tuple[float, float]:
    """Share of draws whose uniform band covers every true ATT(g,t) at once, and mean pointwise coverage."""
    joint, point = [], []
    for seed in range(reps):
        frame = simulate_did(n_units=n_units, seed=50_000 + seed)
        cells = rows(fit_sim(frame, inference={"bootstrap": 499, "seed": seed}), "att_gt")
        truth = np.array([true_att_gt(g, t) for g, t in zip(cells.group, cells.time, strict=True)])
        joint.append(bool(((cells.band_lower <= truth) & (truth <= cells.band_upper)).all()))
        point.append(float(((cells.ci_lower <= truth) & (truth <= cells.ci_upper)).mean()))
    return float(np.mean(joint)), float(np.mean(point))


def test_uniform_band_small():
    joint, point = _band_coverage(30, 1000)
    assert joint >= 0.8 and point >= 0.85


@pytest.mark.slow
def test_uniform_band_sweep():
    joint, point = _band_coverage(300, 1000)  # 27 cells covered simultaneously
    assert 0.92 <= joint <= 0.98, joint
    assert 0.93 <= point <= 0.97, point
