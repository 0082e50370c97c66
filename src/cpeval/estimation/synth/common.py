"""Pieces every synthetic control estimator and check shares: settings, group fits, paths, warnings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.estimation.synth.core import Settings, UnitFit, fit_unit, rmspe
from cpeval.results import jsonable

if TYPE_CHECKING:
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.conformal import Conformal
    from cpeval.estimation.synth.prep import SynthData

TOP_WEIGHTS = 8


def settings_for(design: SynthDesign, data: SynthData) -> Settings:
    """Optimiser settings from the design; a fixed V is put in the order of ``data.labels``."""
    est = design.estimator
    v_fixed = None
    if data.outcome_only:
        v_fixed = np.full(len(data.labels), 1.0 / len(data.labels))
    elif est.v is not None:
        v_fixed = np.array([float(est.v.get(label, 0.0)) for label in data.labels])
        if v_fixed.sum() <= 0:  # every named predictor was dropped (placebo in time)
            v_fixed = np.full(len(data.labels), 1.0 / len(data.labels))
    return Settings(
        v_fixed=v_fixed, standardize=est.standardize and not data.outcome_only, starts=est.starts,
        seed=design.inference.seed,
    )


@dataclass(frozen=True)
class GroupFit:
    """The synthetic control of the treated group: one fit per unit ('separate') or one for their mean."""

    fits: dict[str, UnitFit]
    y1: np.ndarray  # (T,) treated series (mean over treated units)
    synthetic: np.ndarray  # (T,)
    gap: np.ndarray  # (T,)
    pooled: bool

    def pre_rmspe(self, n_pre: int) -> float:
        return rmspe(self.gap, 0, n_pre)

    def post_rmspe(self, n_pre: int) -> float:
        return rmspe(self.gap, n_pre)


def fit_group(
    data: SynthData, settings: Settings, treated: tuple[int, ...] | None = None,
    donors: tuple[int, ...] | None = None, pooled: bool = False,
) -> GroupFit:
    """Fit the abadie synthetic control of ``treated`` (default: the design's) from ``donors``."""
    treated = data.treated if treated is None else treated
    donors = data.donors if donors is None else donors
    y0, x0 = data.y[:, donors], data.x[:, donors]
    names = data.names
    if len(treated) == 1 or pooled:
        y1 = data.y[:, treated].mean(axis=1)
        x1 = data.x[:, treated].mean(axis=1)
        fit = fit_unit(y1, y0, x1, x0, data.fit_mask, data.n_pre, settings)
        label = names[treated[0]] if len(treated) == 1 else "pooled(" + ", ".join(names[i] for i in treated) + ")"
        return GroupFit({label: fit}, y1, fit.synthetic, fit.gap, pooled=len(treated) > 1)
    fits = {
        names[i]: fit_unit(data.y[:, i], y0, data.x[:, i], x0, data.fit_mask, data.n_pre, settings) for i in treated
    }
    y1 = data.y[:, treated].mean(axis=1)
    synthetic = np.mean([f.synthetic for f in fits.values()], axis=0)
    return GroupFit(fits, y1, synthetic, y1 - synthetic, pooled=False)


def hull_outside(y1: np.ndarray, y0: np.ndarray, mask: np.ndarray) -> tuple[float, list[Any]]:
    """Share of the masked periods where the treated outcome lies outside the donors' range, and which."""
    lo, hi = y0[mask].min(axis=1), y0[mask].max(axis=1)
    out = (y1[mask] < lo) | (y1[mask] > hi)
    return float(out.mean()), list(np.flatnonzero(out))


def weights_dict(w: np.ndarray, donor_names: list[str]) -> dict[str, float]:
    order = np.argsort(-w, kind="mergesort")
    return {donor_names[i]: float(w[i]) for i in order}


def top_weights(w: np.ndarray, donor_names: list[str], n: int = TOP_WEIGHTS) -> str:
    order = [i for i in np.argsort(-w, kind="mergesort")[:n] if w[i] >= 0.001]
    return ", ".join(f"{donor_names[i]} {w[i]:.3f}" for i in order)


def path_rows(
    data: SynthData, y1: np.ndarray, synthetic: np.ndarray, gap: np.ndarray, conf: Conformal | None
) -> tuple[dict[str, Any], ...]:
    rows = []
    for t in range(len(data.times)):
        post = t >= data.n_pre
        row: dict[str, Any] = {
            "time": jsonable(data.times[t]), "post": bool(post), "treated": float(y1[t]),
            "synthetic": float(synthetic[t]), "gap": float(gap[t]), "ci_lower": None, "ci_upper": None,
            "p_value": None,
        }
        if post and conf is not None:
            k = t - data.n_pre
            row.update(ci_lower=_f(conf.lower[k]), ci_upper=_f(conf.upper[k]), p_value=_f(conf.p_zero[k]))
        rows.append(row)
    return tuple(rows)


def _f(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def conformal_summary(conf: Conformal | None, level: float) -> dict[str, Any]:
    if conf is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "method": "Chernozhukov, Wuthrich & Zhu (2021): per-period intervals from the pre-periods plus that "
        "period (cyclic permutations); the average effect with the post-periods collapsed to their mean",
        "level": level,
        "average": [_f(conf.avg_lower), _f(conf.avg_upper)],
        "p_zero_average": _f(conf.avg_p_zero),
        "p_zero_constant_effect_moving_block": _f(conf.constant_p_zero),
    }
