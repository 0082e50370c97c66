"""What works for whom: the design's effect within each level of a declared moderator, a test that the
subgroup effects differ, and a flag on any subgroup for whom the programme appears harmful.

Subgroups split the units (areas in a panel, people in a trial), so their estimates are independent and the
test of difference is the Wald test of equal effects, sum_k w_k (b_k - b_w)^2 with w_k = 1 / SE_k^2 and b_w
the precision-weighted mean, chi-square with K - 1 degrees of freedom (for two levels, z = (b1 - b2) /
sqrt(SE1^2 + SE2^2) squared). Looking at many subgroups makes some look harmful by chance; every finding says
how many subgroup estimates were examined.
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


def assess(design: DesignBase, frame: pd.DataFrame, spec: SubgroupSpec, levels: dict[str, list[Any]], tag: str
           ) -> list[Finding]:
    names = spec.outcomes or [o.name for o in design.outcomes]
    outcomes = {o.name: o for o in design.outcomes}
    n_tests = sum(len(v) for v in levels.values()) * len(names)
    caveat = (f"{n_tests} subgroup estimates were examined; at the {design.inference.level:.0%} level about "
              f"{(1 - design.inference.level) * n_tests:.1f} would look significant by chance alone if the programme "
              "had the same effect for everyone, so a single harmful-looking subgroup is a lead to follow up, "
              "not proof.")
    findings = []
    for name in names:
        variant = refit.variant(design, outcomes=refit.outcome_dicts(design, [name]))
        adverse_if = "increase" if outcomes[name].better_if == "decrease" else "decrease"
        for m, lv in levels.items():
            rows, effects, skipped = [], [], []
            for level in lv:
                try:
                    e = refit.fit(variant, frame.loc[frame[m] == level], name, f"{tag}:{m}={level}")
                except CpevalError as exc:  # e.g. no treated (or no comparison) unit in this subgroup
                    skipped.append({"subgroup": level, "not_estimable": str(exc).splitlines()[-1].strip(" -")})
                    continue
                effects.append(e)
                status, _ = refit.adverse_status(e, adverse_if)
                rows.append({**refit.describe(e), "subgroup": level, "harmful": status == "fail"})
            est = np.array([e.estimate for e in effects])
            ses = np.array([e.std_error for e in effects])
            estimable = len(effects) >= 2 and bool(np.all(np.isfinite(ses)) and np.all(ses > 0))
            test = difference_test(est, ses) if estimable else None
            harmed = [r["subgroup"] for r in rows if r["harmful"]]
            label = outcomes[name].label or name
            if harmed:
                parts = "; ".join(f"{m} = {r['subgroup']}: {refit.change_words(e)}"
                                  for r, e in zip(rows, effects, strict=True) if r["harmful"])
                sentence = f"The programme appears harmful for some: {label} worsened where {parts}."
            else:
                sentence = f"No subgroup by {m} shows a clear harm on {label}."
            if test is not None:
                differ = "differ" if test["p_value"] < 1 - design.inference.level else "do not clearly differ"
                sentence += f" The subgroup effects {differ} (test of difference p = {test['p_value']:.3g})."
            if skipped:
                sentence += (" Not estimable: " + "; ".join(f"{m} = {x['subgroup']} ({x['not_estimable']})"
                                                            for x in skipped) + ".")
            findings.append(Finding(topic="subgroups", name=f"{name} by {m}", status="fail" if harmed else "pass",
                                    sentence=sentence, outcome=name,
                                    evidence={"moderator": m, "subgroups": rows, "not_estimable": skipped,
                                              "difference_test": test, "caveat": caveat}))
    return findings
