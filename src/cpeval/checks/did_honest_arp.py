"""Relative-magnitudes robust intervals by the Andrews, Roth & Pakes (2023) conditional least-favourable
hybrid test, the method R ``HonestDiD`` uses (``createSensitivityResults_relativeMagnitudes``, "C-LF").

Delta^RM(Mbar) is the union, over the pre-period first difference s that is largest in magnitude and its
sign, of polyhedra {delta: A_s delta <= 0}. For each (s, sign) and each theta on a grid, H0: l'tau_post =
theta is tested with the moments Y(theta) = A beta - A_post Gamma^-1 (theta, 0...) and the nuisance directions
X = A_post Gamma^-1 (columns 2..), using only the rows that involve post-treatment periods (as HonestDiD's
``postPeriodMomentsOnly``). The statistic is eta = min over nuisance of max_i (Y - X zeta)_i / sd_i, which by
linear-programming duality is max over the vertices gamma of {gamma >= 0, gamma'(sd, X) = e1} of gamma'Y: the
vertices are enumerated once per (s, sign), so the whole theta grid is a matrix product. The first stage
rejects when eta exceeds the least-favourable critical value (the 1 - kappa quantile of eta under a
mean-zero normal, kappa = alpha / 10, by simulation); otherwise eta is compared with the 1 - (alpha -
kappa) / (1 - kappa) quantile of a normal truncated to [V_lo, min(V_up, lf_cv)], the truncation that keeps
the optimal vertex optimal (ARP's primal formulas when the solution is non-degenerate, the dual vertices
otherwise). The interval is the range of accepted grid points of the union over (s, sign), on R's grid:
1,000 points over +/- 20 standard deviations of l'beta_post.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

GRID_POINTS = 1000
GRID_SDS = 20.0
LF_SIMS = 10_000  # draws for the least-favourable critical value (R HonestDiD uses 1,000)
TOL_LAMBDA = 1e-6
MAX_BASES = 300_000  # (M choose k+1) bases to enumerate before declining (very many post periods)


def rm_weight(lvec: np.ndarray) -> float:
    """W = sum_j |sum_{t>=j} l_t|: how much a per-period change in the trend gap moves l'delta_post."""
    return float(np.abs(np.cumsum(lvec[::-1])[::-1]).sum())


def rm_bounds(draws: np.ndarray, n_pre: int, lvec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre l'beta_post and half-width-per-Mbar m(beta_pre) * W for each row of ``draws``."""
    pre = np.concatenate([draws[:, :n_pre], np.zeros((len(draws), 1))], axis=1)
    m = np.abs(np.diff(pre, axis=1)).max(axis=1)
    return draws[:, n_pre:] @ lvec, m * rm_weight(lvec)


def rm_moments(n_pre: int, n_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """Rows of A_s for Delta^RM_{s,sign}(Mbar) that involve post periods (columns: pre, then post periods;
    the reference period dropped), as HonestDiD's ``.create_A_RM`` with ``postPeriodMomentsOnly``."""
    n = n_pre + n_post + 1
    diff = np.zeros((n - 1, n))
    diff[np.arange(n - 1), np.arange(n - 1)] = -1.0
    diff[np.arange(n - 1), np.arange(1, n)] = 1.0
    v = np.zeros(n)
    v[n_pre + s - 1], v[n_pre + s] = -1.0, 1.0  # the first difference into period s (s = 0: into the reference)
    if not positive:
        v = -v
    bound = np.vstack([np.tile(v, (n_pre, 1)), np.tile(mbar * v, (n_post, 1))])
    a = np.vstack([diff - bound, -diff - bound])
    a = np.delete(a[(a**2).sum(axis=1) > 1e-10], n_pre, axis=1)
    return a[np.abs(a[:, n_pre:]).sum(axis=1) > 0]


def feasible(n_post: int) -> bool:
    """Whether the dual vertices can be enumerated: 2 n_post post moments, bases of n_post rows."""
    return math.comb(2 * n_post, n_post) <= MAX_BASES


def _gamma(lvec: np.ndarray) -> np.ndarray:
    """A nonsingular matrix whose first row is l' (completed with unit vectors, as HonestDiD's RREF does)."""
    rows = [lvec]
    for j in range(len(lvec)):
        e = np.eye(len(lvec))[j]
        if np.linalg.matrix_rank(np.vstack([*rows, e])) > len(rows):
            rows.append(e)
        if len(rows) == len(lvec):
            break
    return np.vstack(rows)


def _dual_vertices(w: np.ndarray) -> np.ndarray | None:
    """Vertices of {gamma >= 0: gamma' w = e1} (rows), from every basis of k+1 rows of w; None if too many.

    The first column (standard deviations, in the data's units) is scaled to at most 1 first, and bases are
    kept when |det| is not negligible relative to the product of their row norms, so the enumeration does
    not depend on the outcome's units."""
    m, k1 = w.shape
    if math.comb(m, k1) > MAX_BASES:
        return None
    scale = float(np.abs(w[:, 0]).max()) or 1.0
    w = np.column_stack([w[:, 0] / scale, w[:, 1:]])
    combos = np.array(list(itertools.combinations(range(m), k1)))
    wb = w[combos]  # (n, k1, k1)
    size = np.prod(np.linalg.norm(wb, axis=2), axis=1)
    ok = np.abs(np.linalg.det(wb)) > 1e-10 * np.where(size > 0, size, 1.0)
    combos, wb = combos[ok], wb[ok]
    rhs = np.zeros((len(wb), k1, 1))
    rhs[:, 0, 0] = 1.0
    lam = np.linalg.solve(np.transpose(wb, (0, 2, 1)), rhs)[:, :, 0]
    keep = (lam >= -1e-12).all(axis=1)
    verts = np.zeros((int(keep.sum()), m))
    np.put_along_axis(verts, combos[keep], np.clip(lam[keep], 0.0, None), axis=1)
    return np.unique(np.round(verts, 12), axis=0) / scale


def _truncnorm_quantile(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    from scipy import stats

    return stats.truncnorm.ppf(p, lo, hi)


def normal_draws(seed: int) -> Callable[[np.ndarray], np.ndarray]:
    """LF_SIMS draws of N(0, S) for a (possibly singular) covariance S, from a fresh generator each call (so
    every (s, sign) piece uses the same underlying normals, as HonestDiD re-seeds each call)."""
    normals: dict[int, np.ndarray] = {}  # the same draws for every piece of a given size: generated once

    def draw(cov: np.ndarray) -> np.ndarray:
        vals, vecs = np.linalg.eigh(cov)
        root = (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T
        z = normals.get(len(cov))
        if z is None:
            z = normals[len(cov)] = np.random.default_rng(seed).standard_normal((LF_SIMS, len(cov)))
        return z @ root
    return draw


def _accept_grid(beta: np.ndarray, sigma: np.ndarray, a: np.ndarray, lvec: np.ndarray, n_pre: int,
                 grid: np.ndarray, alpha: float, lf_normals: Callable[[np.ndarray], np.ndarray]
                 ) -> np.ndarray | None:
    """Accept (True) / reject for each theta of ``grid`` under the moments ``a`` (one (s, sign));
    ``lf_normals(S)`` draws the mean-zero moments that give the least-favourable critical value."""
    kappa = alpha / 10
    mod_size = (alpha - kappa) / (1 - kappa)
    a_inv = a[:, n_pre:] @ np.linalg.inv(_gamma(lvec))
    a_theta, x = a_inv[:, 0], a_inv[:, 1:]
    y0 = a @ beta
    sig_y = a @ sigma @ a.T
    sd = np.sqrt(np.clip(np.diag(sig_y), 1e-300, None))
    w = np.column_stack([sd, x])
    verts = _dual_vertices(w)
    if verts is None or len(verts) == 0:
        return None
    k1 = w.shape[1]
    # least-favourable critical value: eta of mean-zero normal moments (sig_y is singular in general)
    lf_cv = float(np.quantile((lf_normals(sig_y) @ verts.T).max(axis=1), 1 - kappa))
    # with nuisance parameters V_up is capped at the least-favourable critical value; HonestDiD's
    # no-nuisance test (one post period) does not cap it
    cap = lf_cv if k1 > 1 else np.inf
    vy = (verts @ y0)[:, None] - np.outer(verts @ a_theta, grid)  # (n_vertices, grid)
    best = vy.argmax(axis=0)
    eta = vy[best, np.arange(len(grid))]
    accept = np.zeros(len(grid), dtype=bool)
    second = eta <= lf_cv  # the first stage rejects the rest
    for b in np.unique(best[second]):
        cols = np.flatnonzero(second & (best == b))
        g = verts[b]
        y = y0[:, None] - np.outer(a_theta, grid[cols])  # (M, n_cols)
        sigma_b = math.sqrt(max(float(g @ sig_y @ g), 0.0))
        if sigma_b < 1e-10:
            accept[cols] = eta[cols] <= 0
            continue
        binding = g > TOL_LAMBDA
        xb = x[binding]
        degenerate = binding.sum() != k1 or (xb.size and np.linalg.matrix_rank(xb) < min(xb.shape))
        if not degenerate:  # ARP's primal truncation, conditioning on the binding moments
            wb_inv = np.linalg.inv(w[binding])
            gam = np.zeros((int((~binding).sum()), len(g)))
            gam[:, binding] = w[~binding] @ wb_inv
            gam[:, ~binding] -= np.eye(int((~binding).sum()))
            rho = gam @ sig_y @ g / sigma_b**2
            with np.errstate(divide="ignore", invalid="ignore"):
                bound = (-(gam @ y)) / rho[:, None] + (g @ y)[None, :]
            vlo = np.max(np.where(rho[:, None] > 0, bound, -np.inf), axis=0, initial=-np.inf)
            vup = np.min(np.where(rho[:, None] < 0, bound, np.inf), axis=0, initial=np.inf)
        else:  # dual truncation: the range of c over which g stays an optimal vertex of max gamma'(s + b c)
            bvec = sig_y @ g / sigma_b**2
            s_t = y - np.outer(bvec, g @ y)
            vb = verts @ bvec
            vs = verts @ s_t  # (n_vertices, n_cols)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = vs / (1.0 - vb)[:, None]
            vlo = np.max(np.where((vb < 1 - 1e-12)[:, None], ratio, -np.inf), axis=0, initial=-np.inf)
            vup = np.min(np.where((vb > 1 + 1e-12)[:, None], ratio, np.inf), axis=0, initial=np.inf)
            low0 = np.minimum(-100.0, eta[cols] - 20 * sigma_b)  # R's bisection treats bounds beyond these as
            high0 = np.maximum(100.0, eta[cols] + 20 * sigma_b)  # infinite
            vlo = np.where(vlo < low0, -np.inf, vlo)
            vup = np.where(vup > high0, np.inf, vup)
        stat = eta[cols] / sigma_b
        zlo, zup = vlo / sigma_b, np.minimum(vup, cap) / sigma_b
        inside = (zlo <= stat) & (stat <= zup)
        cval = np.zeros(len(cols))
        if inside.any():
            cval[inside] = np.maximum(0.0, _truncnorm_quantile(1 - mod_size, zlo[inside], zup[inside]))
        accept[cols] = ~inside | (stat <= cval)
    return accept


@dataclass(frozen=True)
class RmInterval:
    lower: float
    upper: float
    note: str | None = None  # the grid had to be widened, or the interval is open at a grid end


def rm_interval(beta: np.ndarray, sigma: np.ndarray, n_pre: int, lvec: np.ndarray, mbar: float, alpha: float,
                seed: int, lf_normals: Callable[[np.ndarray], np.ndarray] | None = None) -> RmInterval | None:
    """The C-LF robust interval for l'tau_post under Delta^RM(mbar); None if the bases are too many.

    The grid is HonestDiD's (+/- 20 sd of l'beta_post). When the accepted set touches a grid end or is
    empty (a precise estimate far from zero, or a wide identified set), the grid is widened around the
    identified set and the test repeated, and the interval says so; if it still touches an end it is
    reported as open there. BLAS runs on one thread: the products are 10,000 x (a few) x (a few), where a
    second thread costs far more than it gains (20 ms instead of 0.5 ms a product on a busy machine)."""
    from cpeval.estimation.demean import one_blas_thread

    with one_blas_thread():
        return _rm_interval(beta, sigma, n_pre, lvec, mbar, alpha, seed, lf_normals)


def _rm_interval(beta: np.ndarray, sigma: np.ndarray, n_pre: int, lvec: np.ndarray, mbar: float, alpha: float,
                 seed: int, lf_normals: Callable[[np.ndarray], np.ndarray] | None) -> RmInterval | None:
    n_post = len(lvec)
    sd_theta = math.sqrt(float(lvec @ sigma[n_pre:, n_pre:] @ lvec))
    draws = lf_normals or normal_draws(seed)
    pieces = [rm_moments(n_pre, n_post, mbar, s, positive) for s in range(-(n_pre - 1), 1)
              for positive in (True, False)]
    centre, per_mbar = rm_bounds(beta[None, :], n_pre, lvec)  # the identified set is centre -/+ mbar * per_mbar
    theta, half_set = float(centre[0]), mbar * float(per_mbar[0])
    lo, hi = -GRID_SDS * sd_theta, GRID_SDS * sd_theta
    note = None
    for widen in range(4):
        grid = np.linspace(lo, hi, GRID_POINTS)
        union = np.zeros(len(grid), dtype=bool)
        for a in pieces:
            acc = _accept_grid(beta, sigma, a, lvec, n_pre, grid, alpha, draws)
            if acc is None:
                return None
            union |= acc
        if union.any() and not union[0] and not union[-1]:
            break
        width = GRID_SDS * sd_theta * 2.0 ** (widen + 1)
        lo = min(lo, theta - half_set - width)
        hi = max(hi, theta + half_set + width)
        note = "grid widened beyond HonestDiD's +/- 20 sd"
    if not union.any():
        return RmInterval(math.nan, math.nan, "no value of the target is accepted on the grid")
    hit = np.flatnonzero(union)
    if union[0] or union[-1]:
        note = f"open at the {'lower' if union[0] else 'upper'} end of the grid (the interval is wider)"
    return RmInterval(float(grid[hit[0]]), float(grid[hit[-1]]), note)
