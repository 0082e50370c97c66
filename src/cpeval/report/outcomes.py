"""Report sections for outcome measures: definitions, baselines, harm contributions, survey tables.

Reads only ``Effect.diagnostics["outcome"]`` (filled by :func:`cpeval.outcomes.annotate_effect`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval._format import grouped, slug
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section
from cpeval.results import effects_in_family_order

if TYPE_CHECKING:
    from cpeval.results import Effect, EvaluationResult


def _definition(d: dict[str, Any]) -> str:
    parts = []
    if "total_of" in d:
        parts.append("total of " + ", ".join(f"`{c}`" for c in d["total_of"]))
    elif "column" in d:
        parts.append(f"`{d['column']}`")
    if "weights" in d:
        w = d["weights"]
        parts.append(f"harm index, weights `{w.get('table')}` ({d.get('unit')})")
    if "fear" in d:
        parts.append(d["fear"]["kind"] + f" on {', '.join(f'`{c}`' for c in d['fear']['items'])}")
    if "victimisation" in d:
        v = d["victimisation"]
        parts.append(f"victimisation {v['measure']}")
    if "rate" in d:
        parts.append(d["rate"])
    if "zero_rule" in d:
        n = f" ({d['zero_rows']} rows)" if "zero_rows" in d else ""
        parts.append(f"log, zeros: {d['zero_rule']}{n} — {d['zero_rule_text']}")
    if "survey_rows_read" in d:
        parts.append(f"survey `{d['survey_source']}`: {d['survey_rows_read']:,} respondent rows read by "
                     f"`{d['survey_query']}` (rows sha256 `{d['survey_sha256'][:12]}…`)")
    elif "survey_source" in d:
        parts.append(f"survey `{d['survey_source']}` (sha256 `{d['survey_sha256'][:12]}…`)")
    return "; ".join(parts) or d.get("measure", "")


def render_section(result: EvaluationResult) -> str:
    effects = [e for e in effects_in_family_order(result.effects) if "outcome" in e.diagnostics]
    if not effects:
        return ""
    lines = [
        "## Outcome measures",
        "",
        "| outcome | family | definition | baseline mean |",
        "|---|---|---|---|",
    ]
    for e in effects:
        info = e.diagnostics["outcome"]
        base = info.get("baseline") or {}
        lines.append(f"| {e.outcome} | {e.family} | {_definition(info.get('definition', {}))} | "
                     f"{grouped(base.get('mean'))} |")
    lines += ["", "The Effects section gives each effect as a % change of this baseline."]
    lines.append("")
    based = [e.diagnostics["outcome"]["baseline"] for e in effects if "baseline" in e.diagnostics["outcome"]]
    if based:
        lines += [f"Baseline: the mean among {based[0]['rows']}.", ""]
    for e in effects:
        info = e.diagnostics["outcome"]
        if "harm_contributions" in info:
            lines += _harm_section(e, info)
        if "survey" in info:
            lines += _survey_section(e, info)
    return "\n".join(lines)


def _harm_section(e: Effect, info: dict[str, Any]) -> list[str]:
    hc = info["harm_contributions"]
    w = info["definition"].get("weights", {})
    scale = "" if hc.get("scale", "level") == "level" else (
        f" ({hc['scale']}; about {grouped(hc.get('total_effect'))} {hc['unit']} at the baseline)")
    out = [
        f"### Harm contributions: {e.outcome}",
        "",
        f"Effect on the harm index: {grouped(e.estimate)}{scale or ' ' + hc['unit']} "
        f"({e.level:.0%} CI [{grouped(e.ci_lower)}, {grouped(e.ci_upper)}]). Each offence's contribution is the same "
        "estimator fitted to its weighted counts"
        + (" (they add up exactly to the effect)." if hc.get("additive") else
           f"; {hc['note']}." if hc.get("note") else
           "; this estimator is fitted to each offence separately, so the contributions need not add up to "
           f"the effect (their sum: {grouped(hc.get('sum_of_contributions'))})."),
        "",
        "| offence | column | weight | baseline harm (share) | change [CI] | share of change |",
        "|---|---|---|---|---|---|",
    ]
    for r in hc["offences"]:
        share_b = r.get("share_of_baseline_harm")
        base = grouped(r.get("baseline_harm")) + (f" ({share_b:.0%})" if share_b is not None else "")
        share = "—" if r.get("share_of_change") is None else f"{r['share_of_change']:.0%}"
        if r.get("estimate") is None:
            change = r.get("error", "not estimated")
        elif "harm_change" in r:
            lo, hi = r["harm_change_ci"]
            change = (f"{grouped(r['harm_change'])} [{grouped(lo)}, {grouped(hi)}] "
                      f"(log ratio {grouped(r['estimate'], 3)})")
        else:
            change = f"{grouped(r['estimate'])} [{grouped(r['ci_lower'])}, {grouped(r['ci_upper'])}]"
        out.append(f"| {r['label']} | `{r['column']}` | {grouped(r['weight'])} | {base} | {change} | {share} |")
    out += [""]
    if any(r.get("estimate") is not None for r in hc["offences"]):  # the figure is drawn from these rows
        out += [f"![Harm contributions by offence: {e.outcome}](figures/harm_contributions_{slug(e.outcome)}.png)", ""]
    if w:
        out += [
            f"Weights: {w.get('title', w.get('table'))}. {w.get('unit_meaning', '')} "
            f"Convention: {w.get('convention', 'n/a')}. Values: {w.get('values_version', w.get('source', 'n/a'))}.",
            "",
        ]
    return out


def _survey_section(e: Effect, info: dict[str, Any]) -> list[str]:
    s = info["survey"]
    d = info.get("definition", {})
    out = [f"### Survey: {e.outcome}", ""]
    if d.get("aggregation"):
        out += [f"{d['aggregation'][0].upper()}{d['aggregation'][1:]}.", ""]
    if s.get("by_wave"):
        out += [f"| wave | group | weighted mean | SE (clustered by {s.get('cluster', 'area')}) | clusters | "
                "respondents |", "|---|---|---|---|---|---|"]
        out += [
            f"| {r['wave']} | {r['group']} | {grouped(r['estimate'])} | {grouped(r['std_error'])} | {r['clusters']} "
            f"| {r['respondents']} |"
            for r in s["by_wave"]
        ]
        out += [""]
    if s.get("cronbach_alpha") is not None:
        out += [f"Cronbach's alpha of the index: {s['cronbach_alpha']:.3f} ({s['alpha_complete_cases']} complete "
                f"responses); items standardised on the {s.get('index_reference')}.", ""]
    v = s.get("victimisation")
    if v:
        out += [
            f"Victimisation (all waves, weighted): prevalence {v['prevalence']:.3f}, incidence "
            f"{v['incidence']:.3f} crimes per resident, concentration {v['concentration']:.2f} crimes per victim; "
            f"repeat victims are {v['repeat_victims_share_of_victims']:.0%} of victims and suffer "
            f"{v['repeat_victims_share_of_crimes']:.0%} of the crimes.",
            "",
        ]
    return out


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    """One bar chart per harm outcome: each offence's contribution to the change, with its interval."""
    files: dict[str, bytes] = {}
    for e in result.effects:
        hc = e.diagnostics.get("outcome", {}).get("harm_contributions")
        if not hc:
            continue
        rows = [r for r in hc["offences"] if r.get("estimate") is not None]
        if not rows:
            continue
        if hc.get("scale", "level") != "level":  # log ratios converted to harm units at the baseline
            rows = [r for r in rows if "harm_change" in r]
            est = [r["harm_change"] for r in rows]
            err = [[r["harm_change"] - r["harm_change_ci"][0] for r in rows],
                   [r["harm_change_ci"][1] - r["harm_change"] for r in rows]]
        else:
            est = [r["estimate"] for r in rows]
            err = [[r["estimate"] - r["ci_lower"] for r in rows], [r["ci_upper"] - r["estimate"] for r in rows]]
        if not rows:
            continue
        labels = [r["label"] for r in rows]
        total = hc.get("total_effect")
        fig = new_figure(7.0, 0.6 * len(rows) + 1.8)
        ax = fig.add_subplot()
        colours = ["#b2182b" if x > 0 else "#2166ac" for x in est]
        ax.barh(labels, est, xerr=err, color=colours, alpha=0.85, capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel(f"change in harm ({hc['unit']})")
        ax.set_title(f"{e.outcome}: contribution of each offence type (total {grouped(total)})")
        ax.invert_yaxis()
        files[f"harm_contributions_{slug(e.outcome)}.png"] = png_bytes(fig)
    return files


class OutcomeMeasures(Section):
    key = "outcome_measures"
    title = "Outcome measures"
    part = "outcomes"
    markdown = staticmethod(render_section)
    figures = staticmethod(render_figures)
