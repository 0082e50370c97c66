"""Survey microdata from a real PostgreSQL server (outcomes[i].survey.source kind: sql): the same results.json as
the shipped Parquet file, the hand-worked shares, a read-only transaction, clear errors. The server and the
skip/fail rule come from test_sql.py (.ci/run starts it)."""

from __future__ import annotations

import pytest

import cpeval
from _support import DESIGNS
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, ProblemCode
from cpeval.payloads import OutcomeInfo

from .test_incidents import results_without_location
from .test_sql import _copy_in, pg, source  # noqa: F401  (pg is the server fixture)
from .test_survey_source import CITY, HAND_SURVEY, REF, derived, fear_design_with, hand_design

psycopg = pytest.importorskip("psycopg")


@pytest.fixture(scope="module")
def survey_pg(pg):  # noqa: F811
    """The owner's survey tables (made once, under a lock: test workers may arrive together)."""
    import pandas as pd

    with psycopg.connect(pg["CPEVAL_TEST_PG_ADMIN_URL"], password=pg["CPEVAL_TEST_PG_ADMIN_PASSWORD"],
                         autocommit=True) as con, con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(20261207)")
        if con.execute("SELECT to_regclass('survey_hand_text')").fetchone()[0] is None:
            con.execute("""CREATE TABLE survey (respondent bigint PRIMARY KEY, ward text, year bigint, age_group text,
                           weight double precision, times_victimised bigint, safe_after_dark text,
                           worry_burglary bigint, worry_car bigint, worry_violence bigint)""")
            _copy_in(con, "survey", pd.read_parquet(CITY / "survey.parquet"))
            con.execute("CREATE TABLE survey_hand (ward text, year bigint, w double precision, safe text, "
                        "times bigint)")
            _copy_in(con, "survey_hand", HAND_SURVEY)
            con.execute("CREATE TABLE survey_hand_text (ward text, year bigint, w double precision, safe text, "
                        "times text)")
            _copy_in(con, "survey_hand_text", HAND_SURVEY.astype({"times": str}).assign(
                times=lambda f: f["times"].where(f.index != 2, "twice")))
    return pg


def test_same_results_json_from_postgresql_as_from_the_parquet_file(survey_pg):
    from_pg = cpeval.evaluate(design_from_dict(fear_design_with(source(survey_pg, table="survey"))))
    shipped = cpeval.evaluate(DESIGNS / "city_incidents_fear.yaml")
    assert results_without_location(from_pg) == results_without_location(shipped)
    definition = from_pg.effect("worry_index").payload(OutcomeInfo).definition
    assert definition.survey_source == f"sql: {survey_pg['CPEVAL_TEST_PG_URL']}"
    assert definition.survey_query == ('SELECT "ward", "year", "weight", "safe_after_dark", "worry_burglary", '
                                          '"worry_car", "worry_violence", "times_victimised" FROM survey')
    assert definition.survey_rows_read == 19098
    assert definition.survey_sha256 == shipped.effect("worry_index").payload(OutcomeInfo).definition.survey_sha256


def test_hand_worked_shares_from_a_query(survey_pg, tmp_path):
    src = source(survey_pg, query="SELECT * FROM survey_hand WHERE ward IN ('A', 'B')")
    out, info, design = derived(hand_design(src, tmp_path), tmp_path)
    unsafe, victimised = (o.column for o in design.outcomes)
    for cell, value in REF["unsafe_share"].items():
        ward, year = cell.split()
        assert out.loc[(ward, int(year)), unsafe] == pytest.approx(value, rel=1e-15), cell
        assert out.loc[(ward, int(year)), victimised] == pytest.approx(REF["victim_prevalence"][cell], rel=1e-15)
    assert info["unsafe"]["survey_rows_read"] == REF["rows_read"]
    assert info["unsafe"]["survey_query"].endswith("FROM (SELECT * FROM survey_hand WHERE ward IN ('A', 'B'))")


def test_missing_table(survey_pg, tmp_path):
    with pytest.raises(DataError) as err:
        derived(hand_design(source(survey_pg, table="survey_hnad"), tmp_path), tmp_path)
    p = err.value.problems[0]
    assert p.code == ProblemCode.UNREADABLE
    assert "survey_hnad" in p.message and "check outcomes[0].survey.source.table" in p.message


def test_a_query_that_writes_is_refused(survey_pg, tmp_path):
    src = source(survey_pg, query="SELECT cpeval_sneaky() AS s, * FROM survey_hand")
    with pytest.raises(DataError, match=r"outcomes\[0\]\.survey\.source queries run read-only"):
        derived(hand_design(src, tmp_path), tmp_path)


def test_non_numeric_count_in_a_text_column(survey_pg, tmp_path):
    with pytest.raises(DataError) as err:
        derived(hand_design(source(survey_pg, table="survey_hand_text"), tmp_path), tmp_path)
    p = err.value.problems[0]
    assert p.code == ProblemCode.NON_NUMERIC and p.column == "times" and "'twice'" in p.message
