"""Outcome declarations: what is measured, in what units, and which direction is good."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Family = Literal["crime", "seriousness", "fear", "other"]
Measure = Literal["count", "rate", "log", "level", "proportion"]

# The order in which para 23(c) of the UN Guidelines lists what to assess.
FAMILY_ORDER: tuple[str, ...] = ("crime", "seriousness", "fear", "other")


class OutcomeSpec(BaseModel):
    """One outcome of the evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(..., min_length=1, description="Short name used in results and reports.")
    column: str = Field(..., min_length=1, description="Data column holding the outcome.")
    family: Family = Field("crime", description="crime | seriousness | fear | other (UN para 23(c)).")
    measure: Measure = Field("level", description="count | rate | log | level | proportion.")
    better_if: Literal["decrease", "increase"] = Field(
        "decrease", description="Which direction of change is an improvement."
    )
    label: str | None = Field(None, description="Longer label for reports.")

    @property
    def display(self) -> str:
        return self.label or self.name
