"""Typed payloads an estimator attaches to an :class:`~cpeval.results.Effect`, read by attribute.

Checks and the report ask ``effect.payload(LeeBounds)`` instead of looking up a dictionary key, so a renamed
or missing field is an error where it is read rather than a silently empty section. Each payload is a frozen
dataclass with a ``key``: results.json writes it (``to_dict``) into the Effect's ``diagnostics`` under that
key, and ``from_dict`` reads it back from there (NaN, written as null, comes back as NaN).

Adding a payload: a frozen dataclass here subclassing :class:`Payload` with its own ``key``; the estimator
passes it to ``make_effect(..., payloads=(...,))``; readers call ``effect.payload(TheClass)``; tests/test_payloads.py
needs one example of it for the JSON round trip (every subclass of :class:`Payload` is required there).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cpeval.results import jsonable


@dataclass(frozen=True)
class Payload:
    """Base of the typed payloads: ``key`` names it in results.json's ``diagnostics``."""

    key: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: typing.Mapping[str, Any]) -> Any:
        """The payload written by ``to_dict`` (results.json's ``diagnostics[key]``): lists become tuples,
        nested dataclasses are rebuilt, and a null float is NaN again."""
        return _build(cls, data)

    @classmethod
    def split(cls, data: typing.Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
        """``data`` as this payload, built from its fields' keys (as plain JSON types), and the other keys."""
        names = {f.name for f in dataclasses.fields(cls)}
        return (cls.from_dict(jsonable({k: v for k, v in data.items() if k in names})),
                {k: v for k, v in data.items() if k not in names})

    @classmethod
    def carve(cls, effect: Any) -> Any:
        """``effect`` (an Effect) with this payload's fields taken out of its ``diagnostics`` into a payload."""
        payload, rest = cls.split(effect.diagnostics)
        return dataclasses.replace(effect, diagnostics=rest, payloads=(*effect.payloads, payload))


def _build(cls: type, data: typing.Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:  # a field added where the payload is built but not declared here would be lost silently
        raise ValueError(f"{cls.__name__} has no field {', '.join(map(repr, unknown))}; declare it in cpeval.payloads")
    return cls(**{name: _revive(hints[name], value) for name, value in data.items()})


def _revive(hint: Any, value: Any) -> Any:
    """``value`` (plain JSON) as the type ``hint`` declares: tuples for lists, payloads for their dicts."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return float("nan") if float in args and type(None) not in args else None
        inner = [a for a in args if a is not type(None)]
        return _revive(inner[0], value) if len(inner) == 1 else value
    if value is None:
        return math.nan if hint is float else None
    if dataclasses.is_dataclass(hint):
        return _build(hint, value)  # type: ignore[arg-type]
    if origin is dict and len(args) == 2:
        return {k: _revive(args[1], v) for k, v in value.items()}
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_revive(args[0], v) for v in value)
        return tuple(_revive(a, v) for a, v in zip(args, value, strict=True)) if args else tuple(value)
    if hint is float:
        return float(value)
    return value


@dataclass(frozen=True)
class ClusterCounts(Payload):
    """The clusters that carry a comparison: in all, treated (holding a unit whose treatment starts in the
    data), untreated, and the effective number G* of Carter, Schnepel & Steigerwald (2017) for the
    reported coefficient (None where it is not computed)."""

    key: ClassVar[str] = "cluster_counts"
    column: str
    total: int
    treated: int
    untreated: int
    effective: float | None = None


@dataclass(frozen=True)
class LeeBounds(Payload):
    """Lee (2009) bounds on a trial's effect for those whose outcome would be observed in either arm, with a
    bootstrap interval for the bounds (``ci_lower`` below the lower bound, ``ci_upper`` above the upper)."""

    key: ClassVar[str] = "lee_bounds"
    lower: float
    upper: float
    trim_share: float  # share of the better-observed arm's outcomes trimmed
    trimmed_arm: str  # "treated" or "control"
    observed_rate_treated: float
    observed_rate_control: float
    ci_lower: float
    ci_upper: float
    bootstrap: int  # bootstrap replications behind the interval
    note: str


@dataclass(frozen=True)
class WaldTest:
    """Joint Wald test that coefficients are zero: chi2(``df``), and F(``df``, ``df2``) when ``df2`` is given
    (then ``p_value`` is the F test's). With no coefficient to test, ``df`` is 0 and the rest NaN."""

    statistic: float
    df: int
    df2: float | None
    p_value: float
    chi2_p_value: float
    f_statistic: float = math.nan


@dataclass(frozen=True)
class EventPath(Payload):
    """Event-time coefficients of an event study: the event times (reference omitted, in the order of
    ``vcov``'s rows), their covariance, the window, the sup-t band's critical value and the joint test of
    the leads. The coefficients themselves are the Effect's ``path`` rows."""

    key: ClassVar[str] = "event_study"
    event_times: tuple[int, ...]
    vcov: tuple[tuple[float, ...], ...]
    reference_period: int
    window: tuple[int, int]
    bin_endpoints: bool
    headline: str  # what the headline estimate averages
    uniform_band_critical_value: float
    pretrend_test: WaldTest


@dataclass(frozen=True)
class RateRatio(Payload):
    """A Poisson difference-in-differences on the rate-ratio scale: the ratio exp(b) with its interval (NaN
    when the design cannot estimate its sampling error), the % change, and the same effect as the average
    treated cell's change in the expected count per unit-period (its SE by the delta method, the unit and
    period effects held at their estimates)."""

    key: ClassVar[str] = "poisson"
    form: str  # "twfe" (one ratio) or "extended" (cohort x period ratios averaged)
    exposure: str | None  # the population column offsetting the counts, or None
    rate_ratio: float
    rate_ratio_ci: tuple[float, float]
    percent_change: float
    level_att: float
    level_att_std_error: float


@dataclass(frozen=True)
class SynthPredictor:
    """One predictor of a synthetic control: the treated unit's value, the synthetic control's, the donors'
    mean (raw scale) and its weight V."""

    predictor: str
    treated: float
    synthetic: float
    donor_mean: float
    v: float


@dataclass(frozen=True)
class SynthAlternative:
    """Another start of the V search reaching nearly the same fit-window MSPE with other donor weights."""

    fit_window_mspe: float
    weights: dict[str, float]  # donors with weight >= 0.001


@dataclass(frozen=True)
class SynthUnit:
    """One treated unit's synthetic control (several treated units fitted separately)."""

    weights: dict[str, float]  # donor -> weight, largest first
    v: dict[str, float]
    v_optimised: bool
    predictors: tuple[SynthPredictor, ...]
    fit_window_mspe: float
    predictor_loss: float
    pre_rmspe: float
    post_rmspe: float
    starts: tuple[dict[str, Any], ...]
    alternatives: tuple[SynthAlternative, ...]
    att: float


@dataclass(frozen=True)
class SynthFit(Payload):
    """What a synthetic control fitted: treated units and donors, the treatment start, the pre- and
    post-period RMSPE of the gap and their ratio (None when the pre-period fit is exact), the donor weights
    (largest first) and, for the simplex-weighted methods (abadie, augmented), the predictors with their V,
    the fit-window MSPE, alternative solutions and, with several treated units fitted separately, each
    unit's own fit (``per_unit``; the fields above are then the first unit's). Synthetic DiD adds its time
    weights. The treated, synthetic and gap series are the Effect's ``path`` rows."""

    key: ClassVar[str] = "synthetic_control"
    treated_units: tuple[str, ...]
    donors: tuple[str, ...]
    start: Any  # the design's treatment start (a period label)
    n_pre: int
    n_post: int
    pre_rmspe: float
    post_rmspe: float
    weights: dict[str, float]
    rmspe_ratio: float | None = None
    v: dict[str, float] | None = None
    v_optimised: bool | None = None
    predictors: tuple[SynthPredictor, ...] = ()
    fit_window_mspe: float | None = None
    predictor_loss: float | None = None
    starts: tuple[dict[str, Any], ...] = ()
    alternatives: tuple[SynthAlternative, ...] = ()
    per_unit: dict[str, SynthUnit] = field(default_factory=dict)
    time_weights: dict[str, float] | None = None  # synthetic DiD's pre-period weights (above 1e-6)

    def all_weights(self) -> dict[str, float]:
        """Each donor's largest weight across the treated units' synthetic controls."""
        out = dict(self.weights)
        for unit in self.per_unit.values():
            for k, w in unit.weights.items():
                out[k] = max(out.get(k, 0.0), w)
        return out


@dataclass(frozen=True)
class TrialTests(Payload):
    """A trial outcome's p-values: raw, adjusted for the family of ``family_size`` outcomes by
    ``multiple_testing`` (holm, romano_wolf, bh or none), and by randomisation inference (``ri_p_value``
    from ``ri_draws`` re-randomisations, all of them when ``ri_exact``; None when not run)."""

    key: ClassVar[str] = "trial_tests"
    p_value_raw: float
    p_value_adjusted: float
    multiple_testing: str
    family_size: int
    ri_p_value: float | None = None
    ri_draws: int = 0
    ri_exact: bool | None = None
    ri_statistic: str | None = None  # what was re-randomised


@dataclass(frozen=True)
class OtherEstimand(Payload):
    """The trial's other estimand beside the headline: the ITT when the headline is the CACE, the CACE (by
    instrumental variables) when the design records take-up. The interval is given for the CACE only."""

    key: ClassVar[str] = "other_estimand"
    estimand: str  # "itt" or "cace"
    estimate: float
    std_error: float
    df: float | None
    variance_type: str
    p_value: float
    ci_lower: float | None = None
    ci_upper: float | None = None


@dataclass(frozen=True)
class FirstStage(Payload):
    """The first stage of the CACE's instrumental-variables fit: assignment's effect on take-up."""

    key: ClassVar[str] = "first_stage"
    coefficient: float
    f_statistic: float
    partial_r2: float
    take_up_treated: float
    take_up_control: float


@dataclass(frozen=True)
class GroupTimeSummary:
    """One aggregation of the ATT(g,t): its estimate with SE, interval and p-value (None where the variance
    is not estimable), and the analytic SE beside a bootstrap one."""

    estimate: float
    std_error: float | None
    ci_lower: float | None
    ci_upper: float | None
    p_value: float | None
    analytic_std_error: float | None = None


@dataclass(frozen=True)
class GroupTimePretest:
    """Wald test that every pre-treatment ATT(g,t) is zero (chi2 with ``df`` the rank of their variance;
    ``df`` 0 and None values when there is nothing to test); cohorts too small to enter are listed."""

    statistic: float | None
    df: int
    p_value: float | None
    excluded_cohorts: tuple[Any, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class GroupTimePercent:
    """The headline aggregation as a percentage of the treated units' counterfactual mean outcome."""

    aggregation: str
    estimate: float
    std_error: float
    ci_lower: float
    ci_upper: float
    p_value: float
    counterfactual_mean: float
    note: str = ""


@dataclass(frozen=True)
class GroupTimeFit(Payload):
    """What a Callaway & Sant'Anna fit compared and how: the comparison group, estimation approach, base
    period, anticipation and data layout; the headline aggregation and all four (simple, dynamic, group,
    calendar); the event window and balance of the dynamic one; cohort sizes; the pre-trend test; the % change.
    The ATT(g,t) and aggregated paths are the Effect's ``path`` rows."""

    key: ClassVar[str] = "group_time"
    aggregation: str
    aggregations: dict[str, GroupTimeSummary]
    approach: str
    approach_name: str
    control_group: str  # "never_treated" or "not_yet_treated"
    base_period: str
    anticipation: int
    balance_e: int | None
    event_window: tuple[int | None, int | None]
    layout: str  # "balanced panel", "unbalanced panel" or "repeated cross-sections"
    cohort_sizes: dict[str, int]
    never_treated_units: int
    pretest: GroupTimePretest
    percent_change: GroupTimePercent | None = None


@dataclass(frozen=True)
class HarmWeight:
    """One offence of a harm index: the count column it comes from, its weight and its label."""

    offence: str
    column: str
    weight: float
    label: str


@dataclass(frozen=True)
class FearScale:
    """A fear-of-crime measure: its item columns, the answer scale (least to most fearful), the answers counted
    as fearful (a share) or None (a scale position or an index), codes read as missing, and what it is."""

    items: tuple[str, ...]
    scale: tuple[Any, ...]
    fearful: tuple[Any, ...] | None
    missing: tuple[Any, ...]
    kind: str


@dataclass(frozen=True)
class OutcomeDefinition:
    """How an outcome was built, as the report describes it: the fields a family or builder does not use are
    None (a rate's base, a log's zero rule, a harm index's weight table and offences, a fear scale, a
    victimisation measure, the survey read)."""

    family: str
    measure: str
    derived: bool
    take_log: bool | None = None
    column: str | None = None
    per: float | None = None
    rate: str | None = None  # "per 1,000 residents (population)"
    zero_rule: str | None = None
    zero_rule_text: str | None = None
    zero_rows: int | None = None  # rows the zero rule applied to
    total_of: tuple[str, ...] | None = None
    weights: dict[str, Any] | None = None  # the harm weight table's provenance
    unit: str | None = None  # the harm index's unit
    offences: tuple[HarmWeight, ...] = ()
    fear: FearScale | None = None
    victimisation: dict[str, Any] | None = None
    survey_source: str | None = None
    survey_query: str | None = None
    survey_rows_read: int | None = None
    survey_sha256: str | None = None
    aggregation: str | None = None  # how respondent rows became the analysed observations


@dataclass(frozen=True)
class OutcomeBaseline:
    """The outcome's mean among ``rows`` (treated units before treatment, or the control arm) and the effect
    as a percentage of it with its interval (None for an index in SD units or a zero baseline)."""

    rows: str
    mean: float
    percent_of_baseline: float | None = None
    percent_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class HarmOffence(HarmWeight):
    """One offence's part of a harm index: its baseline harm and share, and the estimator fitted to its
    weighted counts (on a log-ratio scale also converted to harm units at the baseline: ``harm_change``)."""

    baseline_harm: float | None = None
    share_of_baseline_harm: float | None = None
    estimate: float | None = None
    std_error: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    p_value: float | None = None
    harm_change: float | None = None
    harm_change_ci: tuple[float, float] | None = None
    share_of_change: float | None = None
    error: str | None = None  # why this offence's fit failed


@dataclass(frozen=True)
class HarmContributions:
    """Each offence's contribution to the effect on a harm index (``additive`` when they add up exactly)."""

    unit: str
    offences: tuple[HarmOffence, ...]
    scale: str  # "level" or "log ratio"
    sum_of_contributions: float | None
    total_effect: float | None
    additive: bool
    note: str | None = None


@dataclass(frozen=True)
class SurveyWave:
    """A weighted mean of a survey outcome in one wave and group, with its clustered SE."""

    wave: Any
    group: str  # "treated" or "comparison"
    estimate: float
    std_error: float
    clusters: int
    respondents: int


@dataclass(frozen=True)
class SurveySummary:
    """A survey outcome's weighted means by wave and group, respondents, an index's Cronbach's alpha and the
    victimisation summary (prevalence, incidence, concentration, repeat victims)."""

    by_wave: tuple[SurveyWave, ...] = ()
    respondents: int | None = None
    cluster: str | None = None
    note: str | None = None
    cronbach_alpha: float | None = None
    alpha_complete_cases: int | None = None
    index_reference: str | None = None
    victimisation: dict[str, Any] | None = None


@dataclass(frozen=True)
class OutcomeInfo(Payload):
    """What the report says about an outcome measure (filled by :func:`cpeval.outcomes.annotate_effect`):
    its definition, its baseline, a harm index's contributions by offence, a survey outcome's summary."""

    key: ClassVar[str] = "outcome"
    definition: OutcomeDefinition
    baseline: OutcomeBaseline | None = None
    harm_contributions: HarmContributions | None = None
    survey: SurveySummary | None = None


def baseline_mean(effect: Any) -> float | None:
    """The Effect's baseline mean (its :class:`OutcomeInfo`) when there is one, finite and not zero: the base
    of an effect stated as a percentage; else None."""
    info = effect.payload(OutcomeInfo)
    mean = info.baseline.mean if info is not None and info.baseline is not None else None
    return mean if mean is not None and math.isfinite(mean) and mean != 0 else None
