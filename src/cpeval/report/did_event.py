"""Report section and figures for event studies (event_study, sun_abraham), Poisson rate ratios, and the
Goodman-Bacon and honest-DiD checks.

Reads only the EvaluationResult: effects' ``path`` rows (``event_time``, ``estimate``, ``ci_lower``,
``ci_upper``, ``kind``) and their payloads (``EventPath``, ``RateRatio``), and the ``bacon`` /
``honest_did`` / ``pre_trends`` checks' ``table`` and ``values``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cpeval._format import num, slug
from cpeval.designs.methods import Capabilities, capabilities
from cpeval.payloads import EventPath, RateRatio
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import CheckResult, Effect, EvaluationResult


def _checks(result: EvaluationResult, name: str) -> list[CheckResult]:
    return [c for c in result.checks if c.name == name and c.outcome]


def _caps(result: EvaluationResult, e: Effect) -> Capabilities:
    return capabilities(result.design["kind"], e.method)


def _event_effects(result: EvaluationResult) -> list[Effect]:
    return [e for e in result.effects if _caps(result, e).event_path and e.path and e.payload(EventPath)]


def _event_lines(e: Effect, title: str) -> list[str]:
    ev = e.payload(EventPath)
    assert ev is not None  # _event_effects keeps only effects with one
    level = f"{e.level:.0%}"
    lines = [
        f"### {e.outcome}: {title}",
        "",
        f"Reference period: event time {ev.reference_period}; window {ev.window[0]}..{ev.window[1]}"
        + (" with binned end points" if ev.bin_endpoints else "") + f". Headline: {ev.headline}.",
        "",
        f"| event time | estimate | SE | {level} CI | {level} uniform band | obs |",
        "|---|---|---|---|---|---|",
    ]
    for r in e.path:
        tag = " (reference)" if r["kind"] == "reference" else (" (binned)" if r.get("binned") else "")
        band = f"[{num(r['band_lower'])}, {num(r['band_upper'])}]" if "band_lower" in r else ""
        lines.append(f"| {r['event_time']}{tag} | {num(r['estimate'])} | {num(r['std_error'])} | "
                     f"[{num(r['ci_lower'])}, {num(r['ci_upper'])}] | {band} | {r.get('n_obs', '')} |")
    lines += ["", "The uniform (sup-t) band covers all event-time effects at once with the stated probability; "
              "use it to judge the shape of the whole path."]
    pre = ev.pretrend_test
    if pre.df and pre.p_value != pre.p_value:  # NaN: the design cannot estimate its sampling error
        lines += ["", f"Joint test that the {pre.df} leads are zero: not estimable, as this design cannot estimate "
                  "its own sampling error (see the warnings)."]
    elif pre.df:
        lines += ["", f"Joint test that the {pre.df} leads are zero: Wald F({pre.df}, {num(pre.df2)}) = "
                  f"{pre.f_statistic:.3g}, p = {pre.p_value:.3g}."]
    lines += ["", f"![Event study: {e.outcome}](figures/event_study_{slug(e.outcome)}.png)", ""]
    return lines


def _poisson_lines(result: EvaluationResult) -> list[str]:
    effects = [e for e in result.effects if _caps(result, e).counts and e.payload(RateRatio)]
    if not effects:
        return []
    lines = ["## Count outcomes: Poisson rate ratios", "",
             "| outcome | form | exposure | rate ratio | CI | % change | change in expected count per unit-period |",
             "|---|---|---|---|---|---|---|"]
    for e in effects:
        r = e.payload(RateRatio)
        assert r is not None  # kept above only with one
        lo, hi = r.rate_ratio_ci
        lines.append(f"| {e.outcome} | {r.form} | {r.exposure or 'none'} | {r.rate_ratio:.4f} | "
                     f"[{lo:.4f}, {hi:.4f}] | {r.percent_change:+.1f}% | {num(r.level_att)} "
                     f"(SE {num(r.level_att_std_error)}) |")
    lines += ["", "The rate ratio is exp(estimate): the treated areas' expected count relative to what it would have "
              "been without the programme. The 'extended' form (Wooldridge 2023) estimates one ratio per adoption "
              "cohort and period and averages them; no unit or period is dropped for having zero counts unless all "
              "its counts are zero, and no zero count is dropped unless it is separated (the model could fit it "
              "only with an expected count of zero; the warnings say how many, as Stata ppmlhdfe does).", ""]
    for e in effects:
        if e.path:
            lines += [f"![Rate ratios by event time: {e.outcome}](figures/event_study_{slug(e.outcome)}.png)", ""]
    return lines


def _bacon_lines(result: EvaluationResult) -> list[str]:
    checks = _checks(result, "bacon")
    if not checks:
        return []
    lines = ["## Goodman-Bacon decomposition of two-way fixed effects", ""]
    for c in checks:
        v = c.values
        lines += [f"### {c.outcome}", "", f"TWFE {v['twfe']:.4g}; the weights sum to {v['weight_total']:.6f} and the "
                  f"weighted 2x2 estimates to {v['weighted_sum']:.4g}.", "",
                  "| comparison | total weight | weighted average 2x2 |", "|---|---|---|"]
        for t, s in v["by_type"].items():
            lines.append(f"| {t} | {s['weight']:.3f} | {num(s['estimate'])} |")
        lines += ["", f"![Bacon decomposition: {c.outcome}](figures/bacon_{slug(c.outcome)}.png)", ""]
    return lines


def _honest_lines(result: EvaluationResult) -> list[str]:
    checks = [c for c in _checks(result, "honest_did") if c.table]
    if not checks:
        return []
    lines = ["## Sensitivity to violations of parallel trends (Rambachan & Roth)", ""]
    for c in checks:
        v = c.values
        lines += [f"### {c.outcome}", "", c.message + ".", "",
                  f"Breakdown values: relative magnitudes Mbar = {num(v.get('breakdown_mbar'), 3)}; smoothness "
                  f"M = {num(v.get('breakdown_m'), 3)}. Interval methods: "
                  f"{v['interval_method']['relative_magnitudes']} (relative magnitudes); "
                  f"{v['interval_method']['smoothness']} (smoothness).", "",
                  "| restriction | bound | robust CI | contains 0 |", "|---|---|---|---|"]
        for r in c.table:
            mark = " *" if r.get("note") else ""
            lines.append(f"| {r['restriction'].replace('_', ' ')} | {r['bound']:.3g} | "
                         f"[{num(r['ci_lower'])}, {num(r['ci_upper'])}]{mark} | "
                         f"{'yes' if r['includes_zero'] else 'no'} |")
        flagged = [f"{r['bound']:.3g}: {r['note']}" for r in c.table if r.get("note")]
        if flagged:
            lines += ["", "\\* relative magnitudes, Mbar " + "; ".join(flagged) + "."]
        lines += ["", f"![Honest DiD: {c.outcome}](figures/honest_did_{slug(c.outcome)}.png)", ""]
    return lines


def render_section(result: EvaluationResult) -> str:
    """The event-study and Poisson parts (effects), then the Goodman-Bacon and honest-DiD parts (diagnostics)."""
    return "\n".join(_effect_section_lines(result) + _robustness_lines(result))


def _effect_section_lines(result: EvaluationResult) -> list[str]:
    lines: list[str] = []
    events = _event_effects(result)
    if events:
        lines += ["## Event study", ""]
        for e in events:
            lines += _event_lines(e, _caps(result, e).title)
    return lines + _poisson_lines(result)


def _robustness_lines(result: EvaluationResult) -> list[str]:
    return _bacon_lines(result) + _honest_lines(result)


# ---------------------------------------------------------------- figures


def _event_plot(e: Effect, caps: Capabilities) -> bytes:
    rows = [r for r in e.path if "event_time" in r]
    x = [r["event_time"] for r in rows]
    y = [r["estimate"] for r in rows]
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    ax.axhline(0, color="0.5", lw=0.8)
    ev = e.payload(EventPath)
    if ev is not None:
        ax.axvline(ev.reference_period + 0.5, color="0.7", lw=0.8, ls="--")
    colors = ["#1f77b4" if r["kind"] in ("lead", "reference") else "#d62728" for r in rows]
    if all("band_lower" in r for r in rows):
        ax.hlines([r["band_lower"] for r in rows] + [r["band_upper"] for r in rows], [v - 0.12 for v in x] * 2,
                  [v + 0.12 for v in x] * 2, colors=colors * 2, lw=0.8, alpha=0.7)
        ax.vlines(x, [r["band_lower"] for r in rows], [r["band_upper"] for r in rows], colors=colors, lw=0.8,
                  alpha=0.7, label="uniform (sup-t) band")
    ax.vlines(x, [r["ci_lower"] for r in rows], [r["ci_upper"] for r in rows], colors=colors, lw=2.0,
              label="pointwise interval")
    ax.scatter(x, y, c=colors, zorder=3, s=22)
    ax.set_xticks(x)
    ylabel = "log rate ratio" if caps.effect_scale == "log" else f"effect on {e.outcome}"
    ax.set(xlabel="periods since first treatment", ylabel=ylabel,
           title=f"{e.outcome}: {caps.title} ({e.level:.0%} intervals)")
    ax.legend(fontsize=7)
    return png_bytes(fig)


def _bacon_plot(c: CheckResult) -> bytes:
    fig = new_figure(6.5, 4.0)
    ax = fig.add_subplot()
    for (t, marker) in zip(c.values["by_type"], ("o", "s", "^"), strict=False):
        pts = [r for r in c.table if r["type"] == t]
        ax.scatter([r["weight"] for r in pts], [r["estimate"] for r in pts], marker=marker, label=t, s=28)
    ax.axhline(c.values["twfe"], color="#d62728", lw=1, label=f"TWFE = {c.values['twfe']:.4g}")
    ax.set(xlabel="weight", ylabel="2x2 DiD estimate", title=f"{c.outcome}: Goodman-Bacon decomposition")
    ax.legend(fontsize=7)
    return png_bytes(fig)


def _honest_plot(c: CheckResult) -> bytes:
    kinds = [k for k in ("relative_magnitudes", "smoothness") if any(r["restriction"] == k for r in c.table)]
    fig = new_figure(3.6 * len(kinds), 3.6)
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    for ax, kind in zip(axes, kinds, strict=True):
        rows = [r for r in c.table if r["restriction"] == kind]
        xs = [r["bound"] for r in rows]
        ax.vlines(xs, [r["ci_lower"] for r in rows], [r["ci_upper"] for r in rows], color="#1f77b4", lw=3)
        ax.axhline(0, color="0.5", lw=0.8)
        bd = c.values.get("breakdown_mbar" if kind == "relative_magnitudes" else "breakdown_m")
        if bd:
            ax.axvline(bd, color="#d62728", ls="--", lw=1, label=f"breakdown {bd:.3g}")
            ax.legend(fontsize=7)
        ax.set(xlabel="Mbar" if kind == "relative_magnitudes" else "M", ylabel="robust interval",
               title=kind.replace("_", " "))
    fig.suptitle(f"{c.outcome}: honest DiD", fontsize=10)
    return png_bytes(fig)


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    return {**_effect_figures(result), **_robustness_figures(result)}


def _effect_figures(result: EvaluationResult) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for e in result.effects:
        caps = _caps(result, e)
        if (caps.event_path or caps.counts) and e.path:
            files[f"event_study_{slug(e.outcome)}.png"] = _event_plot(e, caps)
    return files


def _robustness_figures(result: EvaluationResult) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for c in _checks(result, "bacon"):
        if c.table:
            files[f"bacon_{slug(c.outcome or '')}.png"] = _bacon_plot(c)
    for c in _checks(result, "honest_did"):
        if c.table:
            files[f"honest_did_{slug(c.outcome or '')}.png"] = _honest_plot(c)
    return files


class EventStudy(Section):
    key = "event_study"
    title = "Event study"
    part = "effects"
    markdown = staticmethod(lambda result: "\n".join(_effect_section_lines(result)))
    figures = staticmethod(_effect_figures)


class Robustness(Section):
    key = "did_robustness"
    title = "Goodman-Bacon decomposition and honest DiD"
    part = "diagnostics"
    markdown = staticmethod(lambda result: "\n".join(_robustness_lines(result)))
    figures = staticmethod(_robustness_figures)
