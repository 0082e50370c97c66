"""Reference values: the NSW experiment (difference in means, HC2) and hand/statsmodels checks."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.payloads import FirstStage, OtherEstimand
from cpeval.pipeline import evaluate

from .conftest import load_ref, nsw_design


def test_nsw_difference_in_means_matches_reference():
    ref = load_ref("nsw_difference_in_means")
    e = evaluate(nsw_design()).effect("re78")
    assert e.estimate == pytest.approx(ref["estimate"], abs=ref["tolerance"]["estimate_abs"])
    assert e.std_error == pytest.approx(ref["std_error"], abs=ref["tolerance"]["std_error_abs"])
    assert round(e.estimate) == ref["published_estimate_rounded"]
    assert e.diagnostics["arms"]["n_treated"] == ref["n_treated"]
    assert e.diagnostics["arms"]["n_control"] == ref["n_control"]
    assert e.estimand == "itt"


def test_nsw_matches_statsmodels_hc2_live(nsw):
    smf = pytest.importorskip("statsmodels.formula.api")
    fit = smf.ols("re78 ~ treat", nsw).fit(cov_type="HC2")
    e = evaluate(nsw_design()).effect("re78")
    assert e.std_error == pytest.approx(fit.bse["treat"], abs=1e-6)
    assert e.estimate == pytest.approx(fit.params["treat"], abs=1e-6)


def test_nsw_lin_matches_statsmodels_interacted_hc2(nsw):
    smf = pytest.importorskip("statsmodels.formula.api")
    covs = ["age", "educ", "re74", "re75"]
    d = nsw.copy()
    for c in covs:
        d[c] = d[c] - d[c].mean()
    fit = smf.ols("re78 ~ treat * (" + " + ".join(covs) + ")", d).fit(cov_type="HC2")
    e = evaluate(nsw_design(estimator={"method": "lin", "covariates": covs})).effect("re78")
    assert e.estimate == pytest.approx(fit.params["treat"], rel=1e-9)
    assert e.std_error == pytest.approx(fit.bse["treat"], rel=1e-9)
    assert e.df == len(nsw) - 10


def test_nsw_block_weighted_matches_hand_formula(nsw):
    e = evaluate(nsw_design(treatment={"assignment": "treat", "block": "nodegree"})).effect("re78")
    est = var = 0.0
    for _, g in nsw.groupby("nodegree"):
        w = len(g) / len(nsw)
        y1, y0 = g.loc[g.treat == 1, "re78"], g.loc[g.treat == 0, "re78"]
        est += w * (y1.mean() - y0.mean())
        var += w**2 * (y1.var() / len(y1) + y0.var() / len(y0))
    assert e.estimate == pytest.approx(est, rel=1e-10)
    assert e.std_error == pytest.approx(np.sqrt(var), rel=1e-10)
    assert e.df == len(nsw) - 4  # n - 2B, as estimatr


def test_nsw_block_fixed_effects_matches_statsmodels(nsw):
    smf = pytest.importorskip("statsmodels.formula.api")
    fit = smf.ols("re78 ~ treat + C(nodegree)", nsw).fit(cov_type="HC2")
    design = nsw_design(treatment={"assignment": "treat", "block": "nodegree"},
                        estimator={"blocked": "fixed_effects"})
    e = evaluate(design).effect("re78")
    assert e.estimate == pytest.approx(fit.params["treat"], rel=1e-10)
    assert e.std_error == pytest.approx(fit.bse["treat"], rel=1e-9)


def test_matched_pairs_variance_by_hand():
    import pandas as pd

    rng = np.random.default_rng(3)
    J = 40
    pair = np.repeat(np.arange(J), 2)
    z = np.tile([1, 0], J)
    y = rng.normal(size=2 * J) + 0.5 * z + pair * 0.1
    df = pd.DataFrame({"id": np.arange(2 * J), "pair": pair, "z": z, "y": y})
    design = {"name": "pairs", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
              "treatment": {"assignment": "z", "block": "pair"}, "outcomes": [{"name": "y", "column": "y"}]}
    e = evaluate(design, df).effect("y")
    tau = y[z == 1] - y[z == 0]
    assert e.estimate == pytest.approx(tau.mean())
    assert e.std_error == pytest.approx(np.sqrt(tau.var(ddof=1) / J))
    assert e.df == J - 1


def test_many_small_blocks_run_without_dense_dummies():
    import pandas as pd

    rng = np.random.default_rng(4)
    J = 3000  # 3,000 blocks of 4 people
    block = np.repeat(np.arange(J), 4)
    z = np.tile([1, 1, 0, 0], J)
    y = rng.normal(size=4 * J) + 0.2 * z + 0.01 * block
    df = pd.DataFrame({"id": np.arange(4 * J), "b": block, "z": z, "y": y})
    base = {"name": "q", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "id"},
            "treatment": {"assignment": "z", "block": "b"}, "outcomes": [{"name": "y", "column": "y"}]}
    w = evaluate(base, df).effect("y")
    fe = evaluate({**base, "estimator": {"blocked": "fixed_effects"}}, df).effect("y")
    # equal block sizes and shares: both estimators equal the mean of within-block differences
    tau_b = y.reshape(J, 4)[:, :2].mean(axis=1) - y.reshape(J, 4)[:, 2:].mean(axis=1)
    assert w.estimate == pytest.approx(tau_b.mean()) and fe.estimate == pytest.approx(tau_b.mean())
    assert w.df == 4 * J - 2 * J and fe.df == 4 * J - J - 1


def test_cace_equals_the_wald_ratio():
    """Without blocks or covariates the 2SLS CACE is exactly the Wald (1940) ratio of the two ITTs
    (Angrist, Imbens & Rubin 1996): effect of assignment on the outcome over its effect on take-up."""
    import warnings

    from cpeval.datasets.rct import simulate_rct
    from cpeval.errors import CpevalWarning

    f = simulate_rct(seed=11, n_blocks=1, cluster_randomised=False, compliance=0.6, always_takers=0.1)
    design = {"name": "w", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
              "treatment": {"assignment": "assigned", "received": "received"}, "estimand": "cace",
              "outcomes": [{"name": "y", "column": "y"}]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        e = evaluate(design, f).effect("y")
    t = f["assigned"] == 1
    itt_y = f.loc[t, "y"].mean() - f.loc[~t, "y"].mean()
    itt_d = f.loc[t, "received"].mean() - f.loc[~t, "received"].mean()
    assert e.estimate == pytest.approx(itt_y / itt_d, rel=1e-10)
    assert e.payload(OtherEstimand).estimate == pytest.approx(itt_y, rel=1e-12)
    assert e.payload(FirstStage).coefficient == pytest.approx(itt_d, rel=1e-10)


def test_lee_bounds_by_hand():
    """Lee (2009): the arm observed more often (here treated, 10 of 10 vs 8 of 10) is trimmed by
    p = (1 - 0.8) / 1 = 0.2, i.e. 2 of its 10 outcomes, from the top (lower bound) or bottom (upper)."""
    from cpeval.estimation.rct.lee import lee_bounds

    y1 = np.arange(1.0, 11.0)  # treated outcomes 1..10, all observed
    y0 = np.array([2.0, 4.0, 6.0, 8.0, 1.0, 3.0, 5.0, 7.0, np.nan, np.nan])  # control: 8 observed, mean 4.5
    y = np.concatenate([y1, y0])
    z = np.repeat([1, 0], 10)
    obs = ~np.isnan(y)
    b = lee_bounds(y, z, obs)
    assert b["trimmed_arm"] == "treated" and b["trim_share"] == pytest.approx(0.2)
    assert b["lower"] == pytest.approx(np.mean(np.arange(1.0, 9.0)) - 4.5)  # 4.5 - 4.5 = 0
    assert b["upper"] == pytest.approx(np.mean(np.arange(3.0, 11.0)) - 4.5)  # 6.5 - 4.5 = 2
    # a fractional cut: treated 8 of 8 observed, control 7 of 10 -> p = 0.3, keep 5.6 of the 8 treated, the
    # sixth counted 0.6 (Lee 2009 trims an exact share)
    y0 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, np.nan, np.nan, np.nan])  # mean 4
    y = np.concatenate([np.arange(1.0, 9.0), y0])
    z = np.repeat([1, 0], [8, 10])
    b = lee_bounds(y, z, ~np.isnan(y))
    assert b["trim_share"] == pytest.approx(0.3)
    assert b["lower"] == pytest.approx((1 + 2 + 3 + 4 + 5 + 0.6 * 6) / 5.6 - 4.0)
    assert b["upper"] == pytest.approx((8 + 7 + 6 + 5 + 4 + 0.6 * 3) / 5.6 - 4.0)
