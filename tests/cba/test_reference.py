"""Reference values: the hand-worked Green Book case, the shipped McCollister figures, and the Monte Carlo
probability against its analytic value."""

from __future__ import annotations

import dataclasses
import time
from statistics import NormalDist

import numpy as np
import pytest

from cpeval.cba import cost_benefit, prepare
from cpeval.cba.discount import GREEN_BOOK, discount_factors
from cpeval.cba.tables import load_unit_costs
from cpeval.designs import design_from_dict
from cpeval.results import Sampling

from ._cba_support import base_design, make_effect, reference


def test_green_book_hand_example_to_the_penny(hand_case):
    raw, ref = hand_case
    design = design_from_dict(raw)
    e = ref["effect"]
    result = cost_benefit(prepare(design), [make_effect(e["estimate"], e["std_error"])])
    exp = ref["expected"]
    for key in ("pv_costs", "pv_benefits", "npv"):
        assert getattr(result, key) == pytest.approx(exp[key], abs=0.005), key
    assert result.bcr == pytest.approx(exp["bcr"], rel=1e-12)
    assert result.roi == pytest.approx(exp["bcr"] - 1, rel=1e-12)
    assert result.crimes_avoided == pytest.approx(exp["crimes_avoided"], rel=1e-12)
    assert result.cost_per_crime_avoided == pytest.approx(exp["cost_per_crime_avoided"], rel=1e-12)
    assert result.break_even[0]["break_even_effect"] == pytest.approx(exp["break_even_effect"], rel=1e-12)
    sched = result.schedule
    assert sched[39]["discount_factor"] == pytest.approx(exp["discount_factor_39"], rel=1e-13)
    assert sched[31]["discount_factor"] == pytest.approx(exp["discount_factor_31"], rel=1e-13)
    assert sum(r["pv_costs"] for r in sched) == pytest.approx(exp["pv_costs"], abs=0.005)
    assert sched[39]["costs"] == pytest.approx(100000 - 50000 / 3)  # recurring cost less the residual value


def test_break_even_effect_gives_zero_npv(hand_case):
    raw, _ = hand_case
    inputs = prepare(design_from_dict(raw))
    be = cost_benefit(inputs, [make_effect(-12.0, 4.0)]).break_even[0]["break_even_effect"]
    at_be = cost_benefit(inputs, [make_effect(be, 4.0)])
    assert at_be.npv == pytest.approx(0.0, abs=1e-6)


def test_green_book_schedule_rates():
    df = discount_factors(GREEN_BOOK, 130)
    assert df[0] == 1.0
    assert df[30] == pytest.approx(1.035 ** -30, rel=1e-14)
    assert df[75] == pytest.approx(1.035 ** -30 * 1.03 ** -45, rel=1e-13)
    assert df[100] == pytest.approx(1.035 ** -30 * 1.03 ** -45 * 1.025 ** -25, rel=1e-13)
    assert df[129] == pytest.approx(df[125] * 1.02 ** -4, rel=1e-13)


def test_home_office_figures_match_the_quoted_table():
    ref = reference("home_office_2018_quoted.json")
    table = load_unit_costs("home_office_2018")
    assert set(table.categories) == set(ref["society_total_2015_16_prices_gbp"])
    for cat, total in ref["society_total_2015_16_prices_gbp"].items():
        assert table.unit_cost(cat, "society") == (total, "GBP", 2015), cat  # 2015/16 prices: calendar 2015
    assert table.perspectives == ("society",)  # totals only: no taxpayer or victim breakdown
    prov = table.provenance()
    assert "p. 15" in prov["pages"] and "SECONDARY SOURCE" in prov["verification"]
    assert "domestic burglary" in prov["not_shipped"]


def test_mccollister_figures_match_publication():
    ref = reference("mccollister_2010_table5.json")
    table = load_unit_costs("mccollister_2010")
    assert set(table.categories) == set(ref["society_total_2008_usd"])
    for cat, total in ref["society_total_2008_usd"].items():
        amount, currency, year = table.unit_cost(cat, "society")
        assert (amount, currency, year) == (total, "USD", 2008), cat
    for cat, cjs in ref["taxpayer_criminal_justice_2008_usd"].items():
        assert table.unit_cost(cat, "taxpayer")[0] == cjs
    for cat, v in ref["victim_2008_usd"].items():
        assert table.unit_cost(cat, "victim")[0] == v
    assert table.meta["price_year"] == 2008 and "verification" in table.meta
    # an independent second source re-priced the victim-cost column to 2014 dollars with one factor
    second = ref["second_source_victim_cost_2014_usd"]
    for cat, v2014 in second["values"].items():
        victim_tangible = sum(r.amount for r in table.rows if r.category == cat and r.component == "victim_tangible")
        assert v2014 / victim_tangible == pytest.approx(second["factor"], abs=4e-4), cat


def _linear_case(tmp_path, simulations: int, seed: int = 7) -> tuple:
    csv = tmp_path / "uc.csv"
    csv.write_text("category,amount,currency,price_year\nburglary,2000,GBP,2020\n")
    cb = {"currency": "GBP", "price_year": 2020, "horizon_years": 5, "discount": 0.035,
          "unit_costs": str(csv), "outcomes": {"burglary": {"category": "burglary", "units": 20}},
          "costs": [{"item": "patrols", "amount": 60000, "recurring": True}], "observed_years": 5,
          "simulations": simulations, "seed": seed}
    inputs = prepare(design_from_dict(base_design(cb)))
    return inputs, make_effect(-1.2, 0.8)


def test_monte_carlo_matches_analytic_probability(tmp_path):
    inputs, eff = _linear_case(tmp_path, 100_000)
    r = cost_benefit(inputs, [eff])
    # NPV = a + c * b with b ~ N(est, se^2): P(NPV > 0) = Phi((a + c est) / (|c| se)).
    df = discount_factors(((0, 0.035),), 5)
    c = -20 * 2000 * df.sum()
    a = -60000 * df.sum()
    analytic = NormalDist().cdf((a + c * eff.estimate) / (abs(c) * eff.std_error))
    assert r.prob_benefits_exceed_costs == pytest.approx(analytic, abs=0.005)
    assert r.npv == pytest.approx(a + c * eff.estimate, rel=1e-12)
    assert r.monte_carlo["npv_mean"] == pytest.approx(a + c * eff.estimate, abs=4 * abs(c) * 0.8 / 300)


def test_monte_carlo_reproducible_from_seed(tmp_path):
    inputs, eff = _linear_case(tmp_path, 20_000, seed=11)
    a = cost_benefit(inputs, [eff]).monte_carlo
    b = cost_benefit(inputs, [eff]).monte_carlo
    c = cost_benefit(inputs, [eff], seed=12).monte_carlo
    assert a == b
    assert a["npv_quantiles"] != c["npv_quantiles"]


def test_monte_carlo_t_distribution_and_bootstrap_draws(tmp_path):
    inputs, _ = _linear_case(tmp_path, 50_000)
    t_eff = make_effect(-1.2, 0.8, df=4)
    n_eff = make_effect(-1.2, 0.8)
    pt = cost_benefit(inputs, [t_eff]).monte_carlo["npv_quantiles"]
    pn = cost_benefit(inputs, [n_eff]).monte_carlo["npv_quantiles"]
    assert pt["0.975"] - pt["0.025"] > pn["0.975"] - pn["0.025"]  # heavier tails with 4 df
    draws = list(np.full(50, -2.0)) + list(np.full(50, 0.0))
    boot = dataclasses.replace(make_effect(-1.2, 0.8), sampling=Sampling(draws=np.asarray(draws), draws_key="k"))
    mc = cost_benefit(inputs, [boot]).monte_carlo
    assert "bootstrap" in mc["effect_draws"][0]
    df = discount_factors(((0, 0.035),), 5)
    assert mc["prob_benefits_exceed_costs"] == pytest.approx(0.5, abs=0.01)  # -2 pays off, 0 does not
    assert 40_000 * 2 * df.sum() > 60000 * df.sum()


def test_hundred_thousand_draws_fast(tmp_path):
    inputs, eff = _linear_case(tmp_path, 100_000)
    from cpeval.cba.montecarlo import simulate

    simulate(inputs, [eff], 1000, 1)  # warm up
    t0 = time.perf_counter()
    simulate(inputs, [eff], 100_000, 1)
    assert time.perf_counter() - t0 < 5.0  # a smoke bound; benchmarks/bench_cba.py measures (~0.05 s)


def test_shipped_deflators_match_sources():
    from cpeval.cba.tables import load_deflator

    uk = load_deflator(None, "GBP")  # ONS D7BT, 2015 = 100 (release 14-02-2024)
    assert (uk.name, uk.index[2015], uk.index[2008], uk.index[2023]) == ("uk_cpi", 100.0, 84.7, 130.5)
    us = load_deflator(None, "USD")  # BLS CPI-U CUUR0000SA0 annual averages
    assert (us.name, us.index[2008], us.index[2009], us.index[2024]) == ("us_cpi_u", 215.303, 214.537, 313.689)
    assert us.factor(2008, 2024) == pytest.approx(1.45697, abs=5e-6)  # the factor quoted with the table
    assert sorted(uk.index) == list(range(1988, 2025)) and sorted(us.index) == list(range(2000, 2025))
