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
from cpeval.consequences.displacement import combine, net_effect, net_reduction
from cpeval.consequences.result import Finding

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.consequences.spatial import Roles
    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import TemporalOutcome, TemporalSpec
    from cpeval.results import Effect

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


def shift(e_in: Effect, e_out: Effect) -> dict[str, Any]:
    """The effect outside the window minus the effect within it, with the interval from their joint sampling
    (both fitted on the same areas): displacement in time is a rise outside the hours beyond the change within
    them; a rise as large within the hours is a rise at all hours. Analytic (cluster-robust) scale."""
    diff = e_out.estimate - e_in.estimate
    joint = combine([e_in, e_out], diff, np.array([-1.0, 1.0]))
    return {"difference": diff, **{k: joint[k] for k in ("std_error", "conf_int", "p_value", "level",
                                                          "correlation")}, "scale": e_out.scale}


def _clearly_more(moved: dict[str, Any], e_in: Effect, e_out: Effect) -> bool:
    """Whether the rise outside the window clearly exceeds the change within it: the difference's interval
    lies above zero; an estimator without standard errors (a synthetic control's conformal intervals) has no
    joint interval, so there the two effects' own intervals must lie apart (a conservative reading). So must
    they when either effect leads with a wild bootstrap or randomisation (few treated or untreated clusters):
    the joint interval is analytic, and cluster-robust intervals are too narrow there."""
    if _joint(moved, e_in, e_out):
        return bool(moved["conf_int"][0] > 0)
    return refit.interval(e_out)[0] > refit.interval(e_in)[1]


def _joint(moved: dict[str, Any], e_in: Effect, e_out: Effect) -> bool:
    """Whether the difference's analytic joint interval is the one to read (see :func:`_clearly_more`)."""
    leads = any(e.inference is not None and e.inference.headline for e in (e_in, e_out))
    return bool(np.isfinite(moved["conf_int"][0])) and not leads


def _difference_words(moved: dict[str, Any], e_in: Effect, e_out: Effect) -> str:
    lo, hi = moved["conf_int"]
    if _joint(moved, e_in, e_out):
        return (f"difference of the two effects {moved['difference']:+.3g}, {moved['level']:.0%} interval {lo:+.3g} "
                f"to {hi:+.3g}")
    why = ("with few treated or untreated clusters its analytic interval is too narrow to read" if np.isfinite(lo)
           else "the estimator gives it no interval")
    return f"difference of the two effects {moved['difference']:+.3g}; {why}, and the two effects' intervals overlap"


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
        moved = shift(e_in, e_out)
        if status == "fail" and not _clearly_more(moved, e_in, e_out):  # as much (or more) of a rise within
            status = "warn"
            sentence = (f"A rise at all hours rather than a move to other hours: {outside}, but not clearly more "
                        f"than within its hours, where it {refit.change_words(e_in)} "
                        f"({_difference_words(moved, e_in, e_out)}).{total}")
        elif status == "fail":
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
                      "window_effect": refit.describe(e_in), "outside_minus_window": moved,
                      "total_net_effect": net, "comparison": comparison,
                      "columns": {"inside": o.inside, "outside": o.outside},
                      "warnings": sorted({*e_in.warnings, *e_out.warnings})}))
    return findings
