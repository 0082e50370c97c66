"""econml conditional effects by subgroup and the refuters (dowhy for trials, placebo timing for panels)."""

from __future__ import annotations

import pytest

from _support import DESIGNS
from cpeval.consequences import conditional, refute
from cpeval.consequences.run import prepare
from cpeval.datasets.city import simulate_city_trial, simulate_hotspot_city
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import DesignError


@pytest.fixture(scope="module")
def trial_design():
    return load_design(DESIGNS / "city_outreach_trial.yaml")


@pytest.fixture(scope="module")
def trial():
    return simulate_city_trial()


def _rows(finding):
    return {r["subgroup"]: r for r in finding.evidence["subgroups"]}


def test_conditional_effects_find_the_harmed_subgroup_and_cover_the_truth(trial_design, trial):
    spec = trial_design.consequences.subgroups.model_copy(update={"moderators": ["prior_victim"]})
    (f,) = conditional.assess(trial_design, trial.frame, spec)
    rows = _rows(f)
    assert rows["prior_victim = yes"]["harmful"] and not rows["prior_victim = no"]["harmful"]
    for level in ("yes", "no"):
        lo, hi = rows[f"prior_victim = {level}"]["conf_int"]
        assert lo < trial.truth[f"prior_victim_{level}"] < hi
    assert f.status == "fail" and "prior_victim = yes" in f.sentence
    assert f.evidence["seed"] == trial_design.inference.seed and "by chance" in f.evidence["caveat"]
    # the same seed gives the same numbers
    (again,) = conditional.assess(trial_design, trial.frame, spec)
    assert _rows(again) == rows


def test_dowhy_refuters_survive_on_the_trial(trial_design, trial):
    from cpeval.pipeline import evaluate

    result = evaluate(trial_design)
    found = {f.name.split(":")[0]: f for f in result.consequences.findings if f.topic == "refutation"}
    assert set(found) == {"placebo treatment", "random common cause", "data subset"}
    assert all(f.status == "pass" and "survives" in f.sentence for f in found.values())
    assert abs(found["placebo treatment"].evidence["new_effect"]) < found["placebo treatment"].evidence["tolerance"]


def test_placebo_timing_passes_without_and_fails_with_a_pre_trend():
    design = load_design(DESIGNS / "hotspots_displacement.yaml")
    frame = simulate_hotspot_city().panel
    from cpeval.consequences.refit import fit, variant

    effect = fit(variant(design, outcomes=[design.outcomes[0].model_dump(mode="json", by_alias=True)]), frame,
                 "robbery", "t")
    (ok,) = refute.assess(design, frame, [effect], ["placebo_timing"], 10)
    assert ok.status == "pass" and ok.evidence["placebo_start"] == 5
    trend = frame.copy()  # treated areas' robbery rising 15% a quarter before the programme
    pre_t = (trend["role"] == "treated") & (trend["quarter"] < 9)
    trend.loc[pre_t, "robbery"] = (trend.loc[pre_t, "robbery"] * 1.15 ** trend.loc[pre_t, "quarter"]).round()
    (bad,) = refute.assess(design, trend, [effect], ["placebo_timing"], 10)
    assert bad.status == "fail" and "does not survive" in bad.sentence


def test_refuters_and_conditional_effects_checked_against_the_design_kind(trial_design):
    did = load_design(DESIGNS / "hotspots_displacement.yaml")
    raw = did.model_dump(mode="json", by_alias=True)
    raw["consequences"] = {"refute": ["placebo_treatment"]}
    with pytest.raises(DesignError, match="refute a covariate-adjusted contrast of a trial"):
        prepare(design_from_dict(raw))
    raw["consequences"] = {"subgroups": {"moderators": ["deprivation"], "conditional": {"model": "linear_dml"}}}
    with pytest.raises(DesignError, match=r"conditional \(econml\) needs a trial"):
        prepare(design_from_dict(raw))
    raw = trial_design.model_dump(mode="json", by_alias=True)
    raw["consequences"] = {"refute": ["placebo_timing"]}
    with pytest.raises(DesignError, match="placebo_timing needs a panel"):
        prepare(design_from_dict(raw))
    raw["consequences"] = {"displacement": {"roles_column": "ward"}}
    with pytest.raises(DesignError, match="displacement needs areas observed before and after"):
        prepare(design_from_dict(raw))


def test_placebo_timing_read_by_a_randomisation_test_without_interval_uses_its_p_value(monkeypatch):
    """With very few treated areas a Poisson (or Callaway & Sant'Anna) placebo is led by randomisation
    inference, which gives no interval: the refuter reads its p-value, not the analytic interval beside it."""
    import dataclasses

    from cpeval.consequences import refit
    from cpeval.results import AlternativeInference

    design = load_design(DESIGNS / "hotspots_displacement.yaml")
    frame = simulate_hotspot_city().panel
    one = refit.variant(design, outcomes=[design.outcomes[0].model_dump(mode="json", by_alias=True)])
    real = refit.fit(one, frame, "robbery", "t")
    for p, analytic_half, status in ((0.40, 0.01, "pass"), (0.01, 100.0, "fail")):
        # the analytic interval says the opposite of the randomisation test
        alt = AlternativeInference(method="randomization", p_value=p, conf_int=(None, None), replications=999,
                                   enumerated=False, headline=True, statistic="the estimate", reason="auto")
        placebo = dataclasses.replace(real, estimate=0.2, std_error=analytic_half / 1.96, inference=alt,
                                      ci_lower=0.2 - analytic_half, ci_upper=0.2 + analytic_half)
        before = refute._finding("placebo_timing", "robbery", 0.2, 0.0, analytic_half, {})
        assert before.status != status  # read by the analytic interval, the finding would be the opposite
        monkeypatch.setattr(refit, "fit", lambda *a, placebo=placebo, **k: placebo)
        (finding,) = refute.assess(design, frame, [real], ["placebo_timing"], 10)
        assert finding.status == status, (p, finding.sentence)
        assert f"randomisation p = {p:.3g}" in finding.sentence and finding.evidence["tolerance"] is None
