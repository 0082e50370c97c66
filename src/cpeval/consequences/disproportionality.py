"""Disproportionality of stops (or arrests) between resident groups, and its change under the programme.

Per group g, area a and period t the events (stops of people of group g) are Poisson with the group's
residents as exposure. Reported:

- the rate per ``per`` residents of each group, before and after the start, in treated and control areas;
- the rate ratio of each group against the reference group in each of those four cells (a Poisson regression
  of the cell's events on group indicators with log residents as offset);
- the triple difference: the change in that rate ratio in treated areas beyond its change in control areas,
  the coefficient of group x treated area x post in a Poisson regression of each area's events before and
  after (summed over periods, residents summed as exposure) with area-by-group effects, post and
  post-by-group terms and a common treated x post term (exp of it is the ratio of rate-ratio changes).

Intervals are cluster-robust by area (statsmodels GLM, cov_type 'cluster'). Residents are a residential
denominator: people stopped need not live in the area, which the finding states.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cpeval.consequences.result import Finding
from cpeval.errors import DataError, Problem, ProblemCode

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.consequences import DisproportionalitySpec

CAVEAT = ("Rates are per resident of each group, but people stopped need not live in the area (visitors, "
          "commuters, the night-time economy), so a residential denominator can overstate or understate a group's "
          "exposure to stops.")


def long_frame(frame: pd.DataFrame, design: DesignBase, spec: DisproportionalitySpec, treated: pd.Series,
               start: Any, source: str = "<data>") -> pd.DataFrame:
    """One row per area, period and group: events, residents, treated area, post. Checks the residents."""
    unit, time = design.data.unit, design.data.time
    problems = []
    parts = []
    for g in spec.groups:
        res = pd.to_numeric(frame[g.residents], errors="coerce")
        ev = pd.to_numeric(frame[g.events], errors="coerce")
        if not bool((res > 0).any()):
            problems.append(Problem(ProblemCode.NO_RESIDENTS, g.residents, f"group {g.name!r} has no residents in "
                                    "any area; rates per resident need its residents counted here"))
            continue
        bad = ~(res > 0) & (ev.fillna(0) > 0)
        if bool(bad.any()) or bool(res.isna().any()) or bool((res < 0).any()):
            problems.append(Problem(ProblemCode.NO_RESIDENTS, g.residents, f"group {g.name!r}: {int(bad.sum())} rows "
                                    f"record {spec.events} but no residents, and {int(res.isna().sum())} rows have "
                                    "none recorded; fill the residents (or drop those areas)"))
        if bool(ev.isna().any()) or bool((ev < 0).any()):
            problems.append(Problem(ProblemCode.NEGATIVE_VALUES, g.events, f"group {g.name!r}: {spec.events} must be "
                                    "counts >= 0 with no missing values"))
        parts.append(pd.DataFrame({"area": frame[unit].to_numpy(), "period": frame[time].to_numpy(), "group": g.name,
                                   "events": ev.to_numpy(dtype=float), "residents": res.to_numpy(dtype=float)}))
    if problems:
        raise DataError(source, problems)
    long = pd.concat(parts, ignore_index=True)
    long = long.loc[long["residents"] > 0].reset_index(drop=True)
    long["treated_area"] = long["area"].map(treated).fillna(False).astype(bool).to_numpy()
    long["post"] = (long["period"] >= start).to_numpy()
    return long


def _poisson(y: np.ndarray, x: np.ndarray, offset: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import statsmodels.api as sm

    # every design here holds a constant (a column of ones, or area-by-group dummies summing to one): saying
    # so spares statsmodels two SVDs of the whole design looking for an implicit one (most of the time)
    fit = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset, hasconst=True).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(clusters)[0]})
    return np.asarray(fit.params), np.asarray(fit.cov_params())


def _dummies(codes: np.ndarray, drop_first: bool) -> np.ndarray:
    k = int(codes.max()) + 1
    d = np.zeros((len(codes), k))
    d[np.arange(len(codes)), codes] = 1.0
    return d[:, 1:] if drop_first else d


def _interval(b: float, se: float, z: float) -> list[float]:
    return [float(np.exp(b - z * se)), float(np.exp(b + z * se))]


def assess(long: pd.DataFrame, spec: DisproportionalitySpec, level: float) -> list[Finding]:
    """Rates, rate ratios by cell and the triple difference, as one finding per non-reference group."""
    from scipy import stats

    z = float(stats.norm.ppf(0.5 + level / 2))
    names = [spec.reference] + [g.name for g in spec.groups if g.name != spec.reference]
    # sums over each area's periods before and after: the Poisson likelihood of the 2 x 2 x 2 comparison
    agg = long.groupby(["area", "group", "treated_area", "post"], sort=True, observed=True)[
        ["events", "residents"]].sum().reset_index()
    gcode = agg["group"].map({n: i for i, n in enumerate(names)}).to_numpy()
    is_t, is_post = agg["treated_area"].to_numpy(dtype=bool), agg["post"].to_numpy(dtype=bool)
    offset, y, areas = np.log(agg["residents"].to_numpy()), agg["events"].to_numpy(), agg["area"].to_numpy()
    cells: dict[str, dict[str, Any]] = {}
    ratios: dict[str, dict[str, Any]] = {n: {} for n in names[1:]}
    for area_kind, t in (("treated", True), ("control", False)):
        for when, p in (("before", False), ("after", True)):
            m = (is_t == t) & (is_post == p)
            sums = agg.loc[m].groupby("group")[["events", "residents"]].sum()
            cells[f"{area_kind}_{when}"] = {g: float(sums.loc[g, "events"] / sums.loc[g, "residents"] * spec.per)
                                            for g in names if g in sums.index}
            b, v = _poisson(y[m], np.column_stack([np.ones(m.sum()), _dummies(gcode[m], True)]), offset[m], areas[m])
            for j, g in enumerate(names[1:], start=1):
                ratios[g][f"{area_kind}_{when}"] = {"rate_ratio": float(np.exp(b[j])),
                                                    "conf_int": _interval(b[j], float(np.sqrt(v[j, j])), z)}
    # triple difference: area-by-group effects, post by group, a common treated x post, and group x treated x post
    ag = pd.factorize(agg["area"].astype(str) + "\x1f" + agg["group"])[0]
    g_d = _dummies(gcode, True)
    tp = (is_t & is_post).astype(float)
    x = np.column_stack([g_d * tp[:, None], tp, is_post.astype(float), g_d * is_post[:, None], _dummies(ag, False)])
    b, v = _poisson(y, x, offset, areas)
    findings = []
    for j, g in enumerate(names[1:]):
        se = float(np.sqrt(v[j, j]))
        ratio, ci = float(np.exp(b[j])), _interval(b[j], se, z)
        before = ratios[g]["treated_before"]["rate_ratio"]
        widening = (ci[0] > 1 and before >= 1) or (ci[1] < 1 and before < 1)
        narrowing = (ci[1] < 1 and before >= 1) or (ci[0] > 1 and before < 1)
        status = "fail" if widening else "pass"
        words = (f"In programme areas the {spec.events} rate of {g} residents relative to {spec.reference} residents "
                 f"changed {ratio:.2f}-fold beyond the change in control areas ({level:.0%} interval {ci[0]:.2f} to "
                 f"{ci[1]:.2f}); it was {before:.2f} times the {spec.reference} rate there before the programme.")
        lead = ("Disproportionality grew: " if widening else "Disproportionality fell: " if narrowing
                else "No clear change in disproportionality: ")
        findings.append(Finding(
            topic="disproportionality", name=f"{spec.events} of {g} vs {spec.reference}", status=status,
            sentence=lead + words, positive=narrowing,
            evidence={"rates_per": spec.per, "rates": cells, "rate_ratios": ratios[g],
                      "triple_difference": {"ratio": ratio, "log_ratio": float(b[j]), "std_error": se,
                                            "conf_int": ci, "level": level,
                                            "p_value": float(2 * stats.norm.sf(abs(b[j] / se)))},
                      "caveat": CAVEAT},
        ))
    return findings
