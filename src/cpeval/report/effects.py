"""The Effects section (para 23 (a)): one table per outcome family, one percentage convention, the outcome's
label and role, the inference that leads when clusters are few, and a chart of every effect."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from cpeval._format import bounded, num, pct_interval, signed_pct
from cpeval.designs import families
from cpeval.payloads import OutcomeInfo, baseline_mean
from cpeval.report.inference import ci_cell, direction, lead, p_cell
from cpeval.report.section import Section
from cpeval.results import effects_in_family_order

if TYPE_CHECKING:
    from cpeval.results import CheckResult, Effect, EvaluationResult

FAMILY_TITLES = families.FAMILY_TITLES  # every declared family, in report order
FIGURE = "effects.png"
PERCENT_NOTE = ("% change: for effects on the log scale (log outcomes, rate ratios) 100 x (exp(effect) - 1); for "
                "effects in the outcome's own units, the effect as a share of the treated units' mean before "
                "treatment. The interval is transformed the same way.")


def outcome_spec(result: EvaluationResult, name: str) -> dict[str, Any]:
    """The design's declaration of outcome ``name`` (label, role, better_if, ...), {} if not declared."""
    return next((o for o in result.design.get("outcomes", []) if o.get("name") == name), {})


def label(result: EvaluationResult, e: Effect) -> str:
    return str(outcome_spec(result, e.outcome).get("label") or e.outcome.replace("_", " "))


def role(result: EvaluationResult, e: Effect) -> str:
    return str(outcome_spec(result, e.outcome).get("role") or "primary")


def verdict(e: Effect) -> str:
    """The report's reading of an effect: improved, worsened or no clear change (from the leading interval)."""
    return {True: "improved", False: "worsened", None: "no clear change"}[direction(e)]


def to_percent(e: Effect, value: float | None) -> float | None:
    """``value`` (on the effect's scale) as the report's % change (see ``PERCENT_NOTE``), None without a base."""
    if value is None or not math.isfinite(value):
        return None
    if e.scale == "log":  # log outcomes and rate ratios
        return 100.0 * math.expm1(value)
    mean = baseline_mean(e)
    return None if mean is None else 100.0 * value / mean


def percent(e: Effect) -> tuple[float, float, float] | None:
    """The effect and its analytic interval as % change (see ``PERCENT_NOTE``), or None."""
    info = e.payload(OutcomeInfo)
    base = info.baseline if info is not None else None
    if base is not None and base.percent_of_baseline is not None and base.percent_ci is not None:
        return base.percent_of_baseline, *base.percent_ci
    return e.percent_change


def percent_cell(e: Effect) -> str:
    pct = percent(e)
    if pct and bounded(*pct) and bounded(e.ci_lower, e.ci_upper):
        return pct_interval(*pct)
    est = pct[0] if pct and bounded(pct[0]) else to_percent(e, e.estimate)
    return "—" if est is None else f"{signed_pct(est)} [unbounded]"


def placebo_test(result: EvaluationResult, e: Effect) -> CheckResult | None:
    """The placebo-in-space check of ``e``'s outcome, when it produced a p-value."""
    return next((c for c in result.checks if c.name == "placebo_space" and c.outcome == e.outcome
                 and c.values.get("p_value") is not None), None)


def unbounded_note(result: EvaluationResult, e: Effect) -> str:
    """A sentence for an effect whose interval is unbounded: why, and the inference that does exist."""
    if bounded(e.ci_lower, e.ci_upper):
        return ""
    text = (f"**{label(result, e)}**: the {e.level:.0%} interval is unbounded. An interval holds every effect size "
            f"its test cannot reject at the {1 - e.level:.0%} level, and with this design's few treated units and "
            f"periods the test ({e.variance_type}) can reject none, so no bound exists.")
    placebo = placebo_test(result, e)
    if placebo is not None:
        v = placebo.values
        text += (f" The inference that exists leads the p column: the placebo-in-space test, in which the treated "
                 f"unit's post/pre RMSPE ratio ranks {v['rank']} of {v['n_units']} (p = {num(v['p_value'], 3)}).")
    return text


def p_value_cell(result: EvaluationResult, e: Effect) -> str:
    placebo = None if bounded(e.ci_lower, e.ci_upper) else placebo_test(result, e)
    if placebo is None:
        return p_cell(e)
    return f"**{num(placebo.values['p_value'], 3)}** (placebo in space); interval's test {num(e.p_value, 3)}"


def _ci(e: Effect) -> str:
    return ci_cell(e) if bounded(e.ci_lower, e.ci_upper) else "unbounded"


def _row(result: EvaluationResult, e: Effect) -> str:
    given = outcome_spec(result, e.outcome).get("label")
    name = f"{given} (`{e.outcome}`)" if given else e.outcome
    return (f"| {name} | {role(result, e)} | {e.estimand.upper()} | {num(e.estimate)} | "
            f"{num(e.std_error)} | {_ci(e)} | {p_value_cell(result, e)} | {percent_cell(e)} | {verdict(e)} | "
            f"{e.n_obs} | {e.n_units} | {num(e.n_clusters)} |")


class Effects(Section):
    key = "effects"
    title = "Effects"
    part = "effects"

    def markdown(self, result: EvaluationResult) -> str:
        if not result.effects:
            return ""
        level = result.effects[0].level
        lines = ["## Effects", "", *lead(result)]
        for family, title in FAMILY_TITLES.items():
            fam = [e for e in effects_in_family_order(result.effects) if e.family == family]
            if not fam:
                continue
            lines += [f"### {title}", "",
                      f"| outcome | role | estimand | estimate | SE | {level:.0%} CI | p | % change [CI] | direction "
                      "| obs | units | clusters |",
                      "|---|---|---|---|---|---|---|---|---|---|---|---|", *[_row(result, e) for e in fam], ""]
        notes = [n for n in (unbounded_note(result, e) for e in result.effects) if n]
        lines += [*notes, *([""] if notes else [])]
        lines += [PERCENT_NOTE, "", f"Standard errors: {result.effects[0].variance_type}.", ""]
        if any(role(result, e) == "falsification" for e in result.effects):
            lines += ["Falsification outcomes are ones the programme should not move; a clear effect on one "
                      "suggests the comparison, not the programme, drives the results.", ""]
        if self._plottable(result):
            lines += [f"![Every effect with its {level:.0%} interval, as % change where a baseline exists]"
                      f"(figures/{FIGURE})", ""]
        return "\n".join(lines)

    @staticmethod
    def _plottable(result: EvaluationResult) -> list[tuple[str, tuple[float, float, float]]]:
        rows = []
        for e in effects_in_family_order(result.effects):
            pct = percent(e)
            value = pct if pct is not None else (e.estimate, e.ci_lower, e.ci_upper)
            if bounded(*value):
                rows.append((f"{label(result, e)}" + ("" if pct is not None else " (units)"), value))
        return rows

    def figures(self, result: EvaluationResult) -> dict[str, bytes]:
        from cpeval.report.figures import interval_chart

        rows = self._plottable(result)
        if not rows:
            return {}
        decrease = {e.better_if == "decrease" for e in result.effects}
        return {FIGURE: interval_chart(
            [r[0] for r in rows], [r[1][0] for r in rows], [r[1][1] for r in rows], [r[1][2] for r in rows],
            xlabel="% change (effects without a baseline: outcome units)",
            title=f"{result.name}: effects with {result.effects[0].level:.0%} intervals",
            good_below=next(iter(decrease)) if len(decrease) == 1 else None)}

