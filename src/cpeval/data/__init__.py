"""Reading data sources and validating them against a design."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cpeval.data.panel import COHORT, TREATED, Panel

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase

__all__ = ["COHORT", "TREATED", "Derived", "Panel", "load_panel", "read_derived", "validate_panel"]


@dataclass(frozen=True)
class Derived:
    """The design's data as read, with derived outcome columns added (every source column kept), before
    validation: read once per run and shared by the panel and the stages that need other columns."""

    frame: pd.DataFrame
    info: Any
    source: str
    sha256: str
    provenance: dict
    notes: tuple[str, ...] = ()


def read_derived(design: DesignBase, data: pd.DataFrame | None = None) -> Derived:
    """Read the design's data (or use ``data``, never modified) and derive its outcome columns."""
    from cpeval.data.fingerprint import frame_sha256
    from cpeval.data.sources import read_source
    from cpeval.outcomes.derive import derive_with_info  # derived outcomes exist before validation

    if data is not None:
        frame, source, sha, provenance, notes = data, "<DataFrame>", frame_sha256(data), {}, ()
    else:
        src = read_source(design)
        frame, source, sha = src.frame, f"{design.origin or '<design>'}: data {src.label}", src.sha256
        provenance, notes = src.provenance, src.warnings
    derived, info = derive_with_info(frame, design, source)
    return Derived(derived, info, source, sha, provenance, tuple(notes))


def load_panel(design: DesignBase, data: pd.DataFrame | None = None, *, derived: Derived | None = None) -> Panel:
    """Read the design's data (or use ``data``) and validate it; ``derived`` reuses data already read by
    :func:`read_derived`. ``data`` is never modified."""
    import dataclasses

    from cpeval.data.validate import validate_panel

    d = derived if derived is not None else read_derived(design, data)
    panel = validate_panel(d.frame, design, source=d.source, sha256=d.sha256)
    return dataclasses.replace(panel, derived=d.info, summary={**panel.summary, **d.provenance},
                               warnings=(*d.notes, *panel.warnings))


def validate_panel(frame: pd.DataFrame, design: DesignBase, source: str = "<data>", sha256: str = "") -> Panel:
    from cpeval.data.validate import validate_panel as _validate

    return _validate(frame, design, source=source, sha256=sha256)
