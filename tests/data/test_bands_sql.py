"""Time-of-week bands from PostgreSQL (data.source kind: sql): the same bytes as from the files.

Needs the test server of .ci/run (CPEVAL_TEST_PG_* variables); skipped with the install hint without it."""

from __future__ import annotations

import pytest

from cpeval.data.fingerprint import frame_sha256

from .test_bands import REF, ROWS, aggregate, band_design, nonzero
from .test_incidents import store
from .test_sql import _copy_in, pg, source  # noqa: F401  (pg is a fixture)

psycopg = pytest.importorskip("psycopg")


def _load_bands(env: dict[str, str]) -> None:
    with psycopg.connect(env["CPEVAL_TEST_PG_ADMIN_URL"], password=env["CPEVAL_TEST_PG_ADMIN_PASSWORD"],
                         autocommit=True) as con, con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(20261207)")
        if con.execute("SELECT to_regclass('band_hand')").fetchone()[0] is None:
            con.execute("CREATE TABLE band_hand (occurred_at timestamptz, ward text, code text)")
            _copy_in(con, "band_hand", ROWS)


def test_same_band_counts_from_postgresql_as_from_parquet(pg, tmp_path):  # noqa: F811
    _load_bands(pg)
    (tmp_path / "pg").mkdir()
    (tmp_path / "files").mkdir()
    from_pg = aggregate(band_design(source(pg, table="band_hand")), tmp_path / "pg")
    from_files = aggregate(band_design(store(ROWS, "parquet", tmp_path / "files")), tmp_path / "files")
    assert nonzero(from_pg.frame) == REF["nonzero_cells"]
    assert frame_sha256(from_pg.frame) == frame_sha256(from_files.frame)
    assert from_pg.provenance["incident_rows_sha256"] == from_files.provenance["incident_rows_sha256"]


def test_the_hours_design_gives_the_same_results_from_postgresql(pg):  # noqa: F811
    """designs/city_incidents_hours.yaml on the city's records in PostgreSQL (loaded by test_sql's fixture)."""
    import cpeval

    from .test_bands import hours_design_from
    from .test_incidents import CITY, results_without_location

    from_pg = cpeval.evaluate(hours_design_from(source(pg, table="incidents")), quiet=True)
    from_files = cpeval.evaluate(hours_design_from({"kind": "files", "path": str(CITY / "incidents.parquet")}),
                                 quiet=True)
    assert results_without_location(from_pg) == results_without_location(from_files)
