"""The validated panel every estimator reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase

# Columns cpeval adds to its own copy of the data (never to the caller's frame).
TREATED = "_cpeval_treated"  # 0/1: treated in this period (did, synthetic control), assigned (rct)
COHORT = "_cpeval_cohort"  # first treated period; NaN for never-treated units


@dataclass(frozen=True)
class Panel:
    """A validated copy of the data with the design's treatment decoded into standard columns."""

    frame: pd.DataFrame
    design: DesignBase
    source: str
    sha256: str
    unit: str
    time: str | None
    warnings: tuple[str, ...] = ()
    summary: dict[str, Any] = field(default_factory=dict)
    # what deriving the outcomes found, per outcome name (zero-rule rows, survey index reliability, repeat
    # victimisation). Filled by load_panel (and so evaluate); a Panel made with validate_panel from an
    # already-derived frame has none (validation keeps only the columns the design uses), and reports then
    # omit those descriptive lines.
    derived: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return int(self.frame[self.unit].nunique())

    def outcome_rows(self, column: str) -> pd.DataFrame:
        """Rows where ``column`` is observed (missing rows were allowed only with data.missing_outcomes=drop)."""
        frame = self.frame
        mask = frame[column].notna()
        return frame if bool(mask.all()) else frame.loc[mask]
