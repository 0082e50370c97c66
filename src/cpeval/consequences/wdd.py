"""The Weighted Displacement Difference test of Wheeler & Ratcliffe (2018).

Wheeler, A. P. & Ratcliffe, J. H. (2018). A simple weighted displacement difference test to evaluate place
based crime interventions. *Crime Science* 7, doi:10.1186/s40163-018-0085-5. Implemented as R ptools'
``wdd()`` does (Wheeler), so that its printed results and tests are reference values.

With counts before (0) and after (1) in the treated area T, its control Ct, the displacement (buffer) area
D and the buffer's control Dc, each divided by its time weight (the number of periods summed, so that
counts are per period) and by its area weight (relative size, so that counts are per unit of area):

    local WDD        = (T1 - T0) - (Ct1 - Ct0)
    displacement WDD = (D1 - D0) - (Dc1 - Dc0)
    total WDD        = local + displacement       (negative: crime prevented overall)

Each count is taken as Poisson, so its variance is the count itself, divided by the square of its weights;
the variance of a WDD is the sum of the variances of its counts. The test is z = total / SE and the interval
total +- z_(1 - alpha/2) SE.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

ROLES = ("control", "treated", "disp_control", "disp_treated")


@dataclass(frozen=True)
class WddResult:
    """The local, displacement and total WDD with their Poisson standard errors, z, p and interval.

    ``z``, ``p_value`` and the interval are None when every count is zero (a zero standard error)."""

    local: float
    local_se: float
    displacement: float
    displacement_se: float
    total: float
    total_se: float
    z: float | None
    p_value: float | None
    conf_int: tuple[float, float] | None
    level: float

    @property
    def status(self) -> str:
        """'fail' when the total rises significantly (more crime overall), 'pass' otherwise."""
        if self.conf_int is not None and self.conf_int[0] > 0:
            return "fail"
        return "pass"

    def sentence(self) -> str:
        if self.conf_int is None:
            return "No crimes were recorded in any area and period, so the WDD test has nothing to test."
        lo, hi = self.conf_int
        span = f"{self.level:.0%} interval {lo:.1f} to {hi:.1f}"
        if hi < 0:
            return (f"Across the programme area and its buffer, about {-self.total:.0f} fewer crimes were recorded "
                    f"than the control areas' trend implies ({span}).")
        if lo > 0:
            return (f"Across the programme area and its buffer, about {self.total:.0f} more crimes were recorded "
                    f"than the control areas' trend implies ({span}).")
        return f"The net change across the programme area and its buffer is not distinguishable from zero ({span})."

    def to_dict(self) -> dict[str, Any]:
        return {
            "local": self.local, "local_se": self.local_se, "displacement": self.displacement,
            "displacement_se": self.displacement_se, "total": self.total, "total_se": self.total_se,
            "z": self.z, "p_value": self.p_value,
            "conf_int": None if self.conf_int is None else list(self.conf_int), "level": self.level,
        }


def _weights(name: str, value: Any, n: int) -> np.ndarray:
    from cpeval.errors import EstimationError

    w = np.asarray(value, dtype=float)
    if w.shape != (n,) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise EstimationError(f"WDD: {name} must be {n} positive numbers; got {value!r}")
    return w


CHANGE = np.array([-1.0, 1.0])  # post minus pre


def _test(counts: np.ndarray, scale: np.ndarray, local: np.ndarray, disp: np.ndarray, level: float) -> WddResult:
    """WDDs as linear combinations of Poisson counts: ``local`` and ``disp`` are (areas, 2) coefficients on the
    weighted counts ``counts / scale``; each variance is sum(coef^2 * count / scale^2), so a count that enters
    both (a shared control) is counted once in the total with its summed coefficient."""
    from scipy import stats

    per, var = counts / scale, counts / scale**2
    total = local + disp
    est = [float((c * per).sum()) for c in (local, disp, total)]
    se = [math.sqrt(float((c**2 * var).sum())) for c in (local, disp, total)]
    if se[2] == 0:
        return WddResult(est[0], se[0], est[1], se[1], est[2], se[2], None, None, None, level)
    z = est[2] / se[2]
    crit = float(stats.norm.ppf(0.5 + level / 2))
    return WddResult(est[0], se[0], est[1], se[1], est[2], se[2], z, float(2 * stats.norm.sf(abs(z))),
                     (est[2] - crit * se[2], est[2] + crit * se[2]), level)


def _inputs(name: str, given: list[Any], time_weights: Any, area_weights: Any, level: float
            ) -> tuple[np.ndarray, np.ndarray]:
    from cpeval.errors import EstimationError

    try:
        counts = np.asarray([np.asarray(g, dtype=float).ravel() for g in given])
    except (TypeError, ValueError):  # ragged or non-numeric
        counts = np.empty(0)
    if counts.shape != (len(given), 2) or not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise EstimationError(f"{name}: each area needs two counts (pre, post), finite and >= 0; got {given!r}")
    if not 0 < level < 1:
        raise EstimationError(f"{name}: level must be between 0 and 1; got {level!r}")
    tw = _weights("time_weights", time_weights, 2)
    aw = _weights("area_weights", area_weights, len(given))
    return counts, aw[:, None] * tw[None, :]


def wdd(control: Any, treated: Any, disp_control: Any = (0, 0), disp_treated: Any = (0, 0), *,
        time_weights: Any = (1, 1), area_weights: Any = (1, 1, 1, 1), level: float = 0.95) -> WddResult:
    """The WDD test from (pre, post) counts, in ptools' argument order; ``level`` = 1 - ptools' ``alpha``."""
    counts, scale = _inputs("WDD", [control, treated, disp_control, disp_treated], time_weights, area_weights, level)
    z = np.zeros(2)
    local = np.array([-CHANGE, CHANGE, z, z])
    disp = np.array([z, z, -CHANGE, CHANGE])
    return _test(counts, scale, local, disp, level)


def wdd_shared_control(treated: Any, buffer: Any, control: Any, *, time_weights: Any = (1, 1),
                       area_weights: Any = (1, 1, 1), level: float = 0.95) -> WddResult:
    """The WDD when one set of control areas serves both the treated area and its buffer (as in a design with
    roles treated / buffer / control): local = dT - dC, displacement = dB - dC and total = dT + dB - 2 dC,
    whose variance counts the control's Poisson variance once, with coefficient 2 (4 times its variance), not
    as two independent controls. ``area_weights`` in the order treated, buffer, control (e.g. the number of
    areas in each, so that counts are per area)."""
    counts, scale = _inputs("WDD", [treated, buffer, control], time_weights, area_weights, level)
    z = np.zeros(2)
    local = np.array([CHANGE, z, -CHANGE])
    disp = np.array([z, CHANGE, -CHANGE])
    return _test(counts, scale, local, disp, level)


def wdd_periods(counts: Any, post: Any, *, area_weights: Any = (1, 1, 1, 1), level: float = 0.95) -> WddResult:
    """The WDD with several pre and post periods and areas of unequal size.

    ``counts``: a (4, n_periods) array of counts per period in the roles of :data:`ROLES` (control,
    treated, displacement control, displacement treated); ``post``: n_periods booleans. Each role's counts
    are summed before and after and divided by the number of periods (ptools' time weights), so the test
    compares average counts per period; ``area_weights`` are the roles' relative sizes.
    """
    from cpeval.errors import EstimationError

    c = np.asarray(counts, dtype=float)
    is_post = np.asarray(post, dtype=bool)
    if c.ndim != 2 or c.shape[0] != 4 or is_post.shape != (c.shape[1],):
        raise EstimationError(f"WDD: counts must be 4 roles x periods with one post flag per period; got shape "
                              f"{c.shape} and {is_post.shape[0] if is_post.ndim else 0} flags")
    n_post = int(is_post.sum())
    n_pre = len(is_post) - n_post
    if n_pre == 0 or n_post == 0:
        raise EstimationError(f"WDD: needs at least one pre and one post period; got {n_pre} pre and {n_post} post")
    pairs = np.column_stack([c[:, ~is_post].sum(axis=1), c[:, is_post].sum(axis=1)])
    return wdd(*pairs, time_weights=(n_pre, n_post), area_weights=area_weights, level=level)
