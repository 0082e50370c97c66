"""Small designs and data for the diagnosis tests (data made here, with a fixed seed)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def trial(n_clusters: int | None = None, size: int = 10, n: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    if n_clusters is None:
        z = np.repeat([0, 1], n // 2)
        return pd.DataFrame({"id": np.arange(n), "z": rng.permutation(z), "y": rng.normal(size=n)})
    zc = rng.permutation(np.repeat([0, 1], n_clusters // 2))
    cluster = np.repeat(np.arange(n_clusters), size)
    return pd.DataFrame({"id": np.arange(n_clusters * size), "c": cluster, "z": zc[cluster],
                         "y": rng.normal(size=n_clusters * size)})


def trial_design(diagnose: dict[str, Any], cluster: bool = False) -> dict[str, Any]:
    treatment = {"assignment": "z", **({"cluster": "c"} if cluster else {})}
    return {"name": "trial", "kind": "rct", "data": {"path": "trial.csv", "unit": "id"}, "treatment": treatment,
            "outcomes": [{"name": "y", "column": "y", "family": "other", "measure": "level"}],
            "estimator": {"method": "difference_in_means"}, "inference": {"seed": 11}, "diagnose": diagnose}


def counts(n_units: int = 20, n_periods: int = 10, treated: int = 2, start: int = 6, mean: float = 20.0,
           seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(1, n_periods + 1), n_units)
    level = rng.uniform(0.5, 1.5, n_units)[unit]
    return pd.DataFrame({"area": unit, "month": period, "post": ((unit < treated) & (period >= start)).astype(int),
                         "burglary": rng.poisson(mean * level), "population": 1000})


def did_design(diagnose: dict[str, Any], method: str = "twfe", checks: list[str] | None = None) -> dict[str, Any]:
    est: dict[str, Any] = {"method": method, "cluster": "area"}
    if method == "poisson":
        est["exposure"] = "none"
    return {"name": "did", "kind": "did", "data": {"path": "panel.csv", "unit": "area", "time": "month"},
            "treatment": {"indicator": "post"}, "estimator": est, "checks": checks or [],
            "outcomes": [{"name": "burglary", "column": "burglary", "family": "crime", "measure": "count"}],
            "inference": {"seed": 5, "method": "analytic"}, "diagnose": diagnose}


def synth(n_donors: int = 6, n_periods: int = 12, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    units = [f"u{i}" for i in range(n_donors + 1)]
    unit = np.repeat(np.arange(n_donors + 1), n_periods)
    period = np.tile(np.arange(1, n_periods + 1), n_donors + 1)
    y = 10 + rng.normal(size=n_donors + 1)[unit] + 0.2 * period + rng.normal(scale=0.5, size=len(unit))
    return pd.DataFrame({"unit": np.array(units)[unit], "year": period, "y": y})


def synth_design(diagnose: dict[str, Any], start: int = 9, level: float = 0.8) -> dict[str, Any]:
    return {"name": "synth", "kind": "synthetic_control",
            "data": {"path": "synth.csv", "unit": "unit", "time": "year"},
            "treatment": {"units": ["u0"], "start": start},
            "outcomes": [{"name": "y", "column": "y", "family": "other", "measure": "level"}],
            "estimator": {"method": "abadie"}, "checks": ["placebo_space"],
            "inference": {"seed": 9, "level": level, "method": "analytic"}, "diagnose": diagnose}
