"""A readable Markdown report of an EvaluationResult."""

from __future__ import annotations

from collections.abc import Callable

from cpeval.report.format import num
from cpeval.report.inference import ci_cell, direction, lead, p_cell
from cpeval.results import Effect, EvaluationResult, effects_in_family_order

FAMILY_TITLES = {
    "crime": "Crime and victimisation",
    "seriousness": "Seriousness of crime",
    "fear": "Fear of crime",
    "other": "Other outcomes",
}

# Extra report sections (event-study plots, synthetic-control fit, cost-benefit, ...): each takes the result
# and returns Markdown, or "" when it has nothing to say. Areas append their renderer here.
SECTIONS: list[Callable[[EvaluationResult], str]] = []


def verdict(e: Effect) -> str:
    """The report's reading of an effect: improved, worsened or no clear change (from the leading interval)."""
    return {True: "improved", False: "worsened", None: "no clear change"}[direction(e)]


def percent_cell(e: Effect) -> str:
    pct = e.percent_change
    return f"{pct[0]:+.1f}% [{pct[1]:+.1f}%, {pct[2]:+.1f}%]" if pct else "—"


def _effect_row(e: Effect) -> str:
    return (
        f"| {e.outcome} | {e.estimand.upper()} | {num(e.estimate)} | {num(e.std_error)} | "
        f"{ci_cell(e)} | {p_cell(e)} | {percent_cell(e)} | {verdict(e)} | "
        f"{e.n_obs} | {e.n_units} | {num(e.n_clusters)} |"
    )


def render_markdown(result: EvaluationResult) -> str:
    d = result.design
    lines: list[str] = [f"# {result.name}", ""]
    if d.get("description"):
        lines += [str(d["description"]).strip(), ""]
    est = d.get("estimator", {})
    lines += [
        "## Design",
        "",
        f"- Kind: `{d.get('kind')}`; method: `{est.get('method')}`",
        f"- Data: `{d['data'].get('path') or d['data'].get('dataset')}` (sha256 `{result.data_sha256[:16]}…`)",
        f"- Unit: `{d['data'].get('unit')}`; period: `{d['data'].get('time')}`; weights: "
        f"`{d['data'].get('weights') or 'none'}`",
        f"- Design file: `{result.design_origin or 'in memory'}` (hash `{result.design_hash[:16]}…`); "
        f"cpeval {result.cpeval_version}",
        "",
        "## Data",
        "",
    ]
    lines += [f"- {k.replace('_', ' ')}: {v}" for k, v in result.data_summary.items() if v is not None]
    lines += [""]
    level = result.effects[0].level if result.effects else 0.95
    lines += ["## Effects", "", *lead(result)]
    for family in FAMILY_TITLES:
        fam = [e for e in effects_in_family_order(result.effects) if e.family == family]
        if not fam:
            continue
        lines += [
            f"### {FAMILY_TITLES[family]}",
            "",
            f"| outcome | estimand | estimate | SE | {level:.0%} CI | p | % change [CI] | direction | obs | units "
            "| clusters |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *[_effect_row(e) for e in fam],
            "",
        ]
    if result.effects:
        lines += [f"Standard errors: {result.effects[0].variance_type}.", ""]
    if result.checks:
        lines += ["## Checks", "", "| check | outcome | status | message |", "|---|---|---|---|"]
        lines += [f"| {c.name} | {c.outcome or ''} | {c.status} | {c.message} |" for c in result.checks]
        lines += [""]
    for section in SECTIONS:
        text = section(result)
        if text:
            lines += [text.rstrip(), ""]
    lines += ["## Warnings", ""]
    lines += [f"- {w}" for w in result.warnings] or ["None."]
    lines += [""]
    return "\n".join(lines)


from cpeval.report.cba import render_section as _cost_benefit_section  # noqa: E402

SECTIONS.append(_cost_benefit_section)

from cpeval.report.outcomes import render_section as _outcomes_section  # noqa: E402

SECTIONS.append(_outcomes_section)

from cpeval.report.rct import render_section as _rct_section  # noqa: E402

SECTIONS.append(_rct_section)

from cpeval.report.did_cs import render_section as _did_cs_section  # noqa: E402

SECTIONS.append(_did_cs_section)

from cpeval.report.did_event import render_section as _did_event_section  # noqa: E402

SECTIONS.append(_did_event_section)

from cpeval.report.synth import render_section as _synth_section  # noqa: E402

SECTIONS.append(_synth_section)

from cpeval.report.inference import render_section as _inference_section  # noqa: E402

SECTIONS.append(_inference_section)

from cpeval.report.consequences import render_section as _consequences_section  # noqa: E402

SECTIONS.append(_consequences_section)
