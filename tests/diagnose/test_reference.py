"""Diagnoses against known answers: analytic power of trials, the true false-positive rate of a DiD with few
treated clusters, and the size of the synthetic-control placebo test recomputed by a hand loop."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from cpeval.diagnose import diagnose
from diagnose._designs import counts, did_design, synth, synth_design, trial, trial_design

REF = Path(__file__).parents[1] / "reference" / "diagnose"


def _within(diag, ref: dict, sims: int) -> None:
    o = diag.variants[0].outcomes[0]
    assert o.simulations == sims
    mc_se = math.sqrt(ref["power"] * (1 - ref["power"]) / sims)
    assert abs(o.power.value - ref["power"]) <= 3 * mc_se, (o.power, ref["power"])
    assert o.power.mc_se == pytest.approx(math.sqrt(o.power.value * (1 - o.power.value) / sims))


def test_two_arm_trial_power_matches_analytic():
    ref = json.loads((REF / "two_arm_power.json").read_text())
    sims = 300
    d = diagnose(trial_design({"effect": {"y": 0.4}, "simulations": sims, "dgp": {"y": {"sd": 1.0}}}), trial(),
                 workers=1, progress=False)
    _within(d, ref, sims)
    o = d.variants[0].outcomes[0]
    assert o.true_effect == 0.4
    assert abs(o.bias.value) <= 3 * o.bias.mc_se
    assert abs(o.mde.value - ref["mde"]) <= 3 * o.mde.mc_se, (o.mde, ref["mde"])
    assert o.mde.mc_se == pytest.approx(o.mde.value / math.sqrt(2 * (sims - 1)))
    assert d.verdict[1].startswith(f"this design has a {o.power.value:.0%} chance")
    assert "effect of 0.4 on y" in d.verdict[1]
    adequate = o.power.value >= 0.8
    assert d.verdict[0].startswith("Adequate as declared" if adequate else "Not adequate as declared: power below 80%")


@pytest.mark.parametrize("sims", [200, pytest.param(1000, marks=pytest.mark.slow)])
def test_cluster_trial_power_matches_design_effect(sims):
    ref = json.loads((REF / "cluster_trial_power.json").read_text())
    d = diagnose(trial_design({"effect": {"y": 0.3}, "simulations": sims, "dgp": {"y": {"sd": 1.0, "icc": 0.1}}},
                              cluster=True), trial(n_clusters=40, size=10), workers=1, progress=False)
    _within(d, ref, sims)


def _hand_rejections(design: dict, data, sims: int) -> list[bool]:
    """Re-draw every simulated panel from its seed and fit the design's estimator on it, outside the diagnosis."""
    from cpeval.diagnose.problem import prepare
    from cpeval.diagnose.simulate import draw_panel, seeds_for
    from cpeval.estimation.registry import estimator_for

    problem = prepare(design, data)
    v = problem.variants[0]
    est = estimator_for(v.panel.design)
    out = []
    for ss in seeds_for(problem.seed, 0, sims):
        panel = draw_panel(problem, v, ss)
        e = est.fit(panel, v.panel.design.outcomes[0])
        out.append(bool(e.ci_lower > 0 or e.ci_upper < 0))
    return out


def test_did_poisson_counts_false_positive_rate_is_what_the_simulation_produced():
    sims = 60
    design = did_design({"simulations": sims, "dgp": {"burglary": {"family": "poisson"}}})
    data = counts(n_units=20, treated=2)
    d = diagnose(design, data, workers=1, progress=False)
    o = d.variants[0].outcomes[0]
    hand = _hand_rejections(design, data, sims)
    assert o.dgp["family"] == "poisson" and o.true_effect == 0
    assert o.power.value == sum(hand) / sims  # exactly the share of simulated tests that rejected
    assert o.power.value > 0.05 + 2 * o.power.mc_se  # 2 treated clusters of 20: the analytic test over-rejects
    assert any("more often than it should" in line for line in d.verdict)
    assert d.verdict[0] == "Not adequate as declared: tests that reject too often with no effect: burglary."


def test_did_with_many_treated_clusters_is_not_flagged():
    d = diagnose(did_design({"simulations": 40, "dgp": {"burglary": {"family": "poisson"}}}),
                 counts(n_units=40, treated=20), workers=1, progress=False)
    assert not any("more often than it should" in line for line in d.verdict)


def _placebo_p(frame, level: float) -> float:
    """Placebo in space by hand: each unit in turn treated, the others donors; the post/pre RMSPE ratio ranked."""
    from cpeval.data import load_panel
    from cpeval.designs import design_from_dict
    from cpeval.estimation.registry import estimator_for

    units = sorted(frame["unit"].unique())
    ratios = []
    for u in units:
        raw = synth_design({}, level=level)
        raw.pop("diagnose")
        raw["checks"] = []
        raw["treatment"]["units"] = [u]
        design = design_from_dict(raw)
        e = estimator_for(design).fit(load_panel(design, frame), design.outcomes[0])
        gap = np.array([r["gap"] for r in e.path])
        times = np.array([r["time"] for r in e.path])
        pre, post = gap[times < 9], gap[times >= 9]
        ratios.append(math.sqrt(np.mean(post**2)) / math.sqrt(np.mean(pre**2)))
    ratios = np.array(ratios)
    treated = ratios[units.index("u0")]
    return float(np.mean(ratios >= treated - 1e-12 * treated))


def test_synth_small_donor_pool_placebo_size_matches_hand_loop():
    from cpeval.diagnose.problem import prepare
    from cpeval.diagnose.simulate import draw_panel, seeds_for

    sims, level = 8, 0.8
    design, data = synth_design({"simulations": sims}, level=level), synth(n_donors=6)
    d = diagnose(design, data, workers=1, progress=False)
    (rate,) = [c for c in d.variants[0].checks if c.check == "placebo_space[y]"]
    assert rate.meaning == "size"
    problem = prepare(design, data)
    v = problem.variants[0]
    hand = []
    for ss in seeds_for(problem.seed, 0, sims):
        frame = draw_panel(problem, v, ss).frame[["unit", "year", "y"]]
        hand.append(_placebo_p(frame.reset_index(drop=True), level) <= 1 - level + 1e-12)
    assert rate.rate.value == sum(hand) / sims
    assert rate.simulations == sims
    assert any("placebo_space[y]: its size is" in line for line in d.verdict)


def test_treated_units_needed_by_hand():
    """n1 with (t_a + t_pow) sd sqrt(1/n1 + 1/n0) / sqrt(1/10 + 1/30) <= |effect|, controls fixed at n0 = 30:
    r = (1.5 / 2.8)^2 (1/10 + 1/30) = 0.0382653; n1 = 1 / (r - 1/30) = 202.76, so 203; with effect 0.5,
    r = 0.0042517 < 1/30: no number of treated units suffices."""
    from types import SimpleNamespace

    from cpeval.diagnose.result import _required

    problem = SimpleNamespace(kind="did", level=0.95, power=0.8)
    variant = SimpleNamespace(n_treated=10, n_units=40)
    assert _required(problem, variant, -1.5, 1.0, 2.8) == 203
    assert _required(problem, variant, 0.5, 1.0, 2.8) is None
    assert _required(problem, variant, 0.0, 1.0, 2.8) is None
