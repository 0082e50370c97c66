"""The shipped trial design runs end to end; design and data errors say what to fix."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from cpeval.designs import design_from_dict
from cpeval.errors import CpevalWarning, DesignError, EstimationError
from cpeval.payloads import FirstStage, LeeBounds, OtherEstimand, TrialTests
from cpeval.pipeline import evaluate

from .conftest import ROOT, nsw_design

HOTSPOTS = ROOT / "designs" / "hotspots_trial.yaml"


@pytest.fixture(scope="module")
def hotspots(hotspots_result):
    return hotspots_result


def test_hotspots_itt_covers_truth_and_reports_everything(hotspots):
    from cpeval.datasets.rct import hotspots_trial

    truth = hotspots_trial().attrs["true_itt"]
    for e in hotspots.effects:
        assert e.ci_lower <= truth[e.outcome] <= e.ci_upper, e.outcome
        assert e.n_clusters == 120
        assert "CR2" in e.variance_type
        d = e.payload(TrialTests)
        assert 0 < d.ri_p_value <= 1 and d.ri_draws == 2000
        assert d.p_value_adjusted >= d.ri_p_value - 1e-12  # Romano-Wolf never below the single-test RI p
        assert d.multiple_testing == "romano_wolf"
        assert e.payload(LeeBounds).lower <= e.payload(LeeBounds).upper
    assert {c.name: c.status for c in hotspots.checks} == {"balance": "pass", "attrition": "pass"}
    json.loads(hotspots.to_json())  # JSON-able


def test_hotspots_cace_recovers_effect_of_patrols():
    from cpeval.datasets.rct import hotspots_trial
    from cpeval.designs import load_design

    design = load_design(HOTSPOTS)
    data = design.model_dump(mode="json", by_alias=True)
    data["estimand"] = "cace"
    data["inference"]["permutations"] = 0
    data["inference"]["multiple_testing"] = "holm"
    data["checks"] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        res = evaluate(data)
    truth = hotspots_trial().attrs["true_cace"]
    for e in res.effects:
        assert e.estimand == "cace"
        assert e.ci_lower <= truth[e.outcome] <= e.ci_upper
        fs = e.payload(FirstStage)
        assert fs.f_statistic > 100 and 0.7 < fs.coefficient < 0.9
        itt = e.payload(OtherEstimand)
        assert itt.estimand == "itt"
        assert e.estimate == pytest.approx(itt.estimate / fs.coefficient, rel=0.1)


def test_each_outcome_is_fitted_once_per_panel(monkeypatch):
    """The family p-values need every outcome's fit; the per-outcome fits reuse them rather than refit."""
    from cpeval.designs import load_design
    from cpeval.estimation.rct import estimators

    calls = {"trial_frame": 0, "itt": 0, "cace": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(estimators, "trial_frame", counted("trial_frame", estimators.trial_frame))
    monkeypatch.setattr(estimators, "estimate_itt", counted("itt", estimators.estimate_itt))
    monkeypatch.setattr(estimators.RctEstimatorBase, "_fit_cace",
                        counted("cace", estimators.RctEstimatorBase._fit_cace))
    data = load_design(HOTSPOTS).model_dump(mode="json", by_alias=True)
    data.update(estimand="cace", checks=[], inference={"permutations": 0, "multiple_testing": "holm"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        res = evaluate(data)
    k = len(res.effects)
    assert k == 3 and calls == {"trial_frame": 1, "itt": k, "cace": k}


def test_row_order_and_relabelling_do_not_change_results(nsw):
    base = evaluate(nsw_design(inference={"permutations": 500}), nsw).effect("re78")
    shuffled = nsw.sample(frac=1.0, random_state=3)
    e2 = evaluate(nsw_design(inference={"permutations": 500}), shuffled).effect("re78")
    assert e2.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert e2.std_error == pytest.approx(base.std_error, rel=1e-12)
    assert e2.payload(TrialTests).ri_p_value == base.payload(TrialTests).ri_p_value
    relabelled = nsw.assign(id=nsw["id"] * 7 + 1000)
    e3 = evaluate(nsw_design(), relabelled).effect("re78")
    assert e3.estimate == pytest.approx(base.estimate, rel=1e-12)


def test_input_frame_not_mutated(nsw):
    before = nsw.copy()
    evaluate(nsw_design(estimator={"method": "lin", "covariates": ["age"]}), nsw)
    pd.testing.assert_frame_equal(nsw, before)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"estimand": "cace"}, "treatment.received"),
        ({"estimator": {"method": "lin"}}, "estimator.covariates"),
        ({"estimator": {"covariates": ["treat"]}}, "baseline measures"),
        ({"checks": ["attrition"]}, "attrition"),
        ({"checks": ["balanse"]}, "did you mean 'balance'"),
        ({"inference": {"multiple_testing": "bonferroni"}}, "multiple_testing"),
        ({"treatment": {"assignment": "treat", "block": "treat"}}, "both name column"),
        ({"estimator": {"covariates": ["age", "age"]}}, "listed twice"),
        ({"attrition": {"observed": "x"}, "checks": {"attrition": {"max_differential": 2}}},
         "checks.attrition.max_differential"),
        ({"attrition": {"observed": "treat"}}, "give attrition.observed its own 0/1 column"),
        ({"power": {"effect": {"re87": 1.0}}}, "not outcomes.*did you mean 're78'"),
    ],
)
def test_design_errors(change, match):
    with pytest.raises(DesignError, match=match):
        design_from_dict(nsw_design(**change))


def _tiny(**over) -> dict:
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
         "treatment": {"assignment": "z"}, "outcomes": [{"name": "y", "column": "y"}]}
    d.update(over)
    return d


TINY = pd.DataFrame({"id": range(8), "z": [0, 1] * 4, "d": [0, 1] * 4, "obs": [1] * 8,
                     "b": [0] * 4 + [1] * 4, "x": np.arange(8.0) ** 2, "y": [3.0, 1, 4, 1, 5, 9, 2, 6]})


@pytest.mark.parametrize(
    ("design", "frame", "match"),
    [
        (_tiny(), TINY.assign(y=TINY["z"] * 1.0), "outcome 'y': the effect is not identified"),
        (_tiny(estimand="cace", treatment={"assignment": "z", "received": "d"}), TINY,
         "outcome 'y': take-up equals assignment for everyone.*use estimand: itt"),
        (_tiny(attrition={"observed": "obs"}), TINY.assign(obs=[1, 0] * 4, y=[3.0, None, 4, None, 5, None, 2, None]),
         "outcome 'y': after attrition one arm has no observed units"),
    ],
)
def test_trial_estimation_errors_name_the_outcome_and_the_fix(design, frame, match):
    with pytest.raises(EstimationError, match=match):
        evaluate(design, frame)


def test_oversized_regressions_are_refused(monkeypatch):
    from cpeval.estimation.rct import core, estimators

    monkeypatch.setattr(core, "MAX_DENSE_CELLS", 10)
    lin = _tiny(estimator={"method": "lin", "covariates": ["x"]})
    with pytest.raises(EstimationError, match="outcome 'y': the Lin regression would need a 8 x 4 design matrix"):
        evaluate(lin, TINY)
    monkeypatch.setattr(estimators, "MAX_DENSE_CELLS", 5)
    cace = _tiny(estimand="cace", treatment={"assignment": "z", "received": "d", "block": "b"})
    with pytest.raises(EstimationError, match="outcome 'y': the CACE regression would need 1 block dummies"):
        evaluate(cace, TINY.assign(d=[0, 1, 0, 0, 0, 1, 1, 1]))


def test_weights_are_refused(nsw):
    d = nsw_design()
    d["data"]["weights"] = "age"
    with pytest.raises(DesignError, match=r"data\.weights"):
        evaluate(d, nsw)


def test_clusters_spanning_blocks_is_an_error():
    df = pd.DataFrame({"id": range(8), "cl": [0, 0, 1, 1, 2, 2, 3, 3], "b": [0, 1, 0, 0, 1, 1, 1, 1],
                       "z": [1, 1, 0, 0, 1, 1, 0, 0], "y": np.arange(8.0)})
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
         "treatment": {"assignment": "z", "block": "b", "cluster": "cl"}, "outcomes": [{"name": "y", "column": "y"}]}
    with pytest.raises(EstimationError, match="nested in blocks"):
        evaluate(d, df)


def test_few_clusters_warns_and_is_recorded():
    from cpeval.datasets.rct import simulate_rct

    f = simulate_rct(n_clusters=12, cluster_size=5, n_blocks=1)
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
         "treatment": {"assignment": "assigned", "cluster": "cluster_id"},
         "outcomes": [{"name": "y", "column": "y"}]}
    with pytest.warns(CpevalWarning, match="only 6 of the 12 clusters of 'cluster_id' are treated"):
        res = evaluate(d, f)
    assert any("only 6 of the 12 clusters" in w for w in res.effects[0].warnings)


def test_weak_first_stage_warns():
    rng = np.random.default_rng(0)
    n = 400
    z = np.tile([0, 1], n // 2)
    d = ((rng.random(n) < 0.03) & (z == 1)).astype(int)
    df = pd.DataFrame({"id": range(n), "z": z, "d": d, "y": rng.normal(size=n)})
    design = {"name": "x", "kind": "rct", "estimand": "cace", "data": {"dataset": "cpeval.none", "unit": "id"},
              "treatment": {"assignment": "z", "received": "d"}, "outcomes": [{"name": "y", "column": "y"}]}
    with pytest.warns(CpevalWarning, match="weak first stage"):
        evaluate(design, df)


def test_attrition_column_must_be_binary(nsw):
    from cpeval.errors import DataError, ProblemCode

    d = nsw_design(attrition={"observed": "educ"})
    with pytest.raises(DataError, match=r"attrition\.observed must be 0/1") as err:
        evaluate(d, nsw)
    assert ProblemCode.NOT_BINARY in err.value.codes


def test_nsw_design_file_runs_and_flags_known_imbalance():
    res = evaluate(ROOT / "designs" / "nsw_experiment.yaml")
    e = res.effect("earnings_1978")
    assert e.method == "lin" and e.payload(TrialTests).ri_draws == 10000
    bal = next(c for c in res.checks if c.name == "balance")
    # the Dehejia-Wahba sample is known to be unbalanced on 'no degree' (standardised difference about -0.30)
    assert bal.status == "warn" and "nodegree" in bal.message


def test_block_with_one_arm_is_a_clear_error():
    df = pd.DataFrame({"id": range(8), "b": ["a", "a", "a", "a", "k", "k", "k", "k"],
                       "z": [1, 0, 1, 0, 1, 1, 1, 1], "y": np.arange(8.0)})
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
         "treatment": {"assignment": "z", "block": "b"}, "outcomes": [{"name": "y", "column": "y"}]}
    with pytest.raises(EstimationError, match="only one arm \\('k'\\)"):
        evaluate(d, df)


def test_itt_survives_when_the_side_cace_is_impossible():
    rng = np.random.default_rng(0)
    n = 200
    z = np.tile([0, 1], n // 2)
    df = pd.DataFrame({"id": range(n), "z": z, "d": z, "y": rng.normal(size=n)})  # take-up == assignment
    design = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
              "treatment": {"assignment": "z", "received": "d"}, "outcomes": [{"name": "y", "column": "y"}]}
    with pytest.warns(CpevalWarning, match="CACE beside the ITT could not be estimated"):
        e = evaluate(design, df).effect("y")
    assert e.estimand == "itt" and "cace" not in e.diagnostics


def test_family_results_do_not_depend_on_fit_order(nsw):
    from cpeval.data import load_panel
    from cpeval.designs import design_from_dict
    from cpeval.estimation.registry import estimator_for

    outs = [{"name": n, "column": n, "family": "other", "better_if": "increase"} for n in ("re78", "re75", "re74")]
    design = design_from_dict(nsw_design(outcomes=outs, inference={"permutations": 300,
                                                                  "multiple_testing": "romano_wolf"}))
    panel = load_panel(design, nsw)
    a = [estimator_for(design).fit(panel, o) for o in design.outcomes]
    est = estimator_for(design)
    b = [est.fit(panel, o) for o in reversed(design.outcomes)][::-1]
    for x, y in zip(a, b, strict=True):
        assert x.payload(TrialTests).p_value_adjusted == y.payload(TrialTests).p_value_adjusted
        assert x.payload(TrialTests).ri_p_value == y.payload(TrialTests).ri_p_value


def test_cluster_and_block_relabelling_do_not_change_estimates():
    from cpeval.datasets.rct import simulate_rct

    f = simulate_rct(n_clusters=30, cluster_size=6, n_blocks=3, seed=5)
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
         "treatment": {"assignment": "assigned", "cluster": "cluster_id", "block": "block_id"},
         "estimator": {"method": "lin", "covariates": ["x_baseline"]},
         "outcomes": [{"name": "y", "column": "y"}]}
    a = evaluate(d, f).effect("y")
    g = f.assign(cluster_id="beat-" + (f["cluster_id"] * 13 % 31).astype(str),
                 block_id=f["block_id"].map({1: "z", 2: "a", 3: "m"})).sample(frac=1.0, random_state=1)
    b = evaluate(d, g).effect("y")
    assert b.estimate == pytest.approx(a.estimate, rel=1e-10)
    assert b.std_error == pytest.approx(a.std_error, rel=1e-10)
    assert b.df == pytest.approx(a.df, rel=1e-10)


def test_outcomes_may_be_missing_where_lost_to_follow_up():
    from cpeval.datasets.rct import simulate_rct
    from cpeval.errors import DataError

    f = simulate_rct(seed=4, cluster_randomised=False, attrition=0.1)
    d = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
         "treatment": {"assignment": "assigned"}, "attrition": {"observed": "observed"},
         "outcomes": [{"name": "y", "column": "y"}]}
    e = evaluate(d, f).effect("y")  # missing_outcomes: error (the default) is fine: the missing rows were lost
    assert e.n_obs == int(f["observed"].sum())
    g = f.copy()
    g.loc[g.index[g["observed"] == 1][:3], "y"] = np.nan  # missing although followed up: still a data problem
    with pytest.raises(DataError, match="3 of"):
        evaluate(d, g)
