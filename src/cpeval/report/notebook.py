"""Showing an EvaluationResult in Jupyter (templated notebooks and the book).

Everything shown is the report's own text: the sections of :data:`cpeval.report.sections.SECTIONS`, each with
its figures embedded as data URIs, so a notebook and ``report.md`` never say different things.
:class:`ReportView` shows them one at a time, by key or by part of the report, each once.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import TYPE_CHECKING

from cpeval._format import num
from cpeval.report.inference import ci_cell
from cpeval.report.markdown import render_markdown, section_markdown
from cpeval.report.render import figures_by_section, report_files
from cpeval.report.section import PARTS
from cpeval.report.sections import SECTIONS

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

_IMAGE = re.compile(r"\]\(figures/([^)]+)\)")


def _embed(text: str, figures: dict[str, bytes]) -> str:
    def embed(match: re.Match[str]) -> str:
        png = figures.get(match.group(1))
        if png is None:
            return match.group(0)
        return "](data:image/png;base64," + base64.b64encode(png).decode("ascii") + ")"

    return _IMAGE.sub(embed, text)


def _shift(text: str, heading_offset: int) -> str:
    if not heading_offset:
        return text
    return re.sub(r"(?m)^(#+) ", lambda m: "#" * (len(m.group(1)) + heading_offset) + " ", text)


def self_contained_markdown(result: EvaluationResult, heading_offset: int = 0) -> str:
    """The Markdown report with its figures embedded as data URIs, headings shifted down by ``heading_offset``.

    The same text as ``report.md``; only the figure links differ, so the report can be shown or mailed as
    one file.
    """
    figures = figures_by_section(result)
    flat = {name: png for figs in figures.values() for name, png in figs.items()}
    return _shift(_embed(render_markdown(result, figures), flat), heading_offset)


def show(result: EvaluationResult, heading_offset: int = 1) -> None:
    """Display the full report (tables, checks, warnings and figures) in a notebook."""
    _display_markdown(self_contained_markdown(result, heading_offset))


def verdicts_markdown(result: EvaluationResult) -> str:
    """The report's verdict on every effect (the direction column of its Effects tables), as a list."""
    from cpeval.report.effects import percent_cell, verdict
    from cpeval.results import effects_in_family_order

    lines = [f"- **{e.outcome}** ({e.family}, better if {e.better_if}): {verdict(e)}; estimate {num(e.estimate)}, "
             f"{e.level:.0%} CI {ci_cell(e)}, change {percent_cell(e)}"
             for e in effects_in_family_order(result.effects)]
    failed = [c for c in result.checks if c.status in ("fail", "error")]
    if failed:
        lines.append(f"- checks that failed or could not run: {', '.join(sorted({c.name for c in failed}))}")
    if result.cost_benefit is not None:
        lines.append(f"- cost-benefit: {result.cost_benefit.sentence()}")
    return "\n".join(lines)


class ReportView:
    """Shows an evaluation's report in a notebook one section at a time, each section once.

    ``show(key, ...)`` displays the named sections (keys of :data:`~cpeval.report.sections.SECTIONS`; one that
    does not apply to this result is skipped, an unknown key is an error), ``show_part(part)`` every section
    of a part of the report (:data:`~cpeval.report.section.PARTS`), and ``show_rest()`` every section not
    shown yet, so a section added to the report later still appears in notebooks written before it.
    """

    def __init__(self, result: EvaluationResult, heading_offset: int = 1):
        self.result = result
        figures = figures_by_section(result)  # the applicable sections, in report order
        self.sections: dict[str, str] = {
            s.key: _shift(_embed(section_markdown(s, result, figures[s.key]), figures[s.key]), heading_offset)
            for s in SECTIONS if s.key in figures
        }
        self.parts = {s.key: s.part for s in SECTIONS}
        description = str(result.design.get("description") or "").strip()
        self.title = _shift(f"# {result.name}\n\n{description}".strip(), heading_offset)
        self.shown: set[str] = set()

    def markdown(self, *keys: str) -> str:
        """The named sections' Markdown (those that apply and were not shown yet), marking them as shown."""
        unknown = [k for k in keys if k not in self.parts]
        if unknown:
            raise KeyError(f"no report section {', '.join(map(repr, unknown))}; sections: {', '.join(self.parts)}")
        found = [k for k in keys if k in self.sections and k not in self.shown]
        self.shown.update(found)
        return "\n\n".join(self.sections[k] for k in found)

    def show(self, *keys: str, empty: str = "") -> None:
        """Display the named sections; ``empty`` (Markdown) is shown instead when none of them applies."""
        _display_markdown(self.markdown(*keys) or empty)

    def show_part(self, *parts: str, empty: str = "") -> None:
        """Display every section of the given parts of the report (``summary``, ``effects``, ...)."""
        unknown = [p for p in parts if p not in PARTS]
        if unknown:
            raise KeyError(f"no report part {', '.join(map(repr, unknown))}; parts: {', '.join(PARTS)}")
        self.show(*[k for k, part in self.parts.items() if part in parts], empty=empty)

    def show_title(self) -> None:
        _display_markdown(self.title)

    def show_rest(self) -> None:
        """Every section not shown yet, in report order."""
        _display_markdown(self.markdown(*self.sections))

    def show_verdicts(self) -> None:
        _display_markdown(verdicts_markdown(self.result))

    def write(self, out: str | Path) -> list[Path]:
        """Write results.json, report.md, report.html and figures/ into ``out``, as ``cpeval run --out`` does."""
        return write_report(self.result, out)


def _display_markdown(text: str) -> None:
    if not text.strip():
        return
    from IPython.display import Markdown, display

    display(Markdown(text))


def write_report(result: EvaluationResult, out: str | Path) -> list[Path]:
    """Write :func:`cpeval.report.report_files` into the folder ``out`` as ``cpeval run --out`` does (replaced
    as a whole)."""
    from cpeval._io import OutputDir

    with OutputDir(out, what="output_dir") as target:
        return target.commit(report_files(result))
