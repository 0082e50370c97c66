"""Callaway & Sant'Anna with few treated clusters: ``auto`` adds no inference for it (it has no wild bootstrap),
so its warning must not say 'auto, which randomises here' or 'set inference.method: auto' (the design already
has auto); it points to inference.method: randomization, which does run."""

from __future__ import annotations

import warnings

import pytest

from cpeval.datasets.did import simulate_did
from cpeval.errors import CpevalWarning
from cpeval.pipeline import evaluate


def _design(method: str) -> dict:
    return {"name": "cs", "kind": "did", "data": {"path": "x.csv", "unit": "unit", "time": "period"},
            "treatment": {"first_treated": "first_treated"}, "outcomes": [{"name": "y", "column": "y"}],
            "estimator": {"method": "callaway_santanna", "control_group": "never_treated"}, "checks": [],
            "inference": {"seed": 1, "method": method}}


def _effect(method: str, n_treated: int):
    frame = simulate_did(n_units=40, n_periods=8, cohorts=(5,), seed=3)[["unit", "period", "first_treated", "y"]]
    treated = frame.loc[frame["first_treated"] > 0, "unit"].unique()[:n_treated]
    frame = frame[(frame["first_treated"] == 0) | frame["unit"].isin(treated)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        return evaluate(_design(method), frame).effects[0]


@pytest.mark.parametrize("n_treated", [1, 3])
def test_the_advice_is_the_inference_that_runs(n_treated):
    auto = _effect("auto", n_treated)
    assert auto.inference is None  # auto adds nothing for this estimator ...
    (advice,) = [w for w in auto.warnings if "clusters of 'unit'" in w]
    assert "set inference.method: randomization (auto adds no other inference for this estimator" in advice
    assert "auto, which randomises here" not in advice and "set inference.method: auto" not in advice
    if n_treated == 3:  # ... and the method it names does run
        assert _effect("randomization", n_treated).inference.method == "randomization"
