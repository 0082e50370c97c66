"""Typed payloads: every payload class survives results.json (to_dict -> JSON -> from_dict) unchanged, keys are
unique, and an Effect writes each payload under its key."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from cpeval import payloads
from cpeval.payloads import (
    ClusterCounts,
    EventPath,
    FearScale,
    FirstStage,
    GroupTimeFit,
    GroupTimePercent,
    GroupTimePretest,
    GroupTimeSummary,
    HarmContributions,
    HarmOffence,
    HarmWeight,
    LeeBounds,
    OtherEstimand,
    OutcomeBaseline,
    OutcomeDefinition,
    OutcomeInfo,
    Payload,
    RateRatio,
    SurveySummary,
    SurveyWave,
    SynthAlternative,
    SynthFit,
    SynthPredictor,
    SynthUnit,
    TrialTests,
    WaldTest,
)
from cpeval.pipeline import evaluate

EXAMPLES: dict[type, Payload] = {
    ClusterCounts: ClusterCounts("state", 40, 3, 37, 2.9),
    EventPath: EventPath(event_times=(-3, -2, 0, 1), vcov=((1.0, 0.1, 0.0, 0.0), (0.1, 1.0, 0.0, 0.0),
                                                         (0.0, 0.0, 2.0, 0.5), (0.0, 0.0, 0.5, 2.0)),
                         reference_period=-1, window=(-3, 1), bin_endpoints=True, headline="average",
                         uniform_band_critical_value=2.4,
                         pretrend_test=WaldTest(statistic=3.2, df=2, df2=39.0, p_value=0.05, chi2_p_value=0.2,
                                                f_statistic=1.6)),
    RateRatio: RateRatio(form="twfe", exposure=None, rate_ratio=0.9, rate_ratio_ci=(0.8, 1.01), percent_change=-10.0,
                         level_att=-0.3, level_att_std_error=0.1),
    SynthFit: SynthFit(
        treated_units=("A", "B"), donors=("C", "D"), start=1989, n_pre=19, n_post=12, pre_rmspe=1.8,
        post_rmspe=20.0, weights={"C": 0.7, "D": 0.3}, rmspe_ratio=11.1, v={"lag": 1.0}, v_optimised=True,
        predictors=(SynthPredictor("lag", 100.0, 99.0, 120.0, 1.0),), fit_window_mspe=3.2, predictor_loss=1.0,
        starts=({"start": "equal", "loss": 3.2},), alternatives=(SynthAlternative(3.3, {"D": 1.0}),),
        per_unit={"A": SynthUnit(weights={"C": 1.0}, v={"lag": 1.0}, v_optimised=False,
                                 predictors=(SynthPredictor("lag", 1.0, 1.0, 2.0, 1.0),), fit_window_mspe=0.1,
                                 predictor_loss=0.0, pre_rmspe=0.3, post_rmspe=1.0, starts=(),
                                 alternatives=(), att=-2.0)},
        time_weights={"1988": 1.0}),
    TrialTests: TrialTests(p_value_raw=0.01, p_value_adjusted=0.03, multiple_testing="holm", family_size=3,
                           ri_p_value=0.02, ri_draws=2000, ri_exact=False, ri_statistic="difference in means"),
    OtherEstimand: OtherEstimand("cace", 1.2, 0.4, 119.0, "CR2", 0.004, 0.4, 2.0),
    FirstStage: FirstStage(coefficient=0.8, f_statistic=150.0, partial_r2=0.5, take_up_treated=0.85,
                           take_up_control=0.05),
    GroupTimeFit: GroupTimeFit(
        aggregation="simple", aggregations={"simple": GroupTimeSummary(-0.04, 0.012, -0.064, -0.016, 0.001, 0.011),
                                            "dynamic": GroupTimeSummary(-0.07, None, None, None, None)},
        approach="dr", approach_name="doubly robust", control_group="never_treated", base_period="varying",
        anticipation=0, balance_e=None, event_window=(None, 3), layout="balanced panel",
        cohort_sizes={"2004": 20, "2006": 40}, never_treated_units=309,
        pretest=GroupTimePretest(statistic=6.1, df=5, p_value=0.3, excluded_cohorts=(2004,), note="rank 5"),
        percent_change=GroupTimePercent("simple", -4.1, 1.2, -6.5, -1.7, 0.001, 5.8, "of the mean")),
    OutcomeInfo: OutcomeInfo(
        definition=OutcomeDefinition(family="seriousness", measure="level", derived=True, per=1000.0,
                                     rate="per 1,000 residents (pop)", weights={"table": "cambridge_chi"},
                                     unit="days", offences=(HarmWeight("burglary", "burg", 30.0, "Burglary"),),
                                     fear=FearScale(("safe",), ("very safe", "unsafe"), ("unsafe",), (9,), "share"),
                                     survey_rows_read=19098),
        baseline=OutcomeBaseline("treated units before treatment", 12.5, -8.0, (-12.0, -4.0)),
        harm_contributions=HarmContributions(
            unit="days", scale="level", sum_of_contributions=-1.0, total_effect=-1.0, additive=True,
            offences=(HarmOffence("burglary", "burg", 30.0, "Burglary", baseline_harm=12.5, estimate=-1.0,
                                  ci_lower=-2.0, ci_upper=0.0),
                      HarmOffence("theft", "theft", 1.0, "Theft", error="not identified"))),
        survey=SurveySummary(by_wave=(SurveyWave(2021, "treated", 0.3, 0.02, 20, 800),), respondents=800,
                             cluster="ward", cronbach_alpha=0.8, victimisation={"prevalence": 0.2})),
    LeeBounds: LeeBounds(lower=-0.2, upper=0.1, trim_share=0.05, trimmed_arm="treated", observed_rate_treated=0.9,
                         observed_rate_control=0.85, ci_lower=-0.3, ci_upper=0.2, bootstrap=199, note=""),
}


def _all_payload_classes() -> set[type]:
    found: set[type] = set()
    todo = [Payload]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub.__module__ == payloads.__name__:
                found.add(sub)
                todo.append(sub)
    return found


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN (a payload's NaN is written as null and read back as NaN)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Payload) and type(a) is type(b):
        return all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


def test_every_payload_class_has_an_example_and_a_unique_key():
    assert _all_payload_classes() == set(EXAMPLES)
    keys = [cls.key for cls in EXAMPLES]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("cls", sorted(EXAMPLES, key=lambda c: c.key), ids=lambda c: c.key)
def test_round_trip_through_json(cls):
    original = EXAMPLES[cls]
    text = json.dumps(original.to_dict(), allow_nan=False)  # strict JSON: NaN must already be null
    back = cls.from_dict(json.loads(text))
    assert type(back) is cls
    assert _same(back, original), (back, original)
    assert back.to_dict() == original.to_dict()


def test_nan_is_written_as_null_and_read_back_as_nan():
    counts = ClusterCounts("u", 3, 1, 2, None)
    assert ClusterCounts.from_dict(json.loads(json.dumps(counts.to_dict()))).effective is None
    lee = LeeBounds(lower=math.nan, upper=0.1, trim_share=0.0, trimmed_arm="control", observed_rate_treated=1.0,
                    observed_rate_control=1.0, ci_lower=math.nan, ci_upper=math.nan, bootstrap=0, note="none")
    d = lee.to_dict()
    assert d["lower"] is None
    assert math.isnan(LeeBounds.from_dict(d).lower)
    no_leads = WaldTest(statistic=math.nan, df=0, df2=None, p_value=math.nan, chi2_p_value=math.nan)
    back = EventPath.from_dict(json.loads(json.dumps(replace(EXAMPLES[EventPath], pretrend_test=no_leads).to_dict())))
    assert back.pretrend_test.df == 0 and back.pretrend_test.df2 is None and math.isnan(back.pretrend_test.statistic)


def test_a_field_a_payload_does_not_declare_is_an_error_not_lost():
    data = {**EXAMPLES[ClusterCounts].to_dict(), "treated_share": 0.1}
    with pytest.raises(ValueError, match="ClusterCounts has no field 'treated_share'"):
        ClusterCounts.from_dict(data)


def test_an_effect_writes_its_payloads_under_their_keys_and_they_read_back():
    rng = np.random.default_rng(0)
    units, periods = 12, 6
    df = pd.DataFrame({"unit": np.repeat(np.arange(units), periods), "period": np.tile(np.arange(periods), units)})
    df["post"] = ((df["unit"] < 4) & (df["period"] >= 3)).astype(int)
    df["y"] = rng.normal(size=len(df)) + df["post"]
    design = {"name": "p", "kind": "did", "data": {"path": "x.csv", "unit": "unit", "time": "period"},
              "treatment": {"indicator": "post"}, "estimator": {"method": "twfe"},
              "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
              "inference": {"method": "analytic"}}
    (effect,) = evaluate(design, data=df).effects
    written = json.loads(json.dumps(effect.to_dict()))["diagnostics"]
    counts = effect.payload(ClusterCounts)
    assert counts is not None and (counts.total, counts.treated, counts.untreated) == (12, 4, 8)
    assert ClusterCounts.from_dict(written[ClusterCounts.key]) == counts
