"""Markdown of the appraisal results (the report's sections and the CLI print these)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cpeval._format import num

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cpeval.appraise.claim import ClaimValidation
    from cpeval.appraise.compare import Comparison
    from cpeval.appraise.rating import EvidenceRating, Rule

VERDICT_WORDS: dict[str, str] = {
    "reproduced": "reproduced",
    "larger": "reproduced but the claim is larger",
    "smaller": "reproduced but the claim is smaller",
    "different_sign": "different sign",
    "not_significant": "not significant on re-analysis",
    "cannot_compare": "cannot be compared",
}


def _n(x: Any) -> str:
    """A number to 4 significant digits; missing or not finite as a dash."""
    finite = isinstance(x, (int, float)) and math.isfinite(x)
    return num(float(x) if finite else None, missing="—")


def _ci(ci: Any) -> str:
    return f"[{_n(ci[0])}, {_n(ci[1])}]" if ci else ""


def claim_markdown(validation: ClaimValidation) -> str:
    head = ("Every claimed effect reproduces." if validation.reproduces
            else "**Not every claimed effect reproduces.**")
    lines = ["## Validation of the claim", "",
             f"Claim{' by ' + validation.by if validation.by else ''}, re-run by cpeval. {head}", "",
             "| outcome | scale | claimed | re-analysis | verdict | source |", "|---|---|---|---|---|---|"]
    lines += [f"| {v.outcome} | {v.scale.replace('_', ' ')} | {_n(v.claimed)} "
              f"{_ci(v.claimed_interval) if v.claimed_interval else f'(SE {_n(v.claimed_std_error)})'} | "
              f"{_n(v.reanalysis)} {_ci(v.reanalysis_interval)} | {VERDICT_WORDS[v.verdict]} | {v.source} |"
              for v in validation.verdicts]
    lines += ["", *(f"- **{v.outcome}**: {v.reason}." for v in validation.verdicts), "",
              f"Rule: {validation.rule}.", ""]
    for v in validation.verdicts:
        if v.robustness:
            lines += [f"Robustness findings bearing on the {v.outcome} claim:", "",
                      *(f"- {r}" for r in v.robustness), ""]
    return "\n".join(lines)


def rating_markdown(rating: EvidenceRating, every_rule: Iterable[Rule]) -> str:
    lines = ["## Strength of evidence", "",
             f"*This is {rating.label}, from the rules listed below: disagree with a rule, "
             f"not a black box.*", "",
             f"Maryland Scientific Methods Scale level **{rating.level}** of 5"
             + (f" (level {rating.base_level} before the downgrades below)." if rating.level != rating.base_level
                else "."), "",
             "| outcome | role | reading |", "|---|---|---|"]
    lines += [f"| {r.outcome} | {r.role} | {r.reading.replace('_', ' ')} |" for r in rating.readings]
    lines += ["", "Rules applied:", ""]
    lines += [f"- `{r.id}`: {r.text} ({r.source})" for r in rating.rules]
    unused = [r for r in every_rule if r not in rating.rules]
    lines += ["", "Rules that did not apply: " + "; ".join(f"`{r.id}`" for r in unused) + ".", ""]
    return "\n".join(lines)


def compare_markdown(comparison: Comparison) -> str:
    lines = [f"## {comparison.a_name} vs {comparison.b_name}", "",
             "| outcome | A estimate [CI] | B estimate [CI] | A - B | z | flags |", "|---|---|---|---|---|---|"]
    for o in comparison.outcomes:
        a = f"{_n(o.a['estimate'])} {_ci(o.a['conf_int'])}" if o.a else "—"
        b = f"{_n(o.b['estimate'])} {_ci(o.b['conf_int'])}" if o.b else "—"
        lines.append(f"| {o.outcome} | {a} | {b} | {_n(o.difference)} | {_n(o.z)} | "
                     f"{'; '.join(o.flags) or 'none'} |")
    lines += ["", f"{comparison.flagged} of {len(comparison.outcomes)} outcomes flagged. z = (A - B) / sqrt(SE_A^2 + "
              "SE_B^2), treating the two as independent.", ""]
    return "\n".join(lines)
