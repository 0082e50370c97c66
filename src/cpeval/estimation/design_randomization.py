"""Design-based randomisation inference for difference-in-differences: re-assign which areas are treated.

Under the sharp null of no effect for any area in any period, the outcomes do not depend on which areas were
treated, so re-running the design's own estimator on every re-assignment gives the statistic's exact
distribution, if treatment was assigned at random among the units (or, in an observational design, if the
treated areas are exchangeable with the others: the assumption this test rests on). Each unit's treatment
path (its 0/1 indicator over the periods, hence its adoption date under staggered adoption) is shuffled among
the units, keeping how many units adopt at each date. All distinct re-assignments are used when there are no
more than the draws allowed (exact enumeration); otherwise random re-assignments, with the observed one
counted in the p-value (Phipson & Smyth 2010).

The statistic is the estimate itself, not its t ratio: with one or two treated areas the cluster-robust
standard error is degenerate, and the estimate's permutation law is what Conley & Taber (2011) and Ferman &
Pinto (2019) build on. The Fisher p-value is the share of re-assignments whose |estimate| is at least the
observed one. The interval inverts the sharp null of a constant additive effect tau (y - tau D for the treated
rows): for an estimator linear in the outcome, the re-assigned estimate of y - tau D is b_pi - tau c_pi, with
c_pi the re-assigned estimate of D itself, so every tau costs O(draws). Two-way fixed effects demean all the
re-assignments' regressors at once; the event study and Sun & Abraham are rebuilt by least squares on each
re-assignment; other estimators are re-run in full and report the p-value only.
For count outcomes the additive effect is on the count scale, not the rate ratio a Poisson model reports.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from math import comb
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.panel import COHORT, TREATED
from cpeval.errors import EstimationError

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect

DEFAULT_DRAWS = 999
_CHUNK = 400  # re-assignments demeaned at once


@dataclass(frozen=True)
class RandomizationResult:
    p_value: float
    conf_int: tuple[float, float] | None
    draws: int  # re-assignments used (all distinct ones when exact)
    exact: bool
    n_assignments: int  # distinct re-assignments possible
    estimates: np.ndarray  # the statistic under each re-assignment (the observed one first when exact)


def _paths(frame: pd.DataFrame, unit: str, time: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unit codes, period codes, each unit's treatment path (units x periods) and its cohort."""
    u = np.unique(frame[unit].to_numpy(), return_inverse=True)[1]
    t = np.unique(frame[time].to_numpy(), return_inverse=True)[1]
    paths = np.zeros((int(u.max()) + 1, int(t.max()) + 1))
    paths[u, t] = frame[TREATED].to_numpy(dtype=float)
    cohort = np.full(paths.shape[0], np.nan)
    cohort[u] = frame[COHORT].to_numpy(dtype=float)
    return u, t, paths, cohort


def count_assignments(groups: np.ndarray) -> int:
    """Distinct arrangements of the units' path labels (a multinomial coefficient)."""
    n, out = len(groups), 1
    for c in np.bincount(groups):
        out *= comb(n, int(c))
        n -= int(c)
    return out


def enumerate_assignments(groups: np.ndarray) -> np.ndarray:
    """Every distinct arrangement of the labels ``groups`` over the units (rows), the observed one first."""
    from itertools import combinations

    n = len(groups)
    labels, counts = np.unique(groups, return_counts=True)
    order = np.argsort(counts, kind="mergesort")  # place the rarest labels first, the commonest fills the rest
    rows: list[np.ndarray] = [np.full(n, labels[order[-1]])]
    for j in order[:-1]:
        grown = []
        for row in rows:
            free = np.flatnonzero(row == labels[order[-1]])
            for pos in combinations(free.tolist(), int(counts[j])):
                new = row.copy()
                new[list(pos)] = labels[j]
                grown.append(new)
        rows = grown
    out = np.array(rows)
    first = np.flatnonzero((out == groups[None, :]).all(axis=1))
    return np.vstack([out[first], np.delete(out, first, axis=0)])


def assignments(groups: np.ndarray, draws: int, seed: int) -> tuple[np.ndarray, bool, int]:
    """Re-assignments of the path labels: all distinct ones if they number at most ``draws``, else ``draws``
    random permutations (seeded). Returns (labels per unit for each re-assignment, exact, number possible)."""
    total = count_assignments(groups)
    if total <= draws:
        return enumerate_assignments(groups), True, total
    rng = np.random.default_rng(seed)
    return np.array([rng.permutation(groups) for _ in range(draws)]), False, total


def p_from(stat: np.ndarray, observed: float, exact: bool) -> float:
    """Two-sided Fisher p-value: share of re-assignments with |statistic| at least the observed one."""
    hits = int(np.sum(np.abs(stat) >= abs(observed) * (1 - 1e-10) - 1e-12))
    return hits / len(stat) if exact else (1 + hits) / (len(stat) + 1)


def _twfe_statistics(frame: pd.DataFrame, panel: Panel, outcome: OutcomeSpec, design: Any, u: np.ndarray,
                     t: np.ndarray, paths: np.ndarray, labels: np.ndarray, rep_unit: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, float]:
    """Two-way fixed-effects estimates under each re-assignment (b_pi) and of the observed D (c_pi), by FWL
    with all re-assigned regressors demeaned together. Returns (b, c, observed estimate)."""
    from cpeval.estimation.fixed_effects import demean, indicators

    w = frame[design.data.weights].to_numpy(dtype=float) if design.data.weights else np.ones(len(frame))
    fe = [indicators(u), indicators(t)]
    covs = list(design.estimator.covariates)
    base = demean(np.column_stack([frame[outcome.column].to_numpy(dtype=float),
                                   frame[TREATED].to_numpy(dtype=float),
                                   *(frame[c].to_numpy(dtype=float) for c in covs)]), fe, w)
    z = base[:, 2:]

    def annihilate(m: np.ndarray) -> np.ndarray:
        if not covs:
            return m
        coef = np.linalg.lstsq(z * np.sqrt(w)[:, None], m * np.sqrt(w)[:, None], rcond=None)[0]
        return m - z @ coef

    y, d_obs = annihilate(base[:, :2]).T
    b_obs = float((d_obs * w) @ y / ((d_obs * w) @ d_obs))
    b, c = [], []
    for start in range(0, len(labels), _CHUNK):
        lab = labels[start:start + _CHUNK]
        # unit j takes the path of a unit carrying the label it was assigned
        dp = paths[rep_unit[lab], :][:, u, t].T  # rows x chunk
        dt = annihilate(demean(dp, fe, w))
        den = np.einsum("ij,ij,i->j", dt, dt, w)
        b.append(((dt * w[:, None]).T @ y) / den)
        c.append(((dt * w[:, None]).T @ d_obs) / den)
    return np.concatenate(b), np.concatenate(c), b_obs


def _refit_statistics(panel: Panel, outcome: OutcomeSpec, statistic: Any, paths: np.ndarray, cohort: np.ndarray,
                      labels: np.ndarray, rep_unit: np.ndarray) -> np.ndarray:
    """``statistic(panel)`` (an estimate, or a row of them) on the panel under each re-assignment."""
    frame = panel.frame
    assert panel.time is not None
    u = np.unique(frame[panel.unit].to_numpy(), return_inverse=True)[1]
    t = np.unique(frame[panel.time].to_numpy(), return_inverse=True)[1]
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lab in labels:
            src = rep_unit[lab][u]
            new = frame.copy()
            new[TREATED] = paths[src, t]
            new[COHORT] = cohort[src]
            out.append(statistic(dataclasses.replace(panel, frame=new)))
    return np.array(out, dtype=float)


def randomization_test(panel: Panel, outcome: OutcomeSpec, effect: Effect, estimator: Any, *, draws: int,
                       seed: int, level: float, linear: Any = None, estimate: Any = None) -> RandomizationResult:
    """Fisher randomisation test of the sharp null of no effect by re-assigning the units' treatment paths.

    ``linear(panel, observed_d)``, when given, computes the estimator's estimate on ``panel`` for the outcome
    and for ``observed_d`` (the observed treatment indicator, a Series on the frame's index) as if it
    were the outcome, for an estimator linear in the outcome; it replaces re-running the estimator and gives
    the interval. Two-way fixed effects use their own batched form; otherwise the estimator is re-run, or
    ``estimate(panel)`` when given: the headline estimate alone, without standard errors (used only if it
    reproduces the Effect's estimate on the observed assignment)."""
    design = panel.design
    assert panel.time is not None
    frame = panel.outcome_rows(outcome.column)
    _, _, paths, cohort = _paths(panel.frame, panel.unit, panel.time)
    groups = np.unique(paths, axis=0, return_inverse=True)[1].ravel()
    if len(np.unique(groups)) < 2:
        raise EstimationError(f"outcome {outcome.name!r}: every unit has the same treatment path, so there is "
                              "nothing to re-assign")
    rep_unit = np.array([np.flatnonzero(groups == g)[0] for g in range(int(groups.max()) + 1)])
    labels, exact, total = assignments(groups, draws, seed)
    conf: tuple[float, float] | None = None
    one_indicator = design.estimator.capabilities.regression == "treatment"  # the twfe regression, refitted fast
    fast = one_indicator and frame.shape[0] == panel.frame.shape[0]
    if fast:
        fu = np.unique(frame[panel.unit].to_numpy(), return_inverse=True)[1]
        ft = np.unique(frame[panel.time].to_numpy(), return_inverse=True)[1]
        b, c, b_obs = _twfe_statistics(frame, panel, outcome, design, fu, ft, paths, labels, rep_unit)
        scale = effect.std_error if math.isfinite(effect.std_error) and effect.std_error > 0 else 1.0
        fast = math.isclose(b_obs, effect.estimate, rel_tol=1e-7, abs_tol=1e-10 * scale)
    if not fast and linear is not None:
        d_obs = frame[TREATED].astype(float)
        both = _refit_statistics(panel, outcome, lambda p: linear(p, d_obs), paths, cohort, labels, rep_unit)
        b, c = both[:, 0], both[:, 1]
        fast = True
    if fast:
        from cpeval.estimation.wild_bootstrap import invert

        def pfun(tau: float) -> float:
            return p_from(b - tau * c, effect.estimate - tau, exact)

        stat, p = b, pfun(0.0)
        conf = invert(pfun, effect.estimate, effect.std_error, 1 - level, tol=1e-9)
    else:
        scale = effect.std_error if math.isfinite(effect.std_error) and effect.std_error > 0 else 1.0
        if estimate is None or not math.isclose(estimate(panel), effect.estimate, rel_tol=1e-9,
                                                abs_tol=1e-12 * scale):
            def estimate(p: Panel) -> float:
                return estimator.fit(p, outcome).estimate
        stat = _refit_statistics(panel, outcome, estimate, paths, cohort, labels, rep_unit)
        p = p_from(stat, effect.estimate, exact)
    return RandomizationResult(p, conf, len(labels), exact, total, stat)
