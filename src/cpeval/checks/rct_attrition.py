"""Attrition in a randomised trial: overall and differential loss to follow-up, by arm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.payloads import LeeBounds
from cpeval.results import CheckResult

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect


def check_attrition(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.inference import wald_interval
    from cpeval.estimation.rct.estimators import trial_frame
    from cpeval.estimation.rct.robust import ols_with_blocks

    design = panel.design
    spec = design.checks.options("attrition")
    tf = trial_frame(panel, design)  # type: ignore[arg-type]
    t = tf.z.astype(bool)
    lost = (~tf.observed).astype(float)
    overall = float(lost.mean())
    rate1, rate0 = float(lost[t].mean()), float(lost[~t].mean())
    differential = rate1 - rate0
    fit = ols_with_blocks(tf.z[:, None], lost, tf.block, tf.cluster)
    se = float(np.sqrt(fit.vcov[0, 0]))
    test = wald_interval(float(fit.beta[0]), se, design.inference.level, fit.df) if se > 0 else None
    values = {
        "overall": overall, "treated": rate1, "control": rate0, "differential": differential,
        "differential_p_value": test.p_value if test else None,
        "max_differential": spec.max_differential, "max_overall": spec.max_overall,
    }
    lee = {e.outcome: b.to_dict() for e in effects if (b := e.payload(LeeBounds)) is not None}
    if lee:
        values["lee_bounds"] = lee
    table = (
        {"arm": "treated", "assigned": int(t.sum()), "lost": int(lost[t].sum()), "attrition": rate1},
        {"arm": "control", "assigned": int((~t).sum()), "lost": int(lost[~t].sum()), "attrition": rate0},
        {"arm": "overall", "assigned": len(lost), "lost": int(lost.sum()), "attrition": overall},
    )
    msg = (f"overall attrition {overall:.1%}, treated {rate1:.1%} vs control {rate0:.1%} "
           f"(differential {differential:+.1%}" + (f", p = {test.p_value:.3g})" if test else ")"))
    problems = []
    if abs(differential) > spec.max_differential:
        problems.append(f"differential attrition {abs(differential):.1%} exceeds checks.attrition.max_differential "
                        f"{spec.max_differential:.1%}")
    if overall > spec.max_overall:
        problems.append(f"overall attrition {overall:.1%} exceeds checks.attrition.max_overall "
                        f"{spec.max_overall:.1%}")
    if problems:
        import warnings

        from cpeval.errors import CpevalWarning

        text = "; ".join(problems) + "; the estimates may be biased: read the Lee (2009) bounds"
        warnings.warn(text, CpevalWarning, stacklevel=2)
        return [CheckResult("attrition", "warn", f"{msg}: {text}", table=table, values=values)]
    return [CheckResult("attrition", "pass", msg + "; within the design's thresholds", table=table, values=values)]
