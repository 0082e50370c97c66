"""Reference values: the NSW experiment (difference in means, HC2) and hand/statsmodels checks."""

from __future__ import annotations

import numpy as np
import pytest

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
