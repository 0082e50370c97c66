"""Appraisal of an evaluation: a grantee's claim against the re-analysis, the evidence rating, comparisons.

Reads results (and the checks and consequences in them); only the pipeline, the report and the CLI import it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cpeval.appraise.claim import ClaimValidation, ClaimVerdict, validate_claims
from cpeval.appraise.compare import Comparison, compare, compare_files
from cpeval.appraise.rating import EvidenceRating, rate

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.results import EvaluationResult

__all__ = ["ClaimValidation", "ClaimVerdict", "Comparison", "EvidenceRating", "appraise", "compare",
           "compare_files", "rate", "validate_claims"]


def appraise(result: EvaluationResult, design: DesignBase) -> EvaluationResult:
    """``result`` with its evidence rating and, when the design has a ``claim:``, the claim's verdicts."""
    estimator = getattr(design, "estimator", None)
    scale = "level" if estimator is None else estimator.capabilities.effect_scale
    claims = None if design.claim is None else validate_claims(design.claim, result, scale)
    return dataclasses.replace(result, rating=rate(result, str(design.kind)), claims=claims)
