"""Wild (cluster) bootstrap tests of one linear restriction, and the score bootstrap for Poisson.

Linear models (``LinearWildTest``): the fixed effects are partialled out first (Frisch-Waugh-Lovell: y and the
regressors demeaned by unit and period with the observation weights), so the test works on y~ = X~ b + u with
k regressors. The null R'b = r is imposed (restricted estimate b~(r), residuals u~(r)); bootstrap samples are
y* = X~ b~ + u~ v_h with one auxiliary weight v_h per bootstrap group h, and each one's t statistic is
(R'b* - r) / se*(R'b*) with the same cluster-robust variance (clustered by g) and small-sample factor as the
analytic test. The bootstrap groups are the clusters (the wild cluster bootstrap, WCR) or, in MacKinnon &
Webb's (2018) subcluster wild bootstrap, finer groups inside them, down to one weight per row (the ordinary
wild bootstrap); the variance stays clustered either way. Unrestricted (WCU) resampling uses the
unrestricted residuals and centres t* on the estimate.

The fast algorithm of Roodman, MacKinnon, Nielsen & Webb (2019), for any bootstrap groups: with S_h the
groups' scores X~_h'u~_h, A = (X~'X~)^-1, a_h = R'A S_h, W_hg = R'A X~_gh'u~_gh (the rows of group h in
cluster g; a sparse H x G matrix) and Q_g = X~_g'X~_g A R, a replication's numerator is sum_h v_h a_h and
cluster g's contribution to the variance is sum_h v_h W_hg - Q_g' A sum_h v_h S_h; so all B replications are
a few matrix products with a B x H weight matrix, chunked for memory. Because u~(r) is affine in r, the
numerator is affine and the squared standard error quadratic in r: five numbers per replication give t*(r)
for every r, and the confidence set is found by root finding on the bootstrap p-value function (test
inversion, as ``boottest`` does) at O(B) per evaluation.

Weights: Rademacher (+-1) or Webb's six-point law (+-sqrt(1/2), +-1, +-sqrt(3/2)); ``auto`` takes Webb when
there are at most ``WEBB_MAX_CLUSTERS`` bootstrap groups, where Rademacher weights give too few distinct draws
(Webb 2023; MacKinnon & Webb 2018), and Rademacher otherwise. With Rademacher weights and 2^H <= the
replications requested (H bootstrap groups), every one of the 2^H sign vectors is used once (full
enumeration, no simulation noise), as ``boottest`` does. The p-value is symmetric, the share of |t*| strictly
above |t| (ties, such as the all-ones weight vector that reproduces the data, do not count), as ``boottest``'s
default.

Poisson (``PoissonScoreTest``): the score bootstrap of Kline & Santos (2012). Under the null the model is
refitted with the treatment coefficient fixed (an offset); each cluster's score for that coefficient, with the
unit and period effects concentrated out, s_g = sum_i D~_i a_i (y_i - mu~_i), is perturbed (z_g = v_g s_g, or
with finer bootstrap groups z_g = sum_{h in g} v_h s_h) and the score statistic sum_g z_g /
sqrt(sum_g (z_g - mean)^2) is compared with the one from the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from cpeval.errors import EstimationError
from cpeval.estimation.demean import group_sums

WeightKind = Literal["rademacher", "webb"]
WEBB_MAX_CLUSTERS = 12
_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
_CHUNK_CELLS = 2_000_000  # weight-matrix cells per chunk (16 MB of float64)
_TIE = 1e-9  # relative tolerance below which |t*| and |t| are a tie (not counted as more extreme)


def choose_weights(setting: str, n_clusters: int) -> WeightKind:
    """The auxiliary weight law for ``setting`` ('auto', 'rademacher' or 'webb') with ``n_clusters``."""
    if setting == "auto":
        return "webb" if n_clusters <= WEBB_MAX_CLUSTERS else "rademacher"
    if setting not in ("rademacher", "webb"):
        raise ValueError(f"unknown bootstrap weights {setting!r}; expected auto, rademacher or webb")
    return setting  # type: ignore[return-value]


def enumerates(kind: WeightKind, n_clusters: int, replications: int) -> bool:
    """Whether every Rademacher sign vector is used once instead of random draws."""
    return kind == "rademacher" and n_clusters < 63 and 2**n_clusters <= replications


def weight_chunks(kind: WeightKind, n_clusters: int, replications: int, seed: int):
    """Yield the B x G auxiliary weight matrix in row chunks (all 2^G sign vectors when enumerating)."""
    g = n_clusters
    rows = max(1, _CHUNK_CELLS // max(g, 1))
    if enumerates(kind, g, replications):
        total = 2**g
        bits = np.arange(g, dtype=np.int64)
        for start in range(0, total, rows):
            idx = np.arange(start, min(start + rows, total), dtype=np.int64)
            yield ((idx[:, None] >> bits[None, :]) & 1).astype(float) * 2.0 - 1.0
        return
    rng = np.random.default_rng(seed)
    for start in range(0, replications, rows):
        n = min(rows, replications - start)
        if kind == "rademacher":
            v = rng.integers(0, 2, size=(n, g)).astype(float)
            v *= 2.0
            v -= 1.0
            yield v
        else:
            yield _WEBB[rng.integers(0, 6, size=(n, g))]


@dataclass(frozen=True)
class BootTest:
    """A bootstrap test of one restriction and its inverted confidence set."""

    statistic: float  # the data's t (or score) statistic at the null value
    p_value: float
    conf_int: tuple[float, float]
    replications: int  # bootstrap draws used (2^G when enumerated)
    weights: WeightKind
    enumerated: bool
    n_clusters: int
    null: float = 0.0


def _p_from(tstar: np.ndarray, t: float) -> float:
    """Share of bootstrap statistics strictly more extreme than ``t`` in absolute value (ties excluded)."""
    bound = abs(t) * (1.0 + _TIE) + _TIE * 1e-3
    with np.errstate(invalid="ignore"):
        return float(np.mean(np.abs(tstar) > bound))


def invert(pfun, center: float, scale: float, alpha: float, tol: float = 1e-10) -> tuple[float, float]:
    """The confidence set {r: p(r) > alpha} around ``center`` by stepping out and bisecting each bound.

    ``pfun(r)`` is the bootstrap p-value of the null value r; ``scale`` sets the step (an analytic SE).
    A bound that is never crossed is infinite (Webb weights with very few clusters can give unbounded sets).
    """
    if not (math.isfinite(scale) and scale > 0):
        scale = max(abs(center), 1.0)
    alpha += 1e-12  # a p-value equal to the level rejects (1 - 0.95 is 0.04999... in floating point)
    steps = np.concatenate([np.arange(0.25, 20.0001, 0.25), 20.0 * 2.0 ** np.arange(1, 40)])
    bounds = []
    for sign in (-1.0, 1.0):
        inside, outside = center, None
        for s in steps:
            r = center + sign * s * scale
            if pfun(r) <= alpha:
                outside = r
                break
            inside = r
        if outside is None:
            bounds.append(sign * math.inf)
            continue
        lo, hi = inside, outside
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if pfun(mid) <= alpha:
                hi = mid
            else:
                lo = mid
            if abs(hi - lo) <= tol * max(scale, abs(center) * 1e-3):
                break
        bounds.append(0.5 * (lo + hi))
    return bounds[0], bounds[1]


class LinearWildTest:
    """Wild bootstrap of R'b = r in y = X b + u (fixed effects already partialled out), clustered variance.

    ``y`` (N), ``x`` (N x k) demeaned; ``restriction`` R (k); ``clusters`` labels (N) of the cluster-robust
    variance; ``obs_weights`` analytic weights (N, optional); ``small`` the small-sample factor of the
    cluster-robust variance (it scales the reported t, never the p-value).

    ``bootcluster`` labels (N) the groups that share one auxiliary weight (default: the clusters, the wild
    cluster bootstrap). Finer groups inside the clusters give MacKinnon & Webb's (2018) subcluster wild
    bootstrap; one group per row is the ordinary wild bootstrap. The variance stays clustered by ``clusters``.
    ``restricted`` imposes the null on the residuals (WCR); otherwise the unrestricted residuals are
    resampled and t* is centred on the estimate (WCU).
    """

    def __init__(self, y: np.ndarray, x: np.ndarray, restriction: np.ndarray, clusters: np.ndarray, *,
                 obs_weights: np.ndarray | None = None, small: float = 1.0, bootcluster: np.ndarray | None = None,
                 restricted: bool = True):
        x = np.asarray(x, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        sw = np.sqrt(np.ones(len(y)) if obs_weights is None else np.asarray(obs_weights, dtype=float))
        self.xw = x * sw[:, None]
        self.yw = np.asarray(y, dtype=float) * sw
        self.R = np.asarray(restriction, dtype=float)
        labels, self.codes = np.unique(np.asarray(clusters), return_inverse=True)
        self.G = len(labels)
        if self.G < 2:
            raise EstimationError("the wild cluster bootstrap needs at least 2 clusters")
        if bootcluster is None:
            self.bcodes, self.H = self.codes, self.G
        else:
            blabels, self.bcodes = np.unique(np.asarray(bootcluster), return_inverse=True)
            self.H = len(blabels)
        self.restricted = bool(restricted)
        self.small = float(small)
        xtx = self.xw.T @ self.xw
        self.A = np.linalg.pinv(xtx)
        self.beta = self.A @ (self.xw.T @ self.yw)
        self.RA = self.A @ self.R
        self.estimate = float(self.R @ self.beta)
        resid = self.yw - self.xw @ self.beta
        a_hat = group_sums(self.xw * resid[:, None], self.codes, self.G) @ self.RA
        self.cr0_variance = float(a_hat @ a_hat)
        rar = float(self.R @ self.RA)
        if not rar > 0:
            raise EstimationError("the tested combination of coefficients is not identified")
        if self.restricted:  # u~(r) = u0 + r u1
            h = self.xw @ self.RA / rar
            self._u0, self._u1 = resid + h * self.estimate, -h
        else:  # the unrestricted residuals, whatever r
            self._u0, self._u1 = resid, np.zeros(len(resid))
        self._coef: np.ndarray | None = None  # 5 x B: n0, n1, q00, q01, q11

    @property
    def std_error(self) -> float:
        """The cluster-robust SE of R'b with the small-sample factor ``small``."""
        return math.sqrt(self.small * self.cr0_variance)

    def t_stat(self, r: float) -> float:
        return (self.estimate - r) / self.std_error if self.std_error > 0 else math.nan

    def _maps(self, u: np.ndarray) -> tuple[np.ndarray, Any, np.ndarray]:
        """(a, W, S) for residuals u: a_h = R'A S_h with S_h the bootstrap group's scores (H x k), and the sparse
        H x G matrix W with W_hg = R'A X_gh'u_gh over the rows of bootstrap group h in cluster g."""
        from scipy import sparse

        s = group_sums(self.xw * u[:, None], self.bcodes, self.H)
        cell = np.asarray(self.xw @ self.RA) * u
        w = sparse.csr_matrix((cell, (self.bcodes, self.codes)), shape=(self.H, self.G))
        return s @ self.RA, w, s

    def _prepare(self, kind: WeightKind, replications: int, seed: int) -> None:
        from scipy import sparse

        # cluster g's contribution to R'A X'u* is sum_h v_h W_hg - (X_g'X_g A R)' A sum_h v_h S_h
        qa = group_sums(self.xw * (self.xw @ self.RA)[:, None], self.codes, self.G) @ self.A  # G x k
        a0, w0, s0 = self._maps(self._u0)
        a1, w1, s1 = self._maps(self._u1)
        g, k = self.G, s0.shape[1]
        # one pass over each chunk of weights for the dense products and one for the sparse ones
        dense = np.column_stack([a0, a1, s0, s1])  # H x (2 + 2k)
        both = sparse.hstack([w0, w1], format="csc").T.tocsr()  # 2G x H
        parts = []
        for v in weight_chunks(kind, self.H, replications, seed):
            d = v @ dense
            e = np.asarray(both @ v.T).T  # B x 2G
            e0 = e[:, :g] - d[:, 2:2 + k] @ qa.T
            e1 = e[:, g:] - d[:, 2 + k:] @ qa.T
            parts.append(np.vstack([d[:, 0], d[:, 1], (e0 * e0).sum(1), (e0 * e1).sum(1), (e1 * e1).sum(1)]))
        self._coef = np.hstack(parts)

    def boot_t(self, r: float) -> np.ndarray:
        assert self._coef is not None
        n0, n1, q00, q01, q11 = self._coef
        den2 = self.small * (q00 + 2 * r * q01 + r * r * q11)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (n0 + r * n1) / np.sqrt(np.clip(den2, 0.0, None))

    def p_value(self, r: float) -> float:
        return _p_from(self.boot_t(r), self.t_stat(r))

    def run(self, *, null: float = 0.0, level: float = 0.95, replications: int = 9999, weights: str = "auto",
            seed: int = 0) -> BootTest:
        kind = choose_weights(weights, self.H)
        self._prepare(kind, replications, seed)
        assert self._coef is not None
        ci = invert(self.p_value, self.estimate, self.std_error, 1 - level)
        return BootTest(self.t_stat(null), self.p_value(null), ci, self._coef.shape[1], kind,
                        enumerates(kind, self.H, replications), self.G, null)


def fe_poisson_null(y: np.ndarray, offset: np.ndarray, unit: np.ndarray, period: np.ndarray, a: np.ndarray,
                    tol: float = 1e-12, maxit: int = 5_000) -> np.ndarray:
    """Fitted means of the Poisson model with only unit and period effects and a fixed ``offset``.

    The unit and period effects solve their score equations sum a (y - mu) = 0 within each unit and period;
    alternating these closed-form updates (iterative proportional fitting) converges to the ML fit.
    """
    nu, nt = int(unit.max()) + 1, int(period.max()) + 1
    ay_u = np.bincount(unit, weights=a * y, minlength=nu)
    ay_t = np.bincount(period, weights=a * y, minlength=nt)
    lt = np.zeros(nt)
    lu = np.zeros(nu)
    base = a * np.exp(offset - offset.max())
    for _ in range(maxit):
        lu_new = np.log(ay_u) - np.log(np.bincount(unit, weights=base * np.exp(lt[period]), minlength=nu))
        lt_new = np.log(ay_t) - np.log(np.bincount(period, weights=base * np.exp(lu_new[unit]), minlength=nt))
        change = max(float(np.abs(lu_new - lu).max()), float(np.abs(lt_new - lt).max()))
        lu, lt = lu_new, lt_new
        if change < tol:
            break
    else:
        raise EstimationError("the restricted Poisson fit (unit and period effects only) did not converge")
    return np.exp(offset - offset.max() + lu[unit] + lt[period])


class PoissonScoreTest:
    """Kline & Santos (2012) score bootstrap of tau = r in the two-way fixed-effects Poisson model
    E[y] = exp(a_i + l_t + tau D_it + offset_it).

    ``bootcluster`` as in :class:`LinearWildTest`: the groups that share one weight (default the clusters);
    the perturbed scores are summed by cluster for the statistic's variance either way.
    """

    def __init__(self, y: np.ndarray, d: np.ndarray, unit: np.ndarray, period: np.ndarray, clusters: np.ndarray,
                 *, offset: np.ndarray | None = None, obs_weights: np.ndarray | None = None,
                 bootcluster: np.ndarray | None = None):
        from cpeval.estimation.fixed_effects import indicators

        self.y = np.asarray(y, dtype=float)
        self.d = np.asarray(d, dtype=float)
        self.unit = np.unique(unit, return_inverse=True)[1]
        self.period = np.unique(period, return_inverse=True)[1]
        self.fe = [indicators(self.unit), indicators(self.period)]
        self.offset = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)
        self.a = np.ones(len(y)) if obs_weights is None else np.asarray(obs_weights, dtype=float)
        labels, self.codes = np.unique(np.asarray(clusters), return_inverse=True)
        self.G = len(labels)
        if self.G < 2:
            raise EstimationError("the score bootstrap needs at least 2 clusters")
        if bootcluster is None:
            self.bcodes, self.H = self.codes, self.G
        else:
            blabels, self.bcodes = np.unique(np.asarray(bootcluster), return_inverse=True)
            self.H = len(blabels)
        # the B x H weights, as float or (``run``) as int8 positions in ``_levels``: one byte a weight, since
        # one weight per row makes the matrix as large as replications x rows
        self._v: np.ndarray | None = None
        self._levels: np.ndarray | None = None

    def _contributions(self, r: float) -> np.ndarray:
        """Each row's score for tau at the restricted fit tau = r (unit and period effects profiled out)."""
        from cpeval.estimation.fixed_effects import demean

        mu = fe_poisson_null(self.y, self.offset + r * self.d, self.unit, self.period, self.a)
        dt = demean(self.d[:, None], self.fe, self.a * mu)[:, 0]
        return dt * self.a * (self.y - mu)

    def scores(self, r: float) -> np.ndarray:
        """Each cluster's score for tau at the restricted fit tau = r."""
        return np.bincount(self.codes, weights=self._contributions(r), minlength=self.G)

    @staticmethod
    def _stat(num: Any, sq: Any, g: int) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return num / np.sqrt(np.clip(sq - num * num / g, 0.0, None))

    def t_stat(self, r: float, s: np.ndarray | None = None) -> float:
        s = self.scores(r) if s is None else s
        return float(self._stat(s.sum(), float(s @ s), self.G))

    def p_value(self, r: float) -> float:
        from scipy import sparse

        assert self._v is not None
        c = self._contributions(r)
        wt = sparse.csr_matrix((c, (self.codes, self.bcodes)), shape=(self.G, self.H))
        rows = max(1, _CHUNK_CELLS // max(self.H, 1))
        tstar = np.empty(len(self._v))
        for start in range(0, len(self._v), rows):  # memory bounded: one chunk of float weights at a time
            v = self._v[start:start + rows]
            v = v if self._levels is None else self._levels[v]
            z = np.asarray(wt @ v.T).T  # perturbed cluster scores of the chunk's replications
            tstar[start:start + rows] = self._stat(z.sum(1), (z * z).sum(1), self.G)
        return _p_from(tstar, self.t_stat(r, np.bincount(self.codes, weights=c, minlength=self.G)))

    def run(self, *, estimate: float, std_error: float, null: float = 0.0, level: float = 0.95,
            replications: int = 9999, weights: str = "auto", seed: int = 0) -> BootTest:
        kind = choose_weights(weights, self.H)
        self._levels = np.array([-1.0, 1.0]) if kind == "rademacher" else _WEBB
        self._v = np.vstack([np.searchsorted(self._levels, v).astype(np.int8)
                             for v in weight_chunks(kind, self.H, replications, seed)])
        ci = invert(self.p_value, estimate, std_error, 1 - level, tol=1e-7)
        return BootTest(self.t_stat(null), self.p_value(null), ci, self._v.shape[0], kind,
                        enumerates(kind, self.H, replications), self.G, null)
