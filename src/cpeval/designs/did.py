"""Difference-in-differences designs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from cpeval.designs.base import DesignBase, StrictModel
from cpeval.designs.checks import DidChecks, MovedKeys
from cpeval.designs.methods import Capabilities, MethodOptions, attach_design, declare, methods


class DidTreatment(StrictModel):
    """Either a 0/1 indicator of being treated in the period, or the cohort (first treated period)."""

    indicator: str | None = Field(None, description="0/1 column: unit treated in this period.")
    first_treated: str | None = Field(
        None, description="Cohort column: first treated period; 0 or empty means never treated."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> DidTreatment:
        if (self.indicator is None) == (self.first_treated is None):
            raise ValueError(
                "give exactly one of 'indicator' (a 0/1 column) or 'first_treated' (a cohort column)"
            )
        return self


class DidOptions(MethodOptions):
    """Options every DiD method has."""

    method: str = Field("twfe", description="twfe | event_study | sun_abraham | poisson | callaway_santanna")
    cluster: str | None = Field(
        None, description="Column to cluster standard errors by (default: the unit column)."
    )
    covariates: list[str] = Field(default_factory=list, description="Time-varying controls.")
    panel: bool = Field(
        True, description="false = repeated cross-sections (survey waves sampling different people): each "
        "row is its own unit and data.unit is a respondent id that never repeats (callaway_santanna only)."
    )

    @model_validator(mode="after")
    def _panel_data(self) -> DidOptions:
        if not self.panel and not self.capabilities.repeated_cross_sections:
            fits = [n for n, m in methods("did").items() if m.capabilities.repeated_cross_sections]
            raise ValueError(
                f"estimator.panel: false (repeated cross-sections) needs method {' or '.join(fits)}; "
                f"{self.method!r} needs panel data (the same units every period)"
            )
        return self


class _SmallSample(DidOptions):
    small_sample: Literal["auto", "areg", "reghdfe"] = Field(
        "auto", description="Small-sample correction of clustered errors: both multiply by G/(G-1) and "
        "(N-1)/(N-K); 'areg' counts every fixed effect in K (linearmodels PanelOLS, Stata areg, R fixest "
        "ssc(fixef.K = 'full')); 'reghdfe' is R fixest's default ssc() and Stata xtreg, fe / reghdfe: a fixed "
        "effect nested in the clusters counts one parameter. 'auto': areg for twfe, reghdfe for event_study and "
        "sun_abraham, and for poisson G/(G-1) alone (fixest ssc(adj = FALSE)). Intervals use t with G-1 df "
        "(fixest t.df = 'min')."
    )

    @model_validator(mode="after")
    def _convention_offered(self) -> _SmallSample:
        offered = self.capabilities.small_sample
        if self.small_sample != "auto" and self.small_sample not in offered:
            raise ValueError(f"estimator.small_sample {self.small_sample!r} is not offered by method {self.method!r} "
                             f"(it offers {', '.join(offered) or 'none'}; or use 'auto')")
        return self


class _ControlGroup(DidOptions):
    control_group: Literal["never_treated", "not_yet_treated"] = Field(
        "never_treated", description="Comparison units: never treated, or also those not yet treated (for the "
        "event-time methods, without never-treated units the last cohort to adopt is the comparison)."
    )
    anticipation: int = Field(
        0, ge=0, description="Periods before adoption in which units may already react; the base period "
        "moves back by this many periods."
    )


class _EventWindow(_ControlGroup):
    instead: ClassVar[dict[str, str]] = dict.fromkeys(
        ("min_e", "max_e", "balance_e"), "here the event-time window is set with estimator.leads and estimator.lags"
    )
    leads: int | None = Field(
        None, ge=1, description="Number of pre-treatment coefficients, event times -(leads+1)..-2 (-1 is the "
        "reference). Default: every available lead. For poisson, the window of the Poisson event study the "
        "pre_trends and honest_did checks fit."
    )
    lags: int | None = Field(
        None, ge=0, description="Post-treatment event times shown, 0..lags. Default: every available lag."
    )
    bin_endpoints: bool = Field(
        True, description="Pool event times beyond the window into its end points (-(leads+1) and lags become "
        "'or more' bins); false gives them their own coefficients, which are estimated but not reported."
    )


class TwfeOptions(_SmallSample):
    """Two-way fixed effects with one treatment indicator."""

    method: Literal["twfe"] = "twfe"
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="two-way fixed effects", small_sample=("areg", "reghdfe"), always_treated="keep",
        wild_bootstrap="linear", randomization=True, regression="treatment",
    )


class EventStudyOptions(_SmallSample, _EventWindow):
    """Leads and lags of adoption in a two-way fixed-effects regression."""

    method: Literal["event_study"]
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="event study (leads and lags)", event_path=True, small_sample=("areg", "reghdfe"),
        requires_absorbing=True, wild_bootstrap="linear", randomization=True, regression="event_time",
    )


class SunAbrahamOptions(_SmallSample, _EventWindow):
    """Sun & Abraham (2021) interaction-weighted event study."""

    method: Literal["sun_abraham"]
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="Sun & Abraham interaction-weighted", event_path=True, small_sample=("areg", "reghdfe"),
        requires_absorbing=True, wild_bootstrap="linear", randomization=True, regression="cohort_event_time",
    )


class PoissonOptions(_SmallSample, _EventWindow):
    """Poisson pseudo-maximum likelihood for counts (rate ratios)."""

    method: Literal["poisson"]
    exposure: Literal["population", "none"] = Field(
        "population", description="'population' uses log(data.population) as an offset, so the effect is on "
        "the rate per person; 'none' models the raw count."
    )
    poisson_form: Literal["auto", "twfe", "extended"] = Field(
        "auto", description="'twfe' has one treatment coefficient; 'extended' is Wooldridge's cohort-by-period "
        "form for staggered adoption; 'auto' picks 'extended' when units adopt at different times."
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="Poisson (PPML) difference-in-differences", effect_scale="log", counts=True,
        small_sample=("areg", "reghdfe"), requires_absorbing=True, wild_bootstrap="score", randomization=True,
    )


class CallawaySantAnnaOptions(_ControlGroup):
    """Callaway & Sant'Anna (2021) group-time effects and their aggregations."""

    method: Literal["callaway_santanna"]
    approach: Literal["dr", "ipw", "reg"] = Field(
        "dr", description="2x2 estimator: 'dr' doubly robust (Sant'Anna & Zhao 2020, R did's default), 'ipw' "
        "inverse probability weighting, 'reg' outcome regression."
    )
    base_period: Literal["varying", "universal"] = Field(
        "varying", description="Pre-treatment ATT(g,t) compare t with t-1 ('varying', R's default) or every "
        "period with g-1-anticipation ('universal')."
    )
    aggregation: Literal["simple", "dynamic", "group", "calendar"] = Field(
        "simple", description="Which aggregation of ATT(g,t) is the headline effect (all four are always kept "
        "in the results)."
    )
    balance_e: int | None = Field(
        None, ge=0, description="Dynamic aggregation: use only cohorts observed for at least this many periods "
        "after adoption, so the event-time profile has a fixed composition."
    )
    min_e: int | None = Field(
        None, description="Dynamic aggregation: drop event times below this one from the event-time profile and "
        "its overall average (R did's min_e). Default: keep all."
    )
    max_e: int | None = Field(
        None, description="Dynamic aggregation: drop event times above this one, e.g. late event times resting "
        "on one early cohort (R did's max_e). Default: keep all."
    )
    unbalanced: Literal["balance", "keep"] = Field(
        "balance", description="A panel missing some unit-periods: 'balance' drops units not seen in every "
        "period (R's default); 'keep' uses them (R's allow_unbalanced_panel)."
    )
    bootstrap_weights: Literal["rademacher", "mammen"] = Field(
        "rademacher", description="Multiplier bootstrap weights when inference.bootstrap > 0."
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="Callaway & Sant'Anna group-time effects", group_time=True, requires_absorbing=True,
        always_treated="drop", covariates="base_period", repeated_cross_sections=True, randomization=True,
    )

    @model_validator(mode="after")
    def _event_window(self) -> CallawaySantAnnaOptions:
        if self.min_e is not None and self.balance_e is not None and self.min_e > self.balance_e:
            raise ValueError(
                f"estimator.min_e ({self.min_e}) is above estimator.balance_e ({self.balance_e}): balancing keeps "
                "event times up to balance_e only, so no event time would remain; lower min_e"
            )
        if self.min_e is not None and self.max_e is not None and self.min_e > self.max_e:
            raise ValueError(
                f"estimator.min_e ({self.min_e}) is above estimator.max_e ({self.max_e}); give min_e <= max_e"
            )
        if self.max_e is not None and self.max_e < 0 and self.aggregation == "dynamic":
            raise ValueError(
                f"estimator.max_e is {self.max_e}: the dynamic aggregation's headline averages event times >= 0, "
                "so max_e must be at least 0 when aggregation is dynamic"
            )
        return self


DidEstimator = declare(
    "did", TwfeOptions, EventStudyOptions, SunAbrahamOptions, PoissonOptions, CallawaySantAnnaOptions
)


class DidDesign(DesignBase):
    kind: Literal["did"]
    treatment: DidTreatment
    estimator: DidEstimator = Field(default_factory=TwfeOptions, discriminator="method")
    checks: DidChecks = Field(default_factory=DidChecks, description=DidChecks.__doc__)

    moved_keys: ClassVar[MovedKeys] = {(None, "honest_did"): ("honest_did", None)}

    @property
    def cluster_column(self) -> str:
        return self.estimator.cluster or self.data.unit

    @property
    def requires_absorbing(self) -> bool:
        """Whether the method needs treatment to stay on once it starts (staggered-adoption methods)."""
        return self.treatment.first_treated is not None or self.estimator.capabilities.requires_absorbing

    @model_validator(mode="after")
    def _did_rules(self) -> DidDesign:
        if self.data.time is None:
            raise ValueError("a did design needs 'data.time', the period column")
        if getattr(self.estimator, "exposure", None) == "population" and self.data.population is None:
            raise ValueError(
                "estimator.exposure is 'population' but data.population is not set; name the population "
                "column in data.population, or set estimator.exposure: none to model raw counts"
            )
        return self

    @model_validator(mode="after")
    def _count_model_needs_counts(self) -> DidDesign:
        if not self.estimator.capabilities.counts:
            return self
        refused = [
            f"outcomes[{i}].measure is {o.measure!r} (outcome {o.name!r}), but estimator.method is "
            f"{self.estimator.method!r}, a model of non-negative counts, rates and harm indices: a {o.measure} "
            "outcome needs a linear method (e.g. estimator.method: twfe)"
            + (f", or point outcomes[{i}].column at the counts and set measure: count" if o.measure != "count" else "")
            for i, o in enumerate(self.outcomes) if not o.counts_scale
        ]
        if getattr(self.estimator, "exposure", None) == "population":
            refused += [
                f"outcomes[{i}] ({o.name!r}) is a rate and estimator.exposure is 'population', which divides by "
                "data.population a second time; model the count (measure: count) with the population offset, or "
                "set estimator.exposure: none to model the rate itself"
                for i, o in enumerate(self.outcomes) if o.measure == "rate"
            ]
        if refused:
            raise ValueError("; ".join(refused))
        return self


attach_design("did", DidDesign)
