"""Difference-in-differences designs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cpeval.designs.base import DesignBase, StrictModel
from cpeval.designs.methods import PLANNED, check_available

DidMethod = Literal[PLANNED["did"]]  # type: ignore[valid-type]


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


class DidEstimator(StrictModel):
    method: DidMethod = Field("twfe", description="twfe | event_study | callaway_santanna | ...")  # type: ignore[valid-type]
    cluster: str | None = Field(
        None, description="Column to cluster standard errors by (default: the unit column)."
    )
    control_group: Literal["never_treated", "not_yet_treated"] = "never_treated"
    covariates: list[str] = Field(default_factory=list, description="Time-varying controls.")
    # Callaway & Sant'Anna (issue 3, part A).
    approach: Literal["dr", "ipw", "reg"] = Field(
        "dr", description="Callaway & Sant'Anna 2x2 estimator: 'dr' doubly robust (Sant'Anna & Zhao 2020, "
        "R did's default), 'ipw' inverse probability weighting, 'reg' outcome regression."
    )
    base_period: Literal["varying", "universal"] = Field(
        "varying", description="Callaway & Sant'Anna: pre-treatment ATT(g,t) compare t with t-1 "
        "('varying', R's default) or every period with g-1-anticipation ('universal')."
    )
    anticipation: int = Field(
        0, ge=0, description="Periods before adoption in which units may already react; the base period "
        "moves back by this many periods."
    )
    aggregation: Literal["simple", "dynamic", "group", "calendar"] = Field(
        "simple", description="Callaway & Sant'Anna: which aggregation of ATT(g,t) is the headline effect "
        "(all four are always kept in the results)."
    )
    balance_e: int | None = Field(
        None, ge=0, description="Callaway & Sant'Anna dynamic aggregation: use only cohorts observed for "
        "at least this many periods after adoption, so the event-time profile has a fixed composition."
    )
    min_e: int | None = Field(
        None, description="Callaway & Sant'Anna dynamic aggregation: drop event times below this one from the "
        "event-time profile and its overall average (R did's min_e). Default: keep all."
    )
    max_e: int | None = Field(
        None, description="Callaway & Sant'Anna dynamic aggregation: drop event times above this one, e.g. "
        "late event times resting on one early cohort (R did's max_e). Default: keep all."
    )
    panel: bool = Field(
        True, description="false = repeated cross-sections (survey waves sampling different people): each "
        "row is its own unit and data.unit is a respondent id that never repeats."
    )
    unbalanced: Literal["balance", "keep"] = Field(
        "balance", description="Callaway & Sant'Anna with a panel missing some unit-periods: 'balance' drops "
        "units not seen in every period (R's default); 'keep' uses them (R's allow_unbalanced_panel)."
    )
    bootstrap_weights: Literal["rademacher", "mammen"] = Field(
        "rademacher", description="Multiplier bootstrap weights when inference.bootstrap > 0."
    )
    # Event study and Sun & Abraham (issue 3, part B).
    leads: int | None = Field(
        None, ge=1, description="Event study: number of pre-treatment coefficients, event times "
        "-(leads+1)..-2 (-1 is the reference). Default: every available lead."
    )
    lags: int | None = Field(
        None, ge=0, description="Event study: post-treatment event times shown, 0..lags. Default: every "
        "available lag."
    )
    bin_endpoints: bool = Field(
        True, description="Event study and Sun & Abraham: pool event times beyond the window into its end "
        "points (-(leads+1) and lags become 'or more' bins); false gives them their own coefficients, which "
        "are estimated but not reported."
    )
    small_sample: Literal["auto", "areg", "reghdfe"] = Field(
        "auto", description="Small-sample correction of clustered errors for twfe, event_study, "
        "sun_abraham and poisson: both multiply by G/(G-1) and (N-1)/(N-K); 'areg' counts every fixed effect "
        "in K (linearmodels PanelOLS, Stata areg, R fixest ssc(fixef.K = 'full')); 'reghdfe' is R fixest's "
        "default ssc() and Stata xtreg, fe / reghdfe: a fixed effect nested in the clusters counts one "
        "parameter. 'auto': areg for twfe, reghdfe for event_study and sun_abraham, and for poisson G/(G-1) "
        "alone (fixest ssc(adj = FALSE)). Intervals use t with G-1 df (fixest t.df = 'min')."
    )
    # Poisson pseudo-maximum likelihood (count outcomes).
    exposure: Literal["population", "none"] = Field(
        "population", description="Poisson: 'population' uses log(data.population) as an offset, so the "
        "effect is on the rate per person; 'none' models the raw count."
    )
    poisson_form: Literal["auto", "twfe", "extended"] = Field(
        "auto", description="Poisson: 'twfe' has one treatment coefficient; 'extended' is Wooldridge's "
        "cohort-by-period form for staggered adoption; 'auto' picks 'extended' when units adopt at "
        "different times."
    )

    @field_validator("method")
    @classmethod
    def _available(cls, v: str) -> str:
        return check_available("did", v)

    @model_validator(mode="after")
    def _event_window(self) -> DidEstimator:
        if self.small_sample != "auto" and self.method not in ("twfe", "event_study", "sun_abraham", "poisson"):
            raise ValueError(
                f"estimator.small_sample applies to twfe, event_study, sun_abraham and poisson; {self.method!r} "
                "has its own variance (remove the key)"
            )
        given = [k for k in ("min_e", "max_e", "balance_e") if getattr(self, k) is not None]
        if given and self.method != "callaway_santanna":
            raise ValueError(
                f"estimator.{given[0]} applies to method callaway_santanna only; for {self.method!r} set the "
                "event-time window with estimator.leads and estimator.lags"
            )
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

    @model_validator(mode="after")
    def _panel_methods(self) -> DidEstimator:
        if not self.panel and self.method != "callaway_santanna":
            raise ValueError(
                f"estimator.panel: false (repeated cross-sections) needs method callaway_santanna; "
                f"{self.method!r} needs panel data (the same units every period)"
            )
        return self


class HonestDidSpec(StrictModel):
    """Rambachan & Roth (2023) sensitivity of the event-study conclusion to violations of parallel trends."""

    target: Literal["average", "first"] = Field(
        "average", description="Which post-treatment effect to bound: the average over the post event "
        "times shown, or the first (event time 0)."
    )
    mbar: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0],
        description="Relative-magnitudes grid: post-period changes in the trend gap may be up to Mbar times "
        "the largest pre-period change.",
    )
    m: list[float] | None = Field(
        None, description="Smoothness grid: the slope of the trend gap may change by up to M per period. "
        "Default: 0 to twice the largest pre-period slope change, 9 points.",
    )

    @field_validator("mbar", "m")
    @classmethod
    def _non_negative(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(x < 0 for x in v)):
            raise ValueError(f"expected a non-empty list of numbers >= 0, got {v!r}")
        return v


class DidDesign(DesignBase):
    kind: Literal["did"]
    treatment: DidTreatment
    estimator: DidEstimator = Field(default_factory=DidEstimator)
    honest_did: HonestDidSpec = Field(
        default_factory=HonestDidSpec, description="Options of the 'honest_did' check."
    )

    @classmethod
    def available_checks(cls) -> frozenset[str]:
        return frozenset({"pre_trends", "bacon", "honest_did"})

    @property
    def cluster_column(self) -> str:
        return self.estimator.cluster or self.data.unit

    @property
    def requires_absorbing(self) -> bool:
        """Whether the method needs treatment to stay on once it starts (staggered-adoption methods)."""
        return self.treatment.first_treated is not None or self.estimator.method != "twfe"

    @model_validator(mode="after")
    def _did_rules(self) -> DidDesign:
        if self.data.time is None:
            raise ValueError("a did design needs 'data.time', the period column")
        if self.estimator.method == "poisson" and self.estimator.exposure == "population" and (
            self.data.population is None
        ):
            raise ValueError(
                "estimator.exposure is 'population' but data.population is not set; name the population "
                "column in data.population, or set estimator.exposure: none to model raw counts"
            )
        return self

    @model_validator(mode="after")
    def _poisson_needs_counts(self) -> DidDesign:
        if self.estimator.method != "poisson":
            return self
        refused = [
            f"outcomes[{i}].measure is {o.measure!r} (outcome {o.name!r}), but estimator.method is 'poisson', a "
            f"model of non-negative counts, rates and harm indices: a {o.measure} outcome needs a linear method "
            "(e.g. estimator.method: twfe)"
            + (f", or point outcomes[{i}].column at the counts and set measure: count" if o.measure != "count" else "")
            for i, o in enumerate(self.outcomes) if not o.counts_scale
        ]
        if self.estimator.exposure == "population":
            refused += [
                f"outcomes[{i}] ({o.name!r}) is a rate and estimator.exposure is 'population', which divides by "
                "data.population a second time; model the count (measure: count) with the population offset, or "
                "set estimator.exposure: none to model the rate itself"
                for i, o in enumerate(self.outcomes) if o.measure == "rate"
            ]
        if refused:
            raise ValueError("; ".join(refused))
        return self
