"""The typed result of the unintended-consequences assessment: findings, negatives first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from cpeval.results import Summarised, jsonable

FindingStatus = Literal["pass", "warn", "fail"]
TOPICS: tuple[str, ...] = ("displacement", "temporal", "adverse", "disproportionality", "subgroups", "refutation")
_ORDER = {"fail": 0, "warn": 1, "pass": 2}


@dataclass(frozen=True)
class Finding:
    """One consequence assessed: its status, one plain sentence, and the numbers behind it.

    ``status``: 'fail' when the programme appears to have caused harm (an interval excluding zero in the adverse
    direction), 'warn' for a harm that is offset or uncertain enough to need a look, 'pass' otherwise.
    ``positive`` marks a benefit beyond the programme's aim (diffusion of benefits), listed after the negatives.
    """

    topic: str
    name: str
    status: FindingStatus
    sentence: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    positive: bool = False

    def __post_init__(self) -> None:
        if self.status not in _ORDER:
            raise ValueError(f"Finding.status must be pass, warn or fail; got {self.status!r}")
        if self.topic not in TOPICS:
            raise ValueError(f"Finding.topic must be one of {TOPICS}; got {self.topic!r}")

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"topic": self.topic, "name": self.name, "status": self.status, "sentence": self.sentence,
                         "outcome": self.outcome, "positive": self.positive, "evidence": dict(self.evidence)})


def ordered(findings: list[Finding] | tuple[Finding, ...]) -> tuple[Finding, ...]:
    """Negatives first (fail, then warn), then positives (benefits), then the rest; stable within each."""
    return tuple(sorted(findings, key=lambda f: (_ORDER[f.status], not f.positive)))


@dataclass(frozen=True)
class ConsequencesResult(Summarised):
    """Every consequence finding of one evaluation, negatives first, with the area roles and caveats used."""

    findings: tuple[Finding, ...]
    roles: Mapping[str, Any] | None = None
    caveats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "findings", ordered(self.findings))

    @property
    def flagged(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status == "fail")

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"findings": [f.to_dict() for f in self.findings], "roles": self.roles,
                         "caveats": list(self.caveats)})

    def summary(self) -> str:
        lines = ["Unintended consequences:"]
        lines += [f"  {f.status.upper():4s} [{f.topic}] {f.name}: {f.sentence}" for f in self.findings]
        lines += [f"  Caveat: {c}" for c in self.caveats]
        return "\n".join(lines)
