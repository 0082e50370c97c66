"""Aggregating group-time ATTs (simple, dynamic, group, calendar) with influence-function inference.

Follows R ``did::aggte``: every aggregate is a weighted average of ATT(g,t) whose weights are estimated
cohort shares; its influence function is the weighted average of the cells' influence functions plus the
estimation effect of the weights (``wif``), so analytic standard errors account for both. The multiplier
bootstrap perturbs the (cluster-summed) influence functions with Rademacher or Mammen weights; standard
errors are the bootstrap's interquartile range / 1.349 and uniform bands use the max-t critical value, as
R's ``mboot`` does.

Clustering sums the influence functions within clusters: the analytic variance is sum_c S_c^2 / n^2 and
the bootstrap draws one multiplier per cluster for S_c. (R ``did`` perturbs cluster *means* and rescales by
the number of clusters, which coincides with this when clusters are of equal size.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Cells:
    """Group-time ATTs and everything needed to aggregate them."""

    group: np.ndarray  # (K,) cohort of each cell
    time: np.ndarray  # (K,) period of each cell
    event: np.ndarray  # (K,) event time t - g (in period units)
    att: np.ndarray  # (K,) NaN where a cell could not be estimated
    inf: np.ndarray  # (n, K) influence functions: att - ATT ~ mean over the n sampling units
    unit_group: np.ndarray  # (n,) cohort of each sampling unit (0 = comparison only)
    unit_weight: np.ndarray  # (n,) sampling weight of each unit
    glist: np.ndarray  # cohorts

    @cached_property
    def unit_cohort_index(self) -> np.ndarray:
        """Position of each unit's cohort in ``glist``; len(glist) for units outside every cohort."""
        pos = np.searchsorted(self.glist, self.unit_group)
        pos = np.minimum(pos, len(self.glist) - 1)
        return np.where(self.glist[pos] == self.unit_group, pos, len(self.glist))


@dataclass
class Aggregate:
    """One aggregation: per-element estimates (event times, cohorts, periods) and an overall estimate."""

    name: str
    labels: np.ndarray
    estimates: np.ndarray
    inf: np.ndarray  # (n, len(labels))
    overall: float
    overall_inf: np.ndarray  # (n,)
    extra: dict = field(default_factory=dict)


def _group_shares(cells: Cells) -> np.ndarray:
    """P(G = g) per cohort, with sampling weights (R's pg)."""
    idx = cells.unit_cohort_index
    return np.bincount(idx, weights=cells.unit_weight, minlength=len(cells.glist) + 1)[:-1] / len(idx)


def _weights_if(cells: Cells, keep: np.ndarray, pg_cell: np.ndarray, att_keep: np.ndarray) -> np.ndarray:
    """Estimation effect of the cohort-share weights, ``wif @ att`` of R's aggte, in O(n)."""
    w = cells.unit_weight
    s = pg_cell.sum()
    # per cohort: the sum of the kept cells' ATTs and the number of kept cells (last slot: no cohort)
    gpos = np.searchsorted(cells.glist, cells.group[keep])
    a_by_g = np.bincount(gpos, weights=att_keep, minlength=len(cells.glist) + 1)
    c_by_g = np.bincount(gpos, minlength=len(cells.glist) + 1).astype(float)
    a_unit = a_by_g[cells.unit_cohort_index]
    c_unit = c_by_g[cells.unit_cohort_index]
    term1 = (w * a_unit - pg_cell @ att_keep) / s
    term2 = (w * c_unit - s) * (pg_cell @ att_keep) / s**2
    return term1 - term2


def _weighted(cells: Cells, keep: np.ndarray, pg: np.ndarray, with_wif: bool = True) -> tuple[float, np.ndarray]:
    pg_cell = pg[np.searchsorted(cells.glist, cells.group[keep])]
    weights = pg_cell / pg_cell.sum()
    att_keep = cells.att[keep]
    est = float(weights @ att_keep)
    inf = cells.inf[:, keep] @ weights
    if with_wif:
        inf = inf + _weights_if(cells, keep, pg_cell, att_keep)
    return est, inf


def _usable(cells: Cells) -> np.ndarray:
    return np.isfinite(cells.att)


def simple(cells: Cells) -> Aggregate:
    pg = _group_shares(cells)
    keep = np.flatnonzero((cells.group <= cells.time) & _usable(cells))
    est, inf = _weighted(cells, keep, pg)
    return Aggregate("simple", np.array([]), np.array([]), np.zeros((len(inf), 0)), est, inf)


def dynamic(cells: Cells, balance_e: int | None = None, t_first: float = 0, t_last: float = 0,
            min_e: float = -np.inf, max_e: float = np.inf) -> Aggregate:
    """Event-time averages of ATT(g,t) (R did's aggte type "dynamic"): cohorts observed at least ``balance_e``
    periods after adoption only, if given; event times in [min_e, max_e] only; the overall effect averages
    the kept event times >= 0."""
    pg = _group_shares(cells)
    ok = _usable(cells)
    include = np.ones(len(cells.att), bool)
    eseq = np.unique(cells.event[ok])
    if balance_e is not None:
        include = (t_last - cells.group) >= balance_e
        eseq = np.unique(cells.event[ok & include])
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t_last + t_first)]
    eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
    ests, infs = [], []
    for e in eseq:
        keep = np.flatnonzero((cells.event == e) & include & ok)
        est, inf = _weighted(cells, keep, pg)
        ests.append(est)
        infs.append(inf)
    est_e = np.array(ests)
    inf_e = np.column_stack(infs) if infs else np.zeros((len(cells.unit_weight), 0))
    post = eseq >= 0
    overall = float(est_e[post].mean()) if post.any() else float("nan")
    overall_inf = inf_e[:, post].mean(axis=1) if post.any() else np.zeros(len(cells.unit_weight))
    return Aggregate("dynamic", eseq, est_e, inf_e, overall, overall_inf, {"balance_e": balance_e})


def group(cells: Cells) -> Aggregate:
    pg = _group_shares(cells)
    ok = _usable(cells)
    ests, infs, labels, shares = [], [], [], []
    for gi, g in enumerate(cells.glist):
        keep = np.flatnonzero((cells.group == g) & (cells.time >= g) & ok)
        if len(keep) == 0:
            continue
        ests.append(float(cells.att[keep].mean()))
        infs.append(cells.inf[:, keep].mean(axis=1))
        labels.append(g)
        shares.append(pg[gi])
    est_g, inf_g = np.array(ests), np.column_stack(infs)
    pgg = np.array(shares)
    overall = float(pgg @ est_g / pgg.sum())
    # the estimation effect of the cohort shares, treating each cohort as one "cell"
    sub = Cells(
        group=np.array(labels), time=np.array(labels), event=np.zeros(len(labels)), att=est_g, inf=inf_g,
        unit_group=cells.unit_group, unit_weight=cells.unit_weight, glist=np.array(labels),
    )
    wif = _weights_if(sub, np.arange(len(labels)), pgg, est_g)
    overall_inf = inf_g @ (pgg / pgg.sum()) + wif
    return Aggregate("group", np.array(labels), est_g, inf_g, overall, overall_inf)


def calendar(cells: Cells) -> Aggregate:
    pg = _group_shares(cells)
    ok = _usable(cells)
    periods = np.unique(cells.time[cells.time >= cells.glist.min()])
    ests, infs, labels = [], [], []
    for t in periods:
        keep = np.flatnonzero((cells.time == t) & (cells.group <= t) & ok)
        if len(keep) == 0:
            continue
        est, inf = _weighted(cells, keep, pg)
        ests.append(est)
        infs.append(inf)
        labels.append(t)
    est_t, inf_t = np.array(ests), np.column_stack(infs)
    return Aggregate("calendar", np.array(labels), est_t, inf_t, float(est_t.mean()), inf_t.mean(axis=1))


AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


# ---------------------------------------------------------------------------------------------- inference


def cluster_sums(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Influence functions summed within clusters (rows = clusters); unchanged without clustering."""
    if cluster is None:
        return inf
    n_c = int(cluster.max()) + 1
    if inf.ndim == 1:
        return np.bincount(cluster, weights=inf, minlength=n_c)
    out = np.zeros((n_c, inf.shape[1]))
    np.add.at(out, cluster, inf)
    return out


def analytic_se(sums: np.ndarray, n: int) -> np.ndarray:
    """sqrt(sum_c S_c^2) / n: the influence-function (cluster-robust) standard error."""
    se = np.sqrt(np.einsum("ij,ij->j", sums, sums)) / n
    return np.where(se <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se)


def multiplier_bootstrap(
    blocks: list[np.ndarray], n: int, reps: int, rng: np.random.Generator, kind: str = "rademacher",
    chunk: int = 200,
) -> list[np.ndarray]:
    """Draws of estimate* - estimate, one (reps, K_b) array per block of cluster-summed influence functions:
    (1/n) sum_c V_c S_c, with the same iid multipliers V_c for every block (so draws are joint)."""
    n_c = blocks[0].shape[0]
    out = [np.empty((reps, b.shape[1])) for b in blocks]
    if kind == "mammen":
        s5 = np.sqrt(5.0)
        values = np.array([(1 - s5) / 2, (1 + s5) / 2])
        p_first = (s5 + 1) / (2 * s5)
    for start in range(0, reps, chunk):
        b = min(chunk, reps - start)
        if kind == "mammen":
            v = np.where(rng.random((b, n_c)) < p_first, values[0], values[1])
        else:
            v = rng.integers(0, 2, size=(b, n_c)) * 2.0 - 1.0
        for o, sums in zip(out, blocks, strict=True):
            o[start : start + b] = v @ sums / n
    return out


def bootstrap_se(draws: np.ndarray) -> np.ndarray:
    """Robust bootstrap SE (interquartile range / 1.349, R's ``mboot``)."""
    from scipy.stats import norm

    q75 = np.quantile(draws, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(draws, 0.25, axis=0, method="inverted_cdf")
    se = (q75 - q25) / (norm.ppf(0.75) - norm.ppf(0.25))
    return np.where(se <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se)


def uniform_critical_value(draws: np.ndarray, se: np.ndarray, level: float) -> float:
    """Sup-t critical value of a simultaneous band over the columns with a positive SE."""
    ok = np.isfinite(se)
    if not ok.any():
        return float("nan")
    t = np.max(np.abs(draws[:, ok] / se[ok]), axis=1)
    return float(np.quantile(t[np.isfinite(t)], level, method="inverted_cdf"))
