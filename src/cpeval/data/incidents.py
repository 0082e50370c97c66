"""Incident records -> the design's unit x period panel (``data.source`` + ``data.aggregate``), in DuckDB.

Every source is read through one DuckDB connection: CSV and Parquet files in place, a DuckDB file attached
read-only, PostgreSQL copied out by :mod:`cpeval.data.sql`. Only the columns the aggregation needs are read.
Each record gets its area (a column, or the boundary polygon its coordinates fall in, :mod:`.boundaries`), its
period (the timestamp converted to the declared time zone, then truncated), and its offence category (the local
code looked up in the design's map); DuckDB counts records per area, period and code, and repeat victims per
area and period. Empty unit-periods are filled with zeros and a table of area attributes is joined.

Rows read are fingerprinted without sorting them (``incident_rows_sha256``, version 1): each row's fields --
the timestamp as integer microseconds since 1970 (UTC for timestamps with a zone), then the area (or x and y as
doubles), offence code and victim id as text, missing values as SQL NULL -- are hashed by DuckDB's 64-bit
``hash()`` twice (once with a leading ``'cpeval'``), and the fingerprint is the sha256 of ``cpeval-rows-v1``, the
DuckDB version and the fields' names, the row count, and the exact sums of the two hashes over all rows. It does
not depend on row order or on the storage (CSV, Parquet, DuckDB, PostgreSQL), only on the rows' values; it
changes with the DuckDB version (whose hash may change), so two runs compare under the pinned version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import glob as globlib
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.sql import quote_ident as q
from cpeval.errors import DataError, Problem, ProblemCode, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase

_TIME_TYPES = ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP", "DATE", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S")
BATCH = 1 << 18  # rows per Arrow batch when coordinates are located in numpy
DB_ALIAS = "source_db"  # a DuckDB source file attached read-only


@dataclass(frozen=True)
class Aggregated:
    """The panel made from incident records, what was read, and what the report should say about it."""

    frame: pd.DataFrame
    provenance: dict[str, Any]
    warnings: tuple[str, ...] = ()


@dataclass
class Read:
    """The DuckDB relation holding the needed columns of the records, and how it was made."""

    relation: str  # FROM-clause text in the session connection
    types: dict[str, str]
    query: str  # as recorded: the design's own paths and names
    label: str
    join_relation: str | None = None


@contextlib.contextmanager
def duck_session(prefix: str) -> Iterator[tuple[Any, Path]]:
    """A DuckDB connection in bounded memory (1 GB, spilling to a temporary folder) and that folder."""
    import duckdb

    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix)))
        con = stack.enter_context(duckdb.connect(config={"temp_directory": str(tmp / "spill"),
                                                         "preserve_insertion_order": False,
                                                         "memory_limit": "1GB"}))
        with contextlib.suppress(duckdb.InvalidInputException):  # Jupyter without ipywidgets: no bar to turn off
            con.execute("SET enable_progress_bar = false")  # no progress bar on a terminal's stdout
        yield con, tmp


def problem(label: str, code: ProblemCode, column: str | None, msg: str) -> DataError:
    return DataError(label, [Problem(code, column, msg)])


def relative(design: DesignBase, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() or design.origin is None else Path(design.origin).parent / p


def sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def needed_columns(design: DesignBase) -> dict[str, str]:
    """Record columns the aggregation reads, mapped to the design key that names them."""
    agg = design.data.aggregate
    assert agg is not None
    cols = {agg.period.column: "data.aggregate.period.column"}
    if agg.area.column is not None:
        cols.setdefault(agg.area.column, "data.aggregate.area.column")
    else:
        cols.setdefault(agg.area.x, "data.aggregate.area.x")  # type: ignore[arg-type]
        cols.setdefault(agg.area.y, "data.aggregate.area.y")  # type: ignore[arg-type]
    if agg.offences is not None:
        cols.setdefault(agg.offences.column, "data.aggregate.offences.column")
    if agg.victims is not None:
        cols.setdefault(agg.victims.column, "data.aggregate.victims.column")
    return cols


def check_columns(types: dict[str, str], needed: dict[str, str], label: str, what: str) -> None:
    have = ", ".join(list(types)[:15]) + (", ..." if len(types) > 15 else "")
    problems = [
        Problem(ProblemCode.MISSING_COLUMN, col, f"named by {key} but not in {what}{did_you_mean(col, list(types))} "
                f"(its columns: {have}); correct {key} or the column's name")
        for col, key in needed.items() if col not in types
    ]
    if problems:
        raise DataError(label, problems)


def duck_error(exc: BaseException, label: str, hint: str) -> DataError:
    text = " ".join(str(exc).split())
    return problem(label, ProblemCode.UNREADABLE, None, f"{text}{hint}")


def describe(con, relation: str, label: str, hint: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    import duckdb

    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
    except duckdb.Error as exc:
        raise duck_error(exc, label, hint) from None
    return {r[0]: r[1] for r in rows}


def _files(con, design: DesignBase, path_text: str, fmt: str | None, label: str,  # type: ignore[no-untyped-def]
           text_cols: list[str], key: str = "data.source") -> tuple[str, str]:
    """read_csv / read_parquet over the files a path, glob or folder names (sorted), and its recorded form;
    ``key`` is the design key holding the path and format."""
    path = relative(design, path_text)
    if path.is_dir():
        found = {ext: sorted(str(p) for p in path.iterdir() if p.suffix.lower() == ext) for ext in (".csv", ".parquet")}
        kinds = [k for k, v in found.items() if v]
        if len(kinds) != 1:
            which = "no" if not kinds else "both"
            raise problem(label, ProblemCode.FILE_NOT_FOUND, None, f"folder {path} holds {which} .csv and .parquet "
                           f"files; point {key}.path at one kind (e.g. folder/*.parquet)")
        files, ext = found[kinds[0]], kinds[0]
    else:
        files = sorted(globlib.glob(str(path))) if any(ch in path_text for ch in "*?[") else (
            [str(path)] if path.is_file() else [])
        ext = Path(files[0]).suffix.lower() if files else ""
    if not files:
        raise problem(label, ProblemCode.FILE_NOT_FOUND, None, f"no files at {path}; check {key}.path "
                       "(relative to the design file)")
    fmt = fmt or {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}.get(ext)
    if fmt is None:
        raise problem(label, ProblemCode.UNREADABLE, None, f"cannot tell the format of {files[0]}; name files .csv "
                       f"or .parquet, or set {key}.format")
    listed = "[" + ", ".join(sql_text(f) for f in files) + "]"
    if fmt == "parquet":
        return f"read_parquet({listed}, union_by_name = true)", f"read_parquet({sql_text(path_text)})"
    # codes and ids are text even when they look like numbers (a leading zero is part of a code)
    present = describe(con, f"read_csv({listed}, header = true, union_by_name = true)", label,
                       f"; check {key}.path")
    types = "{" + ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in text_cols if c in present) + "}"
    return (f"read_csv({listed}, header = true, types = {types}, union_by_name = true)",
            f"read_csv({sql_text(path_text)})")


def open_source(con, design: DesignBase, src: Any, needed: dict[str, str], text_cols: list[str],  # type: ignore[no-untyped-def]
                tmp: Path, label: str, key: str, what: str) -> tuple[str, str, dict[str, str]]:
    """Make the ``needed`` columns of a files, DuckDB or PostgreSQL source readable in ``con``.

    ``needed`` maps each column to the design key naming it; ``text_cols`` are read as text from CSV (codes and
    ids keep their leading zeros); ``key`` is the design key of the source (``data.source``) and ``what`` names
    its rows in messages. A DuckDB file is attached read-only (as ``DB_ALIAS``); PostgreSQL rows are copied out in
    one read-only transaction to a file in ``tmp``. Returns the
    relation (FROM-clause text), the query as recorded (the design's own path or table), and the needed columns'
    DuckDB types."""
    import duckdb

    if src.kind == "files":
        relation, query = _files(con, design, src.path, src.format, label, text_cols, key)
    elif src.kind == "duckdb":
        path = relative(design, src.path)
        if not path.is_file():
            raise problem(label, ProblemCode.FILE_NOT_FOUND, None, f"no DuckDB file at {path}; check "
                           f"{key}.path (relative to the design file)")
        try:
            con.execute(f"ATTACH {sql_text(str(path))} AS {DB_ALIAS} (READ_ONLY)")
            con.execute(f"USE {DB_ALIAS}")
        except duckdb.Error as exc:
            raise duck_error(exc, label, "; is it a DuckDB database file?") from None
        relation = (f"{DB_ALIAS}.{'.'.join(q(p) for p in src.table.split('.'))}" if src.table is not None
                    else f"({src.query.rstrip().rstrip(';')}) AS q")
        query = src.table if src.table is not None else f"({src.query.strip().rstrip(';')})"
    else:
        from cpeval.data.sql import copy_out

        types, _ = copy_out(src, label, src.table, src.query, None, tmp / "probe.csv", key)
        check_columns(types, needed, label, what)
        types, query = copy_out(src, label, src.table, src.query, list(needed), tmp / "rows.csv", key)
        relation = _read_copied(tmp / "rows.csv", types)
    hint = f"; check {key}.table / query" if src.kind != "files" else f"; check {key}.path"
    types = describe(con, relation, label, hint)
    check_columns(types, needed, label, what)
    return relation, query, {c: types[c] for c in needed}


def open_incidents(con, design: DesignBase, tmp: Path, label: str) -> Read:  # type: ignore[no-untyped-def]
    """Make the records (and the join table, if any) readable in ``con``."""
    src, agg = design.data.source, design.data.aggregate
    assert src is not None and agg is not None
    text_cols = [c for c in (agg.area.column, getattr(agg.offences, "column", None),
                             getattr(agg.victims, "column", None)) if c is not None]
    join = agg.join
    if src.kind == "files" and join is not None and join.table is not None:
        raise problem(label, ProblemCode.UNREADABLE, None, "data.aggregate.join.table needs a database source; for "
                       "files give join.path")
    relation, query, types = open_source(con, design, src, needed_columns(design), text_cols, tmp, label,
                                         "data.source", "the incident records")
    join_rel: str | None = None
    if join is not None and join.table is not None and src.kind == "duckdb":
        join_rel = f"{DB_ALIAS}.{'.'.join(q(p) for p in join.table.split('.'))}"
    elif join is not None and join.table is not None:
        from cpeval.data.sql import copy_out

        jtypes, _ = copy_out(src, label, join.table, None, None, tmp / "probe.csv")
        jcols = list(dict.fromkeys([join.unit or design.data.unit, *([join.period] if join.period else []),
                                    *join.columns]))
        check_columns(jtypes, dict.fromkeys(jcols, "data.aggregate.join"), label, f"table {join.table}")
        jtypes, _ = copy_out(src, label, join.table, None, jcols, tmp / "join.csv")
        join_rel = _read_copied(tmp / "join.csv", jtypes)
    if join is not None and join.path is not None:
        join_rel, _ = _files(con, design, join.path, None, label, [join.unit or design.data.unit],
                             "data.aggregate.join")
    return Read(relation, types, query, label, join_rel)


def _read_copied(path: Path, types: dict[str, str]) -> str:
    columns = "{" + ", ".join(f"{sql_text(c)}: {sql_text(t)}" for c, t in types.items()) + "}"
    return (f"read_csv({sql_text(str(path))}, header = false, columns = {columns}, allow_quoted_nulls = false, "
            "auto_detect = false, delim = ',', quote = '\"', escape = '\"')")


def row_hash(read: Read, design: DesignBase) -> tuple[str, str, str]:
    """SQL for each row's two 64-bit hashes (see the module docstring), and the fingerprint header."""
    agg = design.data.aggregate
    assert agg is not None
    ts, kind = agg.period.column, read.types[agg.period.column]
    parts = [f"epoch_us({q(ts)})" if kind != "DATE" else q(ts)]
    names = [f"time:{'utc' if 'TIME ZONE' in kind else 'local' if kind != 'DATE' else 'date'}"]
    for c in [c for c in needed_columns(design) if c != ts]:
        parts.append(f"CAST({q(c)} AS DOUBLE)" if c in (agg.area.x, agg.area.y) else f"CAST({q(c)} AS VARCHAR)")
        names.append(c)
    return (*hash_sql(parts), hash_header(names))


def hash_sql(fields: list[str]) -> tuple[str, str]:
    """SQL for a row's two 64-bit hashes of ``fields`` (SQL expressions), as the module docstring defines."""
    joined = ", ".join(fields)
    return f"hash({joined})", f"hash('cpeval', {joined})"


def hash_header(names: list[str]) -> str:
    import duckdb

    return f"duckdb {duckdb.__version__}\0" + "\0".join(names)


def local_time(con, read: Read, design: DesignBase, label: str) -> str:  # type: ignore[no-untyped-def]
    """SQL for each record's local wall-clock time (a TIMESTAMP) in the declared time zone."""
    from cpeval.data.timezones import local_time_sql

    agg = design.data.aggregate
    assert agg is not None
    col, kind = agg.period.column, read.types[agg.period.column]
    if kind not in _TIME_TYPES:
        raise problem(label, ProblemCode.BAD_TIME, col, (
            f"data.aggregate.period.column {col!r} holds {kind}, not timestamps; store ISO 8601 timestamps (e.g. "
            "2021-03-04 22:15:00+00) or convert it in a data.source query (e.g. CAST(... AS TIMESTAMPTZ))"))
    if "TIME ZONE" not in kind:
        return f"CAST({q(col)} AS TIMESTAMP)"
    start, end = agg.period.start, agg.period.end
    if start is not None and end is not None:  # records outside the window are only counted as outside it
        lo, hi = (int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()) * 1_000_000
                  for d in (start, end + dt.timedelta(days=1)))
    else:
        lo, hi = con.execute(f"SELECT min(epoch_us({q(col)})), max(epoch_us({q(col)})) FROM {read.relation}").fetchone()
        if lo is None:
            lo = hi = 0
    return local_time_sql(f"epoch_us({q(col)})", agg.period.time_zone, lo, hi)


def period_key(every: str, t: str) -> str:
    return {
        "year": f"year({t})",
        "quarter": f"year({t}) * 4 + quarter({t}) - 1",
        "month": f"year({t}) * 12 + month({t}) - 1",
        "week": f"date_diff('day', DATE '1970-01-05', CAST({t} AS DATE)) // 7",
    }[every]


def key_of_date(every: str, d: Any) -> int:
    import datetime as dt

    return {"year": d.year, "quarter": d.year * 4 + (d.month - 1) // 3, "month": d.year * 12 + d.month - 1,
            "week": (d - dt.date(1970, 1, 5)).days // 7}[every]


def period_values(every: str, keys: np.ndarray) -> np.ndarray:
    """The panel's period values of integer period keys: years, or the first day of each period."""
    keys = np.asarray(keys, dtype=np.int64)
    if every == "year":
        return keys
    if every == "week":
        return (np.datetime64("1970-01-05") + 7 * keys).astype("datetime64[ns]")
    months = keys if every == "month" else keys * 3
    return (np.datetime64("1970-01", "M") + (months - 1970 * 12)).astype("datetime64[D]").astype("datetime64[ns]")


def rows_fingerprint(header: str, rows: int, upper: int, lower: int) -> str:
    digest = hashlib.sha256(b"cpeval-rows-v1\0")
    digest.update(f"{header}\0{rows}\0{upper}\0{lower}".encode())
    return digest.hexdigest()
