"""A small simulated city with known truth: crime counts by offence, harm, fear of crime and victimisation.

``simulate_city`` builds

- ``monthly``: areas (wards) x months of recorded offences by type. Counts are Poisson-gamma (negative
  binomial, overdispersed), with area levels, a trend, seasonality, and a programme that starts in some
  areas (chosen with a higher chance where crime is high, as real programmes are targeted);
- ``panel``: the same counts summed to area x year, with population, the treatment indicator and cohort;
- ``survey``: a yearly resident survey (a repeated cross-section): respondents per area and wave with
  survey weights (older residents are under-sampled, and fear more), a four-point "safe walking alone after
  dark" item as text labels, three worry items as codes 1-4 with 9 = don't know, and the number of times
  each respondent was victimised in the past year;
- ``truth``: the true average effects on the treated area-years (post-programme), in the units the
  evaluation reports: annual counts per area by offence and in total, harm (Cambridge CHI days) per area,
  and the area-level share feeling unsafe after dark.

The default programme cuts minor thefts but street robbery rises (displacement to a more serious offence):
the count of crime falls while the harm index rises, the case para 23(c) warns about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

# offence: (expected offences per 1,000 residents per month, programme effect as a proportional change,
#           offence name in the Cambridge CHI table)
OFFENCES: dict[str, tuple[float, float, str]] = {
    "shoplifting": (1.2, -0.25, "shoplifting"),
    "bicycle_theft": (0.5, -0.20, "bicycle_theft"),
    "theft_from_person": (0.6, -0.15, "theft_from_person"),
    "robbery": (0.15, 0.20, "robbery_personal"),
}
SAFE_SCALE = ["very safe", "fairly safe", "a bit unsafe", "very unsafe"]
SAFE_CUTS = (-0.3, 0.6, 1.4)  # latent fear thresholds between the four answers
WORRY_SCALE = ["not at all worried", "not very worried", "fairly worried", "very worried"]
WORRY_CUTS = (-0.5, 0.4, 1.3)
OLD_SHIFT = 0.5  # older residents fear more (latent SD units)
OLD_POP_SHARE, OLD_SAMPLE_SHARE = 0.30, 0.15


@dataclass(frozen=True)
class CityData:
    monthly: pd.DataFrame
    panel: pd.DataFrame
    survey: pd.DataFrame
    truth: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)


def simulate_city(
    n_areas: int = 40,
    years: tuple[int, ...] = (2018, 2019, 2020, 2021, 2022, 2023),
    start: int = 2021,
    treated_share: float = 0.5,
    respondents: int = 60,
    fear_effect: float = -0.3,
    victimisation_effect: float = -0.15,
    offences: dict[str, tuple[float, float, str]] | None = None,
    dispersion: float = 8.0,
    seed: int = 2026,
) -> CityData:
    """Simulate the city. ``fear_effect`` shifts latent fear (SD units) in treated areas after ``start``;
    ``dispersion`` is the gamma shape of the area-month noise (smaller = more overdispersed)."""
    from scipy.stats import norm

    from cpeval.outcomes.harm import load_weight_table

    rng = np.random.default_rng(seed)
    offences = dict(OFFENCES if offences is None else offences)
    years = tuple(int(y) for y in years)
    n_years, n_months = len(years), 12 * len(years)

    # areas
    area = np.array([f"W{i + 1:02d}" for i in range(n_areas)])
    population = np.round(rng.lognormal(np.log(9000), 0.3, n_areas) / 10) * 10
    level = rng.normal(0, 0.35, n_areas)  # area crime level (log scale)
    p_treat = 1 / (1 + np.exp(-(np.log(treated_share / (1 - treated_share)) + 1.5 * level)))
    treated_area = rng.random(n_areas) < p_treat
    if treated_area.all() or not treated_area.any():
        treated_area[np.argsort(level)[: n_areas // 2]] = False
        treated_area[np.argsort(level)[n_areas // 2:]] = True

    # monthly counts
    month_idx = np.arange(n_months)
    year_of = np.array(years)[month_idx // 12]
    season = 1 + 0.12 * np.sin(2 * np.pi * (month_idx % 12 - 3) / 12)
    trend = np.ones(n_months)  # no common trend: parallel trends hold in levels and in logs
    post = (year_of >= start)[None, :] & treated_area[:, None]
    mu0_all: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for name, (per_k, effect, _) in offences.items():
        off_level = rng.normal(0, 0.15, n_areas)
        mu0 = (population / 1000 * per_k * np.exp(level + off_level))[:, None] * (season * trend)[None, :]
        mu = mu0 * np.where(post, 1 + effect, 1.0)
        shock = rng.gamma(dispersion, 1 / dispersion, mu.shape)
        counts[name] = rng.poisson(mu * shock)
        mu0_all[name] = mu0
    monthly = pd.DataFrame({
        "area": np.repeat(area, n_months),
        "month": np.tile(month_idx + 1, n_areas),
        "year": np.tile(year_of, n_areas),
        "month_of_year": np.tile(month_idx % 12 + 1, n_areas),
        "population": np.repeat(population, n_months).astype(int),
        "treated": post.ravel().astype(int),
        **{k: v.ravel() for k, v in counts.items()},
    })
    panel = monthly.groupby(["area", "year"], sort=True).agg(
        population=("population", "first"), treated=("treated", "max"),
        **{k: (k, "sum") for k in offences},
    ).reset_index()
    panel["first_treated"] = np.where(panel["area"].isin(area[treated_area]), start, 0)

    # truth: average over treated post area-years of E[Y(1) - Y(0)], annual
    chi = load_weight_table("cambridge_chi")
    truth: dict[str, float] = {}
    cells = post.sum()
    total_effect = harm_effect = 0.0
    for name, (_, effect, chi_name) in offences.items():
        eff = float((mu0_all[name] * effect)[post].sum() / cells * 12)
        truth[f"count_{name}"] = eff
        total_effect += eff
        harm_effect += chi.weights[chi_name] * eff
    truth["count_total"] = total_effect
    truth["harm_cchi"] = harm_effect

    # survey: latent fear = area + year + old + effect + noise
    fear_area = 0.6 * level + rng.normal(0, 0.25, n_areas)
    fear_year = dict(zip(years, rng.normal(0, 0.08, n_years), strict=True))
    vict_rate = 0.12 * np.exp(level)
    year_arr = np.array(years)
    n_cell = rng.poisson(respondents, (n_years, n_areas)) + 20  # respondents per wave and area
    wave_i = np.repeat(np.repeat(np.arange(n_years), n_areas), n_cell.ravel())
    area_i = np.repeat(np.tile(np.arange(n_areas), n_years), n_cell.ravel())
    n_total = len(area_i)
    old = rng.random(n_total) < OLD_SAMPLE_SHARE
    d = treated_area[area_i] & (year_arr[wave_i] >= start)
    z = (fear_area[area_i] + np.array([fear_year[t] for t in years])[wave_i] + OLD_SHIFT * old
         + np.where(d, fear_effect, 0.0) + rng.normal(0, 1, n_total))
    cell = wave_i * n_areas + area_i
    n_old = np.bincount(cell, weights=old, minlength=n_years * n_areas)[cell]
    n_young = n_cell.ravel()[cell] - n_old
    pop_i = population[area_i]
    weight = np.where(old, pop_i * OLD_POP_SHARE / np.maximum(n_old, 1),
                      pop_i * (1 - OLD_POP_SHARE) / np.maximum(n_young, 1)) * rng.uniform(0.8, 1.25, n_total)
    lam = vict_rate[area_i] * np.where(d, 1 + victimisation_effect, 1.0) * rng.gamma(0.5, 2.0, n_total)
    survey = pd.DataFrame({
        "area": area[area_i], "year": year_arr[wave_i], "age_group": np.where(old, "65+", "16-64"),
        "weight": np.round(weight, 2), "times_victimised": rng.poisson(lam),
    })
    survey["safe_after_dark"] = np.array(SAFE_SCALE, dtype=object)[np.searchsorted(SAFE_CUTS, z)]
    for item in ("worry_burglary", "worry_car", "worry_violence"):
        zi = z + rng.normal(0, 0.8, len(z))
        code = np.searchsorted(WORRY_CUTS, zi) + 1
        code[rng.random(len(z)) < 0.02] = 9  # don't know
        survey[item] = code
    survey.insert(0, "respondent", np.arange(1, len(survey) + 1))

    # truth for fear: area-level population share answering "a bit unsafe" or "very unsafe"
    t_idx = np.array([[fear_year[t] for t in years]] * n_areas)
    post_y = np.array([[treated_area[i] and t >= start for t in years] for i in range(n_areas)])
    base = fear_area[:, None] + t_idx

    def share(shift: float) -> np.ndarray:
        return sum(
            s * norm.sf(SAFE_CUTS[1] - (base + OLD_SHIFT * g + shift))
            for g, s in ((0, 1 - OLD_POP_SHARE), (1, OLD_POP_SHARE))
        )

    truth["fear_unsafe_share"] = float((share(fear_effect) - share(0.0))[post_y].mean())
    params = {"n_areas": n_areas, "years": years, "start": start, "seed": seed, "offences": offences,
              "fear_effect": fear_effect, "victimisation_effect": victimisation_effect}
    return CityData(monthly=monthly, panel=panel, survey=survey, truth=truth, params=params)


@lru_cache(maxsize=1)
def default_city() -> CityData:
    return simulate_city()


def city_panel() -> pd.DataFrame:
    """Area x year offence counts of the default simulated city (``cpeval.city``)."""
    return default_city().panel.copy()


def city_monthly() -> pd.DataFrame:
    """Area x month offence counts of the default simulated city (``cpeval.city_monthly``)."""
    return default_city().monthly.copy()


def city_survey() -> pd.DataFrame:
    """Respondent rows of the default simulated city's yearly survey (``cpeval.city_survey``)."""
    return default_city().survey.copy()


# Hot-spots programme with buffers: offence -> (expected count per area-quarter, effect in treated areas,
# effect in buffer areas), as proportional changes. Robbery is displaced into the buffers, burglary falls
# there too (diffusion of benefits), vehicle crime rises in the treated areas (offence displacement).
HOTSPOT_OFFENCES: dict[str, tuple[float, float, float]] = {
    "robbery": (30.0, -0.30, 0.25),
    "burglary": (40.0, -0.25, -0.15),
    "vehicle_crime": (25.0, 0.20, 0.0),
}
STOP_RATES = {"group_a": 15.0, "group_b": 30.0}  # stops per 1,000 residents per quarter before the programme
STOP_CHANGE = {"group_a": 0.40, "group_b": 1.10}  # proportional rise in treated areas: rate ratio x 1.5
ASB_EFFECT = {"low": -0.25, "high": 0.30}  # antisocial behaviour in treated areas by deprivation
# Street crime counted in the patrol hours (Thursday to Saturday, 20:00-04:00) and in all other hours: expected
# count per area-quarter and proportional change in treated areas. Patrols cut it in their hours and push some of
# it into the other hours (temporal displacement).
STREET_CRIME = {"patrol_hours": (12.0, -0.40), "other_hours": (18.0, 0.25)}


@dataclass(frozen=True)
class HotspotCity:
    panel: pd.DataFrame
    truth: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)


def simulate_hotspot_city(
    grid: tuple[int, int] = (18, 12),
    cell_m: float = 500.0,
    quarters: int = 16,
    start: int = 9,
    null: bool = False,
    dispersion: float = 30.0,
    seed: int = 2027,
) -> HotspotCity:
    """A grid of areas (``cell_m`` metres apart) with a hot-spots programme in spaced-out areas from quarter
    ``start``. Each area has centroids (x/y metres and lon/lat), a role column (treated, buffer = a rook
    neighbour of a treated area, control), a deprivation level, residents of two groups, offence counts and
    stops of each group, and street crime counted in the patrol hours and in the other hours. With ``null``
    every programme effect is zero. ``truth`` holds the true effects on the
    log scale (rate ratios), the expected net change in each offence across treated and buffer areas after the
    start, and the true change in the stop rate ratio (log scale)."""
    rng = np.random.default_rng(seed)
    nx, ny = grid
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    n = nx * ny
    area = np.array([f"A{i + 1:03d}" for i in range(n)])
    treated = (ix % 3 == 1) & (iy % 3 == 1)  # spaced: no two treated areas are rook or diagonal neighbours
    rook = np.abs(ix[:, None] - ix[None, treated]) + np.abs(iy[:, None] - iy[None, treated])
    buffer = ~treated & (rook == 1).any(axis=1)
    role = np.where(treated, "treated", np.where(buffer, "buffer", "control"))
    deprivation = np.where(rng.random(n) < 0.5, "high", "low")
    deprivation[np.flatnonzero(treated)] = np.resize(["high", "low"], int(treated.sum()))  # half the hot spots each
    level = rng.normal(0, 0.25, n)
    res_a = np.round(rng.uniform(2000, 5000, n))
    res_b = np.round(rng.uniform(800, 2500, n))
    q = np.arange(1, quarters + 1)
    post = (q >= start)[None, :]
    scale = 0 if null else 1

    def draw(mu0: np.ndarray, change: np.ndarray) -> np.ndarray:
        mu = mu0 * np.where(post, 1 + scale * change[:, None], 1.0)
        return rng.poisson(mu * rng.gamma(dispersion, 1 / dispersion, mu.shape))

    season = 1 + 0.1 * np.sin(2 * np.pi * q / 4)
    cols: dict[str, np.ndarray] = {}
    net: dict[str, float] = {}
    for name, (base, eff_t, eff_b) in HOTSPOT_OFFENCES.items():
        mu0 = (base * np.exp(level + rng.normal(0, 0.1, n)))[:, None] * season[None, :]
        change = np.where(treated, eff_t, np.where(buffer, eff_b, 0.0))
        cols[name] = draw(mu0, change)
        # expected change in crimes across treated and buffer areas after the start (the gamma noise has mean 1)
        net[name] = float(scale * (mu0 * change[:, None] * post).sum())
    asb0 = (35 * np.exp(level))[:, None] * season[None, :]
    cols["antisocial_behaviour"] = draw(asb0, np.where(treated, np.where(deprivation == "high", ASB_EFFECT["high"],
                                                                          ASB_EFFECT["low"]), 0.0))
    for g, residents in (("group_a", res_a), ("group_b", res_b)):
        mu0 = (STOP_RATES[g] * residents / 1000 * np.exp(0.5 * level))[:, None] * np.ones(quarters)[None, :]
        cols[f"stops_{g}"] = draw(mu0, np.where(treated, STOP_CHANGE[g], 0.0))
    lon0, lat0 = -1.90, 52.48  # a made-up origin; 1 degree of latitude is about 111,195 m
    x, y = ix * cell_m, iy * cell_m
    panel = pd.DataFrame({
        "area": np.repeat(area, quarters), "quarter": np.tile(q, n),
        "role": np.repeat(role, quarters), "x": np.repeat(x, quarters), "y": np.repeat(y, quarters),
        "lon": np.repeat(lon0 + x / (111_195.0 * np.cos(np.radians(lat0))), quarters),
        "lat": np.repeat(lat0 + y / 111_195.0, quarters),
        "deprivation": np.repeat(deprivation, quarters),
        "population": np.repeat(res_a + res_b, quarters).astype(int),
        "residents_a": np.repeat(res_a, quarters).astype(int), "residents_b": np.repeat(res_b, quarters).astype(int),
        "treated": (post & treated[:, None]).ravel().astype(int),
        **{k: v.ravel() for k, v in cols.items()},
    })
    panel["stops"] = panel["stops_group_a"] + panel["stops_group_b"]
    rng = np.random.default_rng([seed, 1])  # its own stream: the columns above do not change with it
    for band, (base, eff) in STREET_CRIME.items():
        mu0 = (base * np.exp(level))[:, None] * season[None, :]
        mu = mu0 * np.where(post & treated[:, None], 1 + scale * eff, 1.0)
        panel[f"street_crime_{band}"] = rng.poisson(mu * rng.gamma(dispersion, 1 / dispersion, mu.shape)).ravel()
        net[f"street_crime_{band}"] = float(scale * eff * (mu0 * (post & treated[:, None])).sum())
    truth = {f"{k}_treated": float(np.log1p(scale * v[1])) for k, v in HOTSPOT_OFFENCES.items()}
    truth |= {f"{k}_buffer": float(np.log1p(scale * v[2])) for k, v in HOTSPOT_OFFENCES.items()}
    truth |= {f"{k}_net_change": v for k, v in net.items()}
    truth |= {f"street_crime_{band}": float(np.log1p(scale * eff)) for band, (_, eff) in STREET_CRIME.items()}
    truth["street_crime_all_hours_net_change"] = net["street_crime_patrol_hours"] + net["street_crime_other_hours"]
    truth |= {f"antisocial_behaviour_{d}": float(np.log1p(scale * e)) for d, e in ASB_EFFECT.items()}
    truth["stop_rate_ratio_change"] = float(np.log1p(scale * STOP_CHANGE["group_b"])
                                            - np.log1p(scale * STOP_CHANGE["group_a"]))
    params = {"grid": grid, "cell_m": cell_m, "quarters": quarters, "start": start, "null": null, "seed": seed,
              "roles": {r: int((role == r).sum()) for r in ("treated", "buffer", "control")}}
    return HotspotCity(panel=panel, truth=truth, params=params)


def city_hotspots() -> pd.DataFrame:
    """Area x quarter panel of the default simulated hot-spots city (``cpeval.city_hotspots``)."""
    return simulate_hotspot_city().panel.copy()


# A trial of a victim-outreach programme offered to residents: the harm score of incidents against the person in
# the follow-up year falls for residents never victimised before, but rises for prior victims (the outreach
# draws attention to them: a harmed subgroup).
TRIAL_EFFECT = {"no": -0.40, "yes": 0.50}  # additive effect on the harm score, by prior victimisation


@dataclass(frozen=True)
class CityTrial:
    frame: pd.DataFrame
    truth: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)


def simulate_city_trial(n: int = 2400, null: bool = False, seed: int = 2028) -> CityTrial:
    """An individually randomised trial (half offered the programme within each ward) with baseline covariates
    (age, prior offences against the respondent) and moderators (sex, age band, prior victimisation). The
    outcome is a harm score of incidents against the person in the follow-up year (a level). ``truth`` holds the true
    average effect in each subgroup of ``prior_victim`` and overall (zero everywhere with ``null``)."""
    rng = np.random.default_rng(seed)
    ward = rng.integers(1, 13, n)
    age = rng.integers(16, 80, n)
    sex = np.where(rng.random(n) < 0.5, "female", "male")
    prior = rng.poisson(0.8, n)
    prior_victim = np.where(rng.random(n) < 1 / (1 + np.exp(-(prior - 1.0))), "yes", "no")
    assigned = np.zeros(n, dtype=int)
    for w in np.unique(ward):  # complete randomisation within each ward
        idx = np.flatnonzero(ward == w)
        assigned[rng.permutation(idx)[: len(idx) // 2]] = 1
    effect = np.where(prior_victim == "yes", TRIAL_EFFECT["yes"], TRIAL_EFFECT["no"]) * (0 if null else 1)
    y = 1.2 + 0.5 * prior + 0.01 * (age - 45) + 0.3 * (sex == "male") + effect * assigned + rng.normal(0, 1.2, n)
    frame = pd.DataFrame({
        "person": np.arange(1, n + 1), "ward": ward, "assigned": assigned, "age": age, "sex": sex,
        "age_band": np.select([age < 25, age < 45], ["16-24", "25-44"], "45+"), "prior_incidents": prior,
        "prior_victim": prior_victim, "harm_score": np.round(y, 2),
    })
    scale = 0 if null else 1
    truth = {f"prior_victim_{k}": scale * v for k, v in TRIAL_EFFECT.items()}
    truth["average"] = float(effect.mean())
    return CityTrial(frame=frame, truth=truth, params={"n": n, "null": null, "seed": seed})


def city_trial() -> pd.DataFrame:
    """Respondent rows of the default simulated outreach trial (``cpeval.city_trial``)."""
    return simulate_city_trial().frame.copy()
