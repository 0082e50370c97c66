"""Typed payloads an estimator attaches to an :class:`~cpeval.results.Effect`, read by attribute.

Checks and the report ask ``effect.payload(LeeBounds)`` instead of looking up a dictionary key, so a renamed
or missing field is an error where it is read rather than a silently empty section. Each payload is a frozen
dataclass with a ``key``: results.json writes it (``to_dict``) into the Effect's ``diagnostics`` under that
key, so the file keeps the layout of the dictionaries these classes replace.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from cpeval.results import jsonable


@dataclass(frozen=True)
class Payload:
    """Base of the typed payloads: ``key`` names it in results.json's ``diagnostics``."""

    key: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return jsonable(dataclasses.asdict(self))


@dataclass(frozen=True)
class LeeBounds(Payload):
    """Lee (2009) bounds on a trial's effect for those whose outcome would be observed in either arm, with a
    bootstrap interval for the bounds (``ci_lower`` below the lower bound, ``ci_upper`` above the upper)."""

    key: ClassVar[str] = "lee_bounds"
    lower: float
    upper: float
    trim_share: float  # share of the better-observed arm's outcomes trimmed
    trimmed_arm: str  # "treated" or "control"
    observed_rate_treated: float
    observed_rate_control: float
    ci_lower: float
    ci_upper: float
    bootstrap: int  # bootstrap replications behind the interval
    note: str
