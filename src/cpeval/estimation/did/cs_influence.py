"""Influence functions of Callaway & Sant'Anna's ATT(g,t) and of linear aggregates of them.

An aggregate's influence function is ``inf @ coef + w * wif[class]`` (``cs_aggregate``). Two holders turn
such coefficients into what inference needs: cluster sums, their cross-products (analytic variances) and
multiplier-bootstrap draws.

- :class:`Dense` keeps the n x K cell influence functions (covariates, unbalanced panels, repeated
  cross-sections: the 2x2 estimators of ``cs_drdid``).
- :class:`PanelMeans` is the balanced panel without covariates. Each ATT(g,t) is then a difference of
  weighted mean changes, and the influence function of unit i in cell k is ``w_i (Y_i . beta[k, h] -
  alpha[k, h])`` with h the unit's class (its cohort, or "no cohort") and Y_i its row of outcomes. Any linear
  aggregate keeps that form, so everything is computed from per-cluster sums of ``w_i x_i`` (x_i the outcome
  row in a centred basis, T + 2 numbers) and, when every cluster lies in one class (always without
  clustering), from one (T+2) x (T+2) cross-product matrix per class: no n x K matrix is ever formed.

The centred basis x_i = (Y_i - Ybar_i, Ybar_i - ybar_h, 1), with Ybar_i the unit's mean over periods and
ybar_h the class's weighted mean of those, keeps the cross-products free of the outcome's level (which
would otherwise cancel in the variance and cost precision).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from cpeval.estimation.demean import group_sums


def _cluster_count(n: int, cluster: np.ndarray | None) -> int:
    return n if cluster is None else int(cluster.max()) + 1


class Dense:
    """The n x K cell influence functions in memory."""

    def __init__(self, inf: np.ndarray, weight: np.ndarray, classes: np.ndarray, cluster: np.ndarray | None):
        self.inf, self.weight, self.classes, self.cluster = inf, weight, classes, cluster
        self.n_clusters = _cluster_count(len(weight), cluster)

    def columns(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        if coef.shape[0] == coef.shape[1] and not wif.any() and np.array_equal(coef, np.eye(len(coef))):
            return self.inf  # the cells themselves
        return self.inf @ coef + self.weight[:, None] * wif[self.classes]

    def sums(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        """Cluster sums (n_clusters x J) of the aggregates' influence functions."""
        cols = self.columns(coef, wif)
        return cols if self.cluster is None else group_sums(cols, self.cluster, self.n_clusters)

    def gram(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        """sum_c S_c S_c' (J x J)."""
        s = self.sums(coef, wif)
        return s.T @ s

    def prepare(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        return self.sums(coef, wif)

    @staticmethod
    def width(block: np.ndarray) -> int:
        return block.shape[1]

    @staticmethod
    def project(v: np.ndarray) -> np.ndarray:
        return v

    @staticmethod
    def apply(v: np.ndarray, block: np.ndarray) -> np.ndarray:
        return v @ block

    def stack(self, other: Dense) -> Dense:
        """The cell basis followed by ``other``'s (same units)."""
        return Dense(np.hstack([self.inf, other.inf]), self.weight, self.classes, self.cluster)


@dataclass(frozen=True)
class Rows:
    """Per-cluster (or per cluster and class) sums of w_i x_i of a balanced panel, and what they need."""

    z: np.ndarray  # (R, T + 2) sums of w_i x_i
    row_cluster: np.ndarray  # (R,)
    row_class: np.ndarray  # (R,)
    class_rows: list[slice]  # the block of rows of each class (rows are ordered by class)
    ybar: np.ndarray  # (H,) weighted class mean of the units' period means
    class_sums: np.ndarray  # (H, T + 2) sums of w_i x_i per class
    counts: np.ndarray  # (H,) units per class
    n: int
    n_clusters: int
    gram: np.ndarray | None  # (H, T + 2, T + 2) per class; None when a cluster spans several classes

    @property
    def weight_totals(self) -> np.ndarray:
        return self.class_sums[:, -1]

    def weighted_totals(self) -> np.ndarray:
        """(H, T) sums of w_i Y_it per class."""
        T = self.z.shape[1] - 2
        cs = self.class_sums
        return cs[:, :T] + (cs[:, T] + self.ybar * cs[:, T + 1])[:, None]


def panel_rows(Y: np.ndarray, weight: np.ndarray, classes: np.ndarray, H: int, cluster: np.ndarray | None) -> Rows:
    """Build :class:`Rows` from the units x periods outcomes, unit weights, classes 0..H-1 and clusters."""
    n, T = Y.shape
    ybar_i = Y.mean(axis=1)
    w_tot = np.bincount(classes, weights=weight, minlength=H)
    ybar = np.bincount(classes, weights=weight * ybar_i, minlength=H) / np.where(w_tot > 0, w_tot, 1.0)
    z = np.empty((n, T + 2))
    np.subtract(Y, ybar_i[:, None], out=z[:, :T])
    z[:, :T] *= weight[:, None]
    z[:, T] = weight * (ybar_i - ybar[classes])
    z[:, T + 1] = weight
    n_c = _cluster_count(n, cluster)
    # rows ordered by class (then cluster), so that each class's rows are one contiguous block (views, no
    # copies, in every product below and in every bootstrap chunk)
    if cluster is None:
        order = np.argsort(classes, kind="stable")
        z, row_cluster, row_class = z[order], order, classes[order]
    else:
        pair = classes.astype(np.int64) * n_c + cluster
        uniq, inv = np.unique(pair, return_inverse=True)
        z = group_sums(z, inv, len(uniq))
        row_cluster, row_class = uniq % n_c, uniq // n_c
    one_per_cluster = len(row_cluster) == n_c
    bounds = np.searchsorted(row_class, np.arange(H + 1))
    class_rows = [slice(int(bounds[h]), int(bounds[h + 1])) for h in range(H)]
    class_sums = np.zeros((H, T + 2))
    gram = np.zeros((H, T + 2, T + 2)) if one_per_cluster else None
    for h, r in enumerate(class_rows):
        zr = z[r]
        class_sums[h] = zr.sum(axis=0)
        if gram is not None:
            gram[h] = zr.T @ zr
    return Rows(z=z, row_cluster=row_cluster, row_class=row_class, class_rows=class_rows, ybar=ybar,
                class_sums=class_sums, counts=np.bincount(classes, minlength=H), n=n, n_clusters=n_c, gram=gram)


class PanelMeans:
    """Cell influence functions w_i (Y_i . beta[k, h_i] - alpha[k, h_i]) of a balanced panel."""

    def __init__(self, rows: Rows, beta: np.ndarray, alpha: np.ndarray):
        self.rows, self.beta, self.alpha = rows, beta, alpha
        self.n_clusters = rows.n_clusters

    def _coefficients(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        """(H, T + 2, J) coefficients of the aggregates on the rows' centred basis."""
        b = np.einsum("kht,kj->htj", self.beta, coef)
        a = np.einsum("kh,kj->hj", self.alpha, coef) - wif
        s = b.sum(axis=1)
        return np.concatenate([b, s[:, None, :], (self.rows.ybar[:, None] * s - a)[:, None, :]], axis=1)

    def sums(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        return self._sums(self._coefficients(coef, wif))

    def _sums(self, B: np.ndarray) -> np.ndarray:
        r = self.rows
        out = np.zeros((r.n_clusters, B.shape[2]))
        for h, idx in enumerate(r.class_rows):
            # a cluster has at most one row per class: no repeated index below
            out[r.row_cluster[idx]] += r.z[idx] @ B[h]
        return out

    def gram(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        B = self._coefficients(coef, wif)
        if self.rows.gram is None:
            s = self._sums(B)
            return s.T @ s
        return np.einsum("hdj,hde,hek->jk", B, self.rows.gram, B)

    def prepare(self, coef: np.ndarray, wif: np.ndarray) -> np.ndarray:
        B = self._coefficients(coef, wif)
        return B if self.rows.gram is not None else self._sums(B)

    @staticmethod
    def width(block: np.ndarray) -> int:
        return block.shape[-1]

    def project(self, v: np.ndarray) -> Any:
        """The multipliers applied to each class's rows (b x (T + 2) per class), or the multipliers
        themselves when the sums are materialised."""
        r = self.rows
        if r.gram is None:
            return v
        return [v[:, r.row_cluster[idx]] @ r.z[idx] for idx in r.class_rows]

    def apply(self, projected: Any, block: np.ndarray) -> np.ndarray:
        if self.rows.gram is None:
            return projected @ block
        return sum(p @ block[h] for h, p in enumerate(projected))

    def stack(self, other: PanelMeans) -> PanelMeans:
        return PanelMeans(self.rows, np.concatenate([self.beta, other.beta]),
                          np.concatenate([self.alpha, other.alpha]))


def change_coefficients(W: np.ndarray, t: np.ndarray, b: np.ndarray, treated: np.ndarray,
                        comparison: np.ndarray, use: np.ndarray, n: int, T: int) -> tuple[np.ndarray, np.ndarray]:
    """The weight n w_i beta[k, h] of each unit's outcome change in cell k's difference of weighted mean
    changes, per class h: n / W1 (e_t - e_b) for the treated class, -n / W0 (e_t - e_b) for comparison
    classes (W1, W0 the groups' weight totals from the class totals ``W``); zero for cells not in ``use``.
    Returns beta (K, H, T) and the scale (K, H)."""
    K, H = comparison.shape
    cells = np.arange(K)
    w1, w0 = W[treated], comparison.astype(float) @ W
    side = np.zeros((K, H))
    side[comparison] = -1.0
    side[cells, treated] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(side > 0, n / w1[:, None], n / w0[:, None]) * side
    scale = np.where(use[:, None] & (side != 0), scale, 0.0)
    beta = np.zeros((K, H, T))
    beta[cells, :, t] = scale
    beta[cells, :, b] -= scale
    return beta, scale


def mean_changes(rows: Rows, t: np.ndarray, b: np.ndarray, treated: np.ndarray, comparison: np.ndarray,
                 use: np.ndarray) -> dict[str, np.ndarray]:
    """ATT(g,t) of balanced-panel cells as differences of weighted mean changes, with their influence
    coefficients. Cell k compares period t[k] with base b[k]; ``treated[k]`` is the treated class,
    ``comparison[k]`` (H,) marks the comparison classes; cells with ``use[k]`` false get zero coefficients.

    The influence function of unit i is n w_i (dY_i - m1) / W1 for treated units and -n w_i (dY_i - m0) / W0
    for comparison units, with m1, m0 the groups' weighted mean changes."""
    K, _ = comparison.shape
    W = rows.weight_totals
    beta, scale = change_coefficients(W, t, b, treated, comparison, use, rows.n, rows.z.shape[1] - 2)
    change = rows.class_sums[:, t] - rows.class_sums[:, b]  # (H, K) sums of w_i dY_i per class
    cells = np.arange(K)
    w1, w0 = W[treated], comparison.astype(float) @ W
    with np.errstate(invalid="ignore", divide="ignore"):
        m1 = change[treated, cells] / w1
        m0 = np.einsum("kh,hk->k", comparison.astype(float), change) / w0
    alpha = np.where(scale > 0, scale * m1[:, None], np.where(scale < 0, scale * m0[:, None], 0.0))
    return {"att": m1 - m0, "beta": beta, "alpha": alpha, "w1": w1, "w0": w0,
            "n1": rows.counts[treated], "n0": comparison.astype(np.int64) @ rows.counts}
