"""How run_checks treats a check that raises: cpeval's own errors and numerical failures become 'error' rows
with the reason; anything else is a bug and propagates instead of being reported as a check result."""

from __future__ import annotations

import numpy as np
import pytest

import cpeval.checks as checks
from cpeval.datasets.did import simulate_did
from cpeval.errors import EstimationError
from cpeval.pipeline import check as validate


@pytest.fixture()
def panel():
    frame = simulate_did(n_units=20, n_periods=5, cohorts=(3,), seed=1)
    design = {
        "name": "t", "kind": "did", "data": {"path": "x.csv", "unit": "unit", "time": "period"},
        "treatment": {"indicator": "treated"},
        "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
    }
    return validate(design, data=frame)


def _raising(exc: BaseException):
    def check(panel, effects):
        raise exc

    return lambda: check


@pytest.mark.parametrize("exc", [
    EstimationError("needs a balanced panel; remove 'bacon' from checks"),
    np.linalg.LinAlgError("Singular matrix"),
    ZeroDivisionError("division by zero"),
])
def test_cpeval_and_numerical_errors_become_error_rows(monkeypatch, panel, exc):
    monkeypatch.setitem(checks.CHECKS, ("did", "pre_trends"), _raising(exc))
    [row] = checks.run_checks(["pre_trends"], panel, [])
    assert row.status == "error" and str(exc) in row.message and row.name == "pre_trends"


@pytest.mark.parametrize("exc", [KeyError("event_time"), IndexError("index 3 is out of bounds"),
                                 ValueError("operands could not be broadcast"), RuntimeError("bug")])
def test_programming_errors_propagate(monkeypatch, panel, exc):
    monkeypatch.setitem(checks.CHECKS, ("did", "pre_trends"), _raising(exc))
    with pytest.raises(type(exc)):
        checks.run_checks(["pre_trends"], panel, [])
