"""Point in polygon for data.aggregate.area.boundaries, checked against matplotlib's Path.contains_points (an
independent implementation of the same test) on random points, with holes, multipolygons and the city's wards."""

from __future__ import annotations

import json

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from _support import ROOT
from cpeval.data.boundaries import OUTSIDE, locate, read_boundaries
from cpeval.errors import DataError, ProblemCode

SQUARE = [[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]]
HOLE = [[1, 1], [1, 3], [3, 3], [3, 1], [1, 1]]
STAR = [[6 + 2 * np.cos(a) * (1 if k % 2 == 0 else 0.4), 2 + 2 * np.sin(a) * (1 if k % 2 == 0 else 0.4)]
        for k, a in enumerate(np.linspace(0, 2 * np.pi, 11)[:-1])]
PARTS = [[[[9, 0], [10, 0], [10, 1], [9, 1], [9, 0]]], [[[9, 3], [10, 3], [9.5, 4], [9, 3]]]]


def write(tmp_path, features) -> object:
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def feature(area_id, kind, coords):
    return {"type": "Feature", "properties": {"area": area_id}, "geometry": {"type": kind, "coordinates": coords}}


def reference(x, y, shapes):
    """matplotlib: inside a feature = inside an outer ring and not inside any of its holes; first feature wins."""
    pts = np.c_[x, y]
    out = np.full(len(x), OUTSIDE)
    for k, polygons in enumerate(shapes):
        inside = np.zeros(len(x), dtype=bool)
        for rings in polygons:
            part = MplPath(np.asarray(rings[0], float)).contains_points(pts)
            for hole in rings[1:]:
                part &= ~MplPath(np.asarray(hole, float)).contains_points(pts)
            inside |= part
        out[inside & (out == OUTSIDE)] = k
    return out


def test_matches_matplotlib_with_holes_stars_and_multipolygons(tmp_path):
    star = [*STAR, STAR[0]]
    path = write(tmp_path, [feature("donut", "Polygon", [SQUARE, HOLE]), feature("star", "Polygon", [star]),
                            feature("pair", "MultiPolygon", PARTS)])
    b = read_boundaries(path, "area", "test")
    rng = np.random.default_rng(11)
    x, y = rng.uniform(-1, 11, 200_000), rng.uniform(-1, 5, 200_000)
    got = locate(b, x, y)
    want = reference(x, y, [[[SQUARE, HOLE]], [[star]], PARTS])
    assert b.ids == ("donut", "star", "pair")
    assert np.count_nonzero(got != want) == 0
    assert set(np.unique(got)) == {OUTSIDE, 0, 1, 2}


def test_city_wards_match_matplotlib():
    path = ROOT / "case_studies" / "data" / "city_incidents" / "wards.geojson"
    b = read_boundaries(path, "ward", "test")
    features = json.loads(path.read_text())["features"]
    rng = np.random.default_rng(5)
    xmin, ymin, xmax, ymax = b.extent
    x = rng.uniform(xmin - 0.01, xmax + 0.01, 300_000)
    y = rng.uniform(ymin - 0.01, ymax + 0.01, 300_000)
    want = reference(x, y, [[f["geometry"]["coordinates"]] for f in features])
    np.testing.assert_array_equal(locate(b, x, y), want)
    assert len(b.ids) == 40


def test_missing_coordinates_are_outside(tmp_path):
    b = read_boundaries(write(tmp_path, [feature("sq", "Polygon", [SQUARE])]), "area", "test")
    np.testing.assert_array_equal(locate(b, np.array([2.0, np.nan, 2.0]), np.array([2.0, 2.0, np.nan])),
                                  [0, OUTSIDE, OUTSIDE])


@pytest.mark.parametrize(("features", "fragment"), [
    ([{"type": "Feature", "properties": {"name": "x"}, "geometry": {"type": "Polygon", "coordinates": [SQUARE]}}],
     "no property 'area'"),
    ([feature("a", "Point", [1, 2])], "not a Polygon"),
    ([feature("a", "Polygon", [SQUARE]), feature("a", "Polygon", [SQUARE])], "repeated"),
    ([], "no features"),
])
def test_bad_boundaries_files(tmp_path, features, fragment):
    with pytest.raises(DataError) as err:
        read_boundaries(write(tmp_path, features), "area", "test")
    assert err.value.problems[0].code == ProblemCode.UNREADABLE and fragment in err.value.problems[0].message
