"""Two-way fixed-effects least squares and the cluster-robust sandwiches built on it.

``fe_ols`` is the fast path of the linear DiD estimators (twfe, event study, Sun & Abraham): the outcome and
every regressor are demeaned together, once, by ``cpeval.estimation.demean.FixedEffects``; the coefficients
solve the demeaned normal equations; the cluster-robust covariance is built from each cluster's score sum.
It reproduces linearmodels ``PanelOLS`` (entity and time effects, clustered, ``debiased`` and
``group_debias``), which the tests keep as its reference. The same demeaning serves the Poisson DiD (IRLS
with unit and period effects), the wild and score bootstraps and the randomisation inference. ``fixef_k``
counts the fixed-effect parameters of the fixest / reghdfe degrees-of-freedom convention.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.estimation.demean import FixedEffects, codes_of, group_sums, one_blas_thread

if TYPE_CHECKING:
    import pandas as pd


def indicators(codes: np.ndarray, n_levels: int | None = None) -> Any:
    """Sparse n x L indicator matrix of integer codes 0..L-1."""
    from scipy import sparse

    n = len(codes)
    levels = int(codes.max()) + 1 if n_levels is None else n_levels
    return sparse.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, levels))


def _codes(effect: Any) -> np.ndarray:
    """Integer codes of a fixed effect given as codes or as a sparse indicator matrix (one 1 per row)."""
    if isinstance(effect, np.ndarray):
        return effect
    csr = effect.tocsr()
    csr.sort_indices()
    if len(csr.indices) != csr.shape[0] or not np.array_equal(np.diff(csr.indptr), np.ones(csr.shape[0], int)):
        raise ValueError("a fixed effect's indicator matrix must have exactly one entry per row")
    return csr.indices


def demean(x: np.ndarray, fe: list[Any], w: np.ndarray, tol: float = 1e-13, maxit: int = 10_000) -> np.ndarray:
    """Weighted residuals of the columns of ``x`` on the fixed effects (integer codes or sparse indicator
    matrices); see :class:`cpeval.estimation.demean.FixedEffects`."""
    return FixedEffects([_codes(d) for d in fe], w, tol=tol, maxit=maxit).demean(x)


def cluster_influence(xt: np.ndarray, w: np.ndarray, resid: np.ndarray, clusters: np.ndarray,
                      bread: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's influence on the coefficients: (labels, G x K matrix (X~'WX~)^-1 s_g), with scores
    s_g = sum_{i in g} X~_i w_i e_i. Its cross-product ``infl.T @ infl`` is the CR0 sandwich.
    ``bread``: (X~'WX~)^-1 when already computed."""
    if bread is None:
        bread = np.linalg.pinv(xt.T @ (w[:, None] * xt))
    g, labels = codes_of(clusters, labels=True)
    sg = group_sums(xt * (w * resid)[:, None], g, len(labels))
    return labels, sg @ bread


@dataclass(frozen=True)
class RowLeverage:
    """Each row's weight in the coefficients, c_i = (X~'WX~)^-1 x~_i w_i (beta - b = sum_i c_i e_i), kept
    factorised as ``rows`` (W X~, n x K: an array, or an operator with ``@``) times ``right`` (the bread,
    K x K, or the bread times a linear map of the coefficients), so that ``lev @ a`` and ``lev[:, idx]``
    cost O(nK), not O(nK^2)."""

    rows: np.ndarray
    right: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows.shape[0], self.right.shape[1]

    def __matmul__(self, a: Any) -> Any:
        a = np.asarray(a, dtype=float)
        if a.ndim == 1:
            return self.rows @ (self.right @ a)
        return RowLeverage(self.rows, self.right @ a)

    def __getitem__(self, key: tuple[slice, Any]) -> RowLeverage:
        rows, cols = key
        if rows != slice(None):
            raise IndexError("RowLeverage selects columns only: lev[:, columns]")
        return RowLeverage(self.rows, self.right[:, cols])

    def toarray(self) -> np.ndarray:
        return self.rows @ self.right


def row_leverage(xt: np.ndarray, w: np.ndarray, bread: np.ndarray | None = None) -> RowLeverage:
    """Each row's weight in the coefficients, (X~'WX~)^-1 x~_i w_i (n x K), as a :class:`RowLeverage`."""
    if bread is None:
        bread = np.linalg.pinv(xt.T @ (w[:, None] * xt))
    return RowLeverage(xt * w[:, None], bread)


def nested_in(codes: np.ndarray, clusters: np.ndarray) -> bool:
    """Whether every level of the fixed effect ``codes`` lies within a single cluster: each row's cluster
    equals the cluster some row of its level was seen in (one scatter and one gather, no sort)."""
    c = codes_of(clusters)
    seen = np.empty(int(codes.max()) + 1, dtype=c.dtype)
    seen[codes] = c
    return bool(np.array_equal(seen[codes], c))


def fixef_k(codes: list[np.ndarray], clusters: np.ndarray, *, nested: bool) -> int:
    """The fixed-effect parameters counted in K of the (N-1)/(N-K) correction, as R fixest counts them.

    ``codes``: integer codes 0..L-1 of each fixed effect. ``nested=False`` is fixest's ``fixef.K = "full"``
    (Stata areg, linearmodels): every level, less one per extra fixed effect, sum(L) - (F - 1).
    ``nested=True`` is fixest's default ``fixef.K = "nested"`` (Stata xtreg, fe and reghdfe): a fixed
    effect nested in the clusters keeps one of its L parameters (L - 1 are dropped), and when every fixed
    effect is nested a single parameter, the intercept, remains. Irregular (disconnected) fixed effects are
    not detected (fixest's ``fixef.force_exact = FALSE``).
    """
    sizes = [int(c.max()) + 1 for c in codes]
    full = sum(sizes) - (len(codes) - 1)
    if not nested:
        return full
    is_nested = [nested_in(c, clusters) for c in codes]
    if all(is_nested):
        return 1
    return full - sum(size - 1 for size, n in zip(sizes, is_nested, strict=True) if n)


@dataclass(frozen=True)
class PanelFit:
    params: pd.Series
    std_errors: pd.Series
    nobs: int
    n_clusters: int | None
    rsquared_within: float
    cov: pd.DataFrame | None = None  # full cluster-robust covariance of params (event studies, Wald tests)
    # each cluster's influence on the params (rows: cluster labels; CR0 cross-product), for joint uncertainty
    influence: pd.DataFrame | None = None
    # each row's weight in the params, (X~'WX~)^-1 x~_i w_i (rows of the frame, columns of params), for the
    # effective clusters
    leverage: RowLeverage | None = None


ABSORBED_TOL = 1e-5  # share of a regressor's norm left after the effects below which it counts as absorbed


def absorbed_columns(gram: np.ndarray, norms: np.ndarray) -> list[int]:
    """Regressors (in order) with less than ``ABSORBED_TOL`` of their weighted norm ``norms`` left once the
    fixed effects (``gram`` = X~'WX~) and the retained regressors before them are removed, as linearmodels
    judges absorbed or collinear columns."""
    kept: list[int] = []
    out: list[int] = []
    for j in range(gram.shape[0]):
        left = gram[j, j]
        if kept:
            g = gram[np.ix_(kept, kept)]
            left -= float(gram[j, kept] @ np.linalg.solve(g, gram[kept, j]))
        if not np.sqrt(max(left, 0.0)) >= ABSORBED_TOL * norms[j]:
            out.append(j)
        else:
            kept.append(j)
    return out


def _r2_within(fe: FixedEffects, y: np.ndarray, fitted: np.ndarray) -> float:
    """linearmodels' ``rsquared_within``: R^2 of the weighted unit-demeaned regression (unit effects only)."""
    w = fe.w
    ye = fe.within(y, 0)
    ve = fe.within(y - fitted, 0)
    total, y_ss = float(w @ ye**2), float(w @ y**2)
    if total <= (max(len(y), 100) * np.finfo(float).eps) ** 2 * y_ss:
        return float("nan")
    return 1.0 - float(w @ ve**2) / total


def fe_ols(frame: pd.DataFrame, *, unit: str, time: str, y: str, x: list[str], weights: str | None, cluster: str,
           dof: str = "all", values: Any = None) -> PanelFit:
    """Two-way (unit and period) fixed-effects least squares with cluster-robust errors.

    ``values``: the regressors (n x len(x), an array or a scipy sparse matrix) when they are not columns of
    ``frame`` (event-time indicators), named by ``x``. ``dof``: the (N-1)/(N-K) correction's K counts the
    regressors plus ``fixef_k`` fixed-effect parameters: 'all' every level (linearmodels PanelOLS with
    ``debiased=True``, Stata areg), 'nested' fixest's default count (Stata xtreg, fe / reghdfe), 'none' no
    such correction; always times G/(G-1).
    Raises ValueError when a regressor is absorbed by the effects, or with fewer than 2 clusters. BLAS runs on
    one thread: the products here are tall and thin, where a second thread spinning on a busy machine costs
    far more than it gains.
    """
    with one_blas_thread():
        return _fe_ols(frame, unit=unit, time=time, y=y, x=x, weights=weights, cluster=cluster, dof=dof,
                       values=values)


@dataclass(frozen=True)
class _Structure:
    """Everything of a two-way least-squares fit that does not depend on the outcome: the fixed effects'
    factorisation, the demeaned regressors (factored), their Gram matrix and its inverse, the clusters and
    the small-sample scale. Several outcomes on the same rows, weights and regressors share one."""

    fe: FixedEffects
    xs: Any  # the regressors (n x K, array or sparse CSC)
    rows: Any  # X~: TwoWayParts (exact two-way solve) or the dense demeaned array
    gram: np.ndarray
    bread: np.ndarray
    cluster_codes: np.ndarray
    cluster_labels: np.ndarray
    scale: float


_REUSE: ContextVar[dict[tuple[Any, ...], _Structure] | None] = ContextVar("cpeval_fe_reuse", default=None)
REUSE_ENTRIES = 4  # structures kept in one reuse scope (oldest dropped first)


@contextmanager
def reuse_demeaning() -> Iterator[None]:
    """Within this block, fits on the same rows, weights, clusters and regressors (the outcomes of one design
    on one panel) share the demeaned regressors: the fixed effects are factorised and the regressors swept
    once. The key is the rows' labels and the values of the unit, period, weight and cluster columns and of
    the regressors, so a fit whose sample, weights, clusters or regressors differ in any value builds its own;
    outside any block nothing is kept."""
    token = _REUSE.set({})
    try:
        yield
    finally:
        _REUSE.reset(token)


def _digest(*arrays: Any) -> tuple[Any, ...]:
    """A fingerprint of arrays for the reuse key: dtype, shape and two checksums of the bytes (CRC-32 and
    Adler-32, 5-10 ms for 8 MB, a fifth of a cryptographic hash: the key only tells apart the few fits of one
    scope, never data from an untrusted source)."""
    import zlib

    out: list[Any] = []
    for a in arrays:
        arr = np.ascontiguousarray(a)
        if arr.dtype == object:  # labels such as strings: one 64-bit hash per value, vectorised
            import pandas as pd

            arr = pd.util.hash_array(arr.ravel())
        buf = arr.view(np.uint8).ravel()
        out.append((arr.dtype.str, arr.shape, zlib.crc32(buf), zlib.adler32(buf)))
    return tuple(out)


def _hashable(column: pd.Series) -> np.ndarray:
    """A column's values as a plain array for :func:`_digest`: numeric and datetime columns as they are, text
    and other labels as one 64-bit hash per value (pandas hashes Arrow-backed strings without Python objects)."""
    import pandas as pd

    if isinstance(column.dtype, np.dtype) and column.dtype != object:
        return column.to_numpy()
    return pd.util.hash_pandas_object(column, index=False).to_numpy()


def _structure_key(frame: pd.DataFrame, xv: Any, *parts: Any) -> tuple[Any, ...]:
    import pandas as pd
    from scipy import sparse

    index = frame.index
    rows = (index.start, index.stop, index.step) if isinstance(index, pd.RangeIndex) else _digest(index.to_numpy())
    if sparse.issparse(xv):
        csc = sparse.csc_matrix(xv)
        values = _digest(csc.indptr, csc.indices, csc.data, np.asarray(csc.shape))
    else:
        values = _digest(np.asarray(xv, dtype=float))
    return (*parts, rows, values)


def _structure(frame: pd.DataFrame, *, unit: str, time: str, x: list[str], weights: str | None, cluster: str,
               dof: str, xv: Any) -> _Structure:
    u, t = codes_of(frame[unit].to_numpy()), codes_of(frame[time].to_numpy())
    w = frame[weights].to_numpy(dtype=float) if weights else np.ones(len(frame))
    fe = FixedEffects([u, t], w)
    from scipy import sparse

    xs = _sparse_if_thin(xv)  # 0/1 event-time indicators: sparse
    is_sparse = sparse.issparse(xs)
    # X~ is never formed when the two-way solve is exact: it is X - h[unit] - g[period] (FixedEffects.parts),
    # and X~'WX~ = X'WX~, X~'Wy~ = X'Wy~ and the cluster scores follow from sparse sums
    rows: Any = fe.parts(xs) if fe.exact else fe.demean(xs.toarray() if is_sparse else xs)
    if fe.exact:
        gram = rows.cross(w)
    else:
        gram = rows.T @ (rows * w[:, None])
        gram = (gram + gram.T) / 2
    norms = np.sqrt(np.asarray(xs.multiply(xs).T @ w).ravel()) if is_sparse else np.sqrt(w @ xs**2)
    lost = absorbed_columns(gram, norms)
    if lost:
        raise ValueError("absorbed by the fixed effects or collinear with other regressors: "
                         + ", ".join(x[j] for j in lost))
    c, labels = codes_of(frame[cluster].to_numpy(), labels=True)
    n, g = len(frame), len(labels)
    if g < 2:
        raise ValueError("a clustered covariance requires at least two clusters")
    scale = g / (g - 1)
    if dof != "none":
        k = len(x) + fixef_k([u, t], c, nested=dof == "nested")
        if n - k <= 0:
            raise ValueError(f"no residual degrees of freedom: {n} observations and {k} parameters")
        scale *= (n - 1) / (n - k)
    return _Structure(fe=fe, xs=xs, rows=rows, gram=gram, bread=np.linalg.inv(gram), cluster_codes=c,
                      cluster_labels=labels, scale=scale)


def _fe_ols(frame: pd.DataFrame, *, unit: str, time: str, y: str, x: list[str], weights: str | None, cluster: str,
            dof: str, values: Any) -> PanelFit:
    import pandas as pd

    xv = frame[x].to_numpy(dtype=float) if values is None else values
    cache = _REUSE.get()
    key = None
    if cache is not None:
        columns = dict.fromkeys([unit, time, cluster, *([weights] if weights else [])])  # cluster is often unit
        key = _structure_key(frame, xv, unit, time, weights, cluster, dof, tuple(x),
                             _digest(*(_hashable(frame[c]) for c in columns)))
    st = cache.get(key) if cache is not None else None
    if st is None:
        st = _structure(frame, unit=unit, time=time, x=x, weights=weights, cluster=cluster, dof=dof, xv=xv)
        if cache is not None:
            while len(cache) >= REUSE_ENTRIES:
                del cache[next(iter(cache))]
            cache[key] = st
    fe, xs, rows, w = st.fe, st.xs, st.rows, st.fe.w
    yv = frame[y].to_numpy(dtype=float)
    yt = fe.demean(yv)
    beta = np.linalg.solve(st.gram, np.asarray(xs.T @ (w * yt)).ravel())
    fitted = np.asarray(xs @ beta).ravel()
    resid = fe.demean(yv - fitted)  # = y~ - X~ beta
    c, labels = st.cluster_codes, st.cluster_labels
    g = len(labels)
    we = w * resid
    scores = rows.group_scores(we, c, g) if fe.exact else group_sums(rows * we[:, None], c, g)
    infl = scores @ st.bread
    cov = st.scale * (infl.T @ infl)
    cov = (cov + cov.T) / 2
    return PanelFit(
        params=pd.Series(beta, index=x),
        std_errors=pd.Series(np.sqrt(np.diag(cov)), index=x),
        nobs=len(frame),
        n_clusters=g,
        rsquared_within=_r2_within(fe, yv, fitted),
        cov=pd.DataFrame(cov, index=x, columns=x),
        influence=pd.DataFrame(infl, index=pd.Index(labels, name=cluster), columns=x),
        leverage=RowLeverage(_Weighted(rows, w), st.bread),
    )


class _Weighted:
    """W X~ as an operator: ``@ v`` is w * (X~ @ v), for X~ an array or ``TwoWayParts``."""

    def __init__(self, rows: Any, w: np.ndarray):
        self.rows, self.w = rows, w

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.w), (self.rows.h.shape[1] if hasattr(self.rows, "h") else self.rows.shape[1])

    def __matmul__(self, v: np.ndarray) -> np.ndarray:
        r = self.rows @ v
        return r * (self.w if r.ndim == 1 else self.w[:, None])


def _sparse_if_thin(x: Any) -> Any:
    """``x`` as a sparse CSC matrix when it is sparse already or at most a fifth of it is non-zero (event-time
    indicators), else as a float array."""
    from scipy import sparse

    if sparse.issparse(x):
        return sparse.csc_matrix(x, dtype=float)
    x = np.asarray(x, dtype=float)
    if x.size and np.count_nonzero(x) <= 0.2 * x.size:
        return sparse.csc_matrix(x)
    return x
