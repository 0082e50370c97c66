"""Randomised controlled trial designs."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from cpeval.designs.base import DesignBase, StrictModel
from cpeval.designs.checks import MovedKeys, RctChecks
from cpeval.designs.methods import Capabilities, MethodOptions, attach_design, declare
from cpeval.errors import did_you_mean


class RctTreatment(StrictModel):
    assignment: str = Field(..., description="0/1 column: randomised assignment (1 = offered the programme).")
    block: str | None = Field(None, description="Randomisation block (stratum) column; assignment was "
                              "randomised separately within each block.")
    cluster: str | None = Field(None, description="Column of the unit of randomisation if whole clusters "
                                "(street segments, beats, schools) were assigned together.")
    received: str | None = Field(None, description="0/1 take-up column (received the programme), for the CACE.")

    @model_validator(mode="after")
    def _distinct(self) -> RctTreatment:
        named = {k: v for k, v in (("assignment", self.assignment), ("block", self.block),
                                   ("cluster", self.cluster), ("received", self.received)) if v}
        seen: dict[str, str] = {}
        for key, col in named.items():
            if col in seen:
                raise ValueError(
                    f"treatment.{key} and treatment.{seen[col]} both name column {col!r}; each role needs "
                    "its own column"
                )
            seen[col] = key
        return self


class Attrition(StrictModel):
    observed: str = Field(..., description="0/1 column: outcome observed (1) or lost to follow-up (0).")


class RctOptions(MethodOptions):
    """Options every trial estimator has."""

    method: str = Field("difference_in_means", description="difference_in_means | lin")
    covariates: list[str] = Field(
        default_factory=list,
        description="Baseline (pre-randomisation) covariates: 'lin' adjusts for them; every method uses them "
        "in the balance check.",
    )
    blocked: Literal["weighted", "fixed_effects"] = Field(
        "weighted",
        description="With treatment.block: 'weighted' averages within-block differences weighted by block "
        "size (the ATE); 'fixed_effects' regresses on assignment and block dummies (precision weights). With "
        "treatment.cluster too, blocks holding just two clusters (one per arm) take the matched-pair variance "
        "of Imai, King & Nall (2009) across blocks, as R estimatr does.",
    )

    @field_validator("covariates")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        dupes = sorted({c for c in v if v.count(c) > 1})
        if dupes:
            raise ValueError(f"covariates are listed twice: {', '.join(dupes)}; list each once")
        return v

    @model_validator(mode="after")
    def _adjusted_needs_covariates(self) -> RctOptions:
        if self.capabilities.covariate_adjusted and not self.covariates:
            raise ValueError(f"method {self.method!r} adjusts for covariates; list them in estimator.covariates "
                             "or use method: difference_in_means")
        return self


class DifferenceInMeansOptions(RctOptions):
    """Neyman / HC2 difference in means; block-weighted if blocked; CR2 if clustered."""

    method: Literal["difference_in_means"] = "difference_in_means"
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="difference in means", covariates="baseline", wild_bootstrap="linear", randomization=True,
    )


class LinOptions(RctOptions):
    """Lin (2013): covariates centred and interacted with assignment."""

    method: Literal["lin"]
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="Lin (2013) covariate-adjusted difference in means", covariates="baseline", covariate_adjusted=True,
        wild_bootstrap="linear", randomization=True,
    )


RctEstimator = declare("rct", DifferenceInMeansOptions, LinOptions)


class PowerSpec(StrictModel):
    """Inputs of ``cpeval power``: what the trial hopes to detect. Unset values are estimated from the data."""

    effect: float | dict[str, float] | None = Field(
        None, description="The effect the trial hopes to detect, in outcome units: one number for every "
        "outcome or a mapping {outcome name: effect}.",
    )
    power: float = Field(0.8, gt=0, lt=1, description="Target power for the minimum detectable effect.")
    sd: float | None = Field(None, gt=0, description="Outcome standard deviation (default: from the data).")
    icc: float | None = Field(
        None, ge=0, lt=1, description="Intra-cluster correlation (default: ANOVA estimate from the data)."
    )
    r2: float = Field(
        0.0, ge=0, lt=1, description="Share of outcome variance explained by blocks and covariates."
    )
    simulations: int = Field(500, ge=0, description="Simulated trials for the simulated power (0 = none).")


class RctDesign(DesignBase):
    kind: Literal["rct"]
    treatment: RctTreatment
    estimator: RctEstimator = Field(default_factory=DifferenceInMeansOptions, discriminator="method")
    estimand: Literal["itt", "cace"] = Field(
        "itt", description="itt (effect of assignment) or cace (complier average causal effect, by IV)."
    )
    attrition: Attrition | None = Field(None, description="Which column records that the outcome was observed.")
    power: PowerSpec = Field(default_factory=PowerSpec, description="Inputs of `cpeval power`.")
    checks: RctChecks = Field(default_factory=RctChecks, description=RctChecks.__doc__)

    moved_keys: ClassVar[MovedKeys] = {
        ("attrition", "max_differential"): ("attrition", "max_differential"),
        ("attrition", "max_overall"): ("attrition", "max_overall"),
    }

    @model_validator(mode="after")
    def _rct_rules(self) -> RctDesign:
        tr = self.treatment
        if self.estimand == "cace" and tr.received is None:
            raise ValueError(
                "estimand 'cace' needs 'treatment.received', the 0/1 take-up column; add it or set estimand: itt"
            )
        roles = {tr.assignment: "treatment.assignment", tr.received: "treatment.received",
                 tr.block: "treatment.block", tr.cluster: "treatment.cluster"}
        for c in self.estimator.covariates:
            if c in roles:
                raise ValueError(
                    f"estimator.covariates lists {c!r}, which is {roles[c]}; covariates must be baseline "
                    "measures taken before randomisation"
                )
        if isinstance(self.power.effect, dict):
            names = {o.name for o in self.outcomes}
            unknown = sorted(set(self.power.effect) - names)
            if unknown:
                raise ValueError(f"power.effect names {', '.join(unknown)}, which are not outcomes; the outcomes "
                                 f"are {', '.join(sorted(names))}{did_you_mean(unknown[0], names)}")
        if self.attrition is not None and self.attrition.observed in roles:
            raise ValueError(
                f"attrition.observed {self.attrition.observed!r} is also {roles[self.attrition.observed]}; give "
                "attrition.observed its own 0/1 column"
            )
        if self.checks.attrition is not None and self.attrition is None:
            raise ValueError(
                "check 'attrition' needs an 'attrition: {observed: <0/1 column>}' section naming the column "
                "that records whether the outcome was observed"
            )
        return self


attach_design("rct", RctDesign)
