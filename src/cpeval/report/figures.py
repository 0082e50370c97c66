"""Figures for reports: renderers turn an EvaluationResult into PNG files.

Each renderer in ``FIGURES`` takes the result and returns ``{file name: PNG bytes}`` (empty when it has
nothing to draw). The CLI writes them under ``figures/`` next to ``report.md``, atomically with it; Markdown
sections refer to them as ``figures/<name>.png``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cpeval.results import EvaluationResult

FIGURES: list[Callable[[EvaluationResult], dict[str, bytes]]] = []


def new_figure(width: float = 7.0, height: float = 4.0) -> Figure:
    """A matplotlib Figure not attached to pyplot (no global state, no display needed)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """PNG bytes of ``fig`` with no timestamp or version metadata, so identical input gives identical bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for renderer in FIGURES:
        for name, data in renderer(result).items():
            files[f"figures/{name}"] = data
    return files


from cpeval.report.cba import render_figures as _cost_benefit_figures  # noqa: E402

FIGURES.append(_cost_benefit_figures)

from cpeval.report.outcomes import render_figures as _outcome_figures  # noqa: E402

FIGURES.append(_outcome_figures)

from cpeval.report.rct import render_figures as _rct_figures  # noqa: E402

FIGURES.append(_rct_figures)

from cpeval.report.did_cs import render_figures as _did_cs_figures  # noqa: E402

FIGURES.append(_did_cs_figures)

from cpeval.report.did_event import render_figures as _did_event_figures  # noqa: E402

FIGURES.append(_did_event_figures)

from cpeval.report.synth import render_figures as _synth_figures  # noqa: E402

FIGURES.append(_synth_figures)
