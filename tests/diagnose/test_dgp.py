"""The fitted data-generating processes recover known truth, and the variants change what they say they do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.data import load_panel
from cpeval.designs import design_from_dict
from cpeval.diagnose import dgp as dgps
from cpeval.diagnose import diagnose
from diagnose._designs import counts, did_design


def _panel(frame: pd.DataFrame, frequency: str | None = None, measure: str = "count"):
    raw = did_design({})
    raw["data"]["frequency"] = frequency
    raw["outcomes"][0]["measure"] = measure
    panel = load_panel(design_from_dict(raw), frame)
    return panel, dgps.cells_of(panel, panel.periods.frequency if panel.periods is not None else None)


def test_negative_binomial_counts_with_trend_and_seasons_are_recovered():
    """Truth: log mu = log(level_i) + 0.01 t + 0.3 sin(2 pi month / 12), Var = mu + 0.25 mu^2."""
    rng = np.random.default_rng(8)
    U, T = 300, 48
    unit, t = np.repeat(np.arange(U), T), np.tile(np.arange(T), U)
    month = pd.date_range("2019-01-01", periods=T, freq="MS")[t]
    mu = np.exp(np.log(rng.uniform(5, 30, U))[unit] + 0.01 * t + 0.3 * np.sin(2 * np.pi * month.month / 12))
    y = rng.poisson(mu * rng.gamma(4.0, 0.25, len(mu)))
    frame = pd.DataFrame({"area": unit, "month": month, "post": ((unit < 50) & (t >= 36)).astype(int),
                          "burglary": y})
    panel, cells = _panel(frame, "month")
    fit = dgps.fit_count(panel.frame["burglary"].to_numpy(float), cells, None)
    assert fit.params["seasons"] == 12 and fit.params["pre_periods"] == 36
    assert fit.alpha == pytest.approx(0.25, abs=0.02)
    assert fit.params["trend_per_period"] == pytest.approx(0.01, abs=0.002)
    # seasonal shape: July over January is exp(0.3 (sin(7 pi/6) - sin(pi/6))) = exp(-0.3)
    jan, jul = fit.mu[0, 0], fit.mu[0, 6]
    assert np.log(jul / jan) == pytest.approx(-0.3 + 6 * 0.01, abs=0.03)


def test_level_outcome_noise_and_autocorrelation_are_recovered():
    """Truth: y = a_i + l_t + e, e AR(1) with rho 0.5 and SD 2 (stationary)."""
    rng = np.random.default_rng(9)
    U, T, rho, sd = 400, 40, 0.5, 2.0
    e = np.zeros((U, T))
    e[:, 0] = rng.normal(scale=sd, size=U)
    for k in range(1, T):
        e[:, k] = rho * e[:, k - 1] + rng.normal(scale=sd * np.sqrt(1 - rho**2), size=U)
    unit, t = np.repeat(np.arange(U), T), np.tile(np.arange(T), U)
    y = rng.normal(size=U)[unit] + np.sin(t / 5.0) + e.ravel()
    frame = pd.DataFrame({"area": unit, "month": t + 1, "post": ((unit < 100) & (t >= 30)).astype(int),
                          "burglary": y})
    panel, cells = _panel(frame, measure="level")
    fit = dgps.fit_level(panel.frame["burglary"].to_numpy(float), cells, None, survey=False)
    # fixed-effects residuals understate rho by about (1 + rho) / (T - 1) (Nickell 1981): 0.04 here
    assert fit.ar1 == pytest.approx(rho - (1 + rho) / (T - 1), abs=0.03)
    assert fit.sd == pytest.approx(sd, rel=0.05)


def test_declared_dgp_overrides_the_fit():
    d = diagnose(did_design({"simulations": 2, "dgp": {"burglary": {"family": "negative_binomial",
                                                                      "dispersion": 0.5}}}),
                 counts(), workers=1, progress=False)
    assert d.variants[0].outcomes[0].dgp["family"] == "negative_binomial"
    assert d.variants[0].outcomes[0].dgp["dispersion"] == 0.5


def test_variants_change_the_treated_units_and_the_pre_periods():
    d = diagnose(did_design({"simulations": 20, "effect": {"burglary": "-20%"}}), counts(treated=4, start=6),
                 vary=["treated_units=2,8", "pre_periods=2"], workers=1, progress=False)
    got = [(v.label, v.n_treated, v.n_pre, v.n_units) for v in d.variants]
    assert got == [("as designed", 4, 5, 20), ("treated_units=2", 2, 5, 20), ("treated_units=8", 8, 5, 20),
                   ("pre_periods=2", 4, 2, 20)]
    # the true effect is the same proportional fall: -20% of each variant's treated expected counts
    truths = [v.outcomes[0].true_effect / v.outcomes[0].baseline for v in d.variants]
    assert truths == pytest.approx([-0.2] * 4)


def test_unit_relabelling_does_not_change_the_diagnosis():
    data = counts(treated=3)
    relabelled = data.assign(area=data["area"].map(lambda a: f"ward-{a:02d}"))
    design = did_design({"simulations": 20, "effect": {"burglary": "-10%"}})
    a = diagnose(design, data, workers=1, progress=False).to_dict()
    b = diagnose(design, relabelled, workers=1, progress=False).to_dict()
    a.pop("data_hash"), b.pop("data_hash")
    assert a == b


def test_weighted_designs_get_the_weighted_truth():
    """A weighted estimator's estimand weights the per-cell falls (-20% of mu) by data.weights: the truth is
    -0.2 * sum(w mu) / sum(w) over the treated cells, computed here from the fitted means, not the plain mean."""
    from cpeval.diagnose.problem import prepare

    data = counts(n_units=30, treated=10, start=6, mean=20.0, seed=12)
    data["w"] = data.groupby("area")["burglary"].transform("mean") ** 4
    raw = did_design({"simulations": 1, "effect": {"burglary": "-20%"}})
    raw["data"]["weights"] = "w"
    v = prepare(raw, data).variants[0]
    plan, cells = v.outcomes[0], v.cells
    frame = v.panel.frame
    treated = frame["post"].to_numpy() == 1
    mu = plan.dgp.mu[cells.unit[treated], cells.period[treated]]
    w = frame.loc[treated, "w"].to_numpy()
    assert plan.truth == pytest.approx(-0.2 * np.sum(w * mu) / np.sum(w), rel=1e-12)
    assert abs(plan.truth - (-0.2 * mu.mean())) > 0.05 * abs(plan.truth)


def test_poisson_with_population_exposure_models_the_rate():
    """With estimator.exposure: population the DGP is log mu = log(pop) + a_i + b t: mu / pop / exp(b t) is the
    same in every period of a unit, so areas that grow get proportionally more simulated crime."""
    from cpeval.diagnose.problem import prepare

    data = counts(n_units=12, treated=3, seed=2)
    data["population"] = 1000 * (1 + 0.1 * (data["area"] % 3) * data["month"])
    raw = did_design({"simulations": 1}, method="poisson")
    raw["estimator"]["exposure"] = "population"
    raw["data"]["population"] = "population"
    v = prepare(raw, data).variants[0]
    dgp, frame = v.outcomes[0].dgp, v.panel.frame
    pop = frame.pivot(index="area", columns="month", values="population").to_numpy()
    b = dgp.params["trend_per_period"]
    rate = dgp.mu / pop / np.exp(b * np.arange(pop.shape[1]))
    assert np.allclose(rate, rate[:, :1], rtol=1e-10)
    # area 2's population grows 2.5-fold while area 0's stays put: their counts diverge by that factor
    growth = (dgp.mu[2, -1] / dgp.mu[2, 0]) / (dgp.mu[0, -1] / dgp.mu[0, 0])
    assert growth == pytest.approx(3000 / 1200, rel=1e-10)
