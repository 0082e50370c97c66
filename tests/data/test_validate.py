"""Data validation: each problem code provoked, messages name the column and the fix, all problems at once."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from _support import BASE_DID, small_panel
from cpeval.data import COHORT, TREATED, validate_panel
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, ProblemCode


def _design(**changes):
    raw = copy.deepcopy(BASE_DID)
    for path, value in changes.items():
        node = raw
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return design_from_dict(raw)


def _problems(df, design) -> DataError:
    with pytest.raises(DataError) as info:
        validate_panel(df, design, source="panel.csv")
    return info.value


def test_valid_panel_is_a_copy_with_decoded_treatment():
    df = small_panel()
    panel = validate_panel(df, _design())
    assert TREATED not in df.columns  # caller's frame untouched
    assert panel.frame[TREATED].sum() == df["post"].sum()
    cohorts = panel.frame.groupby("unit")[COHORT].first()
    assert cohorts.loc[1] == 2003 and np.isnan(cohorts.loc[8])


def test_missing_column_with_did_you_mean():
    df = small_panel().rename(columns={"y": "yy"})
    err = _problems(df, _design())
    assert err.codes == {ProblemCode.MISSING_COLUMN}
    assert "column 'y': named by outcomes[0].column but not in the data; did you mean 'yy'?" in str(err)
    assert str(err).startswith("panel.csv: 1 data problem found")


def test_non_numeric_outcome():
    df = small_panel().astype({"y": object})
    df.loc[0, "y"] = "n/a"
    err = _problems(df, _design())
    assert ProblemCode.NON_NUMERIC in err.codes and "'n/a'" in str(err)


def test_duplicate_rows():
    df = small_panel()
    df = pd.concat([df, df.iloc[[0]]], ignore_index=True)
    err = _problems(df, _design())
    assert ProblemCode.DUPLICATE_ROWS in err.codes and "(1, 2000)" in str(err)


def test_missing_values_in_treatment_unit_time_and_outcome_all_reported():
    df = small_panel().astype({"post": float})
    df.loc[0, "post"] = np.nan
    df.loc[1, "y"] = np.nan
    df.loc[2, "year"] = np.nan
    err = _problems(df, _design())
    cols = {p.column for p in err.problems if p.code == ProblemCode.MISSING_VALUES}
    assert {"post", "y", "year"} <= cols
    assert "data.missing_outcomes: drop" in str(err)


def test_missing_outcomes_can_be_dropped_explicitly():
    df = small_panel()
    df.loc[1, "y"] = np.nan
    panel = validate_panel(df, _design(data__missing_outcomes="drop"))
    assert len(panel.outcome_rows("y")) == len(df) - 1
    assert "1 rows with a missing 'y' were dropped" in panel.warnings[0]


def test_treatment_not_binary():
    df = small_panel()
    df.loc[0, "post"] = 2
    assert ProblemCode.NOT_BINARY in _problems(df, _design()).codes


def test_proportion_outside_zero_one_is_out_of_range_not_binary():
    df = small_panel().assign(share=0.5)
    df.loc[3, "share"] = 1.2
    design = _design(outcomes=[{"name": "share", "column": "share", "measure": "proportion", "family": "fear"}])
    err = _problems(df, design)
    assert err.codes == {ProblemCode.OUT_OF_RANGE}
    assert "column 'share': outcome 'share' is a proportion but has values outside [0, 1]" in str(err)


def test_treatment_switching_off_is_an_error_for_cohort_methods():
    df = small_panel()
    df.loc[(df.unit == 1) & (df.year == 2005), "post"] = 0
    # TWFE with an indicator tolerates on/off treatment ...
    validate_panel(df, _design())
    # ... but a cohort column implies absorbing treatment; a varying cohort is its own error
    df["g"] = np.where(df.unit <= 4, 2003, 0)
    df.loc[0, "g"] = 2004
    err = _problems(df, _design(treatment={"first_treated": "g"}))
    assert ProblemCode.COHORT_NOT_CONSTANT in err.codes


@pytest.mark.parametrize(
    ("changes", "needs"),
    [
        ({"estimator": {"method": "event_study"}}, "method 'event_study' need"),
        ({"checks": ["pre_trends"]}, "check 'pre_trends' need"),
        ({"estimator": {"method": "sun_abraham"}, "checks": ["honest_did"]},
         "method 'sun_abraham' and check 'honest_did' need"),
    ],
)
def test_not_absorbing_is_one_rule_naming_what_needs_it(changes, needs):
    df = small_panel()
    df.loc[(df.unit == 1) & (df.year == 2005), "post"] = 0
    err = _problems(df, _design(**changes))
    assert err.codes == {ProblemCode.NOT_ABSORBING}
    text = str(err)
    assert "treatment switches off after it started in 1 units (e.g. 1); " + needs in text
    assert "use method: twfe without checks" in text and "treatment.first_treated" in text


def test_switching_treatment_is_allowed_in_twfe_without_checks():
    df = small_panel()
    df.loc[(df.unit == 1) & (df.year == 2005), "post"] = 0
    panel = validate_panel(df, _design())
    assert any("switches off after it started in 1 units" in w for w in panel.warnings)


def test_no_treated_units():
    df = small_panel().assign(post=0)
    assert ProblemCode.NO_TREATED_UNITS in _problems(df, _design()).codes


def test_no_comparison_units():
    df = small_panel()
    df["post"] = (df.year >= 2003).astype(int)
    err = _problems(df, _design())
    assert ProblemCode.NO_COMPARISON_UNITS in err.codes and "no comparison group" in str(err)


def test_too_few_pre_periods():
    """Units treated from the first period: refused by the event study (twfe keeps them and
    callaway_santanna drops them: tests/estimation/did/test_cluster_counts.py)."""
    df = small_panel()
    df.loc[df.unit == 1, "post"] = 1
    err = _problems(df, _design(estimator__method="event_study"))
    assert ProblemCode.TOO_FEW_PRE_PERIODS in err.codes and "treated from the first period 2000" in str(err)


def test_bad_time():
    df = small_panel().astype({"year": float})
    df.loc[0, "year"] = 2000.5
    assert ProblemCode.BAD_TIME in _problems(df, _design()).codes


def test_dates_as_text_become_integer_periods():
    df = small_panel()
    df["year"] = df["year"].astype(str) + "-01-01"
    panel = validate_panel(df, _design())
    assert panel.frame["year"].dtype == np.int64 and sorted(panel.frame["year"].unique()) == list(range(2000, 2006))
    assert panel.periods is not None and panel.periods.frequency == "year"
    assert panel.summary["first_period"] == "2000" and panel.period_label(2003) == "2003"


def test_period_values_that_fail_are_named():
    df = small_panel().astype({"year": object})
    df.loc[df.year == 2004, "year"] = "thirteen"
    err = _problems(df, _design())
    assert err.codes == {ProblemCode.BAD_TIME}
    assert "most values here are whole numbers, but 1 distinct values are not: 'thirteen'" in str(err)


@pytest.mark.parametrize("column", ["y", "w", "x"])
def test_infinite_values_are_caught_naming_the_column_and_rows(column):
    df = small_panel().assign(x=lambda d: d.year * d.unit % 7 * 1.0)
    df.loc[[0, 5], column] = [np.inf, -np.inf]
    err = _problems(df, _design(data__weights="w", estimator={"method": "twfe", "covariates": ["x"]}))
    assert err.codes == {ProblemCode.NON_FINITE}
    problem = err.problems[0]
    assert problem.column == column and problem.message.startswith(f"2 of {len(df)} rows of ")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d.unit * 2.0, "'x' does not vary within units, so it is absorbed by the unit effects (unit)"),
        (lambda d: d.year * 1.0, "'x' does not vary within periods, so it is absorbed by the period effects (year)"),
        (lambda d: d.unit * 0 + 3.0, "'x' takes a single value, so it is absorbed by the unit effects (unit) and "
                                     "the period effects (year)"),
    ],
)
@pytest.mark.parametrize("method", ["twfe", "event_study"])
def test_covariate_absorbed_by_fixed_effects(make, expected, method):
    df = small_panel().assign(x=make)
    err = _problems(df, _design(estimator={"method": method, "covariates": ["x"]}))
    assert err.codes == {ProblemCode.ABSORBED_COVARIATE}
    assert expected in str(err) and "remove it from estimator.covariates" in str(err)


def test_time_constant_covariate_is_fine_for_callaway_santanna():
    df = small_panel().assign(x=lambda d: d.unit * 2.0, g=lambda d: np.where(d.unit <= 4, 2003, 0))
    panel = validate_panel(df, _design(treatment={"first_treated": "g"},
                                       estimator={"method": "callaway_santanna", "covariates": ["x"]}))
    assert "x" in panel.frame


def test_non_positive_weights_and_negative_counts():
    df = small_panel()
    df.loc[0, "w"] = 0
    df.loc[1, "y"] = -1
    design = _design(data__weights="w", outcomes=[{"name": "y", "column": "y", "measure": "count"}])
    err = _problems(df, design)
    assert {ProblemCode.NON_POSITIVE, ProblemCode.NEGATIVE_VALUES} <= err.codes


def test_constant_outcome():
    assert ProblemCode.CONSTANT_OUTCOME in _problems(small_panel().assign(y=1.0), _design()).codes


def test_every_problem_collected_at_once():
    df = small_panel().astype({"y": object})
    df.loc[0, "y"] = "x"
    df.loc[0, "post"] = 5
    df = pd.concat([df, df.iloc[[3]]], ignore_index=True)
    err = _problems(df, _design())
    assert len(err.problems) >= 3
    assert {ProblemCode.NON_NUMERIC, ProblemCode.NOT_BINARY, ProblemCode.DUPLICATE_ROWS} <= err.codes


SYNTH = {
    "name": "s", "kind": "synthetic_control",
    "data": {"path": "x.csv", "unit": "state", "time": "year"},
    "treatment": {"units": ["California"], "start": 1989},
    "outcomes": [{"name": "cig", "column": "cigsale", "measure": "level"}],
}


def _synth_design(**estimator):
    from cpeval.designs.synth import SynthDesign

    raw = {**copy.deepcopy(SYNTH), "kind": "synthetic_control"}
    if estimator:
        raw["estimator"] = estimator
    # method availability is checked by the loader; validate the data rules with model_construct-free path
    return SynthDesign.model_validate(raw)


def _synth_panel() -> pd.DataFrame:
    states = ["California", "Nevada", "Utah"]
    years = range(1985, 1993)
    return pd.DataFrame([(s, y, 100.0 + i + y % 7) for i, s in enumerate(states) for y in years],
                        columns=["state", "year", "cigsale"])


def test_synth_unknown_treated_unit_and_unbalanced():
    from cpeval.data.validate import _Collector, _synth

    df = _synth_panel()
    df = df[~((df.state == "Utah") & (df.year == 1990))]
    raw = copy.deepcopy(SYNTH)
    raw["treatment"]["units"] = ["Californa"]
    design = design_from_dict(raw)
    c = _Collector()
    _synth(df.copy(), design, c)
    codes = {p.code for p in c.problems}
    assert {ProblemCode.UNKNOWN_TREATED_UNIT, ProblemCode.UNBALANCED_PANEL} <= codes
    assert "did you mean 'California'?" in " ".join(p.message for p in c.problems)


def test_synth_too_few_pre_periods():
    from cpeval.data.validate import _Collector, _synth

    raw = copy.deepcopy(SYNTH)
    raw["treatment"]["start"] = 1986
    c = _Collector()
    _synth(_synth_panel(), design_from_dict(raw), c)
    assert ProblemCode.TOO_FEW_PRE_PERIODS in {p.code for p in c.problems}


def test_rct_arms_and_cluster_consistency():
    from cpeval.data.validate import _Collector, _rct
    from cpeval.designs.base import DataSpec
    from cpeval.designs.rct import RctTreatment

    class _D:  # only the data, treatment and attrition blocks are read
        data = DataSpec(path="t.csv", unit="person")
        treatment = RctTreatment(assignment="z", cluster="segment")
        attrition = None

    df = pd.DataFrame({"person": [1, 2, 3, 4], "z": [1, 0, 1, 1], "segment": [1, 1, 2, 2], "y": [1.0, 2.0, 3.0, 4.0]})
    c = _Collector()
    _rct(df, _D(), c)
    [split] = [p for p in c.problems if p.code is ProblemCode.ASSIGNMENT_VARIES_IN_CLUSTER]
    assert split.column == "z"
    assert "assignment varies within 1 clusters of treatment.cluster 'segment'" in split.message
    assert ProblemCode.NOT_BINARY not in {p.code for p in c.problems}
    c = _Collector()
    _rct(df.assign(z=1), _D(), c)
    assert ProblemCode.NO_COMPARISON_UNITS in {p.code for p in c.problems}

    # one row per unit when there is no period column
    c = _Collector()
    _rct(df.assign(person=[1, 1, 3, 4], segment=[1, 2, 3, 4]), _D(), c)
    dup = [p for p in c.problems if p.code == ProblemCode.DUPLICATE_ROWS]
    assert dup and "2 rows share a unit id, e.g. 1" in dup[0].message and dup[0].column == "person"


def test_synth_start_of_the_wrong_type_and_donor_typos():
    from cpeval.data.validate import _Collector, _synth

    raw = copy.deepcopy(SYNTH)
    raw["treatment"]["start"] = "abc"
    c = _Collector()
    _synth(_synth_panel(), design_from_dict(raw), c)
    assert [p.code for p in c.problems] == [ProblemCode.BAD_TIME]
    assert "treatment.start 'abc' is not a period of 'year' (periods are numbers, e.g. 1985)" in c.problems[0].message
    design = design_from_dict(copy.deepcopy(SYNTH))
    design = design.model_copy(update={"estimator": design.estimator.model_copy(update={"donors": ["Nevda"]})})
    c = _Collector()
    _synth(_synth_panel(), design, c)
    messages = " ".join(p.message for p in c.problems)
    assert "estimator.donors names 'Nevda', not a unit in the data; did you mean 'Nevada'?" in messages
    assert "the donor pool is empty; list untreated units in estimator.donors" in messages


def test_pre_trends_states_the_same_rule_when_handed_a_switching_panel():
    """Validation refuses checks on switching treatment; a panel built past it gets the same statement."""
    from cpeval.checks.did_pre_trends import pre_trends
    from cpeval.errors import EstimationError
    from cpeval.estimation.did.twfe import TwoWayFixedEffects

    df = small_panel()
    df.loc[(df.unit == 1) & (df.year == 2005), "post"] = 0
    design = _design()
    panel = validate_panel(df, design)
    effect = TwoWayFixedEffects(design).fit(panel, design.outcomes[0])
    with pytest.raises(EstimationError, match=r"switches off after it started in 1 units \(e\.g\. 1\); the event "
                                              r"study this check fits need"):
        pre_trends(panel, [effect])
