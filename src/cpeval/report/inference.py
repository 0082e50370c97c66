"""The report's account of inference that does not rest on the cluster-robust standard error.

When few clusters are treated (``AlternativeInference.headline``) the Effects table leads with the wild
bootstrap or randomisation p-value and interval and shows the analytic ones beside them; a short block before
the table says why, in one sentence. A section lists every alternative inference in full.
"""

from __future__ import annotations

from cpeval._format import num
from cpeval.report.section import Section
from cpeval.results import AlternativeInference, Effect, EvaluationResult

# "wild bootstrap": the weights are per cluster (WCR) or per observation (the subcluster bootstrap chosen when
# few clusters are treated); the statistic column of the inference section says which.
LABELS = {"wild_bootstrap": "wild bootstrap", "score_bootstrap": "score bootstrap",
          "randomization": "randomisation test"}
WHY = ("Cluster-robust standard errors are too small when only a few clusters are treated (or untreated), so "
       "the analytic p-value and interval overstate the evidence; the {label} does not rely on that standard "
       "error and is shown first.")


def interval(alt: AlternativeInference) -> str:
    lo, hi = alt.conf_int
    if lo is None and hi is None:  # no interval was computed (the note says why)
        return "—"
    return f"[{num(lo)}, {num(hi)}]"


def p_text(alt: AlternativeInference) -> str:
    """The p-value, or its bound when no draw was as extreme as the data (p is never exactly 0)."""
    if alt.p_value == 0 and alt.replications:
        return f"< {num(1 / alt.replications, 2)}"
    return num(alt.p_value, 3)


def p_cell(e: Effect) -> str:
    """The p-value cell: the valid inference first when it heads the report."""
    alt = e.inference
    if alt is None or not alt.headline:
        return num(e.p_value, 3)
    return f"**{p_text(alt)}** ({LABELS[alt.method]}); analytic {num(e.p_value, 3)}"


def ci_cell(e: Effect) -> str:
    alt = e.inference
    analytic = f"[{num(e.ci_lower)}, {num(e.ci_upper)}]"
    if alt is None or not alt.headline:
        return analytic
    return f"**{interval(alt)}** ({LABELS[alt.method]}); analytic {analytic}"


def direction(e: Effect) -> bool | None:
    """Effect.improved, read off the interval the report leads with."""
    alt = e.inference
    if alt is None or not alt.headline or alt.conf_int[0] is None or alt.conf_int[1] is None:
        return e.improved if alt is None or not alt.headline else None
    good_up = e.better_if != "decrease"
    lo, hi = alt.conf_int
    return good_up if lo > 0 else (not good_up if hi < 0 else None)


def lead(result: EvaluationResult) -> list[str]:
    """Lines placed before the Effects table when some effect's valid inference heads the report."""
    heads = [(e, alt) for e, alt in _alternatives(result) if alt.headline]
    if not heads:
        return []
    lines = ["**Few treated clusters.** " + WHY.format(label=LABELS[heads[0][1].method]), ""]
    lines += [f"- {e.outcome}: {LABELS[alt.method]} p = {p_text(alt)}, {e.level:.0%} interval "
              f"{interval(alt)} ({alt.reason}); analytic p = {num(e.p_value, 3)}, interval "
              f"[{num(e.ci_lower)}, {num(e.ci_upper)}]." for e, alt in heads]
    return [*lines, ""]


def _alternatives(result: EvaluationResult) -> list[tuple[Effect, AlternativeInference]]:
    return [(e, e.inference) for e in result.effects if e.inference is not None]


def render_section(result: EvaluationResult) -> str:
    rows = _alternatives(result)
    if not rows:
        return ""
    lines = ["## Inference beside the analytic interval", "",
             "| outcome | method | statistic | p | interval | draws | enumerated | weights | why | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {e.outcome} | {LABELS[alt.method]} | {alt.statistic} | {p_text(alt)} | "
              f"{interval(alt)} | {alt.replications} | {'yes' if alt.enumerated else 'no'} | "
              f"{alt.weights or '—'} | {alt.reason} | {alt.note} |" for e, alt in rows]
    return "\n".join(lines) + "\n"


class AlternativeInferenceSection(Section):
    key = "alternative_inference"
    title = "Inference beside the analytic interval"
    part = "effects"
    markdown = staticmethod(render_section)
