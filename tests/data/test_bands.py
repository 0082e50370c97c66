"""Counts split by time-of-week bands (data.aggregate.bands): hand-worked counts across midnight, the week's
wrap, month ends and both daylight-saving nights of Europe/London; inside + outside = the category's count;
the same bytes from CSV, Parquet and DuckDB; bad bands are design errors naming the key and the fix."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from _support import DESIGNS, REFERENCE, write_design
from cpeval.data.aggregate import aggregate_incidents
from cpeval.data.fingerprint import frame_sha256
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import DesignError

from .test_incidents import CITY, results_without_location, store

REF = json.loads((REFERENCE / "data" / "bands_hand.json").read_text())

# (UTC instant, ward, code); the local time, weekday and band of each are in the reference file's reasoning
ROWS = pd.DataFrame(
    [
        ("2023-06-15 18:59:59", "A", "46"), ("2023-06-15 19:00:00", "A", "46"), ("2023-06-16 02:59:59", "A", "34A"),
        ("2023-06-16 03:00:00", "A", "34A"), ("2023-06-14 23:30:00", "A", "46"), ("2023-06-18 02:00:00", "A", "34A"),
        ("2023-06-18 23:30:00", "A", "46"), ("2023-06-17 12:00:00", "A", "46"),
        ("2023-03-25 20:00:00", "A", "46"), ("2023-03-26 00:59:59", "A", "46"), ("2023-03-26 01:00:00", "A", "46"),
        ("2023-03-26 02:59:59", "A", "34A"), ("2023-03-26 03:00:00", "A", "34A"),
        ("2023-10-28 18:59:59", "A", "46"), ("2023-10-28 19:00:00", "A", "46"), ("2023-10-29 00:30:00", "A", "46"),
        ("2023-10-29 01:30:00", "A", "34A"), ("2023-10-29 03:59:59", "A", "34A"), ("2023-10-29 04:00:00", "A", "34A"),
        ("2023-08-31 23:30:00", "B", "46"), ("2023-08-31 22:30:00", "B", "46"), ("2023-11-30 23:30:00", "B", "46"),
        ("2023-12-01 00:30:00", "B", "46"),
    ],
    columns=["occurred_at", "ward", "code"],
)
ROWS["occurred_at"] = pd.to_datetime(ROWS["occurred_at"], utc=True).dt.as_unit("us")
BANDS = [{"name": "patrol_hours", "days": ["thu", "fri", "sat"], "hours": "20:00-04:00"},
         {"name": "weekend", "days": ["sat", "sun"]},
         {"name": "sunday_night", "days": ["sunday"], "hours": "22:00-02:00"}]
CATEGORIES = ["shoplifting", "robbery"]


def band_design(source: dict, time_zone: str = "Europe/London", bands: list | None = None) -> dict:
    return {
        "name": "bands", "kind": "did",
        "data": {
            "source": source,
            "aggregate": {
                "area": {"column": "ward"},
                "period": {"column": "occurred_at", "every": "month", "time_zone": time_zone,
                           "start": "2023-03-01", "end": "2023-11-30"},
                "offences": {"column": "code", "map": {"46": "shoplifting", "34A": "robbery"}},
                "bands": BANDS if bands is None else bands,
            },
            "unit": "ward", "time": "month",
        },
        "treatment": {"indicator": "shoplifting"},
        "outcomes": [{"name": "shoplifting", "column": "shoplifting", "family": "crime", "measure": "count"}],
        "estimator": {"method": "twfe"},
    }


def aggregate(design: dict, tmp_path):
    return aggregate_incidents(load_design(write_design(tmp_path, design)))


def nonzero(frame: pd.DataFrame) -> list[dict]:
    counts = [c for c in frame.columns if c not in ("ward", "month")]
    return [{"ward": r["ward"], "month": str(r["month"].date()), **{c: int(r[c]) for c in counts if r[c]}}
            for r in frame.to_dict("records") if any(r[c] for c in counts)]


def assert_sums(frame: pd.DataFrame, bands: list[dict], categories: list[str]) -> None:
    for band in bands:
        for c in categories:
            inside, outside = frame[f"{c}_{band['name']}"], frame[f"{c}_outside_{band['name']}"]
            assert (inside >= 0).all() and (outside >= 0).all()
            np.testing.assert_array_equal(inside + outside, frame[c], err_msg=f"{c} {band['name']}")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "duckdb"])
def test_hand_worked_band_counts(fmt, tmp_path):
    agg = aggregate(band_design(store(ROWS, fmt, tmp_path)), tmp_path)
    assert nonzero(agg.frame) == REF["nonzero_cells"]
    assert len(agg.frame) == REF["rows"]
    assert agg.provenance["incident_rows_read"] == REF["incident_rows_read"]
    assert agg.provenance["incidents_outside_window"] == REF["incidents_outside_window"]
    assert agg.provenance["incident_bands"].startswith("patrol_hours: thu, fri, sat 20:00-04:00; weekend: sat, sun "
                                                       "00:00-24:00; sunday_night: sun 22:00-02:00 (Europe/London")
    split = [f"{c}_{w}" for b in BANDS for c in CATEGORIES for w in (b["name"], f"outside_{b['name']}")]
    assert list(agg.frame.columns) == ["ward", "month", *CATEGORIES, *split]
    assert_sums(agg.frame, BANDS, CATEGORIES)


def test_the_band_is_read_on_the_declared_zone_s_clock(tmp_path):
    agg = aggregate(band_design(store(ROWS, "parquet", tmp_path), time_zone="UTC"), tmp_path)
    got = {f"{r.ward} {r.month.date()} {c}": int(getattr(r, f"{c}_patrol_hours"))
           for r in agg.frame.itertuples() for c in CATEGORIES}
    for key, n in REF["in_utc_instead"]["patrol_hours"].items():
        assert got[key] == n, key


def test_same_bytes_from_csv_parquet_and_duckdb(tmp_path):
    shas = set()
    for fmt in ("csv", "parquet", "duckdb"):
        folder = tmp_path / fmt
        folder.mkdir()
        shas.add(frame_sha256(aggregate(band_design(store(ROWS, fmt, folder)), folder).frame))
    assert len(shas) == 1


def test_row_order_does_not_matter(tmp_path):
    shuffled = ROWS.sample(frac=1.0, random_state=7).reset_index(drop=True)
    frames = []
    for name, rows in (("a", ROWS), ("b", shuffled)):
        (tmp_path / name).mkdir()
        frames.append(aggregate(band_design(store(rows, "parquet", tmp_path / name)), tmp_path / name).frame)
    pd.testing.assert_frame_equal(*frames)


def test_without_zero_filling_or_offence_codes(tmp_path):
    """Only the observed unit-periods, and a band on the all-incidents count: the same counts as above."""
    design = band_design(store(ROWS, "parquet", tmp_path))
    design["data"]["aggregate"]["zero_fill"] = False
    agg = aggregate(design, tmp_path)
    assert nonzero(agg.frame) == REF["nonzero_cells"] and len(agg.frame) == len(REF["nonzero_cells"])
    del design["data"]["aggregate"]["offences"]
    design["treatment"]["indicator"] = design["outcomes"][0]["column"] = "incidents"
    total = aggregate(design, tmp_path).frame
    for band in BANDS:
        for w in (band["name"], f"outside_{band['name']}"):
            np.testing.assert_array_equal(total[f"incidents_{w}"], agg.frame[f"shoplifting_{w}"]
                                          + agg.frame[f"robbery_{w}"])
    assert_sums(total, BANDS, ["incidents"])


def test_inside_and_outside_add_up_on_the_city_records():
    """The shipped hours design (one band, Thursday to Saturday 20:00-04:00, on the city's records located from
    their coordinates; with repeat victims): each split adds up to the category's count in every ward-year, and
    the band takes a share of the records near its share of the week's hours (the simulated times are uniform
    within their month)."""
    design = hours_design_from({"kind": "files", "path": str(CITY / "incidents.parquet")},
                               victims={"column": "victim_id"})  # a second scan of the records, bands and all
    frame = aggregate_incidents(design).frame
    assert frame["repeat_victims"].sum() > 0
    categories = design.data.aggregate.offences.categories
    assert_sums(frame, [{"name": "warden_hours"}], categories)
    share = frame[[f"{c}_warden_hours" for c in categories]].to_numpy().sum() / frame[categories].to_numpy().sum()
    assert abs(share - 24 / 168) < 0.01  # 3 x 8 of the week's 168 hours; 3 binomial SEs at 80,000 records ~ 0.004


@pytest.mark.parametrize(("band", "match"), [
    ({"name": "b", "days": ["thu", "fry"]}, r"bands.*days.*unknown day 'fry'.*mon, tue, wed"),
    ({"name": "b", "days": ["thu"], "hours": "8pm-4am"}, r"bands.*hours.*not a range HH:MM-HH:MM.*20:00-04:00"),
    ({"name": "b", "days": ["thu"], "hours": "20:00-24:30"}, r"bands.*hours.*minutes 00-59"),
    ({"name": "b", "days": ["thu"], "hours": "20:00-20:00"}, r"bands.*same time.*00:00-24:00"),
    ({"name": "b", "days": []}, r"bands.*days.*covers nothing"),
    ({"name": "b", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}, r"bands.*covers the whole week"),
    ({"name": "b", "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": "06:00-06:00"},
     r"bands.*same time"),
    ({"name": "patrol hours", "days": ["thu"]}, r"bands.*name.*letters, digits and _"),
])
def test_bad_bands_are_design_errors(band, match):
    with pytest.raises(DesignError, match=match):
        design_from_dict(band_design({"kind": "files", "path": "x.csv"}, bands=[band]))


def test_a_band_column_that_clashes_is_a_design_error():
    design = band_design({"kind": "files", "path": "x.csv"}, bands=[{"name": "hours", "days": ["thu"]}])
    design["data"]["aggregate"]["offences"]["map"]["39"] = "robbery_hours"
    with pytest.raises(DesignError, match=r"bands.*makes column 'robbery_hours', which is already an offence "
                                          r"category; rename the band"):
        design_from_dict(design)
    twice = band_design({"kind": "files", "path": "x.csv"}, bands=[BANDS[0], BANDS[0]])
    with pytest.raises(DesignError, match=r"band names must be unique; repeated: patrol_hours"):
        design_from_dict(twice)


def test_hours_on_a_date_column_are_refused(tmp_path):
    dates = ROWS.assign(occurred_at=ROWS["occurred_at"].dt.date)
    with pytest.raises(DesignError, match=r"bands: band 'patrol_hours' has hours.*dates.*00:00-24:00"):
        aggregate(band_design(store(dates, "duckdb", tmp_path)), tmp_path)
    weekend = aggregate(band_design(store(dates, "duckdb", tmp_path), bands=[BANDS[1]]), tmp_path)
    assert_sums(weekend.frame, [BANDS[1]], CATEGORIES)


def test_the_shipped_hours_design_finds_the_same_change_inside_and_outside_the_band():
    """designs/city_incidents_hours.yaml: the simulated times have no time-of-day pattern and the programme works
    alike at all hours (known truth: equal proportional changes inside and outside the band), so each offence's
    change outside the band lies in the interval of its change inside it, and the all-hours effect in both."""
    import cpeval

    res = cpeval.evaluate(DESIGNS / "city_incidents_hours.yaml", quiet=True)
    findings = {f["outcome"]: f for f in res.to_dict()["consequences"]["findings"] if f["topic"] == "temporal"}
    assert sorted(findings) == ["robbery", "shoplifting"]
    for name, f in findings.items():
        inside, outside = f["evidence"]["window_effect"], f["evidence"]["outside_effect"]
        lo, hi = inside["conf_int"]
        assert lo < outside["estimate"] < hi, name
        whole = res.effect(name).estimate
        assert lo < whole < hi and outside["conf_int"][0] < whole < outside["conf_int"][1], name
    assert findings["shoplifting"]["status"] == "pass" and findings["shoplifting"]["positive"]


def hours_design_from(source: dict, **aggregate):
    """designs/city_incidents_hours.yaml reading the city's records from ``source`` (other paths as in the file),
    with ``aggregate`` keys added to data.aggregate."""
    path = DESIGNS / "city_incidents_hours.yaml"
    d = load_design(path).model_dump(mode="json", by_alias=True, exclude_none=True)
    d["data"]["source"] = source
    d["data"]["aggregate"].update(aggregate)
    design = design_from_dict(d)
    design._origin = str(path.resolve())  # the boundaries and the join table stay relative to the design file
    return design


def stored(records: pd.DataFrame, fmt: str, tmp_path) -> dict:
    """The records written as ``fmt`` in a folder of their own; the data.source reading them (absolute path)."""
    folder = tmp_path / fmt
    folder.mkdir()
    source = store(records, fmt, folder)
    return {**source, "path": str(folder / source["path"])}


def test_the_hours_design_gives_the_same_results_from_csv_parquet_and_duckdb(tmp_path):
    import cpeval

    records = pd.read_parquet(CITY / "incidents.parquet")
    outputs = {fmt: results_without_location(cpeval.evaluate(hours_design_from(stored(records, fmt, tmp_path)),
                                                             quiet=True)) for fmt in ("csv", "parquet", "duckdb")}
    assert outputs["csv"] == outputs["parquet"] == outputs["duckdb"]
    assert "shoplifting_outside_warden_hours" in outputs["csv"]
