"""Placebo in space (Abadie, Diamond & Hainmueller 2010): every donor in turn as if it had been treated.

The treated unit's post/pre RMSPE ratio is ranked among the placebos'; the permutation p-value is the share
of units (the treated one included) with a ratio at least as large. Optionally, placebos whose pre-period
MSPE exceeds ``checks.placebo_space.exclude`` times the treated unit's are dropped, as ADH do.
"""

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


def _ratio(gap: np.ndarray, n_pre: int) -> tuple[float, float, float]:
    pre, post = rmspe(gap, 0, n_pre), rmspe(gap, n_pre)
    return pre, post, (post / pre if pre > 0 else float("inf"))


def placebo_space(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.synth.placebo import run_refits

    design = panel.design
    opts = design.checks.options("placebo_space")
    out = []
    for outcome, effect, data in outcomes_with_effects(panel, effects):
        donors = data.donors
        tasks = [((d,), tuple(x for x in donors if x != d)) for d in donors]
        gaps = run_refits(design, data, tasks, f"placebo in space ({outcome.name})", n_jobs=opts.n_jobs)  # type: ignore[arg-type]
        treated_gap = np.array([r["gap"] for r in effect.path])
        names = data.names
        rows = []
        label = ", ".join(names[i] for i in data.treated)
        for name, gap, is_treated in [(label, treated_gap, True)] + [
            (names[d], g, False) for d, g in zip(donors, gaps, strict=True)
        ]:
            pre, post, ratio = _ratio(gap, data.n_pre)
            rows.append({"unit": name, "treated": is_treated, "pre_rmspe": pre, "post_rmspe": post,
                         "ratio": ratio, "post_mean_gap": float(np.mean(gap[data.n_pre:]))})
        ratios = np.array([r["ratio"] for r in rows])
        p = float(np.mean(ratios >= ratios[0] - 1e-12 * abs(ratios[0])))
        order = np.argsort(-ratios, kind="mergesort")
        rank = int(np.flatnonzero(order == 0)[0]) + 1
        pre_mspe = np.array([r["pre_rmspe"] ** 2 for r in rows])
        for r, m in zip(rows, pre_mspe, strict=True):
            r["pre_mspe_vs_treated"] = float(m / pre_mspe[0]) if pre_mspe[0] > 0 else None
        values = {
            "p_value": p, "rank": rank, "n_units": len(rows), "treated_ratio": float(ratios[0]),
            "times": [jsonable(t) for t in data.times], "n_pre": data.n_pre,
            "gaps": {names[d]: [float(x) for x in g] for d, g in zip(donors, gaps, strict=True)},
            "treated_gap": [float(x) for x in treated_gap], "treated": label,
        }
        all_gaps = np.vstack([treated_gap, *gaps])[:, data.n_pre:]
        values["period_p_values"] = [  # share of units with a post-period gap at least as large in absolute value
            float(np.mean(np.abs(all_gaps[:, j]) >= abs(all_gaps[0, j]) - 1e-12)) for j in range(all_gaps.shape[1])
        ]
        cut = opts.exclude
        extra = ""
        if cut is not None:
            keep = pre_mspe <= cut * pre_mspe[0] + 1e-12
            keep[0] = True
            pk = float(np.mean(ratios[keep] >= ratios[0] - 1e-12 * abs(ratios[0])))
            values.update(p_value_excluding=pk, exclude_multiple=cut, n_kept=int(keep.sum()))
            extra = (f"; without the {int((~keep).sum())} placebos whose pre-period MSPE exceeds {cut:g} times the "
                     f"treated unit's, p = {pk:.3f} ({int(keep.sum())} units)")
        alpha = 1 - design.inference.level
        status = "pass" if p <= alpha + 1e-12 else "warn"
        msg = (f"post/pre RMSPE ratio of {label} ranks {rank} of {len(rows)}: permutation p = {p:.3f} "
               f"(smallest possible {1 / len(rows):.3f}){extra}")
        if status == "warn":
            msg += "; the effect is not distinguishable from the placebo effects at this level"
        out.append(CheckResult(name="placebo_space", status=status, message=msg, outcome=outcome.name,
                               table=tuple(jsonable(rows)), values=jsonable(values)))
    return out
