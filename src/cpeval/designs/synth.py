"""Synthetic control designs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cpeval.designs.base import DesignBase, StrictModel
from cpeval.designs.methods import PLANNED, check_available

SynthMethod = Literal[PLANNED["synthetic_control"]]  # type: ignore[valid-type]


class SynthTreatment(StrictModel):
    units: list[str | int] = Field(..., min_length=1, description="The treated unit(s), by unit id.")
    start: int | str = Field(..., description="First treated period.")


class Window(StrictModel):
    from_: int | str = Field(..., alias="from")
    to: int | str


class Predictor(StrictModel):
    """A predictor: ``op`` of ``column`` over a period range, listed periods, or at one period."""

    column: str
    from_: int | str | None = Field(None, alias="from")
    to: int | str | None = None
    periods: list[int | str] | None = None
    at: int | str | None = None
    op: Literal["mean"] = "mean"

    @model_validator(mode="after")
    def _one_window(self) -> Predictor:
        forms = [self.from_ is not None or self.to is not None, self.periods is not None, self.at is not None]
        if sum(forms) > 1:
            raise ValueError("give one of 'from'/'to', 'periods' or 'at', not several")
        if (self.from_ is None) != (self.to is None):
            raise ValueError("'from' and 'to' go together")
        return self


class SynthEstimator(StrictModel):
    method: SynthMethod = Field("abadie", description="abadie | augmented | synthetic_did")  # type: ignore[valid-type]
    donors: list[str | int] | None = Field(None, description="Donor pool (default: every untreated unit).")
    fit_window: Window | None = None
    predictors: list[Predictor] = Field(default_factory=list)
    v: dict[str, float] | None = Field(None, description="Fixed predictor importances instead of optimising.")

    @field_validator("method")
    @classmethod
    def _available(cls, v: str) -> str:
        return check_available("synthetic_control", v)


class SynthDesign(DesignBase):
    kind: Literal["synthetic_control"]
    treatment: SynthTreatment
    estimator: SynthEstimator = Field(default_factory=SynthEstimator)

    @model_validator(mode="after")
    def _synth_rules(self) -> SynthDesign:
        if self.data.time is None:
            raise ValueError("a synthetic_control design needs 'data.time', the period column")
        return self
