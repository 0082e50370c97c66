"""Temporal displacement: crime in the programme areas moving to the hours or days outside the programme's
operating window.

Each offence is counted twice per area and period, inside the window and outside it. The design's own
estimator is fitted to each count (programme areas against the comparison areas, buffers left out when spatial
roles are declared, since displacement may have reached them): the effect inside the window is the programme's
direct effect, the effect outside it is displacement in time when it is an increase (or diffusion of benefits in
time when a decrease). The net change across all hours in the programme areas combines the two with their joint
sampling law (both are fitted on the same areas, so their influence values give the correlation), as the
spatial total net effect does (:func:`cpeval.consequences.displacement.net_effect`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.consequences import refit
from cpeval.consequences.displacement import net_effect, net_reduction
from cpeval.consequences.result import Finding

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.consequences.spatial import Roles
    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import TemporalOutcome, TemporalSpec

WINDOW, OUTSIDE = "in_window", "outside_window"


def _outcome(o: TemporalOutcome, part: str) -> dict[str, Any]:
    column = o.inside if part == WINDOW else o.outside
    return {"name": f"{o.name}_{part}", "column": column, "measure": "count", "family": "crime",
            "better_if": "decrease", "label": f"{o.label or o.name} ({part.replace('_', ' ')})"}


def variant(design: DesignBase, o: TemporalOutcome) -> DesignBase:
    """The design with the offence's two counts (inside and outside the window) as its outcomes."""
    return refit.variant(design, outcomes=[_outcome(o, WINDOW), _outcome(o, OUTSIDE)])


def treated_rows(frame: pd.DataFrame, design: DesignBase) -> np.ndarray:
    """Rows of a programme area in a programme period (the design's own treatment)."""
    treatment = design.treatment  # type: ignore[attr-defined]
    time = frame[design.data.time]
    if design.kind == "synthetic_control":  # type: ignore[attr-defined]
        units = {str(u) for u in treatment.units}
        return (frame[design.data.unit].astype(str).isin(units) & (time >= treatment.start)).to_numpy()
    if getattr(treatment, "first_treated", None):
        import pandas as pd

        cohort = pd.to_numeric(frame[treatment.first_treated], errors="coerce").fillna(0)
        return ((cohort > 0) & (time >= cohort)).to_numpy()
    return (frame[treatment.indicator].astype(float) > 0).to_numpy()


def assess(design: DesignBase, frame: pd.DataFrame, spec: TemporalSpec, roles: Roles | None, tag: str
           ) -> list[Finding]:
    """One temporal-displacement finding per offence."""
    if roles is not None:
        frame = frame.loc[frame[design.data.unit].map(roles.role) != "buffer"]
    on = treated_rows(frame, design)
    comparison = "the control areas (buffers left out)" if roles is not None else "the design's comparison areas"
    findings = []
    for o in spec.outcomes:
        v = variant(design, o)
        e_in = refit.fit(v, frame, f"{o.name}_{WINDOW}", tag)
        e_out = refit.fit(v, frame, f"{o.name}_{OUTSIDE}", tag)
        observed = (float(frame.loc[on, o.inside].sum()), float(frame.loc[on, o.outside].sum()))
        cells = (float(on.sum()), float(on.sum()))
        net = net_effect(e_in, e_out, cells, observed)
        status, positive = refit.adverse_status(e_out, "increase")
        label = o.label or o.name
        outside = (f"{label} in the programme areas outside its hours ({spec.window}) "
                   f"{refit.change_words(e_out)} compared with {comparison}")
        inside = f"within its hours it {refit.change_words(e_in)}"
        lo, hi = net["conf_int"]
        total = (f" Across all hours the net change in the programme areas is {net['net_change']:+.0f} crimes "
                 f"({net['level']:.0%} interval {lo:+.0f} to {hi:+.0f}).") if np.isfinite(lo) else ""
        if status == "fail":
            sentence = f"Displacement in time: {outside}, while {inside}.{total}"
            if net_reduction(net, "increase"):
                status = "warn"
                sentence += " Less crime moved to other hours than was prevented, so the net effect is a reduction."
        elif positive:
            sentence = f"Diffusion of benefits in time: {outside}; {inside}.{total}"
        else:
            sentence = f"No clear displacement to other hours: {outside}; {inside}.{total}"
        findings.append(Finding(
            topic="temporal", name=f"temporal displacement: {o.name}", status=status, sentence=sentence,
            outcome=o.name, positive=positive,
            evidence={"window": spec.window, "outside_effect": refit.describe(e_out),
                      "window_effect": refit.describe(e_in), "total_net_effect": net, "comparison": comparison,
                      "columns": {"inside": o.inside, "outside": o.outside},
                      "warnings": sorted({*e_in.warnings, *e_out.warnings})}))
    return findings
