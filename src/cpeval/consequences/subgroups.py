"""What works for whom: the design's effect within each level of a declared moderator, a test that the
subgroup effects differ, and a flag on any subgroup for whom the programme appears harmful.

Subgroups split the units (areas in a panel, people in a trial), so their estimates are independent and the
test of difference is the Wald test of equal effects, sum_k w_k (b_k - b_w)^2 with w_k = 1 / SE_k^2 and b_w
the precision-weighted mean, chi-square with K - 1 degrees of freedom (for two levels, z = (b1 - b2) /
sqrt(SE1^2 + SE2^2) squared). Looking at many subgroups makes some look harmful by chance: a subgroup is flagged
as harmed only when its p-value survives Holm's step-down adjustment over every subgroup estimate examined (all
moderators' levels for all outcomes), so with no effect anywhere the chance of any flag is at most
1 - inference.level; each p-value comes from inference that does not rest on the cluster-robust standard error
(see :func:`cpeval.consequences.refit.fit` with ``lead``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.consequences import refit
from cpeval.consequences.result import Finding
from cpeval.errors import CpevalError, DataError, Problem, ProblemCode

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import SubgroupSpec
    from cpeval.results import Effect


def moderator_levels(frame: pd.DataFrame, design: DesignBase, spec: SubgroupSpec, source: str = "<data>"
                     ) -> dict[str, list[Any]]:
    """The levels of each moderator; one level, missing values or (in panels) a moderator that varies within
    a unit are data problems."""
    problems = []
    out = {}
    panel = design.data.time is not None and design.kind != "rct"  # type: ignore[attr-defined]
    for i, m in enumerate(spec.moderators):
        key = f"consequences.subgroups.moderators[{i}]"
        col = frame[m]
        if bool(col.isna().any()):
            problems.append(Problem(ProblemCode.MISSING_VALUES, m, f"{int(col.isna().sum())} rows have no {key} "
                                    "value; fill them or drop those rows"))
            continue
        if panel and bool((frame.groupby(design.data.unit)[m].nunique() > 1).any()):
            problems.append(Problem(ProblemCode.NOT_CONSTANT_IN_UNIT, m, f"{key} varies within some units; a panel "
                                    "moderator must be constant within each unit (use its value before the programme)"))
            continue
        levels = sorted(col.unique().tolist(), key=str)
        if len(levels) < 2:
            problems.append(Problem(ProblemCode.SINGLE_LEVEL, m, f"{key} has a single level ({levels[0]!r}), so there "
                                    "are no subgroups to compare; choose a moderator that varies, or remove it"))
            continue
        out[m] = levels
    if problems:
        raise DataError(source, problems)
    return out


def difference_test(estimates: np.ndarray, ses: np.ndarray) -> dict[str, float]:
    """Wald test that independent subgroup estimates are equal."""
    from scipy import stats

    w = 1.0 / ses**2
    mean = float((w * estimates).sum() / w.sum())
    chi2 = float((w * (estimates - mean) ** 2).sum())
    df = len(estimates) - 1
    return {"chi2": chi2, "df": df, "p_value": float(stats.chi2.sf(chi2, df)), "pooled": mean}


def _fits(design: DesignBase, frame: pd.DataFrame, name: str, m: str, lv: list[Any], tag: str
          ) -> tuple[list[Effect], list[Any], list[dict[str, str]]]:
    """(effects, their levels, the levels not estimable with the reason) of one outcome by one moderator."""
    variant = refit.variant(design, outcomes=refit.outcome_dicts(design, [name]))
    effects, fitted, skipped = [], [], []
    for level in lv:
        try:
            effects.append(refit.fit(variant, frame.loc[frame[m] == level], name, f"{tag}:{m}={level}", lead=True))
            fitted.append(level)
        except CpevalError as exc:  # e.g. no treated (or no comparison) unit in this subgroup
            skipped.append({"subgroup": level, "not_estimable": str(exc).splitlines()[-1].strip(" -")})
    return effects, fitted, skipped


def _adverse_way(effect: Effect, adverse_if: str) -> bool:
    return (effect.estimate > 0) if adverse_if == "increase" else (effect.estimate < 0)


def family_rule(design: DesignBase, n_tests: int, effects: list[Effect]) -> str:
    """The flag's rule and its error rate, in words, naming the inference the p-values came from."""
    alpha = 1 - design.inference.level
    used = sorted({e.inference.method.replace("_", " ") for e in effects if e.inference is not None})
    if used:
        how = (f"each subgroup's p-value comes from the {' and '.join(used)}, which does not rest on the "
               "cluster-robust standard error")
    elif design.inference.requests("analytic"):
        how = ("each subgroup's p-value comes from the analytic (cluster-robust) test, which can reject too often "
               "when a subgroup holds few treated areas; inference.method: auto would use the bootstrap")
    else:
        how = "each subgroup's p-value is the design's analytic one (no bootstrap or randomisation applies here)"
    return (f"{n_tests} subgroup estimates were examined. A subgroup is flagged as harmed only when its estimate "
            f"moves the adverse way and its p-value stays below {alpha:.2g} after Holm's step-down adjustment for "
            f"all {n_tests}: if the programme had no effect in any subgroup, the chance that any subgroup is "
            f"flagged is at most {alpha:.0%}; {how}. Without the adjustment about {alpha * n_tests:.1f} of "
            f"{n_tests} would look significant by chance alone, so a subgroup that looks harmful before the "
            "adjustment but not after (WARN) is a lead to follow up, not proof.")


def assess(design: DesignBase, frame: pd.DataFrame, spec: SubgroupSpec, levels: dict[str, list[Any]], tag: str
           ) -> list[Finding]:
    from cpeval.estimation.rct.multiple import holm

    names = spec.outcomes or [o.name for o in design.outcomes]
    outcomes = {o.name: o for o in design.outcomes}
    alpha = 1 - design.inference.level
    cells = [(name, m, *_fits(design, frame, name, m, lv, tag)) for name in names for m, lv in levels.items()]
    n_tests = sum(len(lv) for lv in levels.values()) * len(names)
    raw = np.array([refit.flag_p_value(e) for *_, effects, _, _ in cells for e in effects])
    adjusted = iter(holm(np.concatenate([raw, np.ones(n_tests - len(raw))]))[:len(raw)])  # not estimable: p = 1
    caveat = family_rule(design, n_tests, [e for *_, effects, _, _ in cells for e in effects])
    findings = []
    for name, m, effects, fitted, skipped in cells:
        adverse_if = "increase" if outcomes[name].better_if == "decrease" else "decrease"
        rows = []
        for e, level in zip(effects, fitted, strict=True):
            p, p_adj = refit.flag_p_value(e), float(next(adjusted))
            adverse = _adverse_way(e, adverse_if)
            rows.append({**refit.describe(e), "subgroup": level, "flag_p_value": p, "holm_p_value": p_adj,
                         "harmful": bool(adverse and p_adj < alpha),
                         "harmful_unadjusted": bool(adverse and p < alpha)})
        est = np.array([e.estimate for e in effects])
        ses = np.array([e.std_error for e in effects])
        estimable = len(effects) >= 2 and bool(np.all(np.isfinite(ses)) and np.all(ses > 0))
        test = difference_test(est, ses) if estimable else None
        label = outcomes[name].label or name
        harmed = [(r, e) for r, e in zip(rows, effects, strict=True) if r["harmful"]]
        leads = [(r, e) for r, e in zip(rows, effects, strict=True) if r["harmful_unadjusted"] and not r["harmful"]]
        status = "fail" if harmed else "warn" if leads or not effects else "pass"
        if harmed:
            parts = "; ".join(f"{m} = {r['subgroup']}: {refit.change_words(e)}" for r, e in harmed)
            sentence = (f"The programme appears harmful for some: {label} worsened where {parts} (allowing for the "
                        f"{n_tests} subgroups examined).")
        elif leads:
            parts = "; ".join(f"{m} = {r['subgroup']}" for r, _ in leads)
            sentence = (f"{label} looks worse where {parts}, but not once the {n_tests} subgroups examined are "
                        "allowed for: a lead to follow up, not a finding.")
        elif not effects:
            sentence = f"No subgroup by {m} could be estimated for {label}, so none was assessed for harm."
        else:
            sentence = f"No subgroup by {m} shows a clear harm on {label}."
        if test is not None:
            differ = "differ" if test["p_value"] < alpha else "do not clearly differ"
            sentence += f" The subgroup effects {differ} (test of difference p = {test['p_value']:.3g})."
        if skipped:
            sentence += (" Not estimable: " + "; ".join(f"{m} = {x['subgroup']} ({x['not_estimable']})"
                                                        for x in skipped) + ".")
        findings.append(Finding(topic="subgroups", name=f"{name} by {m}", status=status, sentence=sentence,
                                outcome=name,
                                evidence={"moderator": m, "subgroups": rows, "not_estimable": skipped,
                                          "difference_test": test, "caveat": caveat, "adjustment": "holm",
                                          "family_size": n_tests}))
    return findings
