"""Claim verdicts on constructed re-analyses: every verdict and every claim scale (hand calculations in
tests/reference/appraise/claim_cases.json)."""

from __future__ import annotations

import json
import math

import pytest

from _support import REFERENCE
from cpeval.appraise.claim import judge
from cpeval.designs.claim import ClaimedOutcome, ClaimSpec
from cpeval.payloads import OutcomeBaseline, OutcomeDefinition, OutcomeInfo
from cpeval.results import Effect

REF = json.loads((REFERENCE / "appraise" / "claim_cases.json").read_text())
Z95 = 1.959963984540054
TOL = REF["tolerance"]["absolute"]
SOURCE = {"title": "Grantee final report 2025", "page": 12, "table": "Table 3"}


def effect(estimate: float, se: float, *, measure: str = "log", baseline: float | None = None,
           bounds: tuple[float, float] | None = None) -> Effect:
    lo, hi = bounds if bounds is not None else (estimate - Z95 * se, estimate + Z95 * se)
    info = () if baseline is None else (OutcomeInfo(OutcomeDefinition("crime", measure, False),
                                                    OutcomeBaseline("treated units before treatment", baseline)),)
    return Effect(outcome="burglary", family="crime", measure=measure, better_if="decrease", estimand="att",
                  method="twfe", estimate=estimate, std_error=se, level=0.95, ci_lower=lo, ci_upper=hi,
                  p_value=0.01, n_obs=100, n_units=10, n_clusters=10, variance_type="cluster",
                  payloads=info)


def claim(estimate: float, scale: str, *, ci=None, se=None) -> ClaimedOutcome:
    return ClaimedOutcome(outcome="burglary", estimate=estimate, conf_int=ci, std_error=se, scale=scale,
                          source=SOURCE)


LOG = effect(0.10, 0.04)
LEVEL = effect(-2.0, 0.5, measure="count", baseline=20.0)


@pytest.mark.parametrize(("c", "verdict", "reproduces"), [
    (claim(0.105, "log_points", se=0.04), "reproduced", True),
    (claim(10.5, "percent_change", ci=(2.0, 19.5)), "reproduced", True),
    (claim(1.105, "rate_ratio", ci=(1.02, 1.2)), "reproduced", True),
    (claim(0.15, "log_points", se=0.05), "larger", True),  # inside [0.0216, 0.1784]: within sampling error
    (claim(0.03, "log_points", se=0.02), "smaller", True),
    (claim(0.01, "log_points", se=0.02), "smaller", False),  # below 0.0216: beyond sampling error
    (claim(25.0, "percent_change", ci=(10.0, 40.0)), "larger", False),  # the inflated claim
    (claim(-0.10, "log_points", se=0.03), "different_sign", False),
])
def test_verdicts_on_a_log_scale_effect(c, verdict, reproduces):
    v = judge(c, LOG, "log", 0.10)
    assert (v.verdict, v.reproduces) == (verdict, reproduces), v.reason


@pytest.mark.parametrize(("c", "verdict", "reproduces"), [
    (claim(-2.1, "level", ci=(-3.1, -1.1)), "reproduced", True),
    (claim(-10.0, "percent_change", ci=(-15.0, -5.0)), "reproduced", True),  # -10% of 20 = -2
    (claim(-25.0, "percent_change", ci=(-35.0, -15.0)), "larger", False),  # -5, outside [-2.98, -1.02]
    (claim(-1.5, "level", se=0.4), "smaller", True),
    (claim(2.0, "level", se=0.5), "different_sign", False),
])
def test_verdicts_on_a_level_effect(c, verdict, reproduces):
    v = judge(c, LEVEL, "level", 0.10)
    assert (v.verdict, v.reproduces) == (verdict, reproduces), v.reason


def test_inflated_claim_numbers_match_the_hand_calculation():
    v = judge(claim(25.0, "percent_change", ci=(10.0, 40.0)), LOG, "log", 0.10)
    assert v.reanalysis == pytest.approx(10.5171, abs=TOL)
    assert v.difference == pytest.approx(14.4829, abs=TOL)
    assert v.ratio == pytest.approx(2.23144, abs=TOL)
    assert v.z_difference == pytest.approx(1.6781, abs=TOL)
    assert v.beyond_sampling_error is True
    assert "beyond sampling error" in v.reason and "larger by 14.48" in v.reason


def test_percent_of_a_level_effect_uses_the_baseline():
    v = judge(claim(-25.0, "percent_change", ci=(-35.0, -15.0)), LEVEL, "level", 0.10)
    assert v.reanalysis == pytest.approx(-10.0, abs=TOL)
    assert v.reanalysis_interval[0] == pytest.approx(100 * (-2.0 - Z95 * 0.5) / 20, abs=TOL)


def test_not_significant_on_reanalysis():
    weak = effect(0.05, 0.04)  # interval [-0.028, 0.128] includes zero
    v = judge(claim(0.05, "log_points", se=0.01), weak, "log", 0.10)
    assert v.verdict == "not_significant" and not v.reproduces
    # a claim that was not significant either is judged on its size
    assert judge(claim(0.05, "log_points", se=0.04), weak, "log", 0.10).verdict == "reproduced"


def test_cannot_compare_without_a_finite_interval_or_a_baseline():
    unbounded = effect(0.10, math.nan, bounds=(-math.inf, math.inf))
    v = judge(claim(0.10, "log_points", se=0.04), unbounded, "log", 0.10)
    assert v.verdict == "cannot_compare" and "no finite estimate and interval" in v.reason
    no_base = effect(-2.0, 0.5, measure="count")
    v = judge(claim(-10.0, "percent_change", ci=(-15.0, -5.0)), no_base, "level", 0.10)
    assert v.verdict == "cannot_compare" and "pre-treatment mean" in v.reason


def test_verdict_is_invariant_to_the_claims_scale():
    """The same claim written as a percent change, log points or a rate ratio gets the same verdict."""
    b = math.log(1.25)
    forms = [claim(25.0, "percent_change", ci=(10.0, 40.0)),
             claim(b, "log_points", se=(math.log(1.4) - math.log(1.1)) / (2 * Z95)),
             claim(1.25, "rate_ratio", ci=(1.1, 1.4))]
    verdicts = [judge(c, LOG, "log", 0.10) for c in forms]
    assert {(v.verdict, v.reproduces) for v in verdicts} == {("larger", False)}
    assert [v.z_difference for v in verdicts] == pytest.approx([verdicts[0].z_difference] * 3, abs=1e-9)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(estimate=0.3, conf_int=(0.1, 0.2), scale="log_points"), "does not contain the estimate"),
    (dict(estimate=0.1, scale="log_points"), "give conf_int"),
    (dict(estimate=10.0, std_error=2.0, scale="percent_change"), "not symmetric"),
    (dict(estimate=-0.5, conf_int=(-0.6, 0.1), scale="rate_ratio"), "must be positive"),
])
def test_claim_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ClaimedOutcome(outcome="y", source=SOURCE, **kwargs)


@pytest.mark.parametrize(("scale", "effect_scale", "measure", "message"), [
    ("level", "log", "log", "'level' cannot be read from outcome 'y'"),
    ("log_points", "level", "count", "'log_points' cannot be read"),
    ("percent_change", "level", "proportion", "'percent_change' cannot be read"),
])
def test_scale_the_outcome_cannot_give(scale, effect_scale, measure, message):
    spec = ClaimSpec(outcomes=[ClaimedOutcome(outcome="y", estimate=1.5, conf_int=(1.2, 1.8), scale=scale,
                                              source=SOURCE)])
    with pytest.raises(ValueError, match=message):
        spec.check_outcomes({"y": measure}, effect_scale)


def test_outcome_the_design_does_not_have():
    spec = ClaimSpec(outcomes=[claim(0.1, "log_points", se=0.04)])
    with pytest.raises(ValueError, match="'burglary' is not an outcome of this design; outcomes: y"):
        spec.check_outcomes({"y": "log"}, "log")


def test_robustness_findings_bearing_on_a_claim():
    from cpeval.appraise.claim import robustness_findings
    from cpeval.consequences.result import ConsequencesResult, Finding
    from cpeval.results import CheckResult, EvaluationResult

    checks = (CheckResult("pre_trends", "fail", "joint test p = 0.01", outcome="burglary"),
              CheckResult("pre_trends", "pass", "joint test p = 0.6", outcome="robbery"),
              CheckResult("honest_did", "info", "robust intervals", outcome="burglary",
                          values={"breakdown_mbar": 0.5}),
              CheckResult("attrition", "warn", "differential attrition 12 points"))
    displaced = Finding(topic="displacement", name="spatial displacement: burglary", status="warn",
                        sentence="crime rose in the buffer", outcome="burglary")
    result = EvaluationResult(design={}, design_hash="h", design_origin=None, data_sha256="d", data_summary={},
                              cpeval_version="0", effects=(LOG,), checks=checks,
                              consequences=ConsequencesResult(findings=(displaced,)))
    found = robustness_findings(result, "burglary")
    assert found[0] == "pre-treatment trends (fail): joint test p = 0.01"
    assert not any("0.6" in f for f in found)  # another outcome's check
    assert "attrition (warn): differential attrition 12 points" in found  # a design-wide check
    assert any(f.startswith("honest DiD breakdown value Mbar = 0.5:") for f in found)
    assert found[-1] == "displacement (warn): crime rose in the buffer"


def test_markdown_leads_with_the_verdict_and_states_the_rule():
    from cpeval.appraise.claim import ClaimValidation

    verdicts = (judge(claim(0.105, "log_points", se=0.04), LOG, "log", 0.10),
                judge(claim(25.0, "percent_change", ci=(10.0, 40.0)), LOG, "log", 0.10))
    text = ClaimValidation(by="grantee", verdicts=verdicts).markdown()
    assert text.startswith("## Validation of the claim")
    assert "**Not every claimed effect reproduces.**" in text
    assert "| burglary | log points | 0.105 (SE 0.04) |" in text
    # 100 * (exp(0.10) - 1) = 10.52 with the interval's bounds 0.0216 and 0.1784 transformed the same way
    row = "| burglary | percent change | 25 [10, 40] | 10.52 [2.184, 19.53] | reproduced but the claim is larger |"
    assert row in text
    assert "claimed estimate lies outside the re-analysis interval" in text
