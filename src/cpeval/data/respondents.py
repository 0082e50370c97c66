"""Survey microdata (one row per respondent) from where they live: CSV or Parquet files (a file, a glob or a
folder), a DuckDB file or PostgreSQL, through the reader incident records use
(:func:`cpeval.data.incidents.open_source`: read-only, no password in the design, only the needed columns).

Every value is read in one form whatever the storage, so the same respondents give the same frame from every
source: numbers as doubles (a text column whose every value is a number counts as numbers, as a CSV reader
would take it), dates and timestamps as they are, anything else -- and the area column always -- as text. Rows
come sorted by all their values, so weighted sums over respondents add in the same order however the rows were
stored. The rows read are fingerprinted as incident records are (``survey_rows_sha256``, version 1: the sha256 of
``cpeval-rows-v1``, the DuckDB version and the columns' names, the row count and the exact sums over rows of two
64-bit DuckDB hashes of the row's values as text); it depends on the values only, not on row order or storage.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from cpeval.data.incidents import duck_session, hash_header, hash_sql, open_source, rows_fingerprint
from cpeval.data.sources import Source
from cpeval.data.sql import quote_ident as q
from cpeval.errors import DataError, Problem, ProblemCode

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.outcomes import OutcomeSpec

_READS: ContextVar[dict | None] = ContextVar("cpeval_survey_reads", default=None)

_NUMBER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                 "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL")
_TIME_TYPES = ("DATE", "TIMESTAMP")


def _kind(duck_type: str) -> str:
    t = duck_type.upper()
    if t in _NUMBER_TYPES or t.startswith("DECIMAL"):
        return "number"
    return "time" if t.startswith(_TIME_TYPES) else "text"


def read_respondents(design: DesignBase, source: Any, needed: dict[str, str], *, text: list[str],
                     numeric: list[str], key: str) -> Source:
    """The ``needed`` columns (column -> the design key naming it) of a survey ``source`` (a
    :data:`cpeval.designs.data_source.DataSource`), in the forms the module docstring gives.

    ``text`` columns are always text (area ids keep leading zeros); ``numeric`` columns must hold numbers (a
    value that is not one is a ``non_numeric`` problem naming the column). ``key`` is the design key of the
    survey (``outcomes[2].survey``). The Source's ``provenance`` has ``survey_source``, ``survey_query``,
    ``survey_rows_read`` and ``survey_rows_sha256``; its ``sha256`` is the rows' fingerprint.
    """
    import duckdb

    where = getattr(source, "path", None) or getattr(source, "url", "")
    label = f"{key}.source ({source.kind}: {where})"
    with duck_session("cpeval-survey-") as (con, tmp):
        relation, query, types = open_source(con, design, source, needed, text, tmp, label, f"{key}.source",
                                             "the survey rows")
        kinds = {c: "text" if c in text else _kind(t) for c, t in types.items()}
        try:
            _numbers_in_text(con, relation, kinds, [c for c in types if c not in text], numeric, needed, label)
            exprs = {c: _canonical(c, kinds[c]) for c in types}
            select = ", ".join(f"{e} AS {q(c)}" for c, e in exprs.items())
            frame = con.execute(f"SELECT {select} FROM {relation} ORDER BY ALL").df()
            h1, h2 = hash_sql([f"CAST({q(c)} AS VARCHAR)" for c in exprs])
            rows, s1, s2 = con.execute(
                f"SELECT count(*), CAST(coalesce(sum(h1), 0) AS VARCHAR), CAST(coalesce(sum(h2), 0) AS VARCHAR) "
                f"FROM (SELECT {h1} AS h1, {h2} AS h2 FROM (SELECT {select} FROM {relation}))").fetchone()
        except duckdb.Error as exc:
            from cpeval.data.incidents import duck_error

            raise duck_error(exc, label, f"; check {key}.source") from None
    if frame.empty:
        raise DataError(label, [Problem(ProblemCode.EMPTY, None, f"the survey has no respondent rows; check "
                                        f"{key}.source (its table, query or files)")])
    header = hash_header([f"{c}:{kinds[c]}" for c in exprs])
    sha = rows_fingerprint(header, int(rows), int(s1), int(s2))
    provenance = {
        "survey_source": label.removeprefix(f"{key}.source (").removesuffix(")"),
        "survey_query": f"SELECT {', '.join(q(c) for c in types)} FROM {query}",
        "survey_rows_read": int(rows),
        "survey_rows_sha256": sha,
    }
    return Source(frame=frame, label=label, sha256=sha, provenance=provenance)


def _canonical(column: str, kind: str) -> str:
    if kind == "number":
        return f"CAST({q(column)} AS DOUBLE)"
    if kind == "time":
        return q(column)
    return f"CAST({q(column)} AS VARCHAR)"


def _numbers_in_text(con, relation: str, kinds: dict[str, str], free: list[str],  # type: ignore[no-untyped-def]
                     numeric: list[str], needed: dict[str, str], label: str) -> None:
    """Text columns among ``free`` whose every value is a number become numbers (``kinds`` is updated); a
    ``numeric`` column with other text is an error listing a few of the values."""
    candidates = [c for c in free if kinds[c] == "text"]
    if not candidates:
        return
    counts = ", ".join(
        f"count({q(c)}) FILTER (WHERE TRY_CAST(trim(CAST({q(c)} AS VARCHAR)) AS DOUBLE) IS NULL), count({q(c)})"
        for c in candidates)
    found = con.execute(f"SELECT {counts} FROM {relation}").fetchone()
    problems = []
    for i, c in enumerate(candidates):
        bad, present = int(found[2 * i]), int(found[2 * i + 1])
        if bad == 0 and present > 0:
            kinds[c] = "number"
        elif c in numeric and bad:
            shown = [r[0] for r in con.execute(
                f"SELECT DISTINCT CAST({q(c)} AS VARCHAR) AS v FROM {relation} WHERE {q(c)} IS NOT NULL AND "
                f"TRY_CAST(trim(CAST({q(c)} AS VARCHAR)) AS DOUBLE) IS NULL ORDER BY v LIMIT 5").fetchall()]
            problems.append(Problem(ProblemCode.NON_NUMERIC, c, (
                f"named by {needed[c]}: {bad} of {present} values are not numbers (e.g. "
                f"{', '.join(repr(v) for v in shown)}); store numbers only (leave a value empty when it is missing)")))
    if problems:
        raise DataError(label, problems)



@contextlib.contextmanager
def reads_shared() -> Iterator[None]:
    """Within this block, each survey source is read once (and a failed read fails once) however many outcomes
    name it; outside it, every call reads."""
    token = _READS.set({})
    try:
        yield
    finally:
        _READS.reset(token)


def read_survey_source(design: DesignBase, source: Any) -> Source:
    """The respondent rows of a ``survey.source``: read once per derivation for all the outcomes that name the
    same source (the columns any of them needs), and a failed read is reported once."""
    needed: dict[str, str] = {}
    text: list[str] = []
    numeric: list[str] = []
    first = None
    for i, x in enumerate(design.outcomes):
        s = x.survey
        if s is None or s.source != source:
            continue
        first = f"outcomes[{i}].survey" if first is None else first
        unit, weights = s.unit or design.data.unit, s.weights
        for c, k in survey_columns(x, unit, s.wave or design.data.time, weights, f"outcomes[{i}].survey").items():
            needed.setdefault(c, k)
        text.append(unit)
        numeric += [c for c in (weights, x.victimisation.column if x.victimisation else None) if c]
    assert first is not None
    text, numeric = list(dict.fromkeys(text)), list(dict.fromkeys(numeric))
    reads = _READS.get()
    cache_key = (source.model_dump_json(), tuple(needed), tuple(text), tuple(numeric))
    if reads is not None and cache_key in reads:
        hit = reads[cache_key]
        if isinstance(hit, DataError):
            raise hit
        return hit
    try:
        read = read_respondents(design, source, needed, text=text, numeric=numeric, key=first)
    except DataError as exc:
        if reads is not None:
            reads[cache_key] = exc
        raise
    if reads is not None:
        reads[cache_key] = read
    return read


def survey_columns(o: OutcomeSpec, unit: str, wave: str | None, weights: str | None, key: str) -> dict[str, str]:
    """The respondent columns a survey outcome reads, mapped to the design key that names each."""
    needed = {unit: f"{key}.unit"}
    if wave:
        needed.setdefault(wave, f"{key}.wave")
    if weights:
        needed.setdefault(weights, f"{key}.weights")
    if o.fear is not None:
        for c in o.fear.columns:
            needed.setdefault(c, f"{key.removesuffix('.survey')}.fear")
    else:
        needed.setdefault(o.victimisation.column, f"{key.removesuffix('.survey')}.victimisation.column")  # type: ignore[union-attr,arg-type]
    return needed
