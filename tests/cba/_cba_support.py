"""Helpers for the cost-benefit tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from cpeval.results import Effect

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "reference" / "cba"


def reference(name: str) -> dict:
    return json.loads((REFERENCE / name).read_text())


def base_design(cost_benefit: dict | None, measure: str = "count", better_if: str = "decrease") -> dict:
    """A small DiD design on the shipped castle data with one outcome named 'burglary'."""
    d = {
        "name": "cba test",
        "kind": "did",
        "data": {"path": str(ROOT / "case_studies" / "data" / "castle.csv"), "unit": "sid", "time": "year",
                 "population": "population"},
        "treatment": {"indicator": "post"},
        "outcomes": [{"name": "burglary", "column": "burglary", "measure": measure, "better_if": better_if,
                      **({"take_log": False} if measure == "log" else {})}],
        "estimator": {"method": "twfe", "cluster": "sid"},
    }
    if cost_benefit is not None:
        d["cost_benefit"] = copy.deepcopy(cost_benefit)
    return d


def make_effect(estimate: float, std_error: float, outcome: str = "burglary", measure: str = "count",
                df: float | None = None, level: float = 0.95, diagnostics: dict | None = None,
                scale: str | None = None) -> Effect:
    """An Effect built the way every estimator builds one (interval and p-value from estimate, SE and df)."""
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.estimation.inference import make_effect as _make

    return _make(
        OutcomeSpec(name=outcome, column=outcome, measure=measure, take_log=False if measure == "log" else None),
        method="test", estimand="att",
        estimate=estimate, std_error=std_error, level=level, df=df, n_obs=100, n_units=10, n_clusters=10,
        variance_type="test", diagnostics=diagnostics, scale=scale,
    )
