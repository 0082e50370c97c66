"""Placebo in time: pretend treatment started earlier (``checks.placebo_time.start``) and refit on the data
before the real start. A credible synthetic control shows no gap between the fake and the real start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.checks.synth_common import outcomes_with_effects
from cpeval.estimation.synth.core import rmspe
from cpeval.results import CheckResult, jsonable

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect

WARN_RATIO = 2.0


def placebo_time(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.synth.placebo import refit_gap
    from cpeval.estimation.synth.prep import shifted

    design = panel.design
    out = []
    for outcome, effect, data in outcomes_with_effects(panel, effects):
        fake = design.checks.options("placebo_time").start
        if fake is None:
            fake = data.times[max(1, data.n_pre - max(1, data.n_pre // 4))]
        fake_data = shifted(data, panel, design, fake)  # type: ignore[arg-type]
        k = fake_data.n_pre
        if k < 2 or k >= data.n_pre:
            out.append(CheckResult(
                name="placebo_time", status="error", outcome=outcome.name,
                message=f"placebo start {jsonable(fake)!r} must leave at least 2 periods before it and come before "
                "treatment.start; set checks: {placebo_time: {start: <period>}}",
            ))
            continue
        gap = refit_gap(design, fake_data, data.treated, data.donors)  # type: ignore[arg-type]
        pre, fake_post = rmspe(gap, 0, k), rmspe(gap, k, data.n_pre)
        mean_fake = float(np.mean(gap[k:data.n_pre]))
        ratio = fake_post / pre if pre > 0 else float("inf")
        status = "warn" if ratio > WARN_RATIO else "pass"
        msg = (f"with a fake start in {jsonable(fake)}, the gap before the real start averages {mean_fake:.4g} "
               f"(RMSPE {fake_post:.4g}, {ratio:.2f} times the RMSPE before the fake start; the estimated effect "
               f"is {effect.estimate:.4g})")
        if status == "warn":
            msg += "; the synthetic control drifts away before the programme began, which undermines the estimate"
        rows = [{"time": jsonable(t), "gap": float(g), "period": "pre" if i < k else ("placebo" if i < data.n_pre
                 else "post")} for i, (t, g) in enumerate(zip(data.times, gap, strict=True))]
        out.append(CheckResult(
            name="placebo_time", status=status, message=msg, outcome=outcome.name, table=tuple(rows),
            values=jsonable({"placebo_start": fake, "pre_rmspe": pre, "placebo_rmspe": fake_post,
                             "ratio": ratio, "placebo_mean_gap": mean_fake, "predictors": list(fake_data.labels)}),
        ))
    return out
