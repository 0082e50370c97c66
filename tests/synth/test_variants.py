"""Synthetic DiD (Arkhangelsky et al. 2021 Table 1: Proposition 99 SDID -15.6) and ridge-augmented SCM."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.payloads import SynthFit
from cpeval.pipeline import evaluate

from .conftest import design_dict, reference


@pytest.fixture(scope="module")
def sdid():
    return evaluate(design_dict("prop99", method="synthetic_did", placebo_reps=50)).effects[0]


def test_sdid_prop99_matches_published(sdid):
    ref = reference("prop99_sdid")
    assert sdid.estimate == pytest.approx(ref["estimate"], abs=ref["tolerance"]["estimate"])
    assert sdid.std_error == pytest.approx(ref["se"], abs=ref["tolerance"]["se"])
    # 50 replications exceed the 38 distinct placebos: each control state is fitted once
    assert sdid.diagnostics["placebo_exact"] is True
    assert sdid.diagnostics["placebo_reps"] == 38
    assert "exact: all 38 distinct placebo assignments" in sdid.variance_type
    assert sdid.ci_lower < sdid.estimate < sdid.ci_upper
    lam = sdid.payload(SynthFit).time_weights
    assert set(lam) <= {"1984", "1985", "1986", "1987", "1988"}  # weight on the last pre-periods
    assert sum(sdid.payload(SynthFit).weights.values()) == pytest.approx(1.0)


def test_sdid_post_mean_gap_equals_estimate(sdid):
    post = [r["gap"] for r in sdid.path if r["post"]]
    assert np.mean(post) == pytest.approx(sdid.estimate)
    rows = [r for r in sdid.path if r["post"]]
    assert all(r["ci_lower"] <= r["gap"] <= r["ci_upper"] for r in rows)  # conformal per-period intervals


def _sdid_panel(n_donors: int, n_treated: int = 1, **estimator):
    from cpeval.datasets.synth import simulate_synth

    df = simulate_synth(n_donors=n_donors, n_pre=10, n_post=4, n_treated=n_treated, effect=-2.0, seed=5)
    raw = {
        "name": "sdid", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": [f"t{i}" for i in range(n_treated)], "start": df.attrs["start"]},
        "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": "synthetic_did", "conformal": False, **estimator},
    }
    wide = df.pivot(index="time", columns="unit", values="y")
    donors = [c for c in wide.columns if not str(c).startswith("t")]
    return raw, df, wide[donors].to_numpy(), int((wide.index < df.attrs["start"]).sum())


def _hand_placebo_se(y0: np.ndarray, n_pre: int, placebo_sets: list[tuple[int, ...]]) -> float:
    """Algorithm 4 written out: each set of donors plays the treated units against the remaining donors, with
    the original fit's noise level (synthdid reuses its zeta in every replication); the standard error is
    synthdid's sqrt((r - 1) / r) * sd over the r placebo estimates."""
    from cpeval.estimation.synth.sdid import sdid_fit

    sigma = np.std(np.diff(y0[:n_pre], axis=0), ddof=1)
    taus = []
    for tr in placebo_sets:
        co = [j for j in range(y0.shape[1]) if j not in tr]
        taus.append(sdid_fit(y0[:, list(tr)].mean(axis=1), y0[:, co], n_pre, len(tr), sigma).tau)
    r = len(taus)
    return float(np.sqrt((r - 1) / r) * np.std(taus, ddof=1))


def test_sdid_exact_placebo_se_equals_hand_loop_over_every_donor():
    raw, df, y0, n_pre = _sdid_panel(12, placebo_reps=40)
    e = evaluate(raw, data=df).effects[0]
    assert e.diagnostics["placebo_exact"] is True and e.diagnostics["placebo_reps"] == 12
    assert e.std_error == pytest.approx(_hand_placebo_se(y0, n_pre, [(j,) for j in range(12)]), rel=1e-10)
    # deterministic: neither the replication count (above 12) nor the seed changes it
    raw["estimator"]["placebo_reps"] = 12
    raw["inference"] = {"seed": 99}
    assert evaluate(raw, data=df).effects[0].std_error == e.std_error


def test_sdid_exact_placebo_se_with_two_treated_units_enumerates_every_pair():
    import itertools

    raw, df, y0, n_pre = _sdid_panel(7, n_treated=2, placebo_reps=25)  # C(7, 2) = 21 <= 25
    e = evaluate(raw, data=df).effects[0]
    assert e.diagnostics["placebo_reps"] == 21
    pairs = list(itertools.combinations(range(7), 2))
    assert e.std_error == pytest.approx(_hand_placebo_se(y0, n_pre, pairs), rel=1e-10)


def test_sdid_monte_carlo_placebo_se_below_the_distinct_count_follows_the_seed():
    raw, df, _, _ = _sdid_panel(12, placebo_reps=10)
    first = evaluate(raw, data=df).effects[0]
    assert first.diagnostics["placebo_exact"] is False and first.diagnostics["placebo_reps"] == 10
    assert "10 random placebo assignments, seed" in first.variance_type
    assert evaluate(raw, data=df).effects[0].std_error == first.std_error
    raw["inference"] = {"seed": 7}
    assert evaluate(raw, data=df).effects[0].std_error != first.std_error


def test_augmented_weights_sum_to_one_and_improve_fit():
    e = evaluate(design_dict("prop99", method="augmented", conformal=False)).effects[0]
    d = e.diagnostics
    assert sum(e.payload(SynthFit).weights.values()) == pytest.approx(1.0)
    assert e.payload(SynthFit).pre_rmspe < d["sc_pre_rmspe"]
    assert d["ridge_lambda"] > 0
    assert e.estimate < 0


def test_augmented_reaches_unit_outside_hull():
    from cpeval.datasets.synth import simulate_synth

    df = simulate_synth(n_donors=15, n_pre=25, n_post=5, effect=3.0, seed=11, noise=0.3)
    df.loc[df.unit == "t0", ["y", "y0"]] += 15.0  # far above every donor: the simplex cannot follow
    base = {
        "name": "outside", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["t0"], "start": df.attrs["start"]},
        "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": "abadie", "conformal": False}, "checks": ["convex_hull"],
    }
    with pytest.warns(Warning):
        sc = evaluate(base, data=df)
    assert sc.checks[0].status == "warn"
    base["estimator"] = {"method": "augmented", "conformal": False}
    base["checks"] = []
    aug = evaluate(base, data=df)
    assert abs(aug.effects[0].estimate - 3.0) < abs(sc.effects[0].estimate - 3.0)


def test_augmented_weights_limits():
    """Closed-form limits of the ridge ASCM weights (Ben-Michael, Feller & Rothstein 2021, ridge ASCM): the ridge
    correction is centred across donors, so as lambda -> 0 with fewer pre-periods than donors the augmented
    weights fit the pre-period exactly, and as lambda -> infinity they fall back to the SC weights."""
    from cpeval.estimation.synth._qp import simplex_ls
    from cpeval.estimation.synth.augmented import ascm_weights

    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(6, 15))
    x1 = 3.0 * rng.normal(size=6)  # far outside the donors' hull: the simplex alone cannot fit it
    g, g_sc = ascm_weights(x1, x0, 1e-10)
    np.testing.assert_allclose(g_sc, simplex_ls(x0, x1))
    assert np.abs(x0 @ g_sc - x1).max() > 0.5
    assert np.abs(x0 @ g - x1).max() < 1e-8
    assert g.sum() == pytest.approx(1.0, abs=1e-12)
    g_big, _ = ascm_weights(x1, x0, 1e12)
    np.testing.assert_allclose(g_big, g_sc, atol=1e-9)


def test_augmented_recovers_effect():
    """Known truth: factor-model panels with the treated unit inside the donors' hull (as the abadie sweep)."""
    from .test_simulation import _sweep

    errors, _ = _sweep(8, "augmented", conformal=False)
    assert abs(errors.mean()) < 0.4
    assert np.sqrt(np.mean(errors**2)) < 1.0
