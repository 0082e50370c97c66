"""Costs, prices, perspectives, effect conversions and effect persistence."""

from __future__ import annotations

import copy
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from cpeval.cba import cost_benefit, prepare
from cpeval.cba.engine import effect_profile
from cpeval.cba.tables import load_deflator
from cpeval.data import load_panel
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import DesignError

from ._cba_support import ROOT, base_design, make_effect

CASTLE_CBA = ROOT / "designs" / "castle_doctrine_cba.yaml"


@pytest.fixture
def table(tmp_path):
    csv = tmp_path / "uc.csv"
    csv.write_text(
        "category,component,perspectives,amount,currency,price_year\n"
        "burglary,victim,society;victim,1000,GBP,2015\n"
        "burglary,police,society;taxpayer,500,GBP,2015\n"
        "burglary,anticipation,society,250,GBP,2015\n"
    )
    return str(csv)


def _cb(table: str, **kw) -> dict:
    cb = {"currency": "GBP", "price_year": 2020, "horizon_years": 5, "discount": 0.0, "unit_costs": table,
          "outcomes": {"burglary": {"category": "burglary", "units": 1}},
          "costs": [{"item": "x", "amount": 1}], "simulations": 0}
    cb.update(kw)
    return cb


def test_cost_schedule_items(table):
    costs = [
        {"item": "wardens", "amount": 1000, "per": "area", "quantity": 3, "recurring": True, "year": 1,
         "until_year": 3},
        {"item": "launch", "amount": 500, "year": 4},
        {"item": "cameras", "amount": 900, "capital": True, "lifetime_years": 2, "year": 0},
        {"item": "old prices", "amount": 100, "price_year": 2015},
    ]
    inputs = prepare(design_from_dict(base_design(_cb(table, costs=costs))))
    cpi = load_deflator("uk_cpi", "GBP")
    old = 100 * cpi.index[2020] / cpi.index[2015]
    # cameras: bought in years 0, 2, 4; the year-4 purchase serves 1 of 2 years -> half credited in year 4
    expected = [900 + old, 3000, 3000 + 900, 3000, 500 + 900 - 450]
    np.testing.assert_allclose(inputs.costs, expected, rtol=1e-12)
    assert [i["type"] for i in inputs.cost_items] == ["recurring", "one-off", "capital", "one-off"]


def test_no_residual_value_when_switched_off(table):
    costs = [{"item": "cameras", "amount": 900, "capital": True, "lifetime_years": 2, "residual_value": False}]
    inputs = prepare(design_from_dict(base_design(_cb(table, costs=costs))))
    np.testing.assert_allclose(inputs.costs, [900, 0, 900, 0, 900])


@pytest.mark.parametrize(("perspective", "amount"), [("society", 1750), ("taxpayer", 500), ("victim", 1000)])
def test_perspectives_and_repricing(table, perspective, amount):
    inputs = prepare(design_from_dict(base_design(_cb(table, perspective=perspective))))
    cpi = load_deflator("uk_cpi", "GBP")
    assert inputs.outcomes[0].unit_cost == pytest.approx(amount * cpi.index[2020] / cpi.index[2015])
    assert inputs.outcomes[0].unit_cost_table == amount


def test_mccollister_repriced_to_2024():
    inputs = prepare(load_design(CASTLE_CBA), load_panel(load_design(CASTLE_CBA)))
    assert inputs.outcomes[0].unit_cost == pytest.approx(8982907 * 313.689 / 215.303, rel=1e-12)


def test_rate_and_log_conversions(table):
    cb = _cb(table, outcomes={"burglary": {"category": "burglary", "population": 200000}})
    rate = prepare(design_from_dict(base_design(cb, measure="rate"))).outcomes[0]
    assert float(rate.crimes_avoided(-5.0)) == pytest.approx(10.0)  # 5 per 100,000 x 200,000
    cb = _cb(table, outcomes={"burglary": {"category": "burglary", "baseline_per_year": 400}})
    log = prepare(design_from_dict(base_design(cb, measure="log"))).outcomes[0]
    assert float(log.crimes_avoided(np.log(0.9))) == pytest.approx(40.0)  # 10% of 400
    assert log.effect_for(40.0) == pytest.approx(np.log(0.9))
    assert log.effect_for(400.0) is None  # a 100% reduction is not a finite log effect
    cb = _cb(table, periods_per_year=12, outcomes={"burglary": {"category": "burglary", "units": 5}})
    monthly = prepare(design_from_dict(base_design(cb))).outcomes[0]
    assert float(monthly.crimes_avoided(-0.5)) == pytest.approx(30.0)  # 0.5 x 5 units x 12 months


def test_units_and_population_derived_from_panel(table, castle):
    design = design_from_dict(base_design(_cb(table, outcomes={"burglary": "burglary"})))
    panel = load_panel(design)
    inputs = prepare(design, panel)
    assert inputs.outcomes[0].factor == 21  # treated states
    cb = _cb(table, outcomes={"burglary": "burglary"})
    d2 = design_from_dict(base_design(cb, measure="rate"))
    pop = prepare(d2, load_panel(d2)).outcomes[0].factor
    ever = castle.groupby("sid")["post"].transform("max") == 1
    pre = castle[ever & (castle["post"] == 0)]
    assert pop == pytest.approx(pre.groupby("sid")["population"].mean().sum() / 100000)


def test_log_baseline_from_data_and_rates(table, castle):
    ever = castle.groupby("sid")["post"].transform("max") == 1
    pre = castle[ever & (castle["post"] == 0)]
    counts = pre.groupby("sid")["homicide_count"].mean().sum()
    cb = _cb(table, outcomes={"burglary": {"category": "burglary", "baseline_column": "homicide_count"}})
    d = design_from_dict(base_design(cb, measure="log"))
    assert prepare(d, load_panel(d)).outcomes[0].factor == pytest.approx(counts)
    cb = _cb(table, outcomes={"burglary": {"category": "burglary", "baseline_column": "homicide",
                                           "baseline_rate_per": 100000}})
    d = design_from_dict(base_design(cb, measure="log"))
    from_rates = prepare(d, load_panel(d)).outcomes[0].factor
    direct = (pre["homicide"] * pre["population"] / 1e5).groupby(pre["sid"]).mean().sum()
    assert from_rates == pytest.approx(direct)
    assert from_rates == pytest.approx(counts, rel=0.01)  # the shipped count column is rate x population


def test_row_order_and_relabelling_invariance(castle):
    design = load_design(CASTLE_CBA)
    base = prepare(design, load_panel(design, castle)).outcomes[0].factor
    shuffled = castle.sample(frac=1.0, random_state=3).reset_index(drop=True)
    relabelled = castle.assign(sid=castle["sid"] * 7 + 1000)
    for frame in (shuffled, relabelled):
        assert prepare(design, load_panel(design, frame)).outcomes[0].factor == pytest.approx(base, rel=1e-12)


def test_baseline_from_comparison_units_without_pre_period(table, castle):
    # an RCT: treated units have no untreated rows -> baseline = comparison units' mean x treated units
    frame = castle[castle["year"] == 2010].copy()
    frame["assigned"] = (castle.groupby("sid")["post"].max().reindex(frame["sid"]).to_numpy() == 1).astype(int)
    cb = _cb(table, outcomes={"burglary": {"category": "burglary", "baseline_column": "homicide_count"}})
    raw = {"name": "rct", "kind": "rct", "data": {"path": "x.csv", "unit": "sid"},
           "treatment": {"assignment": "assigned"},
           "outcomes": [{"name": "burglary", "column": "burglary", "measure": "log", "take_log": False}],
           "estimator": {"method": "difference_in_means"}, "cost_benefit": cb}
    d = design_from_dict(raw)
    out = prepare(d, load_panel(d, frame)).outcomes[0]
    expected = frame.loc[frame["assigned"] == 0, "homicide_count"].mean() * frame["assigned"].sum()
    assert out.factor == pytest.approx(expected)
    assert "comparison units" in out.factor_note


def test_effect_profile():
    np.testing.assert_allclose(effect_profile(0.5, 6, 2, 1)[0], [0, 0, 1, 0.5, 0.25, 0.125])
    np.testing.assert_allclose(effect_profile(np.array([0.0, 1.0]), 3, 0, 1), [[1, 1, 1], [1, 0, 0]])


def test_monte_carlo_quantiles_match_normal_law(tmp_path, table):
    cb = _cb(table, simulations=100_000, seed=5, horizon_years=1)
    inputs = prepare(design_from_dict(base_design(cb)))
    eff = make_effect(-2.0, 1.0)
    r = cost_benefit(inputs, [eff])
    value = inputs.outcomes[0].unit_cost
    q = r.monte_carlo["npv_quantiles"]
    for p in ("0.05", "0.5", "0.95"):
        analytic = value * NormalDist(2.0, 1.0).inv_cdf(float(p)) - 1.0
        assert q[p] == pytest.approx(analytic, abs=0.02 * value)


def test_ranges_feed_monte_carlo_and_tornado(table):
    unc = {"unit_costs": [0.5, 1.5], "costs": [0.5, 2.0], "discount_rate": [0.0, 0.1], "effect_decay": [0.0, 0.5]}
    cb = _cb(table, simulations=20_000, uncertainty=unc, costs=[{"item": "x", "amount": 5000, "recurring": True}])
    inputs = prepare(design_from_dict(base_design(cb)))
    r = cost_benefit(inputs, [make_effect(-3.0, 1.0)])
    names = [t["parameter"] for t in r.tornado]
    assert any(n.startswith("effect on burglary") for n in names)
    assert {"programme costs", "discount rate", "effect decay per year"} <= set(names)
    swings = [t["swing"] for t in r.tornado]
    assert swings == sorted(swings, reverse=True)
    fixed = cost_benefit(prepare(design_from_dict(base_design(_cb(table, simulations=20_000,
                                                              costs=cb["costs"])))), [make_effect(-3.0, 1.0)])
    wide = r.monte_carlo["npv_quantiles"]
    narrow = fixed.monte_carlo["npv_quantiles"]
    assert wide["0.975"] - wide["0.025"] > narrow["0.975"] - narrow["0.025"]


def test_tornado_values_by_hand(table):
    """Each one-way NPV against its closed form (constant rates take the vectorised path, not the schedule's)."""
    unc = {"unit_costs": [0.5, 1.5], "costs": [0.5, 2.0], "discount_rate": [0.0, 0.1], "effect_decay": [0.0, 0.5]}
    cb = _cb(table, uncertainty=unc, costs=[{"item": "x", "amount": 5000, "recurring": True}])
    inputs = prepare(design_from_dict(base_design(cb)))
    r = cost_benefit(inputs, [make_effect(-3.0, 1.0)])
    uc = inputs.outcomes[0].unit_cost
    benefits, costs = 5 * 3 * uc, 5 * 5000.0  # discount 0, no decay, effect from year 0: 3 crimes a year
    rows = {t["parameter"].split(" (")[0]: t for t in r.tornado}
    assert rows["effect on burglary"]["npv_central"] == pytest.approx(benefits - costs, rel=1e-12)
    assert rows["unit cost of burglary"]["npv_at_low"] == pytest.approx(0.5 * benefits - costs, rel=1e-12)
    assert rows["programme costs"]["npv_at_high"] == pytest.approx(benefits - 2 * costs, rel=1e-12)
    df10 = sum(1.1 ** -t for t in range(5))
    assert rows["discount rate"]["npv_at_low"] == pytest.approx(benefits - costs, rel=1e-12)
    assert rows["discount rate"]["npv_at_high"] == pytest.approx((3 * uc - 5000) * df10, rel=1e-12)
    # observed_years 1: year 0 at full effect, then half lost each year
    assert rows["effect decay per year"]["npv_at_high"] == pytest.approx(
        3 * uc * sum(0.5 ** t for t in range(5)) - costs, rel=1e-12)
    lo, hi = make_effect(-3.0, 1.0).conf_int()
    assert rows["effect on burglary"]["npv_at_low"] == pytest.approx(-lo * 5 * uc - costs, rel=1e-12)
    assert rows["effect on burglary"]["npv_at_high"] == pytest.approx(-hi * 5 * uc - costs, rel=1e-12)


def test_negative_effect_direction_is_reported(table):
    inputs = prepare(design_from_dict(base_design(_cb(table))))
    with pytest.warns(Warning, match="increases crime"):
        r = cost_benefit(inputs, [make_effect(2.0, 0.5)])
    assert r.npv < 0 and r.cost_per_crime_avoided is None
    assert "adds crime" in r.sentence()


def test_json_roundtrip(table):
    import json

    r = cost_benefit(prepare(design_from_dict(base_design(_cb(table, simulations=500)))), [make_effect(-3, 1)])
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    from cpeval.cba.result import CostBenefitResult

    again = CostBenefitResult.from_dict(d)
    assert again.npv == r.npv and again.sentence() == r.sentence()
    assert isinstance(r.tidy(), pd.DataFrame)
    assert copy.deepcopy(d) == d


def test_npv_by_perspective(table):
    r = cost_benefit(prepare(design_from_dict(base_design(_cb(table, perspective="taxpayer")))),
                     [make_effect(-4.0, 1.0)])
    rows = {p["perspective"]: p for p in r.by_perspective}
    assert rows["taxpayer"]["chosen"] and rows["taxpayer"]["npv"] == pytest.approx(r.npv)
    ratio = {p: rows[p]["pv_benefits"] / rows["society"]["pv_benefits"] for p in rows}
    assert ratio["taxpayer"] == pytest.approx(500 / 1750) and ratio["victim"] == pytest.approx(1000 / 1750)


def test_poisson_effect_is_proportional(table, castle):
    cb = _cb(table, outcomes={"burglary": {"category": "burglary"}})
    raw = base_design(cb)
    raw["outcomes"] = [{"name": "burglary", "column": "homicide_count", "measure": "count"}]
    raw["estimator"] = {"method": "poisson", "cluster": "sid"}
    d = design_from_dict(raw)
    out = prepare(d, load_panel(d)).outcomes[0]
    ever = castle.groupby("sid")["post"].transform("max") == 1
    pre = castle[ever & (castle["post"] == 0)]
    assert out.conversion == "log"
    assert out.factor == pytest.approx(pre.groupby("sid")["homicide_count"].mean().sum())
    scaled = copy.deepcopy(raw)
    scaled["cost_benefit"]["outcomes"] = {"burglary": {"category": "burglary", "scale": 10}}
    with pytest.raises(DesignError, match=r"outcomes\.burglary\.scale: the effect is a log rate ratio"):
        prepare(design_from_dict(scaled))  # before anything is fitted
    # and after fitting, an effect that reports a log rate ratio is never valued linearly
    scaled["estimator"] = {"method": "twfe", "cluster": "sid"}
    inputs = prepare(design_from_dict(scaled))
    eff = make_effect(-0.1, 0.05, scale="log")
    with pytest.raises(Exception, match="log rate ratio"):
        cost_benefit(inputs, [eff])


def test_user_deflator_csv(table, tmp_path):
    defl = tmp_path / "gdp.csv"
    defl.write_text("series,year,index\ngdp,2015,80\ngdp,2020,100\n")
    inputs = prepare(design_from_dict(base_design(_cb(table, deflator=str(defl)))))
    assert inputs.deflator.name == "gdp"
    assert inputs.outcomes[0].unit_cost == pytest.approx(1750 * 100 / 80)


def test_npv_linear_in_costs_and_effect(table):
    inputs = prepare(design_from_dict(base_design(_cb(table, costs=[{"item": "x", "amount": 700,
                                                                     "recurring": True}]))))
    from cpeval.cba.engine import appraise

    a = appraise(inputs, np.array([[-2.0], [-4.0]]), cost_mult=np.array([1.0, 2.0]))
    assert a.pv_benefits[1] == pytest.approx(2 * a.pv_benefits[0])
    assert a.pv_costs[1] == pytest.approx(2 * a.pv_costs[0])


def test_user_deflator_csv_without_series_column(table, tmp_path):
    defl = tmp_path / "gdp.csv"
    defl.write_text("year,index\n2015,80\n2020,100\n")
    inputs = prepare(design_from_dict(base_design(_cb(table, deflator=str(defl)))))
    assert inputs.outcomes[0].unit_cost == pytest.approx(1750 * 100 / 80)


def test_run_cost_benefit_is_prepare_then_cost_benefit(table):
    from cpeval.cba import run_cost_benefit

    design = design_from_dict(base_design(_cb(table)))
    effect = make_effect(-3.0, 1.0)
    assert run_cost_benefit(design, None, [effect]).to_dict() == cost_benefit(prepare(design), [effect]).to_dict()


def test_headline_names_what_is_priced(table):
    # an estimated outcome without a valuation is listed as not priced, and the headline says the NPV
    # counts only the priced outcomes (a funder must not read a partial appraisal as the programme's value)
    inputs = prepare(design_from_dict(base_design(_cb(table))))
    with pytest.warns(Warning, match=r"estimated but not priced .*shoplifting \(-46\.7, count\)"):
        r = cost_benefit(inputs, [make_effect(2.0, 0.5), make_effect(-46.7, 7.7, outcome="shoplifting")])
    assert [u["outcome"] for u in r.unpriced] == ["shoplifting"]
    assert r.sentence().startswith("Counting only burglary (shoplifting estimated but not priced): the "
                                   "estimated effect on burglary adds crime: for every £1.00 spent")
    full = cost_benefit(inputs, [make_effect(-3.0, 0.5)])
    assert full.unpriced == () and full.sentence().startswith("For every £1.00 spent, society gains £")
