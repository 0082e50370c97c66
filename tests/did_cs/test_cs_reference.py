"""Callaway & Sant'Anna on mpdta against R did's printed output, and hand computations of single cells."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _support import REFERENCE
from cpeval.payloads import GroupTimeFit
from did_cs._cs import fit_mpdta, mpdta, overall, rows

REF = json.loads((REFERENCE / "did" / "mpdta_reg_never_treated.json").read_text())
TOL = REF["tolerance"]


@pytest.fixture(scope="module")
def reg():
    return fit_mpdta(approach="reg")


@pytest.mark.parametrize("approach", ["reg", "dr", "ipw"])
def test_att_gt_match_r_readme(approach):
    effect = fit_mpdta(approach=approach)  # without covariates all three are the same 2x2 DiD
    cells = rows(effect, "att_gt")
    for g, t, est, boot_se in REF["att_gt"]:
        row = cells[(cells.group == g) & (cells.time == t)].iloc[0]
        assert row.estimate == pytest.approx(est, abs=TOL["estimate"]), (g, t)
        assert row.std_error == pytest.approx(boot_se, rel=TOL["std_error_relative"]), (g, t)


def test_dynamic_and_group_match_r_readme(reg):
    dyn = rows(reg, "dynamic")
    assert list(dyn.event_time) == [r[0] for r in REF["dynamic"]]
    for (_, est, se), (_, row) in zip(REF["dynamic"], dyn.iterrows(), strict=True):
        assert row.estimate == pytest.approx(est, abs=TOL["estimate"])
        assert row.std_error == pytest.approx(se, rel=TOL["std_error_relative"])
    grp = rows(reg, "group")
    for (g, est, se), (_, row) in zip(REF["group"], grp.iterrows(), strict=True):
        assert row.group == g
        assert row.estimate == pytest.approx(est, abs=TOL["estimate"])
        assert row.std_error == pytest.approx(se, rel=TOL["std_error_relative"])
    for name, (est, se) in (("dynamic", REF["dynamic_overall"]), ("group", REF["group_overall"])):
        agg = overall(reg, name)
        assert agg.estimate == pytest.approx(est, abs=TOL["estimate"])
        assert agg.std_error == pytest.approx(se, rel=TOL["std_error_relative"])


def test_pretest_matches_r_readme(reg):
    pre = reg.payload(GroupTimeFit).pretest
    assert pre.df == 5
    assert pre.p_value == pytest.approx(REF["pretest_p_value"], abs=TOL["pretest_p_value"])


def test_headline_is_the_chosen_aggregation(reg):
    assert reg.estimate == pytest.approx(overall(reg, "simple").estimate)
    dyn = fit_mpdta(approach="reg", aggregation="dynamic")
    assert dyn.estimate == pytest.approx(-0.0772, abs=5e-5)
    assert dyn.std_error == pytest.approx(overall(dyn, "dynamic").std_error)
    assert dyn.ci_lower < dyn.estimate < dyn.ci_upper
    kinds = set(dyn.path_table().kind)
    assert kinds == {"att_gt", "dynamic", "group", "calendar", "overall"}


def _one_cell(df, g, t, base, control):
    wide = df.pivot(index="countyreal", columns="year", values="lemp")
    cohort = df.groupby("countyreal")["first.treat"].first()
    dy = wide[t] - wide[base]
    treated, comp = dy[cohort == g], dy[control(cohort)]
    att = treated.mean() - comp.mean()
    n, n1, n0 = len(wide), len(treated), len(comp)
    # influence function of a difference of two means, scaled to the whole sample as R did does
    psi = np.zeros(n)
    idx_t = np.flatnonzero((cohort == g).to_numpy())
    idx_c = np.flatnonzero(control(cohort).to_numpy())
    m = n1 + n0
    psi[idx_t] = (treated - treated.mean()).to_numpy() * m / n1
    psi[idx_c] = -(comp - comp.mean()).to_numpy() * m / n0
    psi *= n / m
    return att, np.sqrt(np.mean(psi**2) / n)


def test_cell_by_hand_never_treated(reg):
    att, se = _one_cell(mpdta(), 2006, 2007, 2005, lambda c: c == 0)
    row = rows(reg, "att_gt").query("group == 2006 and time == 2007").iloc[0]
    assert row.estimate == pytest.approx(att, abs=1e-12)
    assert row.std_error == pytest.approx(se, rel=1e-10)


def test_cell_by_hand_not_yet_treated():
    effect = fit_mpdta(approach="reg", control_group="not_yet_treated")
    att, se = _one_cell(mpdta(), 2004, 2005, 2003, lambda c: (c == 0) | (c > 2005))
    row = rows(effect, "att_gt").query("group == 2004 and time == 2005").iloc[0]
    assert row.estimate == pytest.approx(att, abs=1e-12)
    assert row.std_error == pytest.approx(se, rel=1e-10)
    assert row.n_control > rows(fit_mpdta(approach="reg"), "att_gt").iloc[1].n_control


def test_anticipation_moves_the_base_period():
    effect = fit_mpdta(approach="reg", anticipation=1)
    att, _ = _one_cell(mpdta(), 2006, 2006, 2004, lambda c: c == 0)
    row = rows(effect, "att_gt").query("group == 2006 and time == 2006").iloc[0]
    assert row.base_period == 2004
    assert row.estimate == pytest.approx(att, abs=1e-12)
    # the 2004 cohort has no period before 2004 - 1 and is dropped, with a warning
    assert 2004 not in set(rows(effect, "att_gt").group)
    assert any("2004" in w and "dropped" in w for w in effect.warnings)


def test_universal_base_period():
    varying = rows(fit_mpdta(approach="reg"), "att_gt")
    universal = rows(fit_mpdta(approach="reg", base_period="universal"), "att_gt")
    post_v = varying[varying.post].set_index(["group", "time"]).estimate
    post_u = universal[universal.post].set_index(["group", "time"]).estimate
    assert np.allclose(post_u.sort_index(), post_v.sort_index(), atol=1e-12)
    ref = universal[universal.reference]
    assert set(zip(ref.group, ref.time, strict=True)) == {(2004, 2003), (2006, 2005), (2007, 2006)}
    assert (ref.estimate == 0).all() and ref.std_error.isna().all()
    # a long difference is minus the sum of the short (varying) differences in between
    v = varying.set_index(["group", "time"]).estimate
    u = universal.set_index(["group", "time"]).estimate
    assert u[(2007, 2004)] == pytest.approx(-(v[(2007, 2005)] + v[(2007, 2006)]), abs=1e-12)


def test_balance_e():
    effect = fit_mpdta(approach="reg", balance_e=1)
    dyn = rows(effect, "dynamic")
    assert list(dyn.event_time) == [-2, -1, 0, 1]
    # event time 1 now comes only from the 2004 and 2006 cohorts, weighted by their sizes
    cells = rows(effect, "att_gt").set_index(["group", "time"]).estimate
    sizes = mpdta().groupby("countyreal")["first.treat"].first().value_counts()
    expected = (cells[(2004, 2005)] * sizes[2004] + cells[(2006, 2007)] * sizes[2006]) / (sizes[2004] + sizes[2006])
    assert dyn.set_index("event_time").estimate[1] == pytest.approx(expected, abs=1e-12)
