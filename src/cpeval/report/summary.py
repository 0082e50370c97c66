"""The summary box: each outcome's headline effect in plain words and numbers, and what to read it with."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from cpeval._format import bounded, num
from cpeval.report.effects import label, percent, placebo_test, role, to_percent, unbounded_note
from cpeval.report.inference import LABELS
from cpeval.report.section import Section
from cpeval.results import effects_in_family_order

if TYPE_CHECKING:
    from cpeval.results import Effect, EvaluationResult

WHERE = {"rct": "in the treatment group", "did": "in the treated areas", "synthetic_control": "in the treated area"}


def _short(text: str) -> str:
    """A label without its parenthetical and trailing remarks: 'Homicides per 100,000 (log), ...' -> 'Homicides
    per 100,000'."""
    return re.sub(r"\s*\([^)]*\)", "", text).split(", ")[0].strip() or text


def _pcts(xs: tuple[float, float, float]) -> tuple[str, str, str]:
    est, lo, hi = xs
    digits = 0 if max(abs(lo), abs(hi), abs(est)) >= 10 else 1
    return f"{abs(est):.{digits}f}%", f"{lo:.{digits}f}%", f"{hi:.{digits}f}%"


def headline(result: EvaluationResult, e: Effect) -> str:
    """'Homicides per 100,000 rose by about 7.8% (95% CI 0.6% to 15.7%) in states that passed the law.'"""
    where = ((result.design.get("report") or {}).get("treated_as") or WHERE.get(str(result.design.get("kind")), "")
             ).strip()
    what = _short(label(result, e))
    what = what[0].upper() + what[1:]
    alt = e.inference if e.inference is not None and e.inference.headline else None
    lo, hi = alt.conf_int if alt is not None else (e.ci_lower, e.ci_upper)
    how = f" ({LABELS[alt.method]})" if alt is not None else ""
    if not bounded(e.estimate, lo, hi):
        pct = to_percent(e, e.estimate)
        size = f"about {abs(pct):.1f}%" if pct is not None else f"{num(abs(e.estimate), 3)} ({e.measure})"
        text = (f"{what} {'rose' if e.estimate > 0 else 'fell'} by {size} {where}, but its {e.level:.0%} interval "
                "is unbounded")
        placebo = placebo_test(result, e)
        if placebo is None:
            return text + "; the data cannot say how sure that is."
        v = placebo.values
        verdict = ("larger than in most untreated units" if v["p_value"] <= 1 - e.level
                   else "not unusual among the untreated units")
        return text + (f". The placebo-in-space test gives p = {num(v['p_value'], 3)} (rank {v['rank']} of "
                       f"{v['n_units']}): a change {verdict}.")
    pcts = percent(e) if alt is None else (to_percent(e, e.estimate), to_percent(e, lo), to_percent(e, hi))
    rose = e.estimate > 0
    verb = "rose" if rose else "fell"
    if pcts is not None and all(x is not None for x in pcts):
        est, a, b = _pcts(pcts)  # type: ignore[arg-type]
        size, ci = f"about {est}", f"{e.level:.0%} CI{how} {a} to {b}"
    else:
        size, ci = f"{num(abs(e.estimate), 3)} ({e.measure})", f"{e.level:.0%} CI{how} {num(lo, 3)} to {num(hi, 3)}"
    sentence = f"{what} {verb} by {size} ({ci}) {where}."
    if lo <= 0 <= hi:
        sentence += " The interval includes no change, so the data cannot tell a rise from a fall."
    return sentence


class Summary(Section):
    key = "summary"
    title = "Summary"
    part = "summary"

    def markdown(self, result: EvaluationResult) -> str:
        if not result.effects:
            return ""
        lines = ["## Summary", ""]
        for e in effects_in_family_order(result.effects):
            r = role(result, e)
            tag = "" if r == "primary" else f" *({r} outcome)*"
            lines.append(f"- {headline(result, e)}{tag}")
        lines.append("")
        if any(unbounded_note(result, e) for e in result.effects):
            lines += ["Some intervals are unbounded; the Effects section says why and which test to read.", ""]
        failed = sorted({c.name for c in result.checks if c.status in ("fail", "error")})
        warned = sorted({c.name for c in result.checks if c.status == "warn"})
        if failed or warned:
            lines += ["Diagnostics: " + "; ".join(
                x for x in (f"failed or could not run: {', '.join(failed)}" if failed else "",
                            f"worth a look: {', '.join(warned)}" if warned else "") if x) + ".", ""]
        cba = result.cost_benefit.to_dict() if result.cost_benefit is not None else None
        if cba:
            lines += [f"Costs and benefits: {cba['sentence']}", ""]
        return "\n".join(lines)
