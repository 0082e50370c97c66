"""The Callaway & Sant'Anna report section and figures (event-time profile, group-time ATTs).

Reads only the EvaluationResult: effects whose method reports group-time effects (``Capabilities.group_time``),
their ``path`` rows (column ``kind``: att_gt, dynamic, group, calendar, overall) and their
:class:`~cpeval.payloads.GroupTimeFit` payload.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval._format import fixed, slug
from cpeval.designs.methods import capabilities
from cpeval.payloads import GroupTimeFit
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import Effect, EvaluationResult

AGG_TITLES = {
    "simple": "simple (all post-treatment ATT(g,t), weighted by cohort size)",
    "dynamic": "dynamic (average over event times e >= 0)",
    "group": "group (average of each cohort's mean effect)",
    "calendar": "calendar (average over calendar periods)",
}


def _effects(result: EvaluationResult) -> list[Effect]:
    return [e for e in result.effects
            if capabilities(result.design["kind"], e.method).group_time and e.payload(GroupTimeFit) is not None]


def _fit(effect: Effect) -> GroupTimeFit:
    fitted = effect.payload(GroupTimeFit)
    assert fitted is not None  # _effects keeps only effects with one
    return fitted


def _rows(effect: Effect, kind: str) -> list[dict[str, Any]]:
    return [r for r in effect.path if r.get("kind") == kind]


def render_section(result: EvaluationResult) -> str:
    effects = _effects(result)
    if not effects:
        return ""
    d0 = _fit(effects[0])
    lines = [
        "## Group-time effects (Callaway & Sant'Anna)",
        "",
        f"Each cohort of units first treated in the same period is compared with "
        f"{'never-treated' if d0.control_group == 'never_treated' else 'not-yet-treated'} units, period by "
        f"period ({d0.approach_name}; {d0.base_period} base period; anticipation "
        f"{d0.anticipation}; {d0.layout}). Headline aggregation: **{d0.aggregation}**.",
        "",
    ]
    lo, hi = d0.event_window
    kept = []
    if lo is not None or hi is not None:
        kept.append(f"event times {'' if lo is None else lo}..{'' if hi is None else hi}")
    if d0.balance_e is not None:
        kept.append(f"cohorts observed at least {d0.balance_e} periods after adoption")
    if kept:
        lines += ["The event-time (dynamic) aggregation keeps only " + " and ".join(kept) + ".", ""]
    for e in effects:
        d = _fit(e)
        level = f"{e.level:.0%}"
        lines += [f"### {e.outcome}", "", f"| aggregation | estimate | SE | {level} CI | p |", "|---|---|---|---|---|"]
        for name, a in d.aggregations.items():
            lines.append(
                f"| {AGG_TITLES[name]} | {fixed(a.estimate)} | {fixed(a.std_error)} | "
                f"[{fixed(a.ci_lower)}, {fixed(a.ci_upper)}] | {fixed(a.p_value, 3)} |"
            )
        pct = d.percent_change
        if pct is not None:
            lines += [
                "",
                f"As a percentage of the treated units' counterfactual mean ({fixed(pct.counterfactual_mean)}): "
                f"{pct.estimate:+.1f}% [{pct.ci_lower:+.1f}%, {pct.ci_upper:+.1f}%] "
                f"({pct.aggregation} aggregation).",
            ]
        dyn = _rows(e, "dynamic")
        band = any("band_lower" in r for r in dyn)
        lines += ["", "| event time | estimate | SE | CI |" + (" uniform band |" if band else ""),
                  "|---|---|---|---|" + ("---|" if band else "")]
        for r in dyn:
            cell = (f"| {r['event_time']} | {fixed(r['estimate'])} | {fixed(r['std_error'])} | "
                    f"[{fixed(r['ci_lower'])}, {fixed(r['ci_upper'])}] |")
            if band:
                cell += f" [{fixed(r.get('band_lower'))}, {fixed(r.get('band_upper'))}] |"
            lines.append(cell)
        pre = d.pretest
        if pre.p_value is not None and pre.statistic is not None:
            lines += [
                "",
                f"Pre-trend test (all pre-treatment ATT(g,t) = 0): Wald chi2({pre.df}) = "
                f"{pre.statistic:.3g}, p = {pre.p_value:.3g}."
                + (f" Cohorts left out (too few units): {list(pre.excluded_cohorts)}." if pre.excluded_cohorts
                   else ""),
            ]
        sizes = ", ".join(f"{g}: {n}" for g, n in d.cohort_sizes.items())
        lines += ["", f"Cohort sizes: {sizes}; never-treated units: {d.never_treated_units}.", ""]
        lines += [f"![Event-time effects for {e.outcome}](figures/{_figure_name(e, 'dynamic')})", ""]
        lines += [f"![Group-time effects for {e.outcome}](figures/{_figure_name(e, 'att_gt')})", ""]
    return "\n".join(lines)


def _figure_name(effect: Effect, kind: str) -> str:
    return f"cs_{kind}_{slug(effect.outcome)}.png"


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for e in _effects(result):
        out[_figure_name(e, "dynamic")] = _dynamic_png(e)
        out[_figure_name(e, "att_gt")] = _att_gt_png(e)
    return out


def _interval(ax: Any, x: list[float], rows: list[dict[str, Any]], color: str) -> None:
    ok = [(xi, r) for xi, r in zip(x, rows, strict=True) if r.get("ci_lower") is not None]
    if any(r.get("band_lower") is not None for _, r in ok):
        for xi, r in ok:
            if r.get("band_lower") is not None:
                ax.plot([xi, xi], [r["band_lower"], r["band_upper"]], color=color, alpha=0.3, lw=5)
    for xi, r in ok:
        ax.plot([xi, xi], [r["ci_lower"], r["ci_upper"]], color=color, lw=1.5)


def _dynamic_png(effect: Effect) -> bytes:
    rows = _rows(effect, "dynamic")
    fig = new_figure(7.0, 4.0)
    ax = fig.add_subplot()
    for post, color in ((False, "#b2182b"), (True, "#2166ac")):
        sel = [r for r in rows if bool(r.get("post")) == post]
        x = [r["event_time"] for r in sel]
        ax.scatter(x, [r["estimate"] for r in sel], color=color, zorder=3,
                   label="post-treatment" if post else "pre-treatment")
        _interval(ax, x, sel, color)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("periods since adoption (event time)")
    ax.set_ylabel(f"effect on {effect.outcome}")
    band = "; shaded: uniform band" if any(r.get("band_lower") is not None for r in rows) else ""
    ax.set_title(f"{effect.outcome}: Callaway & Sant'Anna event-time effects\n(lines: {effect.level:.0%} CI{band})",
                 fontsize=10)
    ax.legend(loc="best", fontsize=8)
    return png_bytes(fig)


def _att_gt_png(effect: Effect) -> bytes:
    rows = _rows(effect, "att_gt")
    groups = sorted({r["group"] for r in rows})
    fig = new_figure(7.0, 1.0 + 1.6 * len(groups))
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    for ax, g in zip(axes, groups, strict=True):
        for post, color in ((False, "#b2182b"), (True, "#2166ac")):
            sel = [r for r in rows if r["group"] == g and bool(r["post"]) == post]
            x = [r["time"] for r in sel]
            ax.scatter(x, [r["estimate"] for r in sel], color=color, s=14, zorder=3)
            _interval(ax, x, sel, color)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_ylabel(f"cohort {g}", fontsize=8)
    axes[-1].set_xlabel("period")
    axes[0].set_title(f"{effect.outcome}: ATT(g,t) by cohort (red: before adoption, blue: after)")
    return png_bytes(fig)


class GroupTime(Section):
    key = "group_time"
    title = "Group-time effects (Callaway & Sant'Anna)"
    part = "effects"
    markdown = staticmethod(render_section)
    figures = staticmethod(render_figures)
