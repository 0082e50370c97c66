"""Synthetic control designs."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, get_args

from pydantic import Field, field_validator, model_validator

from cpeval.designs.base import DesignBase, StrictModel
from cpeval.designs.checks import MovedKeys, SynthChecks
from cpeval.designs.methods import Capabilities, MethodOptions, attach_design, declare


class SynthTreatment(StrictModel):
    units: list[str | int] = Field(..., min_length=1, description="The treated unit(s), by unit id.")
    start: int | str = Field(..., description="First treated period.")


class Window(StrictModel):
    from_: int | str = Field(..., alias="from", description="First period of the window (inclusive).")
    to: int | str = Field(..., description="Last period of the window (inclusive).")

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if isinstance(self.from_, int) and isinstance(self.to, int) and self.from_ > self.to:
            raise ValueError(
                f"window 'from: {self.from_}' is after 'to: {self.to}'; give the earlier period in 'from'"
            )
        return self


class Predictor(StrictModel):
    """A predictor: ``op`` of ``column`` over a period range, listed periods, or at one period.

    Missing values inside the window are skipped (as R ``Synth`` does with ``na.rm = TRUE``).
    """

    column: str = Field(..., description="Data column (a covariate or the outcome itself).")
    from_: int | str | None = Field(None, alias="from", description="First period of a range (with 'to').")
    to: int | str | None = Field(None, description="Last period of a range (with 'from').")
    periods: list[int | str] | None = Field(None, min_length=1, description="Listed periods to average over.")
    at: int | str | None = Field(None, description="A single period's value.")
    op: Literal["mean"] = Field("mean", description="How the periods are combined (mean).")
    name: str | None = Field(None, description="Label used in tables and in estimator.v (default: derived).")

    @model_validator(mode="after")
    def _one_window(self) -> Predictor:
        forms = [self.from_ is not None or self.to is not None, self.periods is not None, self.at is not None]
        if sum(forms) > 1:
            raise ValueError(
                f"predictor {self.column!r}: give one of 'from'/'to', 'periods' or 'at', not several"
            )
        if (self.from_ is None) != (self.to is None):
            raise ValueError(f"predictor {self.column!r}: 'from' and 'to' go together; give both")
        if isinstance(self.from_, int) and isinstance(self.to, int) and self.from_ > self.to:
            raise ValueError(
                f"predictor {self.column!r}: 'from: {self.from_}' is after 'to: {self.to}'; give the earlier period "
                "in 'from'"
            )
        return self

    @property
    def label(self) -> str:
        """The predictor's name in tables and in ``estimator.v``."""
        if self.name:
            return self.name
        if self.at is not None:
            return f"{self.column}({self.at})"
        if self.periods is not None:
            return f"{self.column}[{','.join(str(p) for p in self.periods)}]"
        if self.from_ is not None:
            return f"{self.column}({self.from_}-{self.to})"
        return f"{self.column}(pre)"


RidgeLambdaRule = Literal["forward_cv", "augsynth"]
RIDGE_LAMBDA_RULES: tuple[str, ...] = get_args(RidgeLambdaRule)


# every synthetic control method refits for placebos, which also give its randomisation inference
_REFITS_FOR_PLACEBOS: dict[str, Any] = {"placebo_refit": True, "randomization": True}


class SynthOptions(MethodOptions):
    """Options every synthetic control method has."""

    method: str = Field("abadie", description="abadie | augmented | synthetic_did")
    donors: list[str | int] | None = Field(
        None, description="Donor pool (default: every unit that is not treated)."
    )
    fit_window: Window | None = Field(
        None,
        description="Pre-period whose outcome fit (mean squared prediction error) chooses V "
        "(default: every period before treatment.start).",
    )
    predictors: list[Predictor] = Field(
        default_factory=list,
        description="Predictors matched by the synthetic control (abadie). Empty: the outcome in every "
        "fit-window period, equally weighted (V fixed, no outer optimisation).",
    )
    conformal: bool = Field(
        True,
        description="Conformal prediction intervals for every post-period gap and the average effect "
        "(Chernozhukov, Wuthrich & Zhu 2021).",
    )

    @model_validator(mode="after")
    def _unique_labels(self) -> SynthOptions:
        labels = [p.label for p in self.predictors]
        dupes = sorted({x for x in labels if labels.count(x) > 1})
        if dupes:
            raise ValueError(
                f"predictor labels must be unique; repeated: {', '.join(dupes)} (give each a distinct 'name')"
            )
        return self


class AbadieOptions(SynthOptions):
    """Abadie, Diamond & Hainmueller (2010): nested V/W optimisation over the predictors."""

    method: Literal["abadie"] = "abadie"
    v: dict[str, float] | None = Field(
        None,
        description="Fixed predictor importances, keyed by predictor label, instead of optimising V. "
        "Normalised to sum to one; applied to predictors standardised as R Synth does.",
    )
    standardize: bool = Field(
        True, description="Divide each predictor by its standard deviation across units (as R Synth)."
    )
    starts: int = Field(
        8, ge=1, le=200,
        description="Starting points of the outer (V) optimisation: equal weights, a regression-based start, "
        "then random ones drawn with inference.seed; the best is kept.",
    )
    treated_aggregation: Literal["separate", "pooled"] = Field(
        "separate",
        description="Several treated units: 'separate' fits one synthetic control per unit and averages the "
        "gaps; 'pooled' fits one synthetic control to the average of the treated units.",
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="synthetic control (Abadie, Diamond & Hainmueller 2010)", **_REFITS_FOR_PLACEBOS
    )

    @field_validator("v")
    @classmethod
    def _v_ok(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is None:
            return v
        bad = {k: x for k, x in v.items() if not x >= 0}
        if bad:
            raise ValueError(f"V weights must be non-negative numbers; got {bad}")
        if sum(v.values()) <= 0:
            raise ValueError("V weights sum to zero; give at least one positive weight")
        return v

    @model_validator(mode="after")
    def _v_names(self) -> AbadieOptions:
        labels = [p.label for p in self.predictors]
        if self.v is not None:
            if not self.predictors:
                raise ValueError("estimator.v fixes predictor weights, but estimator.predictors is empty")
            unknown = sorted(set(self.v) - set(labels))
            if unknown:
                raise ValueError(
                    f"estimator.v names {unknown}, which are not predictors; predictor labels are: "
                    f"{', '.join(labels)}"
                )
        return self


class AugmentedOptions(SynthOptions):
    """Ridge augmented synthetic control (Ben-Michael, Feller & Rothstein 2021)."""

    method: Literal["augmented"]
    ridge_lambda: Annotated[float, Field(ge=0)] | RidgeLambdaRule = Field(
        "forward_cv",
        description="The ridge penalty, or the cross-validation rule that chooses it (largest lambda within one "
        "standard error of the best). forward_cv (default): each of the last third of the pre-periods predicted "
        "from the periods before it, so no fold uses later periods. augsynth: R augsynth's default (leave one "
        "pre-period out, each but the last; its 21-value grid; min_1se), to reproduce an augsynth result.",
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="augmented synthetic control (ridge; Ben-Michael, Feller & Rothstein 2021)", **_REFITS_FOR_PLACEBOS
    )

    @field_validator("ridge_lambda", mode="before")
    @classmethod
    def _ridge_lambda(cls, v: Any) -> Any:
        number = isinstance(v, int | float) and not isinstance(v, bool)
        if (number and 0 <= v < math.inf) or v in RIDGE_LAMBDA_RULES:
            return v
        rules = " or ".join(repr(r) for r in RIDGE_LAMBDA_RULES)
        raise ValueError(f"ridge_lambda must be a finite number >= 0 or a cross-validation rule, {rules}; got {v!r}")


class SyntheticDidOptions(SynthOptions):
    """Synthetic difference-in-differences (Arkhangelsky et al. 2021) with the placebo variance."""

    method: Literal["synthetic_did"]
    placebo_reps: int = Field(
        200, ge=10,
        description="Placebo replications for the variance (Algorithm 4, as R synthdid's vcov(method = "
        "'placebo', replications)). When at least the number of distinct placebo assignments (the donor count, "
        "with one treated unit), each is fitted once instead: the exact placebo variance, free of Monte Carlo "
        "noise.",
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        title="synthetic difference-in-differences (Arkhangelsky et al. 2021)", **_REFITS_FOR_PLACEBOS
    )


SynthEstimator = declare("synthetic_control", AbadieOptions, AugmentedOptions, SyntheticDidOptions)


class SynthDesign(DesignBase):
    kind: Literal["synthetic_control"]
    treatment: SynthTreatment
    estimator: SynthEstimator = Field(default_factory=AbadieOptions, discriminator="method")
    checks: SynthChecks = Field(default_factory=SynthChecks, description=SynthChecks.__doc__)

    moved_keys: ClassVar[MovedKeys] = {
        ("estimator", "placebo_exclude"): ("placebo_space", "exclude"),
        ("estimator", "placebo_start"): ("placebo_time", "start"),
        ("estimator", "n_jobs"): ("placebo_space", "n_jobs"),
    }

    @model_validator(mode="after")
    def _synth_rules(self) -> SynthDesign:
        if self.data.time is None:
            raise ValueError("a synthetic_control design needs 'data.time', the period column")
        treated = {str(u) for u in self.treatment.units}
        if self.estimator.donors is not None:
            both = sorted(treated & {str(d) for d in self.estimator.donors})
            if both:
                raise ValueError(
                    f"units {both} are both treated (treatment.units) and donors (estimator.donors); "
                    "remove them from estimator.donors"
                )
        fw = self.estimator.fit_window
        start = self.treatment.start
        if fw is not None and isinstance(fw.to, int) and isinstance(start, int) and fw.to >= start:
            raise ValueError(
                f"estimator.fit_window.to ({fw.to}) must be before treatment.start ({start}); the fit window "
                "is a pre-treatment period"
            )
        return self


attach_design("synthetic_control", SynthDesign)
