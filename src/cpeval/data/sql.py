"""Reading incident records (and survey microdata) from PostgreSQL, safely: no password in the design, a
read-only transaction, a connection timeout, and only the columns the aggregation needs.

The rows are copied out with ``COPY (SELECT ...) TO STDOUT`` (CSV, in the UTC time zone and ISO dates) into a
temporary file that DuckDB then aggregates exactly as it aggregates CSV and Parquet files, so every source goes
through one aggregation and the same records give the same panel wherever they are stored. Memory stays
bounded: the copy streams to disk, and DuckDB reads the file in parallel chunks. The aggregation is not pushed
down into PostgreSQL because cpeval fingerprints every row it reads (see :mod:`cpeval.data.incidents`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from cpeval.errors import DataError, Problem, ProblemCode

if TYPE_CHECKING:
    from cpeval.designs.data_source import SqlSource

# PostgreSQL type OIDs -> the DuckDB type the copied CSV column is read as (anything else: VARCHAR)
_PG_TYPES = {
    16: "BOOLEAN", 20: "BIGINT", 21: "BIGINT", 23: "BIGINT", 700: "DOUBLE", 701: "DOUBLE", 1700: "DOUBLE",
    1082: "DATE", 1114: "TIMESTAMP", 1184: "TIMESTAMPTZ",
}
_SESSION = "-c default_transaction_read_only=on -c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=1"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def relation_sql(table: str | None, query: str | None) -> str:
    """The FROM-clause text of a table (schema.table) or a query (as a subquery)."""
    if table is not None:
        return ".".join(quote_ident(part) for part in table.split("."))
    return f"({query.rstrip().rstrip(';')}) AS q"  # type: ignore[union-attr]


def _engine(source: SqlSource, label: str, key: str):  # type: ignore[no-untyped-def]
    try:
        import sqlalchemy
        from sqlalchemy.pool import NullPool
    except ModuleNotFoundError:
        raise DataError(label, [Problem(ProblemCode.UNREADABLE, None, f"{key} kind: sql needs SQLAlchemy and "
                                        "psycopg: pip install 'cpeval[sql]'")]) from None
    url = sqlalchemy.engine.make_url(source.url).set(drivername="postgresql+psycopg")
    args: dict = {"connect_timeout": source.connect_timeout, "options": _SESSION}
    if source.password_env is not None:
        if source.password_env not in os.environ:
            raise DataError(label, [Problem(ProblemCode.UNREADABLE, None, (
                f"{key}.password_env names {source.password_env!r}, which is not set; export it (or remove "
                "password_env and use PGPASSWORD or ~/.pgpass)"))])
        args["password"] = os.environ[source.password_env]
    return sqlalchemy.create_engine(url, connect_args=args, poolclass=NullPool)


def _explain(exc, source: SqlSource, started: float, key: str) -> str:  # type: ignore[no-untyped-def]
    """One line saying what went wrong, from the driver's error and its SQLSTATE."""
    orig = getattr(exc, "orig", None) or exc
    text = " ".join(str(orig).split())
    state = getattr(orig, "sqlstate", None) or ""
    if state == "25006":  # read_only_sql_transaction
        return f"the query tried to write ({text}); {key} queries run read-only: select rows only"
    if not state or state.startswith(("08", "28", "3D")):  # no connection, bad credentials, no such database
        seconds = time.monotonic() - started
        return (f"cannot connect to {source.url} (gave up after {seconds:.1f} s; connect_timeout "
                f"{source.connect_timeout} s): {text}; check that the server is running and reachable, the user "
                f"and database names, and the password (PGPASSWORD, ~/.pgpass or {key}.password_env)")
    hint = {"42P01": f"; check {key}.table (or the table the query names)",
            "42601": f"; check {key}.query's SQL",
            "42703": "; check the column names"}.get(state, "")
    return f"the database refused the query: {text}{hint}"


def copy_out(source: SqlSource, label: str, table: str | None, query: str | None, columns: list[str] | None,
             dest: Path, key: str = "data.source") -> tuple[dict[str, str], str]:
    """Copy ``columns`` (or, with None, only look at the columns) of a table or query into the CSV file ``dest``;
    ``key`` is the design key of the source, for messages.

    Returns the columns' DuckDB types (every column of the relation when ``columns`` is None) and the relation as
    the design names it (the table, or the query in parentheses). The whole read is one read-only transaction.
    """
    engine = _engine(source, label, key)
    import psycopg
    from sqlalchemy import exc as sa_exc

    relation = relation_sql(table, query)
    started = time.monotonic()
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(postgresql_readonly=True)
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            described = conn.exec_driver_sql(f"SELECT * FROM {relation} LIMIT 0").cursor.description
            types = {d.name: _PG_TYPES.get(d.type_code, "VARCHAR") for d in described}
            if columns is None:
                return types, f"SELECT * FROM {relation}"
            select = f"SELECT {', '.join(quote_ident(c) for c in columns)} FROM {relation}"
            raw = conn.connection.driver_connection
            with raw.cursor() as cur, dest.open("wb") as out, \
                    cur.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy:
                for chunk in copy:
                    out.write(chunk)
            conn.rollback()  # nothing to keep: the transaction only read
    except (sa_exc.DBAPIError, psycopg.Error) as exc:
        raise DataError(label, [Problem(ProblemCode.UNREADABLE, None, _explain(exc, source, started, key))]) from None
    finally:
        engine.dispose()
    return {c: types[c] for c in columns}, table if table is not None else f"({query.strip().rstrip(';')})"  # type: ignore[union-attr]
