"""The report-section protocol: one class per section, listed once in :mod:`cpeval.report.sections`.

A section knows its title, the part of the report it belongs to, whether it applies to a result, its Markdown,
its figures (PNG bytes by file name) and the Jinja2 template fragment that turns its content into HTML. The
Markdown and HTML reports are both built from the same section objects, so they say the same thing.

Figures are referred to in a section's Markdown as ``![caption](figures/<name>)``; the caption is also the
figure's alt text. A figure a section draws but does not refer to is appended to the section with a caption
made from its name, so no figure is drawn without being shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

# The report's parts, in order: a summary, then UN Guidelines para 23 (a)-(d), diagnostics and the appendix.
PARTS: dict[str, str] = {
    "summary": "Summary",
    "effects": "(a) Effects: short and longer term, and for whom",
    "cost_benefit": "(b) Costs and benefits",
    "outcomes": "(c) Crime, its seriousness and fear of crime",
    "consequences": "(d) Unintended consequences",
    "diagnostics": "Diagnostics",
    "appendix": "Appendix: how to reproduce this evaluation",
}


class Section:
    """One report section. Subclasses set ``key``, ``title`` and ``part`` and define :meth:`markdown`."""

    key: ClassVar[str]
    title: ClassVar[str]
    part: ClassVar[str]
    template: ClassVar[str] = "section.html.j2"  # under cpeval/report/templates/

    def markdown(self, result: EvaluationResult) -> str:
        """The section's Markdown, starting with its ``## `` heading; "" when it has nothing to say."""
        raise NotImplementedError

    def figures(self, result: EvaluationResult) -> dict[str, bytes]:
        """``{file name: PNG bytes}`` of the section's figures (empty when it draws none)."""
        return {}

    def applies(self, result: EvaluationResult) -> bool:
        return bool(self.markdown(result).strip())

    def __repr__(self) -> str:
        return f"<report section {self.key!r}>"
