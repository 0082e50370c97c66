"""Honest DiD under smoothness restrictions (Delta^SD(M)): the fixed-length confidence interval (FLCI) is the
shortest affine interval, checked against R HonestDiD's printed output (its README's Medicaid example and its
bundled Benzarti-Carloni event study), against feasible affine estimators whose worst-case bias a linear
programme computes, and for monotonicity in M."""

from __future__ import annotations

import json
import math
from functools import cache

import numpy as np
import pytest
from scipy import optimize, stats

from _support import REFERENCE
from cpeval.checks.did_honest import honest_analysis
from cpeval.checks.did_honest_sd import SmoothnessFrontier, flci, flci_weights

MEDICAID = json.loads((REFERENCE / "did" / "honest_did_sd_medicaid.json").read_text())
BCDATA = json.loads((REFERENCE / "did" / "honest_did_sd_bcdata.json").read_text())


@cache
def _r_draws() -> np.ndarray:
    """R's set.seed(0); rnorm(10^6), sorted: the draws behind HonestDiD's .qfoldednormal."""
    from _r_rng import r_rnorm

    return np.sort(r_rnorm(0, 10**6))


def r_folded_normal_cv(alpha: float):
    """HonestDiD's .qfoldednormal(1 - alpha, mu = t): quantile type 7 of |Z + t| over R's 10^6 draws.

    The order statistics of |Z + t| are those of the union of two sorted runs (Z + t for Z >= -t, and
    -(Z + t) for Z < -t), so each call selects them by bisection instead of sorting a million values."""
    z = _r_draws()
    n = len(z)
    index = 1 + (n - 1) * (1 - alpha)  # R: quantile type 7, 1-based
    lo = math.floor(index)
    frac = index - lo

    def kth(t: float, k: int) -> float:  # 0-based k-th smallest of |z + t|
        split = int(np.searchsorted(z, -t))
        n_a, n_b = n - split, split

        def a(i: int) -> float:
            return float(z[split + i] + t)

        def b(j: int) -> float:
            return float(-(z[split - 1 - j] + t))

        left, right = max(0, k - n_b), min(k, n_a)  # how many of the k smallest come from the first run
        while left < right:
            i = (left + right) // 2
            if a(i) < b(k - i - 1):
                left = i + 1
            else:
                right = i
        i = left
        return min(a(i) if i < n_a else math.inf, b(k - i) if k - i < n_b else math.inf)

    def cv(t: float) -> float:
        x_lo, x_hi = kth(t, lo - 1), kth(t, lo)
        return (1 - frac) * x_lo + frac * x_hi

    return cv


def test_r_folded_normal_cv_is_the_quantile_of_r_draws():
    z = _r_draws()
    cv = r_folded_normal_cv(0.05)
    for t in (0.0, 0.37, 2.5):
        assert cv(t) == pytest.approx(float(np.quantile(np.abs(z + t), 0.95)), abs=1e-12)
    # HonestDiD's simulated critical value at zero bias (the exact one is 1.959964)
    assert cv(0.0) == pytest.approx(1.9622, abs=5e-5)


def _exact_cv(t: float, alpha: float) -> float:
    """1 - alpha quantile of |N(t, 1)|, by scipy's folded normal (independent of cpeval's root finder)."""
    return float(stats.foldnorm.ppf(1 - alpha, abs(t)))


def worst_case_bias(v: np.ndarray, n_pre: int, m: float) -> float:
    """max |v'delta| over Delta^SD(M) (delta = 0 at the reference period, second differences in [-M, M]),
    by linear programming over the whole trend path."""
    n_post = len(v) - n_pre
    n = n_pre + 1 + n_post
    c = np.zeros(n)
    c[:n_pre], c[n_pre + 1:] = v[:n_pre], v[n_pre:]
    d2 = np.zeros((n - 2, n))
    for i in range(n - 2):
        d2[i, i:i + 3] = [1.0, -2.0, 1.0]
    a_eq = np.zeros((1, n))
    a_eq[0, n_pre] = 1.0
    res = optimize.linprog(-c, A_ub=np.vstack([d2, -d2]), b_ub=np.full(2 * (n - 2), m), A_eq=a_eq, b_eq=[0.0],
                           bounds=[(None, None)] * n, method="highs")
    assert res.status == 0, res.message
    return -float(res.fun)


def affine_half_length(v: np.ndarray, sigma: np.ndarray, n_pre: int, m: float, alpha: float) -> float:
    sd = math.sqrt(float(v @ sigma @ v))
    return sd * _exact_cv(worst_case_bias(v, n_pre, m) / sd, alpha)


def feasible_weights(rng: np.random.Generator, n_pre: int, lvec: np.ndarray) -> np.ndarray:
    """Random pre-period weights with v'(event time) = 0, so a linear trend through the reference period adds
    nothing (otherwise the worst-case bias is infinite)."""
    t_pre = -np.arange(n_pre, 0, -1, dtype=float)
    t_post = np.arange(1, len(lvec) + 1, dtype=float)
    w = rng.normal(size=n_pre)
    w += t_pre * (-(t_post @ lvec) - t_pre @ w) / (t_pre @ t_pre)
    return np.concatenate([w, lvec])


# ---------------------------------------------------------------- the minimal case


def test_flci_is_no_longer_than_linear_extrapolation_on_the_minimal_case():
    """Hand calculation: beta_1 + beta_-1 (extrapolate the line through the reference period and the last lead)
    is biased by one second difference, at most M = 0.05; its sd is sqrt(2e-4). Its 95% interval has length
    2 sd cv(M / sd) = 0.1465; the FLCI, the shortest affine interval, can be no longer."""
    sd = math.sqrt(2e-4)
    bound = 2 * sd * _exact_cv(0.05 / sd, 0.05)
    assert bound == pytest.approx(0.1465, abs=5e-5)
    v = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    assert worst_case_bias(v, 4, 0.05) == pytest.approx(0.05, abs=1e-12)
    lo, up = flci(np.zeros(6), 1e-4 * np.eye(6), 4, np.array([1.0, 0.0]), 0.05, 0.05)
    assert up - lo <= bound + 1e-12


# ---------------------------------------------------------------- R's printed output


def _medicaid_event_study() -> tuple[np.ndarray, np.ndarray]:
    """The README's fixest TWFE event study, by dummy-variable least squares, with fixest's default clustered
    VCOV (CR1 times G/(G-1) (n-1)/(n-K), K as recorded with its derivation in the reference file)."""
    inp = MEDICAID["inputs"]
    states = list(inp["data"].values())
    years = np.arange(2008, 2016)
    y = np.concatenate([s["dins_2008_2015"] for s in states])
    unit = np.repeat(np.arange(len(states)), len(years))
    year = np.tile(years, len(states))
    treated = np.repeat([s["yexp2"] == 2014 for s in states], len(years)).astype(float)
    x = np.column_stack([(year == e) * treated for e in inp["event_years"]])
    fe = np.column_stack([np.eye(len(states))[unit], np.eye(len(years))[year - 2008][:, 1:]])
    design = np.column_stack([x, fe])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = y - design @ coef
    x_tilde = x - fe @ np.linalg.lstsq(fe, x, rcond=None)[0]  # Frisch-Waugh-Lovell
    bread = np.linalg.inv(x_tilde.T @ x_tilde)
    scores = np.vstack([x_tilde[unit == g].T @ resid[unit == g] for g in range(len(states))])
    n, g, k = len(y), len(states), inp["fixest_K"]
    vcov = bread @ (scores.T @ scores) @ bread * g / (g - 1) * (n - 1) / (n - k)
    return coef[: x.shape[1]], vcov


@pytest.fixture(scope="module")
def medicaid():
    return _medicaid_event_study()


def _printed_unit(value: float) -> float:
    """Half a unit in the third significant digit (what R's tibble prints)."""
    return 0.5 * 10.0 ** (math.floor(math.log10(abs(value))) - 2)


# R's own error in the interval centre (see the reference file's tolerance note)
R_CENTRE_ERROR = 2.5e-6


@pytest.mark.parametrize("row", MEDICAID["r_printed"], ids=lambda r: f"M={r['M']}")
def test_flci_matches_r_readme_medicaid_example(medicaid, row):
    beta, sigma = medicaid
    inp = MEDICAID["inputs"]
    lo, up = flci(beta, sigma, inp["numPrePeriods"], np.asarray(inp["l_vec"]), row["M"], 0.05,
                  critical_value=r_folded_normal_cv(0.05))
    assert abs(lo - row["lb"]) <= _printed_unit(row["lb"]) + R_CENTRE_ERROR
    assert abs(up - row["ub"]) <= _printed_unit(row["ub"]) + R_CENTRE_ERROR


def test_medicaid_original_interval_and_stata_port(medicaid):
    """The inputs reproduce the README's original interval for 2014 ([0.029, 0.064]), and cpeval's default
    (exact critical value) intervals round to the Stata port's printed 3 decimals."""
    beta, sigma = medicaid
    se = math.sqrt(sigma[5, 5])
    assert round(beta[5] - 1.959964 * se, 3) == 0.029 and round(beta[5] + 1.959964 * se, 3) == 0.064
    for row in MEDICAID["stata_printed"]:
        lo, up = flci(beta, sigma, 5, np.array([1.0, 0.0]), row["M"], 0.05)
        assert abs(lo - row["lb"]) <= 0.0005 + 1e-9 and abs(up - row["ub"]) <= 0.0005 + 1e-9


def test_medicaid_breakdown_m_is_where_the_flci_first_covers_zero(medicaid):
    """R's printed rows exclude zero at M = 0.02 and include it at M = 0.03; the breakdown value lies between
    and the interval changes verdict there."""
    beta, sigma = medicaid
    lvec = np.array([1.0, 0.0])
    res = honest_analysis(beta, sigma, 5, lvec, alpha=0.05, mbar_grid=[0.5], m_grid=[0.02, 0.03], seed=1)
    bd = res["breakdown_m"]
    assert 0.02 < bd < 0.03
    lo_below, _ = flci(beta, sigma, 5, lvec, bd * 0.999, 0.05)
    lo_above, _ = flci(beta, sigma, 5, lvec, bd * 1.001, 0.05)
    assert lo_below > 0 >= lo_above
    sd_rows = [r for r in res["rows"] if r["restriction"] == "smoothness"]
    assert [r["includes_zero"] for r in sd_rows] == [False, True]


def _bc():
    return (np.asarray(BCDATA["betahat"]), np.asarray(BCDATA["sigma"]), BCDATA["numPrePeriods"],
            np.asarray(BCDATA["l_vec"]))


def _half_length_at_centre(frontier: SmoothnessFrontier, beta: np.ndarray, centre: float, m: float, cv) -> float:
    """Half-length of the frontier estimator whose point estimate is ``centre`` (inf if none)."""
    best = math.inf
    for a, b in zip(frontier.knots[:-1], frontier.knots[1:], strict=True):
        ca, cb = float(a @ beta), float(b @ beta)
        if abs(cb - ca) < 1e-15:
            continue
        tau = (centre - ca) / (cb - ca)
        if -1e-9 <= tau <= 1 + 1e-9:
            best = min(best, frontier.half_length(a + min(max(tau, 0.0), 1.0) * (b - a), m, cv))
    return best


@pytest.mark.parametrize("row", BCDATA["flci"], ids=lambda r: f"M={r['M']}")
def test_flci_matches_r_on_benzarti_carloni(row):
    beta, sigma, n_pre, lvec = _bc()
    cv = r_folded_normal_cv(0.05)
    tol = BCDATA["tolerance"]
    lo, up = flci(beta, sigma, n_pre, lvec, row["M"], 0.05, critical_value=cv)
    r_half = (row["ub"] - row["lb"]) / 2
    assert (up - lo) / 2 == pytest.approx(r_half, abs=tol["half_length"])
    assert (up - lo) / 2 <= r_half + 1e-6  # no longer than R's, up to R's solver accuracy
    frontier = SmoothnessFrontier.build(sigma, n_pre, lvec)
    at_r = _half_length_at_centre(frontier, beta, (row["lb"] + row["ub"]) / 2, row["M"], cv)
    assert at_r == pytest.approx(r_half, abs=tol["half_length_at_r_centre"])
    if not row["flat"]:
        assert lo == pytest.approx(row["lb"], abs=tol["endpoints"])
        assert up == pytest.approx(row["ub"], abs=tol["endpoints"])


def test_flci_weights_match_r_on_benzarti_carloni():
    """At M = 0.1 R's optimal estimator is the linear extrapolation beta_1 + beta_-1."""
    _, sigma, n_pre, lvec = _bc()
    v, _ = flci_weights(sigma, n_pre, lvec, 0.1, 0.05, critical_value=r_folded_normal_cv(0.05))
    assert np.allclose(v, BCDATA["optimal_vec_m01"], atol=BCDATA["tolerance"]["optimal_vec"])


# ---------------------------------------------------------------- properties


def _cases():
    rng = np.random.default_rng(20)
    a = rng.normal(size=(9, 9))
    yield "minimal", np.zeros(6), 1e-4 * np.eye(6), 4, np.array([1.0, 0.0])
    beta, sigma, n_pre, lvec = _bc()
    yield "benzarti_carloni", beta, sigma, n_pre, lvec
    yield "benzarti_carloni_average", beta, sigma, n_pre, np.full(4, 0.25)
    yield "random_6_3", rng.normal(size=9), (a @ a.T + np.eye(9)) * 0.01, 6, np.array([0.2, 0.3, 0.5])
    yield "two_leads", np.array([0.1, -0.05, 0.3]), np.diag([0.02, 0.01, 0.015]) + 0.004, 2, np.array([1.0])


CASES = list(_cases())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_flci_length_is_non_decreasing_in_m(case):
    _, beta, sigma, n_pre, lvec = case
    scale = math.sqrt(float(np.diag(sigma).mean()))
    lengths = [np.subtract(*flci(beta, sigma, n_pre, lvec, m, 0.05)[::-1])
               for m in np.linspace(0.0, 3.0 * scale, 25)]
    assert np.all(np.diff(lengths) >= -1e-10), lengths


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_flci_is_no_longer_than_feasible_affine_estimators(case):
    """Any v with v_post = l and no exposure to linear trends is a valid FLCI candidate: its worst-case bias
    (linear programme) and sd give its half-length; the FLCI must be no longer. The FLCI's own weights, fed
    to the same independent formula, must give its half-length."""
    _, beta, sigma, n_pre, lvec = case
    rng = np.random.default_rng(7)
    scale = math.sqrt(float(np.diag(sigma).mean()))
    for m in (0.0, 0.3 * scale, scale, 3.0 * scale):
        v_opt, half = flci_weights(sigma, n_pre, lvec, m, 0.05)
        lo, up = flci(beta, sigma, n_pre, lvec, m, 0.05)
        assert (up - lo) / 2 == pytest.approx(half, rel=1e-12)
        assert (lo + up) / 2 == pytest.approx(float(v_opt @ beta), abs=1e-12)
        assert affine_half_length(v_opt, sigma, n_pre, m, 0.05) == pytest.approx(half, rel=1e-7)
        for _ in range(20):
            v = feasible_weights(rng, n_pre, lvec)
            v[:n_pre] = v_opt[:n_pre] + rng.choice([1e-3, 0.1, 1.0]) * (v[:n_pre] - v_opt[:n_pre])
            assert half <= affine_half_length(v, sigma, n_pre, m, 0.05) * (1 + 1e-9)


def test_flci_invariant_to_the_outcome_scale():
    """beta x c and Sigma x c^2 with M x c scale the interval by c."""
    beta, sigma, n_pre, lvec = _bc()
    lo, up = flci(beta, sigma, n_pre, lvec, 0.02, 0.05)
    for c in (1e3, 1e-4):
        lo_c, up_c = flci(beta * c, sigma * c**2, n_pre, lvec, 0.02 * c, 0.05)
        assert lo_c == pytest.approx(lo * c, rel=1e-10) and up_c == pytest.approx(up * c, rel=1e-10)


def test_flci_matches_r_exactly_with_r_critical_value_on_the_arboris_fixture():
    """honest_did_r.json (R findOptimalFLCI on a 3-lead / 4-lag event study, full precision): with R's
    simulated critical value the half-lengths agree to 1e-8 and the centres to R's own centre error."""
    ref = json.loads((REFERENCE / "did" / "honest_did_r.json").read_text())
    beta, sigma, lvec = (np.asarray(ref[k]) for k in ("betahat", "sigma", "l_vec"))
    frontier = SmoothnessFrontier.build(sigma, ref["numPre"], lvec)
    for row in ref["flci_sd"]:
        lo, up = flci(beta, sigma, ref["numPre"], lvec, row["M"], 0.05, critical_value=r_folded_normal_cv(0.05),
                      frontier=frontier)
        assert (up - lo) / 2 == pytest.approx(row["half_length"], abs=1e-8)
        assert lo == pytest.approx(row["lb"], abs=R_CENTRE_ERROR) and up == pytest.approx(row["ub"], abs=R_CENTRE_ERROR)


def test_flci_covers_at_the_nominal_rate_under_the_least_favourable_trend():
    """Simulation with known truth: delta in Delta^SD(M) that maximises the FLCI estimator's bias (the LP's
    solution, on the boundary) and delta = a straight line (no bias); beta ~ N(tau + delta, Sigma). The
    interval covers l'tau in 95% of draws in the first case and more in the second."""
    beta, sigma, n_pre, lvec = _bc()
    m, n_draws = 0.02, 20_000
    tau = np.concatenate([np.zeros(n_pre), [0.2, 0.3, 0.3, 0.25]])
    theta = float(lvec @ tau[n_pre:])
    v, half = flci_weights(sigma, n_pre, lvec, m, 0.05)
    n = len(beta) + 1
    d2 = np.zeros((n - 2, n))
    for i in range(n - 2):
        d2[i, i:i + 3] = [1.0, -2.0, 1.0]
    c = np.insert(v, n_pre, 0.0)
    lf = optimize.linprog(-c, A_ub=np.vstack([d2, -d2]), b_ub=np.full(2 * (n - 2), m),
                          A_eq=np.eye(n)[[n_pre]], b_eq=[0.0], bounds=[(None, None)] * n, method="highs")
    worst = np.delete(lf.x, n_pre)
    times = np.delete(np.arange(n, dtype=float) - n_pre, n_pre)
    rng = np.random.default_rng(3)
    se = math.sqrt(0.95 * 0.05 / n_draws)
    for delta, exact in ((worst, True), (0.01 * times, False)):
        draws = rng.multivariate_normal(tau + delta, sigma, size=n_draws)
        covered = float(np.mean(np.abs(draws @ v - theta) <= half))
        if exact:
            assert abs(covered - 0.95) <= 3.5 * se, covered
        else:
            assert covered >= 0.95 - 3.5 * se, covered
