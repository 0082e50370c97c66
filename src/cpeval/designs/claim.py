"""The ``claim:`` section: a grantee's claimed result, which ``cpeval validate`` checks by re-running the design.

Pydantic specs only. Each claimed outcome names a design outcome, the claimed estimate on a stated scale, its
interval or standard error, and the document it comes from::

    claim:
      by: Cheng & Hoekstra (2013)
      outcomes:
        - outcome: homicide
          estimate: 0.0801
          std_error: 0.0342
          scale: log_points
          source: {title: "Journal of Human Resources 48(3)", table: "Table 4, column 1", page: 842}

Scales: ``level`` (the outcome's own units), ``percent_change`` (100 * (ratio - 1)), ``log_points`` (a log ratio
written as a decimal, 0.08 = 8 log points) and ``rate_ratio`` (the ratio itself, 1.08). Which ones an outcome can
give depends on the scale of its effect (see :func:`available_scales`).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from cpeval.designs.strict import StrictModel

ClaimScale = Literal["level", "percent_change", "log_points", "rate_ratio"]
RATIO_SCALES: tuple[str, ...] = ("percent_change", "log_points", "rate_ratio")


def available_scales(effect_scale: str, measure: str) -> tuple[str, ...]:
    """The claim scales an outcome's effect can be compared on.

    A log-scale effect (a log outcome, or a Poisson rate ratio) is a ratio: percent change, log points or the rate
    ratio, never a level. A level-scale effect is in the outcome's units, and its percent change is taken against
    the treated units' baseline (so a proportion's or a log's percent change is not offered); log points and rate
    ratios need a log-scale effect.
    """
    if effect_scale == "log" or measure == "log":
        return RATIO_SCALES
    if measure in ("count", "rate", "level"):
        return ("level", "percent_change")
    return ("level",)


class ClaimSource(StrictModel):
    """Where the claimed number is printed."""

    title: str = Field(..., min_length=1, description="The document: report or paper title (and year).")
    page: int | str | None = Field(None, description="Page number(s).")
    table: str | None = Field(None, description="Table, figure or column, e.g. 'Table 4, column 1'.")
    url: str | None = Field(None, description="Where the document can be found.")

    def cite(self) -> str:
        parts = [self.title, f"p. {self.page}" if self.page is not None else "", self.table or ""]
        return ", ".join(p for p in parts if p)


class ClaimedOutcome(StrictModel):
    """One claimed effect: estimate, interval or standard error, scale and source."""

    outcome: str = Field(..., description="A name from the design's outcomes.")
    estimate: float = Field(..., description="The claimed effect, on `scale`.")
    conf_int: tuple[float, float] | None = Field(None, description="The claimed interval [lower, upper] on `scale`.")
    std_error: float | None = Field(None, gt=0, description="The claimed standard error on `scale` (level or "
                                    "log_points; a percent change or rate ratio gives its interval instead).")
    level: float = Field(0.95, gt=0.5, lt=1.0, description="Confidence level of `conf_int`.")
    scale: ClaimScale = Field(..., description="level | percent_change | log_points | rate_ratio.")
    source: ClaimSource

    @model_validator(mode="after")
    def _coherent(self) -> ClaimedOutcome:
        values = [self.estimate, *(self.conf_int or ()), *(() if self.std_error is None else (self.std_error,))]
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"claim for {self.outcome!r}: estimate, conf_int and std_error must be finite numbers")
        if self.conf_int is None and self.std_error is None:
            raise ValueError(f"claim for {self.outcome!r}: give conf_int [lower, upper] or std_error, so the claim's "
                             "precision can be compared")
        if self.std_error is not None and self.scale in ("percent_change", "rate_ratio"):
            raise ValueError(f"claim for {self.outcome!r}: a standard error on scale {self.scale!r} is not symmetric "
                             "on the ratio; give conf_int instead, or the claim in log_points with its std_error")
        if self.scale == "rate_ratio" and self.estimate <= 0:
            raise ValueError(f"claim for {self.outcome!r}: a rate ratio must be positive, got {self.estimate}")
        if self.scale == "percent_change" and self.estimate <= -100:
            raise ValueError(f"claim for {self.outcome!r}: a percent change must be above -100, got {self.estimate}")
        if self.conf_int is not None:
            lo, hi = self.conf_int
            if not lo <= self.estimate <= hi:
                raise ValueError(f"claim for {self.outcome!r}: conf_int [{lo}, {hi}] does not contain the estimate "
                                 f"{self.estimate}; give the interval as [lower, upper] around the estimate")
            floor = {"rate_ratio": 0.0, "percent_change": -100.0}.get(self.scale)
            if floor is not None and lo <= floor:
                raise ValueError(f"claim for {self.outcome!r}: the lower bound of a {self.scale} interval must be "
                                 f"above {floor:g}, got {lo}")
        return self


class ClaimSpec(StrictModel):
    """A grantee's claimed results, one entry per outcome."""

    by: str | None = Field(None, description="Who makes the claim (grantee, authors).")
    outcomes: list[ClaimedOutcome] = Field(..., min_length=1)
    tolerance: float = Field(
        0.10, ge=0, le=1, description="A claim within this share of the re-analysis estimate (on the effect's "
        "scale) is 'reproduced'; beyond it, 'larger' or 'smaller'."
    )

    def check_outcomes(self, outcomes: dict[str, str], effect_scale: str) -> None:
        """Every claimed outcome is a design outcome (``{name: measure}``) whose effect can give the claim's scale."""
        seen: set[str] = set()
        for i, c in enumerate(self.outcomes):
            if c.outcome not in outcomes:
                raise ValueError(f"claim.outcomes[{i}].outcome: {c.outcome!r} is not an outcome of this design; "
                                 f"outcomes: {', '.join(outcomes)}")
            if c.outcome in seen:
                raise ValueError(f"claim.outcomes[{i}]: outcome {c.outcome!r} is claimed twice")
            seen.add(c.outcome)
            can = available_scales(effect_scale, outcomes[c.outcome])
            if c.scale not in can:
                raise ValueError(
                    f"claim.outcomes[{i}].scale: {c.scale!r} cannot be read from outcome {c.outcome!r} (measure "
                    f"{outcomes[c.outcome]}, effect on the {effect_scale} scale); it gives {', '.join(can)}"
                )
