"""Harm and fear outcomes go through every design kind: DiD (see test_city), RCT and synthetic control."""

from __future__ import annotations

import warnings

import pytest

import cpeval
from cpeval.datasets.city import simulate_city
from cpeval.errors import CpevalWarning

CHI = {"shoplifting": "shoplifting", "bicycle_theft": "bicycle_theft", "theft_from_person": "theft_from_person",
       "robbery_personal": "robbery"}
SAFE = {"item": "safe_after_dark", "scale": ["very safe", "fairly safe", "a bit unsafe", "very unsafe"],
        "fearful": ["a bit unsafe", "very unsafe"]}


@pytest.fixture(scope="module")
def city():
    return simulate_city(seed=11)


def _run(design, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        return cpeval.evaluate(design, data=data)


def test_rct_on_area_rows_with_a_survey(city, tmp_path):
    areas = city.panel[city.panel.year == 2022].assign(programme=lambda d: (d.first_treated > 0).astype(int))
    survey = tmp_path / "s.csv"
    city.survey[city.survey.year == 2022].to_csv(survey, index=False)
    design = {
        "name": "r", "kind": "rct", "data": {"path": "x.csv", "unit": "area"},
        "treatment": {"assignment": "programme"}, "estimator": {"method": "difference_in_means"},
        "outcomes": [{"name": "harm", "seriousness": {"weights": "cambridge_chi", "columns": CHI}},
                     {"name": "unsafe", "fear": SAFE, "survey": {"path": str(survey), "weights": "weight"}}],
    }
    result = _run(design, areas)
    harm, unsafe = result.effects
    assert (harm.family, unsafe.family) == ("seriousness", "fear")
    hc = harm.diagnostics["outcome"]["harm_contributions"]
    assert hc["additive"]  # a difference in means is linear in the outcome
    table = unsafe.diagnostics["outcome"]["survey"]["by_wave"]
    assert {r["wave"] for r in table} == {"all"} and {r["group"] for r in table} == {"treated", "comparison"}
    assert harm.diagnostics["outcome"]["baseline"]["rows"] == "control arm"


def test_rct_on_respondent_rows(city):
    resp = city.survey[city.survey.year == 2022].assign(
        programme=lambda d: d.area.isin(city.panel.loc[city.panel.first_treated > 0, "area"]).astype(int))
    design = {
        "name": "r2", "kind": "rct", "data": {"path": "x.csv", "unit": "respondent"},
        "treatment": {"assignment": "programme", "cluster": "area"}, "estimator": {"method": "difference_in_means"},
        "outcomes": [{"name": "unsafe", "fear": SAFE}],
    }
    (effect,) = _run(design, resp).effects
    unsafe = resp.safe_after_dark.isin(["a bit unsafe", "very unsafe"])
    naive = unsafe[resp.programme == 1].mean() - unsafe[resp.programme == 0].mean()
    assert effect.estimate == pytest.approx(naive)
    assert effect.family == "fear" and effect.n_clusters == 40


def test_synthetic_control_on_area_aggregates(city, tmp_path):
    survey = tmp_path / "s.csv"
    city.survey.to_csv(survey, index=False)
    treated = city.panel.loc[city.panel.first_treated > 0, "area"].iloc[0]
    data = city.panel[(city.panel.first_treated == 0) | (city.panel.area == treated)]
    design = {
        "name": "s", "kind": "synthetic_control",
        "data": {"path": "x.csv", "unit": "area", "time": "year"},
        "treatment": {"units": [treated], "start": 2021},
        "outcomes": [{"name": "harm", "seriousness": {"weights": "cambridge_chi", "columns": CHI}},
                     {"name": "unsafe", "fear": SAFE,
                      "survey": {"path": str(survey), "wave": "year", "weights": "weight"}}],
    }
    result = _run(design, data)
    assert [e.family for e in result.effects] == ["seriousness", "fear"]
    rows = result.effect("harm").diagnostics["outcome"]["harm_contributions"]["offences"]
    assert len(rows) == 4 and all("estimate" in r for r in rows)
