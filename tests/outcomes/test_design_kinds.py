"""Harm and fear outcomes go through every design kind: DiD (see test_city), RCT and synthetic control."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import cpeval
from cpeval.datasets.city import simulate_city
from cpeval.errors import CpevalWarning
from cpeval.outcomes import weighted_mean_se
from cpeval.payloads import OutcomeInfo

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
    hc = harm.payload(OutcomeInfo).harm_contributions
    assert hc.additive  # a difference in means is linear in the outcome
    table = unsafe.payload(OutcomeInfo).survey.by_wave
    assert {r.wave for r in table} == {"all"} and {r.group for r in table} == {"treated", "comparison"}
    assert harm.payload(OutcomeInfo).baseline.rows == "control arm"


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
    # the survey table's SEs are clustered by the trial's clusters, as a direct computation gives
    table = effect.payload(OutcomeInfo).survey.by_wave
    treated = next(r for r in table if r.group == "treated")
    rows = resp.programme == 1
    direct = weighted_mean_se(unsafe[rows].to_numpy(float), np.ones(int(rows.sum())), resp.area[rows].to_numpy())
    assert (treated.estimate, treated.std_error) == pytest.approx((direct.estimate, direct.std_error))
    assert treated.clusters == direct.n_clusters == 23


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
    rows = result.effect("harm").payload(OutcomeInfo).harm_contributions.offences
    assert len(rows) == 4 and all(r.estimate is not None for r in rows)
    # a synthetic control's offence fits have no bounded interval (null in the payload): the report says so and
    # still draws the contributions (a TypeError on None before)
    assert all(r.ci_lower is None and r.ci_upper is None for r in rows)
    from cpeval.report import render_figures, render_markdown

    assert "figures/harm_contributions_harm.png" in render_figures(result)
    text = render_markdown(result)
    assert text.count("(interval unbounded)") == 4


def test_poisson_did_harm_contributions_in_harm_units(city):
    design = {
        "name": "p", "kind": "did", "data": {"path": "x.csv", "unit": "area", "time": "year"},
        "treatment": {"indicator": "treated"},
        "estimator": {"method": "poisson", "cluster": "area", "exposure": "none"},
        "outcomes": [{"name": "harm", "seriousness": {"weights": "cambridge_chi", "columns": CHI}}],
    }
    (effect,) = _run(design, city.panel).effects
    info = effect.payload(OutcomeInfo)
    hc = info.harm_contributions
    assert hc.scale == "log ratio" and not hc.additive
    for r in hc.offences:
        assert r.harm_change == pytest.approx(r.baseline_harm * math.expm1(r.estimate))
    assert sum(r.share_of_change for r in hc.offences) == pytest.approx(1.0)
    assert info.baseline.percent_of_baseline == pytest.approx(100 * math.expm1(effect.estimate))
    # the harm index's proportional change covers the truth
    truth_pct = city.truth["harm_cchi"] / info.baseline.mean
    lo, hi = (math.expm1(x) for x in effect.conf_int())
    assert lo < truth_pct < hi


def test_row_order_and_area_labels_do_not_change_results(city, tmp_path):
    survey = tmp_path / "s.csv"
    city.survey.to_csv(survey, index=False)
    design = {
        "name": "i", "kind": "did", "data": {"path": "x.csv", "unit": "area", "time": "year"},
        "treatment": {"indicator": "treated"}, "estimator": {"method": "twfe", "cluster": "area"},
        "outcomes": [{"name": "harm", "seriousness": {"weights": "cambridge_chi", "columns": CHI}},
                     {"name": "unsafe", "fear": SAFE, "survey": {"path": str(survey), "weights": "weight"}}],
    }
    base = _run(design, city.panel)
    shuffled = _run(design, city.panel.sample(frac=1, random_state=7))
    relabel = {a: f"Z{i:03d}" for i, a in enumerate(sorted(city.panel.area.unique(), reverse=True))}
    survey2 = tmp_path / "s2.csv"
    city.survey.assign(area=city.survey.area.map(relabel)).to_csv(survey2, index=False)
    design2 = {**design, "outcomes": [design["outcomes"][0], {**design["outcomes"][1],
                                                              "survey": {"path": str(survey2), "weights": "weight"}}]}
    relabelled = _run(design2, city.panel.assign(area=city.panel.area.map(relabel)))
    for other in (shuffled, relabelled):
        for a, b in zip(base.effects, other.effects, strict=True):
            assert (a.estimate, a.std_error) == pytest.approx((b.estimate, b.std_error), rel=1e-9)


def test_contributions_can_be_turned_off(city):
    design = {
        "name": "off", "kind": "did", "data": {"path": "x.csv", "unit": "area", "time": "year"},
        "treatment": {"indicator": "treated"}, "estimator": {"method": "twfe", "cluster": "area"},
        "outcomes": [{"name": "harm", "seriousness": {"weights": "cambridge_chi", "columns": CHI,
                                                      "contributions": False}}],
    }
    (effect,) = _run(design, city.panel).effects
    hc = effect.payload(OutcomeInfo).harm_contributions
    assert all(r.estimate is None and r.baseline_harm > 0 for r in hc.offences)
    assert not hc.additive
