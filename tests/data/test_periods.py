"""Date-valued period columns: mapped to ordered integer periods with a declared or inferred frequency.

The end-to-end tests are invariance tests: the same panel with its periods written as dates (monthly,
quarterly, weekly, yearly) gives exactly the estimates of the panel with whole-number periods 1..T."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from _support import BASE_DID, small_panel
from cpeval.data import validate_panel
from cpeval.data.periods import period_map
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, ProblemCode
from cpeval.pipeline import evaluate


def _dates(text: list[str]) -> pd.Series:
    return pd.Series(pd.to_datetime(text))


@pytest.mark.parametrize(
    ("dates", "frequency", "labels"),
    [
        (["2004-01-01", "2005-01-01", "2006-01-01"], "year", {2004: "2004", 2005: "2005", 2006: "2006"}),
        (["2004-06-30", "2005-06-30"], "year", {2004: "2004", 2005: "2005"}),
        (["2004-01-01", "2004-04-01", "2004-07-01"], "quarter", {8016: "2004Q1", 8017: "2004Q2", 8018: "2004Q3"}),
        (["2004-11-30", "2004-12-31", "2005-01-31"], "month", {24058: "2004-11", 24059: "2004-12", 24060: "2005-01"}),
        (["2004-01-01", "2004-01-08", "2004-01-15"], "week", {104511: "2004-01-01", 104512: "2004-01-08",
                                                             104513: "2004-01-15"}),
    ],
)
def test_inferred_frequency_and_labels(dates, frequency, labels):
    # 8016 = 4 x 2004 + 0, 24058 = 12 x 2004 + 10; 2004-01-01 (a Thursday) is in week 104511 counted from
    # Monday 0001-01-01: 731580 days (date.toordinal() - 1) // 7 = 104511
    mapped = period_map(_dates(dates), None)
    assert not isinstance(mapped, str)
    assert mapped.frequency == frequency and mapped.labels == labels
    periods = mapped.to_periods(_dates(dates))
    assert list(np.diff(periods)) == [1] * (len(dates) - 1)


@pytest.mark.parametrize(
    ("dates", "frequency", "message"),
    [
        (["2004-01-01", "2004-03-01", "2004-04-01"], None, "the dates look monthly but are not evenly spaced: "
         "2004-01-01 to 2004-03-01 is 2 months; if periods are missing from the data, declare data.frequency: month"),
        (["2004-01-01", "2004-01-03"], None, "dates 2004-01-01 and 2004-01-03 are less than a week apart"),
        (["2004-01-01", "2004-01-20"], "month", "dates 2004-01-01 and 2004-01-20 fall in the same month"),
    ],
)
def test_irregular_dates_are_refused(dates, frequency, message):
    assert message in period_map(_dates(dates), frequency)


def test_declared_frequency_accepts_missing_periods():
    mapped = period_map(_dates(["2004-01-01", "2004-03-01", "2004-04-01"]), "month")
    assert not isinstance(mapped, str) and sorted(mapped.labels) == [24048, 24050, 24051]


def _panel(kind: str) -> pd.DataFrame:
    """small_panel with its six years rewritten as six consecutive months, quarters, weeks or years."""
    df = small_panel(n_units=12, n_periods=8, seed=3)
    step = {"month": "MS", "quarter": "QS", "week": "W-MON", "year": "YS"}[kind]
    dates = pd.date_range("2010-01-01", periods=8, freq=step)
    df["year"] = df["year"].map(dict(zip(range(2000, 2008), dates.strftime("%Y-%m-%d"), strict=True)))
    return df


def _design(method: str, checks: list[str], **treatment) -> dict:
    raw = copy.deepcopy(BASE_DID)
    raw["estimator"] = {"method": method}
    raw["checks"] = checks
    if treatment:
        raw["treatment"] = treatment
    return raw


CASES = [
    ("twfe", [], {}),
    ("event_study", ["pre_trends"], {}),
    ("sun_abraham", ["pre_trends"], {}),
    ("callaway_santanna", [], {"first_treated": "g"}),
]


@pytest.mark.parametrize("kind", ["month", "quarter", "week", "year"])
@pytest.mark.parametrize(("method", "checks", "treatment"), CASES, ids=[c[0] for c in CASES])
def test_dates_give_the_same_estimates_as_whole_numbers(kind, method, checks, treatment):
    numbers = small_panel(n_units=12, n_periods=8, seed=3)
    dates = _panel(kind)
    numbers["g"] = np.where(numbers.unit <= 6, 2003, 0)
    first = dict(zip(range(2000, 2008), dates["year"].iloc[:8], strict=True))
    dates["g"] = np.where(dates.unit <= 6, first[2003], "0")
    raw = _design(method, checks, **treatment)
    a = evaluate(design_from_dict(raw), data=numbers, quiet=True)
    b = evaluate(design_from_dict(raw), data=dates, quiet=True)
    ea, eb = a.effects[0], b.effects[0]
    assert eb.estimate == pytest.approx(ea.estimate, rel=1e-10, abs=1e-12)
    assert eb.std_error == pytest.approx(ea.std_error, rel=1e-10, abs=1e-12)
    assert [c.status for c in b.checks] == [c.status for c in a.checks]


def test_first_treated_dates_that_are_not_dates():
    df = _panel("month")
    df["g"] = np.where(df.unit <= 6, "soon", "0")
    raw = _design("callaway_santanna", [], first_treated="g")
    with pytest.raises(DataError) as info:
        validate_panel(df, design_from_dict(raw))
    assert info.value.codes == {ProblemCode.BAD_TIME}
    assert "treatment.first_treated holds dates (as data.time does)" in str(info.value) and "'soon'" in str(info.value)


def test_summary_and_labels_use_the_dates():
    df = _panel("quarter")
    panel = validate_panel(df, design_from_dict(_design("twfe", [])))
    assert (panel.summary["first_period"], panel.summary["last_period"]) == ("2010Q1", "2011Q4")
    assert panel.periods is not None and panel.period_label(panel.frame["year"].max()) == "2011Q4"
