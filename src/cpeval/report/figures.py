"""Plot helpers for report sections (a leaf: imports nothing from cpeval).

Sections draw with :func:`new_figure` and return :func:`png_bytes`; the report writes them under ``figures/``
beside ``report.md`` and embeds the same bytes in ``report.html``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def new_figure(width: float = 7.0, height: float = 4.0) -> Figure:
    """A matplotlib Figure not attached to pyplot (no global state, no display needed)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """PNG bytes of ``fig`` with no timestamp or version metadata, so identical input gives identical bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def interval_chart(labels: list[str], estimates: list[float], lower: list[float], upper: list[float], *,
                   xlabel: str, title: str, good_below: bool | None = None) -> bytes:
    """Point estimates with horizontal intervals, one row per label (a forest plot), zero marked.

    ``good_below`` colours each row: blue where the whole interval lies on the good side of zero, red where it
    lies on the bad side, grey otherwise (None: all grey).
    """
    fig = new_figure(7.0, 1.2 + 0.45 * len(labels))
    ax = fig.add_subplot()
    ys = list(range(len(labels)))[::-1]
    for y, est, lo, hi in zip(ys, estimates, lower, upper, strict=True):
        colour = "0.35"
        if good_below is not None and (lo > 0 or hi < 0):
            colour = "#2166ac" if (hi < 0) == good_below else "#b2182b"
        ax.plot([lo, hi], [y, y], color=colour, lw=2)
        ax.scatter([est], [y], color=colour, zorder=3, s=26)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    return png_bytes(fig)
