"""Rendering an EvaluationResult. Reads results only; never imports estimators."""

from cpeval.report.markdown import render_markdown

__all__ = ["render_markdown"]
