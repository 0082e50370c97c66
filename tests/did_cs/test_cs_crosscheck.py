"""Callaway & Sant'Anna against moderndid (a port of R did) to 1e-10 across approaches, comparison groups,
base periods, anticipation, repeated cross-sections and unbalanced panels; hand formulas where moderndid
is wrong or fails."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _support import REFERENCE
from cpeval.estimation.did import cs_aggregate as agg
from cpeval.estimation.did.callaway_santanna import group_time_att
from cpeval.estimation.did.cs_data import CsData
from cpeval.payloads import GroupTimeFit
from did_cs._cs import cs_design, fit_mpdta, mpdta, overall, rows

REF = json.loads((REFERENCE / "did" / "mpdta_moderndid_crosscheck.json").read_text())
TOL = REF["tolerance"]


def _data(name: str) -> pd.DataFrame:
    df = mpdta()
    if name == "mpdta_unbalanced":
        df = df.loc[np.random.default_rng(42).random(len(df)) >= 0.1].reset_index(drop=True)
    return df


@pytest.mark.parametrize("case", REF["cases"], ids=[c["name"] for c in REF["cases"]])
def test_against_moderndid(case):
    effect = fit_mpdta(_data(case["data"]), **case["cpeval_estimator"])
    cells = rows(effect, "att_gt").set_index(["group", "time"])
    keys = list(zip(case["cell_group"], case["cell_time"], strict=True))
    ours = np.array([cells.estimate[k] for k in keys])
    assert np.allclose(ours, case["att_gt"], atol=TOL["estimate"], rtol=0)
    if case["se_gt"] is not None:
        se = np.array([cells.std_error[k] for k in keys], dtype=float)
        theirs = np.array(case["se_gt"], dtype=float)
        zero = ~np.isfinite(theirs) | (theirs == 0)  # universal-base reference cells
        assert np.isnan(se[zero]).all()
        assert np.allclose(se[~zero], theirs[~zero], atol=TOL["std_error"], rtol=0)
    for name in ("simple", "dynamic", "group", "calendar"):
        if "overall" not in case[name]:
            continue
        o = overall(effect, name)
        assert o.estimate == pytest.approx(case[name]["overall"], abs=TOL["estimate"])
        assert o.std_error == pytest.approx(case[name]["overall_se"], abs=TOL["std_error"])
        if name != "simple":
            per = rows(effect, name)
            assert np.allclose(per.estimate, case[name]["estimates"], atol=TOL["estimate"])
            assert np.allclose(per.std_error, np.array(case[name]["se"], float), atol=TOL["std_error"], equal_nan=True)


def test_rcs_standard_error_by_hand():
    """Without covariates the RCS ATT is a difference of four means; its IF variance is sum(s_k^2 / n_k)."""
    df = mpdta()
    effect = fit_mpdta(df, approach="reg", panel=False)
    cell = rows(effect, "att_gt").query("group == 2006 and time == 2007").iloc[0]
    parts = {
        "t1": df[(df["first.treat"] == 2006) & (df.year == 2007)].lemp,
        "t0": df[(df["first.treat"] == 2006) & (df.year == 2005)].lemp,
        "c1": df[(df["first.treat"] == 0) & (df.year == 2007)].lemp,
        "c0": df[(df["first.treat"] == 0) & (df.year == 2005)].lemp,
    }
    att = (parts["t1"].mean() - parts["t0"].mean()) - (parts["c1"].mean() - parts["c0"].mean())
    se = np.sqrt(sum(p.var(ddof=0) / len(p) for p in parts.values()))
    assert cell.estimate == pytest.approx(att, abs=1e-12)
    assert cell.std_error == pytest.approx(se, rel=1e-10)


def test_unbalanced_path_reproduces_panel_on_balanced_data():
    """The 'keep' layout (RC estimators, influence functions summed by unit) equals the panel estimator on a
    balanced panel without covariates, standard errors included."""
    df = mpdta()
    design = cs_design({"unit": "countyreal", "time": "year"}, {"first_treated": "first.treat"}, "lemp",
                       approach="reg")
    ids, _ = pd.factorize(df["countyreal"])
    periods = np.sort(df.year.unique()).astype(float)
    g_row = df["first.treat"].to_numpy(float)
    first = np.unique(ids, return_index=True)[1]
    rows_layout = CsData(
        layout="unbalanced panel", periods=periods, period_labels=[int(p) for p in periods], n=ids.max() + 1,
        n_obs=len(df), unit_group=g_row[first], unit_weight=np.ones(ids.max() + 1), cluster=None,
        n_clusters=ids.max() + 1, y=df.lemp.to_numpy(float), tcode=np.searchsorted(periods, df.year),
        ids=ids, row_group=g_row, row_weight=np.ones(len(df)), Xrow=np.zeros((len(df), 0)),
    )
    cells, _, _ = group_time_att(rows_layout, design)
    se = agg.analytic_se(cells.inf, rows_layout.n)
    panel = rows(fit_mpdta(df, approach="reg"), "att_gt")
    assert np.allclose(cells.att, panel.estimate, atol=1e-12)
    assert np.allclose(se, panel.std_error, rtol=1e-10)


WINDOW = json.loads((REFERENCE / "did" / "mpdta_moderndid_event_window.json").read_text())


@pytest.mark.parametrize("case", WINDOW["cases"], ids=[c["name"] for c in WINDOW["cases"]])
def test_dynamic_event_window_against_moderndid(case):
    """min_e / max_e keep only the event times in the window, and the overall dynamic effect averages the kept
    event times >= 0 (R did's aggte(type = "dynamic", min_e, max_e))."""
    effect = fit_mpdta(aggregation="dynamic", **case["cpeval_estimator"])
    per = rows(effect, "dynamic")
    assert list(per.event_time) == case["labels"]
    assert np.allclose(per.estimate, case["estimates"], atol=WINDOW["tolerance"]["estimate"], rtol=0)
    assert np.allclose(per.std_error, case["se"], atol=WINDOW["tolerance"]["std_error"], rtol=0)
    assert effect.estimate == pytest.approx(case["overall"], abs=WINDOW["tolerance"]["estimate"])
    assert effect.std_error == pytest.approx(case["overall_se"], abs=WINDOW["tolerance"]["std_error"])
    assert effect.payload(GroupTimeFit).event_window == (case["min_e"], case["max_e"])


def test_event_window_errors():
    from cpeval.errors import DesignError

    with pytest.raises(DesignError, match=r"min_e \(3\) is above estimator.max_e \(1\)"):
        fit_mpdta(min_e=3, max_e=1)
    with pytest.raises(DesignError, match="max_e must be at least 0"):
        fit_mpdta(aggregation="dynamic", max_e=-1)


def test_event_window_misuse_is_explained():
    from cpeval.errors import DesignError, EstimationError

    with pytest.raises(DesignError, match=r"estimator\.min_e: 'min_e' does not apply to method 'event_study'; it "
                       r"applies to callaway_santanna \(here the event-time window is set with estimator\.leads and "
                       r"estimator\.lags\)"):
        cs_design({"unit": "u", "time": "t"}, {"first_treated": "g"}, "y", method="event_study", min_e=-2)
    with pytest.raises(DesignError, match=r"min_e \(2\) is above estimator.balance_e \(1\)"):
        fit_mpdta(min_e=2, balance_e=1)
    with pytest.raises(EstimationError, match=r"keeps no event time >= 0 .*event times \[-3, -2, -1, 0, 1, 2, 3\]"):
        fit_mpdta(aggregation="dynamic", min_e=10)
