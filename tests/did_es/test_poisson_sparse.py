"""Poisson DiD on hostile counts: all zeros, zeros wherever the treatment is, one non-zero cell, counts of 1e12,
a single cluster. Each either estimates what statsmodels GLM Poisson with unit and period dummies estimates on
the same rows (1e-8), or stops with an EstimationError / DataError naming the outcome, the column and the fix;
never a numpy traceback, never a silent NaN or a runaway coefficient. Separated zero counts are found by the
iterative rectifier of Correia, Guimaraes & Zylkin (2021), as Stata ppmlhdfe finds them (reference values:
tests/reference/did/poisson_separation.json)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from _support import REFERENCE
from cpeval.errors import DataError, EstimationError
from did_es._did_es import design, fit
from did_es.test_poisson import _glm

REF = json.loads((REFERENCE / "did" / "poisson_separation.json").read_text())
FIX = "aggregate to larger areas or longer periods, or estimate a level effect with estimator.method: twfe"


def _panel(seed: int = 3) -> pd.DataFrame:
    """12 units x 5 periods, units 1-4 adopt in period 3; every count positive (zeros are planted by tests)."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(1, 13), 5)
    period = np.tile(np.arange(1, 6), 12)
    g = np.where(unit <= 4, 3, 0)
    d = ((g > 0) & (period >= g)).astype(int)
    pop = rng.integers(500, 3000, size=12)[unit - 1].astype(float)
    mu = pop / 1000 * np.exp(1.0 + rng.normal(0, 0.4, 12)[unit - 1] + 0.1 * period + 0.3 * d)
    y = rng.poisson(mu).astype(float) + 1.0
    return pd.DataFrame({"unit": unit, "period": period, "first_treated": g, "treated": d, "y": y,
                         "population": pop, "cl": (unit - 1) // 2})


def _design(form: str = "twfe", **kw):
    return design("poisson", data={"population": "population"}, measure="count", poisson_form=form, **kw)


def _fit(df: pd.DataFrame, form: str = "twfe", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no overflow or 0/0 on the way
        return fit(df, _design(form, **kw))


def _planted(case: str) -> pd.DataFrame:
    df = _panel()
    treated_unit, post = df["first_treated"] > 0, df["period"] >= 3
    where = {"treated_post_all_zero": treated_unit & post, "treated_pre_all_zero": treated_unit & ~post,
             "comparison_post_all_zero": ~treated_unit & post}[case]
    df.loc[where, "y"] = 0.0
    return df


def test_iterative_rectifier_finds_the_published_separated_observation():
    from cpeval.estimation.did.poisson_separation import separated_rows

    ref = REF["correia_example1"]
    data = np.asarray(ref["rows"], dtype=float)
    sep = separated_rows(data[:, 0], data[:, 1:], [np.zeros(len(data), dtype=np.intp)])  # intercept only
    assert sep is not None
    assert list(np.flatnonzero(sep) + 1) == ref["separated_rows_1_based"]


@pytest.mark.parametrize(("case", "n_sep", "where"), [
    ("treated_post_all_zero", 12, "all 12 treated (post-adoption) rows"),
    ("treated_pre_all_zero", 8, "8 pre-adoption rows of treated units"),
    ("comparison_post_all_zero", 24, "24 rows of comparison units"),
])
@pytest.mark.parametrize("form", ["twfe", "extended"])
def test_separated_zero_counts_stop_with_the_reason_and_the_fix(case, n_sep, where, form):
    """Without the check these gave rate ratios of e^-26 or e^+28 with finite standard errors."""
    df = _planted(case)
    from cpeval.estimation.did.poisson_separation import separated_rows

    codes = [pd.factorize(df[c], sort=True)[0] for c in ("unit", "period")]
    sep = separated_rows(df["y"].to_numpy(), df[["treated"]].to_numpy(dtype=float), codes)
    assert sep is not None and int(sep.sum()) == n_sep
    if form == "extended" and case == "treated_post_all_zero":  # the empty cells are refused before the fit
        with pytest.raises(EstimationError, match=r"3 treated cohort x period cells have only zero counts in "
                                                  r"column 'y'.*poisson_form: twfe"):
            _fit(df, form)
        return
    with pytest.raises(EstimationError) as info:
        _fit(df, form)
    msg = str(info.value)
    assert msg.startswith("outcome 'y': column 'y': the rate ratio is not identified.")
    assert f"{n_sep} zero counts are separated ({where})" in msg
    assert "Stata ppmlhdfe" in msg and FIX in msg


def test_all_zero_outcome_is_a_data_error():
    with pytest.raises(DataError, match="constant_outcome"):
        _fit(_panel().assign(y=0.0))


def test_one_nonzero_cell_is_refused_not_divided_by_zero():
    """Before: ZeroDivisionError from the cluster correction G/(G-1) with one cluster left."""
    df = _panel().assign(y=0.0)
    df.loc[(df["unit"] == 2) & (df["period"] == 4), "y"] = 3.0
    for form in ("twfe", "extended"):
        with pytest.raises(EstimationError, match=r"1 row\(s\) of 1 unit\(s\) and 1 period\(s\) remain") as info:
            _fit(df, form)
        assert FIX in str(info.value)


def test_treated_units_with_only_zero_counts_are_refused():
    """Dropping the treated units' all-zero rows leaves no treated row: before, twfe reported 0.0 (SE NaN)
    and the extended form raised 'math domain error'."""
    df = _panel()
    df.loc[df["first_treated"] > 0, "y"] = 0.0
    with pytest.raises(EstimationError, match="the treatment indicator cannot be told apart"):
        _fit(df, "twfe")
    with pytest.raises(EstimationError, match="every treated unit's counts are all zero"):
        _fit(df, "extended")


def test_an_all_zero_period_is_dropped_and_the_rest_equals_glm():
    df = _panel()
    df.loc[df["period"] == 1, "y"] = 0.0
    effect = _fit(df)
    kept = df[df["period"] != 1]
    res, cov = _glm(kept, ["treated"], "unit")
    assert effect.n_obs == len(kept) == 48
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-8)
    assert effect.std_error == pytest.approx(math.sqrt(cov.loc["treated", "treated"]), abs=1e-8)
    assert any("dropped 12 rows of 0 units and 1 periods whose counts are all zero" in w for w in effect.warnings)


@pytest.mark.parametrize("scale", [1e12, 1e200])
def test_huge_counts_equal_glm_and_are_scale_invariant(scale):
    df = _panel()
    base = _fit(df)
    big = df.assign(y=df["y"] * scale)
    effect = _fit(big)
    assert effect.estimate == pytest.approx(base.estimate, abs=1e-8)  # PPML is invariant to the count scale
    assert effect.std_error == pytest.approx(base.std_error, abs=1e-8)
    if scale == 1e12:
        res, cov = _glm(big, ["treated"], "unit")
        assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-8)
        assert effect.std_error == pytest.approx(math.sqrt(cov.loc["treated", "treated"]), abs=1e-8)


def test_sparse_counts_with_zeros_equal_glm_to_1e8():
    df = _panel(seed=8)
    df["y"] = np.where(df.index % 2 == 0, 0.0, df["y"])  # half the counts zero, in every unit and period
    effect = _fit(df)
    res, cov = _glm(df, ["treated"], "unit")
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-8)
    assert effect.std_error == pytest.approx(math.sqrt(cov.loc["treated", "treated"]), abs=1e-8)
    assert not any("separated" in w for w in effect.warnings)


def test_a_single_cluster_reports_no_standard_error_with_the_reason():
    """Before: ZeroDivisionError in G/(G-1)."""
    df = _panel().assign(one=1)
    effect = _fit(df, cluster="one")
    res, _ = _glm(df, ["treated"], "unit")
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-8)
    assert all(math.isnan(v) for v in (effect.std_error, effect.ci_lower, effect.ci_upper, effect.p_value))
    assert any("cannot estimate its own sampling error: only 1 clusters of 'one'" in w for w in effect.warnings)


def test_poisson_event_study_names_an_event_time_with_only_zero_counts():
    from cpeval.data import validate_panel
    from cpeval.estimation.did.poisson import PoissonDid

    df = _panel()
    df.loc[(df["first_treated"] > 0) & (df["period"] == 4), "y"] = 0.0  # event time 1: every count zero
    d = _design()
    with pytest.raises(EstimationError, match=r"4 zero counts are separated \(4 treated \(post-adoption\) rows\)"
                                              r".*event time 1 cannot be told apart"):
        PoissonDid(d).event_study(validate_panel(df, d), d.outcomes[0])


HOSTILE = {
    "all_zero": lambda df: df.assign(y=0.0),
    "treated_post_zero": lambda df: _planted("treated_post_all_zero"),
    "one_nonzero": lambda df: df.assign(y=np.where((df["unit"] == 5) & (df["period"] == 2), 7.0, 0.0)),
    "huge": lambda df: df.assign(y=df["y"] * 1e12),
    "mostly_zero": lambda df: df.assign(y=np.where(df.index % 7 == 0, df["y"], 0.0)),
    "zero_unit_and_period": lambda df: df.assign(y=np.where((df["unit"] == 1) | (df["period"] == 5), 0.0, df["y"])),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
@pytest.mark.parametrize("form", ["twfe", "extended"])
def test_hostile_counts_estimate_or_say_why(case, form):
    """Every hostile panel either gives a finite estimate (with a finite SE or a stated reason for none) or a
    cpeval error naming the outcome; nothing else escapes."""
    df = HOSTILE[case](_panel())
    try:
        effect = _fit(df, form)
    except (EstimationError, DataError) as exc:
        assert "'y'" in str(exc)
        return
    assert math.isfinite(effect.estimate) and abs(effect.estimate) < 20
    assert math.isfinite(effect.std_error) or any("cannot estimate its own sampling error" in w
                                                  for w in effect.warnings)
