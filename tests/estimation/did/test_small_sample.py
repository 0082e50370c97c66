"""estimator.small_sample: reghdfe reproduces R fixest's default ssc() and Stata xtreg / reghdfe clustered
errors to their printed digits; the fixed-effect count follows fixest's documented rule; Poisson offers the
same conventions (fixest's fepois default)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

import cpeval
from _support import CASE_DATA, REFERENCE
from cpeval.designs import design_from_dict
from cpeval.estimation.fixed_effects import fixef_k


def _evaluate(raw: dict, frame: pd.DataFrame, outcome: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cpeval.evaluate(design_from_dict(raw), data=frame).effect(outcome)


def _did(unit: str, time: str, column: str, measure: str, weights: str | None = None, **estimator) -> dict:
    return {
        "name": "small-sample reference", "kind": "did",
        "data": {"path": "x.csv", "unit": unit, "time": time, "weights": weights},
        "treatment": {"indicator": "post"},
        "outcomes": [{"name": column, "column": column, "family": "other", "measure": measure,
                      **({"take_log": False} if measure == "log" else {})}],
        "estimator": {"method": "twfe", **estimator},
    }


def test_fixest_printed_twfe_on_mpdta():
    """fixest::feols(lemp ~ post | countyreal + year, cluster = "countyreal") as printed in the twfeweights
    README: estimate, SE, t and p to the printed digits (p from t with G - 1 = 499 df, fixest's t.df = "min")."""
    ref = json.loads((REFERENCE / "did" / "fixest_twfe_mpdta.json").read_text())
    mp = pd.read_csv(CASE_DATA / "mpdta.csv")
    mp["post"] = ((mp["year"] >= mp["first.treat"]) & (mp["treat"] == 1)).astype(int)
    e = _evaluate(_did("countyreal", "year", "lemp", "log", small_sample="reghdfe"), mp, "lemp")
    printed, tol = ref["printed"], ref["tolerance"]
    assert e.n_obs == printed["observations"]
    assert e.estimate == pytest.approx(printed["estimate"], abs=tol["estimate"])
    assert e.std_error == pytest.approx(printed["std_error"], abs=tol["std_error"])
    assert e.estimate / e.std_error == pytest.approx(printed["t_value"], abs=tol["t_value"])
    assert e.p_value == pytest.approx(printed["p_value"], abs=tol["p_value"])
    assert e.df == 499


@pytest.mark.parametrize("weights", [None, "popwt"])
def test_stata_xtreg_fe_cluster_on_castle(castle, weights):
    """Stata 18 xtreg l_homicide i.year post [aweight=popwt], fe vce(cluster sid) (StatsPAI's recorded
    constants): K = 12, the state effects nested in the clusters counting as one parameter."""
    ref = json.loads((REFERENCE / "did" / "stata_xtreg_castle.json").read_text())
    printed = ref["printed"]["weighted_popwt" if weights else "unweighted"]
    e = _evaluate(_did("sid", "year", "l_homicide", "log", weights, small_sample="reghdfe"), castle, "l_homicide")
    assert e.estimate == pytest.approx(printed["estimate"], abs=ref["tolerance"]["absolute"])
    assert e.std_error == pytest.approx(printed["std_error"], abs=ref["tolerance"]["absolute"])


def test_fixef_k_follows_fixests_documented_example():
    """fixest's ?ssc example: fe1 = rep(1:3, c(4, 3, 3)), fe2 = rep(1:5, each = 2), clusters by fe1.
    fixef.K = "nested": K = 1 + 5 (x + fe2), so the fixed effects count 5; "full": 1 + 3 + 5 - 1, so 7.
    With every fixed effect nested fixest keeps one parameter for the intercept."""
    fe1 = np.repeat([0, 1, 2], [4, 3, 3])
    fe2 = np.repeat(np.arange(5), 2)
    assert fixef_k([fe1, fe2], fe1, nested=True) == 5
    assert fixef_k([fe1, fe2], fe1, nested=False) == 7
    assert fixef_k([fe1], fe1, nested=True) == 1
    # clusters by fe2 (fe2 is nested in them; fe1 is not): 3 + 5 - 1 - (5 - 1) = 3
    assert fixef_k([fe1, fe2], fe2, nested=True) == 3


def _count_panel(n_units: int = 30, n_periods: int = 8, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    post = ((unit < n_units // 3) & (period >= n_periods // 2)).astype(int)
    mu = np.exp(1.0 + 0.02 * unit + 0.05 * period - 0.3 * post)
    return pd.DataFrame({"unit": unit, "period": period, "post": post, "y": rng.poisson(mu).astype(float)})


@pytest.mark.parametrize("convention", ["auto", "areg", "reghdfe"])
def test_poisson_small_sample_conventions_against_glm(convention):
    """Hand calculation from statsmodels' Poisson GLM with unit and period dummies (CR0 sandwich):
    'auto' multiplies by G/(G-1) only; 'reghdfe' (fixest's fepois default) also by (N-1)/(N-K) with
    K = 1 + T (units nested in the unit clusters count one parameter); 'areg' with K = 1 + U + T - 1."""
    import statsmodels.api as sm

    df = _count_panel()
    x = sm.add_constant(pd.concat([df[["post"]].astype(float),
                                   pd.get_dummies(df["unit"], prefix="u", drop_first=True, dtype=float),
                                   pd.get_dummies(df["period"], prefix="t", drop_first=True, dtype=float)], axis=1))
    res = sm.GLM(df["y"], x, family=sm.families.Poisson()).fit(
        tol=1e-14, cov_type="cluster", cov_kwds={"groups": df["unit"].to_numpy(), "use_correction": False})
    n, g, t = len(df), 30, 8
    k = {"auto": None, "areg": 1 + g + t - 1, "reghdfe": 1 + t}[convention]
    factor = g / (g - 1) * (1.0 if k is None else (n - 1) / (n - k))
    expected = math.sqrt(float(res.cov_params().loc["post", "post"]) * factor)
    raw = _did("unit", "period", "y", "count", method="poisson", exposure="none", small_sample=convention)
    e = _evaluate(raw, df, "y")
    assert e.estimate == pytest.approx(float(res.params["post"]), abs=1e-7)
    assert e.std_error == pytest.approx(expected, rel=1e-6)
    assert ("CR1" in e.variance_type) == (convention != "auto")
