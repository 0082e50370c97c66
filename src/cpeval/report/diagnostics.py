"""Diagnostics: every check with its pass / warn / fail status, and the run's warnings, each said once."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

STATUS = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "error": "ERROR", "info": "info"}


class Checks(Section):
    key = "checks"
    title = "Checks"
    part = "diagnostics"

    def markdown(self, result: EvaluationResult) -> str:
        if not result.checks:
            return ""
        counts = {s: sum(c.status == s for c in result.checks) for s in STATUS}
        lines = ["## Checks", "", ", ".join(f"{n} {STATUS[s]}" for s, n in counts.items() if n) + ".", "",
                 "| check | outcome | status | message |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.outcome or ''} | {STATUS[c.status]} | {c.message} |" for c in result.checks]
        return "\n".join(lines) + "\n"


def merged_warnings(result: EvaluationResult) -> list[str]:
    """The run's warnings with the same text for several outcomes said once, naming the outcomes."""
    names = sorted((e.outcome for e in result.effects), key=len, reverse=True)
    prefix = re.compile(r"^(" + "|".join(map(re.escape, names)) + r"): ") if names else None
    merged: dict[str, list[str]] = {}
    for w in result.warnings:
        m = prefix.match(w) if prefix else None
        text, who = (w[m.end():], m.group(1)) if m else (w, "")
        merged.setdefault(text, [])
        if who and who not in merged[text]:
            merged[text].append(who)
    return [f"{', '.join(who)}: {text}" if who else text for text, who in merged.items()]


class Warnings(Section):
    key = "warnings"
    title = "Warnings"
    part = "diagnostics"

    def applies(self, result: EvaluationResult) -> bool:
        return True  # "None." is worth saying

    def markdown(self, result: EvaluationResult) -> str:
        return "\n".join(["## Warnings", "", *([f"- {w}" for w in merged_warnings(result)] or ["None."]), ""])
