"""Every design and data error the synthetic control adds, with its message."""

from __future__ import annotations

import pytest

from cpeval.designs import design_from_dict
from cpeval.errors import DataError, DesignError, EstimationError, ProblemCode
from cpeval.pipeline import evaluate

from .conftest import design_dict


def _raw(**estimator):
    raw = design_dict("prop99")
    raw["estimator"] = {"method": "abadie", **estimator}
    return raw


def test_v_names_unknown_predictor():
    raw = _raw(predictors=[{"column": "cigsale", "at": 1975}], v={"cigsale(1957)": 1.0})
    with pytest.raises(DesignError, match=r"estimator.v names \['cigsale\(1957\)'\].*cigsale\(1975\)"):
        design_from_dict(raw)


def test_v_without_predictors():
    with pytest.raises(DesignError, match="predictors is empty"):
        design_from_dict(_raw(v={"x": 1.0}))


def test_negative_v():
    raw = _raw(predictors=[{"column": "cigsale", "at": 1975}], v={"cigsale(1975)": -1.0})
    with pytest.raises(DesignError, match="non-negative"):
        design_from_dict(raw)


def test_treated_unit_among_donors():
    with pytest.raises(DesignError, match="both treated"):
        design_from_dict(_raw(donors=["California", "Utah"]))


def test_fit_window_after_start():
    with pytest.raises(DesignError, match=r"fit_window\.to"):
        design_from_dict(_raw(fit_window={"from": 1970, "to": 1990}))


def test_predictor_two_window_forms():
    with pytest.raises(DesignError, match="not several"):
        design_from_dict(_raw(predictors=[{"column": "beer", "at": 1985, "from": 1984, "to": 1988}]))


def test_duplicate_predictor_labels():
    with pytest.raises(DesignError, match="unique"):
        design_from_dict(_raw(predictors=[{"column": "beer", "at": 1985}, {"column": "beer", "at": 1985}]))


def test_unknown_check():
    raw = _raw()
    raw["checks"] = ["placebo_spaces"]
    with pytest.raises(DesignError, match="placebo_space"):
        design_from_dict(raw)


def test_bad_n_jobs():
    raw = _raw()
    raw["checks"] = {"leave_one_out": {"n_jobs": 0}}
    with pytest.raises(DesignError, match=r"checks\.leave_one_out\.n_jobs: n_jobs must be -1 \(every core\) or a "
                       "positive number, got 0"):
        design_from_dict(raw)


def test_unknown_treated_unit_is_a_data_problem():
    raw = _raw()
    raw["treatment"]["units"] = ["Californa"]
    with pytest.raises(DataError) as info:
        evaluate(raw)
    assert ProblemCode.UNKNOWN_TREATED_UNIT in info.value.codes
    assert "California" in str(info.value)


def test_unknown_donor_has_its_own_problem_code():
    raw = _raw(donors=["Nevada", "Nevadda"])
    with pytest.raises(DataError) as info:
        evaluate(raw)
    assert info.value.codes == {ProblemCode.UNKNOWN_DONOR}
    assert "estimator.donors names 'Nevadda', not a unit in the data; did you mean 'Nevada'?" in str(info.value)


def test_predictor_without_data_in_its_window():
    raw = _raw(predictors=[{"column": "beer", "from": 1970, "to": 1975}])
    with pytest.raises(EstimationError, match=r"beer\(1970-1975\).*no observed value"):
        evaluate(raw)


def test_predictor_window_outside_data():
    raw = _raw(predictors=[{"column": "beer", "at": 1950}])
    with pytest.raises(EstimationError, match="selects no period"):
        evaluate(raw)


def test_fit_window_selecting_no_period_names_the_data_range():
    raw = _raw(fit_window={"from": 1960, "to": 1965}, conformal=False)
    with pytest.raises(EstimationError, match=r"estimator\.fit_window selects no period.*from 1970 to 2000"):
        evaluate(raw)


def test_predictor_period_of_the_wrong_type_names_the_predictor():
    raw = _raw(predictors=[{"column": "beer", "at": "abc"}], conformal=False)
    with pytest.raises(EstimationError, match=r"estimator\.predictors \('beer\(abc\)'\): period 'abc' is not a number"):
        evaluate(raw)


def _small(method: str, n_donors: int, **estimator) -> tuple[dict, object]:
    from cpeval.datasets.synth import simulate_synth

    df = simulate_synth(n_donors=n_donors, n_pre=8, n_post=3, seed=1)
    raw = {
        "name": "s", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["t0"], "start": df.attrs["start"]},
        "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": method, "conformal": False, **estimator},
    }
    return raw, df


def test_synthetic_did_with_too_few_donors_for_the_placebo_variance():
    raw, df = _small("synthetic_did", 2, placebo_reps=10)
    with pytest.raises(EstimationError, match=r"at least 3 donors.*but there are 2; add donors to estimator\.donors"):
        evaluate(raw, data=df)


def test_placebo_start_of_the_wrong_type_is_a_check_error_naming_the_key():
    raw, df = _small("abadie", 6)
    raw["checks"] = [{"placebo_time": {"start": "abc"}}]
    check = evaluate(raw, data=df).checks[0]
    assert check.status == "error"
    assert "checks.placebo_time.start: period 'abc' is not a number" in check.message


def test_fit_window_from_after_to():
    with pytest.raises(DesignError, match=r"estimator\.fit_window: window 'from: 1985' is after 'to: 1975'"):
        design_from_dict(_raw(fit_window={"from": 1985, "to": 1975}))


def test_predictor_from_after_to():
    raw = _raw(predictors=[{"column": "beer", "from": 1988, "to": 1984}])
    with pytest.raises(DesignError, match=r"predictors\[0\]: predictor 'beer': 'from: 1988' is after 'to: 1984'; give"):
        design_from_dict(raw)


def test_predictor_from_without_to():
    with pytest.raises(DesignError, match=r"predictors\[0\]: predictor 'beer': 'from' and 'to' go together"):
        design_from_dict(_raw(predictors=[{"column": "beer", "from": 1984}]))


def test_v_summing_to_zero():
    raw = _raw(predictors=[{"column": "beer", "at": 1985}], v={"beer(1985)": 0.0})
    with pytest.raises(DesignError, match=r"estimator\.v: V weights sum to zero"):
        design_from_dict(raw)
