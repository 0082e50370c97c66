"""One treated and one control unit: every DiD estimator returns its point estimate (checked by hand) with the
standard error, interval and p-value reported as not estimable (NaN, with the reason in the warnings), as the
trials and the other DiD designs do; the event-time rows, the uniform band, the test of the leads and the
checks built on the event-study covariance say so too, instead of a Wald F of 1e28; and the report renders it.
Reference values: tests/reference/did/one_treated_one_control.json (hand calculation)."""

from __future__ import annotations

import json
import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import cpeval
from _support import REFERENCE
from cpeval.designs import design_from_dict
from cpeval.payloads import EventPath

REF = json.loads((REFERENCE / "did" / "one_treated_one_control.json").read_text())
NO_SE = "cannot estimate its own sampling error"
EVENT_METHODS = ["event_study", "sun_abraham"]


def _frame() -> pd.DataFrame:
    d = REF["data"]
    n = len(d["periods"])
    return pd.DataFrame({
        "unit": np.repeat(["treated", "control"], n), "period": np.tile(d["periods"], 2),
        "first_treated": np.repeat([d["treated_unit_adopts_in"], 0], n),
        "y": np.asarray(d["y_treated"] + d["y_control"], dtype=float),
    })


def _run(method: str, checks: list[str] | None = None, inference: str = "analytic"):
    raw = {"name": "one treated, one control", "kind": "did",
           "data": {"path": "x.csv", "unit": "unit", "time": "period"},
           "treatment": {"first_treated": "first_treated"},
           "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
           "estimator": {"method": method}, "inference": {"method": inference}, "checks": checks or []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cpeval.evaluate(design_from_dict(raw), data=_frame())


def test_the_gaps_of_the_reference_are_what_the_derivation_says():
    d = REF["data"]
    gap = np.subtract(d["y_treated"], d["y_control"])
    assert list(gap) == [2, 3, 2, 3, 9, 10, 9, 12]
    assert {str(k): int(gap[4 + k] - gap[3]) for k in (-4, -3, -2, 0, 1, 2, 3)} == REF["event_study"]


@pytest.mark.parametrize("method", ["event_study", "sun_abraham", "callaway_santanna", "twfe"])
def test_point_estimate_with_no_standard_error(method):
    e = _run(method).effect("y")
    tol = REF["tolerance"]["absolute"]
    assert e.estimate == pytest.approx(REF["headline"][method], abs=tol)
    assert all(math.isnan(v) for v in (e.std_error, e.ci_lower, e.ci_upper, e.p_value))
    note = next(w for w in e.warnings if NO_SE in w)
    assert "only 2 clusters of 'unit'" in note and "randomization" in note
    assert not any("jointly different from zero" in w for w in e.warnings)


@pytest.mark.parametrize("method", EVENT_METHODS)
def test_event_times_band_and_lead_test_are_not_estimable(method):
    e = _run(method).effect("y")
    tol = REF["tolerance"]["absolute"]
    rows = {r["event_time"]: r for r in e.path}
    for k, value in REF["event_study"].items():
        r = rows[int(k)]
        assert r["estimate"] == pytest.approx(value, abs=tol)
        assert all(math.isnan(r[c]) for c in ("std_error", "ci_lower", "ci_upper", "p_value", "band_lower",
                                              "band_upper"))
    ev = e.payload(EventPath)
    assert ev is not None
    assert np.isnan(np.asarray(ev.vcov, dtype=float)).all() and math.isnan(ev.uniform_band_critical_value)
    assert ev.pretrend_test.df == 3 and math.isnan(ev.pretrend_test.p_value)
    assert math.isnan(ev.pretrend_test.statistic)


@pytest.mark.parametrize("method", [*EVENT_METHODS, "callaway_santanna"])
def test_checks_on_the_event_study_say_they_cannot_run(method):
    """Before: pre_trends warned 'Wald F(3, 1) = 2.4e+28, p = 4.75e-15' and honest_did called the effect
    'fragile', both from a covariance that is zero up to rounding."""
    result = _run(method, checks=["pre_trends", "honest_did"])
    by_name = {c.name: c for c in result.checks}
    pre, honest = by_name["pre_trends"], by_name["honest_did"]
    assert pre.status == "info" and "not tested" in pre.message and "3 leads" in pre.message
    assert honest.status == "info" and "not run" in honest.message
    for c in (pre, honest):
        assert "cannot estimate its own sampling error" in c.message


@pytest.mark.parametrize("method", EVENT_METHODS)
def test_report_renders_the_case(method):
    from cpeval.report import render_html, render_markdown

    result = _run(method, checks=["pre_trends", "honest_did"], inference="auto")
    md = render_markdown(result)
    assert "Joint test that the 3 leads are zero: not estimable" in md
    assert "| 0 | 6 | n/a | [n/a, n/a] | [n/a, n/a] | 1 |" in md
    assert not re.search(r"\bnan\b", md, flags=re.IGNORECASE)  # missing values print as n/a
    assert "cannot estimate its own sampling error" in render_html(result)
    assert json.loads(result.to_json())["effects"][0]["std_error"] is None
