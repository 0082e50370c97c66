"""The consequences stage of an evaluation: check the section against the design (``plan``, before anything is
fitted) and assess every declared consequence (``evaluate``, after the checks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cpeval.errors import DesignError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.consequences.result import ConsequencesResult
    from cpeval.consequences.spatial import Roles
    from cpeval.data import Derived
    from cpeval.data.panel import Panel
    from cpeval.designs.base import DesignBase
    from cpeval.results import Effect

PANEL_KINDS = ("did", "synthetic_control")


def _where(design: DesignBase) -> str:
    return design.origin or "<design>"


def displacement_outcomes(design: DesignBase) -> list[str]:
    spec = design.consequences.displacement  # type: ignore[union-attr]
    return spec.outcomes or [o.name for o in design.outcomes if o.measure == "count" and not o.survey]  # type: ignore[union-attr]


def plan(design: DesignBase) -> None:
    """Design-level rules the section's own model cannot see (it needs the rest of the design)."""
    from cpeval.consequences import adverse, refit

    c = design.consequences
    if c is None:
        return
    kind = design.kind  # type: ignore[attr-defined]
    names = [o.name for o in design.outcomes]
    by_name = {o.name: o for o in design.outcomes}
    if c.displacement is not None:
        if kind not in PANEL_KINDS:
            raise DesignError(f"{_where(design)}: consequences.displacement needs areas observed before and after (a "
                              f"did or synthetic_control design), not a {kind} design; remove it")
        for i, n in enumerate(c.displacement.outcomes):
            if n not in by_name:
                raise DesignError(f"{_where(design)}: consequences.displacement.outcomes[{i}]: {n!r} is not an outcome "
                                  f"of the design ({', '.join(names)}){did_you_mean(n, names)}")
            if by_name[n].measure != "count":
                raise DesignError(f"{_where(design)}: consequences.displacement.outcomes[{i}]: {n!r} is a "
                                  f"{by_name[n].measure}; displacement counts crimes, so name a count outcome")
        if not displacement_outcomes(design):
            raise DesignError(f"{_where(design)}: consequences.displacement: the design has no count outcome to assess "
                              "for displacement; add one (measure: count) or list it in displacement.outcomes")
    if c.temporal is not None and kind not in PANEL_KINDS:
        raise DesignError(f"{_where(design)}: consequences.temporal compares the programme areas before and after "
                          f"in and outside the programme's hours; it needs a did or synthetic_control design, not "
                          f"{kind}; remove it")
    if c.temporal is not None:  # each offence's two counts must make a valid design with the design's estimator
        from cpeval.consequences import temporal

        for o in c.temporal.outcomes:
            temporal.variant(design, o)
    if c.disproportionality is not None and kind not in PANEL_KINDS:
        raise DesignError(f"{_where(design)}: consequences.disproportionality compares areas before and after; it "
                          f"needs a did or synthetic_control design, not {kind}")
    if c.subgroups is not None:
        for i, n in enumerate(c.subgroups.outcomes):
            if n not in by_name:
                raise DesignError(f"{_where(design)}: consequences.subgroups.outcomes[{i}]: {n!r} is not an outcome of "
                                  f"the design{did_you_mean(n, names)}")
        if c.subgroups.conditional is not None and kind != "rct":
            raise DesignError(f"{_where(design)}: consequences.subgroups.conditional (econml) needs a trial with "
                              "individual data (kind: rct); remove it or use moderators alone")
    if "placebo_timing" in c.refute and kind != "did":
        raise DesignError(f"{_where(design)}: consequences.refute: placebo_timing needs a panel (kind: did)")
    via_dowhy = [r for r in c.refute if r != "placebo_timing"]
    if via_dowhy and kind != "rct":
        raise DesignError(f"{_where(design)}: consequences.refute: {', '.join(via_dowhy)} refute a covariate-adjusted "
                          f"contrast of a trial (kind: rct); for a {kind} design use placebo_timing (did) or the "
                          "design's placebo checks")
    clash = sorted(set(names) & {a.name for a in c.adverse})
    if clash:
        raise DesignError(f"{_where(design)}: consequences.adverse: {clash} repeat outcome names; give the indicators "
                          "their own names")
    for ind in c.adverse:  # each indicator must make a valid design with the design's estimator
        adverse.variant(design, ind)
    refit.variant(design)


def source_frame(design: DesignBase, data: pd.DataFrame | None, derived: Derived | None = None
                 ) -> tuple[pd.DataFrame, str]:
    """The design's data with derived outcomes, holding every column (the panel keeps only the design's own);
    ``derived`` is the run's data already read by :func:`cpeval.data.read_derived` (else it is read here)."""
    from cpeval.data import read_derived

    d = derived if derived is not None else read_derived(design, data)
    missing = [col for col in design.consequences.data_columns() if col not in d.frame.columns]  # type: ignore[union-attr]
    if missing:
        from cpeval.errors import DataError, Problem, ProblemCode

        keys = design.consequences.data_columns()  # type: ignore[union-attr]
        cols = [str(c) for c in d.frame.columns]
        raise DataError(d.source, [Problem(ProblemCode.MISSING_COLUMN, c, f"named by {keys[c]} but not in the data"
                                           f"{did_you_mean(c, cols)}") for c in missing])
    return d.frame, d.source


@dataclass(frozen=True)
class Prepared:
    """The section checked against the data before anything is fitted: the frame, roles, group rows, levels."""

    design: Any
    frame: Any
    source: str
    roles: Any = None
    long: Any = None
    levels: dict[str, list[Any]] | None = None
    headline_frame: Any = None  # the headline's rows (``frame`` without the buffers it leaves out)
    excluded: tuple[Any, ...] = ()  # the buffer areas left out of the headline's comparison group
    headline_note: str | None = None  # the sentence saying so (or that they stay in)


def prepare(design: DesignBase, data: pd.DataFrame | None = None, derived: Derived | None = None) -> Prepared:
    """Check the section against the design and the data (roles, residents, moderator levels); raises
    :class:`~cpeval.errors.DesignError` or :class:`~cpeval.errors.DataError` naming the key and the fix."""
    from cpeval.consequences import disproportionality, subgroups
    from cpeval.consequences.spatial import assign_roles, treated_areas

    plan(design)
    c = design.consequences
    assert c is not None
    frame, source = source_frame(design, data, derived)
    roles = assign_roles(frame, design, c.displacement, source) if c.displacement is not None else None
    drop, note = headline_exclusions(design, roles)
    rows = frame.loc[~frame[design.data.unit].isin(drop)] if drop else frame  # the headline's comparison group
    long = None
    if c.disproportionality is not None:
        ever, start = treated_areas(rows, design)
        long = disproportionality.long_frame(rows, design, c.disproportionality, ever, start, source)
    levels = subgroups.moderator_levels(rows, design, c.subgroups, source) if c.subgroups is not None else None
    return Prepared(design=design, frame=frame, source=source, roles=roles, long=long, levels=levels,
                    headline_frame=rows, excluded=tuple(drop), headline_note=note)


def headline_exclusions(design: DesignBase, roles: Roles | None) -> tuple[list[Any], str | None]:
    """The buffer areas to leave out of the headline estimates' comparison group, and the sentence that says
    so (or, with ``headline_comparison: all_untreated``, no areas and the warning that they stay in)."""
    spec = design.consequences.displacement
    if roles is None or spec is None:
        return [], None
    buffers = list(roles.areas("buffer"))
    if not buffers:
        return [], None
    if spec.headline_comparison == "all_untreated":
        return [], (f"the {len(buffers)} buffer areas stay in the comparison group of the headline estimates "
                    "(consequences.displacement.headline_comparison: all_untreated): crime displaced into them "
                    "makes the programme look more effective, diffusion of benefits less; set it to 'controls' "
                    "to leave them out")
    donors = getattr(design.estimator, "donors", None)  # a synthetic control's declared donor pool
    named = sorted({str(d) for d in donors or []} & {str(b) for b in buffers})
    if named:
        raise DesignError(f"{_where(design)}: estimator.donors names {len(named)} buffer areas "
                          f"({', '.join(named[:5])}{', ...' if len(named) > 5 else ''}), which "
                          "consequences.displacement.headline_comparison: controls leaves out of the comparison "
                          "group (displacement or diffusion of benefits may reach them); remove them from "
                          "estimator.donors, or set headline_comparison: all_untreated to keep them as donors")
    return buffers, (f"{len(buffers)} buffer areas are left out of the comparison group of the headline estimates, "
                     "since displacement or diffusion of benefits may reach them "
                     "(consequences.displacement.headline_comparison: controls); they are assessed under unintended "
                     "consequences")


def evaluate(prepared: Prepared, panel: Panel, effects: list[Effect]) -> ConsequencesResult:
    """Assess every consequence the design declares."""
    from cpeval.consequences import adverse, displacement, disproportionality, subgroups
    from cpeval.consequences.result import ConsequencesResult

    design, frame = prepared.design, prepared.frame
    c = design.consequences
    tag = f"consequences:{panel.sha256}"
    findings = []
    caveats: list[str] = []
    if prepared.headline_note is not None:
        caveats.append(prepared.headline_note[0].upper() + prepared.headline_note[1:] + ".")
    if prepared.roles is not None:
        findings += displacement.assess(design, frame, prepared.roles, displacement_outcomes(design), tag)
    if c.temporal is not None:
        from cpeval.consequences import temporal

        findings += temporal.assess(design, frame, c.temporal, prepared.roles, tag)
    rows = prepared.headline_frame  # the headline's comparison group (buffers left out unless declared)
    if c.adverse:
        findings += adverse.assess(design, rows, list(c.adverse), tag)
    if prepared.long is not None:
        findings += disproportionality.assess(prepared.long, c.disproportionality, design.inference.level)
        caveats.append(disproportionality.CAVEAT)
    if prepared.levels is not None:
        found = subgroups.assess(design, rows, c.subgroups, prepared.levels, tag)
        findings += found
        if found:
            caveats.append(found[0].evidence["caveat"])
        if c.subgroups.conditional is not None:
            from cpeval.consequences import conditional

            findings += conditional.assess(design, rows, c.subgroups)
    if c.refute:
        from cpeval.consequences import refute

        findings += refute.assess(design, rows, effects, list(c.refute), c.refute_simulations)
    roles = None if prepared.roles is None else prepared.roles.to_dict()
    return ConsequencesResult(findings=tuple(findings), roles=roles, caveats=tuple(caveats))
