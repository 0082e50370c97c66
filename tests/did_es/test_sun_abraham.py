"""Sun & Abraham: cohort x event-time effects equal hand-computed 2x2 DiDs against the never-treated,
interaction weights by cohort shares, recovery of a heterogeneous, growing effect where TWFE is biased."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.datasets.did import simulate_did
from cpeval.payloads import EventPath
from did_es._did_es import design, fit, path_rows


def _hand_cell(frame: pd.DataFrame, g: int, e: int) -> float:
    """(mean y of cohort g at g+e minus at g-1) minus the same for the never-treated."""
    m = frame.groupby(["first_treated", "period"])["y"].mean()
    return (m[(g, g + e)] - m[(g, g - 1)]) - (m[(0, g + e)] - m[(0, g - 1)])


def test_cohort_event_effects_equal_hand_2x2_did():
    frame = simulate_did(n_units=90, n_periods=8, cohorts=(4, 6), seed=7)
    effect = fit(frame, design("sun_abraham"))
    cells = pd.DataFrame(effect.diagnostics["cohort_event_effects"])
    assert len(cells) == 2 * 7  # every event time but -1, for each cohort
    for row in cells.itertuples():
        assert row.estimate == pytest.approx(_hand_cell(frame, int(row.cohort), int(row.event_time)), abs=1e-8)
    # event-time effects average the cohorts' cells with their shares of the observations at that event time
    path = path_rows(effect).set_index("event_time")
    for e, grp in cells.groupby("event_time"):
        w = grp["n_obs"] / grp["n_obs"].sum()
        assert path.loc[e, "estimate"] == pytest.approx(float((w * grp["estimate"]).sum()), abs=1e-10)
    post = cells[cells["event_time"] >= 0]
    att = float((post["n_obs"] * post["estimate"]).sum() / post["n_obs"].sum())
    assert effect.estimate == pytest.approx(att, abs=1e-10)


def test_sun_abraham_recovers_truth_where_twfe_is_biased():
    """Effects grow with time since adoption and differ by cohort (simulate_did's default)."""
    errors_sa, errors_twfe, covered = [], [], 0
    reps = 8
    for seed in range(reps):
        frame = simulate_did(n_units=150, n_periods=8, seed=100 + seed)
        truth = float(frame.loc[frame["treated"] == 1, "true_effect"].mean())
        sa = fit(frame, design("sun_abraham"))
        twfe = fit(frame, design("twfe"))
        errors_sa.append(sa.estimate - truth)
        errors_twfe.append(twfe.estimate - truth)
        covered += sa.ci_lower <= truth <= sa.ci_upper
    sa_bias, twfe_bias = np.mean(errors_sa), np.mean(errors_twfe)
    mc_se = np.std(errors_sa, ddof=1) / np.sqrt(reps)
    assert abs(sa_bias) < 3 * mc_se + 0.02, (sa_bias, mc_se)
    assert twfe_bias < -0.15 and abs(twfe_bias) > 4 * mc_se, twfe_bias  # TWFE understates the growing effect
    assert covered >= reps - 2


@pytest.mark.slow
def test_sun_abraham_coverage_sweep():
    reps, covered = 400, 0
    for seed in range(reps):
        frame = simulate_did(n_units=120, n_periods=8, cohorts=(4, 6), seed=5000 + seed)
        truth = float(frame.loc[frame["treated"] == 1, "true_effect"].mean())
        sa = fit(frame, design("sun_abraham"))
        covered += sa.ci_lower <= truth <= sa.ci_upper
    assert 0.93 <= covered / reps <= 0.97, covered / reps


def test_event_time_window_and_bins():
    frame = simulate_did(n_units=90, n_periods=8, cohorts=(4, 6), seed=7)
    effect = fit(frame, design("sun_abraham", leads=2, lags=2))
    path = path_rows(effect)
    assert list(path["event_time"]) == [-3, -2, -1, 0, 1, 2]
    assert bool(path.iloc[0]["binned"]) and bool(path.iloc[-1]["binned"])
    assert effect.payload(EventPath).pretrend_test.df == 2  # leads -3 (binned) and -2


def test_cohort_event_effects_equal_callaway_santanna_universal_base():
    """Balanced panel, never-treated comparison, no covariates: Sun & Abraham's d_{g,e} equal Callaway &
    Sant'Anna's ATT(g, g+e) with a universal base period (Sun & Abraham 2021, section 4)."""
    frame = simulate_did(n_units=90, n_periods=8, cohorts=(4, 6), seed=7)
    sa = pd.DataFrame(fit(frame, design("sun_abraham")).diagnostics["cohort_event_effects"])
    cs = fit(frame, design("callaway_santanna", base_period="universal", approach="reg")).path_table()
    cs = cs[(cs["kind"] == "att_gt") & ~cs["reference"].astype(bool)]
    merged = sa.merge(cs, left_on=["cohort", "event_time"], right_on=["group", "event_time"], suffixes=("", "_cs"))
    assert len(merged) == len(sa) == 14
    np.testing.assert_allclose(merged["estimate"], merged["estimate_cs"], atol=1e-8)
