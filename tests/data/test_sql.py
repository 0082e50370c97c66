"""Incident records from a real PostgreSQL server (data.source kind: sql): the same results as the files, a
read-only transaction, credentials from the environment, clear errors for bad input and unreachable servers.

The server comes from .ci/run, which starts one and sets CPEVAL_TEST_PG_URL / _PASSWORD (a read-only role) and
CPEVAL_TEST_PG_ADMIN_URL / _PASSWORD (the role owning the tables). Without them the tests that need the server
are skipped with a hint, except under CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import io
import os
import socket
import time

import pandas as pd
import pytest

import cpeval
from _support import DESIGNS
from cpeval.data.aggregate import aggregate_incidents
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, ProblemCode

from .test_incidents import CITY, HAND_ROWS, city_design_from, hand_design, results_without_location

psycopg = pytest.importorskip("psycopg")

HINT = ("PostgreSQL tests need a server: install it (apt-get install postgresql) and run the start_postgres part of "
        ".ci/run, or set CPEVAL_TEST_PG_URL, CPEVAL_TEST_PG_PASSWORD, CPEVAL_TEST_PG_ADMIN_URL and "
        "CPEVAL_TEST_PG_ADMIN_PASSWORD")


@pytest.fixture(scope="module")
def pg() -> dict[str, str]:
    names = ("CPEVAL_TEST_PG_URL", "CPEVAL_TEST_PG_PASSWORD", "CPEVAL_TEST_PG_ADMIN_URL",
             "CPEVAL_TEST_PG_ADMIN_PASSWORD")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true but {', '.join(missing)} not set: .ci/run should have started PostgreSQL. {HINT}")
        pytest.skip(HINT)
    env = {n: os.environ[n] for n in names}
    with psycopg.connect(env["CPEVAL_TEST_PG_ADMIN_URL"], password=env["CPEVAL_TEST_PG_ADMIN_PASSWORD"],
                         autocommit=True) as con:
        _load(con)
    return env


def _copy_in(con, table: str, frame: pd.DataFrame) -> None:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    with con.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv)") as copy:
        copy.write(buf.getvalue())


def _load(con) -> None:
    """The owner's tables for these tests, made once (under a lock: test workers may arrive together)."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(20261206)")
        con.execute("""CREATE TABLE IF NOT EXISTS incidents (incident_id bigint PRIMARY KEY, occurred_at timestamptz
                       NOT NULL, offence_code text, ward text, x double precision, y double precision,
                       victim_id bigint)""")
        if con.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0:  # .ci/run loads it; elsewhere, here
            _copy_in(con, "incidents", pd.read_parquet(CITY / "incidents.parquet"))
        if con.execute("SELECT to_regclass('hand_text_time')").fetchone()[0] is not None:
            return
        con.execute("CREATE TABLE hand (occurred_at timestamptz, ward text, code text, victim bigint)")
        _copy_in(con, "hand", HAND_ROWS)
        con.execute("CREATE TABLE wards (ward text PRIMARY KEY, population bigint, post bigint)")
        _copy_in(con, "wards", pd.DataFrame({"ward": ["A", "B", "C"], "population": [1000, 2000, 1500], "post": 0}))
        con.execute("CREATE TABLE audit (note text)")
        con.execute("""CREATE FUNCTION cpeval_sneaky() RETURNS int LANGUAGE sql AS
                       $$ INSERT INTO audit VALUES ('written'); SELECT 1 $$""")
        con.execute("CREATE TABLE hand_text_time (occurred_at text, ward text, code text, victim bigint)")
        _copy_in(con, "hand_text_time",
                 HAND_ROWS.assign(occurred_at=HAND_ROWS["occurred_at"].dt.strftime("%d/%m/%Y")))


def source(pg: dict[str, str], admin: bool = False, **kw) -> dict:
    prefix = "CPEVAL_TEST_PG_ADMIN" if admin else "CPEVAL_TEST_PG"
    return {"kind": "sql", "url": pg[f"{prefix}_URL"], "password_env": f"{prefix}_PASSWORD", **kw}


def hand(pg, tmp_path, **kw):
    return aggregate_incidents(_load_design(hand_design(source(pg, **kw), tmp_path), tmp_path))


def _load_design(design: dict, tmp_path):
    from _support import write_design
    from cpeval.designs import load_design

    return load_design(write_design(tmp_path, design))


def test_same_results_from_postgresql_as_from_the_files(pg):
    from_pg = cpeval.evaluate(design_from_dict(city_design_from(source(pg, table="incidents"))))
    from_files = cpeval.evaluate(DESIGNS / "city_incidents.yaml")
    assert results_without_location(from_pg) == results_without_location(from_files)
    summary = from_pg.data_summary
    assert summary["incident_source"] == f"sql: {pg['CPEVAL_TEST_PG_URL']}"
    assert summary["incident_query"].endswith("FROM incidents")
    assert summary["incident_rows_read"] == 85121
    assert summary["incident_rows_sha256"] == from_files.data_summary["incident_rows_sha256"]


def test_hand_rows_and_a_joined_table_from_postgresql(pg, tmp_path):
    from .test_incidents import REF, nonzero

    design = hand_design(source(pg, table="hand"), tmp_path)
    design["data"]["aggregate"]["join"] = {"table": "wards", "columns": ["population", "post"]}
    agg = aggregate_incidents(_load_design(design, tmp_path))
    assert nonzero(agg.frame) == REF["nonzero_cells"]
    assert agg.provenance["zero_filled_unit_periods"] == REF["zero_filled_unit_periods"]
    assert agg.frame["population"].tolist() == [1000] * 6 + [2000] * 6 + [1500] * 6


def test_query_from_postgresql(pg, tmp_path):
    agg = hand(pg, tmp_path, query="SELECT * FROM hand WHERE code <> '99Z'")
    assert agg.provenance["incident_rows_read"] == 9 and agg.provenance["incidents_unmapped"] == 0


@pytest.mark.parametrize("admin", [False, True], ids=["read-only role", "owner"])
def test_a_query_that_writes_is_refused(pg, tmp_path, admin):
    """Even as the tables' owner, who may write, cpeval's transaction is read-only: the write is refused."""
    with pytest.raises(DataError) as err:
        hand(pg, tmp_path, admin=admin, query="SELECT * FROM hand WHERE cpeval_sneaky() = 1")
    p = err.value.problems[0]
    assert p.code == ProblemCode.UNREADABLE and "read-only" in p.message
    with psycopg.connect(pg["CPEVAL_TEST_PG_ADMIN_URL"], password=pg["CPEVAL_TEST_PG_ADMIN_PASSWORD"]) as con:
        assert con.execute("SELECT count(*) FROM audit").fetchone()[0] == 0


def test_missing_table(pg, tmp_path):
    with pytest.raises(DataError) as err:
        hand(pg, tmp_path, table="hnad")
    p = err.value.problems[0]
    assert p.code == ProblemCode.UNREADABLE and '"hnad" does not exist' in p.message
    assert "data.source.table" in p.message


def test_query_with_a_syntax_error(pg, tmp_path):
    with pytest.raises(DataError) as err:
        hand(pg, tmp_path, query="SELECT * FORM hand")
    p = err.value.problems[0]
    assert p.code == ProblemCode.UNREADABLE and "syntax error" in p.message and "query's SQL" in p.message


def test_timestamp_column_that_is_not_a_timestamp(pg, tmp_path):
    with pytest.raises(DataError) as err:
        hand(pg, tmp_path, table="hand_text_time")
    p = err.value.problems[0]
    assert p.code == ProblemCode.BAD_TIME and "VARCHAR, not timestamps" in p.message


def test_missing_column(pg, tmp_path):
    design = hand_design(source(pg, table="hand"), tmp_path)
    design["data"]["aggregate"]["victims"]["column"] = "victim_id"
    with pytest.raises(DataError) as err:
        aggregate_incidents(_load_design(design, tmp_path))
    p = err.value.problems[0]
    assert p.code == ProblemCode.MISSING_COLUMN and "'victim'" in p.message


def test_wrong_or_missing_password(pg, tmp_path, monkeypatch):
    monkeypatch.setenv("CPEVAL_TEST_PG_PASSWORD", "not-the-password")
    with pytest.raises(DataError) as err:
        hand(pg, tmp_path, table="hand")
    assert "cannot connect" in err.value.problems[0].message and "password" in err.value.problems[0].message
    assert "not-the-password" not in str(err.value)
    monkeypatch.delenv("CPEVAL_TEST_PG_PASSWORD")
    with pytest.raises(DataError, match=r"CPEVAL_TEST_PG_PASSWORD.*not set"):
        hand(pg, tmp_path, table="hand")


# --- unreachable servers: no PostgreSQL needed -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _aggregate_from(url: str, tmp_path, timeout: int) -> tuple[DataError, float]:
    design = hand_design({"kind": "sql", "url": url, "table": "hand", "connect_timeout": timeout}, tmp_path)
    loaded = _load_design(design, tmp_path)
    started = time.monotonic()
    with pytest.raises(DataError) as err:
        aggregate_incidents(loaded)
    return err.value, time.monotonic() - started


def test_nothing_listening_is_a_clear_error_at_once(tmp_path):
    err, seconds = _aggregate_from(f"postgresql://nobody@127.0.0.1:{_free_port()}/crime", tmp_path, 5)
    assert seconds < 5
    msg = err.problems[0].message
    assert err.problems[0].code == ProblemCode.UNREADABLE
    assert "cannot connect to postgresql://nobody@127.0.0.1" in msg and "server is running" in msg


def test_a_server_that_never_answers_times_out(tmp_path):
    """A socket that accepts connections but says nothing: the connect_timeout (2 s) ends the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        err, seconds = _aggregate_from(f"postgresql://nobody@127.0.0.1:{port}/crime", tmp_path, 2)
    assert 1.5 < seconds < 8
    assert "gave up after" in err.problems[0].message and "connect_timeout 2 s" in err.problems[0].message
