"""Temporal displacement: crime in the programme areas moving to the hours outside the programme's window."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _support import DESIGNS, REFERENCE
from cpeval.consequences import temporal
from cpeval.consequences.run import evaluate, prepare
from cpeval.consequences.spatial import assign_roles
from cpeval.data import load_panel
from cpeval.datasets.city import STREET_CRIME, simulate_hotspot_city
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import DataError, DesignError, ProblemCode

REF = json.loads((REFERENCE / "consequences" / "temporal_ratio_of_totals.json").read_text())


def _assess(design, frame):
    roles = assign_roles(frame, design, design.consequences.displacement)
    (f,) = temporal.assess(design, frame, design.consequences.temporal, roles, "t")
    return f


@pytest.fixture(scope="module")
def finding(city, design):
    return _assess(design, city.panel)


def test_displacement_to_other_hours_detected_and_covered(city, finding):
    assert finding.status == "fail" and finding.topic == "temporal" and not finding.positive
    assert "Displacement in time" in finding.sentence and "Thursday to Saturday" in finding.sentence
    for part, band in (("outside_effect", "other_hours"), ("window_effect", "patrol_hours")):
        lo, hi = finding.evidence[part]["conf_int"]
        assert lo < city.truth[f"street_crime_{band}"] < hi
        assert city.truth[f"street_crime_{band}"] == pytest.approx(np.log1p(STREET_CRIME[band][1]))


def test_net_change_is_the_ratio_of_totals_counterfactual_by_hand(city, finding):
    frame = city.panel.loc[city.panel["role"] != "buffer"]
    ever = frame.groupby("area")["treated"].transform("max").astype(bool)
    post = frame["quarter"] >= 9
    net, tol = 0.0, 1e-6
    for band, part in (("patrol_hours", "window_effect"), ("other_hours", "outside_effect")):
        y = frame[f"street_crime_{band}"]
        t0, t1 = y[ever & ~post].sum(), y[ever & post].sum()
        c0, c1 = y[~ever & ~post].sum(), y[~ever & post].sum()
        net += t1 - t0 * c1 / c0
        assert finding.evidence[part]["estimate"] == pytest.approx(np.log((t1 / t0) / (c1 / c0)), rel=tol)
    total = finding.evidence["total_net_effect"]
    assert total["net_change"] == pytest.approx(net, rel=tol), REF["working"]
    assert -1 < total["correlation"] < 1 and total["std_error"] > 0  # the joint law of two effects on one sample


def test_invariant_to_row_order_and_relabelling(city, design, finding):
    frame = city.panel.sample(frac=1.0, random_state=5)
    frame["area"] = "Z" + frame["area"].str[::-1]
    other = _assess(design, frame)
    for part in ("outside_effect", "window_effect"):
        assert other.evidence[part]["estimate"] == pytest.approx(finding.evidence[part]["estimate"], rel=1e-9)
        assert other.evidence[part]["std_error"] == pytest.approx(finding.evidence[part]["std_error"], rel=1e-7)
    assert other.evidence["total_net_effect"]["std_error"] == pytest.approx(
        finding.evidence["total_net_effect"]["std_error"], rel=1e-7)


def test_no_programme_no_displacement_in_time(design):
    city = simulate_hotspot_city(seed=7, null=True)
    result = evaluate(prepare(design, city.panel), load_panel(design, city.panel), [])
    (f,) = [f for f in result.findings if f.topic == "temporal"]
    assert f.status == "pass" and "No clear displacement to other hours" in f.sentence


def test_bad_temporal_declarations_are_clear_errors(city, design):
    raw = design.model_dump(mode="json", by_alias=True)
    same = {"window": "nights", "outcomes": [{"name": "s", "inside": "street_crime_patrol_hours",
                                              "outside": "street_crime_patrol_hours"}]}
    with pytest.raises(DesignError, match="inside and outside name the same column"):
        design_from_dict({**raw, "consequences": {"temporal": same}})
    twice = {"window": "nights", "outcomes": [{"name": "s", "inside": "a", "outside": "b"}] * 2}
    with pytest.raises(DesignError, match="temporal outcome names must be unique"):
        design_from_dict({**raw, "consequences": {"temporal": twice}})
    typo = {"window": "nights", "outcomes": [{"name": "s", "inside": "street_crime_patrol_hours",
                                              "outside": "street_crime_other_hour"}]}
    with pytest.raises(DataError, match=r"consequences\.temporal\.outcomes\[0\]\.outside") as err:
        prepare(design_from_dict({**raw, "consequences": {"temporal": typo}}), city.panel)
    assert ProblemCode.MISSING_COLUMN in err.value.codes
    assert "did you mean 'street_crime_other_hours'" in str(err.value)
    trial = load_design(DESIGNS / "city_outreach_trial.yaml").model_dump(mode="json", by_alias=True)
    ok = {"window": "nights", "outcomes": [{"name": "s", "inside": "a", "outside": "b"}]}
    with pytest.raises(DesignError, match=r"consequences\.temporal .* needs a did or synthetic_control design"):
        prepare(design_from_dict({**trial, "consequences": {"temporal": ok}}))


def test_the_shift_is_outside_minus_inside_with_their_joint_sampling(finding):
    """Hand check of the difference's variance: se_out^2 + se_in^2 - 2 rho se_in se_out, rho from the same
    influence values the net change uses."""
    moved, e_in, e_out = (finding.evidence[k] for k in ("outside_minus_window", "window_effect", "outside_effect"))
    rho = finding.evidence["total_net_effect"]["correlation"]
    assert moved["difference"] == pytest.approx(e_out["estimate"] - e_in["estimate"], rel=1e-12)
    var = e_out["std_error"] ** 2 + e_in["std_error"] ** 2 - 2 * rho * e_in["std_error"] * e_out["std_error"]
    assert moved["std_error"] == pytest.approx(np.sqrt(var), rel=1e-12)
    assert moved["conf_int"][0] > 0  # street crime fell 40% in the hours and rose 25% outside: a real shift


def test_a_rise_at_all_hours_is_not_called_displacement_in_time(city, design):
    """Street crime rises by the same 25% inside and outside the hours in the programme areas (the patrol-hours
    counts replaced by other-hours counts scaled to their level): outside rises, but not more than inside."""
    frame = city.panel.copy()
    frame["street_crime_patrol_hours"] = np.round(frame["street_crime_other_hours"] * 12 / 18).astype(int)
    f = _assess(design, frame)
    assert f.evidence["outside_effect"]["conf_int"][0] > 0  # the rise outside the hours is clear ...
    lo, hi = f.evidence["outside_minus_window"]["conf_int"]
    assert lo < 0 < hi  # ... and no larger than within them
    assert f.status == "warn" and f.sentence.startswith("A rise at all hours rather than a move to other hours")


def test_with_a_leading_bootstrap_the_shift_needs_the_two_intervals_apart(city, design):
    """Few treated or untreated clusters: the effects lead with a wild bootstrap or randomisation and the analytic
    joint interval of their difference is too narrow to read, so the two leading intervals must lie apart."""
    import dataclasses

    from cpeval.consequences import refit
    from cpeval.results import AlternativeInference

    frame = city.panel.loc[city.panel["role"] != "buffer"]
    o = design.consequences.temporal.outcomes[0]
    v = temporal.variant(design, o)
    e_in = refit.fit(v, frame, f"{o.name}_{temporal.WINDOW}", "t")
    e_out = refit.fit(v, frame, f"{o.name}_{temporal.OUTSIDE}", "t")
    assert temporal._clearly_more(temporal.shift(e_in, e_out), e_in, e_out)  # analytic: a clear shift

    def lead(e, lo, hi):
        return dataclasses.replace(e, inference=AlternativeInference(
            method="wild_bootstrap", p_value=0.01, conf_int=(lo, hi), replications=999, enumerated=False,
            headline=True, statistic="t"))

    a, b = lead(e_in, -0.3, 0.5), lead(e_out, 0.1, 0.9)  # overlapping: not clearly more
    assert not temporal._clearly_more(temporal.shift(a, b), a, b)
    assert "too narrow to read" in temporal._difference_words(temporal.shift(a, b), a, b)
    a, b = lead(e_in, -0.6, -0.2), lead(e_out, 0.1, 0.3)  # apart: clearly more
    assert temporal._clearly_more(temporal.shift(a, b), a, b)
