"""Incident records of the simulated city (:mod:`cpeval.datasets.city`), as a police records system exports them.

``simulate_incidents`` turns the city's ward x month offence counts into one row per recorded offence: a local
offence code (several codes per category, and criminal-damage records the city's design does not count), the
time it happened (uniform within its month *in Europe/London local time*, stored as a UTC instant), the point
where it happened (uniform inside the ward's polygon), the ward as recorded, and for offences against a person
a victim id (some people are victims more than once in a month). ``ward_boundaries`` gives the wards as a
GeoJSON FeatureCollection (a jittered 8 x 5 grid of quadrilaterals; neighbours share their edges exactly), and
``ward_table`` their population and the year the programme started (0 = never).

Aggregating the records to ward x year with the design's code map reproduces the city's panel counts exactly;
aggregating in UTC instead of local time does not (New Year's Eve after 23:00 UTC in summer-time years is
fine, but months in summer time shift). ``python -m cpeval.datasets.incidents DIR`` writes the shipped files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.datasets.city import CityData

TIME_ZONE = "Europe/London"
# category -> (local offence codes, their shares); codes follow a Home Office-style numbering
CODES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "shoplifting": (("46", "46A"), (0.85, 0.15)),
    "bicycle_theft": (("44",), (1.0,)),
    "theft_from_person": (("39", "039"), (0.9, 0.1)),
    "robbery": (("34A", "34B"), (0.8, 0.2)),
}
PERSONAL = ("theft_from_person", "robbery")
OTHER_CODES = ("58A", "58C")  # criminal damage: recorded, but not one of the city design's categories
OTHER_PER_1000 = 0.4  # criminal damage records per 1,000 residents per month
ORIGIN = (-1.95, 52.43)  # south-west corner of the city (lon, lat)
CELL = (0.02, 0.015)  # grid cell size in degrees


def _grid(n_x: int, n_y: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = np.meshgrid(np.arange(n_x + 1, dtype=float), np.arange(n_y + 1, dtype=float))
    gx[1:-1, 1:-1] += rng.uniform(-0.3, 0.3, (n_y - 1, n_x - 1))
    gy[1:-1, 1:-1] += rng.uniform(-0.3, 0.3, (n_y - 1, n_x - 1))
    return ORIGIN[0] + gx * CELL[0], ORIGIN[1] + gy * CELL[1]


def _quads(n_x: int = 8, n_y: int = 5, seed: int = 7) -> np.ndarray:
    """(n_x * n_y, 4, 2) corners of each ward, counter-clockwise, wards row by row from the south-west."""
    gx, gy = _grid(n_x, n_y, np.random.default_rng(seed))
    j, i = np.divmod(np.arange(n_x * n_y), n_x)
    xs = np.stack([gx[j, i], gx[j, i + 1], gx[j + 1, i + 1], gx[j + 1, i]], axis=1)
    ys = np.stack([gy[j, i], gy[j, i + 1], gy[j + 1, i + 1], gy[j + 1, i]], axis=1)
    return np.round(np.stack([xs, ys], axis=2), 6)


def ward_boundaries(n_areas: int = 40) -> dict[str, Any]:
    """The wards W01..W40 as a GeoJSON FeatureCollection (lon/lat, WGS84)."""
    quads = _quads()[:n_areas]
    features = [
        {"type": "Feature", "properties": {"ward": f"W{k + 1:02d}"},
         "geometry": {"type": "Polygon", "coordinates": [[*q.tolist(), q[0].tolist()]]}}
        for k, q in enumerate(quads)
    ]
    return {"type": "FeatureCollection", "features": features}


def _points_in(quads: np.ndarray, ward: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Uniform points inside each incident's ward (two triangles per quadrilateral, chosen by area)."""
    a, b, c, d = (quads[ward, k] for k in range(4))

    def area(p, q, r):  # type: ignore[no-untyped-def]
        return 0.5 * np.abs((q[:, 0] - p[:, 0]) * (r[:, 1] - p[:, 1]) - (r[:, 0] - p[:, 0]) * (q[:, 1] - p[:, 1]))

    first = rng.random(len(ward)) < area(a, b, c) / (area(a, b, c) + area(a, c, d))
    p1, p2, p3 = a, np.where(first[:, None], b, c), np.where(first[:, None], c, d)
    u, v = rng.random(len(ward)), rng.random(len(ward))
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    pts = p1 + u[:, None] * (p2 - p1) + v[:, None] * (p3 - p1)
    return pts[:, 0], pts[:, 1]


def _rounded_inside(quads: np.ndarray, ward: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Coordinates to 6 decimals (about 0.1 m); the rare point that rounding moves out of its ward goes to the
    ward's centre instead, so the recorded ward and the boundaries always agree."""
    x, y = np.round(x, 6), np.round(y, 6)
    inside = np.ones(len(x), dtype=bool)
    for k in range(4):  # convex, counter-clockwise: inside is left of every edge
        a, b = quads[ward, k], quads[ward, (k + 1) % 4]
        inside &= (b[:, 0] - a[:, 0]) * (y - a[:, 1]) - (b[:, 1] - a[:, 1]) * (x - a[:, 0]) > 0
    centre = np.round(quads[ward].mean(axis=1), 6)
    return np.where(inside, x, centre[:, 0]), np.where(inside, y, centre[:, 1])


def _month_bounds(years: tuple[int, ...]) -> np.ndarray:
    """UTC epoch seconds of each local month's start, and of the month after the last."""
    zone = ZoneInfo(TIME_ZONE)
    starts = [dt.datetime(y, m, 1, tzinfo=zone) for y in years for m in range(1, 13)]
    starts.append(dt.datetime(years[-1] + 1, 1, 1, tzinfo=zone))
    return np.array([int(s.timestamp()) for s in starts], dtype=np.int64)


def simulate_incidents(city: CityData | None = None, seed: int = 2027) -> pd.DataFrame:
    """One row per recorded offence of ``city`` (default: the default simulated city)."""
    import pandas as pd

    from cpeval.datasets.city import default_city

    city = city if city is not None else default_city()
    rng = np.random.default_rng(seed)
    monthly = city.monthly
    areas = sorted(monthly["area"].unique())
    area_idx = monthly["area"].map({a: i for i, a in enumerate(areas)}).to_numpy()
    month0 = monthly["month"].to_numpy() - 1
    pieces = []
    for category, (codes, shares) in CODES.items():
        n = monthly[category].to_numpy()
        pieces.append((np.repeat(area_idx, n), np.repeat(month0, n), category, codes, shares))
    other = rng.poisson(monthly["population"].to_numpy() / 1000 * OTHER_PER_1000)
    pieces.append((np.repeat(area_idx, other), np.repeat(month0, other), None, OTHER_CODES, (0.7, 0.3)))
    ward = np.concatenate([p[0] for p in pieces])
    month = np.concatenate([p[1] for p in pieces])
    code = np.concatenate([rng.choice(np.array(p[3], dtype=object), size=len(p[0]), p=p[4]) for p in pieces])
    personal = np.concatenate([np.full(len(p[0]), p[2] in PERSONAL) for p in pieces])

    bounds = _month_bounds(tuple(city.params["years"]))
    seconds = bounds[month] + (rng.random(len(month)) * (bounds[month + 1] - bounds[month])).astype(np.int64)
    quads = _quads()
    x, y = _points_in(quads, ward, rng)
    x, y = _rounded_inside(quads, ward, x, y)
    # victims of personal offences: a fifth are drawn from a small pool of people per ward (repeat victims)
    repeat = rng.random(len(ward)) < 0.2
    victim = np.where(repeat, ward * 1_000_000 + rng.integers(0, 25, len(ward)),
                      ward * 1_000_000 + 1000 + np.arange(len(ward)))
    order = np.lexsort((x, seconds))
    frame = pd.DataFrame({
        "incident_id": np.arange(1, len(ward) + 1),
        "occurred_at": pd.to_datetime(seconds[order], unit="s", utc=True).as_unit("us"),
        "offence_code": pd.array(code[order], dtype="string"),
        "ward": pd.array(np.array(areas, dtype=object)[ward[order]], dtype="string"),
        "x": x[order],
        "y": y[order],
        "victim_id": pd.array(np.where(personal[order], victim[order], 0), dtype="Int64"),
    })
    frame.loc[~personal[order], "victim_id"] = pd.NA
    return frame


def ward_table(city: CityData | None = None) -> pd.DataFrame:
    """Ward attributes: population and the year the programme started there (0 = never)."""
    from cpeval.datasets.city import default_city

    city = city if city is not None else default_city()
    first = city.panel.groupby("area", sort=True).agg(population=("population", "first"),
                                                       first_treated=("first_treated", "first"))
    return first.reset_index().rename(columns={"area": "ward"})


def write_example(folder: Path) -> None:
    """Write incidents.parquet, wards.geojson and wards.csv (the shipped example) into ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    simulate_incidents().to_parquet(folder / "incidents.parquet", index=False, compression="zstd")
    (folder / "wards.geojson").write_text(json.dumps(ward_boundaries(), indent=1) + "\n")
    ward_table().to_csv(folder / "wards.csv", index=False)


if __name__ == "__main__":
    import sys

    write_example(Path(sys.argv[1]))
