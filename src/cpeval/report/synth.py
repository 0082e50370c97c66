"""Report section and figures for synthetic control results (abadie, augmented, synthetic_did).

Reads only the EvaluationResult: effects' ``path`` rows (``time``, ``treated``, ``synthetic``, ``gap``,
``ci_lower``, ``ci_upper``, ``post``) and their ``SynthFit`` payload (weights, V, predictors, RMSPE, alternatives),
and the synthetic control checks' ``table`` / ``values`` (placebo gaps for the placebo plot).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval._format import interval, num, slug
from cpeval.designs.methods import capabilities
from cpeval.payloads import SynthFit
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import CheckResult, Effect, EvaluationResult

MAX_WEIGHT_ROWS = 12


def _effects(result: EvaluationResult) -> list[Effect]:
    return [e for e in result.effects if e.path and e.payload(SynthFit) is not None]


def _check(result: EvaluationResult, name: str, outcome: str) -> CheckResult | None:
    return next((c for c in result.checks if c.name == name and c.outcome == outcome), None)


def _effect_lines(result: EvaluationResult, e: Effect) -> list[str]:
    d = e.payload(SynthFit)
    assert d is not None  # _effects keeps only effects with one
    name = slug(e.outcome)
    lines = [f"### {e.outcome}: {capabilities(result.design['kind'], e.method).title}", ""]
    lines += [
        f"Treated: {', '.join(d.treated_units)}; {len(d.donors)} donors; treatment from "
        f"{d.start}. Average post-period gap (ATT) {num(e.estimate)}; {e.level:.0%} interval "
        f"{interval(e.ci_lower, e.ci_upper)} ({e.variance_type}).",
        "",
    ]
    lines += [f"Pre-period RMSPE {num(d.pre_rmspe)}, post-period RMSPE {num(d.post_rmspe)}, ratio "
              f"{num(d.rmspe_ratio)}." + (f" Fit-window MSPE {num(d.fit_window_mspe)}."
                                          if d.fit_window_mspe is not None else ""), ""]
    placebo = _check(result, "placebo_space", e.outcome)
    if placebo is not None and placebo.values.get("p_value") is not None:
        v = placebo.values
        extra = (f"; {num(v['p_value_excluding'], 3)} without placebos fitting {v['exclude_multiple']:g}x worse "
                 f"({v['n_kept']} units)" if v.get("p_value_excluding") is not None else "")
        lines += [f"**Placebo-in-space p-value** (post/pre RMSPE ratio rank {v['rank']} of {v['n_units']}): "
                  f"{num(v['p_value'], 3)}{extra}.", ""]
    if d.per_unit:
        lines += ["One synthetic control per treated unit; the gap path averages them.", "",
                  "| treated unit | ATT | pre-RMSPE | largest donor weights |", "|---|---|---|---|"]
        for unit, u in d.per_unit.items():
            top = ", ".join(f"{k} {w:.3f}" for k, w in list(u.weights.items())[:4] if w >= 0.001)
            lines.append(f"| {unit} | {num(u.att)} | {num(u.pre_rmspe)} | {top} |")
        lines += ["", f"Weights and predictors below: {next(iter(d.per_unit))}.", ""]
    shown = [(k, w) for k, w in d.weights.items() if w >= 0.001][:MAX_WEIGHT_ROWS]
    if shown:
        lines += ["| donor | weight |", "|---|---|", *[f"| {k} | {w:.3f} |" for k, w in shown], ""]
    if d.predictors:
        lines += ["| predictor | V | treated | synthetic | donor mean |", "|---|---|---|---|---|"]
        lines += [f"| {p.predictor} | {p.v:.3f} | {num(p.treated)} | {num(p.synthetic)} | "
                  f"{num(p.donor_mean)} |" for p in d.predictors]
        lines += [""]
    for alt in d.alternatives:
        ws = ", ".join(f"{k} {w:.3f}" for k, w in list(alt.weights.items())[:5])
        lines += [f"- Alternative solution (fit-window MSPE {num(alt.fit_window_mspe)}): {ws}"]
    if d.alternatives:
        lines += [""]
    post = [r for r in e.path if r.get("post")]
    if post and any(r.get("ci_lower") is not None for r in post):
        lines += [f"| period | treated | synthetic | gap | {e.level:.0%} conformal interval |", "|---|---|---|---|---|"]
        lines += [f"| {r['time']} | {num(r['treated'])} | {num(r['synthetic'])} | {num(r['gap'])} | "
                  f"[{num(r['ci_lower'])}, {num(r['ci_upper'])}] |" for r in post]
        lines += [""]
    lines += [f"![Treated and synthetic: {e.outcome}](figures/synth_fit_{name}.png)", "",
              f"![Gap: {e.outcome}](figures/synth_gap_{name}.png)", ""]
    if placebo is not None and placebo.values.get("gaps"):
        lines += [f"![Placebo gaps: {e.outcome}](figures/synth_placebo_{name}.png)", ""]
    return lines


def render_section(result: EvaluationResult) -> str:
    effects = _effects(result)
    if not effects:
        return ""
    lines = ["## Synthetic control", ""]
    for e in effects:
        lines += _effect_lines(result, e)
    return "\n".join(lines)


def _times(path: Any) -> list[Any]:
    return [r["time"] for r in path]


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for e in _effects(result):
        name = slug(e.outcome)
        t = _times(e.path)
        start = e.payload(SynthFit).start  # type: ignore[union-attr]
        fig = new_figure()
        ax = fig.add_subplot()
        ax.plot(t, [r["treated"] for r in e.path], color="black", label="treated")
        ax.plot(t, [r["synthetic"] for r in e.path], color="tab:blue", ls="--", label="synthetic")
        if start is not None:
            ax.axvline(start, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{e.outcome}: treated and synthetic")
        ax.legend(frameon=False)
        files[f"synth_fit_{name}.png"] = png_bytes(fig)

        fig = new_figure()
        ax = fig.add_subplot()
        ax.axhline(0, color="grey", lw=0.8)
        ax.plot(t, [r["gap"] for r in e.path], color="black", label="gap")
        band = [(r["time"], r["ci_lower"], r["ci_upper"]) for r in e.path if r.get("ci_lower") is not None]
        if band:
            ax.fill_between([b[0] for b in band], [b[1] for b in band], [b[2] for b in band], color="tab:blue",
                            alpha=0.2, label=f"{e.level:.0%} conformal interval")
        if start is not None:
            ax.axvline(start, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{e.outcome}: gap (treated minus synthetic)")
        ax.legend(frameon=False)
        files[f"synth_gap_{name}.png"] = png_bytes(fig)

        placebo = _check(result, "placebo_space", e.outcome)
        if placebo is not None and placebo.values.get("gaps"):
            v = placebo.values
            fig = new_figure()
            ax = fig.add_subplot()
            cut = v.get("exclude_multiple")
            ratio = {r["unit"]: r.get("pre_mspe_vs_treated") for r in placebo.table}
            for unit, g in v["gaps"].items():
                poor = cut is not None and (ratio.get(unit) or 0) > cut
                ax.plot(v["times"], g, color="0.9" if poor else "0.7", lw=0.6 if poor else 0.8)
            ax.plot(v["times"], v["treated_gap"], color="black", lw=1.8, label=v.get("treated", "treated"))
            ax.axhline(0, color="grey", lw=0.8)
            if start is not None:
                ax.axvline(start, color="grey", lw=0.8, ls=":")
            title = f"{e.outcome}: placebo gaps (p = {v['p_value']:.3f})"
            if cut is not None:
                title += f"; paler: pre-MSPE > {cut:g}x treated (p = {v['p_value_excluding']:.3f} without them)"
            ax.set_title(title, fontsize=9 if cut is not None else None)
            ax.legend(frameon=False)
            files[f"synth_placebo_{name}.png"] = png_bytes(fig)
    return files


class SyntheticControl(Section):
    key = "synthetic_control"
    title = "Synthetic control"
    part = "effects"
    markdown = staticmethod(render_section)
    figures = staticmethod(render_figures)
