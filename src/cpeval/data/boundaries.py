"""Area boundaries from GeoJSON, and which area each point falls in (vectorised ray casting).

Every ring of a feature (outer rings and holes, of a Polygon or a MultiPolygon) contributes its edges; a point
is inside a feature when a ray from it crosses the feature's edges an odd number of times (even-odd rule, so
holes are holes). Points are first looked up on a grid over the boundaries' extent: a cell that no edge
touches lies wholly inside one feature (or none) and takes its centre's answer; only points in cells that an
edge touches are tested exactly against every feature. Where features overlap, the first in the file wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cpeval.errors import DataError, Problem, ProblemCode

OUTSIDE = -1
GRID = 512


@dataclass(frozen=True)
class Boundaries:
    ids: tuple  # area ids, in the file's order
    edges: np.ndarray  # (E, 4): x1, y1, x2, y2, sorted by owning feature
    starts: np.ndarray  # (F,): first edge of each feature
    extent: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax
    cell_owner: np.ndarray  # (GRID*GRID,): feature index, OUTSIDE, or -2 (an edge touches the cell)
    band_edges: np.ndarray  # edges whose y-range meets each grid row, row by row (CSR with band_starts)
    band_starts: np.ndarray  # (GRID + 1,)


def read_boundaries(path: Path, id_property: str, label: str) -> Boundaries:
    """Read a GeoJSON FeatureCollection of Polygon / MultiPolygon features keyed by ``id_property``."""

    def fail(msg: str) -> DataError:
        return DataError(label, [Problem(ProblemCode.UNREADABLE, None, f"{path.name}: {msg}")])

    if not path.is_file():
        raise DataError(label, [Problem(ProblemCode.FILE_NOT_FOUND, None, f"no boundaries file at {path}; check "
                                        "data.aggregate.area.boundaries (relative to the design file)")])
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"not readable as GeoJSON ({exc})") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not features:
        raise fail("no features; expected a GeoJSON FeatureCollection of area polygons")
    ids: list = []
    edges: list[np.ndarray] = []
    for i, feat in enumerate(features):
        props = feat.get("properties") or {}
        if id_property not in props:
            have = ", ".join(sorted(props)) or "none"
            raise fail(f"feature {i} has no property {id_property!r} (it has: {have}); check "
                       "data.aggregate.area.id_property")
        geom = feat.get("geometry") or {}
        kind, coords = geom.get("type"), geom.get("coordinates")
        if kind not in ("Polygon", "MultiPolygon") or not coords:
            raise fail(f"feature {props[id_property]!r} is a {kind}, not a Polygon or MultiPolygon")
        polygons = [coords] if kind == "Polygon" else coords
        rings = [np.asarray(ring, dtype=float)[:, :2] for poly in polygons for ring in poly]
        edges.append(np.concatenate([np.hstack([r, np.roll(r, -1, axis=0)]) for r in rings]))
        ids.append(props[id_property])
    dupes = sorted({str(v) for v in ids if ids.count(v) > 1})
    if dupes:
        raise fail(f"area ids repeated in {id_property!r}: {', '.join(dupes[:5])}; each area needs one feature")
    raw = np.concatenate(edges)
    keep = (raw[:, :2] != raw[:, 2:]).any(axis=1)  # closing points repeat the first: no zero-length edges
    all_edges = raw[keep]
    owner = np.repeat(np.arange(len(edges)), [len(e) for e in edges])[keep]
    sizes = np.bincount(owner, minlength=len(edges))
    if (sizes < 3).any():
        raise fail(f"feature {ids[int(np.argmax(sizes < 3))]!r} has fewer than 3 distinct corners")
    starts = np.searchsorted(owner, np.arange(len(edges)))
    pts = all_edges.reshape(-1, 2)
    extent = (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max()))
    empty = np.empty(0, dtype=np.int64)
    b = Boundaries(tuple(ids), all_edges, starts, extent, empty, empty, empty)
    band_edges, band_starts = _bands(b)
    return Boundaries(b.ids, b.edges, b.starts, b.extent, _cell_owners(b), band_edges, band_starts)


def _bands(b: Boundaries) -> tuple[np.ndarray, np.ndarray]:
    """For each grid row, the edges that can cross a horizontal ray inside it (not horizontal, y-range meets it)."""
    _, ymin, _, ymax = b.extent
    y1, y2 = b.edges[:, 1], b.edges[:, 3]
    lo = np.clip(((np.minimum(y1, y2) - ymin) / (ymax - ymin) * GRID).astype(np.int64), 0, GRID - 1)
    hi = np.clip(((np.maximum(y1, y2) - ymin) / (ymax - ymin) * GRID).astype(np.int64), 0, GRID - 1)
    edge = np.flatnonzero(y1 != y2)
    n = hi[edge] - lo[edge] + 1
    rows = np.repeat(lo[edge], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))
    edges = np.repeat(edge, n)
    order = np.argsort(rows, kind="stable")
    return edges[order], np.searchsorted(rows[order], np.arange(GRID + 1))


def _exact(b: Boundaries, x: np.ndarray, y: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Feature index of each point (OUTSIDE for none) by ray casting against the edges of its grid row only:
    every (point, edge) pair is tested, and a feature holds the point when an odd number of its edges cross."""
    out = np.full(len(x), OUTSIDE, dtype=np.int32)
    n = b.band_starts[row + 1] - b.band_starts[row]
    point = np.repeat(np.arange(len(x)), n)
    edge = b.band_edges[np.repeat(b.band_starts[row], n) + (np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n))]
    x1, y1, x2, y2 = b.edges[edge].T
    px, py = x[point], y[point]
    cross = ((y1 > py) != (y2 > py)) & (px < x1 + (py - y1) * (x2 - x1) / (y2 - y1))
    feature = np.searchsorted(b.starts, edge[cross], side="right") - 1
    keys, counts = np.unique(point[cross] * len(b.ids) + feature, return_counts=True)
    odd = keys[counts % 2 == 1]  # sorted: per point, features in file order
    first, at = np.unique(odd // len(b.ids), return_index=True)
    out[first] = odd[at] % len(b.ids)
    return out


def _cell_of(b: Boundaries, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    xmin, ymin, xmax, ymax = b.extent
    fx = (x - xmin) / (xmax - xmin) * GRID
    fy = (y - ymin) / (ymax - ymin) * GRID
    on_grid = (fx >= 0) & (fx < GRID) & (fy >= 0) & (fy < GRID)
    cx = np.clip(np.nan_to_num(fx), 0, GRID - 1).astype(np.int64)
    cy = np.clip(np.nan_to_num(fy), 0, GRID - 1).astype(np.int64)
    return cy * GRID + cx, on_grid


def _centre_owners(b: Boundaries) -> np.ndarray:
    """The feature holding each cell's centre, by scanlines: along a row of centres, the crossings of a feature's
    edges, sorted, bound the runs of columns inside it ([c1, c2), [c3, c4), ... by the even-odd rule)."""
    xmin, ymin, xmax, ymax = b.extent
    cw = (xmax - xmin) / GRID
    yc = ymin + (np.arange(GRID) + 0.5) / GRID * (ymax - ymin)
    x1, y1, x2, y2 = b.edges.T
    rows, edges = np.nonzero((y1[None, :] > yc[:, None]) != (y2[None, :] > yc[:, None]))
    xi = x1[edges] + (yc[rows] - y1[edges]) * (x2[edges] - x1[edges]) / (y2[edges] - y1[edges])
    col = np.clip(np.ceil((xi - xmin) / cw - 0.5), 0, GRID).astype(np.int64)  # first centre right of the crossing
    feature = np.searchsorted(b.starts, edges, side="right") - 1
    order = np.lexsort((col, feature, rows))
    rows, feature, col = rows[order], feature[order], col[order]
    lo, hi = col[0::2], col[1::2]  # each (row, feature) run has an even number of crossings
    rows, feature = rows[0::2], feature[0::2]
    size = hi - lo
    keep = size > 0
    rows, feature, lo, size = rows[keep], feature[keep], lo[keep], size[keep]
    cells = np.repeat(rows * GRID + lo, size) + (np.arange(size.sum()) - np.repeat(np.cumsum(size) - size, size))
    owner = np.full(GRID * GRID, np.iinfo(np.int32).max, dtype=np.int32)
    np.minimum.at(owner, cells, np.repeat(feature, size).astype(np.int32))  # overlapping features: the first wins
    owner[owner == np.iinfo(np.int32).max] = OUTSIDE
    return owner


def _cell_owners(b: Boundaries) -> np.ndarray:
    """Each grid cell's feature where no edge touches it; -2 where one does (points there are tested exactly)."""
    xmin, ymin, xmax, ymax = b.extent
    owner = _centre_owners(b)
    # cells an edge passes through: sample every edge at a quarter cell and mark the 3 x 3 cells around each sample
    x1, y1, x2, y2 = b.edges.T
    span = np.maximum(np.abs(x2 - x1) / (xmax - xmin), np.abs(y2 - y1) / (ymax - ymin)) * GRID
    n = np.ceil(span * 4).astype(np.int64) + 1
    t = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    t = t / np.repeat(np.maximum(n - 1, 1), n)
    sx = np.repeat(x1, n) + t * np.repeat(x2 - x1, n)
    sy = np.repeat(y1, n) + t * np.repeat(y2 - y1, n)
    gx = np.clip(((sx - xmin) / (xmax - xmin) * GRID).astype(np.int64), 0, GRID - 1)
    gy = np.clip(((sy - ymin) / (ymax - ymin) * GRID).astype(np.int64), 0, GRID - 1)
    mixed = np.zeros((GRID, GRID), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            mixed[np.clip(gy + dy, 0, GRID - 1), np.clip(gx + dx, 0, GRID - 1)] = True
    owner[mixed.ravel()] = -2
    return owner


def locate(b: Boundaries, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The index (into ``b.ids``) of the feature containing each point; OUTSIDE for none or missing coordinates."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    cell, on_grid = _cell_of(b, x, y)
    out = np.where(on_grid, b.cell_owner[cell], OUTSIDE).astype(np.int32)
    mixed = np.flatnonzero(out == -2)
    if len(mixed):
        out[mixed] = _exact(b, x[mixed], y[mixed], cell[mixed] // GRID)
    return out
