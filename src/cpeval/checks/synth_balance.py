"""Predictor balance: each predictor for the treated unit, its synthetic control and the donor average,
with V and the standardised difference (in donor standard deviations)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.checks.synth_common import outcomes_with_effects
from cpeval.payloads import SynthFit
from cpeval.results import CheckResult, jsonable

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect


def balance(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    opts = panel.design.checks.options("balance")
    out = []
    for outcome, effect, data in outcomes_with_effects(panel, effects):
        fitted = effect.payload(SynthFit)
        rows = [dataclasses.asdict(p) for p in fitted.predictors] if fitted is not None else []
        if not rows:
            out.append(CheckResult(name="balance", status="info", outcome=outcome.name,
                                   message=f"method {effect.method!r} matches no declared predictors"))
            continue
        sd = data.x[:, list(data.donors)].std(axis=1, ddof=1)
        table = []
        for r, s in zip(rows, sd, strict=True):
            diff = (r["treated"] - r["synthetic"]) / s if s > 0 else 0.0
            diff_mean = (r["treated"] - r["donor_mean"]) / s if s > 0 else 0.0
            table.append({**r, "std_diff_synthetic": float(diff), "std_diff_donor_mean": float(diff_mean)})
        bad = [t["predictor"] for t in table if t["v"] >= opts.important_v
               and abs(t["std_diff_synthetic"]) > opts.max_std_diff]
        worst = max(table, key=lambda t: abs(t["std_diff_synthetic"]))
        improved = float(np.mean([abs(t["std_diff_synthetic"]) <= abs(t["std_diff_donor_mean"]) for t in table]))
        msg = (f"the synthetic control is closer than the donor average on {improved:.0%} of {len(table)} predictors; "
               f"largest gap: {worst['predictor']} ({worst['std_diff_synthetic']:+.2f} donor SD)")
        status = "warn" if bad else "pass"
        if bad:
            msg += f"; predictors with V >= {opts.important_v:g} matched poorly: {', '.join(bad)}"
        out.append(CheckResult(name="balance", status=status, message=msg, outcome=outcome.name,
                               table=tuple(jsonable(table)), values={"share_improved": improved}))
    return out
