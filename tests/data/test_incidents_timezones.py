"""Local times from the transition table (cpeval.data.timezones) equal DuckDB's ICU conversion, timezone(), for
random instants over 1995-2025 in zones with daylight saving, half-hour DST, 45-minute offsets, none, and
Morocco's Ramadan suspensions (both sides use the IANA rules; they agree for the past, which both databases hold)."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from cpeval.data.timezones import local_time_sql, transitions

ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "America/Sao_Paulo",
         "Africa/Casablanca", "Pacific/Chatham"]


@pytest.fixture(scope="module")
def instants():
    rng = np.random.default_rng(20261206)
    lo = int(np.datetime64("1995-01-01", "us").astype(np.int64))
    hi = int(np.datetime64("2026-01-01", "us").astype(np.int64))
    e = rng.integers(lo, hi, 100_000)
    # and the microseconds either side of every London transition
    edges = np.array([s * 1_000_000 for s, _ in transitions("Europe/London", lo, hi)[1:]])
    return np.concatenate([e, edges - 1, edges, edges + 1])


@pytest.mark.parametrize("zone", ZONES)
def test_equals_duckdb_timezone(zone, instants):
    con = duckdb.connect()
    con.register("t", pd.DataFrame({"e": instants}))
    sql = local_time_sql("e", zone, int(instants.min()), int(instants.max()))
    differ = con.execute(f"SELECT count(*) FROM (SELECT {sql} AS a, timezone('{zone}', make_timestamptz(e)) AS b "
                         "FROM t) WHERE a IS DISTINCT FROM b").fetchone()[0]
    assert differ == 0


def test_london_transitions_are_the_known_ones():
    """Hand: BST began 2021-03-28 01:00 UTC and ended 2021-10-31 01:00 UTC (UK Summer Time Order)."""
    lo = int(np.datetime64("2021-01-01", "us").astype(np.int64))
    hi = int(np.datetime64("2021-12-31", "us").astype(np.int64))
    steps = [(str(np.datetime64(s, "s")), off) for s, off in transitions("Europe/London", lo, hi)[1:]]
    assert steps == [("2021-03-28T01:00:00", 3600), ("2021-10-31T01:00:00", 0)]
