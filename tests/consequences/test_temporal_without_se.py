"""Temporal displacement read with an estimator that gives no standard error (a synthetic control's conformal
intervals): the outside-minus-inside difference then has no interval, and the finding reads the two effects'
own intervals instead of calling every flagged rise 'a rise at all hours' with a 'nan' interval."""

from __future__ import annotations

import math
import warnings

import pytest

from cpeval.consequences import temporal
from cpeval.datasets.city import simulate_hotspot_city
from cpeval.designs import design_from_dict
from cpeval.errors import CpevalWarning

INSIDE, OUTSIDE = "street_crime_patrol_hours", "street_crime_other_hours"


@pytest.fixture(scope="module")
def one_hot_spot():
    """One hot spot and 30 control areas of the simulated city; the programme starts in quarter 9."""
    frame = simulate_hotspot_city().panel
    roles = frame.groupby("area")["role"].first()
    keep = [*roles.index[roles == "treated"][:1], *roles.index[roles == "control"][:30]]
    design = design_from_dict({
        "name": "one hot spot", "kind": "synthetic_control",
        "data": {"dataset": "cpeval.city_hotspots", "unit": "area", "time": "quarter"},
        "treatment": {"units": keep[:1], "start": 9},
        "outcomes": [{"name": "robbery", "column": "robbery", "family": "crime", "measure": "count"}],
        "estimator": {"method": "abadie"}, "checks": [], "inference": {"seed": 1, "level": 0.8},
        "consequences": {"temporal": {"window": "nights", "outcomes": [
            {"name": "street", "inside": INSIDE, "outside": OUTSIDE}]}},
    })
    frame = frame[frame["area"].isin(keep)].reset_index(drop=True)
    return design, frame, (frame["area"] == keep[0]) & (frame["quarter"] >= 9)


def _assess(design, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        (finding,) = temporal.assess(design, frame, design.consequences.temporal, None, "t")
    return finding


def test_a_clear_move_to_other_hours_stays_displacement(one_hot_spot):
    """The hot spot's street crime outside the hours tripled after the start, inside it unchanged: the two
    effects' intervals lie apart, so the rise outside is displacement in time (a failure)."""
    design, frame, post = one_hot_spot
    moved = frame.copy()
    moved.loc[post, OUTSIDE] *= 3
    f = _assess(design, moved)
    assert math.isnan(f.evidence["outside_minus_window"]["std_error"])  # no joint interval here
    assert f.evidence["outside_effect"]["conf_int"][0] > f.evidence["window_effect"]["conf_int"][1]
    assert f.status == "fail" and f.sentence.startswith("Displacement in time")


def test_a_rise_at_all_hours_is_a_warning_without_nan(one_hot_spot):
    """The counts inside the hours made equal to those outside, then both tripled in the hot spot after the
    start: the rise outside is flagged, and the rise within is the same."""
    design, frame, post = one_hot_spot
    both = frame.copy()
    both[INSIDE] = both[OUTSIDE]
    both.loc[post, [INSIDE, OUTSIDE]] *= 3
    f = _assess(design, both)
    assert f.evidence["outside_effect"]["conf_int"][0] > 0
    assert f.evidence["outside_effect"]["conf_int"][0] <= f.evidence["window_effect"]["conf_int"][1]
    assert f.status == "warn" and f.sentence.startswith("A rise at all hours rather than a move to other hours")
    assert "nan" not in f.sentence and "the two effects' intervals overlap" in f.sentence
