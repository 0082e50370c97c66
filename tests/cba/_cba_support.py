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
        "outcomes": [{"name": "burglary", "column": "burglary", "measure": measure, "better_if": better_if}],
        "estimator": {"method": "twfe", "cluster": "sid"},
    }
    if cost_benefit is not None:
        d["cost_benefit"] = copy.deepcopy(cost_benefit)
    return d


def make_effect(estimate: float, std_error: float, outcome: str = "burglary", measure: str = "count",
                df: float | None = None, level: float = 0.95, diagnostics: dict | None = None) -> Effect:
    from cpeval.results import critical_value, p_value

    crit = critical_value(level, df)
    return Effect(
        outcome=outcome, family="crime", measure=measure, better_if="decrease", estimand="att", method="test",
        estimate=estimate, std_error=std_error, level=level, ci_lower=estimate - crit * std_error,
        ci_upper=estimate + crit * std_error, p_value=p_value(estimate / std_error, df), n_obs=100,
        n_units=10, n_clusters=10, variance_type="test", df=df, diagnostics=diagnostics or {},
    )


