"""Callaway & Sant'Anna: bootstrap, clustering, weights, invariance, JSON, and the errors users can provoke."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cpeval.datasets.did import simulate_did
from cpeval.errors import DesignError, EstimationError
from cpeval.payloads import GroupTimeFit
from cpeval.results import jsonable
from did_cs._cs import fit_mpdta, fit_sim, mpdta, overall, rows


def test_bootstrap_is_seeded_and_close_to_analytic():
    a = fit_mpdta(approach="reg", inference={"bootstrap": 999, "seed": 7})
    b = fit_mpdta(approach="reg", inference={"bootstrap": 999, "seed": 7})
    c = fit_mpdta(approach="reg", inference={"bootstrap": 999, "seed": 8})
    assert a.path == b.path
    assert a.std_error != c.std_error
    analytic = fit_mpdta(approach="reg")
    cells_b, cells_a = rows(a, "att_gt"), rows(analytic, "att_gt")
    assert np.allclose(cells_b.std_error, cells_a.std_error, rtol=0.15)
    crit = a.diagnostics["bootstrap"]["uniform_critical_values"]
    assert set(crit) == {"att_gt", "dynamic", "group", "calendar"}
    # a simultaneous band over 12 cells is wider than the pointwise interval
    assert 1.96 < crit["att_gt"] < 4.0
    assert (cells_b.band_upper - cells_b.band_lower > cells_b.ci_upper - cells_b.ci_lower).all()
    assert "bootstrap" in a.variance_type


def test_mammen_weights():
    effect = fit_mpdta(approach="reg", bootstrap_weights="mammen", inference={"bootstrap": 499})
    assert effect.std_error == pytest.approx(overall(fit_mpdta(approach="reg"), "simple").std_error, rel=0.2)


def test_clustering():
    df = mpdta()
    df["self"] = df["countyreal"]
    same = fit_mpdta(df, approach="reg", cluster="self")  # each unit its own cluster: no change
    plain = fit_mpdta(df, approach="reg")
    assert same.std_error == pytest.approx(plain.std_error, rel=1e-12)
    df["state"] = df["countyreal"] // 1000
    clustered = fit_mpdta(df, approach="reg", cluster="state")
    assert clustered.estimate == pytest.approx(plain.estimate, abs=1e-14)
    assert clustered.n_clusters == df["state"].nunique()
    assert clustered.std_error != pytest.approx(plain.std_error, rel=1e-3)
    assert "clustered by 'state'" in clustered.variance_type
    boot = fit_mpdta(df, approach="reg", cluster="state", inference={"bootstrap": 999})
    assert boot.std_error == pytest.approx(clustered.std_error, rel=0.2)


def test_cluster_must_be_constant_within_unit():
    df = mpdta()
    df["bad"] = np.arange(len(df)) % 7
    with pytest.raises(EstimationError, match="varies within units"):
        fit_mpdta(df, cluster="bad")


def test_weights_equal_duplicated_units():
    df = mpdta()
    doubled_ids = df["countyreal"].unique()[::5]
    df["w"] = np.where(df["countyreal"].isin(doubled_ids), 2.0, 1.0)
    copy = df[df["countyreal"].isin(doubled_ids)].assign(countyreal=lambda d: d["countyreal"] + 100_000)
    duplicated = fit_mpdta(__import__("pandas").concat([df, copy]), approach="dr", covariates=["lpop"])
    from did_cs._cs import cs_design, fit

    design = cs_design(
        {"unit": "countyreal", "time": "year", "weights": "w"}, {"first_treated": "first.treat"}, "lemp",
        approach="dr", covariates=["lpop"],
    )
    weighted = fit(df, design)
    assert np.allclose(rows(weighted, "att_gt").estimate, rows(duplicated, "att_gt").estimate, atol=1e-8)
    assert weighted.estimate == pytest.approx(duplicated.estimate, abs=1e-8)


def test_row_order_and_relabelling_invariance():
    base = fit_mpdta(approach="dr", covariates=["lpop"])
    df = mpdta().sample(frac=1.0, random_state=3)
    df["countyreal"] = df["countyreal"].map(lambda u: f"county-{u * 7 % 100003}")
    other = fit_mpdta(df, approach="dr", covariates=["lpop"])
    assert np.allclose(rows(base, "att_gt").estimate, rows(other, "att_gt").estimate, atol=1e-12)
    assert np.allclose(rows(base, "att_gt").std_error, rows(other, "att_gt").std_error, rtol=1e-10)
    assert base.estimate == pytest.approx(other.estimate, abs=1e-12)


def test_covariates_change_the_estimate_and_approaches_differ():
    dr = fit_mpdta(approach="dr", covariates=["lpop"])
    reg = fit_mpdta(approach="reg", covariates=["lpop"])
    ipw = fit_mpdta(approach="ipw", covariates=["lpop"])
    cell = {name: rows(e, "att_gt").estimate[0] for name, e in (("dr", dr), ("reg", reg), ("ipw", ipw))}
    assert cell["dr"] == pytest.approx(-0.0145, abs=5e-5)  # = moderndid (R did port); see test_cs_crosscheck
    assert len({round(v, 8) for v in cell.values()}) == 3
    assert dr.estimate == pytest.approx(-0.0418, abs=5e-5)


def test_effect_is_jsonable_and_complete():
    effect = fit_mpdta(approach="reg", inference={"bootstrap": 99})
    text = json.dumps(jsonable(effect.to_dict()), allow_nan=False)
    assert "att_gt" in text
    d = effect.payload(GroupTimeFit)
    assert d.cohort_sizes == {"2004": 20, "2006": 40, "2007": 131}
    assert d.never_treated_units == 309
    assert d.pretest.df == 5
    assert effect.percent_change is None  # measure 'level' in the test design


def test_not_yet_treated_without_never_treated_units():
    df = mpdta()
    df = df[df["first.treat"] > 0]
    effect = fit_mpdta(df, approach="reg", control_group="not_yet_treated")
    cells = rows(effect, "att_gt")
    assert set(cells.group) == {2004, 2006}  # the last cohort (2007) became the comparison group
    assert cells.time.max() == 2006
    assert any("no never-treated units" in w for w in effect.warnings)


@pytest.mark.parametrize(
    "estimator, match",
    [
        ({"approach": "logit"}, "approach"),
        ({"base_period": "fixed"}, "base_period"),
        ({"aggregation": "event"}, "aggregation"),
        ({"anticipation": -1}, "anticipation"),
        ({"unbalanced": "drop"}, "unbalanced"),
    ],
)
def test_design_key_errors(estimator, match):
    with pytest.raises(DesignError, match=match):
        fit_mpdta(**estimator)


def test_no_complete_unit_error():
    df = mpdta()
    df = df[~((df["year"] == 2003) & (df.index % 2 == 0)) & ~((df["year"] == 2005) & (df.index % 2 == 1))]
    with pytest.raises(EstimationError, match="no unit is observed in every period"):
        fit_mpdta(df)
    assert fit_mpdta(df, unbalanced="keep").payload(GroupTimeFit).layout == "unbalanced panel"


def test_indicator_treatment_and_date_periods():
    """A 0/1 indicator instead of a cohort column, and dates instead of years, give the same ATT(g,t)."""
    from did_cs._cs import cs_design, fit

    df = mpdta()
    df["on"] = ((df["first.treat"] > 0) & (df["year"] >= df["first.treat"])).astype(int)
    df["date"] = pd.to_datetime(df["year"].astype(str) + "-07-01")
    design = cs_design({"unit": "countyreal", "time": "date"}, {"indicator": "on"}, "lemp", approach="reg")
    dated = fit(df, design)
    base = fit_mpdta(df, approach="reg")
    assert np.allclose(rows(dated, "att_gt").estimate, rows(base, "att_gt").estimate, atol=1e-12)
    assert list(rows(dated, "dynamic").event_time) == list(rows(base, "dynamic").event_time)
    assert rows(dated, "att_gt").group.iloc[0] == "2004"  # yearly dates become yearly periods, labelled by year
    assert dated.estimate == pytest.approx(base.estimate, abs=1e-12)


def test_overlap_failure_drops_cells_with_a_warning():
    df = mpdta()
    rng = np.random.default_rng(0)
    noise = df.groupby("countyreal").countyreal.transform(lambda s: rng.normal(0, 0.01))
    df["sep"] = (df["first.treat"] == 2004).astype(float) + noise  # singles out the 2004 cohort
    effect = fit_mpdta(df, approach="dr", covariates=["sep"])
    cells = rows(effect, "att_gt")
    assert cells[cells.group == 2004].estimate.isna().all()
    assert cells[cells.group != 2004].estimate.notna().all()
    assert any("overlap fails" in w and "approach: reg" in w for w in effect.warnings)
    assert 2004 not in set(rows(effect, "group").group)
    assert np.isfinite(effect.estimate)


def test_nothing_estimable_is_an_error():
    df = mpdta()
    df["const"] = 1.0  # collinear with the intercept in every cell
    with pytest.raises(EstimationError, match="no ATT\\(g,t\\) could be estimated"):
        fit_mpdta(df, approach="dr", covariates=["const"])


def test_cohorts_without_a_base_period_are_an_error_naming_the_outcome_and_the_fix():
    df = simulate_did(n_units=60, n_periods=5, cohorts=(2,), seed=1)
    with pytest.raises(EstimationError, match=r"outcome 'y': no treated cohort remains .*cohorts \[2\] have no "
                       r"period before treatment.*lower estimator\.anticipation"):
        fit_sim(df, anticipation=1)
    short = simulate_did(n_units=60, n_periods=3, cohorts=(2, 3), never_share=0.0, seed=1)
    with pytest.raises(EstimationError, match=r"outcome 'y': .*needs at least two periods, 1 remain .*lower "
                       r"estimator\.anticipation"):
        fit_sim(short, anticipation=1, control_group="not_yet_treated")
