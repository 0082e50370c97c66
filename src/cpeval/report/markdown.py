"""The Markdown report: the title, then every section of :data:`cpeval.report.sections.SECTIONS` that applies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cpeval.report.disclosure import protect
from cpeval.report.sections import SECTIONS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cpeval.report.section import Section
    from cpeval.results import EvaluationResult

_FIGURE_LINK = re.compile(r"!\[[^\]]*\]\(figures/([^)\s]+)\)")


def caption_from_name(name: str) -> str:
    return name.rsplit(".", 1)[0].replace("_", " ").capitalize()


def section_markdown(section: Section, result: EvaluationResult, figures: Iterable[str] = ()) -> str:
    """A section's Markdown with a link to each of ``figures`` it drew but did not refer to."""
    text = section.markdown(result).rstrip()
    linked = set(_FIGURE_LINK.findall(text))
    extra = [f"![{caption_from_name(n)}](figures/{n})" for n in figures if n not in linked]
    return "\n\n".join([text, *extra])


def render_markdown(result: EvaluationResult, figures: dict[str, dict[str, bytes]] | None = None) -> str:
    """``figures``: each section's figures by section key (:func:`cpeval.report.render.figures_by_section`), so
    a figure a section drew without referring to it is linked too."""
    result = protect(result)
    lines: list[str] = [f"# {result.name}", ""]
    if result.design.get("description"):
        lines += [str(result.design["description"]).strip(), ""]
    for section in SECTIONS:
        if not section.applies(result):
            continue
        lines += [section_markdown(section, result, (figures or {}).get(section.key, {})), ""]
    return "\n".join(lines)
