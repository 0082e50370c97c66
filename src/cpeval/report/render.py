"""The report's files: results.json, report.md, report.html and figures/, all from the same sections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpeval.report.disclosure import for_results_json, protect
from cpeval.report.html import render_html
from cpeval.report.markdown import render_markdown
from cpeval.report.sections import SECTIONS

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult


def figures_by_section(result: EvaluationResult) -> dict[str, dict[str, bytes]]:
    """Each applicable section's figures, ``{section key: {file name: PNG bytes}}``, in report order, drawn
    from the result after disclosure control."""
    result = protect(result)
    return {s.key: s.figures(result) for s in SECTIONS if s.applies(result)}


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    """Every figure of the report as ``{"figures/<name>": PNG bytes}`` (the paths ``report.md`` links)."""
    return {f"figures/{name}": data for figs in figures_by_section(result).values() for name, data in figs.items()}


def report_files(result: EvaluationResult) -> dict[str, str | bytes]:
    """The files ``cpeval run`` writes for a result: results.json, report.md, report.html and figures/*.png
    (each figure drawn once: the HTML embeds the same bytes)."""
    figures = figures_by_section(result)
    files: dict[str, str | bytes] = {"results.json": for_results_json(result).to_json(),
                                     "report.md": render_markdown(result, figures),
                                     "report.html": render_html(result, figures)}
    files.update({f"figures/{n}": data for figs in figures.values() for n, data in figs.items()})
    return files
