"""Report section and figure for randomised trials: effects with raw, adjusted and randomisation p-values,
ITT beside CACE, balance, attrition and Lee bounds. Reads only the EvaluationResult."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval._format import num
from cpeval.payloads import FirstStage, LeeBounds, OtherEstimand, TrialTests
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

ADJUSTMENT_NAMES = {
    "holm": "Holm step-down (family-wise error)",
    "romano_wolf": "Romano-Wolf step-down by re-randomisation (family-wise error)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
    "none": "none",
}


NO_TESTS = TrialTests(p_value_raw=float("nan"), p_value_adjusted=float("nan"), multiple_testing="none", family_size=1)


def _check(result: EvaluationResult, name: str):
    return next((c for c in result.checks if c.name == name), None)


def _multiplicity(tests: TrialTests | None) -> str:
    k = tests.family_size if tests is not None else 1
    adjustment = tests.multiple_testing if tests is not None else "none"
    if k <= 1:
        return "- One outcome: no multiplicity adjustment needed."
    if adjustment == "none":
        return f"- {k} outcomes, p-values NOT adjusted for multiplicity (set inference.multiple_testing)."
    return f"- Multiple outcomes: {ADJUSTMENT_NAMES[adjustment]} over {k} outcomes."


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
              _multiplicity(first.payload(TrialTests)), ""]
    tests = {e.outcome: e.payload(TrialTests) or NO_TESTS for e in result.effects}
    ri = tests[first.outcome].ri_draws
    level = f"{first.level:.0%}"
    header = f"| outcome | {first.estimand.upper()} | {level} CI | p (raw) | p (adjusted) |"
    sep = "|---|---|---|---|---|"
    if ri:
        how = f"exact, all {ri} assignments" if tests[first.outcome].ri_exact else f"{ri} draws"
        header += f" p (randomisation, {how}) |"
        sep += "---|"
    other = "itt" if first.estimand == "cace" else "cace"
    both = any(e.payload(OtherEstimand) is not None for e in result.effects)
    if both:
        header += f" {other.upper()} (SE) | first-stage F | take-up T / C |"
        sep += "---|---|---|"
    lines += [header, sep]
    for e in result.effects:
        g = tests[e.outcome]
        row = (f"| {e.outcome} | {num(e.estimate)} | [{num(e.ci_lower)}, {num(e.ci_upper)}] | "
               f"{num(g.p_value_raw, 3)} | {num(g.p_value_adjusted, 3)} |")
        if ri:
            row += f" {num(g.ri_p_value, 3)} |"
        if both:
            alt, fs = e.payload(OtherEstimand), e.payload(FirstStage)
            row += (f" {num(getattr(alt, 'estimate', None))} ({num(getattr(alt, 'std_error', None))}) | "
                    f"{num(getattr(fs, 'f_statistic', None), 3)} | {num(getattr(fs, 'take_up_treated', None), 2)} / "
                    f"{num(getattr(fs, 'take_up_control', None), 2)} |")
        lines.append(row)
    lines.append("")
    if ri:
        lines += [f"Randomisation inference: {tests[first.outcome].ri_statistic or ''}, two-sided, under the "
                  "sharp null of no effect for anyone.", ""]
    lines += ["![Effects with confidence intervals and Lee bounds](figures/rct_effects.png)", ""]
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
        lines.append(f"| {r['covariate']} | {num(r['mean_treated'])} | {num(r['mean_control'])} | "
                     f"{num(r['std_diff'], 3)} | {num(r['variance_ratio'], 3)} |"
                     + (f" {num(r.get('std_diff_analysed'), 3)} |" if analysed else ""))
    joint = c.values.get("joint", {})
    lines += ["", f"Joint test: {joint.get('test', '')}, statistic {num(joint.get('statistic'), 3)} on "
              f"{joint.get('df')} df, p = {num(joint.get('p_value'), 3)}.", "",
              "![Standardised differences of baseline covariates](figures/rct_balance.png)", ""]
    return lines


def _attrition(result: EvaluationResult) -> list[str]:
    c = _check(result, "attrition")
    lee = {e.outcome: b for e in result.effects if (b := e.payload(LeeBounds)) is not None}
    if c is None and not lee:
        return []
    lines = ["### Attrition", ""]
    if c is not None:
        lines += [f"{c.status.upper()}: {c.message}", "", "| arm | assigned | lost | attrition |", "|---|---|---|---|"]
        lines += [f"| {r['arm']} | {r['assigned']} | {r['lost']} | {r['attrition']:.1%} |" for r in c.table]
        lines.append("")
    if lee:
        level = f"{result.effects[0].level:.0%}"  # the bounds' bootstrap interval uses inference.level
        lines += ["Lee (2009) bounds on the effect for units whose outcome would be observed in either arm:", "",
                  f"| outcome | lower | upper | {level} CI of the bounds | trimmed arm | share trimmed |",
                  "|---|---|---|---|---|---|"]
        for name, b in lee.items():
            lines.append(f"| {name} | {num(b.lower)} | {num(b.upper)} | [{num(b.ci_lower)}, "
                         f"{num(b.ci_upper)}] | {b.trimmed_arm} | {b.trim_share:.1%} |")
        lines.append("")
    return lines


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    """Effects with intervals and (if any) Lee bounds, one row per outcome."""
    if result.design.get("kind") != "rct" or not result.effects:
        return {}
    effects = list(result.effects)
    fig = new_figure(7.0, 0.6 + 1.0 * len(effects))
    axes = fig.subplots(len(effects), 1, squeeze=False)[:, 0]
    for ax, e in zip(axes, effects, strict=True):  # one panel per outcome: outcomes have their own units
        ax.errorbar(e.estimate, 0, xerr=[[e.estimate - e.ci_lower], [e.ci_upper - e.estimate]], fmt="o",
                    color="black", capsize=3, label=f"{e.estimand.upper()}, {e.level:.0%} CI")
        b = e.payload(LeeBounds)
        if b is not None:
            ax.plot([b.lower, b.upper], [-0.4, -0.4], color="tab:orange", lw=4, label="Lee bounds")
        alt = e.payload(OtherEstimand)
        if alt is not None and alt.ci_lower is not None and alt.ci_upper is not None:  # the CACE beside the ITT
            ax.errorbar(alt.estimate, 0.4, xerr=[[alt.estimate - alt.ci_lower], [alt.ci_upper - alt.estimate]],
                        fmt="s", color="tab:blue", capsize=3, label="CACE")
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_ylim(-0.8, 0.8)
        ax.set_yticks([0], [e.outcome])
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    axes[0].set_title(result.name, fontsize=9)
    axes[-1].set_xlabel("effect (outcome units)")
    files = {"rct_effects.png": png_bytes(fig)}
    bal = _check(result, "balance")
    if bal is not None and bal.table:
        files["rct_balance.png"] = _balance_figure(bal.table, bal.values["thresholds"]["max_std_diff"])
    return files


def _balance_figure(table: Any, threshold: float) -> bytes:
    """Standardised differences by covariate (a 'love plot') with 0.05 and the balance check's threshold
    (``checks.balance.max_std_diff``) as reference lines."""
    rows = list(table)
    fig = new_figure(6.0, 1.2 + 0.35 * len(rows))
    ax = fig.add_subplot()
    ys = list(range(len(rows)))[::-1]
    ax.scatter([r["std_diff"] for r in rows], ys, color="black", label="randomised sample", zorder=3)
    if "std_diff_analysed" in rows[0]:
        ax.scatter([r["std_diff_analysed"] for r in rows], ys, marker="x", color="tab:orange",
                   label="analysed sample", zorder=3)
    for v, style in ((0.05, ":"), (threshold, "--")):
        ax.axvline(v, color="grey", ls=style, lw=0.8)
        ax.axvline(-v, color="grey", ls=style, lw=0.8)
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(ys, [r["covariate"] for r in rows])
    ax.set_xlabel("standardised difference (treated - control)")
    ax.legend(fontsize=8, loc="best")
    return png_bytes(fig)


class Trial(Section):
    key = "trial"
    title = "Randomised trial"
    part = "effects"
    markdown = staticmethod(render_section)
    figures = staticmethod(render_figures)
