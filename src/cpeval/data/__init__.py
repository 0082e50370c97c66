"""Reading data sources and validating them against a design."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpeval.data.panel import COHORT, TREATED, Panel

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase

__all__ = ["COHORT", "TREATED", "Panel", "load_panel", "validate_panel"]


def load_panel(design: DesignBase, data: pd.DataFrame | None = None) -> Panel:
    """Read the design's data (or use ``data``) and validate it. ``data`` is never modified."""
    import hashlib

    from cpeval.data.sources import read_source
    from cpeval.data.validate import validate_panel
    from cpeval.outcomes import derive  # derived outcomes (rates, harm, fear) exist before validation

    if data is not None:
        sha = hashlib.sha256(data.to_csv(index=False).encode()).hexdigest()
        return validate_panel(derive(data, design, "<DataFrame>"), design, source="<DataFrame>", sha256=sha)
    src = read_source(design)
    label = f"{design.origin or '<design>'}: data {src.label}"
    return validate_panel(derive(src.frame, design, label), design, source=label, sha256=src.sha256)


def validate_panel(frame: pd.DataFrame, design: DesignBase, source: str = "<data>", sha256: str = "") -> Panel:
    from cpeval.data.validate import validate_panel as _validate

    return _validate(frame, design, source=source, sha256=sha256)
