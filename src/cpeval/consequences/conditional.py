"""Conditional effects of a trial with individual data by double machine learning (econml LinearDML or
CausalForestDML), summarised by subgroup of each moderator, harmful subgroups flagged.

The estimand is the effect of assignment (the ITT) conditional on the moderators (one-hot coded as effect
modifiers); the design's covariates are controls. Cross-fitting keeps a cluster-randomised trial's clusters
together, but econml's intervals treat people as independent, which the finding says for such trials.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from cpeval.consequences.result import Finding

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import SubgroupSpec

MODEL_TITLES = {"linear_dml": "LinearDML", "causal_forest_dml": "CausalForestDML"}


def assess(design: DesignBase, frame: pd.DataFrame, spec: SubgroupSpec) -> list[Finding]:
    from cpeval.estimation._adapters.econml import conditional_effects

    cond = spec.conditional
    assert cond is not None
    treatment = design.treatment  # type: ignore[attr-defined]
    covariates = list(getattr(design.estimator, "covariates", []) or [])  # type: ignore[attr-defined]
    attrition = getattr(design, "attrition", None)
    names = spec.outcomes or [o.name for o in design.outcomes]
    outcomes = {o.name: o for o in design.outcomes}
    findings = []
    for name in names:
        o = outcomes[name]
        rows = frame[o.column].notna()
        if attrition is not None:
            rows &= frame[attrition.observed] == 1
        sub = frame.loc[rows]
        x = pd.get_dummies(sub[spec.moderators].astype(str), drop_first=True).to_numpy(dtype=float)
        w = sub[covariates].to_numpy(dtype=float) if covariates else None
        groups = sub[treatment.cluster].to_numpy() if treatment.cluster else None
        masks = {f"{m} = {lv}": (sub[m].astype(str) == str(lv)).to_numpy()
                 for m in spec.moderators for lv in sorted(sub[m].astype(str).unique())}
        fx = conditional_effects(sub[o.column].to_numpy(dtype=float), sub[treatment.assignment].to_numpy(dtype=int),
                                 x, w, groups, masks, model=cond.model, outcome_model=cond.outcome_model,
                                 treatment_model=cond.treatment_model, folds=cond.folds, seed=design.inference.seed,
                                 level=design.inference.level)
        adverse_up = o.better_if == "decrease"
        table = []
        for key, e in fx.items():
            harmful = e.conf_int[0] > 0 if adverse_up else e.conf_int[1] < 0
            table.append({"subgroup": key, "estimate": e.estimate, "std_error": e.std_error,
                          "conf_int": list(e.conf_int), "n": e.n, "harmful": bool(harmful)})
        harmed = [r for r in table if r["harmful"]]
        label = o.label or name
        level = design.inference.level
        if harmed:
            parts = "; ".join(f"{r['subgroup']}: {r['estimate']:+.3g} ({level:.0%} interval {r['conf_int'][0]:+.3g} "
                              f"to {r['conf_int'][1]:+.3g})" for r in harmed)
            sentence = f"Conditional effects suggest the programme harms some: {label} worsened for {parts}."
        else:
            sentence = f"Conditional effects show no subgroup clearly harmed on {label}."
        caveat = (f"{len(table)} subgroup averages were examined; about {(1 - level) * len(table):.1f} would look "
                  "significant by chance alone with no differences in effect.")
        if treatment.cluster:
            caveat += " Intervals treat people as independent although whole clusters were randomised."
        findings.append(Finding(topic="subgroups", name=f"{name}: conditional effects ({MODEL_TITLES[cond.model]})",
                                status="fail" if harmed else "pass", sentence=sentence, outcome=name,
                                evidence={"model": cond.model, "outcome_model": cond.outcome_model,
                                          "treatment_model": cond.treatment_model, "folds": cond.folds,
                                          "seed": design.inference.seed, "subgroups": table, "caveat": caveat,
                                          "n": len(sub), "effect_modifiers": spec.moderators,
                                          "controls": covariates}))
    return findings

