"""Choosing the ridge-ASCM penalty: augsynth's cross-validation reproduces R augsynth on Proposition 99, and both
rules pick what a hand-written loop over their folds and grid picks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.datasets.synth import simulate_synth
from cpeval.designs.load import design_from_dict
from cpeval.errors import DesignError, EstimationError
from cpeval.estimation.synth._qp import simplex_ls
from cpeval.estimation.synth.augmented import choose_lambda
from cpeval.payloads import SynthFit
from cpeval.pipeline import evaluate

from .conftest import ROOT, design_dict, reference


@pytest.fixture(scope="module")
def prop99_augsynth():
    raw = design_dict("prop99", method="augmented", conformal=False, ridge_lambda="augsynth")
    return evaluate(raw).effects[0]


def test_augsynth_rule_reproduces_augsynth_on_prop99(prop99_augsynth):
    ref = reference("prop99_augsynth")
    tol = ref["tolerance"]
    e, d = prop99_augsynth, prop99_augsynth.diagnostics
    assert d["ridge_lambda_rule"] == "augsynth"
    assert e.estimate == pytest.approx(ref["att"], abs=tol["att"])
    assert d["ridge_lambda"] == pytest.approx(ref["lambda"], rel=tol["lambda_rel"])
    fitted = e.payload(SynthFit)
    assert set(fitted.weights) == set(ref["weights"])  # every donor, negative weights included
    for unit, w in ref["weights"].items():
        assert fitted.weights[unit] == pytest.approx(w, abs=tol["weights"]), unit
    assert fitted.pre_rmspe == pytest.approx(ref["ridge_pre_rmse"], abs=tol["rmse"])
    assert d["sc_pre_rmspe"] == pytest.approx(ref["sc_pre_rmse"], abs=tol["rmse"])
    # augsynth's l2_imbalance: the L2 norm of the 19 pre-period gaps; scaled by uniform donor weights' imbalance
    wide = pd.read_csv(ROOT / "case_studies" / "data" / "smoking_prop99.csv").pivot(
        index="year", columns="state", values="cigsale"
    )
    pre = wide.loc[wide.index < 1989]
    l2 = fitted.pre_rmspe * np.sqrt(len(pre))
    uniform = np.linalg.norm(pre["California"] - pre.drop(columns="California").mean(axis=1))
    assert l2 == pytest.approx(ref["l2_imbalance"], abs=tol["l2_imbalance"])
    assert l2 / uniform == pytest.approx(ref["scaled_l2_imbalance"], abs=tol["scaled_l2_imbalance"])


def test_default_rule_is_forward_cv_and_is_recorded():
    raw = design_dict("prop99", method="augmented", conformal=False)
    assert design_from_dict(raw).estimator.ridge_lambda == "forward_cv"
    d = evaluate(raw).effects[0].diagnostics
    assert d["ridge_lambda_rule"] == "forward_cv"
    assert len(d["lambda_cv"]) == 20
    raw["estimator"]["ridge_lambda"] = 12.5
    d = evaluate(raw).effects[0].diagnostics
    assert d["ridge_lambda"] == 12.5 and d["ridge_lambda_rule"] == "fixed" and d["lambda_cv"] == []


def _hand_cv(x1: np.ndarray, x0: np.ndarray, rule: str) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """augsynth's cv_lambda / get_lambda_errors written out (rows are periods here, donors in columns):
    lambda_max is the largest squared singular value of the donors centred period by period; each fold fits
    the simplex SC weights on its training periods, adds ridge_w = (X_1 - X_0' syn)' (X_0' X_0 + lambda I)^-1 X_0'
    and scores the held-out period; the rule keeps the largest lambda within one SE of the smallest mean error."""
    t0 = len(x1)
    xc = x0 - x0.mean(axis=1, keepdims=True)
    lambda_max = np.linalg.svd(xc, compute_uv=False)[0] ** 2
    if rule == "augsynth":
        scaler = 1e-8 ** (1 / 20)
        grid = np.array([lambda_max * scaler**k for k in range(21)])
        folds = [([s for s in range(t0) if s != i], i) for i in range(t0 - 1)]  # the last period is never held out
    else:
        grid = lambda_max * np.logspace(0, -6, 20)
        first = max(2, t0 - max(2, t0 // 3))
        folds = [(list(range(t)), t) for t in range(first, t0)]
    errors = np.zeros((len(folds), len(grid)))
    for i, (train, test) in enumerate(folds):
        syn = simplex_ls(x0[train], x1[train])
        x_0 = xc[train].T  # donors x training periods, centred
        x_1 = x1[train] - x0[train].mean(axis=1)
        for j, lam in enumerate(grid):
            ridge_w = (x_1 - x_0.T @ syn) @ np.linalg.solve(x_0.T @ x_0 + lam * np.eye(len(train)), x_0.T)
            aug = syn + ridge_w
            errors[i, j] = (x1[test] - x0[test] @ aug) ** 2
    mse = errors.mean(axis=0)
    se = errors.std(axis=0, ddof=1) / np.sqrt(len(folds))
    best = np.argmin(mse)
    return max(lam for lam, m in zip(grid, mse, strict=True) if m <= mse[best] + se[best]), grid, mse, se


@pytest.mark.parametrize("rule", ["augsynth", "forward_cv"])
def test_cv_picks_what_a_hand_loop_picks(rule):
    df = simulate_synth(n_donors=12, n_pre=14, n_post=3, noise=0.3, seed=2)
    df.loc[df.unit == "t0", "y"] += 5.0  # a treated unit outside the donors' hull: the ridge has work to do
    wide = df.pivot(index="time", columns="unit", values="y")
    pre = wide.loc[wide.index < df.attrs["start"]]
    x1, x0 = pre["t0"].to_numpy(), pre.drop(columns="t0").to_numpy()
    chosen, scores = choose_lambda(x1, x0, rule)
    hand, grid, mse, se = _hand_cv(x1, x0, rule)
    np.testing.assert_allclose([s["lambda"] for s in scores], grid, rtol=1e-12)
    np.testing.assert_allclose([s["cv_mse"] for s in scores], mse, rtol=1e-7)
    np.testing.assert_allclose([s["cv_se"] for s in scores], se, rtol=1e-7)
    assert chosen == pytest.approx(hand, rel=1e-12)
    # the choice is informative here: neither end of the grid, and no larger than the error-minimising lambda's
    # one-SE neighbourhood allows
    assert grid[-1] < chosen < grid[0]
    assert chosen >= grid[np.argmin(mse)]


def test_unknown_rule_is_a_design_error_naming_the_choices():
    raw = design_dict("prop99", method="augmented", ridge_lambda="cv")
    with pytest.raises(DesignError, match=r"estimator\.ridge_lambda: .*'forward_cv' or 'augsynth'; got 'cv'"):
        design_from_dict(raw)
    raw["estimator"]["ridge_lambda"] = -1
    with pytest.raises(DesignError, match=r"finite number >= 0 .*got -1"):
        design_from_dict(raw)


def test_cross_validation_without_held_out_periods_names_the_fix():
    x0 = np.random.default_rng(0).normal(size=(2, 5))
    with pytest.raises(EstimationError, match=r"only 2; give estimator\.ridge_lambda a number"):
        choose_lambda(x0[:, 0], x0[:, 1:], "forward_cv")
