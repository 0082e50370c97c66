"""Adverse indicators (stigmatisation, offence and temporal displacement, other harms): each is estimated with
the design's own estimator and flagged when its interval excludes zero in the declared adverse direction."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval.consequences import refit
from cpeval.consequences.result import Finding

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import AdverseIndicator

CONCERN_WORDS = {
    "stigmatisation": "a sign of stigmatising the area or its residents",
    "offence_displacement": "crime moving to another offence type",
    "temporal_displacement": "crime moving to other hours or days",
    "other": "an adverse consequence",
}


def outcome_dict(indicator: AdverseIndicator) -> dict[str, Any]:
    """The indicator as a design outcome (family 'other', better the opposite way of its adverse direction)."""
    return {"name": indicator.name, "column": indicator.column, "measure": indicator.measure, "family": "other",
            "better_if": "decrease" if indicator.adverse_if == "increase" else "increase",
            "label": indicator.label or indicator.name}


def variant(design: DesignBase, indicator: AdverseIndicator) -> DesignBase:
    return refit.variant(design, outcomes=[outcome_dict(indicator)])


def assess(design: DesignBase, frame: pd.DataFrame, indicators: list[AdverseIndicator], tag: str) -> list[Finding]:
    findings = []
    for ind in indicators:
        effect = refit.fit(variant(design, ind), frame, ind.name, tag)
        status, positive = refit.adverse_status(effect, ind.adverse_if)
        label = ind.label or ind.name
        moved = f"{label} {refit.change_words(effect)} in the programme areas relative to the comparison"
        if status == "fail":
            sentence = f"Adverse: {moved}, {CONCERN_WORDS[ind.concern]}."
        elif positive:
            sentence = f"Moved the welcome way: {moved}."
        else:
            sentence = f"No clear adverse change: {moved}."
        findings.append(Finding(topic="adverse", name=f"{ind.concern.replace('_', ' ')}: {ind.name}", status=status,
                                sentence=sentence, outcome=ind.name, positive=positive,
                                evidence={"effect": refit.describe(effect), "adverse_if": ind.adverse_if,
                                          "concern": ind.concern, "warnings": list(effect.warnings)}))
    return findings
