"""``annotate_effect``: add outcome-specific figures to an Effect after it is estimated.

Everything goes into the Effect's :class:`~cpeval.payloads.OutcomeInfo` payload (``diagnostics["outcome"]`` in
results.json):

- ``definition``: how the outcome was built (rate base, who took the log and its zero rule, weight table and its
  unit, fear scale...);
- ``baseline``: the mean before treatment among treated units (DiD, synthetic control) or in the control
  arm (RCT), and the effect as a percentage of it, with its interval;
- ``harm_contributions`` (seriousness): the same estimator fitted to each offence's weighted counts. For a
  linear estimator on the same rows the contributions add up exactly to the effect on the index;
- ``survey`` (fear, survey victimisation): weighted means by arm and wave with design-based SEs clustered
  by area, respondents per wave, Cronbach's alpha of an index, repeat victimisation.

A column declared to hold natural logs already (``take_log: false``) whose values look like counts
(:func:`~cpeval.outcomes.transforms.counts_declared_as_log`) adds a :class:`CpevalWarning` to the Effect: its
effect would be a change in counts read as log points.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.panel import COHORT, TREATED
from cpeval.errors import CpevalError, CpevalWarning
from cpeval.outcomes.survey import ratio_from_totals
from cpeval.outcomes.transforms import ZERO_RULES, counts_declared_as_log
from cpeval.payloads import OutcomeInfo
from cpeval.results import jsonable

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


def annotate_effect(effect: Effect, panel: Panel, outcome: OutcomeSpec, estimator: Any = None) -> Effect:
    """Return ``effect`` with its :class:`~cpeval.payloads.OutcomeInfo` (a new Effect; the input is unchanged)."""
    info: dict[str, Any] = {"definition": describe(outcome, panel)}
    found = panel.derived.get(outcome.name, {})  # filled by load_panel (see Panel.derived)
    if "zero_rows" in found:
        info["definition"]["zero_rows"] = found["zero_rows"]
    frame = panel.outcome_rows(outcome.column)
    base_rows = _baseline_rows(frame, panel)
    if base_rows is not None:
        base = _mean(frame.loc[base_rows, outcome.column])
        index = outcome.fear is not None and outcome.fear.items is not None  # SD units: no % of a mean near 0
        pct = {} if index else _percent(effect, base)
        info["baseline"] = {"rows": _baseline_label(panel), "mean": base, **pct}
    if outcome.seriousness is not None and outcome.measure != "log":
        info["harm_contributions"] = _harm_contributions(
            effect, panel, outcome, estimator, frame, base_rows, info["definition"]
        )
    if outcome.from_respondents:
        info["survey"] = _survey_summary(panel, outcome)
    found_warnings = _log_column_warnings(outcome, frame, info)
    payloads = (*(p for p in effect.payloads if not isinstance(p, OutcomeInfo)), OutcomeInfo.from_dict(jsonable(info)))
    return dataclasses.replace(effect, payloads=payloads, warnings=(*effect.warnings, *found_warnings))


def _log_column_warnings(o: OutcomeSpec, frame: pd.DataFrame, info: dict[str, Any]) -> tuple[str, ...]:
    """A warning (issued and returned) when a column declared to be a natural log looks like counts."""
    if o.take_log is not False:
        return ()
    reason = counts_declared_as_log(frame[o.column].to_numpy())
    if reason is None:
        return ()
    pct = info.get("baseline", {}).get("percent_of_baseline")
    headline = f" the reported change of {pct:+.1f}% is then" if pct is not None else " the effect is then"
    msg = (
        f"column {o.source_column!r} is declared a natural log (take_log: false), but {reason};{headline} a "
        "change in its values read as log points. If it holds counts or rates, set take_log: true with a rule "
        "for zeros (zeros: add_one | drop | error), or model the counts (measure: count, estimator.method: "
        "poisson)"
    )
    warnings.warn(msg, CpevalWarning, stacklevel=3)
    return (msg,)


def describe(o: OutcomeSpec, panel: Panel | None = None) -> dict[str, Any]:
    d: dict[str, Any] = {"family": o.family, "measure": o.measure, "derived": o.derived}
    if o.take_log is not None:
        d["take_log"] = o.take_log
    if o.source_column is not None:
        d["column"] = o.source_column
    if o.per is not None:
        d["per"] = o.per
        pop = panel.design.data.population if panel is not None else None
        d["rate"] = f"per {o.per:,} residents ({pop})" if not o.from_respondents else f"per {o.per:,} respondents"
    if o.zeros is not None:
        d["zero_rule"] = o.zeros
        d["zero_rule_text"] = ZERO_RULES[o.zeros]
    if o.total_of is not None:
        d["total_of"] = list(o.total_of)
    if o.seriousness is not None:
        from cpeval.outcomes.harm import load_weight_table

        table = load_weight_table(o.seriousness.weights, panel.design.origin if panel is not None else None)
        d["weights"] = table.provenance()
        d["unit"] = table.unit + (f" per {o.per:,} residents" if o.per else "")
        d["offences"] = [
            {"offence": off, "column": col, "weight": table.weights[off], "label": table.labels.get(off, off)}
            for off, col in o.seriousness.columns.items()
        ]
    if o.fear is not None:
        f = o.fear
        d["fear"] = {"items": f.columns, "scale": list(f.scale), "fearful": f.fearful, "missing": list(f.missing)}
        d["fear"]["kind"] = (
            "weighted share answering " + " or ".join(map(repr, f.fearful)) if f.fearful
            else "weighted mean scale position (1 = least fearful)" if f.item
            else "standardised index: mean of item z-scores (SD units of the first wave)"
        )
    if o.victimisation is not None:
        d["victimisation"] = o.victimisation.model_dump()
    if o.survey is not None and o.survey.source is not None and panel is not None:
        read = panel.derived.get(o.name, {})  # what derive read from the source: query, rows, their fingerprint
        d.update({k: read[k] for k in ("survey_source", "survey_query", "survey_rows_read") if k in read})
        if "survey_rows_sha256" in read:
            d["survey_sha256"] = read["survey_rows_sha256"]
    elif o.survey is not None and panel is not None:
        from cpeval.outcomes.derive import survey_sha256

        d["survey_source"] = o.survey.dataset or o.survey.path
        d["survey_sha256"] = survey_sha256(o.survey.dataset, o.survey.path, panel.design.origin)
    if o.from_respondents:
        d["aggregation"] = (
            "respondent rows aggregated to one weighted mean per area and wave (survey weights); each area-wave "
            "is one observation of the DiD, so the effect averages over areas, not respondents"
            if o.survey is not None else "one row per respondent; survey weights as data.weights"
        )
    return d


def _baseline_rows(frame: pd.DataFrame, panel: Panel) -> np.ndarray | None:
    if COHORT in frame.columns and panel.time is not None:
        cohort = frame[COHORT]
        rows = cohort.notna() & (frame[panel.time] < cohort)
        return rows.to_numpy() if bool(rows.any()) else None
    if TREATED in frame.columns:
        rows = frame[TREATED] == 0
        return rows.to_numpy() if bool(rows.any()) else None
    return None


def _baseline_label(panel: Panel) -> str:
    kind = getattr(panel.design, "kind", "")
    return "control arm" if kind == "rct" else "treated units before treatment"


def _mean(s: pd.Series) -> float:
    s = s.dropna()
    return float(s.mean()) if len(s) else float("nan")


def _ratio_scale(effect: Effect) -> bool:
    """Whether the estimate is a log ratio (log outcome, Poisson) rather than a change in the outcome's units."""
    return effect.scale == "log"


def _percent(effect: Effect, base: float) -> dict[str, Any]:
    if _ratio_scale(effect):  # a log ratio: the proportional change, whatever the baseline
        return {
            "percent_of_baseline": 100 * math.expm1(effect.estimate),
            "percent_ci": [100 * math.expm1(effect.ci_lower), 100 * math.expm1(effect.ci_upper)],
        }
    if not (math.isfinite(base) and base != 0):
        return {}
    return {
        "percent_of_baseline": 100 * effect.estimate / base,
        "percent_ci": [100 * effect.ci_lower / base, 100 * effect.ci_upper / base],
    }


def _harm_contributions(
    effect: Effect,
    panel: Panel,
    o: OutcomeSpec,
    estimator: Any,
    frame: pd.DataFrame,
    base_rows: np.ndarray | None,
    desc: dict[str, Any],
) -> dict[str, Any]:
    """Per-offence baseline harm and (one fit per offence) change; ``desc`` is ``describe(o, panel)``."""
    from cpeval.designs.outcomes import OutcomeSpec as Spec

    assert o.seriousness is not None
    rows: list[dict[str, Any]] = []
    total_base = _mean(frame.loc[base_rows, o.column]) if base_rows is not None else float("nan")
    ratio = _ratio_scale(effect)
    for item in desc["offences"]:
        off = item["offence"]
        col = f"{o.column}__harm__{off}"
        row: dict[str, Any] = {**item, "baseline_harm": None, "estimate": None}
        if base_rows is not None:
            b = _mean(frame.loc[base_rows, col])
            row["baseline_harm"] = b
            row["share_of_baseline_harm"] = b / total_base if total_base else None
        if estimator is not None and o.seriousness.contributions:
            # same name (estimators may key per-outcome settings on it), the component's column
            proxy = Spec(name=o.name, column=col, family=o.family, measure="level", better_if=o.better_if)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", CpevalWarning)
                    part = estimator.fit(panel, proxy)
            except (CpevalError, ValueError, ArithmeticError, LookupError) as exc:
                row["error"] = str(exc)
            else:
                row.update(estimate=part.estimate, std_error=part.std_error, ci_lower=part.ci_lower,
                           ci_upper=part.ci_upper, p_value=part.p_value)
                if ratio and row["baseline_harm"] is not None:  # log ratio -> harm units at the baseline
                    bh = row["baseline_harm"]
                    row["harm_change"] = bh * math.expm1(part.estimate)
                    row["harm_change_ci"] = [bh * math.expm1(part.ci_lower), bh * math.expm1(part.ci_upper)]
                elif not ratio:
                    row["share_of_change"] = part.estimate / effect.estimate if effect.estimate else None
        rows.append(row)
    if ratio:
        changes = [r.get("harm_change") for r in rows]
        total_change = sum(changes) if all(c is not None for c in changes) else None
        for r in rows:
            if total_change:
                r["share_of_change"] = r["harm_change"] / total_change
        return {
            "unit": desc["unit"], "offences": rows, "scale": "log ratio",
            "sum_of_contributions": total_change,
            "total_effect": total_base * math.expm1(effect.estimate) if math.isfinite(total_base) else None,
            "additive": False,
            "note": "the estimator reports log ratios; each offence's change is converted to harm units as "
            "baseline harm x (exp(b) - 1), so contributions add up only approximately",
        }
    estimates = [r["estimate"] for r in rows if r.get("estimate") is not None]
    summed = float(sum(estimates)) if len(estimates) == len(rows) else None
    return {
        "unit": desc["unit"],
        "offences": rows,
        "scale": "level",
        "sum_of_contributions": summed,
        "total_effect": effect.estimate,
        "additive": summed is not None and math.isclose(summed, effect.estimate, rel_tol=1e-6, abs_tol=1e-9),
    }


def _survey_summary(panel: Panel, o: OutcomeSpec) -> dict[str, Any]:
    frame = panel.frame
    col = o.column
    wy, ws, n = f"{col}__wy", f"{col}__wsum", f"{col}__n"
    out: dict[str, Any] = {}
    if all(c in frame.columns for c in (wy, ws, n)):
        rows = frame.loc[frame[ws] > 0]
        cluster = _cluster_column(panel)
        arm = _arm(rows, panel)
        table = []
        keys = rows[panel.time].to_numpy() if panel.time is not None else np.full(len(rows), "all", dtype=object)
        for wave in np.unique(keys):
            for a in (1, 0):
                m = (keys == wave) & (arm == a)
                if not m.any():
                    continue
                totals = rows.loc[m].groupby(cluster, sort=False)[[wy, ws]].sum()  # one row per cluster
                wm = ratio_from_totals(totals[wy].to_numpy(), totals[ws].to_numpy())
                table.append({
                    "wave": wave.item() if hasattr(wave, "item") else wave,
                    "group": "treated" if a == 1 else "comparison",
                    "estimate": wm.estimate, "std_error": wm.std_error,
                    "clusters": wm.n_clusters, "respondents": int(rows.loc[m, n].sum()),
                })
        out["by_wave"] = table
        out["respondents"] = int(frame[n].sum())
        out["cluster"] = cluster
        out["note"] = (f"weighted means with linearisation SEs clustered by {cluster!r} (the sampling clusters); "
                       "group = ever-treated units vs the rest")
    found = panel.derived.get(o.name, {})
    out.update({k: found[k] for k in ("cronbach_alpha", "alpha_complete_cases", "index_reference", "victimisation")
                if k in found})
    return out


def _cluster_column(panel: Panel) -> str:
    """The design's cluster (estimator.cluster, treatment.cluster) if declared, else the unit (area)."""
    design = panel.design
    for owner in (getattr(design, "estimator", None), getattr(design, "treatment", None)):
        col = getattr(owner, "cluster", None)
        if isinstance(col, str) and col in panel.frame.columns:
            return col
    return panel.unit


def _arm(rows: pd.DataFrame, panel: Panel) -> np.ndarray:
    if COHORT in rows.columns:
        return rows[COHORT].notna().to_numpy().astype(int)
    return rows[TREATED].to_numpy().astype(int)
