"""Callaway & Sant'Anna (2021) group-time average treatment effects and their aggregations.

For every cohort g (units first treated in period g) and period t, ATT(g,t) compares the change in the
outcome from a base period to t of cohort g with the same change in a comparison group: never-treated
units, or units not yet treated by t (less ``anticipation`` periods). The base period is g-1-anticipation
for post-treatment cells; for pre-treatment cells it is t-1 (``base_period: varying``) or also
g-1-anticipation (``universal``, which gives a reference cell fixed at zero). Each 2x2 comparison uses
outcome regression, inverse-probability weighting or the doubly robust estimator (``approach``), with
covariates, as R ``did::att_gt`` does via ``DRDID``. Standard errors come from the influence functions
(clustered if asked); ``inference.bootstrap > 0`` adds the multiplier bootstrap with uniform bands.
A balanced panel without covariates takes a closed form with the same numbers (every cell a difference of
weighted mean changes, influence functions in factored form, ``cs_influence.PanelMeans``), so memory stays
O(units x periods) at any number of cells.

With a panel, covariates are taken from the earlier of the two periods each cell compares (the base period,
except for pre-treatment cells under a universal base period), as R ``did`` does; with repeated
cross-sections each observation brings its own values.

The headline :class:`Effect` is the aggregation the design picks; every ATT(g,t) and every aggregation are
kept in ``Effect.path`` (tidy rows, column ``kind``) and the :class:`~cpeval.payloads.GroupTimeFit` payload.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.errors import EstimationError
from cpeval.estimation.did import cs_aggregate as agg
from cpeval.estimation.did import cs_drdid, cs_influence
from cpeval.estimation.did.cs_data import CsData, number, prepare
from cpeval.estimation.did.cs_drdid import CellProblem, panel_att, rc_att
from cpeval.estimation.did.cs_percent import MEASURES, percent_change
from cpeval.estimation.inference import cluster_inference, count_clusters, make_effect, wald_interval
from cpeval.payloads import GroupTimeFit
from cpeval.results import Sampling

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.did import DidDesign
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect

SMALL_COHORT = 5
APPROACH_NAMES = {"dr": "doubly robust", "ipw": "inverse probability weighting", "reg": "outcome regression"}


def group_time_att(
    data: CsData, design: DidDesign, *, fast: bool = True
) -> tuple[agg.Cells, list[dict[str, Any]], list[str]]:
    """All ATT(g,t) with their influence functions; one Python iteration per cell, none per unit.

    A balanced panel without covariates takes the closed form of ``_mean_change_cells`` (every cell a
    difference of weighted mean changes, influence functions in factored form); ``fast=False`` sends it
    through the general 2x2 estimators instead, which give the same numbers (the reference the tests hold
    the closed form to)."""
    est = design.estimator
    delta, universal = est.anticipation, est.base_period == "universal"
    per = data.periods
    glist = np.unique(data.unit_group[data.unit_group > 0])
    if len(glist) == 0:
        raise EstimationError(
            "no treated cohort remains to estimate ATT(g,t) for"
            + (f" ({'; '.join(data.notes)})" if data.notes else "") + ": lower "
            "estimator.anticipation or add data from earlier periods, so that cohorts have a base period"
        )
    cells = _cell_list(glist, per, delta, universal)
    if fast and data.Y is not None and data.X is None:
        return _mean_change_cells(data, design, glist, cells)
    K = len(cells)
    inf = np.zeros((data.n, K), order="F")
    att = np.zeros(K)
    info: list[dict[str, Any]] = []
    problems: list[str] = []
    is_panel = data.Y is not None
    group_of = data.unit_group if is_panel else data.row_group
    assert group_of is not None
    for k, (g, ti, base) in enumerate(cells):
        row: dict[str, Any] = {"base_period": data.period_labels[ti if base < 0 else base], "n_treated": 0,
                               "n_control": 0, "reference": base < 0}
        info.append(row)
        if base < 0:
            continue
        treated = group_of == g
        control = _comparison(group_of, g, per[ti], per[base], design)
        try:
            if is_panel:
                idx = np.flatnonzero(treated | control)
                D = treated[idx].astype(float)
                assert data.Y is not None
                dy = data.Y[idx, ti] - data.Y[idx, base]
                X = _design_matrix(None if data.X is None else data.X[idx, min(ti, base)], len(idx))
                a, psi = panel_att(est.approach, dy, D, X, data.unit_weight[idx])
                inf[idx, k] = psi * (data.n / len(idx))
                row["n_treated"], row["n_control"] = int(D.sum()), int(len(idx) - D.sum())
            else:
                assert data.tcode is not None and data.ids is not None and data.y is not None
                in_t = (data.tcode == ti) | (data.tcode == base)
                idx = np.flatnonzero(in_t & (treated | control))
                D = treated[idx].astype(float)
                post = (data.tcode[idx] == ti).astype(float)
                X = _design_matrix(None if data.Xrow is None or not data.Xrow.shape[1] else data.Xrow[idx],
                                   len(idx))
                assert data.row_weight is not None
                a, psi = rc_att(est.approach, data.y[idx], post, D, X, data.row_weight[idx])
                inf[:, k] = np.bincount(data.ids[idx], weights=psi * (data.n / len(idx)), minlength=data.n)
                row["n_treated"] = len(np.unique(data.ids[idx][D == 1]))
                row["n_control"] = len(np.unique(data.ids[idx][D == 0]))
            if not math.isfinite(a) or not np.isfinite(psi).all():
                raise CellProblem("the estimate is not finite")
            att[k] = a
        except (CellProblem, np.linalg.LinAlgError) as exc:
            att[k] = np.nan
            inf[:, k] = 0.0
            problems.append(f"ATT(g={data.label(g)}, t={data.period_labels[ti]}) not estimated: {exc}")
    return _cells(data, glist, cells, att, inf), info, problems


def _cells(data: CsData, glist: np.ndarray, cells: list[tuple[float, int, int]], att: np.ndarray,
           inf: Any) -> agg.Cells:
    group = np.array([c[0] for c in cells])
    time = np.array([data.periods[c[1]] for c in cells])
    return agg.Cells(group=group, time=time, event=time - group, att=att, inf=inf, unit_group=data.unit_group,
                     unit_weight=data.unit_weight, glist=glist)


def _cell_arrays(data: CsData, design: DidDesign, glist: np.ndarray,
                 cells: list[tuple[float, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: period index, base index (the period itself for reference cells), treated class and the
    (K, H) comparison classes; classes are the cohorts of ``glist`` in order, then "no cohort"."""
    per = data.periods
    classes = np.append(glist, 0.0)
    t = np.array([c[1] for c in cells])
    b = np.array([c[1] if c[2] < 0 else c[2] for c in cells])
    treated = np.searchsorted(glist, [c[0] for c in cells])
    comparison = np.stack([_comparison(classes, g, per[ti], per[bi], design)
                           for (g, _, _), ti, bi in zip(cells, t, b, strict=True)])
    return t, b, treated, comparison


def _mean_change_cells(data: CsData, design: DidDesign, glist: np.ndarray,
                       cells: list[tuple[float, int, int]]) -> tuple[agg.Cells, list[dict[str, Any]], list[str]]:
    """ATT(g,t) of a balanced panel without covariates: the outcome regression, IPW and doubly robust
    estimators all reduce to the difference of the cohort's and the comparison units' weighted mean changes
    (``cs_drdid._means_panel``), with the same overlap checks for IPW and DR."""
    assert data.Y is not None
    approach = design.estimator.approach
    H = len(glist) + 1
    classes = agg.cohort_index(glist, data.unit_group)
    rows = cs_influence.panel_rows(data.Y, data.unit_weight, classes, H, data.cluster)
    t, b, treated, comparison = _cell_arrays(data, design, glist, cells)
    reference = t == b
    mc = cs_influence.mean_changes(rows, t, b, treated, comparison, ~reference)
    att = np.where(reference, 0.0, mc["att"])
    info: list[dict[str, Any]] = []
    problems: list[str] = []
    for k, (g, ti, _) in enumerate(cells):
        counts = (0, 0) if reference[k] else (int(mc["n1"][k]), int(mc["n0"][k]))
        info.append({"base_period": data.period_labels[b[k]], "n_treated": counts[0], "n_control": counts[1],
                     "reference": bool(reference[k])})
        if reference[k]:
            continue
        st, sc = mc["w1"][k], mc["w0"][k]
        share = st / (st + sc) if sc > 0 else 1.0
        if sc <= 0:
            problem = "no comparison units"
        elif approach != "reg" and share >= cs_drdid.OVERLAP_LIMIT:
            problem = f"overlap fails: the treated share of the cell is {share:.4f}"
        elif approach != "reg" and share >= cs_drdid.TRIM_LEVEL:
            problem = f"every comparison unit is trimmed (propensity score {share:.4f})"
        elif not math.isfinite(att[k]):
            problem = "the estimate is not finite"
        else:
            continue
        att[k] = np.nan
        mc["beta"][k], mc["alpha"][k] = 0.0, 0.0
        problems.append(f"ATT(g={data.label(g)}, t={data.period_labels[ti]}) not estimated: {problem}")
    return _cells(data, glist, cells, att, cs_influence.PanelMeans(rows, mc["beta"], mc["alpha"])), info, problems


def _cell_list(glist: np.ndarray, per: np.ndarray, delta: int, universal: bool) -> list[tuple[float, int, int]]:
    """The (cohort, period index, base period index; -1 = reference cell) of every ATT(g,t)."""
    cells: list[tuple[float, int, int]] = []
    for g in glist:
        base_post = int(np.flatnonzero(per + delta < g)[-1])
        for ti in range(0 if universal else 1, len(per)):
            base = base_post if per[ti] >= g or universal else ti - 1
            cells.append((g, ti, -1 if base == ti else base))
    return cells


def _comparison(group_of: np.ndarray, g: float, t: float, base: float, design: DidDesign) -> np.ndarray:
    """The comparison units of ATT(g,t): never treated, or also not yet treated by the later of the two
    periods compared (less the anticipation periods)."""
    est = design.estimator
    if est.control_group == "never_treated":
        return group_of == 0
    horizon = max(t, base) + est.anticipation
    return (group_of == 0) | ((group_of > horizon) & (group_of != g))


def unit_leverage(data: CsData, cells: agg.Cells, aggregate: agg.Aggregate, design: DidDesign) -> np.ndarray | None:
    """Each unit's weight in the headline aggregation for the effective number of clusters, sqrt(sum_t
    c_it^2), from the weight c_it of each unit-period outcome under the unconditional comparisons (each
    ATT(g,t) a weighted mean change of its cohort less that of its comparison units; with covariates, the
    design the adjustment starts from): c_it = w_i beta[h_i, t] / n with beta the aggregation's coefficients
    of ``cs_cs_influence.change_coefficients``. Balanced panels only (None otherwise)."""
    if data.Y is None:
        return None
    est = design.estimator
    spec = _cell_list(cells.glist, data.periods, est.anticipation, est.base_period == "universal")
    t, b, treated, comparison = _cell_arrays(data, design, cells.glist, spec)
    classes = cells.unit_cohort_index
    W = np.bincount(classes, weights=data.unit_weight, minlength=cells.n_classes)
    use = (t != b) & np.isfinite(cells.att)
    beta, _ = cs_influence.change_coefficients(W, t, b, treated, comparison, use, data.n, data.Y.shape[1])
    norm = np.linalg.norm(np.einsum("kht,k->ht", beta, aggregate.overall_coef), axis=1)
    return np.abs(data.unit_weight) * norm[classes] / data.n


def _influence(data: CsData, cells: agg.Cells) -> Any:
    """The holder of the cells' influence functions (``cs_influence``)."""
    if isinstance(cells.inf, cs_influence.PanelMeans):
        return cells.inf
    return cs_influence.Dense(cells.inf, cells.unit_weight, cells.unit_cohort_index, data.cluster)


def _design_matrix(x: np.ndarray | None, n: int) -> np.ndarray:
    ones = np.ones((n, 1))
    return ones if x is None else np.hstack([ones, x])


def pretest(cells: agg.Cells, gram: np.ndarray, se: np.ndarray, n: int) -> dict[str, Any]:
    """Wald test that every pre-treatment ATT(g,t) is zero (R did's pre-test), from the analytic variance.

    Cohorts of fewer than ``SMALL_COHORT`` units are left out: with so few treated units the influence
    function understates their cells' variances (a single unit's own noise is invisible to it), and the
    near-singular covariance makes the statistic explode.
    """
    from scipy import stats

    singles = [g for g in cells.glist if np.sum(cells.unit_group == g) < SMALL_COHORT]
    pre = np.flatnonzero(
        (cells.group > cells.time) & np.isfinite(se) & np.isfinite(cells.att) & ~np.isin(cells.group, singles)
    )
    if len(pre) == 0:
        return {"statistic": None, "df": 0, "p_value": None}
    a = cells.att[pre]
    V = gram[np.ix_(pre, pre)] / n**2  # gram: sum_c S_c S_c' of the cells' cluster-summed influence
    # a generalized inverse when V is (near) singular, e.g. more pre-treatment cells than clusters or
    # cohorts of a single unit; the degrees of freedom are then the rank of V
    lam, vec = np.linalg.eigh(V)
    keep = lam > lam.max() * 1e-10
    rank = int(keep.sum())
    if rank == 0:
        return {"statistic": None, "df": 0, "p_value": None}
    proj = vec[:, keep].T @ a
    w = float(np.sum(proj**2 / lam[keep]))
    out: dict[str, Any] = {"statistic": w, "df": rank, "p_value": float(stats.chi2.sf(w, rank))}
    if singles:
        out["excluded_cohorts"] = [number(g) for g in singles]
    if rank < len(pre):
        out["note"] = (
            f"the variance of the {len(pre)} pre-treatment ATT(g,t) has rank {rank}; the Wald test uses a "
            "generalized inverse with that many degrees of freedom"
        )
    return out


class CallawaySantAnna:
    """Group-time ATTs (Callaway & Sant'Anna 2021) aggregated into one headline effect."""

    method = "callaway_santanna"
    # the closed form for balanced panels without covariates (``group_time_att``); False runs the general 2x2
    # estimators instead, the reference the tests hold the closed form to
    closed_form = True

    def __init__(self, design: DidDesign):
        self.design = design

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        # Every product here is small (n x k with k = 1 + covariates, or a few hundred columns): one BLAS
        # thread is fastest, and multi-threaded BLAS on a busy machine is up to 100 times slower.
        with _one_blas_thread():
            return self._fit(panel, outcome)

    def _fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect:
        design = self.design
        est = design.estimator
        level = design.inference.level
        try:
            data = prepare(panel, outcome.column, design)
            cells, info, problems = group_time_att(data, design, fast=self.closed_form)
        except EstimationError as exc:
            raise EstimationError(f"outcome {outcome.name!r}: {exc}") from exc
        if not np.isfinite(cells.att).any():
            raise EstimationError(
                f"outcome {outcome.name!r}: no ATT(g,t) could be estimated: " + "; ".join(problems[:3])
            )
        aggregators = {
            "simple": agg.simple,
            "dynamic": functools.partial(
                agg.dynamic, balance_e=est.balance_e, t_first=data.periods[0], t_last=data.periods[-1],
                min_e=-np.inf if est.min_e is None else est.min_e, max_e=np.inf if est.max_e is None else est.max_e,
            ),
            "group": agg.group,
            "calendar": agg.calendar,
        }
        aggs = {name: run(cells) for name, run in aggregators.items()}
        if est.aggregation == "dynamic" and not (aggs["dynamic"].labels >= 0).any():
            have = sorted({number(e) for e in cells.event[np.isfinite(cells.att)]})
            raise EstimationError(
                f"outcome {outcome.name!r}: the dynamic aggregation keeps no event time >= 0 (min_e {est.min_e}, "
                f"max_e {est.max_e}, balance_e {est.balance_e}); the data have event times {have}: widen the window"
            )
        # influence-function blocks: cells, the per-element aggregates, and the four overall aggregates, each
        # as coefficients on the cells' influence functions; never stacked, to keep memory at O(n K)
        inf = _influence(data, cells)
        K, H = len(cells.att), cells.n_classes
        blocks = {"att_gt": (np.eye(K), np.zeros((H, K)))}
        blocks.update({name: (a.coef, a.wif) for name, a in aggs.items() if name != "simple"})
        blocks["overall"] = (np.column_stack([a.overall_coef for a in aggs.values()]),
                             np.column_stack([a.overall_wif for a in aggs.values()]))
        grams = {name: inf.gram(*b) for name, b in blocks.items()}
        se_an = {name: agg.se_from_squares(np.diag(gm), data.n) for name, gm in grams.items()}
        boot = design.inference.bootstrap
        crit_uniform: dict[str, float] = {}
        se = se_an
        head_col = list(aggs).index(est.aggregation)
        head_draws = None
        if boot > 0:
            rng = np.random.default_rng(design.inference.seed)
            prepared = [inf.prepare(*b) for b in blocks.values()]
            draws = agg.multiplier_bootstrap(inf, prepared, data.n, boot, rng, est.bootstrap_weights)
            se = {name: agg.bootstrap_se(d) for name, d in zip(blocks, draws, strict=True)}
            for name, d in zip(blocks, draws, strict=True):
                if name != "overall":
                    crit_uniform[name] = agg.uniform_critical_value(d, se[name], level)
            head_draws = draws[-1][:, head_col] + aggs[est.aggregation].overall
        overall_se = dict(zip(aggs, se["overall"], strict=True))
        overall_se_an = dict(zip(aggs, se_an["overall"], strict=True))

        def interval(e: float, s: float, crit: float | None) -> dict[str, Any]:
            ok = math.isfinite(s) and math.isfinite(e) and s > 0
            ci = wald_interval(e, s, level, None) if ok else None
            out = {
                "estimate": e,
                "std_error": s if ok else None,
                "ci_lower": ci.lower if ci else None,
                "ci_upper": ci.upper if ci else None,
                "p_value": ci.p_value if ci else None,
            }
            if crit is not None:
                good = ok and math.isfinite(crit)
                out["band_lower"] = e - crit * s if good else None
                out["band_upper"] = e + crit * s if good else None
            return out

        path: list[dict[str, Any]] = []
        cs_se = se["att_gt"]
        for k in range(len(cells.att)):
            g, t = cells.group[k], cells.time[k]
            row = {"kind": "att_gt", "group": data.label(g), "time": data.label(t),
                   "event_time": number(cells.event[k]), "post": bool(t >= g)}
            row.update(interval(float(cells.att[k]), float(cs_se[k]), crit_uniform.get("att_gt")))
            row.update(info[k])
            path.append(row)
        key = {"dynamic": "event_time", "group": "group", "calendar": "time"}
        for name in ("dynamic", "group", "calendar"):
            a = aggs[name]
            s = se[name]
            for j, label in enumerate(a.labels):
                value = number(label) if name == "dynamic" else data.label(label)
                row = {"kind": name, key[name]: value}
                if name == "dynamic":
                    row["post"] = bool(label >= 0)
                row.update(interval(float(a.estimates[j]), float(s[j]), crit_uniform.get(name)))
                path.append(row)
        summaries: dict[str, Any] = {}
        for name, a in aggs.items():
            summary = interval(a.overall, float(overall_se[name]), None)
            summary["analytic_std_error"] = _finite(overall_se_an[name])
            summaries[name] = summary
            path.append({"kind": "overall", "aggregation": name, **summary})

        head = aggs[est.aggregation]
        head_se = float(overall_se[est.aggregation])
        if not math.isfinite(head.overall):  # a missing SE is reported as such (``cluster_inference``)
            raise EstimationError(
                f"outcome {outcome.name!r}: the {est.aggregation} aggregation is not identified "
                f"(estimate {head.overall})"
            )
        pre = pretest(cells, grams["att_gt"], se_an["att_gt"], data.n)
        pct = None
        if outcome.measure in MEASURES:
            pct = percent_change(data, cells, inf, aggregators[est.aggregation], level)
        notes = list(data.notes) + problems
        cohort_sizes = {str(data.label(g)): int(np.sum(data.unit_group == g)) for g in cells.glist}
        small = {g: m for g, m in cohort_sizes.items() if m < SMALL_COHORT}
        if small:
            notes.append(
                f"cohorts with fewer than {SMALL_COHORT} units ({', '.join(f'{g}: {m}' for g, m in small.items())}"
                "): their ATT(g,t) rest on very few treated units, and influence-function standard errors "
                "understate the uncertainty of a single treated unit (these cohorts are left out of the "
                "pre-trend Wald test)"
            )
        clustered = data.cluster is not None
        # the influence function is summed by cluster, or by sampling unit without clustering; treated: in
        # an adopting cohort
        counts = count_clusters(data.cluster if clustered else np.arange(len(data.unit_group)),
                                data.unit_group > 0, self.design.cluster_column,
                                unit_leverage(data, cells, aggs[est.aggregation], design))
        y_all = data.Y if data.Y is not None else data.y  # observed outcomes only (no missing values)
        head_se, interval, cluster_notes = cluster_inference(counts, head_se, abs(head.overall) + float(np.std(y_all)),
                                                             auto=est.capabilities.wild_bootstrap is not None)
        notes += cluster_notes
        if pre["p_value"] is not None and pre["p_value"] < 1 - level:
            notes.append(
                f"pre-treatment ATT(g,t) differ jointly from zero (Wald chi2({pre['df']}) = "
                f"{pre['statistic']:.3g}, p = {pre['p_value']:.3g}): parallel trends before adoption is "
                "doubtful, so the post-treatment effects may be biased"
            )
        vt = (
            f"influence function, clustered by {est.cluster!r}" if clustered else "influence function"
        ) + (f"; multiplier bootstrap ({boot} {est.bootstrap_weights} draws, IQR-based SE)" if boot else "")
        return GroupTimeFit.carve(make_effect(
            outcome,
            method=self.method,
            estimand="att",
            estimate=head.overall,
            std_error=head_se,
            level=level,
            df=None,
            n_obs=data.n_obs,
            n_units=data.n,
            n_clusters=data.n_clusters if clustered else None,
            variance_type=vt + "; normal reference",
            path=tuple(path),
            diagnostics={
                "aggregation": est.aggregation,
                "aggregations": summaries,
                "approach": est.approach,
                "approach_name": APPROACH_NAMES[est.approach],
                "control_group": est.control_group,
                "base_period": est.base_period,
                "anticipation": est.anticipation,
                "balance_e": est.balance_e,
                "event_window": [est.min_e, est.max_e],
                "covariates": list(est.covariates),
                "weights": design.data.weights,
                "layout": data.layout,
                "cohort_sizes": cohort_sizes,
                "never_treated_units": int(np.sum(data.unit_group == 0)),
                "periods": data.period_labels,
                "n_cells": len(cells.att),
                "cells_not_estimated": problems,
                "pretest": pre,
                "percent_change": pct,
                "bootstrap": {"reps": boot, "weights": est.bootstrap_weights, "seed": design.inference.seed,
                              "uniform_critical_values": crit_uniform} if boot else None,
            },
            payloads=(counts,),
            warnings=tuple(notes),
            interval=interval,
            sampling=self._sampling(
                data, inf.sums(*(b[:, [head_col]] for b in blocks["overall"]))[:, 0] / data.n, head_draws
            ),
        ))

    def _sampling(self, data: CsData, influence: np.ndarray, draws: np.ndarray | None) -> Sampling | None:
        """The headline's influence by cluster (or unit) and its bootstrap draws. Outcomes bootstrapped with
        the same seed, weights and clusters (in the same order) got the same multipliers: one draws key.
        Unclustered repeated cross-sections have no labels that line up across outcomes: draws only."""
        if data.sample_labels is None:
            return None if draws is None else Sampling(draws=draws)
        import hashlib

        by = self.design.cluster_column
        key = None
        if draws is not None:
            inf = self.design.inference
            digest = hashlib.sha256("\x1f".join(map(str, data.sample_labels)).encode()).hexdigest()[:16]
            key = (f"multiplier bootstrap: seed {inf.seed}, {self.design.estimator.bootstrap_weights}, "
                   f"{inf.bootstrap} draws, {data.n_clusters} clusters of {by!r} ({digest})")
        return Sampling(by=by, labels=data.sample_labels, influence=influence, draws=draws, draws_key=key)


def _one_blas_thread() -> contextlib.AbstractContextManager:
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover - only a speed optimisation
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None
