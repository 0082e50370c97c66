"""Data-generating processes fitted to a design's own data, from which a diagnosis draws synthetic outcomes.

* Crime counts (``measure: count``, or any outcome of a Poisson design): negative binomial counts,
  log mu_it = a_i + b t + s_season(t), fitted by Poisson maximum likelihood (backfitting the unit levels, the
  linear trend and the seasonal effects) on the pre-period: the periods before anyone is treated (all
  untreated cells when fewer than 3 such periods exist). Seasons are the calendar month, quarter or week of
  date-valued periods, used when the pre-period spans at least two full years of them. Overdispersion alpha
  (Var = mu + alpha mu^2) is the moment estimate (n/(n-k) sum((y - mu)^2) - sum(y)) / sum(mu^2), with k the
  parameters fitted, at least 0 (0 is Poisson). When the design's Poisson estimator uses population exposure,
  the model is of the rate (log population is an offset), so counts follow each unit's population over time.
* Level outcomes (rates, logs, indices): y_it = a_i + l_t + e_it with unit and period effects fitted by
  alternating projections on the untreated cells, and AR(1) noise within a unit whose standard deviation and
  lag-1 correlation are estimated from those residuals (degrees of freedom corrected). Survey outcomes
  (respondent rows averaged per unit and wave) take the same form with independent noise: the respondent
  sampling error of each wave.
* Trials: the outcome's control-arm mean, a cluster effect and individual noise, with the standard
  deviation after blocks and covariates and the intra-cluster correlation estimated as ``cpeval power``
  does (:mod:`cpeval.power`); the assignment is re-randomised as declared (within blocks, by cluster).

Every fitted value can be overridden in the design's ``diagnose.dgp``. Rows whose outcome is missing in the
data stay missing in every draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SEASONS = {"month": 12, "quarter": 4, "week": 52}


@dataclass(frozen=True)
class Cells:
    """Where each row of the panel sits: unit code, period code, treated, and the season of its period."""

    unit: np.ndarray
    period: np.ndarray
    treated: np.ndarray  # bool
    season: np.ndarray | None  # season code per row, or None
    n_units: int
    n_periods: int
    n_seasons: int = 1
    units: Any = None  # the unit ids and periods the codes index
    periods: Any = None
    weights: np.ndarray | None = None  # data.weights per row, if the design weights its estimator

    def treated_mean(self, grid: np.ndarray, observed: np.ndarray) -> float:
        """Mean of a units x periods ``grid`` over the treated rows observed (weighted as the estimator is)."""
        at = (self.unit[self.treated], self.period[self.treated])
        keep = observed[at]
        w = None if self.weights is None else self.weights[self.treated][keep]
        return float(np.average(grid[at][keep], weights=w))


@dataclass(frozen=True)
class CountDgp:
    mu: np.ndarray  # expected count without the programme, units x periods
    alpha: float
    observed: np.ndarray  # units x periods: an outcome in the data
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "negative_binomial"

    def baseline(self, cells: Cells) -> float:
        return cells.treated_mean(self.mu, self.observed)

    def draw(self, rng: np.random.Generator, cells: Cells, multiplier: float) -> np.ndarray:
        mu = self.mu[cells.unit, cells.period]
        lam = np.where(cells.treated, mu * multiplier, mu)
        if self.alpha > 0:
            lam = lam * rng.gamma(1.0 / self.alpha, self.alpha, size=len(lam))
        y = rng.poisson(lam).astype(float)
        return np.where(self.observed[cells.unit, cells.period], y, np.nan)


@dataclass(frozen=True)
class LevelDgp:
    mean: np.ndarray  # a_i + l_t, units x periods
    sd: float
    ar1: float
    observed: np.ndarray  # units x periods
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "normal"

    def baseline(self, cells: Cells) -> float:
        return cells.treated_mean(self.mean, self.observed)

    def draw(self, rng: np.random.Generator, cells: Cells, shift: float) -> np.ndarray:
        from scipy.signal import lfilter

        z = rng.standard_normal((cells.n_units, cells.n_periods))
        z[:, 1:] *= math.sqrt(1.0 - self.ar1**2)
        noise = lfilter([1.0], [1.0, -self.ar1], z * self.sd, axis=1) if self.ar1 else z * self.sd
        at = (cells.unit, cells.period)
        y = self.mean[at] + noise[at] + shift * cells.treated
        return np.where(self.observed[at], y, np.nan)


@dataclass(frozen=True)
class TrialDgp:
    mean: float  # control-arm mean
    sd: float  # after blocks and covariates
    icc: float
    observed: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "trial"

    def baseline(self, cells: Cells) -> float:
        return self.mean

    def draw(self, rng: np.random.Generator, cluster: np.ndarray | None, z: np.ndarray, shift: float) -> np.ndarray:
        n = len(z)
        u = 0.0
        if cluster is not None and self.icc > 0:
            u = rng.normal(scale=self.sd * math.sqrt(self.icc), size=int(cluster.max()) + 1)[cluster]
        y = self.mean + u + rng.normal(scale=self.sd * math.sqrt(1 - self.icc), size=n) + shift * z
        return np.where(self.observed, y, np.nan)


def cells_of(panel: Any, frequency: str | None, grid: Cells | None = None) -> Cells:
    """Unit and period codes, treatment and season of every row of a panel with a time column. Codes are the
    sorted units and periods of this panel, or of ``grid`` (the panel the DGP was fitted to) when given."""
    import pandas as pd

    from cpeval.data.panel import TREATED

    frame = panel.frame
    weights = panel.design.data.weights
    if grid is None:
        unit, units = pd.factorize(frame[panel.unit], sort=True)
        period, periods = pd.factorize(frame[panel.time], sort=True)
    else:
        units, periods = grid.units, grid.periods
        unit = pd.Index(units).get_indexer(frame[panel.unit])
        period = pd.Index(periods).get_indexer(frame[panel.time])
    season = None
    if frequency in SEASONS:
        season = (np.asarray(periods, dtype=np.int64) % SEASONS[frequency])[period]
    return Cells(unit=unit, period=period, treated=frame[TREATED].to_numpy() == 1, season=season,
                 n_units=len(units), n_periods=len(periods), n_seasons=SEASONS.get(frequency or "", 1),
                 units=np.asarray(units), periods=np.asarray(periods),
                 weights=frame[weights].to_numpy(float) if weights else None)


def _grid(cells: Cells, rows: np.ndarray) -> np.ndarray:
    out = np.zeros((cells.n_units, cells.n_periods), dtype=bool)
    out[cells.unit[rows], cells.period[rows]] = True
    return out


def pre_mask(cells: Cells) -> np.ndarray:
    """Rows before anyone is treated (the pre-period); every untreated row when it is shorter than 3 periods."""
    first = int(cells.period[cells.treated].min()) if cells.treated.any() else cells.n_periods
    return cells.period < first if first >= 3 else ~cells.treated


def fit_count(y: np.ndarray, cells: Cells, spec: Any, iterations: int = 200,
              exposure: np.ndarray | None = None) -> CountDgp:
    """``exposure`` (population per row, for a Poisson design with population exposure): the model is then of
    the rate, log mu = log(exposure) + a_i + b t + s, so simulated counts follow each unit's population."""
    observed = np.isfinite(y)
    rows = pre_mask(cells) & observed
    u, t, yy = cells.unit[rows], cells.period[rows].astype(float), y[rows]
    off_grid = np.zeros((cells.n_units, cells.n_periods))
    if exposure is not None:
        off_grid[cells.unit, cells.period] = np.log(exposure)
    off = off_grid[u, cells.period[rows]]
    tc = t - t.mean()
    n_pre = len(np.unique(t))
    L = cells.n_seasons
    season = cells.season[rows] if cells.season is not None and n_pre >= 2 * L else None
    a = np.log((np.bincount(u, weights=yy, minlength=cells.n_units) + 0.5)
               / np.maximum(np.bincount(u, minlength=cells.n_units), 1))
    b = 0.0
    s = np.zeros(L if season is not None else 1)
    for _ in range(iterations):
        rest = np.exp(off + b * tc + (s[season] if season is not None else 0.0))
        a = np.log((np.bincount(u, weights=yy, minlength=cells.n_units) + 1e-9)
                   / np.maximum(np.bincount(u, weights=rest, minlength=cells.n_units), 1e-300))
        if season is not None:
            base = np.exp(off + a[u] + b * tc)
            s = np.log((np.bincount(season, weights=yy, minlength=L) + 1e-9)
                       / np.maximum(np.bincount(season, weights=base, minlength=L), 1e-300))
            s -= s.mean()
        mu = np.exp(off + a[u] + b * tc + (s[season] if season is not None else 0.0))
        step = float(np.sum((yy - mu) * tc) / max(np.sum(mu * tc**2), 1e-300))
        b += step
        if abs(step) < 1e-12:
            break
    mu = np.exp(off + a[u] + b * tc + (s[season] if season is not None else 0.0))
    k = cells.n_units + 1 + (L - 1 if season is not None else 0)  # parameters fitted: the squares' dof
    dof = len(yy) / max(len(yy) - k, 1)
    alpha = float(max(0.0, (dof * np.sum((yy - mu) ** 2) - np.sum(yy)) / max(np.sum(mu**2), 1e-300)))
    family = getattr(spec, "family", "auto")
    if getattr(spec, "dispersion", None) is not None:
        alpha = float(spec.dispersion)
    if family == "poisson":
        alpha = 0.0
    t_grid = np.arange(cells.n_periods, dtype=float) - t.mean()
    s_grid = s[np.asarray(cells.periods, dtype=np.int64) % L] if season is not None else 0.0
    mu_all = np.exp(off_grid + a[:, None] + (b * t_grid + s_grid)[None, :])
    params = {"dispersion": alpha, "trend_per_period": b, "seasons": len(s) if season is not None else 0,
              "pre_periods": int(n_pre), "mean_count": float(yy.mean())}
    return CountDgp(mu=mu_all, alpha=alpha, observed=_grid(cells, observed), params=params,
                    kind="poisson" if alpha == 0 else "negative_binomial")


def fit_level(y: np.ndarray, cells: Cells, spec: Any, survey: bool, iterations: int = 100) -> LevelDgp:
    observed = np.isfinite(y)
    rows = ~cells.treated & observed
    u, t, yy = cells.unit[rows], cells.period[rows], y[rows]
    nu = np.maximum(np.bincount(u, minlength=cells.n_units), 1)
    nt_raw = np.bincount(t, minlength=cells.n_periods)
    nt = np.maximum(nt_raw, 1)
    a = np.zeros(cells.n_units)
    lt = np.zeros(cells.n_periods)
    for _ in range(iterations):
        lt_new = np.bincount(t, weights=yy - a[u], minlength=cells.n_periods) / nt
        a_new = np.bincount(u, weights=yy - lt_new[t], minlength=cells.n_units) / nu
        done = max(np.abs(lt_new - lt).max(), np.abs(a_new - a).max()) < 1e-10
        a, lt = a_new, lt_new
        if done:
            break
    have = nt_raw > 0
    if not have.all():  # periods with no untreated cell: the nearest period's effect
        idx = np.flatnonzero(have)
        lt = lt[idx[np.abs(np.arange(cells.n_periods)[:, None] - idx[None, :]).argmin(axis=1)]]
    seen = np.bincount(u, minlength=cells.n_units) > 0
    if not seen.all():  # units never untreated: their mean net of the period effects
        all_rows = observed
        ua = cells.unit[all_rows]
        mean_u = np.bincount(ua, weights=y[all_rows] - lt[cells.period[all_rows]], minlength=cells.n_units) \
            / np.maximum(np.bincount(ua, minlength=cells.n_units), 1)
        a = np.where(seen, a, mean_u)
    e = yy - a[u] - lt[t]
    dof = max(len(e) - int(seen.sum()) - int(have.sum()) + 1, 1)
    sd = float(math.sqrt(np.sum(e**2) / dof))
    rho = 0.0
    if not survey and len(e) > 2:
        grid = np.full((cells.n_units, cells.n_periods), np.nan)
        grid[u, t] = e
        pairs = grid[:, 1:] * grid[:, :-1]
        ok = np.isfinite(pairs)
        denom = float(np.nansum(grid**2))
        rho = float(np.clip(np.sum(pairs[ok]) / denom, -0.95, 0.95)) if denom > 0 else 0.0
    if getattr(spec, "sd", None) is not None:
        sd = float(spec.sd)
    if getattr(spec, "ar1", None) is not None:
        rho = float(spec.ar1)
    params = {"sd": sd, "ar1": rho, "noise": "respondent sampling error" if survey else "AR(1)"}
    return LevelDgp(mean=a[:, None] + lt[None, :], sd=sd, ar1=rho, observed=_grid(cells, observed), params=params,
                    kind="survey" if survey else "normal")


def fit_trial(panel: Any, design: Any, outcome: Any, spec: Any) -> TrialDgp:
    """The control arm's mean, SD after blocks and covariates, and ICC, as :mod:`cpeval.power` estimates them."""
    import pandas as pd

    from cpeval.data.panel import TREATED
    from cpeval.power import adjust, icc_anova

    frame = panel.frame
    y = frame[outcome.column].to_numpy(float)
    observed = np.isfinite(y)
    keep = observed & (frame[TREATED].to_numpy() == 0)
    tr = design.treatment
    block = pd.factorize(frame.loc[keep, tr.block], sort=True)[0] if tr.block else None
    covs = [c for c in getattr(design.estimator, "covariates", []) if design.estimator.capabilities.covariate_adjusted]
    X = frame.loc[keep, covs].to_numpy(float) if covs else np.empty((int(keep.sum()), 0))
    resid = adjust(y[keep], block, X)
    sd = float(resid.std(ddof=1))
    icc = 0.0
    if tr.cluster:
        icc = icc_anova(resid, pd.factorize(frame.loc[keep, tr.cluster], sort=True)[0])
    if getattr(spec, "sd", None) is not None:
        sd = float(spec.sd)
    if getattr(spec, "icc", None) is not None:
        icc = float(spec.icc)
    mean = float(y[keep].mean())
    return TrialDgp(mean=mean, sd=sd, icc=icc, observed=observed,
                    params={"control_mean": mean, "sd": sd, "icc": icc})
