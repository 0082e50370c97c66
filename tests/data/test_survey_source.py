"""Survey microdata read where they live (outcomes[i].survey.source: files, a DuckDB file; PostgreSQL in
test_survey_sql.py): hand-worked weighted shares, the same results.json from every storage, the rows-read
fingerprint, and clear errors for bad input."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

import cpeval
from _support import DESIGNS, REFERENCE, ROOT, write_design
from cpeval.data.fingerprint import frame_sha256
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import DataError, DesignError, ProblemCode
from cpeval.outcomes.derive import derive_with_info
from cpeval.payloads import OutcomeInfo

from .test_incidents import results_without_location

REF = json.loads((REFERENCE / "data" / "survey_hand.json").read_text())
CITY = ROOT / "case_studies" / "data" / "city_incidents"
SAFE = {"item": "safe", "scale": ["very safe", "fairly safe", "a bit unsafe", "very unsafe"],
        "fearful": ["a bit unsafe", "very unsafe"], "missing": ["don't know"]}

# fearful = a bit unsafe / very unsafe; victimised = times > 0
HAND_SURVEY = pd.DataFrame(
    [
        ("A", 2019, 1.0, "very safe", 0),     # A 2019 unsafe: 2 / (1 + 2) = 2/3 (don't know is left out)
        ("A", 2019, 2.0, "a bit unsafe", 2),  # A 2019 victimised: (2 + 1) / (1 + 2 + 1) = 3/4
        ("A", 2019, 1.0, "don't know", 1),
        ("B", 2019, 1.0, "very unsafe", 0),   # B 2019 unsafe: 1 / (1 + 3) = 1/4; victimised 0
        ("B", 2019, 3.0, "fairly safe", 0),
        ("A", 2021, 1.0, "very unsafe", 1),   # A 2021 unsafe: 1 / (1 + 3) = 1/4; victimised 1/4
        ("A", 2021, 3.0, "very safe", 0),
        ("B", 2021, 2.0, "a bit unsafe", 0),  # B 2021 unsafe: 2 / (2 + 2) = 1/2; victimised 2/4 = 1/2
        ("B", 2021, 2.0, "fairly safe", 3),
    ],
    columns=["ward", "year", "w", "safe", "times"],
)
PANEL = pd.DataFrame({"ward": ["A", "A", "B", "B"], "year": [2019, 2021, 2019, 2021], "post": [0, 1, 0, 0]})


def store(frame: pd.DataFrame, fmt: str, folder, table: str = "survey") -> dict:
    """Write respondent rows as CSV, Parquet or a DuckDB table; the survey.source that reads them."""
    if fmt == "csv":
        frame.to_csv(folder / "survey.csv", index=False)
        return {"kind": "files", "path": str(folder / "survey.csv")}
    if fmt == "parquet":
        frame.to_parquet(folder / "survey.parquet", index=False)
        return {"kind": "files", "path": str(folder / "survey.parquet")}
    with duckdb.connect(str(folder / "survey.duckdb")) as con:
        con.register("frame", frame)
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM frame")
    return {"kind": "duckdb", "path": str(folder / "survey.duckdb"), "table": table}


def hand_design(source: dict, tmp_path, **survey) -> dict:
    PANEL.to_csv(tmp_path / "panel.csv", index=False)
    spec = {"source": source, "weights": "w", **survey}
    return {
        "name": "hand", "kind": "did", "data": {"path": "panel.csv", "unit": "ward", "time": "year"},
        "treatment": {"indicator": "post"}, "estimator": {"method": "twfe"},
        "outcomes": [
            {"name": "unsafe", "fear": SAFE, "survey": spec},
            {"name": "victimised", "victimisation": {"measure": "prevalence", "column": "times"}, "survey": spec},
        ],
    }


def derived(design: dict, tmp_path):
    d = load_design(write_design(tmp_path, design))
    frame, info = derive_with_info(PANEL, d)
    return frame.set_index(["ward", "year"]), info, d


@pytest.mark.parametrize("fmt", ["csv", "parquet", "duckdb"])
def test_hand_worked_weighted_shares(fmt, tmp_path):
    out, info, design = derived(hand_design(store(HAND_SURVEY, fmt, tmp_path), tmp_path), tmp_path)
    unsafe, victimised = (o.column for o in design.outcomes)
    for cell, value in REF["unsafe_share"].items():
        ward, year = cell.split()
        assert out.loc[(ward, int(year)), unsafe] == pytest.approx(value, rel=1e-15), cell
        assert out.loc[(ward, int(year)), f"{unsafe}__n"] == REF["unsafe_respondents"][cell]
        assert out.loc[(ward, int(year)), f"{unsafe}__wsum"] == REF["unsafe_weight_total"][cell]
        assert out.loc[(ward, int(year)), victimised] == pytest.approx(REF["victim_prevalence"][cell], rel=1e-15)
    assert info["unsafe"]["survey_rows_read"] == REF["rows_read"]
    # one read for both outcomes (same source): the columns either needs
    assert info["unsafe"]["survey_query"].startswith('SELECT "ward", "year", "w", "safe", "times" FROM ')
    assert info["victimised"]["survey_rows_sha256"] == info["unsafe"]["survey_rows_sha256"]


def test_rows_fingerprint_ignores_order_and_storage_but_not_values(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    base = derived(hand_design(store(HAND_SURVEY, "csv", tmp_path / "a"), tmp_path), tmp_path)[1]["unsafe"]
    shuffled = HAND_SURVEY.sample(frac=1, random_state=4).reset_index(drop=True)
    other = derived(hand_design(store(shuffled, "duckdb", tmp_path / "b"), tmp_path), tmp_path)[1]["unsafe"]
    assert other["survey_rows_sha256"] == base["survey_rows_sha256"]
    changed = HAND_SURVEY.assign(w=HAND_SURVEY["w"].where(HAND_SURVEY.index != 4, 3.5))
    third = derived(hand_design(store(changed, "parquet", tmp_path / "b"), tmp_path), tmp_path)[1]["unsafe"]
    assert third["survey_rows_sha256"] != base["survey_rows_sha256"]


def test_row_order_does_not_change_a_bit_of_the_derived_values(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    base = derived(hand_design(store(HAND_SURVEY, "parquet", tmp_path / "a"), tmp_path), tmp_path)[0]
    for seed in (1, 2, 3):
        shuffled = HAND_SURVEY.sample(frac=1, random_state=seed).reset_index(drop=True)
        again = derived(hand_design(store(shuffled, "parquet", tmp_path / "b"), tmp_path), tmp_path)[0]
        pd.testing.assert_frame_equal(again, base, check_exact=True)


def test_folder_of_csv_files_and_a_query(tmp_path):
    (tmp_path / "waves").mkdir()
    for year, part in HAND_SURVEY.groupby("year"):
        part.to_csv(tmp_path / "waves" / f"{year}.csv", index=False)
    out, info, design_obj = derived(hand_design({"kind": "files", "path": "waves"}, tmp_path), tmp_path)
    assert info["unsafe"]["survey_rows_read"] == 9
    col = design_obj.outcomes[0].column
    assert out.loc[("A", 2019), col] == pytest.approx(REF["unsafe_share"]["A 2019"], rel=1e-15)
    src = store(HAND_SURVEY, "duckdb", tmp_path)
    src = {"kind": "duckdb", "path": src["path"], "query": "SELECT * FROM survey WHERE year = 2021"}
    design = hand_design(src, tmp_path, empty_cells="missing")
    q_out, q_info, _ = derived(design, tmp_path)
    assert q_info["unsafe"]["survey_rows_read"] == 4
    assert "WHERE year = 2021" in q_info["unsafe"]["survey_query"]
    assert q_out.loc[("B", 2021), col] == pytest.approx(REF["unsafe_share"]["B 2021"], rel=1e-15)
    assert np.isnan(q_out.loc[("A", 2019), col])  # no 2019 wave in the query's rows: not a survey wave


# --- the shipped example ---------------------------------------------------------------------------------------


def test_shipped_survey_is_what_the_generator_makes():
    from cpeval.datasets.city import city_survey

    shipped = pd.read_parquet(CITY / "survey.parquet")
    assert frame_sha256(shipped) == frame_sha256(city_survey().rename(columns={"area": "ward"}))


def fear_design_with(source: dict) -> dict:
    """designs/city_incidents_fear.yaml with absolute paths and every survey outcome reading ``source``."""
    d = load_design(DESIGNS / "city_incidents_fear.yaml").model_dump(mode="json", by_alias=True, exclude_none=True)
    d["data"]["source"]["path"] = str(CITY / "incidents.parquet")
    d["data"]["aggregate"]["area"]["boundaries"] = str(CITY / "wards.geojson")
    d["data"]["aggregate"]["join"]["path"] = str(CITY / "wards.csv")
    for o in d["outcomes"]:
        if "survey" in o:
            o["survey"]["source"] = source
    return d


@pytest.fixture(scope="module")
def shipped_fear():
    return cpeval.evaluate(DESIGNS / "city_incidents_fear.yaml")


def test_same_results_json_from_csv_parquet_and_duckdb(tmp_path, shipped_fear):
    survey = pd.read_parquet(CITY / "survey.parquet")
    outputs = {}
    for fmt in ("csv", "parquet", "duckdb"):
        (tmp_path / fmt).mkdir()
        outputs[fmt] = results_without_location(
            cpeval.evaluate(design_from_dict(fear_design_with(store(survey, fmt, tmp_path / fmt)))))
    assert outputs["csv"] == outputs["parquet"] == outputs["duckdb"] == results_without_location(shipped_fear)
    assert '"survey_rows_read": 19098' in outputs["csv"]


def test_same_estimates_as_the_packaged_survey(shipped_fear):
    """The same respondents through survey.source and through data.dataset cpeval.city_survey: the same effects
    (the estimates agree to rounding: the source's rows are summed in sorted order, the dataset's as stored)."""
    packaged = cpeval.evaluate(DESIGNS / "city_programme.yaml")
    for name in ("unsafe_after_dark", "worry_index", "victim_prevalence"):
        a, b = shipped_fear.effect(name), packaged.effect(name)
        assert a.estimate == pytest.approx(b.estimate, rel=1e-12, abs=1e-15), name
        assert a.std_error == pytest.approx(b.std_error, rel=1e-10), name
    definition = shipped_fear.effect("unsafe_after_dark").payload(OutcomeInfo).definition
    assert definition.survey_source == "files: ../case_studies/data/city_incidents/survey.parquet"
    from cpeval.report import render_markdown

    report = render_markdown(shipped_fear)
    assert "19,098 respondent rows read by `SELECT" in report and definition.survey_sha256[:12] in report
    assert definition.survey_query == (
        'SELECT "ward", "year", "weight", "safe_after_dark", "worry_burglary", "worry_car", "worry_violence", '
        """"times_victimised" FROM read_parquet('../case_studies/data/city_incidents/survey.parquet')""")
    assert definition.survey_rows_read == 19098


# --- bad input ----------------------------------------------------------------------------------------------


def only_problem(err) -> object:
    assert len(err.value.problems) >= 1
    return err.value.problems[0]


def test_missing_table(tmp_path):
    src = store(HAND_SURVEY, "duckdb", tmp_path) | {"table": "survy"}
    with pytest.raises(DataError) as err:
        derived(hand_design(src, tmp_path), tmp_path)
    p = only_problem(err)
    assert p.code == ProblemCode.UNREADABLE
    assert "survy" in p.message and "outcomes[0].survey.source.table" in p.message


def test_missing_weight_column(tmp_path):
    src = store(HAND_SURVEY.rename(columns={"w": "weight"}), "parquet", tmp_path)
    with pytest.raises(DataError) as err:
        derived(hand_design(src, tmp_path), tmp_path)
    p = only_problem(err)
    assert p.code == ProblemCode.MISSING_COLUMN and p.column == "w"
    assert p.message == ("named by outcomes[0].survey.weights but not in the survey rows (its columns: ward, year, "
                         "weight, safe, times); correct outcomes[0].survey.weights or the column's name")


def test_non_numeric_victimisation_count(tmp_path):
    bad = HAND_SURVEY.astype({"times": object})
    bad.loc[2, "times"] = "twice"
    with pytest.raises(DataError) as err:
        derived(hand_design(store(bad, "csv", tmp_path), tmp_path), tmp_path)
    p = only_problem(err)
    assert p.code == ProblemCode.NON_NUMERIC and p.column == "times"
    assert "named by outcomes[1].victimisation.column: 1 of 9 values are not numbers (e.g. 'twice')" in p.message


def test_non_numeric_weight(tmp_path):
    bad = HAND_SURVEY.astype({"w": str})  # a text column in the Parquet file, one value not a number
    bad.loc[0, "w"] = "n/a"
    with pytest.raises(DataError) as err:
        derived(hand_design(store(bad, "parquet", tmp_path), tmp_path), tmp_path)
    p = only_problem(err)
    assert p.code == ProblemCode.NON_NUMERIC and p.column == "w" and "outcomes[0].survey.weights" in p.message


def test_coded_item_with_a_value_off_the_scale(tmp_path):
    coded = HAND_SURVEY.assign(safe=[1, 3, 9, 4, 2, 4, 1, 3, "two"])
    design = hand_design(store(coded, "duckdb", tmp_path), tmp_path)
    design["outcomes"][0]["fear"] = SAFE | {"missing": [9]}
    with pytest.raises(DataError) as err:
        derived(design, tmp_path)
    p = only_problem(err)
    assert p.code == ProblemCode.UNKNOWN_LABEL and p.column == "safe"
    assert "'two'" in p.message and "fear.scale, fear.codes or fear.missing" in p.message


def test_a_wave_with_no_respondents_for_a_ward(tmp_path):
    gap = HAND_SURVEY.loc[~((HAND_SURVEY["ward"] == "B") & (HAND_SURVEY["year"] == 2021))]
    with pytest.raises(DataError) as err:
        derived(hand_design(store(gap, "parquet", tmp_path), tmp_path), tmp_path)
    p = only_problem(err)
    assert p.code == ProblemCode.MISSING_VALUES and p.column == "ward"
    assert "outcomes[0]: 1 area-wave(s) of the panel have no survey respondents answering (B in 2021)" in p.message
    assert "outcomes[0].survey.empty_cells: missing" in p.message
    out, _, design = derived(hand_design(store(gap, "parquet", tmp_path), tmp_path, empty_cells="missing"), tmp_path)
    assert np.isnan(out.loc[("B", 2021), design.outcomes[0].column])


def test_respondents_who_all_answered_dont_know_leave_the_cell_empty(tmp_path):
    dk = HAND_SURVEY.assign(safe=HAND_SURVEY["safe"].where(HAND_SURVEY["ward"] != "A", "don't know"))
    with pytest.raises(DataError, match=r"2 area-wave\(s\).*\(A in 2019, A in 2021\)"):
        derived(hand_design(store(dk, "csv", tmp_path), tmp_path), tmp_path)


def test_password_in_a_survey_url_is_a_design_error(tmp_path):
    src = {"kind": "sql", "url": "postgresql://reader:hunter2@localhost/records", "table": "survey"}
    with pytest.raises(DesignError) as err:
        load_design(write_design(tmp_path, hand_design(src, tmp_path)))
    assert "contains a password" in str(err.value) and "hunter2" not in str(err.value)


def test_a_query_that_writes_is_refused_and_the_file_is_untouched(tmp_path):
    src = store(HAND_SURVEY, "duckdb", tmp_path)
    src = {"kind": "duckdb", "path": src["path"], "query": "SELECT * FROM survey; DELETE FROM survey"}
    with pytest.raises((DataError, DesignError)):
        derived(hand_design(src, tmp_path), tmp_path)
    with duckdb.connect(src["path"], read_only=True) as con:
        assert con.execute("SELECT count(*) FROM survey").fetchone()[0] == 9


def test_bad_survey_in_cpeval_check_is_one_clean_message(tmp_path):
    from cpeval.cli import main

    src = store(HAND_SURVEY.rename(columns={"w": "weight"}), "parquet", tmp_path)
    path = write_design(tmp_path, hand_design(src, tmp_path))
    assert main(["check", str(path)]) == 2


def test_an_unreachable_survey_server_is_a_clear_error_within_seconds(tmp_path):
    import contextlib
    import socket
    import time

    with socket.socket() as silent:  # accepts connections but never answers: the connect_timeout ends the wait
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://nobody@127.0.0.1:{silent.getsockname()[1]}/survey"
        design = hand_design({"kind": "sql", "url": url, "table": "survey", "connect_timeout": 2}, tmp_path)
        started = time.monotonic()
        with pytest.raises(DataError) as err:
            derived(design, tmp_path)
        seconds = time.monotonic() - started
        silent.settimeout(0.2)
        attempts = 0
        with contextlib.suppress(TimeoutError):
            while True:  # the connections the reader opened wait in the listening socket's queue
                silent.accept()[0].close()
                attempts += 1
    assert attempts == 1  # one connection for the two outcomes that share the source
    assert seconds < 5
    assert len(err.value.problems) == 1
    p = only_problem(err)
    assert p.code == ProblemCode.UNREADABLE and "connect_timeout 2 s" in p.message
    assert "outcomes[0].survey.source.password_env" in p.message
