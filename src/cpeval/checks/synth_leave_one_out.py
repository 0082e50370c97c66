"""Leave-one-out (Abadie, Diamond & Hainmueller 2015): drop each donor with positive weight and refit.

An estimate that hinges on one donor is fragile; the check warns when a refit changes the sign of the
average effect or moves it by more than half.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.checks.synth_common import outcomes_with_effects
from cpeval.estimation.synth.core import rmspe
from cpeval.payloads import SynthFit
from cpeval.results import CheckResult, jsonable

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect

MIN_WEIGHT = 0.001


def leave_one_out(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.synth.placebo import run_refits

    design = panel.design
    out = []
    for outcome, effect, data in outcomes_with_effects(panel, effects):
        names = data.names
        fitted = effect.payload(SynthFit)
        weights = fitted.all_weights() if fitted is not None else {}
        active = [d for d in data.donors if weights.get(names[d], 0.0) >= MIN_WEIGHT]
        if not active:
            out.append(CheckResult(name="leave_one_out", status="info", outcome=outcome.name,
                                   message="no donor has a weight of at least 0.001; nothing to leave out"))
            continue
        tasks = [(data.treated, tuple(x for x in data.donors if x != d)) for d in active]
        gaps = run_refits(design, data, tasks, f"leave one out ({outcome.name})",
                          n_jobs=design.checks.options("leave_one_out").n_jobs)  # type: ignore[arg-type]
        rows = []
        att = effect.estimate
        for d, g in zip(active, gaps, strict=True):
            a = float(np.mean(g[data.n_pre:]))
            rows.append({"dropped": names[d], "weight": float(weights[names[d]]), "att": a,
                         "change": a - att, "pre_rmspe": rmspe(g, 0, data.n_pre)})
        atts = np.array([r["att"] for r in rows])
        flips = [r["dropped"] for r in rows if np.sign(r["att"]) != np.sign(att)]
        big = [r["dropped"] for r in rows if abs(r["change"]) > 0.5 * abs(att)]
        status = "warn" if flips or big else "pass"
        msg = (f"dropping each of {len(rows)} donors with positive weight gives average effects from "
               f"{atts.min():.4g} to {atts.max():.4g} (estimate {att:.4g})")
        if flips:
            msg += f"; the sign flips without {', '.join(flips)}"
        elif big:
            msg += f"; the effect moves by more than half without {', '.join(big)}"
        out.append(CheckResult(
            name="leave_one_out", status=status, message=msg, outcome=outcome.name, table=tuple(jsonable(rows)),
            values=jsonable({"gaps": {names[d]: [float(x) for x in g] for d, g in zip(active, gaps, strict=True)},
                             "times": list(data.times), "min_att": atts.min(), "max_att": atts.max()}),
        ))
    return out
