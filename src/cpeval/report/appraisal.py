"""The claim's verdicts (leading the report when the design has a claim) and the strength of the evidence."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult


class ClaimVerdicts(Section):
    key = "claim"
    title = "Validation of the claim"
    part = "summary"

    def markdown(self, result: EvaluationResult) -> str:
        return "" if result.claims is None else result.claims.markdown()


class EvidenceStrength(Section):
    key = "rating"
    title = "Strength of evidence"
    part = "summary"

    def markdown(self, result: EvaluationResult) -> str:
        return "" if result.rating is None else result.rating.markdown()
