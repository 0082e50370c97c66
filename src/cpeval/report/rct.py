"""Report section and figure for randomised trials: effects with raw, adjusted and randomisation p-values,
ITT beside CACE, balance, attrition and Lee bounds. Reads only the EvaluationResult."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

ADJUSTMENT_NAMES = {
    "holm": "Holm step-down (family-wise error)",
    "romano_wolf": "Romano-Wolf step-down by re-randomisation (family-wise error)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
    "none": "none",
}


def _n(x: Any, digits: int = 4) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def _check(result: EvaluationResult, name: str):
    return next((c for c in result.checks if c.name == name), None)


def _multiplicity(diag: Any) -> str:
    k = diag.get("family_size", 1)
    method = diag.get("multiple_testing", "none")
    if k <= 1:
        return "- One outcome: no multiplicity adjustment needed."
    if method == "none":
        return f"- {k} outcomes, p-values NOT adjusted for multiplicity (set inference.multiple_testing)."
    return f"- Multiple outcomes: {ADJUSTMENT_NAMES[method]} over {k} outcomes."


def render_section(result: EvaluationResult) -> str:
    if result.design.get("kind") != "rct" or not result.effects:
        return ""
    d = result.design
    tr = d.get("treatment", {})
    first = result.effects[0]
    lines = ["## Randomised trial", ""]
    how = "by cluster `" + tr["cluster"] + "`" if tr.get("cluster") else "by individual"
    if tr.get("block"):
        how += f", within blocks `{tr['block']}`"
    lines += [f"- Randomised {how}; assignment `{tr.get('assignment')}`"
              + (f", take-up `{tr['received']}`" if tr.get("received") else "") + ".",
              f"- Estimand: **{str(d.get('estimand', 'itt')).upper()}**; standard errors: {first.variance_type}.",
              _multiplicity(first.diagnostics), ""]
    ri = first.diagnostics.get("ri_draws")
    level = f"{first.level:.0%}"
    header = f"| outcome | {first.estimand.upper()} | {level} CI | p (raw) | p (adjusted) |"
    sep = "|---|---|---|---|---|"
    if ri:
        how = f"exact, all {ri} assignments" if first.diagnostics.get("ri_exact") else f"{ri} draws"
        header += f" p (randomisation, {how}) |"
        sep += "---|"
    other = "itt" if first.estimand == "cace" else "cace"
    both = any(other in e.diagnostics for e in result.effects)
    if both:
        header += f" {other.upper()} (SE) | first-stage F | take-up T / C |"
        sep += "---|---|---|"
    lines += [header, sep]
    for e in result.effects:
        g = e.diagnostics
        row = (f"| {e.outcome} | {_n(e.estimate)} | [{_n(e.ci_lower)}, {_n(e.ci_upper)}] | "
               f"{_n(g.get('p_value_raw'), 3)} | {_n(g.get('p_value_adjusted'), 3)} |")
        if ri:
            row += f" {_n(g.get('ri_p_value'), 3)} |"
        if both:
            alt, fs = g.get(other, {}), g.get("first_stage", {})
            row += (f" {_n(alt.get('estimate'))} ({_n(alt.get('std_error'))}) | {_n(fs.get('f_statistic'), 3)} | "
                    f"{_n(fs.get('take_up_treated'), 2)} / {_n(fs.get('take_up_control'), 2)} |")
        lines.append(row)
    lines.append("")
    if ri:
        lines += [f"Randomisation inference: {first.diagnostics.get('ri_statistic', '')}, two-sided, under the "
                  "sharp null of no effect for anyone.", ""]
    lines += _balance(result) + _attrition(result)
    return "\n".join(lines)


def _balance(result: EvaluationResult) -> list[str]:
    c = _check(result, "balance")
    if c is None or not c.table:
        return []
    analysed = "std_diff_analysed" in c.table[0]
    lines = ["### Baseline balance", "", f"{c.status.upper()}: {c.message}", "",
             "| covariate | mean (treated) | mean (control) | std. difference | variance ratio |"
             + (" std. difference (analysed) |" if analysed else ""),
             "|---|---|---|---|---|" + ("---|" if analysed else "")]
    for r in c.table:
        lines.append(f"| {r['covariate']} | {_n(r['mean_treated'])} | {_n(r['mean_control'])} | "
                     f"{_n(r['std_diff'], 3)} | {_n(r['variance_ratio'], 3)} |"
                     + (f" {_n(r.get('std_diff_analysed'), 3)} |" if analysed else ""))
    joint = c.values.get("joint", {})
    lines += ["", f"Joint test: {joint.get('test', '')}, statistic {_n(joint.get('statistic'), 3)} on "
              f"{joint.get('df')} df, p = {_n(joint.get('p_value'), 3)}.", ""]
    return lines


def _attrition(result: EvaluationResult) -> list[str]:
    c = _check(result, "attrition")
    lee = {e.outcome: e.diagnostics["lee_bounds"] for e in result.effects if e.diagnostics.get("lee_bounds")}
    if c is None and not lee:
        return []
    lines = ["### Attrition", ""]
    if c is not None:
        lines += [f"{c.status.upper()}: {c.message}", "", "| arm | assigned | lost | attrition |", "|---|---|---|---|"]
        lines += [f"| {r['arm']} | {r['assigned']} | {r['lost']} | {r['attrition']:.1%} |" for r in c.table]
        lines.append("")
    if lee:
        lines += ["Lee (2009) bounds on the effect for units whose outcome would be observed in either arm:", "",
                  "| outcome | lower | upper | 95% CI of the bounds | trimmed arm | share trimmed |",
                  "|---|---|---|---|---|---|"]
        for name, b in lee.items():
            lines.append(f"| {name} | {_n(b['lower'])} | {_n(b['upper'])} | [{_n(b.get('ci_lower'))}, "
                         f"{_n(b.get('ci_upper'))}] | {b['trimmed_arm']} | {b['trim_share']:.1%} |")
        lines.append("")
    return lines


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    """Effects with intervals and (if any) Lee bounds, one row per outcome."""
    if result.design.get("kind") != "rct" or not result.effects:
        return {}
    from cpeval.report.figures import new_figure, png_bytes

    effects = list(result.effects)
    fig = new_figure(7.0, 1.2 + 0.6 * len(effects))
    ax = fig.add_subplot()
    ys = list(range(len(effects)))[::-1]
    for y, e in zip(ys, effects, strict=True):
        ax.errorbar(e.estimate, y, xerr=[[e.estimate - e.ci_lower], [e.ci_upper - e.estimate]], fmt="o",
                    color="black", capsize=3, label="estimate, CI" if y == ys[0] else None)
        b = e.diagnostics.get("lee_bounds")
        if b:
            ax.plot([b["lower"], b["upper"]], [y - 0.2, y - 0.2], color="tab:orange", lw=4,
                    label="Lee bounds" if y == ys[0] else None)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(ys, [e.outcome for e in effects])
    ax.set_xlabel(f"{effects[0].estimand.upper()} (outcome units)")
    ax.set_title(result.name, fontsize=9)
    ax.legend(fontsize=8, loc="best")
    return {"rct_effects.png": png_bytes(fig)}
