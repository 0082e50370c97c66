"""Incident records aggregated to the design's panel (data.source + data.aggregate): hand-worked counts, time
zones, repeat victims, zero-filling, the joined table, the rows-read fingerprint, and every storage format."""

from __future__ import annotations

import copy
import json

import duckdb
import numpy as np
import pandas as pd
import pytest

import cpeval
from _support import DESIGNS, REFERENCE, ROOT, write_design
from cpeval.data.aggregate import aggregate_incidents
from cpeval.data.fingerprint import frame_sha256
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import DataError, DesignError, ProblemCode

REF = json.loads((REFERENCE / "data" / "incidents_hand.json").read_text())
CITY = ROOT / "case_studies" / "data" / "city_incidents"

# Europe/London is UTC+0 until 2021-03-28 01:00 UTC, UTC+1 after. The window is January-June 2021 local time.
HAND_ROWS = pd.DataFrame(
    [
        ("2021-03-27 23:30:00+00", "A", "46", None),   # 23:30 GMT on 27 March: March
        ("2021-03-31 23:30:00+00", "A", "46", None),   # 00:30 BST on 1 April: April (March in UTC)
        ("2021-04-15 12:00:00+00", "A", "34A", 7),     # April, victim 7
        ("2021-04-20 12:00:00+00", "A", "34A", 7),     # April, victim 7 again: 1 repeat victim, 1 repeat incident
        ("2021-04-21 12:00:00+00", "A", "39", 8),      # April, victim 8 once
        ("2021-06-30 23:30:00+00", "A", "46", None),   # 00:30 BST on 1 July: outside the window (June in UTC)
        ("2021-05-05 10:00:00+00", "B", "99Z", None),  # a code the map does not know: unmapped
        ("2021-05-06 10:00:00+00", "B", "58A", None),  # mapped to null: left out on purpose
        ("2021-05-07 10:00:00+00", None, "46", None),  # no area
        ("2021-02-28 10:00:00+00", "B", "44", None),   # February, bicycle theft
    ],
    columns=["occurred_at", "ward", "code", "victim"],
).astype({"victim": "Int64"})
HAND_ROWS["occurred_at"] = pd.to_datetime(HAND_ROWS["occurred_at"]).dt.as_unit("us")
CODE_MAP = {"46": "shoplifting", "44": "bicycle_theft", "34A": "robbery", "39": "theft_from_person", "58A": None}
WARDS = pd.DataFrame({"ward": ["A", "B", "C"], "population": [1000, 2000, 1500], "post": [0, 0, 0]})


def hand_design(source: dict, tmp_path, **period) -> dict:
    (tmp_path / "wards.csv").write_text(WARDS.to_csv(index=False))
    return {
        "name": "hand", "kind": "did",
        "data": {
            "source": source,
            "aggregate": {
                "area": {"column": "ward"},
                "period": {"column": "occurred_at", "every": "month", "time_zone": "Europe/London",
                           "start": "2021-01-01", "end": "2021-06-30", **period},
                "offences": {"column": "code", "map": CODE_MAP},
                "victims": {"column": "victim"},
                "join": {"path": "wards.csv", "columns": ["population", "post"]},
            },
            "unit": "ward", "time": "month", "population": "population",
        },
        "treatment": {"indicator": "post"},
        "outcomes": [{"name": "shoplifting", "column": "shoplifting", "family": "crime", "measure": "count"}],
        "estimator": {"method": "twfe"},
    }


def store(frame: pd.DataFrame, fmt: str, tmp_path, table: str = "incidents") -> dict:
    """Write the records as CSV, Parquet or a DuckDB table; the data.source that reads them."""
    if fmt == "csv":
        frame.to_csv(tmp_path / "incidents.csv", index=False)
        return {"kind": "files", "path": "incidents.csv"}
    if fmt == "parquet":
        frame.to_parquet(tmp_path / "incidents.parquet", index=False)
        return {"kind": "files", "path": "incidents.parquet"}
    with duckdb.connect(str(tmp_path / "records.duckdb")) as con:
        con.register("frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM frame")
    return {"kind": "duckdb", "path": "records.duckdb", "table": table}


def aggregate(design: dict, tmp_path):
    return aggregate_incidents(load_design(write_design(tmp_path, design)))


def nonzero(frame: pd.DataFrame) -> list[dict]:
    counts = [c for c in frame.columns if c not in ("ward", "month", "population", "post")]
    out = []
    for row in frame.itertuples(index=False):
        cells = {c: int(getattr(row, c)) for c in counts if getattr(row, c)}
        if cells:
            out.append({"ward": row.ward, "month": str(row.month.date()), **cells})
    return out


@pytest.mark.parametrize("fmt", ["csv", "parquet", "duckdb"])
def test_hand_worked_counts(fmt, tmp_path):
    agg = aggregate(hand_design(store(HAND_ROWS, fmt, tmp_path), tmp_path), tmp_path)
    assert nonzero(agg.frame) == REF["nonzero_cells"]
    assert len(agg.frame) == REF["rows"]
    assert sorted(agg.frame["ward"].unique()) == ["A", "B", "C"]  # C: only in the join table, all zeros
    for key in ("zero_filled_unit_periods", "incident_rows_read", "incidents_counted", "incidents_outside_window",
                "incidents_without_area", "incidents_unmapped", "unmapped_offence_codes", "incidents_left_out_by_map"):
        assert agg.provenance[key] == REF[key], key
    assert agg.frame["population"].tolist() == [1000] * 6 + [2000] * 6 + [1500] * 6
    assert any("99Z: 1" in w for w in agg.warnings)


def test_time_zone_decides_the_period(tmp_path):
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path, time_zone="UTC")
    agg = aggregate(design, tmp_path)
    shop = agg.frame.loc[agg.frame["shoplifting"] > 0]
    got = {f"{r.ward} {r.month.date()}": int(r.shoplifting) for r in shop.itertuples()}
    assert got == REF["in_utc_instead"]["nonzero_shoplifting"]
    assert agg.provenance["incidents_outside_window"] == REF["in_utc_instead"]["incidents_outside_window"]


def test_naive_timestamps_are_local_times(tmp_path):
    """Without a zone, a timestamp is the local time: 2021-03-31 23:30 stays in March whatever time_zone says."""
    naive = HAND_ROWS.assign(occurred_at=HAND_ROWS["occurred_at"].dt.tz_localize(None))
    agg = aggregate(hand_design(store(naive, "parquet", tmp_path), tmp_path), tmp_path)
    a = agg.frame.set_index(["ward", "month"])
    assert a.loc[("A", pd.Timestamp("2021-03-01")), "shoplifting"] == 2
    assert a.loc[("A", pd.Timestamp("2021-06-01")), "shoplifting"] == 1


@pytest.mark.parametrize(("every", "expected"), [
    ("year", {2021: 6}),
    ("quarter", {"2021-01-01": 2, "2021-04-01": 4}),
    ("week", {"2021-02-22": 1, "2021-03-22": 1, "2021-03-29": 1, "2021-04-12": 1, "2021-04-19": 2}),
])
def test_period_lengths(every, expected, tmp_path):
    # hand: counted rows fall on 2021-02-28 (Sunday; ISO week from Monday 22 Feb), 27 Mar (week of 22 Mar),
    # 1 Apr local (week of 29 Mar), 15 Apr (week of 12 Apr), 20 and 21 Apr (week of 19 Apr)
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path, every=every)
    if every == "year":
        design["data"]["aggregate"]["period"].update(start=None, end="2021-06-30")
    frame = aggregate(design, tmp_path).frame
    cats = ["shoplifting", "bicycle_theft", "robbery", "theft_from_person"]
    totals = frame.groupby("month")[cats].sum().sum(axis=1)
    got = {(k if every == "year" else str(k.date())): int(v) for k, v in totals.items() if v}
    assert got == expected


def test_rows_fingerprint_ignores_order_and_storage_but_not_values(tmp_path):
    base = aggregate(hand_design(store(HAND_ROWS, "csv", tmp_path), tmp_path), tmp_path).provenance
    shuffled = HAND_ROWS.sample(frac=1, random_state=3)
    other = aggregate(hand_design(store(shuffled, "duckdb", tmp_path), tmp_path), tmp_path).provenance
    assert other["incident_rows_sha256"] == base["incident_rows_sha256"]
    changed = HAND_ROWS.copy()
    changed.loc[7, "code"] = "58C"  # a left-out code changes no count, but it is a different record
    third = aggregate(hand_design(store(changed, "parquet", tmp_path), tmp_path), tmp_path)
    assert third.provenance["incident_rows_sha256"] != base["incident_rows_sha256"]
    assert third.provenance["incidents_unmapped"] == 2


def test_without_zero_fill_only_counted_unit_periods(tmp_path):
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path)
    design["data"]["aggregate"]["zero_fill"] = False
    frame = aggregate(design, tmp_path).frame
    assert [(w, str(m.date())) for w, m in zip(frame["ward"], frame["month"], strict=True)] == [
        ("A", "2021-03-01"), ("A", "2021-04-01"), ("B", "2021-02-01")]


def test_join_table_by_unit_and_period(tmp_path):
    """Area x month attributes: the programme indicator switches on in April 2021 in ward A only (hand)."""
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path)
    months = pd.date_range("2021-01-01", "2021-06-01", freq="MS")
    table = pd.DataFrame({"ward": np.repeat(["A", "B", "C"], 6), "month": np.tile(months, 3),
                          "population": 1000, "post": 0})
    table.loc[(table["ward"] == "A") & (table["month"] >= "2021-04-01"), "post"] = 1
    table.to_csv(tmp_path / "ward_months.csv", index=False, date_format="%Y-%m-%d")
    design["data"]["aggregate"]["join"] = {"path": "ward_months.csv", "period": "month",
                                           "columns": ["population", "post"]}
    frame = aggregate(design, tmp_path).frame
    on = frame.loc[frame["post"] == 1, ["ward", "month"]]
    assert [(w, str(m.date())) for w, m in on.itertuples(index=False)] == [
        ("A", "2021-04-01"), ("A", "2021-05-01"), ("A", "2021-06-01")]
    assert len(frame) == 18 and frame["population"].eq(1000).all()


# --- the shipped example: the simulated city's records ------------------------------------------------------


@pytest.fixture(scope="module")
def city_design():
    return load_design(DESIGNS / "city_incidents.yaml")


@pytest.fixture(scope="module")
def city_aggregate(city_design):
    return aggregate_incidents(city_design)


def test_shipped_extract_is_what_the_generator_makes():
    from cpeval.datasets.incidents import simulate_incidents

    shipped = pd.read_parquet(CITY / "incidents.parquet")
    assert frame_sha256(shipped) == frame_sha256(simulate_incidents())


def test_city_records_aggregate_to_the_city_panel(city_aggregate):
    """Known truth: the records were drawn from cpeval.city's counts, so ward x year counts equal them exactly."""
    from cpeval.datasets.city import city_panel

    city = city_panel().rename(columns={"area": "ward"})
    merged = city_aggregate.frame.merge(city, on=["ward", "year"], suffixes=("", "_city"), validate="one_to_one")
    assert len(merged) == len(city) == 240
    for col in ("shoplifting", "bicycle_theft", "theft_from_person", "robbery", "population", "first_treated"):
        np.testing.assert_array_equal(merged[col], merged[f"{col}_city"], err_msg=col)
    assert city_aggregate.provenance["incidents_outside_boundaries"] == 0
    assert city_aggregate.provenance["zero_filled_unit_periods"] == 0


def test_boundaries_and_the_ward_column_agree(city_design, city_aggregate, tmp_path):
    raw = city_design.data.model_dump(mode="json")
    raw["aggregate"]["area"] = {"column": "ward"}
    raw["source"]["path"] = str(CITY / "incidents.parquet")
    raw["aggregate"]["join"]["path"] = str(CITY / "wards.csv")
    design = city_design.model_dump(mode="json", by_alias=True) | {"data": raw}
    by_column = aggregate_incidents(design_from_dict(design))
    pd.testing.assert_frame_equal(by_column.frame, city_aggregate.frame)


def test_city_run_equals_the_tidy_panel_run(city_design, city_aggregate):
    """The same evaluation from the records and from the panel they aggregate to: same effects, same data hash."""
    from_records = cpeval.evaluate(city_design).to_dict()
    tidy = city_design.model_dump(mode="json", by_alias=True)
    tidy["data"] = {"path": "panel.csv", "unit": "ward", "time": "year", "population": "population"}
    from_panel = cpeval.evaluate(design_from_dict(tidy), data=city_aggregate.frame).to_dict()
    assert from_records["data_sha256"] == from_panel["data_sha256"]
    for key in ("effects", "checks", "warnings"):
        assert json.dumps(from_records[key], sort_keys=True) == json.dumps(from_panel[key], sort_keys=True), key
    summary = {k: v for k, v in from_records["data_summary"].items() if not k.startswith("incident")}
    assert summary == {k: v for k, v in from_panel["data_summary"].items()} | {"zero_filled_unit_periods": 0}


def results_without_location(result) -> str:
    """results.json less what names where the data were (the design, its hash, the incident and survey sources'
    labels and queries)."""
    d = copy.deepcopy(result.to_dict())
    for key in ("design", "design_hash"):
        d.pop(key)
    for key in ("incident_source", "incident_query"):
        d["data_summary"].pop(key)
    for effect in d["effects"]:
        definition = effect["diagnostics"]["outcome"]["definition"]
        for key in ("survey_source", "survey_query"):
            definition.pop(key, None)
    return json.dumps(d, sort_keys=True, indent=2)


def city_design_from(source: dict) -> dict:
    d = load_design(DESIGNS / "city_incidents.yaml").model_dump(mode="json", by_alias=True, exclude_none=True)
    d["data"]["source"] = source
    d["data"]["aggregate"]["area"]["boundaries"] = str(CITY / "wards.geojson")
    d["data"]["aggregate"]["join"]["path"] = str(CITY / "wards.csv")
    return d


def test_same_results_from_csv_parquet_and_duckdb(tmp_path):
    records = pd.read_parquet(CITY / "incidents.parquet")
    outputs = {}
    for fmt in ("csv", "parquet", "duckdb"):
        folder = tmp_path / fmt
        folder.mkdir()
        source = store(records, fmt, folder)
        source["path"] = str(folder / source["path"])
        outputs[fmt] = results_without_location(cpeval.evaluate(design_from_dict(city_design_from(source))))
    assert outputs["csv"] == outputs["parquet"] == outputs["duckdb"]
    shipped = results_without_location(cpeval.evaluate(DESIGNS / "city_incidents.yaml"))
    assert shipped == outputs["parquet"]


def test_folder_and_glob_of_files(tmp_path):
    (tmp_path / "parts").mkdir()
    HAND_ROWS.iloc[:5].to_parquet(tmp_path / "parts" / "a.parquet", index=False)
    HAND_ROWS.iloc[5:].to_parquet(tmp_path / "parts" / "b.parquet", index=False)
    for path in ("parts", "parts/*.parquet"):
        agg = aggregate(hand_design({"kind": "files", "path": path}, tmp_path), tmp_path)
        assert nonzero(agg.frame) == REF["nonzero_cells"], path


# --- bad input ----------------------------------------------------------------------------------------------


def problem(exc: DataError):
    assert len(exc.problems) >= 1
    return exc.problems[0]


def test_missing_table(tmp_path):
    source = store(HAND_ROWS, "duckdb", tmp_path)
    source["table"] = "incidnets"
    with pytest.raises(DataError) as err:
        aggregate(hand_design(source, tmp_path), tmp_path)
    p = problem(err.value)
    assert p.code == ProblemCode.UNREADABLE and "incidnets" in p.message and "data.source.table" in p.message


def test_query_with_a_syntax_error(tmp_path):
    source = store(HAND_ROWS, "duckdb", tmp_path) | {"table": None, "query": "SELECT * FORM incidents"}
    with pytest.raises(DataError) as err:
        aggregate(hand_design(source, tmp_path), tmp_path)
    assert problem(err.value).code == ProblemCode.UNREADABLE and "syntax error" in problem(err.value).message.lower()


def test_query_selects_from_the_duckdb_file(tmp_path):
    source = store(HAND_ROWS, "duckdb", tmp_path) | {"table": None,
                                                      "query": "SELECT * FROM incidents WHERE code <> '99Z'"}
    agg = aggregate(hand_design(source, tmp_path), tmp_path)
    assert agg.provenance["incidents_unmapped"] == 0 and agg.provenance["incident_rows_read"] == 9
    assert "WHERE code <> '99Z'" in agg.provenance["incident_query"]


def test_a_query_that_writes_is_refused_and_the_file_is_untouched(tmp_path):
    source = store(HAND_ROWS, "duckdb", tmp_path)
    before = (tmp_path / "records.duckdb").read_bytes()
    for query in ("DELETE FROM incidents", "DROP TABLE incidents", "INSERT INTO incidents SELECT * FROM incidents"):
        with pytest.raises(DesignError, match="cpeval only reads"):
            write_design(tmp_path, hand_design(source | {"table": None, "query": query}, tmp_path))
            load_design(tmp_path / "design.yaml")
    # a statement smuggled after the SELECT is refused (the query is read as one subquery, the file read-only)
    sneaky = "WITH x AS (SELECT 1) SELECT * FROM incidents; CREATE TABLE incident_db.main.t AS SELECT 1"
    with pytest.raises(DataError) as err:
        aggregate(hand_design(source | {"table": None, "query": sneaky}, tmp_path), tmp_path)
    assert problem(err.value).code == ProblemCode.UNREADABLE
    agg = aggregate(hand_design(source, tmp_path), tmp_path)
    assert agg.provenance["incident_rows_read"] == len(HAND_ROWS)
    assert (tmp_path / "records.duckdb").read_bytes() == before


def test_timestamp_column_that_is_not_a_timestamp(tmp_path):
    text = HAND_ROWS.assign(occurred_at=HAND_ROWS["occurred_at"].dt.strftime("%d/%m/%Y %H:%M"))
    with pytest.raises(DataError) as err:
        aggregate(hand_design(store(text, "csv", tmp_path), tmp_path), tmp_path)
    p = problem(err.value)
    assert p.code == ProblemCode.BAD_TIME and p.column == "occurred_at" and "not timestamps" in p.message


def test_offence_map_that_leaves_everything_unmapped(tmp_path):
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path)
    design["data"]["aggregate"]["offences"]["map"] = {"4600": "shoplifting"}
    with pytest.raises(DataError) as err:
        aggregate(design, tmp_path)
    p = problem(err.value)
    assert p.code == ProblemCode.UNKNOWN_LABEL and p.column == "code"
    assert "none of the 8 incidents" in p.message and "46" in p.message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_missing_column_names_the_key_and_a_suggestion(fmt, tmp_path):
    design = hand_design(store(HAND_ROWS, fmt, tmp_path), tmp_path)
    design["data"]["aggregate"]["offences"]["column"] = "cdoe"
    with pytest.raises(DataError) as err:
        aggregate(design, tmp_path)
    p = problem(err.value)
    assert p.code == ProblemCode.MISSING_COLUMN and "offences.column" in p.message and "'code'" in p.message


def test_no_files_at_the_path(tmp_path):
    design = hand_design({"kind": "files", "path": "nowhere/*.parquet"}, tmp_path)
    with pytest.raises(DataError) as err:
        aggregate(design, tmp_path)
    assert problem(err.value).code == ProblemCode.FILE_NOT_FOUND


def test_areas_missing_from_the_join_table(tmp_path):
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path)
    (tmp_path / "few.csv").write_text(WARDS.iloc[:1].to_csv(index=False))
    design["data"]["aggregate"]["join"]["path"] = "few.csv"
    with pytest.raises(DataError) as err:
        aggregate(design, tmp_path)
    p = problem(err.value)
    assert p.code == ProblemCode.UNKNOWN_LABEL and "B" in p.message and "join table" in p.message


def test_coordinates_outside_every_boundary_are_counted_and_reported(tmp_path):
    records = pd.read_parquet(CITY / "incidents.parquet").head(2000).copy()
    records.loc[:9, "x"] = 10.0  # far east of the city
    records.loc[10:11, ["x", "y"]] = np.nan
    d = city_design_from({"kind": "files", "path": str(tmp_path / "incidents.parquet")})
    records.to_parquet(tmp_path / "incidents.parquet", index=False)
    d["data"]["aggregate"]["period"].update(start="2018-01-01", end="2018-01-31")
    d["data"]["time"] = "year"
    agg = aggregate_incidents(design_from_dict(d))
    assert agg.provenance["incidents_outside_boundaries"] == 12
    assert any("12 of 2000" in w and "2 of them have no coordinates" in w for w in agg.warnings)
    assert agg.provenance["incident_rows_read"] == 2000


def test_password_in_the_url_is_a_design_error_that_does_not_echo_it(tmp_path):
    design = hand_design({"kind": "sql", "url": "postgresql://bob:hunter2@localhost/crime", "table": "incidents"},
                         tmp_path)
    with pytest.raises(DesignError) as err:
        load_design(write_design(tmp_path, design))
    assert "PGPASSWORD" in str(err.value) and "password_env" in str(err.value)
    assert "hunter2" not in str(err.value)
    design["data"]["source"]["url"] = "postgresql://bob@localhost/crime?password=hunter2"
    with pytest.raises(DesignError, match="contains a password"):
        load_design(write_design(tmp_path, design))


def test_one_of_path_dataset_or_source(tmp_path):
    d = hand_design({"kind": "files", "path": "x.parquet"}, tmp_path)
    d["data"]["path"] = "panel.csv"
    with pytest.raises(DesignError, match="exactly one of 'path'"):
        design_from_dict(d)
    d["data"].pop("path")
    d["data"].pop("aggregate")
    with pytest.raises(DesignError, match="go together"):
        design_from_dict(d)


def test_without_an_offence_map_one_count_of_all_records(tmp_path):
    """Hand: without offences, every record in the window with an area counts: 8 of the 10 (one outside the
    window, one without an area), and the victims are counted over all of them."""
    design = hand_design(store(HAND_ROWS, "parquet", tmp_path), tmp_path)
    design["data"]["aggregate"].pop("offences")
    design["data"]["aggregate"]["count"] = "recorded"
    frame = aggregate(design, tmp_path).frame
    assert int(frame["recorded"].sum()) == 8
    by_cell = frame.loc[frame["recorded"] > 0].set_index(["ward", "month"])["recorded"]
    assert {f"{w} {m.date()}": int(n) for (w, m), n in by_cell.items()} == {
        "A 2021-03-01": 1, "A 2021-04-01": 4, "B 2021-02-01": 1, "B 2021-05-01": 2}


def test_empty_offence_codes_are_reported_as_unmapped(tmp_path):
    records = HAND_ROWS.copy()
    records.loc[[0, 2], "code"] = None
    agg = aggregate(hand_design(store(records, "parquet", tmp_path), tmp_path), tmp_path)
    assert agg.provenance["incidents_unmapped"] == 3
    assert agg.provenance["unmapped_offence_codes"] == "(empty): 2, 99Z: 1"


def test_join_table_in_the_same_duckdb_file(tmp_path):
    source = store(HAND_ROWS, "duckdb", tmp_path)
    with duckdb.connect(str(tmp_path / "records.duckdb")) as con:
        con.register("w", WARDS.assign(population=[10, 20, 30]))
        con.execute("CREATE TABLE wards AS SELECT * FROM w")
    design = hand_design(source, tmp_path)
    design["data"]["aggregate"]["join"] = {"table": "wards", "columns": ["population", "post"]}
    frame = aggregate(design, tmp_path).frame
    assert frame.groupby("ward")["population"].first().to_dict() == {"A": 10, "B": 20, "C": 30}
    design["data"]["source"] = {"kind": "files", "path": "incidents.parquet"}
    store(HAND_ROWS, "parquet", tmp_path)
    with pytest.raises(DataError, match=r"join\.table needs a database source"):
        aggregate(design, tmp_path)
