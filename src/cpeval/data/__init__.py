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
    import dataclasses

    from cpeval.data.fingerprint import frame_sha256
    from cpeval.data.sources import read_source
    from cpeval.data.validate import validate_panel
    from cpeval.outcomes.derive import derive_with_info  # derived outcomes exist before validation

    provenance: dict = {}
    notes: tuple[str, ...] = ()
    if data is not None:
        frame, source, sha = data, "<DataFrame>", frame_sha256(data)
    else:
        src = read_source(design)
        frame, source, sha = src.frame, f"{design.origin or '<design>'}: data {src.label}", src.sha256
        provenance, notes = src.provenance, src.warnings
    derived, info = derive_with_info(frame, design, source)
    panel = validate_panel(derived, design, source=source, sha256=sha)
    return dataclasses.replace(panel, derived=info, summary={**panel.summary, **provenance},
                               warnings=(*notes, *panel.warnings))


def validate_panel(frame: pd.DataFrame, design: DesignBase, source: str = "<data>", sha256: str = "") -> Panel:
    from cpeval.data.validate import validate_panel as _validate

    return _validate(frame, design, source=source, sha256=sha256)
