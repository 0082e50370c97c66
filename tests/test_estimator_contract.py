"""One contract, run over every registered estimator (in the spirit of scikit-learn's check_estimator).

For each (design kind, method) in the registry, on a small simulated dataset with a known effect:
- shuffling the rows and relabelling the units (new ids in a different sort order) leave the estimate, its
  standard error and its interval unchanged;
- the caller's DataFrame is not modified;
- the same design and data give the same bytes of results.json twice;
- the Effect is valid (finite estimate, interval around it, p-value in [0, 1]) and survives a JSON round trip.
A registered method without a contract case here fails the first test, so a new estimator cannot skip it.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cpeval.datasets.did import simulate_did
from cpeval.datasets.rct import simulate_rct
from cpeval.datasets.synth import simulate_synth
from cpeval.estimation.registry import REGISTRY
from cpeval.pipeline import evaluate


def _did(method: str, **estimator: Any) -> tuple[dict, pd.DataFrame]:
    frame = simulate_did(n_units=60, n_periods=8, cohorts=(4, 6), counts=method == "poisson", seed=11)
    frame = frame.assign(population=1000)
    column, measure = ("crimes", "count") if method == "poisson" else ("y", "level")
    treatment = {"indicator": "treated"} if method == "twfe" else {"first_treated": "first_treated"}
    design = {
        "name": f"contract {method}", "kind": "did",
        "data": {"path": "unused.csv", "unit": "unit", "time": "period", "population": "population"},
        "treatment": treatment,
        "outcomes": [{"name": "y", "column": column, "family": "crime", "measure": measure}],
        "estimator": {"method": method, **estimator},
    }
    return design, frame


def _synth(method: str) -> tuple[dict, pd.DataFrame]:
    frame = simulate_synth(n_donors=12, n_pre=12, n_post=4, seed=3)
    design = {
        "name": f"contract {method}", "kind": "synthetic_control",
        "data": {"path": "unused.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["t0"], "start": int(frame.attrs["start"])},
        "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
        "estimator": {"method": method},
    }
    return design, frame


def _rct(method: str) -> tuple[dict, pd.DataFrame]:
    frame = simulate_rct(n_clusters=24, cluster_size=5, n_blocks=3, seed=5)
    design = {
        "name": f"contract {method}", "kind": "rct",
        "data": {"path": "unused.csv", "unit": "unit_id"},
        "treatment": {"assignment": "assigned", "block": "block_id", "cluster": "cluster_id"},
        "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
        "estimator": {"method": method, **({"covariates": ["x_baseline"]} if method == "lin" else {})},
    }
    return design, frame


CASES = {
    ("did", "twfe"): lambda: _did("twfe"),
    ("did", "event_study"): lambda: _did("event_study"),
    ("did", "sun_abraham"): lambda: _did("sun_abraham"),
    ("did", "poisson"): lambda: _did("poisson"),
    ("did", "callaway_santanna"): lambda: _did("callaway_santanna"),
    ("synthetic_control", "abadie"): lambda: _synth("abadie"),
    ("synthetic_control", "augmented"): lambda: _synth("augmented"),
    ("synthetic_control", "synthetic_did"): lambda: _synth("synthetic_did"),
    ("rct", "difference_in_means"): lambda: _rct("difference_in_means"),
    ("rct", "lin"): lambda: _rct("lin"),
}


def test_every_registered_estimator_has_a_contract_case():
    assert set(REGISTRY) == set(CASES)


def _relabel(design: dict, frame: pd.DataFrame) -> tuple[dict, pd.DataFrame]:
    """New unit ids whose sort order reverses the old one; the design's named units follow."""
    unit = design["data"]["unit"]
    old = sorted(frame[unit].unique(), key=str)
    new = {u: f"area_{len(old) - i:04d}" for i, u in enumerate(old)}
    design = json.loads(json.dumps(design))
    if design["kind"] == "synthetic_control":
        design["treatment"]["units"] = [new[u] for u in design["treatment"]["units"]]
    return design, frame.assign(**{unit: frame[unit].map(new)})


def _shuffle(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sample(frac=1.0, random_state=np.random.default_rng(7)).reset_index(drop=True)


def _numbers(result) -> tuple[float, float, float, float]:
    (e,) = result.effects
    return e.estimate, e.std_error, e.ci_lower, e.ci_upper


@pytest.fixture(scope="module", params=sorted(CASES), ids=lambda k: f"{k[0]}-{k[1]}")
def case(request):
    design, frame = CASES[request.param]()
    return request.param, design, frame, evaluate(design, data=frame)


def test_effect_is_valid_and_serialisable(case):
    _, _, _, result = case
    (e,) = result.effects
    assert np.isfinite(e.estimate)
    assert e.ci_lower <= e.estimate <= e.ci_upper
    assert 0.0 <= e.p_value <= 1.0
    back = json.loads(result.to_json())
    assert back["effects"][0]["estimate"] == pytest.approx(e.estimate, rel=1e-12)
    for payload in e.payloads:  # each typed payload reads back from results.json as written
        written = back["effects"][0]["diagnostics"][payload.key]
        assert type(payload).from_dict(written).to_dict() == payload.to_dict(), payload.key


def test_row_order_and_unit_labels_do_not_change_the_answer(case):
    _, design, frame, result = case
    shuffled = evaluate(design, data=_shuffle(frame))
    relabelled = evaluate(*_relabel(design, _shuffle(frame)))
    # Optimisers (synthetic-control weights) converge to the same point only up to their tolerance.
    tol = 1e-6 if design["kind"] == "synthetic_control" else 1e-9
    assert _numbers(shuffled) == pytest.approx(_numbers(result), rel=tol, abs=tol, nan_ok=True)
    assert _numbers(relabelled) == pytest.approx(_numbers(result), rel=tol, abs=tol, nan_ok=True)


def test_input_frame_is_not_modified_and_bytes_repeat(case):
    _, design, frame, result = case
    before = frame.copy(deep=True)
    again = evaluate(design, data=frame)
    pd.testing.assert_frame_equal(frame, before)
    assert again.to_json() == result.to_json()


# ---------------------------------------------------------------- a new estimator, registered here only

class ToyDifferenceOfMeans:
    """A trivial DiD: the change in the mean outcome of the ever-treated units from before the first adoption
    to after it, minus the same change for the never-treated, with the unit-level two-sample standard error."""

    method = "toy"

    def __init__(self, design: Any):
        self.design = design

    def fit(self, panel: Any, outcome: Any) -> Any:
        from cpeval.data.panel import COHORT
        from cpeval.estimation.inference import make_effect

        frame = panel.outcome_rows(outcome.column)
        first = frame[COHORT].min()
        change = (frame.assign(post=frame[panel.time] >= first)
                  .groupby([panel.unit, "post"])[outcome.column].mean().unstack()
                  .pipe(lambda m: m[True] - m[False]))
        treated = frame.groupby(panel.unit)[COHORT].first().notna().reindex(change.index)
        d1, d0 = change[treated].to_numpy(), change[~treated].to_numpy()
        se = float(np.sqrt(d1.var(ddof=1) / len(d1) + d0.var(ddof=1) / len(d0)))
        return make_effect(outcome, method=self.method, estimand="att", estimate=float(d1.mean() - d0.mean()),
                           std_error=se, level=self.design.inference.level, df=None, n_obs=len(frame),
                           n_units=len(change), n_clusters=len(change), variance_type="two-sample, by unit")


def _toy_options() -> type:
    from typing import ClassVar, Literal

    from cpeval.designs.did import DidOptions
    from cpeval.designs.methods import Capabilities

    class ToyOptions(DidOptions):
        method: Literal["toy"]
        capabilities: ClassVar[Capabilities] = Capabilities(title="toy difference of means", requires_absorbing=True)

    return ToyOptions


@pytest.fixture
def toy():
    from cpeval.estimation import registry

    registry.register("did", _toy_options(), lambda: ToyDifferenceOfMeans)
    try:
        yield
    finally:
        registry.unregister("did", "toy")


def test_a_toy_estimator_runs_through_validation_checks_and_the_report_without_other_edits(toy):
    from cpeval.designs import design_from_dict, design_schema
    from cpeval.errors import DesignError
    from cpeval.report import render_markdown

    design, frame = _did("event_study")
    design["estimator"] = {"method": "toy", "cluster": "unit"}
    design["checks"] = ["pre_trends", {"honest_did": {"mbar": [0, 1]}}, "bacon"]
    result = evaluate(design, data=frame)
    (e,) = result.effects
    # hand calculation: the 2x2 difference of unit-level mean changes around the first adoption (period 4)
    post = frame["period"] >= 4
    change = frame[post].groupby("unit")["y"].mean() - frame[~post].groupby("unit")["y"].mean()
    ever = frame.groupby("unit")["first_treated"].first() > 0
    assert e.method == "toy"
    assert e.estimate == pytest.approx(change[ever].mean() - change[~ever].mean(), rel=1e-12)
    assert {c.name: c.status for c in result.checks}.keys() == {"pre_trends", "honest_did", "bacon"}
    assert all(c.status != "error" for c in result.checks), [c.message for c in result.checks]
    pre = next(c for c in result.checks if c.name == "pre_trends")
    assert pre.values["source_method"] == "event_study"  # the toy has no event path: the check fitted one
    report = render_markdown(result)
    assert "toy" in report and "pre_trends" in report
    # validation knows the toy's options: a key of another method names the methods it applies to
    with pytest.raises(DesignError, match=r"estimator\.leads: 'leads' does not apply to method 'toy'; it applies to "
                       r"event_study, sun_abraham, poisson"):
        design_from_dict({**design, "estimator": {"method": "toy", "leads": 2}})
    assert "toy" in json.dumps(design_schema())


def test_an_unregistered_method_is_an_error_everywhere():
    from cpeval.designs import design_from_dict
    from cpeval.errors import DesignError
    from cpeval.estimation.registry import capabilities, estimator_class

    design, _ = _did("twfe")
    design["estimator"] = {"method": "toy"}
    with pytest.raises(DesignError, match="method 'toy' is not available for did designs"):
        design_from_dict(design)
    with pytest.raises(DesignError, match="method 'toy' is not available for did designs"):
        estimator_class("did", "toy")
    with pytest.raises(DesignError, match="method 'toy' is not available for did designs"):
        capabilities("did", "toy")
