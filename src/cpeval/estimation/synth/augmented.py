"""Ridge-augmented synthetic control (Ben-Michael, Feller & Rothstein 2021, JASA), outcome model on the
pre-period outcomes.

SC weights (simplex least squares on the pre-period outcomes) are corrected by a ridge regression of the
pre-period imbalance: gamma = gamma_sc + (X1 - X0'gamma_sc)' (X0c'X0c + lambda I)^-1 X0c' with the donors'
pre-period outcomes X0c centred across donors, so the correction sums to zero and the weights still sum to
one (they may be negative: extrapolation, which is what lets the method reach a treated unit outside the
donors' hull). lambda is chosen by time cross-validation over the last pre-periods (one-standard-error rule) unless
``estimator.ridge_lambda`` fixes it. Intervals are conformal with the whole procedure refitted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.estimation.synth._qp import simplex_ls
from cpeval.estimation.synth.abadie import build_effect
from cpeval.estimation.synth.common import GroupFit, weights_dict
from cpeval.estimation.synth.core import UnitFit, rmspe
from cpeval.estimation.synth.prep import prepare

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.prep import SynthData
    from cpeval.results import Effect


def ascm_weights(x1: np.ndarray, x0: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """(gamma_aug, gamma_sc) for treated pre-outcomes ``x1`` (T0,) and donors ``x0`` (T0, J)."""
    g_sc = simplex_ls(x0, x1)
    xc = x0 - x0.mean(axis=1, keepdims=True)  # centre across donors, period by period
    imbalance = x1 - x0 @ g_sc
    t0 = xc.shape[0]
    coef = np.linalg.solve(xc @ xc.T + lam * np.eye(t0), imbalance)
    return g_sc + xc.T @ coef, g_sc


def choose_lambda(x1: np.ndarray, x0: np.ndarray, n_grid: int = 20) -> tuple[float, list[dict[str, float]]]:
    """Time cross-validation: for each of the last pre-periods, fit on the periods before it and predict it."""
    t0 = len(x1)
    xc = x0 - x0.mean(axis=1, keepdims=True)
    top = float(np.linalg.eigvalsh(xc @ xc.T).max()) if t0 else 1.0
    grid = top * np.logspace(0, -6, n_grid)
    holdout = list(range(max(2, t0 - max(2, t0 // 3)), t0))
    scores = []
    for lam in grid:
        err = []
        for t in holdout:
            g, _ = ascm_weights(x1[:t], x0[:t], lam)
            err.append((x1[t] - x0[t] @ g) ** 2)
        e = np.asarray(err)
        scores.append({"lambda": float(lam), "cv_mse": float(e.mean()),
                       "cv_se": float(e.std(ddof=1) / np.sqrt(len(e))) if len(e) > 1 else 0.0})
    best = min(scores, key=lambda s: s["cv_mse"])
    # one-standard-error rule (as augsynth's default): the most regularised lambda within 1 SE of the best
    chosen = max((s for s in scores if s["cv_mse"] <= best["cv_mse"] + best["cv_se"]), key=lambda s: s["lambda"])
    return chosen["lambda"], scores


def fit_weights(
    design: SynthDesign, x1: np.ndarray, x0: np.ndarray
) -> tuple[float, list[dict[str, float]], np.ndarray, np.ndarray]:
    """(lambda, its cross-validation scores, gamma_aug, gamma_sc) for pre-outcomes ``x1`` (T0,), ``x0`` (T0, J);
    lambda is ``estimator.ridge_lambda`` or, if unset, chosen by ``choose_lambda``."""
    lam = design.estimator.ridge_lambda
    cv: list[dict[str, float]] = []
    if lam is None:
        lam, cv = choose_lambda(x1, x0)
    g, g_sc = ascm_weights(x1, x0, lam)
    return lam, cv, g, g_sc


def augmented_gap(
    design: SynthDesign, data: SynthData, treated: tuple[int, ...], donors: tuple[int, ...]
) -> np.ndarray:
    y1 = data.y[:, treated].mean(axis=1)
    y0 = data.y[:, donors]
    _, _, g, _ = fit_weights(design, y1[: data.n_pre], y0[: data.n_pre])
    return y1 - y0 @ g


class AugmentedSynth:
    """``estimator.method: augmented``."""

    method = "augmented"

    def __init__(self, design: SynthDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        design = self.design
        data = prepare(panel, design, outcome.column)
        y1 = data.y[:, data.treated].mean(axis=1)
        y0 = data.y[:, data.donors]
        n_pre = data.n_pre
        lam, cv, g, g_sc = fit_weights(design, y1[:n_pre], y0[:n_pre])
        synthetic = y0 @ g
        gap = y1 - synthetic
        fit = UnitFit(
            w=g, v=np.zeros(0), loss_v=float(np.mean(gap[:n_pre] ** 2)), loss_w=float("nan"), synthetic=synthetic,
            gap=gap, pre_rmspe=rmspe(gap, 0, n_pre), post_rmspe=rmspe(gap, n_pre), x1=np.zeros(0), x0w=np.zeros(0),
            v_optimised=False,
        )
        label = ", ".join(data.names[i] for i in data.treated)
        group = GroupFit({label: fit}, y1, synthetic, gap, pooled=len(data.treated) > 1)
        donors = [data.names[i] for i in data.donors]
        sc_gap = y1 - y0 @ g_sc
        extra: dict[str, Any] = {
            "ridge_lambda": lam, "lambda_cv": cv, "sc_weights": weights_dict(g_sc, donors),
            "sc_pre_rmspe": rmspe(sc_gap, 0, n_pre),
            "sc_att": float(np.mean(sc_gap[n_pre:])), "negative_weight_total": float(g[g < 0].sum()),
        }

        def make_predict() -> Any:
            def predict(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
                gg, _ = ascm_weights(yy, xx, lam)
                return xx @ gg

            return predict

        stripped = data.with_start(data.n_pre, data.fit_mask, np.zeros((0, data.y.shape[1])), ())
        return build_effect(self.method, design, stripped, outcome, group, extra=extra, make_predict=make_predict)
