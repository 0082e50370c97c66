"""Aggregating group-time ATTs (simple, dynamic, group, calendar) with influence-function inference.

Follows R ``did::aggte``: every aggregate is a weighted average of ATT(g,t) whose weights are estimated
cohort shares; its influence function is the weighted average of the cells' influence functions plus the
estimation effect of the weights (``wif``), so analytic standard errors account for both. The multiplier
bootstrap perturbs the (cluster-summed) influence functions with Rademacher or Mammen weights; standard
errors are the bootstrap's interquartile range / 1.349 and uniform bands use the max-t critical value, as
R's ``mboot`` does.

An aggregate is held in coefficient form: ``coef`` (K x J) weights the K cells' influence functions and
``wif`` (H x J) is the weights' estimation effect, which for unit i is ``w_i * wif[class of i]`` (classes:
the cohorts of ``glist`` in order, then one class for units in no cohort). The influence functions
themselves live in an :class:`Influence` (``cs_influence``), which turns coefficients into cluster sums,
variances and bootstrap draws without forming n x J matrices where it can.

Clustering sums the influence functions within clusters: the analytic variance is sum_c S_c^2 / n^2 and
the bootstrap draws one multiplier per cluster for S_c. (R ``did`` perturbs cluster *means* and rescales by
the number of clusters, which coincides with this when clusters are of equal size.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from cpeval.estimation.demean import group_sums


@dataclass(frozen=True)
class Cells:
    """Group-time ATTs and everything needed to aggregate them."""

    group: np.ndarray  # (K,) cohort of each cell
    time: np.ndarray  # (K,) period of each cell
    event: np.ndarray  # (K,) event time t - g (in period units)
    att: np.ndarray  # (K,) NaN where a cell could not be estimated
    # influence functions, att - ATT ~ mean over the n sampling units: a dense (n, K) array, or a
    # cs_influence.PanelMeans that holds them in factored form
    inf: Any
    unit_group: np.ndarray  # (n,) cohort of each sampling unit (0 = comparison only)
    unit_weight: np.ndarray  # (n,) sampling weight of each unit
    glist: np.ndarray  # cohorts

    @cached_property
    def unit_cohort_index(self) -> np.ndarray:
        """Position of each unit's cohort in ``glist``; len(glist) for units outside every cohort."""
        return cohort_index(self.glist, self.unit_group)

    @property
    def n_classes(self) -> int:
        return len(self.glist) + 1


def cohort_index(glist: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Position of each value of ``groups`` in ``glist``; len(glist) for values outside it."""
    pos = np.minimum(np.searchsorted(glist, groups), len(glist) - 1)
    return np.where(glist[pos] == groups, pos, len(glist))


@dataclass
class Aggregate:
    """One aggregation: per-element estimates (event times, cohorts, periods) and an overall estimate, with
    their influence functions in coefficient form (see the module docstring)."""

    name: str
    labels: np.ndarray
    estimates: np.ndarray
    coef: np.ndarray  # (K, len(labels))
    wif: np.ndarray  # (H, len(labels))
    overall: float
    overall_coef: np.ndarray  # (K,)
    overall_wif: np.ndarray  # (H,)
    extra: dict = field(default_factory=dict)


def _group_shares(cells: Cells) -> np.ndarray:
    """P(G = g) per cohort, with sampling weights (R's pg)."""
    idx = cells.unit_cohort_index
    return np.bincount(idx, weights=cells.unit_weight, minlength=len(cells.glist) + 1)[:-1] / len(idx)


def _weights_if(cells: Cells, groups: np.ndarray, pg_item: np.ndarray, att_item: np.ndarray) -> np.ndarray:
    """Estimation effect of the cohort-share weights (R aggte's ``wif @ att``) per class, for the weighted
    average of items (cells, or cohorts) of the given cohorts, shares and estimates.

    Per unit it is (w_i a_i - P) / s - (w_i c_i - s) P / s^2 with s the sum of the shares, P the
    share-weighted sum of the estimates, a_i the sum of the estimates and c_i the number of items of unit i's
    cohort; the terms without w_i cancel, leaving w_i (a_i / s - c_i P / s^2)."""
    H = cells.n_classes
    pos = np.searchsorted(cells.glist, groups)
    a_by_class = np.bincount(pos, weights=att_item, minlength=H)
    c_by_class = np.bincount(pos, minlength=H).astype(float)
    s = pg_item.sum()
    return a_by_class / s - c_by_class * (pg_item @ att_item) / s**2


def _weighted(cells: Cells, keep: np.ndarray, pg: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Share-weighted average of the cells ``keep``: estimate, cell coefficients (K,) and wif (H,)."""
    pg_cell = pg[np.searchsorted(cells.glist, cells.group[keep])]
    weights = pg_cell / pg_cell.sum()
    att_keep = cells.att[keep]
    coef = np.zeros(len(cells.att))
    coef[keep] = weights
    return float(weights @ att_keep), coef, _weights_if(cells, cells.group[keep], pg_cell, att_keep)


def _usable(cells: Cells) -> np.ndarray:
    return np.isfinite(cells.att)


def _columns(cells: Cells, parts: list[tuple[float, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, ...]:
    if not parts:
        return np.array([]), np.zeros((len(cells.att), 0)), np.zeros((cells.n_classes, 0))
    est, coef, wif = zip(*parts, strict=True)
    return np.array(est), np.column_stack(coef), np.column_stack(wif)


def simple(cells: Cells) -> Aggregate:
    pg = _group_shares(cells)
    keep = np.flatnonzero((cells.group <= cells.time) & _usable(cells))
    est, coef, wif = _weighted(cells, keep, pg)
    empty, c0, w0 = _columns(cells, [])
    return Aggregate("simple", empty, empty, c0, w0, est, coef, wif)


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
    parts = [_weighted(cells, np.flatnonzero((cells.event == e) & include & ok), pg) for e in eseq]
    est_e, coef, wif = _columns(cells, parts)
    post = eseq >= 0
    if post.any():
        overall = float(est_e[post].mean())
        o_coef, o_wif = coef[:, post].mean(axis=1), wif[:, post].mean(axis=1)
    else:
        overall, o_coef, o_wif = float("nan"), np.zeros(len(cells.att)), np.zeros(cells.n_classes)
    return Aggregate("dynamic", eseq, est_e, coef, wif, overall, o_coef, o_wif, {"balance_e": balance_e})


def group(cells: Cells) -> Aggregate:
    pg = _group_shares(cells)
    ok = _usable(cells)
    parts, labels, shares = [], [], []
    for gi, g in enumerate(cells.glist):
        keep = np.flatnonzero((cells.group == g) & (cells.time >= g) & ok)
        if len(keep) == 0:
            continue
        coef = np.zeros(len(cells.att))
        coef[keep] = 1 / len(keep)
        parts.append((float(cells.att[keep].mean()), coef, np.zeros(cells.n_classes)))
        labels.append(g)
        shares.append(pg[gi])
    est_g, coef_g, wif_g = _columns(cells, parts)
    pgg = np.array(shares)
    overall = float(pgg @ est_g / pgg.sum())
    # the estimation effect of the cohort shares, treating each cohort as one "cell"
    wif = _weights_if(cells, np.array(labels), pgg, est_g)
    return Aggregate("group", np.array(labels), est_g, coef_g, wif_g, overall, coef_g @ (pgg / pgg.sum()), wif)


def calendar(cells: Cells) -> Aggregate:
    pg = _group_shares(cells)
    ok = _usable(cells)
    parts, labels = [], []
    for t in np.unique(cells.time[cells.time >= cells.glist.min()]):
        keep = np.flatnonzero((cells.time == t) & (cells.group <= t) & ok)
        if len(keep) == 0:
            continue
        parts.append(_weighted(cells, keep, pg))
        labels.append(t)
    est_t, coef, wif = _columns(cells, parts)
    return Aggregate("calendar", np.array(labels), est_t, coef, wif, float(est_t.mean()), coef.mean(axis=1),
                     wif.mean(axis=1))


AGGREGATIONS = ("simple", "dynamic", "group", "calendar")


# ---------------------------------------------------------------------------------------------- inference


def cluster_sums(inf: np.ndarray, cluster: np.ndarray | None) -> np.ndarray:
    """Influence functions summed within clusters (rows = clusters); unchanged without clustering."""
    if cluster is None:
        return inf
    return group_sums(inf, cluster, int(cluster.max()) + 1)


def analytic_se(sums: np.ndarray, n: int) -> np.ndarray:
    """sqrt(sum_c S_c^2) / n: the influence-function (cluster-robust) standard error."""
    return se_from_squares(np.einsum("ij,ij->j", sums, sums), n)


def se_from_squares(squares: np.ndarray, n: int) -> np.ndarray:
    """sqrt(squares) / n, NaN where it is zero up to rounding (a degenerate column)."""
    se = np.sqrt(np.maximum(squares, 0.0)) / n
    return np.where(se <= np.sqrt(np.finfo(float).eps) * 10, np.nan, se)


# multipliers drawn at once (reps x clusters), to keep the bootstrap's memory bounded for any number of clusters
DRAW_BUDGET = 1 << 22


def multiplier_bootstrap(
    influence: Any, blocks: list[Any], n: int, reps: int, rng: np.random.Generator, kind: str = "rademacher",
    chunk: int = 200,
) -> list[np.ndarray]:
    """Draws of estimate* - estimate, one (reps, K_b) array per block: (1/n) sum_c V_c S_c, with the same
    iid multipliers V_c for every block (so draws are joint). ``blocks`` are prepared by
    ``influence.prepare``; ``influence.project`` and ``influence.apply`` compute V S without S where they can.

    Multipliers are drawn ``chunk`` replications at a time (fewer, and an even number, when the clusters are
    many, so that a chunk holds at most ``DRAW_BUDGET`` draws; the stream of draws does not depend on the
    chunking)."""
    n_c = influence.n_clusters
    out = [np.empty((reps, influence.width(b))) for b in blocks]
    chunk = max(2, min(chunk, (DRAW_BUDGET // max(n_c, 1)) // 2 * 2))
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
        projected = influence.project(v)
        for o, block in zip(out, blocks, strict=True):
            o[start : start + b] = influence.apply(projected, block) / n
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
