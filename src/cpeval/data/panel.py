"""The validated panel every estimator reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.periods import PeriodMap
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
    # how a date-valued period column became integer periods (None when the data gave whole numbers):
    # its frequency and each period's label, for reports
    periods: PeriodMap | None = None

    def period_label(self, period: Any) -> str:
        """A period as the data wrote it: the date label of a mapped period, else the number itself."""
        return self.periods.label(period) if self.periods is not None else str(period)

    @property
    def n_units(self) -> int:
        return int(self.frame[self.unit].nunique())

    def outcome_rows(self, column: str) -> pd.DataFrame:
        """Rows where ``column`` is observed (missing rows were allowed only with data.missing_outcomes=drop)."""
        frame = self.frame
        mask = frame[column].notna()
        return frame if bool(mask.all()) else frame.loc[mask]


def switching_units(frame: pd.DataFrame, unit: str, time: str, treated: str = TREATED) -> list[Any]:
    """Units whose 0/1 treatment switches off after it started (treatment that is not absorbing)."""
    ordered = frame.sort_values([unit, time], kind="mergesort")
    off = ordered.groupby(unit, sort=False)[treated].diff() < 0
    return list(ordered.loc[off, unit].unique())


def absorbing_required_by(design: DesignBase) -> list[str]:
    """What in the design needs treatment to stay on once it starts: event-time methods (every method
    but twfe with a 0/1 indicator) and every DiD check (each fits event-time or adoption-timing models)."""
    needs = [f"method '{design.estimator.method}'"] if design.requires_absorbing else []  # type: ignore[attr-defined]
    return needs + [f"check '{c}'" for c in design.checks.requested]


def not_absorbing_message(units: list[Any], needs: list[str]) -> str:
    """The one statement of the rule for treatment that switches off, with the fix."""
    from cpeval.errors import echo

    shown = ", ".join(echo(u.item() if hasattr(u, "item") else u) for u in units[:3])
    shown += ", ..." if len(units) > 3 else ""
    return (
        f"treatment switches off after it started in {len(units)} units (e.g. {shown}); {' and '.join(needs)} "
        "need treatment that stays on once it starts (staggered adoption). Either use method: twfe without "
        "checks (it compares treated and untreated unit-periods and allows switching), or recode the "
        "treatment as adoption (treatment.first_treated: the first period each unit was treated)"
    )
