"""The report's "Unintended consequences" section: negatives first, then positives, each with its status, one
plain sentence and the numbers behind it."""

from __future__ import annotations

from typing import Any

from cpeval._format import num
from cpeval.report.section import Section
from cpeval.results import EvaluationResult

TITLES = {
    "displacement": "Displacement and diffusion of benefits",
    "temporal": "Displacement in time",
    "adverse": "Adverse indicators",
    "disproportionality": "Disproportionality",
    "subgroups": "Who is harmed: subgroups",
    "refutation": "Refutation",
}
MARK = {"fail": "FAIL", "warn": "WARN", "pass": "pass"}


def _ci(ci: Any) -> str:
    if not ci or ci[0] is None:
        return "n/a"
    return f"[{num(ci[0])}, {num(ci[1])}]"


def _displacement_rows(findings: list[Any]) -> list[str]:
    rows = ["| outcome | buffer effect [CI] | WDQ | WDQ reading | WDD total [CI] | net change [CI] |",
            "|---|---|---|---|---|---|"]
    for f in findings:
        ev = f.evidence
        b, q, w, n = ev["buffer_effect"], ev["wdq"], ev["wdd"], ev["total_net_effect"]
        be = _pct(b)
        rows.append(f"| {f.outcome} | {be} | {num(q['quotient'])} | {q['reading'].replace('_', ' ')} | "
                    f"{num(w['total'])} {_ci(w['conf_int'])} | {num(n['net_change'])} {_ci(n['conf_int'])} |")
    return rows


def _pct(effect: dict[str, Any]) -> str:
    pct = effect.get("percent_change")
    return (f"{pct[0]:+.1f}% [{pct[1]:+.1f}%, {pct[2]:+.1f}%]" if pct
            else f"{num(effect['estimate'])} {_ci(effect['conf_int'])}")


def _p(row: dict[str, Any], key: str, factor: int) -> str:
    """A subgroup's p-value; a bootstrap or randomisation p-value of 0 is below one draw in the replications
    (times the Holm factor for an adjusted one)."""
    p = row.get(key)
    reps = (row.get("inference") or {}).get("replications")
    if p == 0 and reps:
        return f"< {min(1.0, factor / reps):.1g}"
    return num(p, 3)


def _temporal_rows(findings: list[Any]) -> list[str]:
    rows = ["| outcome | programme's window | in the window [CI] | outside it [CI] | net change, all hours [CI] |",
            "|---|---|---|---|---|"]
    for f in findings:
        ev = f.evidence
        n = ev["total_net_effect"]
        rows.append(f"| {f.outcome} | {ev['window']} | {_pct(ev['window_effect'])} | {_pct(ev['outside_effect'])} | "
                    f"{num(n['net_change'])} {_ci(n['conf_int'])} |")
    return rows


TABLES = {  # topic: (its table's rows, the note under it)
    "displacement": (_displacement_rows,
                     "Buffer effect: buffer areas against control areas with the design's estimator. WDQ: Bowers & "
                     "Johnson's weighted displacement quotient. WDD: Wheeler & Ratcliffe's weighted displacement "
                     "difference per area and period (negative: fewer crimes). Net change: crimes across the "
                     "programme and buffer areas, from the two design-based effects and their joint sampling."),
    "temporal": (_temporal_rows,
                 "Each offence counted in the programme's operating hours or days and in all others, in the "
                 "programme areas against the comparison areas with the design's estimator; a rise outside the "
                 "window is displacement in time. Net change: crimes across all hours in the programme areas, "
                 "from the two effects and their joint sampling."),
}


def render_section(result: EvaluationResult) -> str:
    c = result.consequences
    if c is None:
        return ""
    lines = ["## Unintended consequences", "",
             "Negatives first (FAIL: the programme appears to have caused harm; WARN: a harm offset or worth a "
             "look), then benefits beyond the programme's aim.", ""]
    if c.roles:
        counts = c.roles["counts"]
        lines += [f"Area roles ({c.roles['how']}): {counts['treated']} treated, {counts['buffer']} buffer, "
                  f"{counts['control']} control; programme start {c.roles['start']}.", ""]
    if not c.findings:
        lines += ["No consequence was declared.", ""]
    lines += [f"- **{MARK[f.status]}** ({TITLES[f.topic].lower()}) {f.name}: {f.sentence}" for f in c.findings]
    lines += [""]
    for topic, (rows, note) in TABLES.items():
        shown = [f for f in c.findings if f.topic == topic]
        if shown:
            lines += [f"### {TITLES[topic]}", "", *rows(shown), "", note, ""]
    for f in c.findings:
        if f.topic == "disproportionality":
            td = f.evidence["triple_difference"]
            lines += [f"### {TITLES['disproportionality']}: {f.name}", "",
                      "| areas | period | rate ratio [CI] |", "|---|---|---|"]
            for cell, v in f.evidence["rate_ratios"].items():
                area, when = cell.split("_")
                lines.append(f"| {area} | {when} | {num(v['rate_ratio'], 3)} {_ci(v['conf_int'])} |")
            lines += ["", f"Change in treated beyond control (triple difference): {num(td['ratio'], 3)} "
                      f"{_ci(td['conf_int'])}.", ""]
        if f.topic == "subgroups":
            lines += [f"### {TITLES['subgroups']}: {f.name}", "",
                      "| subgroup | estimate | CI | p | Holm p | harmful |", "|---|---|---|---|---|---|"]
            m = f.evidence.get("family_size", 1)
            lines += [f"| {r['subgroup']} | {num(r['estimate'])} | {_ci(r['conf_int'])} | "
                      f"{_p(r, 'flag_p_value', 1)} | {_p(r, 'holm_p_value', m)} | "
                      f"{'yes' if r['harmful'] else 'no'} |" for r in f.evidence["subgroups"]]
            lines += [""]
    if c.caveats:
        lines += ["Caveats:", "", *[f"- {x}" for x in c.caveats], ""]
    return "\n".join(lines)


class Consequences(Section):
    key = "consequences"
    title = "Unintended consequences"
    part = "consequences"
    markdown = staticmethod(render_section)
