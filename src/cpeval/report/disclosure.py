"""Statistical disclosure control: observed counts below ``report.suppress_below`` never reach a report.

:func:`protect` returns a copy of the result in which every observed count (and whatever would reveal it) is a
:class:`~cpeval._format.Suppressed` value; every table and figure is drawn from that copy, so one pass
covers both formats. Observed counts are:

- people assigned to and lost from each trial arm (the attrition check; the arm's attrition rate with them);
- survey respondents per area and wave (fear-of-crime outcomes);
- a count outcome's treated series in a synthetic-control path (crimes in the treated area in one period),
  with the gap, its interval and the placebo plot's treated gap for that period, which would give it back,
  and the treated unit's predictor values (lags of the outcome are its counts).

Estimates, intervals, model-based series (the synthetic control), simulation draws and sizes of the design
(units, clusters, observations) are not observed counts of people or crimes and are left as they are.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from cpeval._format import Suppressed
from cpeval.designs.report import DEFAULT_SUPPRESS_BELOW
from cpeval.payloads import OutcomeInfo, SurveyWave, SynthFit, SynthPredictor

if TYPE_CHECKING:
    from cpeval.results import CheckResult, Effect, EvaluationResult

TABLE_COUNTS = ("assigned", "lost", "respondents")  # keys of observed counts in check and survey rows
REVEALED_BY = {"lost": ("attrition",), "assigned": ("attrition",)}  # what a withheld count takes with it
PATH_COUNTS = ("treated",)  # a count outcome's observed series in a path row
PATH_REVEALED = ("gap", "ci_lower", "ci_upper")


def threshold(result: EvaluationResult) -> int | None:
    """The design's ``report.suppress_below`` (the default when the design predates the setting)."""
    spec = result.design.get("report") or {}
    return spec.get("suppress_below", DEFAULT_SUPPRESS_BELOW) if isinstance(spec, dict) else DEFAULT_SUPPRESS_BELOW


def _small(x: Any, limit: int) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool | Suppressed) and 0 <= x < limit


def protect_rows(rows: Any, limit: int, counts: tuple[str, ...] = TABLE_COUNTS,
                 revealed: dict[str, tuple[str, ...]] | None = None) -> tuple[dict[str, Any], ...]:
    """Rows with every small count in ``counts`` (and the keys each reveals) withheld."""
    revealed = REVEALED_BY if revealed is None else revealed
    out = []
    for row in rows:
        hit = [k for k in counts if _small(row.get(k), limit)]
        if not hit:
            out.append(row)
            continue
        new = dict(row)
        for k in hit:
            for key in (k, *revealed.get(k, ())):
                if key in new:
                    new[key] = Suppressed(limit)
        out.append(new)
    return tuple(out)


def _swap(payloads: tuple[Any, ...], new: Any) -> tuple[Any, ...]:
    """``payloads`` with the one of ``new``'s class replaced by ``new``."""
    return tuple(new if isinstance(p, type(new)) else p for p in payloads)


def _effect(e: Effect, limit: int) -> tuple[Effect, set[Any]]:
    """``e`` protected, and the path times whose treated count was withheld."""
    withheld: set[Any] = set()
    path = e.path
    if e.measure == "count" and any(_small(r.get("treated"), limit) for r in path):
        path = protect_rows(path, limit, PATH_COUNTS, {"treated": PATH_REVEALED})
        withheld = {r.get("time") for r in path if isinstance(r.get("treated"), Suppressed)}
    payloads = e.payloads
    fitted = e.payload(SynthFit)
    if e.measure == "count" and fitted is not None and fitted.predictors:  # lags of the outcome are counts too
        plain = [dataclasses.asdict(p) for p in fitted.predictors]
        rows = protect_rows(plain, limit, PATH_COUNTS, {})
        if any(r is not o for r, o in zip(rows, plain, strict=True)):
            fitted = dataclasses.replace(fitted, predictors=tuple(SynthPredictor(**r) for r in rows))
            payloads = _swap(payloads, fitted)
    info = e.payload(OutcomeInfo)
    if info is not None and info.survey is not None and info.survey.by_wave:  # respondents per wave and group
        plain = [dataclasses.asdict(r) for r in info.survey.by_wave]
        rows = protect_rows(plain, limit)
        if any(r is not o for r, o in zip(rows, plain, strict=True)):
            survey = dataclasses.replace(info.survey, by_wave=tuple(SurveyWave(**r) for r in rows))
            info = dataclasses.replace(info, survey=survey)
            payloads = _swap(payloads, info)
    if path is e.path and payloads is e.payloads:
        return e, withheld
    return dataclasses.replace(e, path=path, payloads=payloads), withheld


def _check(c: CheckResult, limit: int, withheld: dict[str, set[Any]]) -> CheckResult:
    table = protect_rows(c.table, limit)
    values = c.values
    times = withheld.get(c.outcome or "")
    if times and values.get("treated_gap") is not None and values.get("times") is not None:
        gap = [Suppressed(limit) if t in times else g for t, g in zip(values["times"], values["treated_gap"],
                                                                        strict=True)]
        values = {**values, "treated_gap": gap}
    if table == c.table and values is c.values:
        return c
    return dataclasses.replace(c, table=table, values=values)


def protect(result: EvaluationResult, limit: int | None = None) -> EvaluationResult:
    """``result`` with every observed count below ``limit`` (default: the design's threshold) withheld."""
    limit = threshold(result) if limit is None else limit
    if not limit or result.extras.get("disclosure", {}).get("applied"):
        return result
    pairs = [_effect(e, limit) for e in result.effects]
    withheld = {e.outcome: times for (e, times) in pairs if times}
    return dataclasses.replace(
        result, effects=tuple(e for e, _ in pairs), checks=tuple(_check(c, limit, withheld) for c in result.checks),
        extras={**result.extras, "disclosure": {"applied": True, "suppress_below": limit}})


def for_results_json(result: EvaluationResult) -> EvaluationResult:
    """The result results.json should hold: full or protected, as ``report.results_json`` says, and saying so."""
    spec = result.design.get("report") or {}
    limit = threshold(result)
    keep = spec.get("results_json", "full") if isinstance(spec, dict) else "full"
    note = {"suppress_below": limit, "results_json": keep,
            "reports": "counts below suppress_below withheld" if limit else "no disclosure control",
            "counts": "withheld (null) as in the reports" if keep == "suppressed" and limit
            else "every count as observed: do not publish this file if the reports needed suppression"}
    base = protect(result, limit) if keep == "suppressed" and limit else result
    return dataclasses.replace(base, extras={**base.extras, "disclosure": {**note, "applied": base is not result}})
