"""Rendering an EvaluationResult. Reads results only; never imports estimators."""

from cpeval.report.html import render_html
from cpeval.report.markdown import render_markdown
from cpeval.report.render import render_figures, report_files

__all__ = ["render_figures", "render_html", "render_markdown", "report_files"]
