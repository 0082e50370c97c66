"""Area roles (column or centroids) and the design-based displacement estimate on the simulated hot-spots city."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.consequences import displacement
from cpeval.consequences.spatial import EARTH_RADIUS_M, assign_roles, pairwise_distance
from cpeval.datasets.city import simulate_hotspot_city
from cpeval.designs import design_from_dict
from cpeval.designs.consequences import DisplacementSpec
from cpeval.errors import DataError, DesignError, ProblemCode


def test_roles_from_centroids_match_the_simulated_roles(city, design):
    roles = assign_roles(city.panel, design, design.consequences.displacement)
    truth = city.panel.groupby("area")["role"].first()
    assert roles.counts == city.params["roles"] == {"treated": 24, "buffer": 96, "control": 96}
    assert (roles.role.sort_index() == truth.sort_index()).all()
    assert roles.start == 9


def test_roles_from_the_column_and_from_lonlat_agree(city, design):
    by_col = assign_roles(city.panel, design, DisplacementSpec(roles_column="role"))
    by_lonlat = assign_roles(city.panel, design, DisplacementSpec(
        centroids={"x": "lon", "y": "lat", "coordinates": "lonlat", "buffer_distance": 600}))
    base = assign_roles(city.panel, design, design.consequences.displacement)
    assert (by_col.role == base.role).all() and (by_lonlat.role == base.role).all()


def test_haversine_distance_by_hand():
    # one degree of latitude along a meridian: R * pi / 180
    d = pairwise_distance(np.array([[0.0, 10.0]]), np.array([[0.0, 11.0]]), "lonlat")
    assert d[0, 0] == pytest.approx(EARTH_RADIUS_M * np.pi / 180, rel=1e-12)
    # a quarter of the equator
    d = pairwise_distance(np.array([[0.0, 0.0]]), np.array([[90.0, 0.0]]), "lonlat")
    assert d[0, 0] == pytest.approx(EARTH_RADIUS_M * np.pi / 2, rel=1e-12)
    assert pairwise_distance(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]), "metres")[0, 0] == 5.0


def test_overlap_is_an_error_unless_declared(city, design):
    frame = city.panel.copy()
    moved = frame["area"] == frame.loc[(frame["x"] == 500) & (frame["y"] == 2000), "area"].iloc[0]
    frame.loc[moved, "y"] = 900.0  # a treated area 400 m from the treated area at (500, 500)
    spec = {"x": "x", "y": "y", "buffer_distance": 600}
    with pytest.raises(DataError, match="overlap: treated") as err:
        assign_roles(frame, design, DisplacementSpec(centroids=spec))
    assert ProblemCode.ROLE_CONFLICT in err.value.codes
    roles = assign_roles(frame, design, DisplacementSpec(centroids=spec, overlap="treated"))
    assert roles.counts["treated"] == 24 and len(roles.overlapping) == 2


def test_bad_role_declarations_are_clear_errors(city, design):
    frame = city.panel.copy()
    frame.loc[frame["role"] == "control", "role"] = "contrl"
    with pytest.raises(DataError, match="did you mean 'control'") as err:
        assign_roles(frame, design, DisplacementSpec(roles_column="role"))
    assert ProblemCode.UNKNOWN_LABEL in err.value.codes
    frame = city.panel.copy()
    frame.loc[frame["role"] == "buffer", "role"] = "control"
    with pytest.raises(DataError, match="no area has the role 'buffer'") as err:
        assign_roles(frame, design, DisplacementSpec(roles_column="role"))
    assert ProblemCode.EMPTY_ROLE in err.value.codes
    with pytest.raises(DataError, match=r"widen centroids\.buffer_distance"):
        assign_roles(city.panel, design, DisplacementSpec(centroids={"x": "x", "y": "y", "buffer_distance": 100}))
    frame = city.panel.copy()
    frame.loc[frame["area"] == "A001", "role"] = "treated"
    with pytest.raises(DataError, match="labelled against the design's treatment") as err:
        assign_roles(frame, design, DisplacementSpec(roles_column="role"))
    assert ProblemCode.ROLE_CONFLICT in err.value.codes
    frame = city.panel.copy()
    frame.loc[frame.index[0], "x"] = 1.0
    with pytest.raises(DataError) as err:
        assign_roles(frame, design, design.consequences.displacement)
    assert ProblemCode.NOT_CONSTANT_IN_UNIT in err.value.codes


def test_unknown_role_label_key_and_two_ways_are_design_errors(design):
    raw = design.model_dump(mode="json", by_alias=True)
    raw["consequences"] = {"displacement": {"roles_column": "role", "role_labels": {"buffr": "B"}}}
    with pytest.raises(DesignError, match="did you mean 'buffer'"):
        design_from_dict(raw)
    raw["consequences"] = {"displacement": {"roles_column": "role", "centroids": {"x": "x", "y": "y",
                                                                                  "buffer_distance": 5}}}
    with pytest.raises(DesignError, match="exactly one of 'roles_column'"):
        design_from_dict(raw)


def test_displacement_and_diffusion_detected(city, design):
    roles = assign_roles(city.panel, design, design.consequences.displacement)
    rob, bur = displacement.assess(design, city.panel, roles, ["robbery", "burglary"], "t")
    assert rob.status == "fail" and not rob.positive  # robbery pushed into the buffers (+25%)
    assert bur.status == "pass" and bur.positive  # burglary fell there too (-15%)
    for f, key in ((rob, "robbery_buffer"), (bur, "burglary_buffer")):
        lo, hi = f.evidence["buffer_effect"]["conf_int"]
        assert lo < city.truth[key] < hi
    # Poisson with unit and period effects reproduces the ratio-of-totals counterfactual, so its net change is
    # exactly minus Bowers & Johnson's total net effect computed from the same counts
    for f in (rob, bur):
        assert f.evidence["total_net_effect"]["net_change"] == pytest.approx(
            -f.evidence["wdq"]["total_net_effect"], rel=1e-6)
        assert 0 < f.evidence["total_net_effect"]["correlation"] < 1  # shared control areas


def test_displacement_invariant_to_row_order_and_relabelling(city, design):
    roles = assign_roles(city.panel, design, design.consequences.displacement)
    base = displacement.assess(design, city.panel, roles, ["robbery"], "t")[0]
    frame = city.panel.sample(frac=1.0, random_state=3)
    frame["area"] = "Z" + frame["area"].str[::-1]
    roles2 = assign_roles(frame, design, design.consequences.displacement)
    other = displacement.assess(design, frame, roles2, ["robbery"], "t")[0]
    for part in ("buffer_effect", "treated_effect"):
        assert other.evidence[part]["estimate"] == pytest.approx(base.evidence[part]["estimate"], rel=1e-9)
        assert other.evidence[part]["std_error"] == pytest.approx(base.evidence[part]["std_error"], rel=1e-7)
    assert other.evidence["total_net_effect"]["std_error"] == pytest.approx(
        base.evidence["total_net_effect"]["std_error"], rel=1e-7)


def test_synthetic_control_designs_get_design_based_displacement():
    from cpeval.consequences.run import evaluate, prepare
    from cpeval.data import load_panel

    city = simulate_hotspot_city(grid=(10, 8))  # 33 buffers, 38 controls: enough donors for their placebo variance
    treated = sorted(city.panel.loc[city.panel["role"] == "treated", "area"].unique())
    design = design_from_dict({
        "name": "synthetic hot spots", "kind": "synthetic_control",
        "data": {"dataset": "cpeval.city_hotspots", "unit": "area", "time": "quarter"},
        "treatment": {"units": treated, "start": 9},
        "outcomes": [{"name": "robbery", "column": "robbery", "measure": "count", "family": "crime"}],
        "estimator": {"method": "synthetic_did"},
        "consequences": {"displacement": {"roles_column": "role"}}})
    result = evaluate(prepare(design, city.panel), load_panel(design, city.panel), [])
    (f,) = result.findings
    assert f.evidence["buffer_effect"]["method"] == "synthetic_did" and f.evidence["buffer_effect"]["n_units"] == 71
    net = f.evidence["total_net_effect"]
    assert net["correlation"] == 0.0 and "taken as uncorrelated" in net["notes"][0]  # no influence values kept
    assert result.roles["counts"] == {"treated": 9, "buffer": 33, "control": 38}
