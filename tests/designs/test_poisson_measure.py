"""Poisson models non-negative counts: the design refuses it on a log, level or proportion outcome (naming both
keys), and data validation refuses negative values in a Poisson outcome before anything is fitted."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.data import validate_panel
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, DesignError, ProblemCode


def _design(*outcomes: dict) -> dict:
    return {"name": "p", "kind": "did", "data": {"path": "x.csv", "unit": "area", "time": "year",
                                                 "population": "population"},
            "treatment": {"indicator": "post"}, "outcomes": list(outcomes),
            "estimator": {"method": "poisson", "cluster": "area"}}


@pytest.mark.parametrize(
    ("outcome", "hint"),
    [
        ({"name": "homicide", "column": "l_homicide", "measure": "log", "take_log": False},
         "a log outcome needs a linear method"),
        ({"name": "burglary", "column": "burglary", "measure": "log", "take_log": True, "zeros": "add_one"},
         "a log outcome needs a linear method"),
        ({"name": "score", "column": "score", "measure": "level"}, "a level outcome needs a linear method"),
        ({"name": "share", "column": "share", "measure": "proportion"},
         "a proportion outcome needs a linear method"),
    ],
)
def test_poisson_is_refused_on_anything_but_counts_or_rates(outcome, hint):
    with pytest.raises(DesignError) as err:
        design_from_dict(_design({"name": "ok", "column": "c", "measure": "count"}, outcome), source="d.yaml")
    text = str(err.value)
    assert (f"outcomes[1].measure is {outcome['measure']!r} (outcome {outcome['name']!r}), but estimator.method "
            "is 'poisson'") in text
    assert hint in text
    assert "outcomes[0]" not in text  # the count outcome is fine


def test_poisson_lists_every_refused_outcome():
    with pytest.raises(DesignError) as err:
        design_from_dict(_design({"name": "a", "column": "a", "measure": "level"},
                                 {"name": "b", "column": "b", "measure": "proportion"}))
    assert "outcomes[0].measure is 'level'" in str(err.value)
    assert "outcomes[1].measure is 'proportion'" in str(err.value)


@pytest.mark.parametrize(
    "outcome",
    [
        {"name": "n", "column": "burglary", "measure": "count"},
        {"name": "t", "total_of": ["burglary", "robbery"]},
        # a harm index is a weighted sum of counts (days of custody): non-negative, so a count model applies
        {"name": "h", "seriousness": {"weights": "cambridge_chi", "columns": {"robbery_personal": "robbery"}}},
    ],
)
def test_poisson_accepts_counts_rates_and_harm_indices(outcome):
    d = design_from_dict(_design(outcome))
    assert d.estimator.method == "poisson"


@pytest.mark.parametrize("outcome", [{"name": "r", "column": "burglary", "measure": "rate"},
                                     {"name": "r1000", "column": "burglary", "measure": "rate", "per": 1000}])
def test_poisson_takes_a_rate_without_a_population_offset_only(outcome):
    raw = _design(outcome)
    raw["estimator"]["exposure"] = "none"
    assert design_from_dict(raw).estimator.exposure == "none"
    with pytest.raises(DesignError) as err:  # the offset would divide by population a second time
        design_from_dict(_design(outcome))
    assert "is a rate and estimator.exposure is 'population'" in str(err.value)
    assert "set estimator.exposure: none" in str(err.value)


def test_negative_values_in_a_poisson_outcome_are_a_data_problem():
    frame = pd.DataFrame({"area": np.repeat([1, 2, 3, 4], 4), "year": np.tile([1, 2, 3, 4], 4),
                          "post": [0, 0, 1, 1] * 2 + [0] * 8, "population": 1000.0,
                          "burglary": [3, 5, 2, 4, 6, -1, 3, 2, 4, 5, 6, -2, 3, 3, 4, 5]})
    d = design_from_dict(_design({"name": "n", "column": "burglary", "measure": "count"}))
    with pytest.raises(DataError) as err:
        validate_panel(frame, d, source="data.csv")
    (problem,) = [p for p in err.value.problems if p.column == "burglary"]
    assert problem.code == ProblemCode.NEGATIVE_VALUES
    assert "2 rows have negative values (e.g. -1, -2)" in problem.message
    assert "estimator.method poisson models non-negative counts" in problem.message
