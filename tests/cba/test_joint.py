"""Joint uncertainty across valued outcomes: the effects' sampling correlation and the Monte Carlo that uses it.

References: the correlation of two TWFE effects equals the one a stacked (seemingly-unrelated) regression with
a cluster-robust covariance reports (statsmodels, to 1e-8); the Monte Carlo probability that benefits exceed
costs matches the analytic value for NPV linear in two correlated normal effects (to 0.005 with 100,000
draws); a simulation with a known cross-outcome correlation recovers it; Callaway & Sant'Anna bootstrap
replicates are resampled jointly.
"""

from __future__ import annotations

import copy
import dataclasses
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from cpeval.cba import cost_benefit, prepare
from cpeval.cba.discount import discount_factors
from cpeval.designs import design_from_dict
from cpeval.estimation.inference import effect_correlation
from cpeval.pipeline import evaluate
from cpeval.results import Sampling

from ._cba_support import ROOT, make_effect

TWO_OUTCOMES = {
    "name": "two outcomes",
    "kind": "did",
    "data": {"path": str(ROOT / "case_studies" / "data" / "castle.csv"), "unit": "sid", "time": "year",
             "weights": "popwt", "population": "population"},
    "treatment": {"indicator": "post"},
    "outcomes": [
        {"name": "homicide", "column": "l_homicide", "measure": "log", "take_log": False},
        {"name": "larceny", "column": "l_larceny", "measure": "log", "take_log": False},
    ],
    "estimator": {"method": "twfe", "cluster": "sid"},
}


def _stacked_fit(frame: pd.DataFrame, ys: list[str]):
    """Stack the outcomes, give each its own state and year effects and treatment coefficient, fit by WLS with
    a state-clustered covariance (statsmodels: CR0 x G/(G-1) (N-1)/(N-K), K the columns of X)."""
    import statsmodels.api as sm

    parts = []
    sid, year = frame["sid"].to_numpy(), frame["year"].to_numpy()
    for k, y in enumerate(ys):
        cols = {"y": frame[y].to_numpy(), "sid": sid, "w": frame["popwt"].to_numpy()}
        for j in range(len(ys)):
            on = float(j == k)
            cols[f"post_{j}"] = frame["post"].to_numpy() * on
            cols[f"const_{j}"] = np.full(len(frame), on)
            cols.update({f"s{s}_{j}": (sid == s) * on for s in sorted(set(sid))[1:]})
            cols.update({f"t{t}_{j}": (year == t) * on for t in sorted(set(year))[1:]})
        parts.append(pd.DataFrame(cols))
    st = pd.concat(parts, ignore_index=True)
    x = st.drop(columns=["y", "sid", "w"]).astype(float)
    fit = sm.WLS(st["y"], x, weights=st["w"]).fit(cov_type="cluster", cov_kwds={"groups": st["sid"]})
    return fit, x.shape


def _stacked_correlation(frame: pd.DataFrame, ys: list[str]) -> float:
    fit, _ = _stacked_fit(frame, ys)
    cov = fit.cov_params().loc[["post_0", "post_1"], ["post_0", "post_1"]].to_numpy()
    return float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))


def test_twfe_correlation_equals_stacked_regression(castle):
    result = evaluate(TWO_OUTCOMES)
    corr, notes, groups = effect_correlation(result.effects)
    assert notes == [] and groups == [[0, 1]]
    assert corr[0, 1] == pytest.approx(_stacked_correlation(castle, ["l_homicide", "l_larceny"]), abs=1e-8)
    assert corr[0, 1] == pytest.approx(corr[1, 0]) and abs(corr[0, 1]) > 0.05  # a real, non-trivial correlation


def test_correlation_invariant_to_row_order_and_cluster_labels(castle):
    base = effect_correlation(evaluate(TWO_OUTCOMES).effects)[0]
    shuffled = castle.sample(frac=1.0, random_state=3).reset_index(drop=True)
    relabelled = shuffled.assign(sid=shuffled["sid"].map(lambda s: f"state-{100 - s}"))
    other = effect_correlation(evaluate(TWO_OUTCOMES, data=relabelled).effects)[0]
    np.testing.assert_allclose(other, base, atol=1e-10)


def test_influence_reproduces_the_cr0_variance(castle):
    # the influence values are each cluster's contribution: their sum of squares is the CR0 variance, which is
    # statsmodels' clustered variance of the dummy-variable regression without its G/(G-1) (N-1)/(N-K) factor
    e = evaluate(TWO_OUTCOMES).effects[0]
    fit, (n, k) = _stacked_fit(castle, ["l_homicide"])
    g = castle["sid"].nunique()
    cr0 = fit.cov_params().loc["post_0", "post_0"] / (g / (g - 1) * (n - 1) / (n - k))
    assert np.sum(e.sampling.influence**2) == pytest.approx(cr0, rel=1e-8)
    assert e.estimate == pytest.approx(fit.params["post_0"], rel=1e-8)


def _two_outcome_inputs(tmp_path, simulations: int, cost: float = 90000):
    csv = tmp_path / "uc.csv"
    csv.write_text("category,amount,currency,price_year\nburglary,2000,GBP,2020\nrobbery,9000,GBP,2020\n")
    d = copy.deepcopy(TWO_OUTCOMES)
    d["outcomes"] = [{"name": "burglary", "column": "burglary", "measure": "count"},
                     {"name": "robbery", "column": "robbery", "measure": "count"}]
    d["cost_benefit"] = {
        "currency": "GBP", "price_year": 2020, "horizon_years": 5, "discount": 0.035, "unit_costs": str(csv),
        "outcomes": {"burglary": {"category": "burglary", "units": 20}, "robbery": {"category": "robbery",
                                                                                   "units": 20}},
        "costs": [{"item": "patrols", "amount": cost, "recurring": True}], "observed_years": 5,
        "simulations": simulations, "seed": 5}
    return prepare(design_from_dict(d))


def _with_influence(effect, influence):
    return dataclasses.replace(effect, sampling=Sampling(by="sid", labels=np.arange(len(influence)),
                                                         influence=np.asarray(influence, dtype=float)))


def test_monte_carlo_matches_analytic_probability_with_correlated_effects(tmp_path):
    inputs = _two_outcome_inputs(tmp_path, 100_000, cost=40000)
    rng = np.random.default_rng(0)
    a = rng.normal(size=40)
    b = 0.8 * a + 0.6 * rng.normal(size=40)  # influence vectors with correlation 0.65
    rho = float(a @ b / np.sqrt((a @ a) * (b @ b)))
    e1 = _with_influence(make_effect(-1.2, 0.8, outcome="burglary"), a)
    e2 = _with_influence(make_effect(-0.3, 0.25, outcome="robbery"), b)
    r = cost_benefit(inputs, [e1, e2])
    # NPV = c0 + c1 b1 + c2 b2 with (b1, b2) bivariate normal: P(NPV > 0) = Phi(E[NPV] / SD[NPV])
    f = discount_factors(((0, 0.035),), 5).sum()
    c1, c2, c0 = -20 * 2000 * f, -20 * 9000 * f, -40000 * f
    mean = c0 + c1 * e1.estimate + c2 * e2.estimate
    sd = np.sqrt((c1 * 0.8) ** 2 + (c2 * 0.25) ** 2 + 2 * rho * c1 * c2 * 0.8 * 0.25)
    assert r.npv == pytest.approx(mean, rel=1e-12)
    assert r.prob_benefits_exceed_costs == pytest.approx(NormalDist().cdf(mean / sd), abs=0.005)
    dep = r.monte_carlo["effect_dependence"]
    assert dep["method"].startswith("multivariate normal") and dep["correlation"][0][1] == pytest.approx(rho)
    # ignoring the correlation would give a visibly different answer (so the check above can fail)
    sd_indep = np.sqrt((c1 * 0.8) ** 2 + (c2 * 0.25) ** 2)
    assert NormalDist().cdf(mean / sd_indep) - NormalDist().cdf(mean / sd) > 0.05
    # reproducible from the seed
    assert cost_benefit(inputs, [e1, e2]).monte_carlo == r.monte_carlo


def test_effects_without_influence_are_independent_and_said_so(tmp_path):
    inputs = _two_outcome_inputs(tmp_path, 2000)
    e1 = _with_influence(make_effect(-1.2, 0.8, outcome="burglary"), [1.0, 2.0, 3.0])
    e2 = make_effect(-0.3, 0.25, outcome="robbery")
    with pytest.warns(UserWarning, match="no influence values"):
        r = cost_benefit(inputs, [e1, e2])
    assert r.monte_carlo["effect_dependence"]["method"].startswith("independent")
    assert any("taken as uncorrelated" in w for w in r.warnings)


def _correlated_panels(rho: float, n_units: int = 40, n_years: int = 8, seed: int = 0) -> pd.DataFrame:
    """Two outcomes whose unit-level shocks (random walks, so within-unit correlated) have correlation rho."""
    rng = np.random.default_rng(seed)
    units = np.repeat(np.arange(n_units), n_years)
    years = np.tile(np.arange(2000, 2000 + n_years), n_units)
    post = ((units < n_units // 2) & (years >= 2004)).astype(int)
    e1 = rng.normal(size=(n_units, n_years))
    e2 = rho * e1 + np.sqrt(1 - rho**2) * rng.normal(size=(n_units, n_years))
    walk1, walk2 = np.cumsum(e1, axis=1).ravel(), np.cumsum(e2, axis=1).ravel()
    return pd.DataFrame({"unit": units, "year": years, "post": post, "y1": 1.0 * post + walk1,
                         "y2": -0.5 * post + walk2})


def test_simulated_correlation_is_recovered():
    # truth: the correlation of the two TWFE estimates across 200 simulated panels with rho = 0.6 shocks
    design = {"name": "sim", "kind": "did", "data": {"path": "unused.csv", "unit": "unit", "time": "year"},
              "treatment": {"indicator": "post"},
              "outcomes": [{"name": "y1", "column": "y1"}, {"name": "y2", "column": "y2"}],
              "estimator": {"method": "twfe"}}
    est, corr = [], []
    for seed in range(200):
        r = evaluate(design, data=_correlated_panels(0.6, seed=seed))
        est.append([e.estimate for e in r.effects])
        corr.append(effect_correlation(r.effects)[0][0, 1])
    truth = float(np.corrcoef(np.asarray(est).T)[0, 1])
    assert truth == pytest.approx(0.6, abs=0.12)  # the design transmits the shock correlation
    assert float(np.mean(corr)) == pytest.approx(truth, abs=0.08)


def test_callaway_santanna_bootstrap_replicates_resampled_jointly(tmp_path):
    d = copy.deepcopy(TWO_OUTCOMES)
    d["data"].pop("weights")
    d["outcomes"] = [{"name": "burglary", "column": "burglary", "measure": "count"},
                     {"name": "robbery", "column": "robbery", "measure": "count"}]
    d["estimator"] = {"method": "callaway_santanna", "cluster": "sid", "control_group": "not_yet_treated"}
    d["inference"] = {"bootstrap": 499, "seed": 3}
    effects = evaluate(d).effects
    s1, s2 = effects[0].sampling, effects[1].sampling
    assert s1.draws_key == s2.draws_key and len(s1.draws) == 499
    # the replicates' correlation estimates the same quantity as the influence-function correlation
    boot_corr = float(np.corrcoef(s1.draws, s2.draws)[0, 1])
    assert boot_corr == pytest.approx(effect_correlation(effects)[0][0, 1], abs=0.12)
    inputs = _two_outcome_inputs(tmp_path, 20_000)
    mc = cost_benefit(inputs, effects).monte_carlo
    assert mc["effect_dependence"]["groups"] == [{"outcomes": ["burglary", "robbery"],
                                                  "law": "499 bootstrap replicates"}]
    assert all("jointly" in line for line in mc["effect_draws"])


@pytest.mark.parametrize(("dfs", "law"), [((9, 9), "multivariate t"), ((9, None), "Gaussian copula")])
def test_t_laws_keep_their_margins_and_correlation(dfs, law):
    # each effect's margin is its own reference law (checked by quantiles), and the correlation is kept
    from scipy import stats

    from cpeval.cba.montecarlo import draw_effects

    rng = np.random.default_rng(1)
    a = rng.normal(size=30)
    b = 0.7 * a + 0.7 * rng.normal(size=30)
    rho = float(a @ b / np.sqrt((a @ a) * (b @ b)))
    e1 = _with_influence(make_effect(-1.0, 0.5, outcome="burglary", df=dfs[0]), a)
    e2 = _with_influence(make_effect(2.0, 0.2, outcome="robbery", df=dfs[1]), b)
    out, _, dep = draw_effects(np.random.default_rng(2), [e1, e2], 200_000)
    assert dep["method"].startswith(law)
    for j, (e, df) in enumerate(zip((e1, e2), dfs, strict=True)):
        ref = stats.t(df) if df is not None else stats.norm()
        q = np.quantile((out[:, j] - e.estimate) / e.std_error, [0.05, 0.5, 0.95])
        np.testing.assert_allclose(q, ref.ppf([0.05, 0.5, 0.95]), atol=0.02)
    assert float(np.corrcoef(out.T)[0, 1]) == pytest.approx(rho, abs=0.03)


def test_effects_from_different_data_are_not_correlated(tmp_path):
    # the same cluster labels in two unrelated data sets must not produce a correlation
    inputs = _two_outcome_inputs(tmp_path, 2000)
    a = np.random.default_rng(0).normal(size=40)
    e1 = dataclasses.replace(make_effect(-1.2, 0.8, outcome="burglary"), sampling=Sampling(
        by="sid", labels=np.arange(40), influence=a, source="data-1"))
    e2 = dataclasses.replace(make_effect(-0.3, 0.25, outcome="robbery"), sampling=Sampling(
        by="sid", labels=np.arange(40), influence=a, source="data-2"))
    corr, notes, groups = effect_correlation([e1, e2])
    assert corr[0, 1] == 0.0 and groups == [[0], [1]] and "different data" in notes[0]
    with pytest.warns(UserWarning, match="different data"):
        r = cost_benefit(inputs, [e1, e2])
    assert r.monte_carlo["effect_dependence"]["method"].startswith("independent")


def test_zero_influence_is_no_influence():
    e1 = _with_influence(make_effect(-1.2, 0.8, outcome="burglary"), [1.0, -2.0, 0.5])
    e2 = _with_influence(make_effect(0.0, 0.0, outcome="robbery"), [0.0, 0.0, 0.0])
    corr, notes, groups = effect_correlation([e1, e2])
    assert np.isfinite(corr).all() and groups == [[0], [1]] and "robbery" in notes[0]


def test_shared_t_law_does_not_tie_independent_effects():
    # one variance draw is shared only within a correlated group: an effect outside it stays independent
    from cpeval.cba.montecarlo import draw_effects

    rng = np.random.default_rng(3)
    a = rng.normal(size=30)
    e1 = _with_influence(make_effect(0.0, 1.0, outcome="burglary", df=4), a)
    e2 = _with_influence(make_effect(0.0, 1.0, outcome="robbery", df=4), a + 0.5 * rng.normal(size=30))
    e3 = make_effect(0.0, 1.0, outcome="theft", df=4)  # no influence: its own group
    out, _, dep = draw_effects(np.random.default_rng(4), [e1, e2, e3], 400_000)
    assert [g["outcomes"] for g in dep["groups"]] == [["burglary", "robbery"], ["theft"]]
    # tails of the grouped effects and of the lone one co-occur as under independence
    tail = np.abs(out) > 2.776  # the 0.95 two-sided t(4) critical value: P = 0.05 each
    assert tail[:, 2].mean() == pytest.approx(0.05, abs=0.002)
    assert (tail[:, 0] & tail[:, 2]).mean() == pytest.approx(0.05 * 0.05, abs=0.0006)
    assert abs(np.corrcoef(np.abs(out[:, 0]), np.abs(out[:, 2]))[0, 1]) < 0.01


def test_effect_without_standard_error_is_drawn_from_its_interval_or_not_at_all(tmp_path):
    # synthetic control reports a conformal interval and no SE: the Monte Carlo approximates a normal law
    # from the interval (with a warning), and gives up (with a warning) when the interval is unbounded
    inputs = _two_outcome_inputs(tmp_path, 20_000)
    conformal = dataclasses.replace(make_effect(-1.2, 0.8, outcome="burglary"), std_error=float("nan"),
                                    method="abadie")
    other = make_effect(-0.3, 0.25, outcome="robbery")
    with pytest.warns(UserWarning, match="normal law with SE 0.8"):
        r = cost_benefit(inputs, [conformal, other])
    assert 0 < r.prob_benefits_exceed_costs < 1
    unbounded = dataclasses.replace(conformal, ci_lower=float("-inf"))
    with pytest.warns(UserWarning, match="no Monte Carlo: burglary"):
        r = cost_benefit(inputs, [unbounded, other])
    assert r.monte_carlo == {} and r.prob_benefits_exceed_costs is None
