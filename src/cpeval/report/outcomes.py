"""Report sections for outcome measures: definitions, baselines, harm contributions, survey tables.

Reads only each Effect's :class:`~cpeval.payloads.OutcomeInfo` (filled by :func:`cpeval.outcomes.annotate_effect`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from cpeval._format import bounded, formatted, grouped, slug
from cpeval.payloads import OutcomeInfo
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section
from cpeval.results import effects_in_family_order

if TYPE_CHECKING:
    from collections.abc import Iterable

    from cpeval.payloads import HarmContributions, OutcomeDefinition, SurveySummary
    from cpeval.results import Effect, EvaluationResult


def _definition(d: OutcomeDefinition) -> str:
    parts = []
    if d.total_of is not None:
        parts.append("total of " + ", ".join(f"`{c}`" for c in d.total_of))
    elif d.column is not None:
        parts.append(f"`{d.column}`")
    if d.weights is not None:
        parts.append(f"harm index, weights `{d.weights.get('table')}` ({d.unit})")
    if d.fear is not None:
        parts.append(d.fear.kind + f" on {', '.join(f'`{c}`' for c in d.fear.items)}")
    if d.victimisation is not None:
        parts.append(f"victimisation {d.victimisation['measure']}")
    if d.rate is not None:
        parts.append(d.rate)
    if d.zero_rule is not None:
        n = f" ({d.zero_rows} rows)" if d.zero_rows is not None else ""
        parts.append(f"log, zeros: {d.zero_rule}{n} — {d.zero_rule_text}")
    if d.survey_rows_read is not None:
        parts.append(f"survey `{d.survey_source}`: {d.survey_rows_read:,} respondent rows read by "
                     f"`{d.survey_query}` (rows sha256 `{(d.survey_sha256 or '')[:12]}…`)")
    elif d.survey_source is not None:
        parts.append(f"survey `{d.survey_source}` (sha256 `{(d.survey_sha256 or '')[:12]}…`)")
    return "; ".join(parts) or d.measure


def _annotated(effects: Iterable[Effect]) -> list[tuple[Effect, OutcomeInfo]]:
    return [(e, info) for e in effects if (info := e.payload(OutcomeInfo)) is not None]


def render_section(result: EvaluationResult) -> str:
    effects = _annotated(effects_in_family_order(result.effects))
    if not effects:
        return ""
    lines = [
        "## Outcome measures",
        "",
        "| outcome | family | definition | baseline mean |",
        "|---|---|---|---|",
    ]
    for e, info in effects:
        mean = info.baseline.mean if info.baseline is not None else None
        lines.append(f"| {e.outcome} | {e.family} | {_definition(info.definition)} | {grouped(mean)} |")
    lines += ["", "The Effects section gives each effect as a % change of this baseline."]
    lines.append("")
    based = [info.baseline for _, info in effects if info.baseline is not None]
    if based:
        lines += [f"Baseline: the mean among {based[0].rows}.", ""]
    for e, info in effects:
        if info.harm_contributions is not None:
            lines += _harm_section(e, info.harm_contributions, info.definition)
        if info.survey is not None:
            lines += _survey_section(e, info.survey, info.definition)
    return "\n".join(lines)


def _harm_section(e: Effect, hc: HarmContributions, definition: OutcomeDefinition) -> list[str]:
    w = definition.weights or {}
    scale = "" if hc.scale == "level" else (
        f" ({hc.scale}; about {grouped(hc.total_effect)} {hc.unit} at the baseline)")
    out = [
        f"### Harm contributions: {e.outcome}",
        "",
        f"Effect on the harm index: {grouped(e.estimate)}{scale or ' ' + hc.unit} "
        f"({e.level:.0%} CI [{grouped(e.ci_lower)}, {grouped(e.ci_upper)}]). Each offence's contribution is the same "
        "estimator fitted to its weighted counts"
        + (" (they add up exactly to the effect)." if hc.additive else
           f"; {hc.note}." if hc.note else
           "; this estimator is fitted to each offence separately, so the contributions need not add up to "
           f"the effect (their sum: {grouped(hc.sum_of_contributions)})."),
        "",
        "| offence | column | weight | baseline harm (share) | change [CI] | share of change |",
        "|---|---|---|---|---|---|",
    ]
    for r in hc.offences:
        share_b = r.share_of_baseline_harm
        base = grouped(r.baseline_harm) + (f" ({share_b:.0%})" if share_b is not None else "")
        share = "—" if r.share_of_change is None else f"{r.share_of_change:.0%}"
        if r.estimate is None:
            change = r.error or "not estimated"
        elif r.harm_change is not None and r.harm_change_ci is not None:
            lo, hi = r.harm_change_ci
            change = f"{grouped(r.harm_change)} [{grouped(lo)}, {grouped(hi)}] (log ratio {grouped(r.estimate, 3)})"
        elif bounded(r.ci_lower, r.ci_upper):
            change = f"{grouped(r.estimate)} [{grouped(r.ci_lower)}, {grouped(r.ci_upper)}]"
        else:  # e.g. a synthetic control's offence fits: no interval
            change = f"{grouped(r.estimate)} (interval unbounded)"
        out.append(f"| {r.label} | `{r.column}` | {grouped(r.weight)} | {base} | {change} | {share} |")
    out += [""]
    if any(r.estimate is not None for r in hc.offences):  # the figure is drawn from these rows
        out += [f"![Harm contributions by offence: {e.outcome}](figures/harm_contributions_{slug(e.outcome)}.png)", ""]
    if w:
        out += [
            f"Weights: {w.get('title', w.get('table'))}. {w.get('unit_meaning', '')} "
            f"Convention: {w.get('convention', 'n/a')}. Values: {w.get('values_version', w.get('source', 'n/a'))}.",
            "",
        ]
    return out


def _survey_section(e: Effect, s: SurveySummary, d: OutcomeDefinition) -> list[str]:
    out = [f"### Survey: {e.outcome}", ""]
    if d.aggregation:
        out += [f"{d.aggregation[0].upper()}{d.aggregation[1:]}.", ""]
    if s.by_wave:
        out += [f"| wave | group | weighted mean | SE (clustered by {s.cluster or 'area'}) | clusters | "
                "respondents |", "|---|---|---|---|---|---|"]
        out += [
            f"| {r.wave} | {r.group} | {grouped(r.estimate)} | {grouped(r.std_error)} | {r.clusters} "
            f"| {r.respondents} |"
            for r in s.by_wave
        ]
        out += [""]
    if s.cronbach_alpha is not None:
        out += [f"Cronbach's alpha of the index: {s.cronbach_alpha:.3f} ({s.alpha_complete_cases} complete "
                f"responses); items standardised on the {s.index_reference}.", ""]
    v = s.victimisation
    if v:
        out += [
            f"Victimisation (all waves, weighted): prevalence {formatted(v['prevalence'], '.3f')}, incidence "
            f"{formatted(v['incidence'], '.3f')} crimes per resident, concentration "
            f"{formatted(v['concentration'], '.2f')} crimes per victim; repeat victims are "
            f"{formatted(v['repeat_victims_share_of_victims'], '.0%')} of victims and suffer "
            f"{formatted(v['repeat_victims_share_of_crimes'], '.0%')} of the crimes.",
            "",
        ]
    return out


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    """One bar chart per harm outcome: each offence's contribution to the change, with its interval."""
    files: dict[str, bytes] = {}
    for e, info in _annotated(result.effects):
        hc = info.harm_contributions
        if hc is None:
            continue
        rows = [r for r in hc.offences if r.estimate is not None]
        if hc.scale != "level":  # log ratios converted to harm units at the baseline
            rows = [r for r in rows if r.harm_change is not None and r.harm_change_ci is not None]
            est = [r.harm_change for r in rows]
            err = [[r.harm_change - r.harm_change_ci[0] for r in rows],  # type: ignore[operator,index]
                   [r.harm_change_ci[1] - r.harm_change for r in rows]]  # type: ignore[operator,index]
        else:
            est = [r.estimate for r in rows]
            # an offence without a bounded interval (None in the payload) is drawn without an error bar
            err = [[r.estimate - r.ci_lower if bounded(r.ci_lower) else math.nan for r in rows],  # type: ignore[operator]
                   [r.ci_upper - r.estimate if bounded(r.ci_upper) else math.nan for r in rows]]  # type: ignore[operator]
        if not rows:
            continue
        labels = [r.label for r in rows]
        total = hc.total_effect
        fig = new_figure(7.0, 0.6 * len(rows) + 1.8)
        ax = fig.add_subplot()
        colours = ["#b2182b" if x > 0 else "#2166ac" for x in est]
        ax.barh(labels, est, xerr=err, color=colours, alpha=0.85, capsize=3)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_xlabel(f"change in harm ({hc.unit})")
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
