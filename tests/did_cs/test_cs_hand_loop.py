"""Callaway & Sant'Anna's closed form against a hand loop over the (g, t) cells.

Every number here is computed from first principles on a small generated staggered panel (60 units,
6 periods, cohorts 3, 4 and 6 and never-treated units), without cpeval's estimators:

- ATT(g,t) = mean change of cohort g between the base period and t minus the comparison group's mean change;
  base period g - 1 for post cells and t - 1 for pre cells (``base_period: varying``, R did's default);
- each unit's influence value for a cell, scaled as R did scales it (SE = sqrt(mean(psi^2) / n)):
  n / n_g (dY_i - mean_g) for a unit of cohort g, -n / n_c (dY_i - mean_c) for a comparison unit, 0 otherwise;
- the simple and dynamic aggregations with R did's influence function, which adds the estimation of the
  cohort shares (``get_agg_inf_func``): psi_agg = psi_cells w + (if1 - if2) att, if1[i, k] = (1{G_i = g_k} -
  p_k) / sum p, if2[i, k] = sum_j (1{G_i = g_j} - p_j) p_k / (sum p)^2.

The closed form (``group_time_att`` with ``fast=True``) must give the same numbers to 1e-10; the general 2x2
estimators (``fast=False``) hold dense influence functions, so the two routes really differ.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from cpeval.data import validate_panel
from cpeval.estimation.did.callaway_santanna import CallawaySantAnna, group_time_att
from cpeval.estimation.did.cs_data import prepare
from cpeval.estimation.did.cs_influence import PanelMeans
from cpeval.payloads import GroupTimeFit
from did_cs._cs import cs_design

N_UNITS, N_PERIODS = 60, 6
TOL = 1e-10


@pytest.fixture(scope="module")
def panel_frame() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    cohort = rng.choice([0, 3, 4, 6], size=N_UNITS, p=[0.4, 0.2, 0.2, 0.2])
    unit, period = np.meshgrid(np.arange(N_UNITS), np.arange(1, N_PERIODS + 1), indexing="ij")
    g = cohort[unit]
    effect = np.where((g > 0) & (period >= g), 0.5 * (period - g + 1), 0.0)
    y = 3 * rng.normal(size=N_UNITS)[unit] + 0.3 * period + rng.normal(size=unit.shape) + effect
    return pd.DataFrame({"unit": unit.ravel(), "period": period.ravel(), "first_treated": g.ravel(),
                         "y": y.ravel()})


def _hand_cells(frame: pd.DataFrame, control: str) -> tuple[dict, dict, np.ndarray]:
    """ATT(g,t) and each unit's influence value, one (g, t) cell at a time."""
    y = frame.pivot(index="unit", columns="period", values="y").to_numpy()
    g_of = frame.groupby("unit")["first_treated"].first().to_numpy()
    n = len(g_of)
    att, psi = {}, {}
    for g in (3, 4, 6):
        for t in range(2, N_PERIODS + 1):
            base = g - 1 if t >= g else t - 1
            dy = y[:, t - 1] - y[:, base - 1]
            treated = g_of == g
            not_yet = (g_of > max(t, base)) & (g_of != g)  # not yet treated at t or at the base period
            comparison = (g_of == 0) | (not_yet if control == "not_yet_treated" else False)
            att[(g, t)] = dy[treated].mean() - dy[comparison].mean()
            f = np.zeros(n)
            f[treated] = n / treated.sum() * (dy[treated] - dy[treated].mean())
            f[comparison] = -n / comparison.sum() * (dy[comparison] - dy[comparison].mean())
            psi[(g, t)] = f
    return att, psi, g_of


def _hand_aggregate(keys: list, att: dict, psi: dict, g_of: np.ndarray) -> tuple[float, np.ndarray]:
    """Cohort-share weighted mean of the cells ``keys`` and its influence function (R did's, with the
    estimated shares' term)."""
    p = np.array([np.mean(g_of == g) for g, _ in keys])
    a = np.array([att[k] for k in keys])
    member = np.column_stack([(g_of == g).astype(float) for g, _ in keys])
    if1 = (member - p) / p.sum()
    if2 = np.outer((member - p).sum(axis=1), p) / p.sum() ** 2
    w = p / p.sum()
    return float(w @ a), np.column_stack([psi[k] for k in keys]) @ w + (if1 - if2) @ a


def _se(influence: np.ndarray) -> float:
    return float(np.sqrt(np.mean(influence**2) / len(influence)))


def _fit(frame: pd.DataFrame, **estimator):
    design = cs_design({"unit": "unit", "time": "period"}, {"first_treated": "first_treated"}, "y", **estimator)
    panel = validate_panel(frame, design)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CallawaySantAnna(design).fit(panel, design.outcomes[0]), panel, design


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
def test_cells_and_aggregations_equal_the_hand_loop(panel_frame, control):
    att, psi, g_of = _hand_cells(panel_frame, control)
    effect, _, _ = _fit(panel_frame, control_group=control, aggregation="dynamic")
    cells = [r for r in effect.path if r["kind"] == "att_gt"]
    assert len(cells) == len(att) == 15
    for r in cells:
        key = (r["group"], r["time"])
        assert r["estimate"] == pytest.approx(att[key], abs=TOL)
        assert r["std_error"] == pytest.approx(_se(psi[key]), abs=TOL)
    post = [k for k in att if k[1] >= k[0]]
    simple, psi_simple = _hand_aggregate(post, att, psi, g_of)
    by_e = {e: _hand_aggregate([k for k in att if k[1] - k[0] == e], att, psi, g_of)
            for e in sorted({t - g for g, t in att})}
    dynamic = np.mean([by_e[e][0] for e in by_e if e >= 0])
    psi_dynamic = np.mean([by_e[e][1] for e in by_e if e >= 0], axis=0)
    summary = effect.payload(GroupTimeFit).aggregations
    assert summary["simple"].estimate == pytest.approx(simple, abs=TOL)
    assert summary["simple"].std_error == pytest.approx(_se(psi_simple), abs=TOL)
    assert summary["dynamic"].estimate == pytest.approx(dynamic, abs=TOL)
    assert summary["dynamic"].std_error == pytest.approx(_se(psi_dynamic), abs=TOL)
    assert effect.estimate == pytest.approx(dynamic, abs=TOL)
    event = {r["event_time"]: r for r in effect.path if r["kind"] == "dynamic"}
    assert set(event) == set(by_e)
    for e, (value, influence) in by_e.items():
        assert event[e]["estimate"] == pytest.approx(value, abs=TOL)
        assert event[e]["std_error"] == pytest.approx(_se(influence), abs=TOL)


def test_the_general_route_is_really_another_route(panel_frame):
    """``fast=False`` (the reference the closed-form tests compare with) holds dense influence functions."""
    _, panel, design = _fit(panel_frame)
    data = prepare(panel, "y", design)
    assert isinstance(group_time_att(data, design)[0].inf, PanelMeans)
    assert isinstance(group_time_att(data, design, fast=False)[0].inf, np.ndarray)
