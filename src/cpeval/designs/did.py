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

    @field_validator("method")
    @classmethod
    def _available(cls, v: str) -> str:
        return check_available("did", v)


class DidDesign(DesignBase):
    kind: Literal["did"]
    treatment: DidTreatment
    estimator: DidEstimator = Field(default_factory=DidEstimator)

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
        return self
