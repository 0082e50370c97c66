"""The trial estimators keep no state between fits: one outcome's fit equals the family fit's, a second
panel's fit is not served the first panel's numbers, and the estimator's attributes do not change."""

from __future__ import annotations

import dataclasses

import numpy as np

from cpeval.data import load_panel
from cpeval.designs import design_from_dict
from cpeval.estimation.base import fit_outcomes
from cpeval.estimation.registry import estimator_for
from cpeval.payloads import TrialTests

from .conftest import nsw_design


def _design():
    return design_from_dict(nsw_design(
        outcomes=[{"name": "re78", "column": "re78", "family": "other", "better_if": "increase"},
                  {"name": "re75", "column": "re75", "family": "other", "better_if": "increase"}],
        inference={"multiple_testing": "holm", "permutations": 199, "seed": 3},
    ))


def test_fit_equals_the_family_fit_and_leaves_the_estimator_unchanged(nsw):
    design = _design()
    panel = load_panel(design, nsw)
    est = estimator_for(design)
    before = dict(vars(est))
    together = fit_outcomes(est, panel, design.outcomes)
    assert vars(est) == before
    for outcome, effect in zip(design.outcomes, together, strict=True):
        alone = est.fit(panel, outcome)
        assert alone.estimate == effect.estimate
        assert alone.payload(TrialTests).p_value_adjusted == effect.payload(TrialTests).p_value_adjusted
        assert alone.payload(TrialTests).ri_p_value == effect.payload(TrialTests).ri_p_value


def test_a_second_panel_with_the_same_fingerprint_is_fitted_afresh(nsw):
    design = _design()
    panel = load_panel(design, nsw)
    est = estimator_for(design)
    first = est.fit(panel, design.outcomes[0])
    shifted = nsw.copy()
    shifted.loc[shifted["treat"] == 1, "re78"] += 1000.0  # a known +1000 shift of the treated arm
    other = dataclasses.replace(load_panel(design, shifted), sha256=panel.sha256)
    second = est.fit(other, design.outcomes[0])
    assert np.isclose(second.estimate - first.estimate, 1000.0)
