"""Adverse indicators, disproportionality (triple difference), subgroups and the pipeline's consequences stage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cpeval.consequences import disproportionality, subgroups
from cpeval.consequences.run import prepare
from cpeval.datasets.city import simulate_hotspot_city
from cpeval.designs import design_from_dict
from cpeval.designs.consequences import DisproportionalitySpec, SubgroupSpec
from cpeval.errors import DataError, DesignError, ProblemCode


@pytest.fixture(scope="module")
def result(design):
    from cpeval.pipeline import evaluate

    return evaluate(design)


def _exact_long() -> pd.DataFrame:
    """Expected counts with no noise: group A 10 and group B 20 stops per 1,000 residents per period; in treated
    areas after the start A doubles and B triples, so B's rate ratio goes 2 -> 3 there (a 1.5-fold change) and
    stays 2 in control areas. Poisson maximum likelihood on data equal to their expectations returns the
    generating parameters exactly: the triple difference is 3/2 / (2/2) = 1.5."""
    rows = []
    for a in range(8):
        treated = a < 3
        res = {"A": 1000.0 * (a + 1), "B": 500.0 * (a + 2)}
        for t in range(1, 7):
            post = t >= 4
            for g, rate in (("A", 10.0), ("B", 20.0)):
                mult = (2.0 if g == "A" else 3.0) if (treated and post) else 1.0
                rows.append({"area": a, "period": t, "group": g, "events": rate * mult * res[g] / 1000,
                             "residents": res[g], "treated_area": treated, "post": post})
    return pd.DataFrame(rows)


def test_triple_difference_recovers_the_exact_change():
    spec = DisproportionalitySpec(groups=[{"name": "A", "events": "a", "residents": "ra"},
                                          {"name": "B", "events": "b", "residents": "rb"}], reference="A")
    (f,) = disproportionality.assess(_exact_long(), spec, 0.95)
    td = f.evidence["triple_difference"]
    assert td["ratio"] == pytest.approx(1.5, rel=1e-8)
    rr = f.evidence["rate_ratios"]
    assert rr["treated_before"]["rate_ratio"] == pytest.approx(2.0, rel=1e-8)
    assert rr["treated_after"]["rate_ratio"] == pytest.approx(3.0, rel=1e-8)
    assert rr["control_after"]["rate_ratio"] == pytest.approx(2.0, rel=1e-8)
    assert f.evidence["rates"]["treated_after"]["B"] == pytest.approx(60.0)  # 20 x 3 per 1,000
    assert f.status == "fail" and "Disproportionality grew" in f.sentence
    assert "need not live in the area" in f.evidence["caveat"]


def test_disproportionality_change_detected_and_covered_in_the_city(result):
    city = simulate_hotspot_city()
    (f,) = [f for f in result.consequences.findings if f.topic == "disproportionality"]
    lo, hi = f.evidence["triple_difference"]["conf_int"]
    assert f.status == "fail" and lo < np.exp(city.truth["stop_rate_ratio_change"]) < hi


def test_a_group_without_residents(design):
    raw = design.model_dump(mode="json", by_alias=True)
    raw["consequences"]["disproportionality"]["groups"][1].pop("residents")
    with pytest.raises(DesignError, match="group 'group_b' has no residents"):
        design_from_dict(raw)
    frame = simulate_hotspot_city().panel
    frame["residents_b"] = 0
    with pytest.raises(DataError, match="group 'group_b' has no residents in any area") as err:
        prepare(design, frame)
    assert ProblemCode.NO_RESIDENTS in err.value.codes


def test_a_moderator_with_one_level(design):
    frame = simulate_hotspot_city().panel
    frame["deprivation"] = "high"
    with pytest.raises(DataError, match=r"moderators\[0\] has a single level \('high'\)") as err:
        subgroups.moderator_levels(frame, design, SubgroupSpec(moderators=["deprivation"]))
    assert ProblemCode.SINGLE_LEVEL in err.value.codes


def test_difference_test_by_hand():
    t = subgroups.difference_test(np.array([0.3, -0.1]), np.array([0.1, 0.2]))
    # two levels: chi2 = (b1 - b2)^2 / (se1^2 + se2^2) = 0.16 / 0.05 = 3.2
    assert t["chi2"] == pytest.approx(3.2) and t["df"] == 1


def test_pipeline_reports_every_consequence_negatives_first(result):
    c = result.consequences
    statuses = [f.status for f in c.findings]
    assert statuses == sorted(statuses, key={"fail": 0, "warn": 1, "pass": 2}.get)
    by_name = {f.name: f for f in c.findings}
    assert by_name["spatial displacement: robbery"].status == "fail"
    assert by_name["spatial displacement: burglary"].positive
    assert by_name["offence displacement: vehicle_crime"].status == "fail"
    assert by_name["stigmatisation: stops"].status == "fail"
    harm = by_name["antisocial_behaviour by deprivation"]
    assert harm.status == "fail"
    assert [r["subgroup"] for r in harm.evidence["subgroups"] if r["harmful"]] == ["high"]
    assert c.roles["counts"] == {"treated": 24, "buffer": 96, "control": 96}
    payload = json.loads(result.to_json())["consequences"]
    assert payload["findings"][0]["status"] == "fail" and payload["caveats"]
    from cpeval.report.markdown import render_markdown

    md = render_markdown(result)
    section = md[md.index("## Unintended consequences"):]
    assert section.index("**FAIL**") < section.index("**pass**")
    assert "gain wiped out" in section and "triple difference" in section
    assert "### Displacement in time" in section and "| street_crime | Thursday to Saturday" in section
    assert by_name["temporal displacement: street_crime"].status == "fail"
    refuted = [f for f in c.findings if f.topic == "refutation"]
    assert sorted(f.name for f in refuted) == [f"placebo timing: {o}" for o in
                                               ("antisocial_behaviour", "burglary", "robbery")]
    assert all(f.sentence.startswith(f"The estimate for {f.outcome} ") for f in refuted)
    assert "| high |" in section and "| yes |" in section  # the subgroup table with its Holm p-values


def test_consequence_declarations_checked_against_the_design(design):
    raw = design.model_dump(mode="json", by_alias=True)
    raw["consequences"]["displacement"]["outcomes"] = ["robery"]
    with pytest.raises(DesignError, match="did you mean 'robbery'"):
        prepare(design_from_dict(raw))
    raw["consequences"]["displacement"]["outcomes"] = []
    raw["consequences"]["adverse"][0]["name"] = "robbery"
    with pytest.raises(DesignError, match="repeat outcome names"):
        prepare(design_from_dict(raw))


def test_a_subgroup_without_treated_areas_is_reported_not_estimable(design):
    frame = simulate_hotspot_city().panel
    frame["deprivation"] = np.where(frame["role"] == "treated", "high", frame["deprivation"])
    levels = subgroups.moderator_levels(frame, design, design.consequences.subgroups)
    (f,) = subgroups.assess(design, frame, design.consequences.subgroups, levels, "t")
    assert [r["subgroup"] for r in f.evidence["subgroups"]] == ["high"]
    assert f.evidence["not_estimable"][0]["subgroup"] == "low" and f.evidence["difference_test"] is None
    assert "Not estimable: deprivation = low (" in f.sentence and "no unit is ever treated" in f.sentence


def test_triple_difference_invariant_to_row_order_and_group_relabelling():
    spec = DisproportionalitySpec(groups=[{"name": "A", "events": "a", "residents": "ra"},
                                          {"name": "B", "events": "b", "residents": "rb"}], reference="A")
    long = _exact_long()
    rng = np.random.default_rng(4)
    long["events"] = rng.poisson(long["events"])
    (base,) = disproportionality.assess(long, spec, 0.95)
    shuffled = long.sample(frac=1.0, random_state=2).reset_index(drop=True)
    shuffled["area"] = "area-" + shuffled["area"].astype(str)
    (other,) = disproportionality.assess(shuffled, spec, 0.95)
    for key in ("ratio", "std_error"):
        assert other.evidence["triple_difference"][key] == pytest.approx(base.evidence["triple_difference"][key],
                                                                           rel=1e-8)


def test_the_leading_interval_decides_a_flag():
    """With few treated clusters the wild bootstrap (or randomisation) interval leads; a flag follows it."""
    import dataclasses

    from cpeval.consequences.refit import adverse_status, describe
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.estimation.inference import make_effect
    from cpeval.results import AlternativeInference

    effect = make_effect(OutcomeSpec(name="stops", column="stops", measure="count"), method="twfe", estimand="att",
                         estimate=2.0, std_error=0.5, level=0.95, df=None, n_obs=100, n_units=20, n_clusters=20,
                         variance_type="cluster")
    assert adverse_status(effect, "increase") == ("fail", False)  # analytic interval about (1.02, 2.98)
    alt = AlternativeInference(method="wild_bootstrap", p_value=0.2, conf_int=(-0.4, 4.1), replications=999,
                               enumerated=False, headline=True, statistic="t")
    led = dataclasses.replace(effect, inference=alt)
    assert adverse_status(led, "increase") == ("pass", False)
    assert describe(led)["conf_int"] == [-0.4, 4.1] and describe(led)["analytic_conf_int"][0] > 1
    beside = dataclasses.replace(effect, inference=dataclasses.replace(alt, headline=False))
    assert adverse_status(beside, "increase") == ("fail", False)
    no_interval = dataclasses.replace(alt, method="randomization", conf_int=(None, None))
    for p, expected in ((0.2, ("pass", False)), (0.01, ("fail", False))):
        test = dataclasses.replace(effect, inference=dataclasses.replace(no_interval, p_value=p))
        assert adverse_status(test, "increase") == expected


def test_subgroup_flags_read_the_bootstrap_and_holm_over_every_subgroup(design, city):
    """Under inference.method auto every subgroup gets the score bootstrap, leading (12 treated areas each: more
    than the few-clusters threshold, yet the analytic Poisson test over-rejects there), and a subgroup is harmed
    only when its Holm-adjusted p-value is below 0.05. Holm for two p-values by hand: with p1 <= p2 the adjusted
    values are min(1, 2 p1) and max(2 p1, p2)."""
    levels = subgroups.moderator_levels(city.panel, design, design.consequences.subgroups)
    (f,) = subgroups.assess(design, city.panel, design.consequences.subgroups, levels, "t")
    rows = f.evidence["subgroups"]
    assert all(r["inference"]["method"] == "score_bootstrap" and r["inference"]["headline"] for r in rows)
    assert all(r["flag_p_value"] == r["inference"]["p_value"] for r in rows)
    p1, p2 = sorted(r["flag_p_value"] for r in rows)
    adjusted = sorted(r["holm_p_value"] for r in rows)
    assert adjusted == pytest.approx([min(1.0, 2 * p1), max(min(1.0, 2 * p1), p2)])
    for r in rows:
        assert r["harmful"] == (r["estimate"] > 0 and r["holm_p_value"] < 0.05)
    assert [r["subgroup"] for r in rows if r["harmful"]] == ["high"] and f.status == "fail"
    assert "Holm" in f.evidence["caveat"] and "at most 5%" in f.evidence["caveat"]
    assert "comes from the score bootstrap" in f.evidence["caveat"]
    raw = design.model_dump(mode="json", by_alias=True)
    raw["inference"]["method"] = "analytic"
    analytic = design_from_dict(raw)
    (g,) = subgroups.assess(analytic, city.panel, analytic.consequences.subgroups, levels, "t")
    assert all("inference" not in r and r["flag_p_value"] == r["p_value"] for r in g.evidence["subgroups"])
    assert "analytic (cluster-robust) test" in g.evidence["caveat"]


def test_a_subgroup_harmful_only_before_the_adjustment_is_a_warning(design, city, monkeypatch):
    """p-values 0.03 (adverse) and 0.5: 0.03 < 0.05 alone, but Holm's 2 x 0.03 = 0.06 is not."""
    from cpeval.consequences import refit

    levels = subgroups.moderator_levels(city.panel, design, design.consequences.subgroups)
    p = iter([0.03, 0.5] * 3)
    monkeypatch.setattr(refit, "flag_p_value", lambda e: next(p))
    monkeypatch.setattr(subgroups, "_adverse_way", lambda e, adverse_if: True)
    (f,) = subgroups.assess(design, city.panel, design.consequences.subgroups, levels, "t")
    assert f.status == "warn" and "not once the 2 subgroups examined are allowed for" in f.sentence
    assert [r["harmful_unadjusted"] for r in f.evidence["subgroups"]] == [True, False]
    assert not any(r["harmful"] for r in f.evidence["subgroups"])
