"""The evidence rating's rules, one by one (the levels are those of Farrington et al. 2002; see
cpeval.appraise.rating for each rule's text and source)."""

from __future__ import annotations

import pytest

from cpeval.appraise.rating import RULES, read_outcome, sms_level
from cpeval.payloads import ClusterCounts
from cpeval.results import CheckResult, Effect

Z95 = 1.959963984540054


def check(name: str, status: str) -> CheckResult:
    return CheckResult(name=name, status=status, message=f"{name} {status}", outcome="y")  # type: ignore[arg-type]


def effect(estimate: float = 0.0, se: float = 1.0, *, better_if: str = "decrease", treated: int | None = None):
    counts = () if treated is None else (ClusterCounts("unit", 10, treated, 10 - treated),)
    return Effect(outcome="y", family="crime", measure="count", better_if=better_if, estimand="att", method="twfe",
                  estimate=estimate, std_error=se, level=0.95, ci_lower=estimate - Z95 * se,
                  ci_upper=estimate + Z95 * se, p_value=0.5, n_obs=10, n_units=10, n_clusters=10,
                  variance_type="cluster", payloads=counts)


@pytest.mark.parametrize(("kind", "checks", "effects", "level", "reasons"), [
    ("rct", (), (), 5, ("rct",)),
    ("did", (check("pre_trends", "pass"),), (), 4, ("did_comparable",)),
    ("did", (), (), 3, ("did_untested",)),
    ("did", (check("pre_trends", "warn"),), (), 3, ("did_comparable", "pre_trends_warn")),
    ("did", (check("pre_trends", "fail"),), (), 2, ("did_comparable", "pre_trends_fail")),
    ("did", (check("pre_trends", "error"),), (), 3, ("did_untested",)),  # a test that errored tested nothing
    ("did", (check("pre_trends", "info"),), (), 3, ("did_untested",)),  # "not tested": no leads or no SE
    ("synthetic_control", (), (), 4, ("synth",)),
    ("synthetic_control", (check("balance", "warn"),), (), 4, ("synth",)),
    ("synthetic_control", (check("balance", "fail"),), (), 3, ("synth", "synth_fit")),
    ("synthetic_control", (check("convex_hull", "warn"),), (), 3, ("synth", "synth_fit")),
    ("synthetic_control", (check("convex_hull", "fail"),), (), 3, ("synth", "synth_fit")),
    ("rct", (check("attrition", "warn"),), (), 4, ("rct", "attrition")),
    ("rct", (check("balance", "fail"),), (), 4, ("rct", "imbalance")),
    ("did", (check("pre_trends", "pass"),), (effect(treated=3),), 3, ("did_comparable", "few_clusters")),
    ("did", (check("pre_trends", "pass"),), (effect(treated=5),), 4, ("did_comparable",)),
    ("rct", (check("attrition", "warn"),), (effect(treated=2),), 3, ("rct", "attrition", "few_clusters")),
])
def test_sms_level_rules(kind, checks, effects, level, reasons):
    assert sms_level(kind, checks, effects)[0] == level
    assert sms_level(kind, checks, effects)[2] == reasons


def test_the_worst_pre_trend_test_across_outcomes_decides():
    level, base, reasons = sms_level("did", (check("pre_trends", "pass"), check("pre_trends", "fail"),
                                             check("pre_trends", "warn")), ())
    assert (level, base, reasons) == (2, 4, ("did_comparable", "pre_trends_fail"))


@pytest.mark.parametrize(("estimate", "better_if", "level", "reading", "rule"), [
    (-3.0, "decrease", 4, "effective", "reading_effective"),
    (-3.0, "decrease", 5, "effective", "reading_effective"),
    (-3.0, "decrease", 3, "promising", "reading_promising"),
    (3.0, "decrease", 3, "harmful", "reading_harmful"),
    (3.0, "increase", 4, "effective", "reading_effective"),
    (0.5, "decrease", 4, "no_effect", "reading_no_effect"),
    (0.5, "decrease", 3, "inconclusive", "reading_inconclusive"),
    (-3.0, "decrease", 2, "inconclusive", "reading_floor"),
])
def test_reading_rules(estimate, better_if, level, reading, rule):
    r = read_outcome(effect(estimate, 1.0, better_if=better_if), level)
    assert (r.reading, r.rule) == (reading, rule)


def test_every_rule_has_a_source_and_is_reachable():
    assert all(r.source and r.text for r in RULES.values())
    used = {"rct", "did_comparable", "did_untested", "synth", "pre_trends_fail", "synth_fit", "attrition",
            "imbalance", "few_clusters", "reading_floor", "reading_effective", "reading_promising",
            "reading_harmful", "reading_no_effect", "reading_inconclusive", "pre_trends_warn"}
    assert set(RULES) == used


def test_rating_is_labelled_provisional_and_lists_its_rules():
    from cpeval.appraise.rating import rate
    from cpeval.results import EvaluationResult

    result = EvaluationResult(design={"outcomes": [{"name": "y", "role": "falsification"}]}, design_hash="h",
                              design_origin=None, data_sha256="d", data_summary={}, cpeval_version="0",
                              effects=(effect(-3.0),), checks=(check("pre_trends", "fail"),))
    rating = rate(result, "did")
    assert (rating.level, rating.readings[0].reading, rating.readings[0].role) == (2, "inconclusive", "falsification")
    text = rating.markdown()
    assert "This is cpeval's provisional assessment" in text
    assert "level **2** of 5 (level 4 before the downgrades below)" in text
    assert "- `pre_trends_fail`: The pre-treatment trend test fails" in text and "Sherman et al. (1997)" in text
    assert rating.to_dict()["reasons"] == ["did_comparable", "pre_trends_fail"]
