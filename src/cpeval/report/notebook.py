"""Showing an EvaluationResult in Jupyter (templated notebooks and the book)."""

from __future__ import annotations

import base64
import re
from typing import TYPE_CHECKING

from cpeval.report.figures import render_figures
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
