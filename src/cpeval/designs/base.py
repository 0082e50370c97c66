"""Pieces shared by every design kind. Pydantic specs only: no numerics here."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator

from cpeval.designs.cost_benefit import CostBenefitSpec
from cpeval.designs.outcomes import OutcomeSpec
from cpeval.designs.strict import StrictModel
from cpeval.errors import did_you_mean


class DataSpec(StrictModel):
    """Where the data are and which columns identify units, periods, weights and population."""

    path: str | None = Field(
        None, description="CSV or parquet file, relative to the design file (or absolute)."
    )
    dataset: str | None = Field(
        None,
        description="A named packaged dataset instead of a file, e.g. 'causaldata.castle' or "
        "'cpeval.castle'.",
    )
    unit: str = Field(..., description="Unit id column (state, area, street segment, person).")
    time: str | None = Field(None, description="Period column (integer or date). Optional for an RCT.")
    weights: str | None = Field(None, description="Optional observation (analytic) weights column.")
    population: str | None = Field(None, description="Optional population column, used for rates.")
    missing_outcomes: str = Field(
        "error",
        description="What to do with missing outcome values: 'error' (default) reports them as a data "
        "problem; 'drop' drops those rows for that outcome only and records a warning.",
        json_schema_extra={"enum": ["error", "drop"]},
    )

    @field_validator("missing_outcomes")
    @classmethod
    def _missing_choice(cls, v: str) -> str:
        if v not in ("error", "drop"):
            raise ValueError(f"expected 'error' or 'drop', got {v!r}")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        if (self.path is None) == (self.dataset is None):
            raise ValueError(
                "give exactly one of 'path' (a CSV or parquet file) or 'dataset' (a packaged dataset "
                "such as 'causaldata.castle')"
            )
        if self.path is not None and not self.path.lower().endswith((".csv", ".parquet", ".pq")):
            raise ValueError(f"path {self.path!r} must end in .csv or .parquet")
        return self


class InferenceSpec(StrictModel):
    """Confidence level and the seed every random step draws from."""

    level: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of intervals.")
    seed: int = Field(2002, ge=0, description="Seed for every random step (bootstrap, permutations, MC).")
    bootstrap: int = Field(0, ge=0, description="Bootstrap replications where the estimator supports it.")
    permutations: int = Field(0, ge=0, description="Randomisation-inference permutations (0 = none).")
    multiple_testing: Literal["none", "holm", "romano_wolf", "bh"] = Field(
        "none",
        description="Adjustment of p-values across the design's outcomes: 'holm' or 'romano_wolf' "
        "(family-wise error), 'bh' (Benjamini-Hochberg false discovery rate) or 'none'.",
    )


RESERVED_SECTIONS = ("consequences", "claim")


class DesignBase(StrictModel):
    """Fields every design kind has. ``kind`` is the discriminator of :data:`cpeval.designs.Design`."""

    name: str = Field(..., min_length=1, description="A human name for the evaluation.")
    description: str | None = None
    data: DataSpec
    outcomes: list[OutcomeSpec] = Field(..., min_length=1)
    inference: InferenceSpec = Field(default_factory=InferenceSpec)
    checks: list[str] = Field(
        default_factory=list, description="Checks to run (pre-trends, placebos, refuters, ...)."
    )
    # Sections that arrive with later releases. Reserved so that their names cannot be reused.
    consequences: Any = Field(None, description="Reserved: unintended-consequence checks (displacement...).")
    cost_benefit: CostBenefitSpec | None = Field(
        None, description="Cost-benefit analysis of the effects (see cpeval.designs.cost_benefit)."
    )
    claim: Any = Field(None, description="Reserved: a grantee's claimed result to validate.")

    _origin: str | None = PrivateAttr(default=None)

    @field_validator(*RESERVED_SECTIONS)
    @classmethod
    def _reserved(cls, v: Any, info: Any) -> Any:
        if v is not None:
            raise ValueError(
                f"section '{info.field_name}' is not available yet in cpeval {_version()}; remove it for now"
            )
        return v

    @field_validator("checks")
    @classmethod
    def _known_checks(cls, v: list[str]) -> list[str]:
        available = cls.available_checks()
        for check in v:
            if check not in available:
                have = ", ".join(sorted(available)) or "none yet for this design kind"
                raise ValueError(
                    f"check {check!r} is not available (available: {have}){did_you_mean(check, available)}"
                )
        return v

    @model_validator(mode="after")
    def _shared_rules(self) -> DesignBase:
        names = [o.name for o in self.outcomes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"outcome names must be unique; repeated: {', '.join(dupes)}")
        return self

    @classmethod
    def available_checks(cls) -> frozenset[str]:
        return frozenset()

    @property
    def origin(self) -> str | None:
        """The file this design was loaded from, if any."""
        return self._origin

    @property
    def seed(self) -> int:
        return self.inference.seed


def _version() -> str:
    from cpeval import __version__

    return __version__
