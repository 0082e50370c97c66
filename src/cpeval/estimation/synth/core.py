"""The nested synthetic control optimisation of Abadie, Diamond & Hainmueller (2010), as R ``Synth`` does it.

Inner problem: donor weights ``W`` on the simplex minimise ``(X1 - X0 W)' V (X1 - X0 W)`` for predictors
standardised by their standard deviation across the treated unit and the donors (R Synth's scaling); an
exact active-set QP on the support's Cholesky-factored block (``_qp.NestedInner``), warm-started from the
previous support and weights.
Outer problem: the diagonal ``V`` (on the simplex) minimises the mean squared prediction error of the
outcome over the fit window. L-BFGS-B with the exact gradient of that loss in V (implicit differentiation
of the inner KKT system) from several starts (equal weights, R Synth's regression-based start, then random
starts from the seed); the two best are polished by Nelder-Mead. Starts that reach nearly the
same loss with materially different weights are reported as alternatives: the problem is multi-modal
(Klossner et al. 2018) and one optimum should not be presented as the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cpeval.estimation.synth._qp import NestedInner

NEAR_LOSS = 0.02  # alternatives: within 2% of the best fit-window loss ...
MATERIAL = 0.2  # ... and weights differing by more than 0.2 in L1 distance
ZERO_WEIGHT = 1e-6
N_POLISH = 2  # the best starts polished by Nelder-Mead


def rmspe(gap: np.ndarray, lo: int = 0, hi: int | None = None) -> float:
    """Root mean squared gap over periods ``lo`` to ``hi`` (exclusive); NaN when that range is empty."""
    seg = gap[lo:hi]
    return float(np.sqrt(np.mean(seg**2))) if len(seg) else float("nan")


@dataclass(frozen=True)
class UnitFit:
    """One synthetic control: weights, V, losses and the gap path."""

    w: np.ndarray  # (J,) donor weights, donor order
    v: np.ndarray  # (k,) predictor weights (sum to one)
    loss_v: float  # fit-window MSPE of the outcome
    loss_w: float  # V-weighted squared distance of the standardised predictors
    synthetic: np.ndarray  # (T,)
    gap: np.ndarray  # (T,)
    pre_rmspe: float
    post_rmspe: float
    x1: np.ndarray  # (k,) treated predictors (raw scale)
    x0w: np.ndarray  # (k,) synthetic predictors (raw scale)
    starts: tuple[dict[str, Any], ...] = ()
    alternatives: tuple[np.ndarray, ...] = ()
    alternative_losses: tuple[float, ...] = ()
    v_optimised: bool = True


@dataclass
class Settings:
    v_fixed: np.ndarray | None = None  # (k,) or None to optimise
    standardize: bool = True
    starts: int = 8
    seed: int = 0


def _scale(x1: np.ndarray, x0: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    if not standardize:
        return x1, x0
    allx = np.column_stack([x0, x1])
    sd = allx.std(axis=1, ddof=1)
    sd = np.where(sd > 0, sd, 1.0)
    return x1 / sd, x0 / sd[:, None]


class _Inner(NestedInner):
    """W(V) with the last solution kept as a warm start."""

    def __call__(self, v: np.ndarray) -> np.ndarray:
        return self.weights(v)

    def loss_w(self, v: np.ndarray, w: np.ndarray) -> float:
        r = self.x1 - self.x0 @ w
        return float(r @ (v * r))


def _to_v(theta: np.ndarray) -> np.ndarray:
    a = np.abs(theta)
    s = a.sum()
    return a / s if s > 0 else np.full(len(theta), 1.0 / len(theta))


def _regression_start(x1: np.ndarray, x0: np.ndarray, z1: np.ndarray, z0: np.ndarray) -> np.ndarray | None:
    """R Synth's start: regress the fit-window outcomes on the scaled predictors across units; V = diag(BB')."""
    xall = np.column_stack([np.ones(x0.shape[1] + 1), np.column_stack([x0, x1]).T])
    zall = np.column_stack([z0, z1]).T
    if xall.shape[0] <= xall.shape[1]:
        return None
    beta, *_ = np.linalg.lstsq(xall, zall, rcond=None)
    d = np.sum(beta[1:] ** 2, axis=1)
    return d / d.sum() if d.sum() > 0 and np.all(np.isfinite(d)) else None


def _loss_and_grad(v: np.ndarray, inner: _Inner, z1: np.ndarray, z0: np.ndarray) -> tuple[float, np.ndarray]:
    """Fit-window MSPE of W(V) and its exact gradient in V (implicit differentiation of the inner KKT system
    on the active set: dL/dv_k = (X0_P mu)_k r_k with K mu = dL/dz and r = X1 - X0 W the predictor residual)."""
    p, zp = inner.solve(v)
    z0p = z0[:, p]
    resid = z1 - z0p @ zp
    loss = float(resid @ resid) / len(resid)
    if len(p) == 1:
        return loss, np.zeros(len(v))
    mu = inner.block_solve(-2.0 / len(resid) * (z0p.T @ resid))
    x0p = inner.x0[:, p]
    return loss, (x0p @ mu) * (inner.x1 - x0p @ zp)


def nested(
    x1: np.ndarray, x0: np.ndarray, z1: np.ndarray, z0: np.ndarray, settings: Settings
) -> tuple[np.ndarray, np.ndarray, float, list[dict[str, Any]], list[tuple[float, np.ndarray]]]:
    """Optimise V (and W(V)). Returns v, w, loss_v, a record per start, and (loss, w) of every start.

    Each start runs L-BFGS-B on V in [0, 1]^k (the loss is scale-free in V) with the exact gradient; the
    two best starts are polished by Nelder-Mead on |theta| / sum|theta| (R Synth's parametrisation).
    """
    from scipy.optimize import minimize

    k = len(x1)
    inner = _Inner(x1, x0)
    zscale = max(float(np.mean(z1**2)), 1e-300)

    def fg(theta: np.ndarray) -> tuple[float, np.ndarray]:
        v = np.clip(theta, 0.0, None)
        if v.sum() <= 0:
            v = np.full(k, 1.0 / k)
        loss, grad = _loss_and_grad(v, inner, z1, z0)
        return loss / zscale, grad / zscale

    def objective(theta: np.ndarray) -> float:
        p, zp = inner.solve(_to_v(theta))
        r = z1 - z0[:, p] @ zp
        return float(r @ r) / len(r)

    if k == 1:
        v = np.ones(1)
        w = inner(v)
        loss = objective(v)
        return v, w, loss, [{"start": "single predictor", "loss": loss, "evaluations": 1}], [(loss, w)]
    rng = np.random.default_rng(settings.seed)
    starts: list[tuple[str, np.ndarray]] = [("equal", np.full(k, 1.0 / k))]
    reg = _regression_start(x1, x0, z1, z0)
    if reg is not None:
        starts.append(("regression", reg))
    while len(starts) < settings.starts:
        starts.append((f"random{len(starts)}", rng.dirichlet(np.full(k, 0.5))))
    starts = starts[: max(settings.starts, 1)]
    records: list[dict[str, Any]] = []
    found: list[tuple[float, np.ndarray, np.ndarray]] = []
    for name, v0 in starts:
        theta, prev, evals = v0, np.inf, 0
        for _ in range(4):  # restart while it helps: line searches stall where the active set changes
            res = minimize(fg, theta, jac=True, method="L-BFGS-B", bounds=[(0.0, 1.0)] * k,
                           options={"maxiter": 300, "ftol": 1e-12, "gtol": 1e-9})
            evals += int(res.nfev)
            theta = _to_v(np.clip(res.x, 0.0, None))
            if res.fun >= prev * (1 - 1e-6):
                break
            prev = float(res.fun)
        w = inner(theta)
        loss = objective(theta)
        found.append((loss, theta, w))
        records.append({"start": name, "loss": loss, "evaluations": evals})
    opts = {
        "maxfev": 100 * k + 100, "xatol": 1e-6, "fatol": 1e-12 * zscale,
        "adaptive": k > 4,
    }
    for i in sorted(range(len(found)), key=lambda i: found[i][0])[:N_POLISH]:
        res = minimize(objective, found[i][1], method="Nelder-Mead", options=opts)
        if res.fun < found[i][0]:
            v = _to_v(res.x)
            found[i] = (objective(v), v, inner(v))
            records[i]["loss"] = found[i][0]
        records[i]["evaluations"] += int(res.nfev)
        records[i]["polished"] = True
    best = min(range(len(found)), key=lambda i: found[i][0])
    loss, v, w = found[best]
    return v, w, loss, records, [(f[0], f[2]) for f in found]


def alternatives(
    best_loss: float, best_w: np.ndarray, found: list[tuple[float, np.ndarray]], scale: float = 1.0
) -> list[tuple[float, np.ndarray]]:
    """Weight sets reaching nearly the best loss (within 2%, or 1e-9 of the outcome's mean square) but
    materially different from the chosen weights."""
    out: list[tuple[float, np.ndarray]] = []
    for loss, w in sorted(found, key=lambda t: t[0]):
        if loss > best_loss * (1 + NEAR_LOSS) + 1e-9 * scale:
            continue
        if np.abs(w - best_w).sum() <= MATERIAL:
            continue
        if any(np.abs(w - o).sum() <= MATERIAL for _, o in out):
            continue
        out.append((loss, w))
    return out


def fit_unit(
    y1: np.ndarray, y0: np.ndarray, x1: np.ndarray, x0: np.ndarray, fit_mask: np.ndarray, n_pre: int,
    settings: Settings,
) -> UnitFit:
    """Synthetic control for one treated series ``y1`` (T,) from donors ``y0`` (T, J)."""
    sx1, sx0 = _scale(x1, x0, settings.standardize)
    z1, z0 = y1[fit_mask], y0[fit_mask]
    inner = _Inner(sx1, sx0)
    records: list[dict[str, Any]] = []
    alts: list[tuple[float, np.ndarray]] = []
    if settings.v_fixed is not None:
        v = np.asarray(settings.v_fixed, dtype=float)
        v = v / v.sum()
        w = inner(v)
        r = z1 - z0 @ w
        loss_v = float(r @ r) / len(r)
        optimised = False
    else:
        from cpeval.estimation.demean import one_blas_thread

        # one BLAS thread: L-BFGS-B calls BLAS on vectors of a few elements thousands of times, and waking a
        # second BLAS thread for each costs milliseconds on a busy machine (90% of the time before)
        with one_blas_thread():
            v, w, loss_v, records, found = nested(sx1, sx0, z1, z0, settings)
        alts = alternatives(loss_v, w, found, float(np.mean(z1**2)))
        optimised = True
    w = np.where(w > ZERO_WEIGHT * 1e-3, w, 0.0)
    w = w / w.sum()
    synthetic = y0 @ w
    gap = y1 - synthetic
    return UnitFit(
        w=w, v=v, loss_v=loss_v, loss_w=inner.loss_w(v, w), synthetic=synthetic, gap=gap,
        pre_rmspe=rmspe(gap, 0, n_pre), post_rmspe=rmspe(gap, n_pre),
        x1=x1, x0w=x0 @ w, starts=tuple(records),
        alternatives=tuple(a[1] for a in alts), alternative_losses=tuple(a[0] for a in alts),
        v_optimised=optimised,
    )


def fixed_w_loss(y1: np.ndarray, y0: np.ndarray, fit_mask: np.ndarray, w: np.ndarray) -> float:
    """Fit-window MSPE of given weights (to compare with a published solution)."""
    r = y1[fit_mask] - y0[fit_mask] @ w
    return float(r @ r) / len(r)
