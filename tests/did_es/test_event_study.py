"""Event study: against linearmodels PanelOLS called directly with hand-built event-time dummies, binning,
the joint pre-trend Wald test, identification without never-treated units, invariance and errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cpeval.datasets.did import simulate_did
from cpeval.errors import CpevalWarning, DesignError, EstimationError
from cpeval.payloads import EventPath
from did_es._did_es import castle, castle_design, design, fit, path_rows


def _direct(df: pd.DataFrame, lo: int, hi: int, binned: bool, weights: str | None):
    """linearmodels PanelOLS for the coefficients; statsmodels WLS with unit and year dummies for the
    cluster-robust covariance with R fixest's default correction: CR0 x G/(G-1) x (N-1)/(N-K), K counting
    the regressors, the year effects and one parameter for the state effects nested in the state clusters."""
    import statsmodels.api as sm
    from linearmodels.panel import PanelOLS

    g = df["treat_year"].where(df["treat_year"] > 0)
    rel = df["year"] - g
    if binned:
        rel = rel.clip(lo, hi)
    keys = sorted(int(k) for k in rel.dropna().unique() if k != -1)
    x = pd.DataFrame({f"e{k}": (rel == k).astype(float) for k in keys})
    data = pd.concat([df, x], axis=1).set_index(["sid", "year"])
    res = PanelOLS(data["l_homicide"], data[list(x.columns)], entity_effects=True, time_effects=True,
                   weights=data[weights] if weights else None).fit()
    dummies = sm.add_constant(pd.concat([x, pd.get_dummies(df["sid"], prefix="s", drop_first=True, dtype=float),
                                         pd.get_dummies(df["year"], prefix="y", drop_first=True, dtype=float)], axis=1))
    wls = sm.WLS(df["l_homicide"], dummies, weights=df[weights] if weights else 1.0).fit(
        cov_type="cluster", cov_kwds={"groups": df["sid"], "use_correction": False})
    n, n_g, k = len(df), df["sid"].nunique(), len(keys) + df["year"].nunique()
    cov = wls.cov_params().loc[list(x.columns), list(x.columns)] * n_g / (n_g - 1) * (n - 1) / (n - k)
    return keys, res.params, cov


@pytest.mark.parametrize("binned", [True, False])
def test_castle_event_study_equals_panelols_with_hand_dummies(binned):
    df = castle()
    effect = fit(df, castle_design("event_study", leads=4, lags=3, bin_endpoints=binned))
    keys, params, cov = _direct(df, -5, 3, binned, "popwt")
    table = path_rows(effect).set_index("event_time")
    shown = [k for k in keys if -5 <= k <= 3]
    assert sorted(table.index) == sorted([*shown, -1])
    for k in shown:
        assert table.loc[k, "estimate"] == pytest.approx(params[f"e{k}"], abs=1e-8)
        assert table.loc[k, "std_error"] == pytest.approx(math.sqrt(cov.loc[f"e{k}", f"e{k}"]), abs=1e-8)
    assert table.loc[-1, "estimate"] == 0.0 and table.loc[-1, "kind"] == "reference"
    # the joint pre-trend test: Wald statistic of the leads with that covariance, F(q, G-1)
    leads = [f"e{k}" for k in shown if k < -1]
    b = params[leads].to_numpy()
    stat = float(b @ np.linalg.solve(cov.loc[leads, leads].to_numpy(), b))
    pre = effect.payload(EventPath).pretrend_test
    assert pre.statistic == pytest.approx(stat, rel=1e-7)
    assert pre.df == len(leads) and pre.df2 == 49
    from scipy import stats

    assert pre.p_value == pytest.approx(stats.f.sf(stat / len(leads), len(leads), 49), rel=1e-6)
    # the headline is the mean of the post coefficients, its SE from the full covariance
    post = [f"e{k}" for k in shown if k >= 0]
    a = np.full(len(post), 1 / len(post))
    assert effect.estimate == pytest.approx(float(params[post] @ a), abs=1e-10)
    assert effect.std_error == pytest.approx(float(np.sqrt(a @ cov.loc[post, post].to_numpy() @ a)), abs=1e-10)
    assert effect.percent_change[0] == pytest.approx(100 * np.expm1(effect.estimate))


def test_binned_end_points_pool_the_tails():
    effect = fit(castle(), castle_design("event_study", leads=2, lags=1))
    t = path_rows(effect).set_index("event_time")
    assert list(t.index) == [-3, -2, -1, 0, 1]
    assert t.loc[-3, "binned"] and t.loc[1, "binned"] and not t.loc[0, "binned"]
    df = castle()
    rel = (df["year"] - df["treat_year"]).where(df["treat_year"] > 0)
    assert t.loc[-3, "n_obs"] == int((rel <= -3).sum())
    assert t.loc[1, "n_obs"] == int((rel >= 1).sum())


def test_recovers_dynamic_effects_in_a_single_cohort_design():
    """One adoption cohort plus never-treated units: the event study is unbiased for each event time."""
    frame = simulate_did(n_units=400, n_periods=8, cohorts=(5,), never_share=0.5, seed=11)
    effect = fit(frame, design("event_study"))
    t = path_rows(effect, "lag").set_index("event_time")
    for e, row in t.iterrows():
        truth = 1.0 * (1 + 0.5 * e)
        assert abs(row["estimate"] - truth) < 3.5 * row["std_error"], (e, row["estimate"], truth)
    lead = path_rows(effect, "lead")
    assert (lead["estimate"].abs() < 3.5 * lead["std_error"]).all()


def test_no_never_treated_units_uses_last_cohort_as_control():
    frame = simulate_did(n_units=120, n_periods=8, cohorts=(4, 6), seed=3)
    frame.loc[frame["first_treated"] == 0, "first_treated"] = 8  # everyone adopts by the last period
    d = design("event_study", control_group="not_yet_treated")
    with pytest.warns(CpevalWarning, match=r"the last cohort to adopt \(8\) is the comparison"):
        effect = fit(frame, d, quiet=False)

    assert effect.n_obs == 120 * 7  # period 8 dropped
    assert np.isfinite(effect.estimate)


def test_invariant_to_row_order_and_unit_labels():
    frame = simulate_did(n_units=80, n_periods=7, cohorts=(3, 5), seed=5)
    base = fit(frame, design("event_study", leads=2, lags=2))
    shuffled = frame.sample(frac=1.0, random_state=1).reset_index(drop=True)
    shuffled["unit"] = shuffled["unit"].map(dict(zip(frame["unit"].unique(), np.random.default_rng(0).permutation(
        frame["unit"].nunique()) + 1000, strict=True)))
    other = fit(shuffled, design("event_study", leads=2, lags=2))
    assert other.estimate == pytest.approx(base.estimate, abs=1e-10)
    assert other.std_error == pytest.approx(base.std_error, abs=1e-10)
    np.testing.assert_allclose(path_rows(other)["estimate"], path_rows(base)["estimate"], atol=1e-10)


def test_error_when_no_lead_can_be_estimated():
    frame = simulate_did(n_units=60, n_periods=5, cohorts=(2,), seed=1)
    with pytest.raises(EstimationError, match="no treated unit is observed before event time -1"):
        fit(frame, design("event_study"))


def test_error_for_repeated_cross_sections():
    frame = simulate_did(n_units=60, n_periods=5, cohorts=(3,), panel=False, seed=1)
    with pytest.raises(DesignError, match="needs method callaway_santanna; 'event_study' needs panel data"):
        fit(frame, design("event_study", panel=False))


def test_leads_must_be_positive():
    with pytest.raises((DesignError, ValueError), match="leads"):
        design("event_study", leads=0)


@pytest.mark.slow
def test_event_study_coverage_sweep():
    """Single adoption cohort: each lag's 95% interval covers its true effect 93-97% of the time."""
    reps, hits, total = 300, 0, 0
    for seed in range(reps):
        frame = simulate_did(n_units=150, n_periods=8, cohorts=(5,), never_share=0.5, seed=7000 + seed)
        effect = fit(frame, design("event_study"))  # every event time its own coefficient (no binning)
        for row in path_rows(effect, "lag").itertuples():
            truth = 1.0 * (1 + 0.5 * row.event_time)
            hits += row.ci_lower <= truth <= row.ci_upper
            total += 1
    assert 0.93 <= hits / total <= 0.97, hits / total


def test_uniform_band_critical_value():
    from scipy import stats

    from cpeval.estimation.did.event_study import uniform_critical_value

    k = 5
    exact = stats.norm.ppf((1 + 0.95 ** (1 / k)) / 2)  # independent coefficients
    assert uniform_critical_value(np.eye(k) * 4.0, 0.95, seed=1) == pytest.approx(exact, abs=0.02)
    perfectly_correlated = np.ones((k, k))
    assert uniform_critical_value(perfectly_correlated, 0.95, seed=1) == pytest.approx(1.96, abs=0.03)
    effect = fit(castle(), castle_design("event_study", leads=4, lags=3))
    for r in effect.path:
        if r["kind"] != "reference":
            assert r["band_lower"] <= r["ci_lower"] and r["band_upper"] >= r["ci_upper"]
