"""Helpers for the event-study, Sun & Abraham, Poisson and DiD-check tests."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from _support import CASE_DATA
from cpeval.data import validate_panel
from cpeval.designs import design_from_dict
from cpeval.estimation.registry import estimator_for
from cpeval.results import Effect


def castle() -> pd.DataFrame:
    return pd.read_csv(CASE_DATA / "castle.csv")


def design(method: str, *, data: dict[str, Any] | None = None, treatment: dict[str, Any] | None = None,
           outcome: str = "y", measure: str = "level", checks: list[str] | None = None,
           honest: dict[str, Any] | None = None, **estimator: Any) -> Any:
    raw: dict[str, Any] = {
        "name": "did_es test",
        "kind": "did",
        "data": {"path": "x.csv", "unit": "unit", "time": "period", **(data or {})},
        "treatment": treatment or {"first_treated": "first_treated"},
        "outcomes": [{"name": outcome, "column": outcome, "measure": measure,
                      **({"take_log": False} if measure == "log" else {})}],
        "estimator": {"method": method, **estimator},
        "checks": checks or [],
    }
    if honest is not None:
        raw["checks"] = [c for c in raw["checks"] if c != "honest_did"] + [{"honest_did": honest}]
    return design_from_dict(raw)


def castle_design(method: str, outcome: str = "l_homicide", weights: str | None = "popwt", **kw: Any) -> Any:
    data = {"unit": "sid", "time": "year", "weights": weights, "population": "population"}
    kw.setdefault("measure", "log" if outcome.startswith("l_") else "count")
    return design(method, data=data, treatment={"first_treated": "treat_year"}, outcome=outcome, **kw)


def fit(frame: pd.DataFrame, d: Any, *, quiet: bool = True) -> Effect:
    panel = validate_panel(frame, d)
    if not quiet:
        return estimator_for(d).fit(panel, d.outcomes[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator_for(d).fit(panel, d.outcomes[0])


def path_rows(effect: Effect, kind: str | None = None) -> pd.DataFrame:
    t = effect.path_table()
    return t if kind is None else t[t["kind"] == kind].reset_index(drop=True)


def count_panel(n_units: int = 40, n_periods: int = 6, cohorts: tuple[int, ...] = (3, 5), tau: float = 0.3,
                base: float = 0.5, seed: int = 1, zero_unit: bool = False) -> pd.DataFrame:
    """Poisson counts with many zeros: y ~ Poisson(pop/1000 * exp(a_i + l_t + tau D_it))."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(1, n_units + 1), n_periods)
    period = np.tile(np.arange(1, n_periods + 1), n_units)
    g_unit = rng.choice(np.array([0, *cohorts]), size=n_units)
    g = g_unit[unit - 1]
    d = ((g > 0) & (period >= g)).astype(int)
    pop = rng.integers(500, 3000, size=n_units)[unit - 1].astype(float)
    a = rng.normal(0, 0.5, n_units)[unit - 1]
    lt = 0.1 * period
    mu = pop / 1000 * np.exp(np.log(base) + a + lt + tau * d)
    y = rng.poisson(mu).astype(float)
    if zero_unit:
        y[unit == 1] = 0.0
    return pd.DataFrame({"unit": unit, "period": period, "first_treated": g, "treated": d, "y": y,
                         "population": pop, "cl": (unit - 1) // 2})
