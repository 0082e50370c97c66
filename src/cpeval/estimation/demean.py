"""Sweeping out fixed effects: one factorisation per fixed-effect structure, reused for every column.

``FixedEffects(codes, weights)`` holds the integer codes of each fixed effect and the observation weights;
``demean(x)`` returns the weighted least-squares residuals of the columns of ``x`` on the dummies of every
fixed effect. The work is done by ``np.bincount`` sums and gathers, never by a loop over groups:

- one fixed effect: x minus its weighted group mean (exact);
- two fixed effects, the smaller with at most ``EXACT_LEVELS`` levels (unit x period panels): exact, by
  concentrating out the large effect. With ``a`` the large and ``b`` the small effect, ``M_a`` the weighted
  within-``a`` transformation and ``S = D_a' W D_b`` (levels of a x levels of b), the small effect solves the
  normal equations ``(diag(D_b' W 1) - S' diag(1 / D_a' W 1) S) g = D_b' W M_a x`` (a system of the small
  effect's size, factorised once), and the residual is ``M_a (x - g[b])``. In a balanced, unweighted panel
  this is the textbook sweep ``x - unit mean - period mean + grand mean``; unbalanced and weighted panels
  are handled exactly too, in one pass, with no convergence tolerance;
- otherwise: alternating projections (each fixed effect's weighted means swept in turn) until the largest
  mean removed in a sweep is below ``tol`` times the scale of the data.

Columns are processed in blocks of ``BLOCK`` so that the temporary arrays stay a few columns wide.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cpeval.errors import EstimationError

EXACT_LEVELS = 2_000  # largest size of the smaller of two fixed effects solved exactly (a dense square system)
BLOCK = 8  # columns demeaned together


def group_sums(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum ``values`` (N, or N x m) within each code 0..n_groups-1, by ``np.bincount`` column by column."""
    if values.ndim == 1:
        return np.bincount(codes, weights=values, minlength=n_groups)
    out = np.empty((n_groups, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_groups)
    return out


def one_blas_thread() -> Any:
    """Context in which BLAS uses one thread (tall, thin products on a shared machine)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def codes_of(values: np.ndarray, *, labels: bool = False) -> Any:
    """Integer codes 0..L-1 of any hashable labels, in the sorted order of the labels (as ``np.unique``), by
    hashing rather than sorting; with ``labels=True`` also the sorted labels, as ``(codes, labels)``."""
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(values).ravel(), sort=True)
    if (codes < 0).any():
        raise ValueError("labels must not be missing")
    codes = codes.astype(np.intp, copy=False)
    return (codes, np.asarray(uniques)) if labels else codes


class FixedEffects:
    """A fixed-effect structure: integer codes (0..L-1) of each effect and the observation weights.

    Build it once and call :meth:`demean` for as many columns as needed (outcomes, the treatment,
    event-time indicators, covariates); the factorisation is shared.
    """

    def __init__(self, codes: Sequence[np.ndarray], weights: np.ndarray | None = None, *, tol: float = 1e-13,
                 maxit: int = 10_000):
        if not codes:
            raise ValueError("FixedEffects needs at least one fixed effect")
        self.codes = [np.asarray(c, dtype=np.intp).ravel() for c in codes]
        self.n = len(self.codes[0])
        self.sizes = [int(c.max()) + 1 if len(c) else 0 for c in self.codes]
        self.w = np.ones(self.n) if weights is None else np.asarray(weights, dtype=float).ravel()
        self.tol, self.maxit = tol, maxit
        self._sums = [self._safe(np.bincount(c, weights=self.w, minlength=s))
                      for c, s in zip(self.codes, self.sizes, strict=True)]
        self._exact = len(self.codes) == 2 and min(self.sizes) <= EXACT_LEVELS
        if self._exact:
            self._factorise()

    @staticmethod
    def _safe(sums: np.ndarray) -> np.ndarray:
        """Group weight totals with empty (zero-weight) groups set to 1, so their mean is 0, not NaN."""
        return np.where(sums > 0, sums, 1.0)

    def _factorise(self) -> None:
        from scipy import sparse

        big, small = (0, 1) if self.sizes[0] >= self.sizes[1] else (1, 0)
        self._big, self._small = big, small
        a, b = self.codes[big], self.codes[small]
        la, lb = self.sizes[big], self.sizes[small]
        s = sparse.csr_matrix((self.w, (a, b)), shape=(la, lb))  # S = D_a' W D_b (duplicates summed)
        self._s = s
        scaled = sparse.diags(1.0 / self._sums[big]) @ s
        gram = np.diag(np.bincount(b, weights=self.w, minlength=lb)) - (s.T @ scaled).toarray()
        # the system is singular (the two effects share the constant; more if the panel is disconnected):
        # the pseudo-inverse gives one solution, and every solution leaves the same residual
        self._ginv = np.linalg.pinv(gram, rcond=1e-11, hermitian=True) if lb else np.zeros((0, 0))

    @property
    def exact(self) -> bool:
        """Whether :meth:`parts` applies (two effects, the smaller solved exactly)."""
        return self._exact

    def parts(self, x: Any) -> TwoWayParts:
        """The two-way residual of ``x`` (n x m, dense or scipy sparse) in factored form, x - h[a] - g[b]
        (``a`` the large effect, ``b`` the small), without forming the dense n x m residual: for 0/1
        indicator columns everything downstream then costs O(nnz + levels x m)."""
        from scipy import sparse

        if not self._exact:
            raise ValueError("FixedEffects.parts needs two fixed effects with an exact solve")
        big, small = self._big, self._small
        a, b = self.codes[big], self.codes[small]
        rows = np.arange(self.n)
        wa = sparse.csr_matrix((self.w, (a, rows)), shape=(self.sizes[big], self.n))
        wb = sparse.csr_matrix((self.w, (b, rows)), shape=(self.sizes[small], self.n))
        xa = _dense(wa @ x)  # D_a' W x
        xb = _dense(wb @ x)  # D_b' W x
        m = xa / self._sums[big][:, None]
        g = self._ginv @ (xb - self._s.T @ m)
        h = m - (self._s @ g) / self._sums[big][:, None]
        return TwoWayParts(x=x, h=h, g=g, a=a, b=b, xa=xa, xb=xb)

    def _within(self, x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """x minus its weighted means within fixed effect ``k`` (and those means, levels x m)."""
        c = self.codes[k]
        means = group_sums(self.w[:, None] * x, c, self.sizes[k]) / self._sums[k][:, None]
        return x - means[c], means

    def demean(self, x: np.ndarray) -> np.ndarray:
        """Weighted residuals of ``x`` (N or N x m) on the fixed effects; a new array of x's shape."""
        arr = np.asarray(x, dtype=float)
        if arr.shape[0] != self.n:
            raise ValueError(f"x has {arr.shape[0]} rows; the fixed effects have {self.n}")
        flat = arr.ndim == 1
        arr2 = arr[:, None] if flat else arr
        out = np.empty(arr2.shape)
        for start in range(0, arr2.shape[1], BLOCK):
            block = arr2[:, start:start + BLOCK]
            out[:, start:start + BLOCK] = self._demean_block(block)
        return out[:, 0] if flat else out

    def _demean_block(self, x: np.ndarray) -> np.ndarray:
        if len(self.codes) == 1:
            return self._within(x, 0)[0]
        if self._exact:
            big, small = self._big, self._small
            xa = self._within(x, big)[0]
            rhs = group_sums(self.w[:, None] * xa, self.codes[small], self.sizes[small])
            g = self._ginv @ rhs  # small-effect coefficients (levels of b x m)
            ga = (self._s @ g) / self._sums[big][:, None]  # weighted mean of g[b] within each level of a
            return xa - g[self.codes[small]] + ga[self.codes[big]]
        return self._alternate(x)

    def _alternate(self, x: np.ndarray) -> np.ndarray:
        out = np.array(x, dtype=float, copy=True)
        scale = max(float(np.abs(out).max()) if out.size else 0.0, 1.0)
        for _ in range(self.maxit):
            change = 0.0
            for k in range(len(self.codes)):
                out, means = self._within(out, k)
                change = max(change, float(np.abs(means).max()) if means.size else 0.0)
            if change <= self.tol * scale:
                return out
        raise EstimationError("the fixed effects could not be swept out (alternating projections did not converge)")

    def within(self, x: np.ndarray, k: int = 0) -> np.ndarray:
        """``x`` (N or N x m) minus its weighted means within fixed effect ``k`` alone."""
        arr = np.asarray(x, dtype=float)
        res = self._within(arr[:, None] if arr.ndim == 1 else arr, k)[0]
        return res[:, 0] if arr.ndim == 1 else res


def _dense(m: Any) -> np.ndarray:
    return np.asarray(m.toarray() if hasattr(m, "toarray") else m, dtype=float)


class TwoWayParts:
    """``x~ = x - h[a] - g[b]``: a two-way residual kept as the original columns ``x`` (dense or sparse) and
    the effects' coefficients ``h`` (levels of a x m) and ``g`` (levels of b x m); ``xa`` = D_a' W x and
    ``xb`` = D_b' W x, the weighted sums of x by level."""

    def __init__(self, *, x: Any, h: np.ndarray, g: np.ndarray, a: np.ndarray, b: np.ndarray, xa: np.ndarray,
                 xb: np.ndarray):
        self.x, self.h, self.g, self.a, self.b, self.xa, self.xb = x, h, g, a, b, xa, xb
        self._plan: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        """x~ @ v (v: m or m x k), in O(nnz + n k)."""
        v = np.asarray(v, dtype=float)
        return _dense(self.x @ v) - (self.h @ v)[self.a] - (self.g @ v)[self.b]

    def cross(self, w: np.ndarray) -> np.ndarray:
        """x~' W x~ (m x m), as x' W x~ = x'Wx - xa' h - xb' g (x~ is orthogonal to the effects)."""
        from scipy import sparse

        x = self.x
        xwx = _dense(x.T @ x.multiply(w[:, None])) if sparse.issparse(x) else x.T @ (x * w[:, None])
        out = xwx - self.xa.T @ self.h - self.xb.T @ self.g
        return (out + out.T) / 2

    def group_scores(self, we: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
        """sum over the rows of each group of x~_i (w e)_i (groups x m), from sparse sums of ``we`` by (group,
        row), (group, level of a) and (group, level of b): no n x m array is formed. The three sparse
        matrices share one pattern (rows sorted by group), built on the first call for ``codes`` and reused
        for every later ``we`` (the outcomes of a design)."""
        from scipy import sparse

        n = len(we)
        if self._plan is None or self._plan[0] is not codes:
            perm = np.argsort(codes, kind="stable")
            indptr = np.zeros(n_groups + 1, dtype=np.int64)
            np.cumsum(np.bincount(codes, minlength=n_groups), out=indptr[1:])
            self._plan = (codes, perm, indptr, self.a[perm], self.b[perm])
        _, perm, indptr, a_sorted, b_sorted = self._plan
        data = we[perm]  # duplicated (group, level) entries are summed by the products
        by_row = sparse.csr_matrix((data, perm, indptr), shape=(n_groups, n))
        by_a = sparse.csr_matrix((data, a_sorted, indptr), shape=(n_groups, self.h.shape[0]))
        by_b = sparse.csr_matrix((data, b_sorted, indptr), shape=(n_groups, self.g.shape[0]))
        return _dense(by_row @ self.x) - by_a @ self.h - by_b @ self.g
