"""Outcomes of one design share the demeaned regressors (``reuse_demeaning``): the results are exactly those
of fitting every outcome from scratch, the factorisation is built once per (rows, weights, clusters,
regressors), and a different sample or different regressors never reuse a stale one."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import cpeval.estimation.fixed_effects as fx
from cpeval.datasets.did import simulate_did
from cpeval.pipeline import evaluate


@pytest.fixture(scope="module")
def frame():
    df = simulate_did(n_units=120, n_periods=8, cohorts=(4, 6), counts=True, seed=7)
    rng = np.random.default_rng(7)
    df["y2"] = 0.5 * df["y"] + rng.standard_normal(len(df))
    df["y3"] = df["crimes"].astype(float)
    df["w"] = rng.uniform(0.5, 2.0, df["unit"].nunique())[df["unit"].to_numpy() - df["unit"].min()]
    df["y_missing"] = df["y2"].where(rng.uniform(size=len(df)) > 0.1)
    return df


def _spy(monkeypatch) -> list[int]:
    built: list[int] = []
    real = fx._structure

    def counting(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(fx, "_structure", counting)
    return built


def _fit(df, y, **kw):
    args = {"unit": "unit", "time": "period", "x": ["treated"], "weights": "w", "cluster": "unit", "dof": "nested"}
    return fx.fe_ols(df, y=y, **{**args, **kw})


def _same(a, b) -> None:
    assert a.params.to_dict() == b.params.to_dict()
    assert a.std_errors.to_dict() == b.std_errors.to_dict()
    assert a.rsquared_within == b.rsquared_within
    assert a.cov.equals(b.cov) and a.influence.equals(b.influence)
    assert np.array_equal(a.leverage.toarray(), b.leverage.toarray())


def test_outcomes_share_one_structure_with_identical_results(frame, monkeypatch):
    fresh = [_fit(frame, y) for y in ("y", "y2", "y3")]
    built = _spy(monkeypatch)
    with fx.reuse_demeaning():
        shared = [_fit(frame, y) for y in ("y", "y2", "y3")]
    assert len(built) == 1
    for a, b in zip(fresh, shared, strict=True):
        _same(a, b)
    # outside a reuse block nothing is kept
    _fit(frame, "y")
    _fit(frame, "y")
    assert len(built) == 3


def test_other_rows_or_regressors_are_not_reused(frame, monkeypatch):
    sub = frame.loc[frame["y_missing"].notna()]
    expected_sub = _fit(sub, "y_missing")
    moved = frame.assign(treated=np.roll(frame["treated"].to_numpy(), 1))
    expected_moved = _fit(moved, "y")
    built = _spy(monkeypatch)
    with fx.reuse_demeaning():
        _fit(frame, "y")
        got_sub = _fit(sub, "y_missing")  # rows with the outcome missing dropped: another sample
        got_moved = _fit(moved, "y")  # the same rows, another regressor
        got_unweighted = _fit(frame, "y", weights=None)
    assert len(built) == 4
    _same(expected_sub, got_sub)
    _same(expected_moved, got_moved)
    _same(_fit(frame, "y", weights=None), got_unweighted)


@pytest.mark.parametrize("method", ["twfe", "event_study", "sun_abraham"])
def test_evaluate_with_and_without_reuse_identical(frame, monkeypatch, tmp_path, method):
    """A three-outcome design through ``evaluate``: the Effects are identical when the pipeline shares the
    demeaning and when every outcome is fitted from scratch, and the share happens (one structure)."""
    path = tmp_path / "panel.parquet"
    frame.drop(columns="y_missing").to_parquet(path)
    design = {
        "name": "three outcomes", "kind": "did",
        "data": {"path": str(path), "unit": "unit", "time": "period", "weights": "w"},
        "treatment": {"first_treated": "first_treated"},
        "outcomes": [{"name": y, "column": y} for y in ("y", "y2", "y3")],
        "estimator": {"method": method, "small_sample": "reghdfe"},
        "inference": {"method": "analytic"},
    }
    built = _spy(monkeypatch)
    shared = evaluate(design)
    assert len(built) == 1
    monkeypatch.setattr(fx, "reuse_demeaning", contextlib.nullcontext)
    fresh = evaluate(design)
    assert len(built) == 4
    assert [e.to_dict() for e in shared.effects] == [e.to_dict() for e in fresh.effects]


def test_same_rows_and_regressors_with_other_weights_clusters_or_units_are_not_reused(frame, monkeypatch):
    """The key holds the values of the unit, period, weight and cluster columns, not only their names: a frame
    with the same row labels and regressors but other weights, clusters or fixed-effect groups (text labels
    included) gets its own factorisation, equal to a fit from scratch."""
    rng = np.random.default_rng(3)
    others = {
        "weights": frame.assign(w=rng.uniform(0.5, 2.0, len(frame))),
        "clusters": frame.assign(c=frame["unit"] // 4),
        "units": frame.assign(unit=frame["unit"] // 2),
        "periods": frame.assign(period=(frame["period"] + 1) // 2),
        "text clusters": frame.assign(c=(frame["unit"] // 3).map("r{}".format).astype("string")),
    }
    base = frame.assign(c=frame["unit"].map("r{}".format).astype("string"))
    for name, other in others.items():
        other = other if "c" in other else other.assign(c=other["unit"])
        expected = _fit(other, "y", cluster="c")
        built = _spy(monkeypatch)
        with fx.reuse_demeaning():
            _fit(base, "y", cluster="c")
            got = _fit(other, "y", cluster="c")
        assert len(built) == 2, name
        _same(expected, got)
        monkeypatch.undo()
