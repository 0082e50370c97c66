"""The closed form for balanced panels without covariates equals the general 2x2 estimators.

A balanced panel without covariates takes ``callaway_santanna._mean_change_cells``: every ATT(g,t) from
class sums and the influence functions in factored form (``cs_influence.PanelMeans``), so no n x K matrix is
formed. ``CallawaySantAnna.closed_form = False`` sends the same data through the general estimators of
``cs_drdid`` with dense influence functions (the code every covariate design uses, and the only path before
the closed form existed). The two must agree to 1e-10 in every reported number: ATT(g,t), the four
aggregations and their elements, analytic and bootstrap standard errors, uniform bands, the pre-trend test,
the headline's per-unit influence, the effective number of clusters and the percentage change. R did's
printed mpdta numbers (``test_cs_reference.py``) are met by the closed form, which mpdta now takes.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cpeval.data import validate_panel
from cpeval.datasets.did import simulate_did
from cpeval.estimation.did.callaway_santanna import CallawaySantAnna
from cpeval.estimation.did.cs_influence import PanelMeans
from cpeval.payloads import ClusterCounts, GroupTimeFit
from did_cs._cs import cs_design, mpdta

TOL = 1e-10


def _fit(frame: pd.DataFrame, design: Any, closed_form: bool = True) -> Any:
    panel = validate_panel(frame, design)
    estimator = CallawaySantAnna(design)
    estimator.closed_form = closed_form
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.fit(panel, design.outcomes[0])


def _close(a: Any, b: Any, where: str = "") -> None:
    """Equal structures; numbers equal to TOL relative to max(|a|, |b|, 1)."""
    if isinstance(a, dict):
        assert set(a) == set(b), where
        for k in a:
            _close(a[k], b[k], f"{where}/{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _close(u, v, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert np.allclose(a, b, rtol=TOL, atol=TOL), where
    elif isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), where
        else:
            assert abs(a - b) <= TOL * max(abs(a), abs(b), 1.0), (where, a, b)
    else:
        assert a == b, (where, a, b)


def _same(fast: Any, general: Any) -> None:
    _close(list(fast.path), list(general.path), "path")
    for key in ("bootstrap", "cells_not_estimated"):
        _close(fast.diagnostics.get(key), general.diagnostics.get(key), key)
    for kind in (GroupTimeFit, ClusterCounts):  # aggregations, pre-test, % change, cohort sizes; cluster counts
        _close(fast.payload(kind).to_dict(), general.payload(kind).to_dict(), kind.key)
    _close(fast.estimate, general.estimate, "estimate")
    _close(fast.std_error, general.std_error, "std_error")
    assert (fast.sampling is None) == (general.sampling is None)
    if general.sampling is not None:
        _close(fast.sampling.influence, general.sampling.influence, "influence")
        if general.sampling.draws is not None:
            _close(fast.sampling.draws, general.sampling.draws, "draws")


def _mpdta_design(frame_extra: dict | None = None, **estimator: Any) -> Any:
    return cs_design({"unit": "countyreal", "time": "year", **(frame_extra or {})}, {"first_treated": "first.treat"},
                     "lemp", **estimator)


MPDTA_CASES = {
    "reg": {"approach": "reg"},
    "dr dynamic": {"approach": "dr", "aggregation": "dynamic"},
    "ipw not-yet-treated universal": {"approach": "ipw", "control_group": "not_yet_treated",
                                      "base_period": "universal"},
    "dr anticipation calendar": {"approach": "dr", "anticipation": 1, "aggregation": "calendar"},
    "dr balance_e window group": {"approach": "dr", "aggregation": "group", "balance_e": 1, "min_e": -2},
    "bootstrap rademacher": {"approach": "reg", "inference": {"bootstrap": 199, "seed": 11}},
    "bootstrap mammen": {"approach": "reg", "bootstrap_weights": "mammen", "inference": {"bootstrap": 99}},
}


@pytest.mark.parametrize("case", list(MPDTA_CASES), ids=list(MPDTA_CASES))
def test_mpdta_closed_form_equals_general_estimators(case):
    design = _mpdta_design(**MPDTA_CASES[case])
    fast = _fit(mpdta(), design)
    assert fast.payload(GroupTimeFit).layout == "balanced panel"
    _same(fast, _fit(mpdta(), design, closed_form=False))


def test_mpdta_clustered_and_weighted():
    df = mpdta()
    df["state"] = df["countyreal"] // 1000  # counties of one state adopt at different times
    df["w"] = 1.0 + (df["countyreal"] % 3)
    design = _mpdta_design({"weights": "w"}, approach="dr", cluster="state", aggregation="dynamic",
                           inference={"bootstrap": 199, "seed": 5})
    _same(_fit(df, design), _fit(df, design, closed_form=False))


@pytest.fixture(scope="module")
def staggered():
    """Six cohorts (one adopting late enough to have few post periods) and never-treated units, 12 periods,
    outcome levels around 50 with unit effects, so that level and change differ in size."""
    frame = simulate_did(n_units=1500, n_periods=12, cohorts=(3, 4, 6, 8, 9, 11), seed=19)
    frame["y"] = frame["y"] + 50.0
    frame["w"] = 0.5 + (frame["unit"] % 4)
    frame["region"] = frame["unit"] % 37  # clusters spanning cohorts
    cohort_of = frame["first_treated"].to_numpy()
    frame["block"] = cohort_of * 100 + frame["unit"] % 5  # clusters nested in cohorts
    return frame


def _sim_design(data: dict | None = None, **estimator: Any) -> Any:
    return cs_design({"unit": "unit", "time": "period", **(data or {})}, {"first_treated": "first_treated"}, "y",
                     **estimator)


SIM_CASES = {
    "never treated dynamic": ({}, {"aggregation": "dynamic"}),
    "not yet treated group weighted": ({"weights": "w"}, {"control_group": "not_yet_treated", "aggregation": "group"}),
    "universal calendar": ({}, {"base_period": "universal", "aggregation": "calendar", "approach": "ipw"}),
    "clusters across cohorts, bootstrap": ({}, {"cluster": "region", "inference": {"bootstrap": 199, "seed": 3}}),
    "clusters within cohorts, bootstrap": ({"weights": "w"}, {"cluster": "block", "aggregation": "dynamic",
                                                              "inference": {"bootstrap": 199, "seed": 3}}),
}


@pytest.mark.parametrize("case", list(SIM_CASES), ids=list(SIM_CASES))
def test_staggered_panel_closed_form_equals_general_estimators(staggered, case):
    data, estimator = SIM_CASES[case]
    design = _sim_design(data, **estimator)
    _same(_fit(staggered, design), _fit(staggered, design, closed_form=False))


def test_closed_form_is_the_path_taken_and_holds_no_dense_matrix(staggered):
    """Without covariates the cells' influence functions are factored; with a covariate they are dense."""
    from cpeval.estimation.did.callaway_santanna import group_time_att
    from cpeval.estimation.did.cs_data import prepare

    design = _sim_design()
    panel = validate_panel(staggered, design)
    cells, _, _ = group_time_att(prepare(panel, "y", design), design)
    assert isinstance(cells.inf, PanelMeans)
    assert cells.inf.rows.z.shape == (1500, 12 + 2)
    with_x = _sim_design(covariates=["x"])
    cells_x, _, _ = group_time_att(prepare(validate_panel(staggered, with_x), "y", with_x), with_x)
    assert isinstance(cells_x.inf, np.ndarray)


def test_percent_change_closed_form_equals_general():
    counts = simulate_did(n_units=400, counts=True, seed=5)
    design = cs_design({"unit": "unit", "time": "period"}, {"first_treated": "first_treated"}, "crimes",
                       approach="dr", aggregation="dynamic")
    design = design.model_copy(update={"outcomes": [design.outcomes[0].model_copy(update={"measure": "count"})]})
    fast = _fit(counts, design)
    assert fast.payload(GroupTimeFit).percent_change is not None
    _same(fast, _fit(counts, design, closed_form=False))


def test_row_order_and_unit_relabelling(staggered):
    """Shuffled rows and new unit labels (strings, in another order) give the same numbers."""
    design = _sim_design({"weights": "w"}, control_group="not_yet_treated", aggregation="dynamic",
                         cluster="region", inference={"bootstrap": 99, "seed": 2})
    base = _fit(staggered, design)
    rng = np.random.default_rng(0)
    shuffled = staggered.sample(frac=1.0, random_state=1).reset_index(drop=True)
    relabel = dict(zip(staggered["unit"].unique(), rng.permutation(staggered["unit"].nunique()), strict=True))
    shuffled["unit"] = shuffled["unit"].map(lambda u: f"u{relabel[u]:05d}")
    other = _fit(shuffled, design)
    _close(list(other.path), list(base.path), "path")
    mine, theirs = other.payload(GroupTimeFit).to_dict(), base.payload(GroupTimeFit).to_dict()
    _close(mine["aggregations"], theirs["aggregations"], "aggregations")
    _close(mine["pretest"], theirs["pretest"], "pretest")
    # without clustering the bootstrap draws one multiplier per unit in the order of the unit labels, so
    # relabelling changes the draws; the analytic inference does not move
    plain = _sim_design(aggregation="group")
    _close(list(_fit(shuffled, plain).path), list(_fit(staggered, plain).path), "path (analytic)")


@pytest.mark.parametrize("rules", ["plain", "no never-treated", "cohort without base period"])
def test_sorted_balanced_layout_equals_general_arrangement(staggered, rules):
    """``prepare`` reads a balanced panel sorted by unit and period (as validation leaves it) as a units x
    periods matrix without re-indexing; rows in any other order take the general arrangement. Both give the
    same data, dropped cohorts and periods, weights, clusters and covariates included."""
    import dataclasses

    from cpeval.estimation.did.cs_data import prepare

    frame = staggered.copy()
    estimator: dict[str, Any] = {"cluster": "region", "covariates": ["x"]}
    if rules == "no never-treated":
        frame = frame[frame["first_treated"] > 0]
        estimator["control_group"] = "not_yet_treated"
    elif rules == "cohort without base period":
        estimator["anticipation"] = 2  # cohort 3 has no period before 3 - 2
    design = _sim_design({"weights": "w"}, **estimator)
    panel = validate_panel(frame, design)
    grid = prepare(panel, "y", design)
    assert grid.Y is not None
    if rules == "plain":  # nothing dropped: the matrix is a view of the outcome column, not a copy
        assert grid.Y.base is not None
    shuffled = panel.frame.sample(frac=1.0, random_state=4).reset_index(drop=True)
    general = prepare(dataclasses.replace(panel, frame=shuffled), "y", design)
    for name in ("layout", "n", "n_obs", "n_clusters", "notes", "period_labels"):
        assert getattr(grid, name) == getattr(general, name), name
    for name in ("periods", "unit_group", "unit_weight", "cluster", "sample_labels", "Y", "X"):
        assert np.array_equal(getattr(grid, name), getattr(general, name)), name
    assert grid.notes or rules == "plain"


@pytest.mark.parametrize("weights", ["rademacher", "mammen"])
def test_bootstrap_chunked_by_memory_budget_gives_the_same_draws(staggered, monkeypatch, weights):
    """Multipliers are drawn a few replications at a time when the clusters are many (at most DRAW_BUDGET
    draws held at once); the draws, and so every bootstrap number, do not depend on the chunking."""
    from cpeval.estimation.did import cs_aggregate

    design = _sim_design(aggregation="dynamic", bootstrap_weights=weights, inference={"bootstrap": 99, "seed": 4})
    whole = _fit(staggered, design)
    monkeypatch.setattr(cs_aggregate, "DRAW_BUDGET", 1000)  # 1,500 units: two replications per chunk
    chunked = _fit(staggered, design)
    _close(list(chunked.path), list(whole.path), "path")
    _close(chunked.sampling.draws, whole.sampling.draws, "draws")
