"""Warnings that count treated clusters, the effective number of clusters G*, designs that cannot estimate
their own sampling error, and units treated from the first period."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import cpeval
from cpeval.designs import design_from_dict
from cpeval.errors import DataError
from cpeval.payloads import ClusterCounts

RANDOMISE_ONLY = ("set inference.method: randomization (auto adds no other inference for this estimator, which "
                  "has no wild bootstrap)")
ADVICE = ("set inference.method: auto (the wild bootstrap, or randomisation below 5 treated or untreated "
          "clusters), wild_bootstrap or randomization")


def _design(method: str = "twfe", treatment: dict | None = None, measure: str = "level", **estimator) -> dict:
    return {
        "name": "cluster counts", "kind": "did",
        "data": {"path": "x.csv", "unit": "unit", "time": "period"},
        "treatment": treatment or {"indicator": "post"},
        "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": measure}],
        "estimator": {"method": method, **estimator},
        # these tests read the estimators' own counts and warnings; the alternative inference that 'auto'
        # would add (hundreds of refits) is tested in tests/estimation/test_alternative_inference.py
        "inference": {"method": "analytic"},
    }


def _run(raw: dict, frame: pd.DataFrame):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = cpeval.evaluate(design_from_dict(raw), data=frame)
    return result, [str(w.message) for w in caught]


def null_burglary_panel(n_treated: int, n_areas: int = 40, n_months: int = 36, start: int = 19, seed: int = 0):
    """Issue 20's null setting at small scale: negative binomial burglary counts with area levels,
    seasonality and small area-specific drifts; treatment from month ``start`` in the first ``n_treated``
    areas, no effect."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_areas), n_months)
    period = np.tile(np.arange(1, n_months + 1), n_areas)
    level = rng.normal(3.0, 0.5, n_areas)[unit]
    drift = rng.normal(0.0, 0.005, n_areas)[unit]
    season = 0.2 * np.sin(2 * np.pi * period / 12)
    mu = np.exp(level + season + drift * period)
    size = 5.0
    y = rng.negative_binomial(size, size / (size + mu)).astype(float)
    post = ((unit < n_treated) & (period >= start)).astype(int)
    first = np.where(unit < n_treated, start, 0)
    return pd.DataFrame({"unit": unit, "period": period, "post": post, "first_treated": first, "y": y})


def test_effective_clusters_by_hand_on_a_tiny_design():
    """3 units x 2 periods, unit 0 treated in period 2. Two-way demeaned treatment: unit 0 (-1/3, 1/3),
    units 1 and 2 (1/6, -1/6). With independent errors (rho = 0) each cluster's gamma_g is proportional to
    its sum of squares: 2/9, 1/18, 1/18; G* = (sum gamma)^2 / sum gamma^2 = (1/3)^2 / (1/18) = 2
    (Carter, Schnepel & Steigerwald 2017: G / (1 + Gamma), Gamma the squared coefficient of variation)."""
    df = pd.DataFrame({"unit": [0, 0, 1, 1, 2, 2], "period": [1, 2] * 3, "post": [0, 1, 0, 0, 0, 0],
                       "y": [1.0, 3.0, 2.0, 2.5, 0.5, 1.8]})
    result, caught = _run(_design(), df)
    d = result.effect("y").payload(ClusterCounts)
    assert d.effective == pytest.approx(2.0, abs=1e-12)
    assert (d.total, d.treated, d.untreated) == (3, 1, 2)
    assert any("only one of the 3 clusters of 'unit' is treated" in m and "synthetic control" in m
               and "set inference.method: randomization" in m and "no wild bootstrap is valid" in m for m in caught)


@pytest.mark.parametrize("method", ["twfe", "poisson", "event_study", "sun_abraham", "callaway_santanna"])
def test_three_treated_of_forty_warns(method):
    df = null_burglary_panel(3)
    treatment = {"indicator": "post"} if method in ("twfe", "poisson") else {"first_treated": "first_treated"}
    extra = {"exposure": "none"} if method == "poisson" else {}
    result, caught = _run(_design(method, treatment, measure="count", **extra), df)
    e = result.effect("y")
    assert (e.payload(ClusterCounts).treated, e.payload(ClusterCounts).untreated) == (3, 37)
    note = next(w for w in e.warnings if "only 3 of the 40 clusters of 'unit' are treated" in w)
    # auto adds no inference for Callaway & Sant'Anna (no wild bootstrap): the advice is randomisation alone
    assert (RANDOMISE_ONLY if method == "callaway_santanna" else ADVICE) in note and "MacKinnon & Webb" in note
    assert any("only 3 of the 40 clusters" in m for m in caught)
    assert 1.0 < e.payload(ClusterCounts).effective < 10.0
    assert math.isfinite(e.std_error) and math.isfinite(e.p_value)


def test_twenty_treated_of_forty_does_not_warn():
    e = _run(_design(measure="count"), null_burglary_panel(20))[0].effect("y")
    assert e.payload(ClusterCounts).treated == 20
    assert not any("clusters" in w for w in e.warnings)
    assert e.payload(ClusterCounts).effective > 20


@pytest.mark.parametrize("method", ["twfe", "poisson", "callaway_santanna"])
def test_one_treated_and_one_control_unit_reports_no_p_value(method):
    """Two units: the cluster-robust variance is degenerate (SE ~1e-15 before), so no SE, interval or
    p-value is reported and the warning names what to do instead."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"unit": np.repeat([0, 1], 8), "period": np.tile(np.arange(1, 9), 2)})
    df["post"] = ((df["unit"] == 0) & (df["period"] >= 5)).astype(int)
    df["first_treated"] = np.where(df["unit"] == 0, 5, 0)
    df["y"] = rng.poisson(20, len(df)).astype(float)
    extra = {"exposure": "none"} if method == "poisson" else {}
    treatment = {"first_treated": "first_treated"} if method == "callaway_santanna" else None
    result, _ = _run(_design(method, treatment, measure="count", **extra), df)
    e = result.effect("y")
    assert math.isfinite(e.estimate)
    assert all(math.isnan(v) for v in (e.std_error, e.ci_lower, e.ci_upper, e.p_value))
    note = next(w for w in e.warnings if "cannot estimate its own sampling error" in w)
    assert "randomization" in note and "synthetic control" in note
    assert result.to_json()  # NaN become null, the result still serialises


def test_two_clusters_report_no_p_value():
    df = null_burglary_panel(10, n_areas=20, n_months=8, start=5, seed=3)
    df["half"] = df["unit"] % 2  # 2 clusters, each with treated and untreated areas
    e = _run(_design(cluster="half", measure="count"), df)[0].effect("y")
    assert math.isnan(e.std_error) and math.isnan(e.p_value)
    assert any("only 2 clusters" in w and "cannot estimate its own sampling error" in w for w in e.warnings)


def _always_treated_panel() -> pd.DataFrame:
    df = null_burglary_panel(6, n_areas=16, n_months=6, start=4, seed=2)
    always = df["unit"].isin([14, 15])
    df.loc[always, "post"] = 1
    df.loc[always, "first_treated"] = 1
    return df


def test_units_treated_from_the_first_period_are_kept_by_twfe():
    """fixest and linearmodels keep always-treated units (their indicator is absorbed by the unit effect,
    so they act as comparisons for the period effects); cpeval does the same and says so."""
    from linearmodels.panel import PanelOLS

    df = _always_treated_panel()
    result, _ = _run(_design(measure="count"), df)
    e = result.effect("y")
    d = df.set_index(["unit", "period"])
    direct = PanelOLS(d["y"], d[["post"]], entity_effects=True, time_effects=True).fit()
    assert e.estimate == pytest.approx(float(direct.params["post"]), abs=1e-10)
    assert e.n_units == 16
    assert any("2 units are treated from the first period" in w and "kept" in w for w in result.warnings)


def test_units_treated_from_the_first_period_are_dropped_by_callaway_santanna():
    df = _always_treated_panel()
    raw = _design("callaway_santanna", {"first_treated": "first_treated"}, measure="count")
    result, _ = _run(raw, df)
    assert result.effect("y").n_units == 14
    assert any("dropped 2 units treated from the first period" in w for w in result.warnings)
    without = df[~df["unit"].isin([14, 15])]
    assert result.effect("y").estimate == pytest.approx(_run(raw, without)[0].effect("y").estimate, abs=1e-12)


def test_units_treated_from_the_first_period_still_refused_by_the_event_study():
    raw = _design("event_study", {"first_treated": "first_treated"}, measure="count")
    with pytest.raises(DataError, match="treated from the first period"):
        cpeval.evaluate(design_from_dict(raw), data=_always_treated_panel())


@pytest.mark.parametrize("method", ["twfe", "event_study"])
def test_counts_and_effective_clusters_invariant_to_row_order_and_labels(method):
    df = null_burglary_panel(4, n_areas=20, n_months=10, start=6, seed=4)
    treatment = {"indicator": "post"} if method == "twfe" else {"first_treated": "first_treated"}
    raw = _design(method, treatment, measure="count")
    base = _run(raw, df)[0].effect("y").payload(ClusterCounts)
    other = df.sample(frac=1.0, random_state=3).assign(unit=lambda d: d["unit"].map(lambda u: f"area-{(u * 7) % 23}"))
    moved = _run(raw, other)[0].effect("y").payload(ClusterCounts)
    assert [moved.total, moved.treated, moved.untreated] == [base.total, base.treated, base.untreated] == [20, 4, 16]
    assert moved.effective == pytest.approx(base.effective, rel=1e-10)


@pytest.mark.parametrize("method", ["twfe", "callaway_santanna"])
def test_effective_clusters_of_a_two_by_two_by_hand(method):
    """Two periods, n1 = 3 treated and n0 = 37 untreated units. TWFE: the demeaned treatment is
    +-(1 - p)/2 for treated units and -+p/2 for the others (p = n1/N), so gamma_i is proportional to
    (1 - p)^2 or p^2. Callaway & Sant'Anna: the one ATT(2,2) weighs each treated unit's change by 1/n1 and
    each comparison unit's by -1/n0, so gamma_i = 2/n1^2 or 2/n0^2. Both give
    G* = N^2 n1 n0 / (n1^3 + n0^3) = 1600 * 111 / 50680 = 3.5043."""
    df = null_burglary_panel(3, n_areas=40, n_months=2, start=2, seed=6)
    treatment = {"indicator": "post"} if method == "twfe" else {"first_treated": "first_treated"}
    e = _run(_design(method, treatment, measure="count"), df)[0].effect("y")
    assert e.payload(ClusterCounts).effective == pytest.approx(1600 * 111 / 50680, rel=1e-10)
