"""Randomised controlled trial designs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from cpeval.designs.base import DesignBase, StrictModel
from cpeval.designs.methods import PLANNED, check_available

RctMethod = Literal[PLANNED["rct"]]  # type: ignore[valid-type]


class RctTreatment(StrictModel):
    assignment: str = Field(..., description="0/1 column: randomised assignment.")
    block: str | None = Field(None, description="Randomisation block (stratum) column.")
    cluster: str | None = Field(None, description="Column of the unit of randomisation if by cluster.")
    received: str | None = Field(None, description="0/1 take-up column, for the CACE.")


class Attrition(StrictModel):
    observed: str = Field(..., description="0/1 column: outcome observed (1) or lost (0).")
    max_differential: float = Field(0.05, ge=0, le=1)


class RctEstimator(StrictModel):
    method: RctMethod = Field("difference_in_means")  # type: ignore[valid-type]
    covariates: list[str] = Field(default_factory=list)

    @field_validator("method")
    @classmethod
    def _available(cls, v: str) -> str:
        return check_available("rct", v)


class RctDesign(DesignBase):
    kind: Literal["rct"]
    treatment: RctTreatment
    estimator: RctEstimator = Field(default_factory=RctEstimator)
    estimand: Literal["itt", "cace"] = "itt"
    attrition: Attrition | None = None

    @model_validator(mode="after")
    def _rct_rules(self) -> RctDesign:
        if self.estimand == "cace" and self.treatment.received is None:
            raise ValueError("estimand 'cace' needs 'treatment.received', the take-up column")
        return self
