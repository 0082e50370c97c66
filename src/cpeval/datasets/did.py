"""Simulated staggered-adoption panels with a known, time-varying effect (where two-way FE is biased).

Everything here is SIMULATED. Areas adopt a programme in waves (cohorts); the effect grows with time since
adoption and differs by cohort, which is exactly when two-way fixed effects weights some effects
negatively (Goodman-Bacon 2021) and misses the average effect on the treated, while Callaway & Sant'Anna,
Sun & Abraham or an event study recover it. The truth is known exactly: ``true_att_gt`` gives every
population ATT(g,t) and :func:`did_truth` the population aggregations.

Model (period t = 1..T, cohort g, 0 = never treated)::

    y_it = unit_i + 0.3 t + beta * x_i * t / T + tau_g(t - g) 1[t >= g] + e_it,   e_it ~ N(0, sd^2)
    tau_g(e) = effect * (1 + growth * e) * (1 + cohort_gradient * k_g)

with ``k_g = 0, 1, 2, ...`` the cohort's order of adoption. With ``covariate=True`` the covariate ``x``
raises the chance of adopting early and shifts the trend, so parallel trends hold only conditional on
``x``. ``panel=False`` draws a new sample of respondents in every period (repeated cross-sections, as in
fear-of-crime surveys): ``unit`` is then a respondent id and ``area`` their area. ``missing`` drops that
share of unit-periods at random (an unbalanced panel). ``counts=True`` adds ``crimes``, a Poisson count
with rate ``population * exp(log_rate_it)`` whose treatment effect is the rate ratio ``exp(tau/10)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def true_att_gt(
    cohort: float, period: float, *, effect: float = 1.0, growth: float = 0.5, cohort_gradient: float = 0.5,
    cohorts: tuple[int, ...] = (4, 6, 8),
) -> float:
    """The population ATT(g,t) of :func:`simulate_did` (0 before adoption)."""
    if period < cohort:
        return 0.0
    k = sorted(cohorts).index(int(cohort))
    return effect * (1 + growth * (period - cohort)) * (1 + cohort_gradient * k)


def simulate_did(
    *,
    n_units: int = 300,
    n_periods: int = 10,
    cohorts: tuple[int, ...] = (4, 6, 8),
    never_share: float = 0.4,
    effect: float = 1.0,
    growth: float = 0.5,
    cohort_gradient: float = 0.5,
    sd: float = 1.0,
    covariate: bool = False,
    covariate_trend: float = 2.0,
    panel: bool = True,
    missing: float = 0.0,
    counts: bool = False,
    seed: int = 2002,
) -> pd.DataFrame:
    """One simulated staggered-adoption panel (or repeated cross-section); see the module docstring.

    Columns: ``unit``, ``period`` (1..T), ``first_treated`` (0 = never), ``treated`` (0/1 in that period),
    ``y``, ``true_effect`` (tau for treated unit-periods, else 0), ``x`` (always present; it matters only
    with ``covariate=True``), and with ``panel=False`` ``area``; with ``counts=True`` ``crimes`` and
    ``population``.
    """
    cohorts = tuple(sorted(cohorts))
    if not cohorts or min(cohorts) < 2 or max(cohorts) > n_periods:
        raise ValueError(f"cohorts must lie in 2..n_periods={n_periods}; got {cohorts}")
    if not 0 <= never_share < 1:
        raise ValueError(f"never_share must lie in [0, 1) (0: every unit adopts); got {never_share}")
    rng = np.random.default_rng(seed)
    n_areas = n_units
    x = rng.normal(size=n_areas)
    # cohort assignment: never-treated with probability never_share; with a covariate, high-x areas adopt
    # earlier (selection on the covariate that also drives trends)
    k = len(cohorts)
    logits = np.zeros((n_areas, k + 1))
    logits[:, 0] = np.log(never_share / (1 - never_share) * k) if never_share > 0 else -np.inf
    if covariate:
        logits[:, 1:] = np.outer(x, np.linspace(1.0, -1.0, k)) if k > 1 else x[:, None]
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    draw = (probs.cumsum(axis=1) > rng.random(n_areas)[:, None]).argmax(axis=1)
    g_area = np.where(draw == 0, 0, np.array((0, *cohorts))[draw])
    unit_fe = rng.normal(size=n_areas) + 0.5 * (g_area > 0)
    beta = covariate_trend if covariate else 0.0
    T = n_periods
    t = np.arange(1, T + 1)

    def outcome(area: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = g_area[area]
        tau = np.zeros(len(area))
        on = (g > 0) & (period >= g)
        order = np.searchsorted(np.array(cohorts), g[on])
        tau[on] = effect * (1 + growth * (period[on] - g[on])) * (1 + cohort_gradient * order)
        base = unit_fe[area] + 0.3 * period + beta * x[area] * period / T
        return base + tau + rng.normal(0, sd, len(area)), tau

    if panel:
        area = np.repeat(np.arange(n_areas), T)
        period = np.tile(t, n_areas)
        unit = area + 1
    else:  # a fresh sample of respondents each period, spread over the areas
        area = rng.integers(0, n_areas, size=n_areas * T)
        period = np.repeat(t, n_areas)
        unit = np.arange(1, len(area) + 1)
    y, tau = outcome(area, period)
    frame = pd.DataFrame(
        {
            "unit": unit,
            "period": period,
            "first_treated": g_area[area],
            "treated": ((g_area[area] > 0) & (period >= g_area[area])).astype(int),
            "y": y,
            "true_effect": tau,
            "x": x[area],
        }
    )
    if not panel:
        frame.insert(1, "area", area + 1)
    if counts:
        population = np.round(rng.uniform(20_000, 200_000, n_areas))[area]
        log_rate = np.log(5e-4) + 0.1 * (unit_fe[area] + 0.3 * period) + tau / 10
        frame["crimes"] = rng.poisson(population * np.exp(log_rate))
        frame["population"] = population
    if missing > 0:
        frame = frame.loc[rng.random(len(frame)) >= missing].reset_index(drop=True)
    return frame


def did_truth(
    frame: pd.DataFrame | None = None, *, n_periods: int = 10, effect: float = 1.0, growth: float = 0.5,
    cohort_gradient: float = 0.5, cohorts: tuple[int, ...] = (4, 6, 8),
) -> dict[str, float]:
    """Aggregations of the true ATT(g,t), as Callaway & Sant'Anna define them.

    Cohorts are weighted by their sizes in ``frame`` if given (the sample estimand), else equally (the
    population estimand of :func:`simulate_did` without a covariate, where every cohort is equally likely).
    ``simple``: post-treatment cells weighted by cohort size; ``dynamic``: average over event times e >= 0
    of the cohort-size-weighted ATT at e; ``group``: cohort-size-weighted average of each cohort's mean
    post-treatment ATT.
    """
    if frame is not None:
        periods = np.sort(frame["period"].unique())
        ids = "area" if "area" in frame else "unit"
        sizes = frame.groupby(ids)["first_treated"].first().value_counts()
    else:
        periods = np.arange(1, n_periods + 1)
        sizes = pd.Series(1.0, index=list(cohorts))
    gs = [g for g in sorted(cohorts) if g in sizes.index]
    kw = {"effect": effect, "growth": growth, "cohort_gradient": cohort_gradient, "cohorts": tuple(cohorts)}
    cells = [(g, t, true_att_gt(g, t, **kw), sizes[g]) for g in gs for t in periods if t >= g]
    w = np.array([c[3] for c in cells], float)
    att = np.array([c[2] for c in cells])
    simple = float(w @ att / w.sum())
    events = sorted({t - g for g, t, _, _ in cells})
    dyn = []
    for e in events:
        sel = [(a, s) for g, t, a, s in cells if t - g == e]
        dyn.append(sum(a * s for a, s in sel) / sum(s for _, s in sel))
    group_means = np.array([np.mean([a for g2, _, a, _ in cells if g2 == g]) for g in gs])
    gw = np.array([sizes[g] for g in gs], float)
    return {
        "simple": simple,
        "dynamic": float(np.mean(dyn)),
        "group": float(gw @ group_means / gw.sum()),
    }
