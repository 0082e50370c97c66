"""DiD checks: Goodman-Bacon identities, the pre-trend Wald test, and honest DiD against R HonestDiD's
output, a linear-programming check of the identified set, and the fragile/robust verdicts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from _support import REFERENCE
from cpeval.checks import run_checks
from cpeval.checks.did_bacon import EARLY, LATE, NEVER, bacon_decomposition
from cpeval.checks.did_honest import flci, honest_analysis, rm_bounds
from cpeval.data import validate_panel
from cpeval.datasets.did import simulate_did
from cpeval.errors import EstimationError
from cpeval.payloads import EventPath
from did_es._did_es import castle, castle_design, design, fit

HONEST = json.loads((REFERENCE / "did" / "honest_did_r.json").read_text())


def _twfe_unweighted(df, y, unit, time, d):
    from linearmodels.panel import PanelOLS

    x = df.set_index([unit, time])
    return float(PanelOLS(x[y], x[[d]], entity_effects=True, time_effects=True).fit().params[d])


# ---------------------------------------------------------------- Goodman-Bacon


def test_bacon_weights_sum_to_one_and_reproduce_twfe_on_castle():
    df = castle()
    df["g"] = df["treat_year"].where(df["treat_year"] > 0)
    res = bacon_decomposition(df, unit="sid", time="year", y="l_homicide", cohort="g")
    assert res["weight_total"] == pytest.approx(1.0, abs=1e-12)
    twfe = _twfe_unweighted(df, "l_homicide", "sid", "year", "post")
    assert res["twfe"] == pytest.approx(twfe, abs=1e-10)
    assert res["weighted_sum"] == pytest.approx(twfe, abs=1e-10)
    # 5 cohorts + never treated: 5 treated-vs-never and 2 x C(5,2) timing comparisons
    assert len(res["rows"]) == 5 + 2 * 10
    assert set(res["by_type"]) == {NEVER, EARLY, LATE}


def test_bacon_identities_on_a_simulated_panel_without_never_treated():
    frame = simulate_did(n_units=150, n_periods=9, cohorts=(3, 5, 7), seed=8)
    frame.loc[frame["first_treated"] == 0, "first_treated"] = 9
    frame["treated"] = (frame["period"] >= frame["first_treated"]).astype(int)
    frame["g"] = frame["first_treated"].astype(float)
    res = bacon_decomposition(frame, unit="unit", time="period", y="y", cohort="g")
    assert NEVER not in res["by_type"]
    assert sum(r["weight"] for r in res["rows"]) == pytest.approx(1.0, abs=1e-12)
    assert res["weighted_sum"] == pytest.approx(_twfe_unweighted(frame, "y", "unit", "period", "treated"), abs=1e-10)


def test_bacon_decomposition_is_invariant_to_row_order_and_unit_labels():
    df = castle()
    df["g"] = df["treat_year"].where(df["treat_year"] > 0)
    base = bacon_decomposition(df, unit="sid", time="year", y="l_homicide", cohort="g")
    moved = df.sample(frac=1.0, random_state=5).assign(sid=lambda d: "s" + (d["sid"] * 7 % 101).astype(str))
    other = bacon_decomposition(moved, unit="sid", time="year", y="l_homicide", cohort="g")
    assert other["twfe"] == pytest.approx(base["twfe"], abs=1e-12)
    assert [r["weight"] for r in other["rows"]] == pytest.approx([r["weight"] for r in base["rows"]], abs=1e-12)
    assert [r["estimate"] for r in other["rows"]] == pytest.approx([r["estimate"] for r in base["rows"]], abs=1e-12)


def test_bacon_check_warns_when_already_treated_controls_matter():
    frame = simulate_did(n_units=200, n_periods=10, cohorts=(3, 6), never_share=0.1, growth=1.0, seed=4)
    d = design("twfe", checks=["bacon"])
    result = run_checks(["bacon"], validate_panel(frame, d), [fit(frame, d)])[0]
    assert result.status == "warn" and "already-treated units as controls" in result.message
    assert result.values["weight_total"] == pytest.approx(1.0, abs=1e-12)


def test_bacon_check_reports_an_unbalanced_panel_as_an_error():
    frame = simulate_did(n_units=60, n_periods=6, cohorts=(3,), seed=2).iloc[1:]
    d = design("twfe", checks=["bacon"])
    [result] = run_checks(["bacon"], validate_panel(frame, d), [fit(frame, d)])
    assert result.status == "error" and "balanced panel" in result.message
    assert result.message.startswith("EstimationError") and "remove 'bacon' from checks" in result.message


def test_bacon_decomposition_rejects_units_treated_from_the_first_period():
    frame = simulate_did(n_units=60, n_periods=6, cohorts=(3,), seed=2)
    frame["g"] = frame["first_treated"].where(frame["first_treated"] > 0)
    frame.loc[frame["unit"] == frame["unit"].iloc[0], "g"] = 1
    with pytest.raises(EstimationError, match=r"treated from the first period on .column 'g'.*drop them"):
        bacon_decomposition(frame, unit="unit", time="period", y="y", cohort="g")


# ---------------------------------------------------------------- pre-trends


def test_pre_trends_check_flags_a_differential_trend_and_passes_without():
    frame = simulate_did(n_units=300, n_periods=8, cohorts=(5,), growth=0.0, seed=3)
    d = design("event_study", checks=["pre_trends"])
    clean = run_checks(["pre_trends"], validate_panel(frame, d), [effect := fit(frame, d)])[0]
    assert clean.status == "pass" and "limited power" in clean.message
    assert clean.values["statistic"] == pytest.approx(effect.payload(EventPath).pretrend_test.statistic)
    trended = frame.assign(y=frame["y"] + 0.3 * frame["period"] * (frame["first_treated"] > 0))
    bad = run_checks(["pre_trends"], validate_panel(trended, d), [fit(trended, d)])[0]
    assert bad.status == "warn" and bad.values["p_value"] < 0.001
    assert "parallel-trends assumption is doubtful" in bad.message
    assert [r["event_time"] for r in bad.table] == [-4, -3, -2]


def test_pre_trends_for_a_twfe_design_fits_an_event_study():
    d = castle_design("twfe", checks=["pre_trends"])
    df = castle()
    [result] = run_checks(["pre_trends"], validate_panel(df, d), [fit(df, d)])
    assert "fitted for this check" in result.message and result.values["df"] > 0


# ---------------------------------------------------------------- honest DiD


def _ref():
    return np.asarray(HONEST["betahat"]), np.asarray(HONEST["sigma"]), np.asarray(HONEST["l_vec"])


@pytest.mark.parametrize("row", HONEST["flci_sd"], ids=lambda r: f"M={r['M']:.3g}")
def test_flci_matches_r_honestdid(row):
    beta, sigma, lvec = _ref()
    lo, up = flci(beta, sigma, HONEST["numPre"], lvec, row["M"], 0.05)
    tol = HONEST["tolerance"]["flci_endpoints"]
    assert lo == pytest.approx(row["lb"], abs=tol) and up == pytest.approx(row["ub"], abs=tol)
    assert (lo + up) / 2 == pytest.approx((row["lb"] + row["ub"]) / 2, abs=1e-4)


def test_flci_at_m0_is_the_minimum_variance_trend_robust_interval():
    """Hand calculation: minimise v'Sv subject to v_post = l and v'(event time) = 0, by its KKT system."""
    from scipy import stats

    beta, sigma, lvec = _ref()
    k = HONEST["numPre"]
    t = np.array([-3, -2, -1, 1, 2, 3, 4], dtype=float)
    kkt = np.block([[2 * sigma[:k, :k], t[:k, None]], [t[None, :k], np.zeros((1, 1))]])
    rhs = np.concatenate([-2 * sigma[:k, k:] @ lvec, [-(t[k:] @ lvec)]])
    v = np.concatenate([np.linalg.solve(kkt, rhs)[:k], lvec])
    half = stats.norm.ppf(0.975) * math.sqrt(v @ sigma @ v)
    lo, up = flci(beta, sigma, k, lvec, 0.0, 0.05)
    assert (up - lo) / 2 == pytest.approx(half, abs=1e-7)
    assert (lo + up) / 2 == pytest.approx(float(v @ beta), abs=1e-7)


def test_relative_magnitudes_set_equals_linear_programme():
    """The closed-form identified set equals min/max of l'(beta_post - delta_post) by linprog."""
    from scipy.optimize import linprog

    rng = np.random.default_rng(0)
    for _ in range(5):
        n_pre, n_post, mbar = 3, 4, float(rng.uniform(0.2, 2))
        beta = rng.normal(size=n_pre + n_post)
        lvec = rng.uniform(0, 1, n_post)
        lvec /= lvec.sum()
        centre, half = rm_bounds(beta[None, :], n_pre, lvec)
        pre = np.concatenate([beta[:n_pre], [0.0]])
        bound = mbar * np.abs(np.diff(pre)).max()
        # variables delta_post (n_post); |delta_t - delta_{t-1}| <= bound with delta_{-1} = 0
        diff = np.eye(n_post) - np.eye(n_post, k=-1)
        a_ub, b_ub = np.vstack([diff, -diff]), np.full(2 * n_post, bound)
        lo = linprog(lvec, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * n_post).fun
        hi = -linprog(-lvec, A_ub=a_ub, b_ub=b_ub, bounds=[(None, None)] * n_post).fun
        theta = beta[n_pre:] @ lvec
        assert centre[0] - mbar * half[0] == pytest.approx(theta - hi, abs=1e-9)
        assert centre[0] + mbar * half[0] == pytest.approx(theta - lo, abs=1e-9)


def test_relative_magnitudes_interval_against_r():
    """The Andrews-Roth-Pakes conditional least-favourable hybrid interval (R HonestDiD C-LF), on R's grid."""
    beta, sigma, lvec = _ref()
    res = honest_analysis(beta, sigma, 3, lvec, alpha=0.05, mbar_grid=[0.0, 0.5, 1.0], m_grid=[0.0], seed=1)
    assert res["rm_interval_method"].startswith("Andrews-Roth-Pakes")
    rows = [r for r in res["rows"] if r["restriction"] == "relative_magnitudes"]
    tol = HONEST["tolerance"]["rm_endpoints"]
    step = 40 * math.sqrt(lvec @ sigma[3:, 3:] @ lvec) / 999
    for ours, r in zip(rows, HONEST["rm_c_lf"], strict=True):
        assert ours["ci_lower"] == pytest.approx(r["lb"], abs=tol)
        assert ours["ci_upper"] == pytest.approx(r["ub"], abs=tol)
        # endpoints are points of R's grid (-20 sd .. 20 sd, 1,000 points)
        assert (ours["ci_lower"] / step + 499.5) == pytest.approx(round(ours["ci_lower"] / step + 499.5), abs=1e-6)


def test_r_random_numbers_reproduce_r():
    from _r_rng import r_rnorm

    # R: set.seed(0); rnorm(5)
    assert np.allclose(r_rnorm(0, 5), [1.2629543, -0.3262334, 1.3297993, 1.2724293, 0.4146414], atol=5e-8)


def test_relative_magnitudes_equal_r_exactly_with_r_draws():
    """With R's own draws for the least-favourable critical value (set.seed(0); rmvnorm(1000, S) in every
    call, as HonestDiD), every endpoint is R's grid point."""
    from _r_rng import r_rmvnorm
    from cpeval.checks.did_honest_arp import rm_interval

    beta, sigma, lvec = _ref()
    for r in HONEST["rm_c_lf"]:
        ci = rm_interval(beta, sigma, 3, lvec, r["Mbar"], 0.05, seed=0,
                         lf_normals=lambda cov: r_rmvnorm(0, 1000, cov))
        assert ci.note is None
        assert ci.lower == pytest.approx(r["lb"], abs=1e-8) and ci.upper == pytest.approx(r["ub"], abs=1e-8)


def test_relative_magnitudes_scale_with_the_outcome():
    """Units invariance: beta x c and Sigma x c^2 scale the interval by c (thousands of pounds, or rates)."""
    from cpeval.checks.did_honest_arp import rm_interval

    beta, sigma, lvec = _ref()
    base = rm_interval(beta, sigma, 3, lvec, 0.5, 0.05, seed=2)
    for c in (1e4, 1e-6):
        scaled = rm_interval(beta * c, sigma * c**2, 3, lvec, 0.5, 0.05, seed=2)
        assert scaled.lower == pytest.approx(base.lower * c, rel=1e-9)
        assert scaled.upper == pytest.approx(base.upper * c, rel=1e-9)


def test_relative_magnitudes_grid_widens_instead_of_truncating():
    """A precise estimate with a steep pre-trend: HonestDiD's +/- 20 sd grid would cut the interval inside
    the identified set; cpeval widens the grid and says so."""
    from cpeval.checks.did_honest_arp import rm_interval

    _, sigma, lvec = _ref()
    beta = np.array([0.9, 0.6, 0.3, 0.5, 0.6, 0.7, 0.8])
    sig = sigma * 0.05
    res = honest_analysis(beta, sig, 3, lvec, alpha=0.05, mbar_grid=[1.0, 2.0], m_grid=[0.0], seed=1)
    for row in [r for r in res["rows"] if r["restriction"] == "relative_magnitudes"]:
        assert row["ci_lower"] <= row["set_lower"] and row["ci_upper"] >= row["set_upper"]
        assert "widened" in row["note"]
    sharp = rm_interval(np.array([0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0]), sigma * 1e-3, 3, lvec, 0.0, 0.05, seed=1)
    assert sharp.lower < 5.0 < sharp.upper and "widened" in sharp.note


@pytest.mark.slow
def test_relative_magnitudes_interval_covers_under_the_restriction():
    """Simulation with known truth: delta in Delta^RM(1) (post drift as large as the largest pre change),
    beta ~ N(delta + tau, Sigma): the interval for l'tau covers at the nominal rate or more."""
    from cpeval.checks.did_honest_arp import rm_interval

    _, sigma, lvec = _ref()
    # pre-period changes 0.2, 0.1 and 0.0 (into the reference period); post changes 0.2 each, as large as the
    # largest pre change, so delta is on the boundary of Delta^RM(1)
    delta = np.array([-0.3, -0.1, 0.0, 0.2, 0.4, 0.6, 0.8])
    tau = np.array([0.0, 0.0, 0.0, 0.5, 0.4, 0.3, 0.2])
    theta = float(lvec @ tau[3:])
    rng = np.random.default_rng(11)
    draws = rng.multivariate_normal(delta + tau, sigma, size=150)
    covered = 0
    for i, b in enumerate(draws):
        ci = rm_interval(b, sigma, 3, lvec, 1.0, 0.05, seed=i)
        covered += ci.lower <= theta <= ci.upper
    assert covered / len(draws) >= 0.92
    # Mbar = 0 (no post-treatment drift at all): the test is exact, so coverage is close to 95%, not above
    flat = np.concatenate([delta[:3], np.zeros(4)])
    draws = rng.multivariate_normal(flat + tau, sigma, size=400)
    hits = [ci.lower <= theta <= ci.upper for ci in (rm_interval(b, sigma, 3, lvec, 0.0, 0.05, seed=i)
                                                     for i, b in enumerate(draws))]
    assert 0.92 <= np.mean(hits) <= 0.98


def test_breakdown_value_is_where_the_interval_first_covers_zero():
    beta = np.array([0.02, -0.01, 0.03, 0.5, 0.55])
    sigma = np.diag([0.01, 0.01, 0.01, 0.01, 0.012]) + 0.002
    lvec = np.array([0.5, 0.5])
    res = honest_analysis(beta, sigma, 3, lvec, alpha=0.05, mbar_grid=[0.0], m_grid=[0.0], seed=3)
    bd = res["breakdown_mbar"]
    assert 0 < bd < 50
    below = honest_analysis(beta, sigma, 3, lvec, alpha=0.05, mbar_grid=[bd * 0.97, bd * 1.03], m_grid=[0.0], seed=3)
    assert [r["includes_zero"] for r in below["rows"][:2]] == [False, True]
    assert res["breakdown_m"] is not None and res["breakdown_m"] > 0


@pytest.mark.parametrize(("effect", "slope", "status"), [(3.0, 0.0, "pass"), (0.5, 0.2, "warn")])
def test_honest_did_check_verdicts(effect, slope, status):
    frame = simulate_did(n_units=300, n_periods=8, cohorts=(5,), effect=effect, growth=0.0, seed=3)
    frame["y"] = frame["y"] + slope * frame["period"] * (frame["first_treated"] > 0)
    d = design("event_study", checks=["honest_did"])
    [result] = run_checks(["honest_did"], validate_panel(frame, d), [fit(frame, d)])
    assert result.status == status, result.message
    if status == "warn":
        assert result.message.startswith("fragile") and "overturn" in result.message
        assert result.values["breakdown_mbar"] < 1
    else:
        assert result.values["breakdown_mbar"] > 1
    kinds = {r["restriction"] for r in result.table}
    assert kinds == {"relative_magnitudes", "smoothness"}
