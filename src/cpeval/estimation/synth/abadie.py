"""The Abadie, Diamond & Hainmueller (2010) synthetic control estimator (``estimator.method: abadie``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.estimation.inference import Interval, make_effect
from cpeval.estimation.synth.common import (
    conformal_summary,
    fit_group,
    hull_outside,
    path_rows,
    settings_for,
    top_weights,
    weights_dict,
)
from cpeval.estimation.synth.prep import prepare
from cpeval.payloads import SynthFit
from cpeval.results import Effect, jsonable

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.common import GroupFit
    from cpeval.estimation.synth.core import UnitFit
    from cpeval.estimation.synth.prep import SynthData


class AbadieSynth:
    """Synthetic control with predictors, nested V/W optimisation and conformal intervals.

    The estimate is the average post-period gap (treated minus synthetic) over the treated units: the ATT
    over the post-periods. There is no standard error; the interval and p-value are conformal
    (Chernozhukov, Wuthrich & Zhu 2021) and the placebo_space check gives Abadie et al.'s permutation
    p-value.
    """

    method = "abadie"

    def __init__(self, design: SynthDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        design = self.design
        data = prepare(panel, design, outcome.column)
        group = fit_group(data, settings_for(design, data), pooled=design.estimator.treated_aggregation == "pooled")
        return build_effect(self.method, design, data, outcome, group)

    @staticmethod
    def placebo_gap(design: SynthDesign, data: SynthData, treated: tuple[int, ...], donors: tuple[int, ...]
                    ) -> np.ndarray:
        """The gap path refitted with other treated units and donors (placebos, leave-one-out)."""
        pooled = design.estimator.treated_aggregation == "pooled"
        return fit_group(data, settings_for(design, data), treated, donors, pooled=pooled).gap


def unit_diagnostics(fit: UnitFit, data: SynthData, donors: list[str]) -> dict[str, Any]:
    donor_mean = data.x[:, list(data.donors)].mean(axis=1)
    return {
        "weights": weights_dict(fit.w, donors),
        "v": {label: float(v) for label, v in zip(data.labels, fit.v, strict=True)},
        "v_optimised": fit.v_optimised,
        "predictors": [
            {"predictor": label, "treated": float(a), "synthetic": float(b), "donor_mean": float(c), "v": float(v)}
            for label, a, b, c, v in zip(data.labels, fit.x1, fit.x0w, donor_mean, fit.v, strict=True)
        ],
        "fit_window_mspe": fit.loss_v,
        "predictor_loss": fit.loss_w,
        "pre_rmspe": fit.pre_rmspe,
        "post_rmspe": fit.post_rmspe,
        "starts": list(fit.starts),
        "alternatives": [
            {"fit_window_mspe": loss, "weights": {k: v for k, v in weights_dict(w, donors).items() if v >= 0.001}}
            for loss, w in zip(fit.alternative_losses, fit.alternatives, strict=True)
        ],
        "att": float(np.mean(fit.gap[data.n_pre:])),
    }


def build_effect(
    method: str, design: SynthDesign, data: SynthData, outcome: OutcomeSpec, group: GroupFit,
    extra: dict[str, Any] | None = None, make_predict: Any = None,
) -> Effect:
    """The Effect of a simplex-weighted synthetic control (abadie and augmented share it)."""
    from cpeval.estimation.synth.conformal import conformal, sc_predictor

    names = data.names
    donors = [names[i] for i in data.donors]
    y0 = data.y[:, data.donors]
    level = design.inference.level
    conf = None
    if design.estimator.conformal:
        conf = conformal(group.y1, y0, data.n_pre, group.gap, level, make_predict or sc_predictor)
    notes: list[str] = []
    per_unit = {u: unit_diagnostics(f, data, donors) for u, f in group.fits.items()}
    for u, f in group.fits.items():
        if f.alternatives:
            alts = "; ".join(
                f"[{top_weights(w, donors, 5)}] (MSPE {loss:.4g})"
                for loss, w in zip(f.alternative_losses, f.alternatives, strict=True)
            )
            notes.append(
                f"{u}: the synthetic control is not unique: other starts of the V search reach nearly the same "
                f"fit-window MSPE ({f.loss_v:.4g}) with materially different donor weights: {alts}. The chosen "
                f"weights are [{top_weights(f.w, donors, 5)}]; read the donor composition with caution"
            )
    if conf is not None and not np.isfinite(conf.avg_upper - conf.avg_lower):
        if 1.0 / (data.n_pre + 1) > 1.0 - level:
            notes.append(
                f"the conformal intervals are unbounded: with {data.n_pre} pre-periods the smallest attainable "
                f"conformal p-value is 1/{data.n_pre + 1} = {1 / (data.n_pre + 1):.3f}, above 1 - level = "
                f"{1 - level:.3f}, so no effect can be rejected; lower inference.level or rely on placebo_space"
            )
        else:
            notes.append(
                "the conformal interval of the average effect is unbounded: refitted on all periods, the "
                "counterfactual model can fit any effect (typically more donors than pre-periods); rely on the "
                "placebo_space check instead"
            )
    hull_share, _ = hull_outside(group.y1, y0, np.arange(len(data.times)) < data.n_pre)
    if hull_share > 0:
        notes.append(
            f"the treated outcome lies outside the donors' range in {hull_share:.0%} of the pre-periods: no "
            "weighted average of donors can match it there"
            + (" (consider the augmented method)" if method != "augmented" else "")
        )
    post = group.gap[data.n_pre:]
    estimate = float(np.mean(post))
    main = per_unit[next(iter(per_unit))]
    diagnostics: dict[str, Any] = {
        "treated_units": [names[i] for i in data.treated],
        "donors": donors,
        "start": jsonable(design.treatment.start),
        "n_pre": data.n_pre,
        "n_post": len(post),
        "fit_window": [jsonable(data.times[data.fit_mask][0]), jsonable(data.times[data.fit_mask][-1])],
        "aggregation": "pooled" if group.pooled else ("separate" if len(group.fits) > 1 else "single"),
        "pre_rmspe": group.pre_rmspe(data.n_pre),
        "post_rmspe": group.post_rmspe(data.n_pre),
        "hull_outside_share": hull_share,
        "conformal": conformal_summary(conf, level),
        **{k: main[k] for k in ("weights", "v", "v_optimised", "predictors", "fit_window_mspe", "predictor_loss",
                                "starts", "alternatives")},
    }
    diagnostics["rmspe_ratio"] = (
        diagnostics["post_rmspe"] / diagnostics["pre_rmspe"] if diagnostics["pre_rmspe"] > 0 else None
    )
    if len(per_unit) > 1:
        diagnostics["per_unit"] = per_unit
    diagnostics.update(extra or {})
    fitted, diagnostics = SynthFit.split(jsonable(diagnostics))
    nan = float("nan")
    return make_effect(
        outcome, method=method, estimand="att", estimate=estimate, std_error=nan, level=level, df=None,
        interval=Interval(conf.avg_lower, conf.avg_upper, conf.avg_p_zero) if conf else Interval(nan, nan, nan),
        n_obs=int(data.y.shape[0] * (len(data.donors) + len(data.treated))),
        n_units=len(data.donors) + len(data.treated), n_clusters=None,
        variance_type="no standard error; conformal interval and p-value for the average post-period effect "
        "(Chernozhukov, Wuthrich & Zhu 2021)" if conf else "none (conformal inference switched off)",
        path=path_rows(data, group.y1, group.synthetic, group.gap, conf),
        diagnostics=diagnostics,
        warnings=notes,
        payloads=(fitted,),
    )
