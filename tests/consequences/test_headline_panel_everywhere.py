"""Every stage that fits or simulates the headline estimate sees the same panel: buffer areas leave it for
`cpeval check` (and say so), for the diagnosis's simulations and for a synthetic control's donor pool; a donor
pool that names buffer areas is a design error naming the key and the fix, not an 'unknown donor'."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from _support import DESIGNS, ROOT
from cpeval import evaluate
from cpeval.datasets.city import simulate_hotspot_city
from cpeval.designs import load_design
from cpeval.diagnose.problem import prepare as prepare_diagnosis
from cpeval.errors import CpevalWarning, DataError, DesignError, ProblemCode
from cpeval.pipeline import check

HOTSPOTS = DESIGNS / "hotspots_displacement.yaml"


def test_diagnosis_simulates_the_headline_panel_without_the_buffers():
    """216 areas: 24 hot spots, 96 buffers, 96 controls (datasets.city.simulate_hotspot_city); the headline
    panel, and so the diagnosed design, holds the 24 + 96 = 120 hot spots and controls."""
    problem = prepare_diagnosis(HOTSPOTS, simulations=2)
    assert check(HOTSPOTS).n_units == 120
    assert [(v.n_units, v.n_treated) for v in problem.variants] == [(120, 24)]


def test_cli_check_says_why_the_panel_has_fewer_units():
    proc = subprocess.run([sys.executable, "-m", "cpeval.cli", "check", str(HOTSPOTS)], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "1920 rows, 120 units" in proc.stdout
    assert "note: 96 buffer areas are left out of the comparison group" in proc.stdout


@pytest.fixture(scope="module")
def small_city():
    """One hot spot, 10 buffer areas and 20 controls of the simulated city (its role column)."""
    frame = simulate_hotspot_city().panel
    roles = frame.groupby("area")["role"].first()
    keep = [*roles.index[roles == "treated"][:1], *roles.index[roles == "buffer"][:10],
            *roles.index[roles == "control"][:20]]
    return frame[frame["area"].isin(keep)].reset_index(drop=True), roles[keep]


def _synth(roles, **estimator) -> dict:
    treated = list(roles.index[roles == "treated"])
    return {
        "name": "one hot spot", "kind": "synthetic_control",
        "data": {"dataset": "cpeval.city_hotspots", "unit": "area", "time": "quarter"},
        "treatment": {"units": treated, "start": 9},
        "outcomes": [{"name": "robbery", "column": "robbery", "family": "crime", "measure": "count"}],
        "estimator": {"method": "abadie", **estimator}, "checks": [],
        "inference": {"seed": 1, "method": "analytic", "level": 0.8},
        "consequences": {"displacement": {"roles_column": "role", "outcomes": ["robbery"]}},
    }


def _fit(design: dict, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        return evaluate(design, data=frame).effects[0]


def test_synthetic_control_donors_are_the_controls(small_city):
    frame, roles = small_city
    effect = _fit(_synth(roles), frame)
    by_hand = _fit({**_synth(roles), "consequences": None}, frame[~frame["area"].isin(roles.index[roles == "buffer"])])
    assert effect.n_units == by_hand.n_units == 21
    assert effect.estimate == pytest.approx(by_hand.estimate, abs=1e-12)


def test_donors_naming_buffer_areas_are_a_design_error(small_city):
    frame, roles = small_city
    buffers, controls = list(roles.index[roles == "buffer"]), list(roles.index[roles == "control"])
    design = _synth(roles, donors=[*buffers[:3], *controls[:5]])
    with pytest.raises(DesignError, match=rf"estimator\.donors names 3 buffer areas \({buffers[0]}, {buffers[1]}, "
                       rf"{buffers[2]}\).*remove them from estimator\.donors, or set headline_comparison: "
                       "all_untreated"):
        check(design, frame)
    kept = {**design, "consequences": {"displacement": {"roles_column": "role", "outcomes": ["robbery"],
                                                          "headline_comparison": "all_untreated"}}}
    with pytest.warns(CpevalWarning, match="10 buffer areas stay in the comparison group"):
        assert check(kept, frame).n_units == 31  # every area kept; the declared pool is the estimator's


def test_every_untreated_area_a_buffer_is_a_data_error_saying_what_to_change():
    """600 m buffers of the 500 m grid leave 96 controls; 100 km buffers leave none, and no comparison group."""
    design = load_design(HOTSPOTS).model_dump(mode="json", by_alias=True, exclude_none=True)
    design["consequences"] = {"displacement": {
        "centroids": {"x": "x", "y": "y", "coordinates": "metres", "buffer_distance": 100_000}, "overlap": "treated"}}
    with pytest.raises(DataError) as info:
        check(design)
    (problem,) = info.value.problems
    assert problem.code == ProblemCode.EMPTY_ROLE
    assert problem.message.endswith("no area has the role 'control', so displacement cannot be assessed; narrow "
                                    "centroids.buffer_distance (every untreated area lies within it)")
