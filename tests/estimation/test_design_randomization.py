"""Design-based randomisation inference for DiD: exact p-values against a hand loop over every assignment."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest

from cpeval.data import load_panel
from cpeval.designs import design_from_dict
from cpeval.estimation.alternative import randomization
from cpeval.estimation.design_randomization import (
    count_assignments,
    enumerate_assignments,
    randomization_test,
)
from cpeval.estimation.registry import estimator_for


def _panel_frame(first=(3, 3, 0, 4, 0, 0), periods=5, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i, g in enumerate(first):
        level = rng.normal(0, 2)
        for t in range(1, periods + 1):
            rows.append({"area": f"a{i}", "month": t, "first": g, "y": level + 0.3 * t + rng.normal()})
    return pd.DataFrame(rows)


def _design(method="twfe", permutations=1000):
    return design_from_dict({
        "name": "ri", "kind": "did", "data": {"path": "x.csv", "unit": "area", "time": "month"},
        "treatment": {"first_treated": "first"},
        "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level", "better_if": "decrease"}],
        "estimator": {"method": method}, "inference": {"method": "randomization", "permutations": permutations},
    })


def _hand_loop_p(frame, design):
    """Every distinct re-assignment of the units' adoption dates, the registry's estimator on each (by hand)."""
    est = estimator_for(design)
    outcome = design.outcomes[0]
    cohorts = frame.groupby("area")["first"].first()
    observed = est.fit(load_panel(design, frame), outcome).estimate
    stats = []
    for perm in sorted(set(itertools.permutations(cohorts.to_numpy().tolist()))):
        new = frame.assign(first=frame["area"].map(dict(zip(cohorts.index, perm, strict=True))))
        stats.append(est.fit(load_panel(design, new), outcome).estimate)
    stats = np.abs(np.array(stats))
    return np.mean(stats >= abs(observed) * (1 - 1e-10)), len(stats)


def _fit(frame, design):
    panel = load_panel(design, frame)
    est = estimator_for(design)
    return panel, est, est.fit(panel, design.outcomes[0])


@pytest.mark.parametrize("method", ["twfe", "event_study"])
def test_exact_p_equals_hand_loop_over_all_assignments(method):
    frame = _panel_frame()
    design = _design(method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hand, n = _hand_loop_p(frame, design)
        panel, est, effect = _fit(frame, design)
        refit = randomization_test(panel, design.outcomes[0], effect, est, draws=1000, seed=1, level=0.9)
        # the pipeline's route: batched (twfe) or least squares on each assignment (event study), with interval
        p, (lo, hi), draws, exact, _, _ = randomization(panel, design.outcomes[0], effect, design, est)
    assert refit.exact and refit.draws == n == 60 and exact and draws == 60  # 6! / (3! 2! 1!)
    assert refit.p_value == pytest.approx(hand, abs=1e-12)
    assert p == pytest.approx(hand, abs=1e-12)
    assert lo < effect.estimate < hi


def test_twfe_batched_form_equals_refitting_the_estimator():
    frame = _panel_frame(first=(3, 0, 0, 0, 3, 0, 0, 0), seed=4)
    design = _design("twfe")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, est, effect = _fit(frame, design)
        fast = randomization_test(panel, design.outcomes[0], effect, est, draws=1000, seed=1, level=0.95)
        est.method = "refit"  # not 'twfe': forces re-running the estimator on every assignment
        import cpeval.estimation.design_randomization as dr

        slow = dr._refit_statistics(panel, design.outcomes[0], lambda p: est.fit(p, design.outcomes[0]).estimate,
                                    *dr._paths(panel.frame, "area", "month")[2:],
                                    enumerate_assignments(np.array([1, 0, 0, 0, 1, 0, 0, 0])),
                                    np.array([1, 0]))
    assert np.sort(fast.estimates) == pytest.approx(np.sort(slow), abs=1e-10)


def test_count_and_enumeration_of_assignments():
    groups = np.array([0, 0, 0, 1, 1, 2])
    assert count_assignments(groups) == 60
    rows = enumerate_assignments(groups)
    assert len({tuple(r) for r in rows}) == 60
    assert (rows[0] == groups).all()


def test_sampled_p_value_counts_the_observed_assignment():
    frame = _panel_frame(first=(3,) * 3 + (0,) * 9, seed=2)
    design = _design("twfe", permutations=50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, est, effect = _fit(frame, design)
        res = randomization_test(panel, design.outcomes[0], effect, est, draws=50, seed=3, level=0.95)
    assert not res.exact and res.n_assignments == 220
    hits = np.sum(np.abs(res.estimates) >= abs(effect.estimate) * (1 - 1e-10))
    assert res.p_value == (1 + hits) / 51


def test_interval_inverts_the_constant_effect_null_by_hand():
    """At each bound, y - tau D re-tested over every assignment by hand: rejected just outside, kept inside."""
    frame = _panel_frame()
    design = _design("twfe")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, est, effect = _fit(frame, design)
        _, (lo, hi), *_ = randomization(panel, design.outcomes[0], effect, design, est)
        d = (frame["first"].gt(0) & frame["month"].ge(frame["first"])).astype(float)
        for bound, outward in ((lo, -1.0), (hi, 1.0)):
            for step, rejected in ((1e-6, True), (-1e-6, False)):
                shifted = frame.assign(y=frame["y"] - (bound + outward * step) * d)
                assert bool(_hand_loop_p(shifted, design)[0] <= 1 - design.inference.level + 1e-12) == rejected


@pytest.mark.parametrize("aggregation", ["simple", "dynamic"])
def test_callaway_santanna_estimate_only_route_equals_hand_loop_of_full_fits(aggregation):
    """Re-assignments are scored by the ATT(g,t) and the declared aggregation alone (no variances): the same
    p-value as the hand loop of full fits, without calling the estimator's fit."""
    frame = _panel_frame(first=(3, 0, 4, 0, 0, 0), periods=5, seed=2)
    raw = _design().model_dump(mode="json", exclude_none=True)
    raw["estimator"] = {"method": "callaway_santanna", "aggregation": aggregation}
    design = design_from_dict(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hand, n = _hand_loop_p(frame, design)
        panel, est, effect = _fit(frame, design)
        calls = []
        fit = est.fit
        est.fit = lambda *a: calls.append(1) or fit(*a)
        p, ci, draws, exact, _, _ = randomization(panel, design.outcomes[0], effect, design, est)
    assert exact and draws == n == 30  # 6! / (1! 1! 4!)
    assert p == pytest.approx(hand, abs=1e-12)
    assert calls == [] and ci is None
