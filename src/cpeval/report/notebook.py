"""Showing an EvaluationResult in Jupyter (templated notebooks and the book)."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cpeval.report.figures import render_figures
from cpeval.report.format import num
from cpeval.report.inference import ci_cell
from cpeval.report.markdown import render_markdown

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

_IMAGE = re.compile(r"\]\(figures/([^)]+)\)")


def self_contained_markdown(result: EvaluationResult, heading_offset: int = 0) -> str:
    """The Markdown report with its figures embedded as data URIs, headings shifted down by ``heading_offset``.

    The same text as ``report.md``; only the figure links differ, so the report can be shown or mailed as
    one file.
    """
    figures = render_figures(result)
    text = render_markdown(result)

    def embed(match: re.Match[str]) -> str:
        png = figures.get(f"figures/{match.group(1)}")
        if png is None:
            return match.group(0)
        return "](data:image/png;base64," + base64.b64encode(png).decode("ascii") + ")"

    text = _IMAGE.sub(embed, text)
    if heading_offset:
        text = re.sub(r"(?m)^(#+) ", lambda m: "#" * (len(m.group(1)) + heading_offset) + " ", text)
    return text


def show(result: EvaluationResult, heading_offset: int = 1) -> None:
    """Display the full report (tables, checks, warnings and figures) in a notebook."""
    from IPython.display import Markdown, display

    display(Markdown(self_contained_markdown(result, heading_offset)))


_SECTION = re.compile(r"(?m)^## (.+)$")


def report_sections(result: EvaluationResult, heading_offset: int = 1) -> dict[str, str]:
    """The report cut at its second-level headings: ``{title: Markdown}`` in the report's order.

    The text is :func:`self_contained_markdown`'s (figures embedded), so a notebook can place each part next to
    its own explanation without rendering anything twice or differently. The report's first lines (title and
    description) are under the key ``""``.
    """
    text = self_contained_markdown(result)
    cuts = [(m.start(), m.group(1).strip()) for m in _SECTION.finditer(text)]
    parts: dict[str, str] = {"": text[: cuts[0][0] if cuts else len(text)]}
    for (start, title), (end, _) in zip(cuts, [*cuts[1:], (len(text), "")], strict=True):
        part = text[start:end]
        if heading_offset:
            part = re.sub(r"(?m)^(#+) ", lambda m: "#" * (len(m.group(1)) + heading_offset) + " ", part)
        parts[title] = parts.get(title, "") + part
    return parts


def verdicts_markdown(result: EvaluationResult) -> str:
    """The report's verdict on every effect (the direction column of its Effects tables), as a list."""
    from cpeval.report.markdown import percent_cell, verdict
    from cpeval.results import effects_in_family_order

    lines = [f"- **{e.outcome}** ({e.family}, better if {e.better_if}): {verdict(e)}; estimate {num(e.estimate)}, "
             f"{e.level:.0%} CI {ci_cell(e)}, change {percent_cell(e)}"
             for e in effects_in_family_order(result.effects)]
    failed = [c for c in result.checks if c.status in ("fail", "error")]
    if failed:
        lines.append(f"- checks that failed or could not run: {', '.join(sorted({c.name for c in failed}))}")
    if "cost_benefit" in result.extras:
        lines.append(f"- cost-benefit: {result.extras['cost_benefit']['sentence']}")
    return "\n".join(lines)


class ReportView:
    """Shows an evaluation's report in a notebook one section at a time, each section once.

    ``show(title, ...)`` displays the named sections that the report has (a section the design does not call
    for is skipped silently); ``show_rest()`` displays every section not shown yet, so a section added to the
    report later still appears in notebooks written before it.
    """

    def __init__(self, result: EvaluationResult, heading_offset: int = 1):
        self.result = result
        self.sections = report_sections(result, heading_offset)
        self.shown: set[str] = set()

    def markdown(self, *titles: str) -> str:
        """The named sections' Markdown (those present and not shown yet), marking them as shown."""
        found = [t for t in titles if t in self.sections and t not in self.shown]
        self.shown.update(found)
        return "\n".join(self.sections[t] for t in found)

    def show(self, *titles: str, empty: str = "") -> None:
        """Display the named sections; ``empty`` (Markdown) is shown instead when the report has none of them."""
        _display_markdown(self.markdown(*titles) or empty)

    def show_rest(self, last: tuple[str, ...] = ("Warnings",)) -> None:
        """Every section not shown yet, except those kept for the end (``last``)."""
        _display_markdown(self.markdown(*[t for t in self.sections if t not in last]))

    def show_verdicts(self) -> None:
        _display_markdown(verdicts_markdown(self.result))

    def write(self, out: str | Path) -> list[Path]:
        """Write results.json, report.md and figures/ into ``out``, as ``cpeval run --out`` does."""
        return write_report(self.result, out)


def _display_markdown(text: str) -> None:
    if not text.strip():
        return
    from IPython.display import Markdown, display

    display(Markdown(text))


def report_files(result: EvaluationResult) -> dict[str, str | bytes]:
    """The files ``cpeval run`` writes for a result: results.json, report.md and figures/*.png."""
    files: dict[str, str | bytes] = {"results.json": result.to_json(), "report.md": render_markdown(result)}
    files.update(render_figures(result))
    return files


def write_report(result: EvaluationResult, out: str | Path) -> list[Path]:
    """Write :func:`report_files` into the folder ``out`` as ``cpeval run --out`` does (replaced as a whole)."""
    from cpeval._io import OutputDir

    with OutputDir(out, what="output_dir") as target:
        return target.commit(report_files(result))
