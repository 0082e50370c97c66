"""What a funder reads: headlines in words, outcome roles, one % convention, unbounded intervals explained, cost
items listed, warnings once, the design's facts without 'None', the section order, and a figure in every
report. Expected numbers are computed here from the effect itself (the estimate's reference tests live with
the estimators)."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

from _support import DESIGNS
from cpeval import evaluate
from cpeval.payloads import OutcomeInfo
from cpeval.report.markdown import render_markdown
from cpeval.report.render import figures_by_section, render_figures
from cpeval.report.section import PARTS, Section
from cpeval.report.sections import SECTIONS


@pytest.fixture(scope="module")
def castle():
    return evaluate(DESIGNS / "castle_doctrine.yaml", quiet=True)


def test_sections_are_listed_once_in_para_23_order():
    keys = [s.key for s in SECTIONS]
    assert len(keys) == len(set(keys)) and all(isinstance(s, Section) for s in SECTIONS)
    parts = [s.part for s in SECTIONS]
    assert list(dict.fromkeys(parts)) == list(PARTS)  # every part, in order
    assert SECTIONS[0].part == "summary" and "summary" in keys and keys[-1] == "reproduce"


def test_headline_in_words_with_the_percent_and_interval(castle):
    e = castle.effect("homicide")
    pct = [100 * math.expm1(v) for v in (e.estimate, e.ci_lower, e.ci_upper)]  # log points -> % change
    md = render_markdown(castle)
    expected = (f"Homicides per 100,000 rose by about {pct[0]:.0f}% (95% CI {pct[1]:.0f}% to {pct[2]:.0f}%) in "
                "states that passed the law.")
    assert expected == "Homicides per 100,000 rose by about 8% (95% CI 1% to 16%) in states that passed the law."
    summary = md[md.index("## Summary"):md.index("## Effects")]
    assert f"- {expected}" in summary
    assert "Larcenies per 100,000 rose by about 0.1%" in summary and "*(falsification outcome)*" in summary


def test_labels_roles_and_one_percent_convention(castle):
    md = render_markdown(castle)
    row = next(line for line in md.splitlines() if "(`larceny`)" in line)
    assert row.startswith("| Larcenies per 100,000 (log) (`larceny`) | falsification | ATT |")
    e = castle.effect("larceny")
    lo, hi = (100 * math.expm1(v) for v in (e.ci_lower, e.ci_upper))
    assert f"[{lo:+.1f}%, {hi:+.1f}%]" in row
    assert md.count("% change [CI]") == 1 and "effect, % of baseline" not in md  # one table, one convention
    assert "Falsification outcomes are ones the programme should not move" in md


def test_the_staggered_adoption_warning_is_said_once(castle):
    assert sum("adopted at 5 different times" in w for w in castle.warnings) == 3  # one per outcome in the result
    md = render_markdown(castle)
    assert md.count("adopted at 5 different times") == 1
    assert "- homicide, larceny, motor_vehicle_theft: treatment is adopted at 5 different times" in md


def test_the_default_demo_report_has_figures(castle):
    figures = render_figures(castle)
    assert "figures/effects.png" in figures and figures["figures/effects.png"][:4] == b"\x89PNG"
    assert "](figures/effects.png)" in render_markdown(castle, figures_by_section(castle))


def test_an_unbounded_interval_is_explained_and_the_placebo_test_leads():
    result = evaluate(DESIGNS / "florida_stand_your_ground.yaml", quiet=True)
    e = dataclasses.replace(result.effects[0], ci_lower=-math.inf, ci_upper=math.inf, std_error=math.nan)
    result = dataclasses.replace(result, effects=(e,))
    placebo = next(c for c in result.checks if c.name == "placebo_space").values
    md = render_markdown(result)
    assert "[-inf, inf]" not in md and "| nan |" not in md
    row = next(line for line in md.splitlines() if "(`homicide_rate`)" in line)
    assert "| unbounded |" in row and f"**{placebo['p_value']:.3g}** (placebo in space)" in row
    base = e.payload(OutcomeInfo).baseline.mean  # a rate: the effect as a share of the baseline
    assert f"| {100 * e.estimate / base:+.1f}% [unbounded] |" in row
    assert "the 95% interval is unbounded" in md and "can reject none" in md
    assert f"p = {placebo['p_value']:.3g} (rank {placebo['rank']} of {placebo['n_units']})" in md


def test_no_none_in_a_trial_report_and_data_source_named():
    md = render_markdown(evaluate(DESIGNS / "hotspots_trial.yaml", quiet=True))
    assert "`None`" not in md and "period: `" not in md  # a trial has no period column
    incidents = evaluate(DESIGNS / "city_incidents.yaml", quiet=True)
    md = render_markdown(incidents)
    design = md[md.index("## Design"):]
    assert "Data: `None`" not in design and re.search(r"Data: (files|duckdb|sql) source `[^`]+`", design)


def test_every_cost_item_is_listed_with_its_label_and_usd_defaults_to_omb():
    from cpeval.designs.cost_benefit import DISCOUNT_PRESETS, CostBenefitSpec
    from cpeval.report.cba import render_cba_markdown

    result = evaluate(DESIGNS / "castle_doctrine_cba.yaml", quiet=True)
    cba = result.cost_benefit.to_dict()
    md = render_cba_markdown(cba)
    for item in cba["costs"]:
        assert f"| {item['item']} | {item['type']} |" in md
    assert "**The costs include illustrative assumptions**" in md
    base = dict(price_year=2020, unit_costs="mccollister_2010", outcomes={"y": "murder"},
                costs=[{"item": "x", "amount": 1, "price_year": 2020}])
    assert CostBenefitSpec.model_validate({**base, "currency": "USD"}).discount == "omb_7"
    assert CostBenefitSpec.model_validate({**base, "currency": "GBP"}).discount == "green_book"
    assert CostBenefitSpec.model_validate({**base, "currency": "USD", "discount": "omb_3"}).discount == "omb_3"
    assert "OMB" in DISCOUNT_PRESETS["omb_7"] and DISCOUNT_PRESETS["omb_3"] in md  # the schedule is named


def test_victimisation_without_victims_reads_n_a_not_a_type_error():
    """Hand case: 4 respondents, none victimised: prevalence 0/4 = 0 and incidence 0/4 = 0, but concentration
    (crimes per victim) and the repeat victims' shares are 0/0. The OutcomeInfo payload is built from JSON, so
    they are None there; the survey section says n/a for them (a TypeError on None before)."""
    from types import SimpleNamespace

    from cpeval.outcomes.survey import repeat_victimisation
    from cpeval.report.outcomes import _survey_section
    from cpeval.results import jsonable

    v = repeat_victimisation([0.0, 0.0, 0.0, 0.0], [1.0, 2.0, 1.0, 1.0])
    info = OutcomeInfo.from_dict(jsonable({"definition": {"family": "crime", "measure": "prevalence", "derived": True},
                                           "survey": {"victimisation": v}}))
    assert info.survey.victimisation["concentration"] is None
    text = "\n".join(_survey_section(SimpleNamespace(outcome="victims"), info.survey, info.definition))
    assert ("prevalence 0.000, incidence 0.000 crimes per resident, concentration n/a crimes per victim; repeat "
            "victims are n/a of victims and suffer n/a of the crimes.") in text
