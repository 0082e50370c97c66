"""Every user mistake in a cost_benefit section gets a message naming the key and the fix."""

from __future__ import annotations

import copy

import pytest

from cpeval.cba import prepare
from cpeval.cba.tables import load_deflator, load_unit_costs
from cpeval.designs import design_from_dict
from cpeval.errors import DesignError

from ._cba_support import base_design

GOOD = {
    "currency": "GBP", "price_year": 2020, "unit_costs": "PLACEHOLDER",
    "outcomes": {"burglary": {"category": "burglary_domestic", "units": 10}},
    "costs": [{"item": "officers", "amount": 100000, "recurring": True}],
}


@pytest.fixture
def good(tmp_path) -> dict:
    csv = tmp_path / "uc.csv"
    csv.write_text("category,amount,currency,price_year\nburglary_domestic,3000,GBP,2020\n")
    cb = copy.deepcopy(GOOD)
    cb["unit_costs"] = str(csv)
    return cb


def _with(cb: dict, **changes) -> dict:
    out = copy.deepcopy(cb)
    out.update(changes)
    return out


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"currency": "G1P"}, "three-letter currency code"),
        ({"discount": "green_bok"}, "did you mean 'green_book'"),
        ({"discount": 3.5}, r"a rate is a share per year \(0.035 is 3.5%\)"),
        ({"discount": [{"from_year": 1, "rate": 0.03}]}, "must start with a step at from_year: 0"),
        ({"discount": [{"from_year": 0, "rate": 0.03}, {"from_year": 0, "rate": 0.02}]}, "increase strictly"),
        ({"costs": [{"item": "cams", "amount": 5, "per": "area"}]}, "needs 'quantity'"),
        ({"costs": [{"item": "cams", "amount": 5, "capital": True}]}, "needs 'lifetime_years'"),
        ({"costs": [{"item": "cams", "amount": 5, "capital": True, "lifetime_years": 3, "recurring": True}]},
         "not both"),
        ({"costs": [{"item": "cams", "amount": 5, "until_year": 3}]}, "only to recurring"),
        ({"costs": [{"item": "cams", "amount": 5, "year": 12}]}, "beyond the horizon"),
        ({"costs": [{"item": "cams", "amount": 5, "currency": "USD"}]}, "does not convert currencies"),
        ({"costs": [{"item": "cams", "amount": -5}]}, "greater than or equal to 0"),
        ({"uncertainty": {"unit_costs": [1.1, 1.5]}}, "must include 1"),
        ({"uncertainty": {"discount_rate": [0.07, 0.02]}}, "low <= high"),
        ({"outcomes": {"burglary": {"category": "x", "baseline_per_year": 5, "baseline_column": "b"}}},
         "not both"),
        ({"effect_start_year": 20}, "beyond the horizon"),
        ({"horizon": 10}, "did you mean 'horizon_years'"),
    ],
)
def test_spec_errors(good, changes, match):
    with pytest.raises(DesignError, match=match):
        design_from_dict(base_design(_with(good, **changes)))


@pytest.mark.parametrize(
    ("changes", "measure", "better_if", "match"),
    [
        ({"outcomes": {"burglry": "burglary_domestic"}}, "count", "decrease", "did you mean 'burglary'"),
        ({"outcomes": {"burglary": "burglary_dom"}}, "count", "decrease", "did you mean 'burglary_domestic'"),
        ({}, "count", "increase", "better_if: increase"),
        ({"outcomes": {"burglary": "burglary_domestic"}}, "log", "decrease", "add baseline_per_year"),
        ({"outcomes": {"burglary": "burglary_domestic"}}, "level", "decrease", "add scale"),
        ({"currency": "USD", "costs": [{"item": "x", "amount": 1}]}, "count", "decrease", "is in GBP"),
        ({"price_year": 2030}, "count", "decrease", "no value for 2030"),
        ({"unit_costs": "home_office_2018"}, "count", "decrease",
         r"no category 'burglary_domestic'.*not in this table: domestic burglary"),
        ({"unit_costs": "home_office_2018", "perspective": "taxpayer",
          "outcomes": {"burglary": {"category": "robbery", "units": 10}}}, "count", "decrease",
         r"category 'robbery' has no taxpayer component \(its rows cover society\)"),
        ({"unit_costs": "no_such_table"}, "count", "decrease", "neither a shipped table"),
        ({"outcomes": {"burglary": "burglary_domestic"}}, "count", "decrease", "derived from the data"),
    ],
)
def test_prepare_errors(good, changes, measure, better_if, match):
    design = design_from_dict(base_design(_with(good, **changes), measure=measure, better_if=better_if))
    with pytest.raises(DesignError, match=match):
        prepare(design)


def test_category_error_names_the_key(good):
    design = design_from_dict(base_design(_with(good, outcomes={"burglary": "burglary_dom"})))
    with pytest.raises(DesignError, match=r"^cost_benefit\.outcomes\.burglary\.category: unit-cost table"):
        prepare(design)


@pytest.mark.parametrize(
    ("valuation", "measure", "drop_population", "match"),
    [
        ({}, "rate", True, r"outcomes\.burglary: a rate outcome needs the population: set data\.population"),
        ({"baseline_column": "burglary", "baseline_rate_per": 100000}, "log", True,
         r"outcomes\.burglary\.baseline_rate_per: converting rates to counts needs data\.population"),
        ({"baseline_column": "post"}, "log", False,
         r"outcomes\.burglary\.baseline_column: the derived baseline is 0\.0; it must be positive"),
    ],
)
def test_data_derived_valuation_errors(good, valuation, measure, drop_population, match):
    from cpeval.data import load_panel

    raw = base_design(_with(good, outcomes={"burglary": {"category": "burglary_domestic", **valuation}}),
                      measure=measure)
    if drop_population:
        del raw["data"]["population"]
    design = design_from_dict(raw)
    with pytest.raises(DesignError, match=match):
        prepare(design, load_panel(design))


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("category,amount\nx,1\n", "missing column"),
        ("category,amount,currency,price_year,perspectives\nx,1,GBP,2020,society;police\n", "unknown perspective"),
        ("category,amount,currency,price_year\n", "has no rows"),
    ],
    ids=["missing_columns", "bad_perspective", "empty"],
)
def test_user_table_errors(tmp_path, content, match):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    with pytest.raises(DesignError, match=match):
        load_unit_costs(str(bad))


def test_deflator_errors(tmp_path):
    with pytest.raises(DesignError, match=r"file 'nope\.csv' not found"):
        load_deflator("nope.csv", "GBP", tmp_path)
    with pytest.raises(DesignError, match="no shipped deflator for currency EUR"):
        load_deflator(None, "EUR")
    with pytest.raises(DesignError, match="unknown series"):
        load_deflator("uk_cpj", "GBP")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("year,value\n2020,100\n", r"gdp\.csv: missing column\(s\) index"),
        ("year,index\n2020,one hundred\n", r"gdp\.csv, line 2: year and index must be numbers"),
        ("year,index\n", r"gdp\.csv has no rows"),
        ("series,year,index\na,2020,100\nb,2020,90\n", r"holds several series \(a, b\); keep one"),
    ],
)
def test_user_deflator_errors(tmp_path, text, match):
    path = tmp_path / "gdp.csv"
    path.write_text(text)
    with pytest.raises(DesignError, match=match):
        load_deflator("gdp.csv", "GBP", tmp_path)


def test_baseline_column_missing_from_data(good):
    from cpeval.data import load_panel
    from cpeval.errors import DataError

    cb = _with(good, outcomes={"burglary": {"category": "burglary_domestic", "baseline_column": "homicide_cnt"}})
    design = design_from_dict(base_design(cb, measure="log"))
    with pytest.raises(DataError, match=r"homicide_cnt.*did you mean 'homicide_count'"):
        load_panel(design)


def test_cba_needs_a_section():
    from cpeval.cli import main

    assert main(["cba", "designs/castle_doctrine.yaml"]) == 2


def test_check_command_validates_cost_benefit(good, tmp_path):
    import yaml

    from cpeval.pipeline import check

    cb = _with(good, outcomes={"burglary": "no_such_category"})
    path = tmp_path / "d.yaml"
    path.write_text(yaml.safe_dump(base_design(cb)))
    with pytest.raises(DesignError, match="has no category 'no_such_category'"):
        check(path)


def test_category_without_the_perspective_is_an_error_not_a_zero(tmp_path):
    # robbery has a taxpayer component, shoplifting only a society total: taxpayer pricing of shoplifting
    # is refused (it would silently be 0), and the per-perspective table lists only perspectives every
    # valued category covers
    csv = tmp_path / "uc.csv"
    csv.write_text("category,component,perspectives,amount,currency,price_year\n"
                   "robbery,police,society;taxpayer,2000,GBP,2020\nrobbery,harm,society;victim,9000,GBP,2020\n"
                   "shoplifting,total,society,150,GBP,2020\n")
    cb = {**GOOD, "unit_costs": str(csv), "perspective": "taxpayer",
          "outcomes": {"burglary": {"category": "shoplifting", "units": 10}}}
    with pytest.raises(DesignError, match=r"category 'shoplifting' has no taxpayer component \(its rows cover "
                                          r"society\)"):
        prepare(design_from_dict(base_design(cb)))
    robbery = prepare(design_from_dict(base_design({**cb, "outcomes": {"burglary": {"category": "robbery",
                                                                                     "units": 10}}})))
    assert [p for p, _ in robbery.outcomes[0].by_perspective] == ["society", "taxpayer", "victim"]
    assert robbery.outcomes[0].unit_cost == 2000.0
    society = prepare(design_from_dict(base_design({**cb, "perspective": "society"})))
    assert [p for p, _ in society.outcomes[0].by_perspective] == ["society"]
