"""The fast fixed-effects paths equal their reference implementations.

- ``FixedEffects.demean`` (exact two-way solve, one-way, alternating projections) equals the least-squares
  residual on explicit dummy matrices (numpy lstsq), to 1e-10;
- ``fe_ols`` (what twfe, the event study and Sun & Abraham fit) equals linearmodels ``PanelOLS`` through the
  reference adapter ``panel_ols``: coefficients, covariance (areg and reghdfe conventions), within R^2,
  cluster influence and row leverage, to 1e-8 relative, on balanced, unbalanced, weighted, shuffled and
  period-clustered panels;
- the Poisson IRLS with the same demeaning equals statsmodels' Poisson GLM with explicit dummies (1e-8).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.estimation._adapters.linearmodels import panel_ols
from cpeval.estimation.demean import FixedEffects
from cpeval.estimation.fixed_effects import demean, fe_ols, indicators


def _dummies(codes: list[np.ndarray]) -> np.ndarray:
    cols = [np.eye(int(c.max()) + 1)[c] for c in codes]
    return np.column_stack(cols)


def _reference_resid(x: np.ndarray, codes: list[np.ndarray], w: np.ndarray) -> np.ndarray:
    d = _dummies(codes)
    sw = np.sqrt(w)
    coef = np.linalg.lstsq(d * sw[:, None], x * sw[:, None], rcond=None)[0]
    return x - d @ coef


def _panel(n_units: int = 40, n_periods: int = 7, *, drop: float = 0.0, weights: bool = False, seed: int = 1,
           staggered: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units) + 2001
    first = rng.choice([2003, 2005, 0], n_units) if staggered else np.where(np.arange(n_units) < n_units // 3, 2004, 0)
    g = first[unit]
    d = ((g > 0) & (period >= g)).astype(float)
    df = pd.DataFrame({"unit": unit * 7 + 3, "period": period, "post": d, "g": g,
                       "x1": rng.normal(size=len(unit)) + 0.1 * period,
                       "state": unit % 9,
                       "y": 0.5 * unit % 5 + 0.2 * period + 1.3 * d + rng.normal(size=len(unit))})
    if weights:
        df["w"] = rng.uniform(0.5, 3.0, len(df))
    if drop:
        df = df.loc[rng.uniform(size=len(df)) > drop]
    return df.sample(frac=1.0, random_state=seed)  # row order must not matter


@pytest.mark.parametrize("drop", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_two_way_demeaning_is_the_dummy_regression_residual(drop, weighted):
    df = _panel(drop=drop, weights=weighted)
    codes = [np.unique(df[c], return_inverse=True)[1] for c in ("unit", "period")]
    w = df["w"].to_numpy() if weighted else np.ones(len(df))
    x = df[["y", "post", "x1"]].to_numpy()
    expected = _reference_resid(x, codes, w)
    got = FixedEffects(codes, w).demean(x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)
    # the sparse-indicator entry point is the same routine
    np.testing.assert_allclose(demean(x, [indicators(c) for c in codes], w), expected, rtol=0, atol=1e-10)


def test_one_way_and_alternating_projections_match_the_dummy_regression():
    df = _panel(drop=0.2, weights=True)
    w = df["w"].to_numpy()
    x = df[["y", "x1"]].to_numpy()
    codes = [np.unique(df[c], return_inverse=True)[1] for c in ("unit", "period", "state")]
    np.testing.assert_allclose(FixedEffects(codes[:1], w).demean(x), _reference_resid(x, codes[:1], w), atol=1e-10)
    # three effects: alternating projections with the convergence tolerance
    np.testing.assert_allclose(FixedEffects(codes, w).demean(x), _reference_resid(x, codes, w), atol=1e-9)


def test_balanced_unweighted_sweep_is_the_textbook_formula():
    """Hand formula: y - unit mean - period mean + grand mean."""
    df = _panel()
    codes = [np.unique(df[c], return_inverse=True)[1] for c in ("unit", "period")]
    y = df["y"]
    expected = y - y.groupby(df["unit"]).transform("mean") - y.groupby(df["period"]).transform("mean") + y.mean()
    np.testing.assert_allclose(FixedEffects(codes).demean(y.to_numpy()), expected.to_numpy(), atol=1e-12)


CASES = {
    "balanced": {},
    "unbalanced": {"drop": 0.2},
    "weighted": {"weights": True},
    "unbalanced_weighted_staggered": {"drop": 0.15, "weights": True, "staggered": True},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dof", ["all", "nested"])
@pytest.mark.parametrize("cluster", ["unit", "state"])
@pytest.mark.parametrize("route", ["exact", "projections"])
def test_fe_ols_equals_linearmodels_panel_ols(case, dof, cluster, route, monkeypatch):
    """Both routes: the factored exact two-way solve, and (forced) alternating projections on dense columns."""
    if route == "projections":
        monkeypatch.setattr("cpeval.estimation.demean.EXACT_LEVELS", 0)
    df = _panel(**CASES[case])
    kw = {"unit": "unit", "time": "period", "y": "y", "x": ["post", "x1"],
          "weights": "w" if "w" in df else None, "cluster": cluster, "dof": dof}
    fast, ref = fe_ols(df, **kw), panel_ols(df, **kw)
    assert fast.nobs == ref.nobs and fast.n_clusters == ref.n_clusters
    np.testing.assert_allclose(fast.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(fast.std_errors.to_numpy(), ref.std_errors.to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(fast.cov.to_numpy(), ref.cov.to_numpy(), rtol=1e-8, atol=1e-14)
    assert fast.rsquared_within == pytest.approx(ref.rsquared_within, rel=1e-8)
    pd.testing.assert_index_equal(fast.influence.index, ref.influence.index)
    np.testing.assert_allclose(fast.influence.to_numpy(), ref.influence.to_numpy(), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(fast.leverage.toarray(), ref.leverage.toarray(), rtol=1e-8, atol=1e-14)


def test_fe_ols_event_time_indicators_equal_linearmodels():
    """Many 0/1 regressors at once (an event study's leads and lags), passed as an array."""
    df = _panel(n_units=60, n_periods=9, staggered=True, drop=0.1)
    rel = np.where(df["g"] > 0, df["period"] - df["g"], np.nan)
    keys = [k for k in np.unique(rel[~np.isnan(rel)]) if k != -1]
    x = (rel[:, None] == np.asarray(keys)[None, :]).astype(float)
    names = [f"e{int(k)}" for k in keys]
    from scipy import sparse

    fast = fe_ols(df, unit="unit", time="period", y="y", x=names, weights=None, cluster="unit", dof="nested",
                  values=sparse.csc_matrix(x))
    data = pd.concat([df, pd.DataFrame(x, columns=names, index=df.index)], axis=1)
    ref = panel_ols(data, unit="unit", time="period", y="y", x=names, weights=None, cluster="unit", dof="nested")
    np.testing.assert_allclose(fast.params.to_numpy(), ref.params.to_numpy(), rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(fast.cov.to_numpy(), ref.cov.to_numpy(), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(fast.influence.to_numpy(), ref.influence.to_numpy(), rtol=1e-8, atol=1e-14)
    a = np.linspace(-1.0, 1.0, len(keys))
    np.testing.assert_allclose(fast.leverage @ a, ref.leverage.toarray() @ a, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(fast.leverage[:, [0, 2]].toarray(), ref.leverage.toarray()[:, [0, 2]], atol=1e-14)


def test_absorbed_regressor_is_refused_as_linearmodels_does():
    df = _panel()
    df["unit_const"] = df["unit"] * 0.5  # constant within units: absorbed by the unit effects
    with pytest.raises(ValueError, match="unit_const"):
        fe_ols(df, unit="unit", time="period", y="y", x=["post", "unit_const"], weights=None, cluster="unit")
    from linearmodels.panel.utility import AbsorbingEffectError

    with pytest.raises(AbsorbingEffectError, match="unit_const"):
        panel_ols(df, unit="unit", time="period", y="y", x=["post", "unit_const"], weights=None, cluster="unit")


@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_irls_equals_statsmodels_glm_with_dummies(weighted):
    import statsmodels.api as sm

    from cpeval.estimation.did.poisson import fit_fe_poisson

    rng = np.random.default_rng(4)
    n_units, n_periods = 25, 6
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    d = ((unit < 9) & (period >= 3)).astype(float)
    y = rng.poisson(np.exp(0.8 + 0.03 * unit + 0.1 * period - 0.25 * d)).astype(float)
    keep = rng.uniform(size=len(y)) > 0.1
    unit, period, d, y = unit[keep], period[keep], d[keep], y[keep]
    a = rng.uniform(0.5, 2.0, len(y)) if weighted else None
    fit = fit_fe_poisson(y, d[:, None], [np.unique(unit, return_inverse=True)[1], period], weights=a,
                         clusters=unit, dof="none")
    x = sm.add_constant(np.column_stack([d, np.eye(n_units)[unit][:, 1:], np.eye(n_periods)[period][:, 1:]]))
    res = sm.GLM(y, x, family=sm.families.Poisson(), freq_weights=a).fit(tol=1e-14)
    assert fit["beta"][0] == pytest.approx(res.params[1], rel=1e-8)
    np.testing.assert_allclose(fit["mu"], res.mu, rtol=1e-8)
