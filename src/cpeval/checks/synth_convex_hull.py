"""Can the treated unit be matched at all? A synthetic control is a weighted average of donors, so it can
only reproduce a treated outcome inside the donors' range (convex hull). The check reports the share of
pre-periods in which the treated outcome lies outside the donors' range, and the best pre-period RMSPE any
convex combination of donors attains (zero only inside the hull)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.checks.synth_common import outcomes_with_effects
from cpeval.results import CheckResult, jsonable

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect


def convex_hull(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.synth._qp import simplex_ls
    from cpeval.estimation.synth.common import hull_outside
    from cpeval.estimation.synth.core import rmspe

    out = []
    for outcome, _effect, data in outcomes_with_effects(panel, effects):
        names = data.names
        pre = np.arange(len(data.times)) < data.n_pre
        y0 = data.y[:, list(data.donors)]
        rows, warn = [], []
        for i in data.treated:
            y1 = data.y[:, i]
            share, idx = hull_outside(y1, y0, pre)
            w = simplex_ls(y0[pre], y1[pre])
            best = rmspe(y1[pre] - y0[pre] @ w)
            above = int(np.sum(y1[pre] > y0[pre].max(axis=1)))
            below = int(np.sum(y1[pre] < y0[pre].min(axis=1)))
            rows.append({"unit": names[i], "share_outside": share, "periods_above": above, "periods_below": below,
                         "outside_periods": [jsonable(data.times[j]) for j in idx],
                         "best_convex_rmspe": best})
            if share > 0:
                warn.append(f"{names[i]} lies outside the donors' range in {share:.0%} of the pre-periods "
                            f"({above} above, {below} below)")
        if warn:
            msg = "; ".join(warn) + ": no weighted average of donors can match it there; consider the augmented method"
            status = "warn"
        else:
            msg = ("the treated outcome lies within the donors' range in every pre-period; the best convex "
                   f"combination has pre-period RMSPE {min(r['best_convex_rmspe'] for r in rows):.4g}")
            status = "pass"
        worst = max(r["share_outside"] for r in rows)
        out.append(CheckResult(name="convex_hull", status=status, message=msg, outcome=outcome.name,
                               table=tuple(jsonable(rows)), values={"share_outside": worst}))
    return out
