"""Ridge-augmented synthetic control (Ben-Michael, Feller & Rothstein 2021, JASA), outcome model on the
pre-period outcomes.

SC weights (simplex least squares on the pre-period outcomes) are corrected by a ridge regression of the
pre-period imbalance: gamma = gamma_sc + (X1 - X0'gamma_sc)' (X0c'X0c + lambda I)^-1 X0c' with the donors'
pre-period outcomes X0c centred across donors, so the correction sums to zero and the weights still sum to
one (they may be negative: extrapolation, which is what lets the method reach a treated unit outside the
donors' hull). Intervals are conformal with the whole procedure refitted.

``estimator.ridge_lambda`` is a number, or the cross-validation rule that chooses lambda. Both rules refit the
SC and ridge weights on each fold's training periods, score the squared error of the held-out period over a
geometric grid starting at the largest eigenvalue of the centred donors' pre-period Gram matrix (augsynth's
``get_lambda_max``), and keep the largest lambda whose mean error is within one standard error of the smallest:

- ``forward_cv`` (the default): each of the last third of the pre-periods (at least two) is predicted from the
  periods before it only, so no fold uses the future to predict the past; 20 values down to 1e-6 of the top.
- ``augsynth``: R augsynth's default (``fit_ridgeaug_formatted`` / ``cv_lambda``: ``holdout_length = 1``,
  ``lambda_min_ratio = 1e-8``, ``n_lambda = 20``, ``min_1se = TRUE``): every pre-period but the last is held
  out in turn and predicted from all the others; 21 values down to 1e-8 of the top. Use it to reproduce an
  augsynth result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.errors import EstimationError
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


def _folds(rule: str, t0: int) -> list[tuple[np.ndarray, int]]:
    """(training periods, held-out period) of a cross-validation rule on ``t0`` pre-periods."""
    if rule == "augsynth":
        every = np.arange(t0)
        return [(np.delete(every, i), i) for i in range(t0 - 1)]
    return [(np.arange(t), t) for t in range(max(2, t0 - max(2, t0 // 3)), t0)]


def _grid(rule: str, top: float) -> np.ndarray:
    if rule == "augsynth":
        return top * (1e-8 ** (1 / 20)) ** np.arange(21)  # augsynth's create_lambda_list
    return top * np.logspace(0, -6, 20)


def cv_errors(x1: np.ndarray, x0: np.ndarray, folds: list[tuple[np.ndarray, int]], grid: np.ndarray) -> np.ndarray:
    """(folds, grid) squared errors of the held-out period, the SC and ridge weights refitted on each fold's
    training periods; the ridge solves for every lambda share one eigendecomposition per fold."""
    errors = np.empty((len(folds), len(grid)))
    for k, (train, test) in enumerate(folds):
        xt, x0t = x1[train], x0[train]
        g_sc = simplex_ls(x0t, xt)
        xc = x0t - x0t.mean(axis=1, keepdims=True)
        s, u = np.linalg.eigh(xc @ xc.T)
        coef = u @ ((u.T @ (xt - x0t @ g_sc))[:, None] / (s[:, None] + grid[None, :]))  # (train, grid)
        g = g_sc[:, None] + xc.T @ coef  # (J, grid)
        errors[k] = (x1[test] - x0[test] @ g) ** 2
    return errors


def choose_lambda(x1: np.ndarray, x0: np.ndarray, rule: str = "forward_cv") -> tuple[float, list[dict[str, float]]]:
    """(lambda, the grid's scores) by the cross-validation ``rule`` (see the module docstring)."""
    t0 = len(x1)
    folds = _folds(rule, t0)
    if not folds:
        raise EstimationError(
            f"augmented: estimator.ridge_lambda '{rule}' cross-validates over the pre-periods, but there are only "
            f"{t0}; give estimator.ridge_lambda a number instead"
        )
    xc = x0 - x0.mean(axis=1, keepdims=True)
    grid = _grid(rule, float(np.linalg.eigvalsh(xc @ xc.T).max()))
    errors = cv_errors(x1, x0, folds, grid)
    mse = errors.mean(axis=0)
    se = errors.std(axis=0, ddof=1) / np.sqrt(len(folds)) if len(folds) > 1 else np.zeros(len(grid))
    best = int(np.argmin(mse))
    chosen = float(grid[mse <= mse[best] + se[best]].max())
    scores = [
        {"lambda": float(g), "cv_mse": float(m), "cv_se": float(e)} for g, m, e in zip(grid, mse, se, strict=True)
    ]
    return chosen, scores


def fit_weights(
    design: SynthDesign, x1: np.ndarray, x0: np.ndarray
) -> tuple[float, list[dict[str, float]], np.ndarray, np.ndarray]:
    """(lambda, its cross-validation scores, gamma_aug, gamma_sc) for pre-outcomes ``x1`` (T0,), ``x0`` (T0, J);
    lambda is ``estimator.ridge_lambda`` if a number, else chosen by that cross-validation rule."""
    lam = design.estimator.ridge_lambda
    cv: list[dict[str, float]] = []
    if isinstance(lam, str):
        lam, cv = choose_lambda(x1, x0, lam)
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
    placebo_gap = staticmethod(augmented_gap)  # refits for placebos and leave-one-out

    def __init__(self, design: SynthDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        design = self.design
        data = prepare(panel, design, outcome.column)
        y1 = data.y[:, data.treated].mean(axis=1)
        y0 = data.y[:, data.donors]
        n_pre = data.n_pre
        lam, cv, g, g_sc = fit_weights(design, y1[:n_pre], y0[:n_pre])
        rule = design.estimator.ridge_lambda
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
            "ridge_lambda": lam, "ridge_lambda_rule": rule if isinstance(rule, str) else "fixed",
            "lambda_cv": cv, "sc_weights": weights_dict(g_sc, donors),
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
