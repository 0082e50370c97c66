"""Evidence rating: the Maryland Scientific Methods Scale level a design reaches, and a per-outcome reading.

cpeval's provisional assessment, made from rules a reader can disagree with one by one (each is listed in the
result with its source). Levels follow Sherman et al. (1997, ch. 2, "Preventing Crime: What Works, What
Doesn't, What's Promising") and Farrington, Gottfredson, Sherman & Welsh (2002, "The Maryland Scientific Methods
Scale", in *Evidence-Based Crime Prevention*, ch. 2):

- Level 1: a correlation between the programme and crime at one point in time.
- Level 2: before-after measures without a comparable comparison, or a comparison without before-after measures.
- Level 3: before-after measures in treated and comparable comparison conditions.
- Level 4: before-after measures in several treated and comparison units, controlling for other influences.
- Level 5: random assignment of comparable units to programme and comparison.

The reading per outcome borrows CrimeSolutions' categories (effective / promising / no effect / inconclusive,
plus harmful) for a single study; it is no CrimeSolutions rating, which reviewers give from several studies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cpeval.appraise.render import rating_markdown
from cpeval.payloads import ClusterCounts
from cpeval.results import jsonable

if TYPE_CHECKING:
    from cpeval.results import CheckResult, Effect, EvaluationResult

Reading = Literal["effective", "promising", "no_effect", "inconclusive", "harmful"]
SHERMAN_1997 = "Sherman et al. (1997), Preventing Crime, ch. 2"
FARRINGTON_2002 = "Farrington et al. (2002), The Maryland Scientific Methods Scale"
CRIMESOLUTIONS = "CrimeSolutions.gov, How we review and rate a program (evidence ratings)"
# The rating's own rule, not the inference rule (estimation.inference.FEW_TREATED_FOR_RATING = 10 decides when a
# wild bootstrap or randomisation leads): with fewer treated clusters than this the comparison itself rests on
# too few independent units, whatever inference is used, so the rating goes one level down.
FEW_TREATED_FOR_RATING = 5


@dataclass(frozen=True)
class Rule:
    """One rating rule: its id, what it says and where it comes from."""

    id: str
    text: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "source": self.source}


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("rct", "Random assignment of units to programme and comparison: level 5.", FARRINGTON_2002),
    Rule("did_comparable", "Before-after measures in several treated and comparison units, the comparison's "
         "comparability tested by a pre-treatment trend test: level 4 (lower when the test warns or fails).",
         FARRINGTON_2002),
    Rule("did_untested", "Before-after measures in treated and comparison units, comparability not tested (no "
         "pre-treatment trend test ran): level 3.", FARRINGTON_2002),
    Rule("synth", "Synthetic control: the treated unit's pre-treatment path matched by a weighted pool of "
         "comparison units, which controls for other influences: level 4.", FARRINGTON_2002),
    Rule("pre_trends_fail", "The pre-treatment trend test fails: the comparison is not comparable, as level 3 "
         "requires; at most level 2.", SHERMAN_1997),
    Rule("pre_trends_warn", "The pre-treatment trend test warns: at most level 3.", SHERMAN_1997),
    Rule("attrition", "Attrition beyond the design's thresholds (overall or differential) breaks the comparability "
         "random assignment gave: at most level 4.", FARRINGTON_2002),
    Rule("imbalance", "Baseline imbalance between the randomised groups: at most level 4.", FARRINGTON_2002),
    Rule("synth_fit", "A poor synthetic fit: the treated pre-period outcome outside the donors' range (convex-hull "
         "check warns or fails) or predictor balance failing (a balance warning alone is not enough): at most "
         "level 3.", FARRINGTON_2002),
    Rule("few_clusters", f"Fewer than {FEW_TREATED_FOR_RATING} treated clusters: one level down, as the comparison "
         "rests on too few independent units.", SHERMAN_1997),
    Rule("reading_floor", "Below level 3 a study does not count towards what works: the reading is inconclusive.",
         SHERMAN_1997),
    Rule("reading_effective", "Interval excludes zero in the better direction at level 4 or 5: effective.",
         CRIMESOLUTIONS),
    Rule("reading_promising", "Interval excludes zero in the better direction at level 3: promising.",
         CRIMESOLUTIONS),
    Rule("reading_harmful", "Interval excludes zero in the worse direction at level 3 or above: harmful.",
         CRIMESOLUTIONS),
    Rule("reading_no_effect", "Interval includes zero at level 4 or 5: no effect.", CRIMESOLUTIONS),
    Rule("reading_inconclusive", "Interval includes zero at level 3, or no finite interval: inconclusive.",
         CRIMESOLUTIONS),
)}


@dataclass(frozen=True)
class OutcomeReading:
    outcome: str
    role: str
    reading: Reading
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "role": self.role, "reading": self.reading, "rule": self.rule}


@dataclass(frozen=True)
class EvidenceRating:
    """The SMS level with the rules that set it, and the reading per outcome. A provisional assessment."""

    level: int
    base_level: int
    reasons: tuple[str, ...]  # the rule ids applied, in order
    readings: tuple[OutcomeReading, ...]
    label: str = "cpeval's provisional assessment"

    @property
    def rules(self) -> tuple[Rule, ...]:
        applied = [*self.reasons, *dict.fromkeys(r.rule for r in self.readings)]
        return tuple(RULES[i] for i in applied)

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"label": self.label, "level": self.level, "base_level": self.base_level,
                         "reasons": list(self.reasons), "rules": [r.to_dict() for r in self.rules],
                         "readings": [r.to_dict() for r in self.readings]})

    def summary(self) -> str:
        return (f"Maryland SMS level {self.level} ({self.label}); "
                + "; ".join(f"{r.outcome}: {r.reading.replace('_', ' ')}" for r in self.readings))

    def markdown(self) -> str:
        return rating_markdown(self, RULES.values())


def _status(checks: tuple[CheckResult, ...], *names: str) -> set[str]:
    return {c.status for c in checks if c.name in names}


def _treated_clusters(effects: tuple[Effect, ...]) -> int | None:
    counts = [c.treated for e in effects if (c := e.payload(ClusterCounts)) is not None]
    return min(counts) if counts else None


def sms_level(
    kind: str, checks: tuple[CheckResult, ...], effects: tuple[Effect, ...]
) -> tuple[int, int, tuple[str, ...]]:
    """``(level, base level, rule ids applied)`` for a design of ``kind`` given its checks and effects."""
    pre = _status(checks, "pre_trends")
    if kind == "rct":
        reasons = ["rct"]
    elif kind == "synthetic_control":
        reasons = ["synth"]
    else:
        reasons = ["did_comparable" if pre - {"error", "info"} else "did_untested"]
    base = {"rct": 5, "synth": 4, "did_comparable": 4, "did_untested": 3}[reasons[0]]
    caps = {"pre_trends_fail": 2 if "fail" in pre else None,
            "pre_trends_warn": 3 if "warn" in pre and "fail" not in pre else None,
            "attrition": 4 if _status(checks, "attrition") & {"warn", "fail"} else None,
            "imbalance": 4 if kind == "rct" and _status(checks, "balance") & {"fail"} else None,
            "synth_fit": 3 if kind == "synthetic_control" and (_status(checks, "convex_hull") & {"warn", "fail"}
                                                                or "fail" in _status(checks, "balance")) else None}
    level = base
    for rule, cap in caps.items():
        if cap is not None and cap < level:
            level = cap
            reasons.append(rule)
    clusters = _treated_clusters(effects)
    if kind != "synthetic_control" and clusters is not None and clusters < FEW_TREATED_FOR_RATING:
        level = max(1, level - 1)
        reasons.append("few_clusters")
    return level, base, tuple(reasons)


def read_outcome(effect: Effect, level: int, role: str = "primary") -> OutcomeReading:
    """The CrimeSolutions-style reading of one effect at SMS ``level``."""
    lo, hi = effect.ci_lower, effect.ci_upper
    if level < 3:
        rule = "reading_floor"
    elif not (math.isfinite(lo) and math.isfinite(hi)):
        rule = "reading_inconclusive"
    elif lo > 0 or hi < 0:
        better = (lo > 0) == (effect.better_if == "increase")
        rule = "reading_harmful" if not better else ("reading_effective" if level >= 4 else "reading_promising")
    else:
        rule = "reading_no_effect" if level >= 4 else "reading_inconclusive"
    reading = "inconclusive" if rule == "reading_floor" else rule.removeprefix("reading_")
    return OutcomeReading(outcome=effect.outcome, role=role, reading=reading, rule=rule)  # type: ignore[arg-type]


def rate(result: EvaluationResult, kind: str) -> EvidenceRating:
    """The evidence rating of an evaluation of design ``kind``."""
    level, base, reasons = sms_level(kind, result.checks, result.effects)
    roles = {o.get("name"): o.get("role", "primary") for o in result.design.get("outcomes", [])}
    readings = tuple(read_outcome(e, level, roles.get(e.outcome) or "primary") for e in result.effects)
    return EvidenceRating(level=level, base_level=base, reasons=reasons, readings=readings)
