"""The fixed-length confidence interval (FLCI) under smoothness restrictions Delta^SD(M) (Armstrong & Kolesar
2018; Rambachan & Roth 2023, as R HonestDiD's ``findOptimalFLCI``).

The candidates are affine estimators v'beta with v_post = l. Under Delta^SD(M) the trend gap delta is a line
through the reference period plus second differences e_t in [-M, M] at the interior periods, so

- v must give no weight to the line (sum_t t v_t = 0), otherwise its bias is unbounded;
- its worst-case bias is then M * sum_t |v'B_t| (B_t: the delta path of a unit second difference at t), and
  the 1 - alpha interval v'beta -/+ sd * cv(bias / sd) has cv(b) the 1 - alpha quantile of |N(b, 1)|.

The FLCI is the shortest of these intervals. Only the K - 1 second differences before the reference period
involve the pre-period weights; writing z_t = v'B_t for them (an affine change of variables of v_pre under
the no-line constraint) the bias is M (c + ||z||_1) and the variance a quadratic (z - z*)'Q(z - z*) + s0^2.
The half-length increases in both bias and sd, so the optimum lies on their Pareto frontier; that frontier is
the path of the lasso argmin_z 1/2 (z - z*)'Q(z - z*) + mu ||z||_1 as mu falls from ||Q z*||_inf (z = 0, least
bias) to 0 (z = z*, least variance). The path is piecewise linear in mu, so it is computed exactly by homotopy
(a handful of linear solves) and is the same for every M; along each linear piece the half-length is a
convex function of one variable (the perspective of the convex cv, composed with a linear bias and a convex
sd), minimised by bounded Brent. R solves the same problem as an outer search over the sd bound h with an
inner second-order-cone programme (ECOS); the answers agree (tests/did_es/test_did_honest_flci.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

CriticalValue = Callable[[float], float]


def folded_normal_cv(bias: float, alpha: float) -> float:
    """The 1-alpha quantile of |N(bias, 1)| (exact, by root finding)."""
    from scipy import optimize
    from scipy.special import ndtr, ndtri

    b = abs(bias)
    if b > 12:  # P(N(b, 1) < -c) is below 1e-33: the quantile is that of N(b, 1)
        return b + float(ndtri(1 - alpha))

    def f(c: float) -> float:
        return float(ndtr(c - b) - ndtr(-c - b)) - (1 - alpha)

    return float(optimize.brentq(f, 0.0, b + 10.0, xtol=1e-14, rtol=1e-15))


def _trend_basis(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """delta over the pre and post periods (reference dropped) = slope * b_c + B_e @ e: b_c is the line
    through the reference period (the event time), column j of B_e the path of a unit second difference at
    interior period j of (pre, ref, post), holding the slope into the reference period fixed."""
    times = np.concatenate([np.arange(-n_pre, 0), np.arange(1, n_post + 1)]).astype(float)
    interior = np.arange(-n_pre + 1, n_post)  # periods with a second difference
    # a kink at j adds (t - j) after j when j >= 0, and (j - t) before j when j < 0 (the reference stays at 0)
    after = np.clip(times[:, None] - interior[None, :], 0.0, None) * (interior[None, :] >= 0)
    before = np.clip(interior[None, :] - times[:, None], 0.0, None) * (interior[None, :] < 0)
    return times, after + before


def _lasso_path(q: np.ndarray, z_star: np.ndarray) -> np.ndarray:
    """Knots of argmin_z 1/2 (z - z*)'Q(z - z*) + mu ||z||_1 (Q positive definite) as mu falls from
    ||Q z*||_inf to 0: rows from z = 0 to z = z*; the solution is linear in mu between knots."""
    k = len(z_star)
    c0 = q @ z_star  # -gradient of the quadratic at z = 0
    mu = float(np.abs(c0).max()) if k else 0.0
    knots = [np.zeros(k)]
    if mu == 0.0:
        return np.vstack([*knots, z_star])
    tol = 1e-12 * mu
    signs = {int(np.argmax(np.abs(c0))): float(np.sign(c0[np.argmax(np.abs(c0))]))}
    for _ in range(10 * k + 10):
        act = np.array(sorted(signs))
        s = np.array([signs[j] for j in act])
        qaa = q[np.ix_(act, act)]
        a, b = np.linalg.solve(qaa, c0[act]), np.linalg.solve(qaa, s)  # z_act(mu) = a - mu b
        inact = np.array([j for j in range(k) if j not in signs], dtype=int)
        nxt, event = 0.0, None
        with np.errstate(divide="ignore", invalid="ignore"):
            drop = a / b  # an active weight reaches zero
            for i, m in enumerate(drop):
                if tol < m < mu - tol and m > nxt:
                    nxt, event = float(m), ("drop", int(act[i]), 0.0)
            if len(inact):  # an inactive correlation p + mu r reaches +/- mu
                p = c0[inact] - q[np.ix_(inact, act)] @ a
                r = q[np.ix_(inact, act)] @ b
                for sign, m_join in ((1.0, p / (1.0 - r)), (-1.0, -p / (1.0 + r))):
                    for i, m in enumerate(m_join):
                        if tol < m < mu - tol and m > nxt:
                            nxt, event = float(m), ("join", int(inact[i]), sign)
        z = np.zeros(k)
        z[act] = a - nxt * b
        knots.append(z)
        mu = nxt
        if event is None:
            break
        kind, j, sign = event
        if kind == "drop":
            del signs[j]
            knots[-1][j] = 0.0
        else:
            signs[j] = sign
    path = np.vstack(knots)
    if not np.allclose(path[-1], z_star, rtol=1e-9, atol=1e-12 * max(1.0, float(np.abs(z_star).max()))):
        path = np.vstack([path, z_star])  # close the path should rounding have stopped it short
    return path


@dataclass(frozen=True, eq=False)
class SmoothnessFrontier:
    """The affine estimators v'beta (v_post = l) on the frontier of worst-case bias under Delta^SD(1) and
    standard deviation: a polyline in v from least bias to least variance. It depends on Sigma, the number of
    leads and l, not on beta or M, so one frontier serves a whole grid of M and the breakdown search."""

    vcov: np.ndarray
    bias_basis: np.ndarray  # (n_pre + n_post, n_interior): bias per unit M of v is sum |v' B|
    knots: np.ndarray  # (n_knots, n_pre + n_post) weights v at the corners of the frontier

    @classmethod
    def build(cls, vcov: np.ndarray, n_pre: int, lvec: np.ndarray) -> SmoothnessFrontier:
        n_post = len(lvec)
        times, basis = _trend_basis(n_pre, n_post)
        pre_part = basis[:n_pre]
        free = np.flatnonzero(np.abs(pre_part).sum(axis=0) > 0)  # the K - 1 second differences before ref
        # [z; no-line] = [P; t_pre'] v_pre + [o; t_post'l] -> v_pre = x0 + G z
        p, o = pre_part[:, free].T, basis[n_pre:, free].T @ lvec
        lhs = np.vstack([p, times[:n_pre]])
        inv = np.linalg.inv(lhs)
        g_mat = inv[:, : len(free)]
        x0 = inv @ np.concatenate([-o, [-(times[n_pre:] @ lvec)]])
        s_pp, s_pq = vcov[:n_pre, :n_pre], vcov[:n_pre, n_pre:]
        q = g_mat.T @ s_pp @ g_mat
        lin = g_mat.T @ (s_pp @ x0 + s_pq @ lvec)
        if len(free):
            ridge = 1e-12 * max(float(np.trace(q)) / len(free), 1e-300)
            if np.linalg.eigvalsh(q).min() <= ridge:  # singular Sigma: the least-variance point is not unique
                q = q + ridge * np.eye(len(free))
            z_star = -np.linalg.solve(q, lin)
        else:
            z_star = np.zeros(0)
        path = _lasso_path(q, z_star) if len(free) else np.zeros((1, 0))
        knots = np.column_stack([x0[None, :] + path @ g_mat.T, np.broadcast_to(lvec, (len(path), n_post))])
        return cls(vcov=vcov, bias_basis=basis, knots=knots)

    @cached_property
    def _segments(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(start, direction) of each piece, dropping pieces of zero length."""
        segs = [(a, b - a) for a, b in zip(self.knots[:-1], self.knots[1:], strict=True)
                if np.abs(b - a).max() > 1e-15 * max(1.0, float(np.abs(a).max()))]
        return segs or [(self.knots[-1], np.zeros_like(self.knots[-1]))]

    def bias(self, v: np.ndarray) -> float:
        """Worst-case bias of v'beta under Delta^SD(1)."""
        return float(np.abs(v @ self.bias_basis).sum())

    def half_length(self, v: np.ndarray, m: float, cv: CriticalValue) -> float:
        sd = float(np.sqrt(max(float(v @ self.vcov @ v), 0.0)))
        bias = m * self.bias(v)
        if sd <= 1e-300:
            return bias
        return sd * cv(bias / sd)

    def optimum(self, m: float, alpha: float, critical_value: CriticalValue | None = None
                ) -> tuple[np.ndarray, float]:
        """The weights and half-length of the shortest interval at smoothness bound M.

        With the exact critical value the minimum on each piece is the root of the half-length's derivative
        (to machine precision: the half-length itself is flat there, so minimising its values would fix the
        weights only to about 1e-8); a user-supplied critical value is minimised by bounded Brent."""
        from scipy import optimize

        cv = critical_value if critical_value is not None else (lambda t: folded_normal_cv(t, alpha))
        best_v, best_h = self.knots[-1], self.half_length(self.knots[-1], m, cv)
        for start, step in self._segments:
            def f(tau: float, start: np.ndarray = start, step: np.ndarray = step) -> float:
                return self.half_length(start + tau * step, m, cv)

            candidates = [0.0, 1.0]
            if step.any() and critical_value is None:
                slope = self._slope_along(start, step, m, alpha)
                if slope(0.0) < 0.0 < slope(1.0):
                    candidates.append(float(optimize.brentq(slope, 0.0, 1.0, xtol=1e-15, rtol=1e-15)))
            elif step.any():
                res = optimize.minimize_scalar(f, bounds=(0.0, 1.0), method="bounded",
                                               options={"xatol": 1e-12, "maxiter": 500})
                candidates.append(float(res.x))
            for tau in candidates:
                h = f(tau)
                if h < best_h:
                    best_v, best_h = start + tau * step, h
        return best_v, best_h

    def _slope_along(self, start: np.ndarray, step: np.ndarray, m: float, alpha: float
                     ) -> Callable[[float], float]:
        """d/dtau of sd * cv(bias / sd) along start + tau * step, where the bias is linear (no weight changes
        sign inside a piece) and the variance quadratic; dcv/dt = (phi(c - t) - phi(c + t)) /
        (phi(c - t) + phi(c + t)) by implicit differentiation of Phi(c - t) - Phi(-c - t) = 1 - alpha."""
        b0, b1 = m * self.bias(start), m * self.bias(start + step)
        va, vb, vc = float(start @ self.vcov @ start), float(step @ self.vcov @ start), float(step @ self.vcov @ step)

        def slope(tau: float) -> float:
            sd = float(np.sqrt(max(va + 2 * vb * tau + vc * tau * tau, 1e-300)))
            d_sd = (vb + vc * tau) / sd
            t = (b0 + (b1 - b0) * tau) / sd
            c = folded_normal_cv(t, alpha)
            lo, hi = np.exp(-0.5 * (c - t) ** 2), np.exp(-0.5 * (c + t) ** 2)
            return d_sd * c + (lo - hi) / (lo + hi) * ((b1 - b0) - t * d_sd)

        return slope


def flci_weights(vcov: np.ndarray, n_pre: int, lvec: np.ndarray, m: float, alpha: float, *,
                 critical_value: CriticalValue | None = None,
                 frontier: SmoothnessFrontier | None = None) -> tuple[np.ndarray, float]:
    """Weights v (pre then post periods) and half-length of the FLCI for l'tau_post under Delta^SD(M).

    ``critical_value(t)`` replaces the exact 1 - alpha quantile of |N(t, 1)| (to reproduce a package that
    simulates it); ``frontier`` reuses a frontier built for the same Sigma, leads and l."""
    fr = frontier if frontier is not None else SmoothnessFrontier.build(np.asarray(vcov, float), n_pre,
                                                                       np.asarray(lvec, float))
    return fr.optimum(float(m), alpha, critical_value)


def flci(beta: np.ndarray, vcov: np.ndarray, n_pre: int, lvec: np.ndarray, m: float, alpha: float, *,
         critical_value: CriticalValue | None = None,
         frontier: SmoothnessFrontier | None = None) -> tuple[float, float]:
    """Fixed-length confidence interval for l'tau_post under Delta^SD(M) (Armstrong-Kolesar / Rambachan-Roth)."""
    v, half = flci_weights(vcov, n_pre, lvec, m, alpha, critical_value=critical_value, frontier=frontier)
    est = float(v @ np.asarray(beta, float))
    return est - half, est + half
