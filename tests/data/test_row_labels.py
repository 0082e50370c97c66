"""The caller's row labels play no part: a frame indexed by its own unit and time columns (``set_index(...,
drop=False)``) gives the same panel as the plain frame, in either row order, instead of pandas' 'is both an
index level and a column label' traceback; the caller's index is left as it was."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from _support import DESIGNS
from cpeval.data import validate_panel
from cpeval.datasets.city import simulate_hotspot_city
from cpeval.datasets.did import simulate_did
from cpeval.designs import design_from_dict
from cpeval.errors import CpevalWarning
from cpeval.pipeline import check

CS = {
    "name": "labels", "kind": "did", "data": {"path": "panel.csv", "unit": "unit", "time": "period"},
    "treatment": {"first_treated": "first_treated"}, "outcomes": [{"name": "y", "column": "y"}],
    "estimator": {"method": "callaway_santanna", "control_group": "never_treated"},
}


@pytest.mark.parametrize("shuffle", [False, True])
def test_validate_panel_ignores_an_index_named_like_the_columns(shuffle):
    plain = simulate_did(n_units=40, n_periods=6, cohorts=(3, 5), seed=11)[["unit", "period", "first_treated", "y"]]
    frame = plain.sample(frac=1.0, random_state=2) if shuffle else plain
    indexed = frame.set_index(["unit", "period"], drop=False)
    before = indexed.index.copy()
    design = design_from_dict(CS)
    pd.testing.assert_frame_equal(validate_panel(indexed, design).frame, validate_panel(plain, design).frame)
    pd.testing.assert_index_equal(indexed.index, before)


def test_check_with_consequences_ignores_an_index_named_like_the_columns():
    """The consequences stage groups the derived frame by area too (the displacement roles)."""
    plain = simulate_hotspot_city().panel
    indexed = plain.sample(frac=1.0, random_state=1).set_index(["area", "quarter"], drop=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        a, b = (check(DESIGNS / "hotspots_displacement.yaml", f) for f in (indexed, plain))
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.summary["units"] == 120
