"""The aggregation step of :mod:`cpeval.data.incidents`: counts per area, period and offence code in DuckDB,
then categories, repeat victims, zero-filling and the joined area attributes on the (small) grouped result."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.data.incidents import (
    BATCH,
    Aggregated,
    Read,
    duck_session,
    key_of_date,
    local_time,
    open_incidents,
    period_key,
    period_values,
    problem,
    row_hash,
    rows_fingerprint,
    sql_text,
)
from cpeval.data.sql import quote_ident as q
from cpeval.data.timezones import rules_version
from cpeval.errors import ProblemCode

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.base import DesignBase


def _select(con, read: Read, design: DesignBase, area: str) -> str:  # type: ignore[no-untyped-def]
    agg = design.data.aggregate
    assert agg is not None
    h1, h2, _ = row_hash(read, design)
    code = f"CAST({q(agg.offences.column)} AS VARCHAR)" if agg.offences else "CAST(NULL AS VARCHAR)"
    victim = f"CAST({q(agg.victims.column)} AS VARCHAR)" if agg.victims else "CAST(NULL AS VARCHAR)"
    cols = ", ".join(q(c) for c in read.types)
    return (f"SELECT {local_time(con, read, design, read.label)} AS t, {area}, {code} AS code, {victim} AS v, "
            f"{h1} AS h1, {h2} AS h2 FROM (SELECT {cols} FROM {read.relation})")


def _located(con, read: Read, design: DesignBase, stats: dict[str, int]):  # type: ignore[no-untyped-def]
    """The boundaries' area ids, and a function that registers ``cpeval_stream``: the records with their
    boundary area, computed in numpy one batch at a time as DuckDB reads the stream (nothing is materialised;
    each scan of the records registers a fresh stream)."""
    import pyarrow as pa

    from cpeval.data.boundaries import locate, read_boundaries
    from cpeval.data.incidents import relative

    area = design.data.aggregate.area  # type: ignore[union-attr]
    bounds = read_boundaries(relative(design, area.boundaries), area.id_property, read.label)
    xy = f"CAST({q(area.x)} AS DOUBLE) AS x, CAST({q(area.y)} AS DOUBLE) AS y"
    select = _select(con, read, design, xy)
    ids = pa.array([str(i) for i in bounds.ids])
    schema = pa.schema([("t", pa.timestamp("us")), ("u", pa.dictionary(pa.int32(), pa.string())),
                        ("code", pa.string()), ("v", pa.string()), ("h1", pa.uint64()), ("h2", pa.uint64())])

    def register() -> None:
        reader = con.cursor().sql(select).to_arrow_reader(BATCH)
        stats["without_coordinates"] = 0

        def batches():  # type: ignore[no-untyped-def]
            for batch in reader:
                x = batch.column("x").to_numpy(zero_copy_only=False)
                y = batch.column("y").to_numpy(zero_copy_only=False)
                idx = locate(bounds, x, y)
                stats["without_coordinates"] += int(np.count_nonzero(np.isnan(x) | np.isnan(y)))
                u = pa.DictionaryArray.from_arrays(pa.array(idx, mask=idx < 0), ids)
                cols = [batch.column(n) for n in ("t", "code", "v", "h1", "h2")]
                yield pa.RecordBatch.from_arrays([cols[0].cast(pa.timestamp("us")), u, *cols[1:]], schema=schema)

        con.register("cpeval_stream", pa.RecordBatchReader.from_batches(schema, batches()))

    return [str(i) for i in bounds.ids], register


WEEK_US = 7 * 86_400 * 1_000_000
MONDAY_US = 4 * 86_400 * 1_000_000  # 1970-01-05 00:00, a Monday, in microseconds since 1970-01-01


def _band_sql(agg: Any, read: Read) -> list[str]:
    """SQL for each band: is the record's local wall-clock time ``t`` inside it?

    ``t`` is the local time of the declared zone (:func:`cpeval.data.incidents.local_time`), so the band follows
    the wall clock through daylight-saving changes. Its place in the local week is microseconds since Monday 00:00
    (1970-01-05 was a Monday), ``w``; the band is a few [from, to) intervals of that week (an hours range crossing
    midnight runs into the next day, Sunday's into Monday's), so each record costs a handful of comparisons."""
    from cpeval.errors import DesignError

    if not agg.bands:
        return []
    if read.types[agg.period.column] == "DATE":
        partial = [b.name for b in agg.bands if b.minutes() != (0, 1440)]
        if partial:
            raise DesignError(f"data.aggregate.bands: band {partial[0]!r} has hours, but {agg.period.column!r} "
                              "holds dates without a time of day; use hours 00:00-24:00 (whole days) or a "
                              "timestamp column")
    return [
        "coalesce(" + " OR ".join(f"(w >= {a * 60_000_000} AND w < {b * 60_000_000})"
                                  for a, b in band.week_intervals()) + ", false)"
        for band in agg.bands
    ]


def run_aggregation(con, design: DesignBase, read: Read, label: str) -> Aggregated:  # type: ignore[no-untyped-def]
    import duckdb

    agg = design.data.aggregate
    assert agg is not None
    stats = {"without_coordinates": 0}
    universe: list[str] | None = None
    rescan = lambda: None  # noqa: E731
    try:
        if agg.area.column is not None:
            con.execute(f"CREATE TEMP VIEW cpeval_rows AS "
                        f"{_select(con, read, design, f'CAST({q(agg.area.column)} AS VARCHAR) AS u')}")
        else:
            universe, rescan = _located(con, read, design, stats)
            rescan()
            con.execute("CREATE TEMP VIEW cpeval_rows AS SELECT t, CAST(u AS VARCHAR) AS u, code, v, h1, h2 "
                        "FROM cpeval_stream")
        start, end = agg.period.start, agg.period.end
        window = " AND ".join(
            [f"t >= TIMESTAMP {sql_text(str(start))}"] * (start is not None)
            + [f"t < TIMESTAMP {sql_text(str(end + dt.timedelta(days=1)))}"] * (end is not None)
        ) or "t IS NOT NULL"
        bands = "".join(f", {sql} AS band{i}" for i, sql in enumerate(_band_sql(agg, read)))
        rows = (f"(SELECT *, ((epoch_us(t) - {MONDAY_US}) % {WEEK_US} + {WEEK_US}) % {WEEK_US} AS w "
                "FROM cpeval_rows)") if agg.bands else "cpeval_rows"
        con.execute(f"CREATE TEMP VIEW cpeval_keyed AS SELECT u, code, v, h1, h2, "
                    f"{period_key(agg.period.every, 't')} AS p, coalesce({window}, false) AS inw{bands} FROM {rows}")
        flags = "".join(f", band{i}" for i in range(len(agg.bands)))
        groups = con.execute(
            f"SELECT u, p, inw, code{flags}, count(*) AS n, CAST(sum(h1) AS VARCHAR) AS h1, "
            "CAST(sum(h2) AS VARCHAR) AS h2 FROM cpeval_keyed GROUP BY ALL"
        ).df()
    except duckdb.Error as exc:
        from cpeval.data.incidents import duck_error

        raise duck_error(exc, label, "") from None
    if groups.empty:
        raise problem(label, ProblemCode.EMPTY, None, "the incident records have no rows")
    _, _, header = row_hash(read, design)
    rows_read = int(groups["n"].sum())
    prov: dict[str, Any] = {
        "incident_source": label.removeprefix("data.source (").removesuffix(")"),
        "incident_query": f"SELECT {', '.join(q(c) for c in read.types)} FROM {read.query}",
        "incident_rows_read": rows_read,
        "incident_rows_sha256": rows_fingerprint(header, rows_read, sum(map(int, groups["h1"])),
                                                 sum(map(int, groups["h2"]))),
        "incident_periods": f"{agg.period.every} in {agg.period.time_zone} (rules of {rules_version()})",
    }
    if agg.bands:
        prov["incident_bands"] = "; ".join(
            f"{b.name}: {', '.join(b.days)} {b.hours}" for b in agg.bands
        ) + f" ({agg.period.time_zone} wall-clock time; hours past midnight belong to the day they start on)"
    warnings: list[str] = []

    def report(key: str, n: int, why: str) -> None:
        prov[key] = n
        if n:
            warnings.append(f"{n} of {rows_read} incident records {why}; they are not counted")

    no_coordinates = stats["without_coordinates"]  # from the first scan (a rescan counts again)
    report("incidents_without_time", int(groups.loc[groups["p"].isna(), "n"].sum()), "have no timestamp")
    if start is not None or end is not None:
        report("incidents_outside_window", int(groups.loc[groups["p"].notna() & ~groups["inw"], "n"].sum()),
               f"fall outside the study window ({start or '...'} to {end or '...'})")
    inside = groups.loc[groups["inw"]]
    no_area = int(inside.loc[inside["u"].isna(), "n"].sum())
    if agg.area.column is not None:
        report("incidents_without_area", no_area, f"have no area ({agg.area.column!r} is empty)")
    else:
        report("incidents_outside_boundaries", no_area, f"lie outside every boundary in {agg.area.boundaries} "
               f"({no_coordinates} of them have no coordinates)")
    inside = inside.loc[inside["u"].notna()]
    if inside.empty:
        raise problem(label, ProblemCode.EMPTY, None, "no incident record has both an area and a period in the "
                       "study window; check data.aggregate.area and period")
    counted, categories = _categorise(inside, agg, label, prov, warnings)
    units = universe if universe is not None else sorted(inside["u"].unique())
    join = _join_table(con, design, read, label) if agg.join is not None else None
    if join is not None and universe is None:
        extra = sorted(set(units) - set(join["u"]))
        if extra:
            n = int(inside.loc[inside["u"].isin(extra), "n"].sum())
            raise problem(label, ProblemCode.UNKNOWN_LABEL, agg.area.column, (
                f"{len(extra)} areas of the incident records are not in the join table ({', '.join(extra[:5])}; "
                f"{n} incidents); add them to the table or correct the area ids"))
        units = sorted(set(join["u"]))
    keys = _period_keys(agg, inside)
    frame = _panel(counted, categories, units, keys, agg, prov)
    if agg.victims is not None:
        rescan()
        frame = _victims(con, frame, agg, categories)
    unit, time = design.data.unit, design.data.time
    frame.insert(1, "_key", frame.pop("p"))
    frame[time] = period_values(agg.period.every, frame.pop("_key").to_numpy())
    frame = frame.rename(columns={"u": unit})
    frame = frame[[unit, time, *[c for c in frame.columns if c not in (unit, time)]]]
    if join is not None:
        frame = _merge_join(frame, join, design, label)
    return Aggregated(frame=frame.reset_index(drop=True), provenance=prov, warnings=tuple(warnings))


def _categorise(inside: pd.DataFrame, agg: Any, label: str, prov: dict, warnings: list[str]):  # type: ignore[no-untyped-def]
    if agg.offences is None:
        return inside.assign(cat=agg.count), [agg.count]
    mapping = agg.offences.map
    known = inside["code"].isin(list(mapping))
    unmapped = inside.loc[~known].groupby("code", dropna=False)["n"].sum().sort_values(ascending=False, kind="stable")
    n_unmapped = int(unmapped.sum())
    listed = ", ".join(f"{'(empty)' if _isna(c) else c}: {int(n)}" for c, n in unmapped.head(10).items())
    prov["incidents_unmapped"] = n_unmapped
    if n_unmapped:
        prov["unmapped_offence_codes"] = listed + (f", ... ({len(unmapped)} codes)" if len(unmapped) > 10 else "")
    cat = inside["code"].map(mapping)
    counted = inside.assign(cat=cat).loc[known & cat.notna()]
    prov["incidents_left_out_by_map"] = int(inside.loc[known & cat.isna(), "n"].sum())
    total = int(inside["n"].sum())
    if counted.empty:
        seen = ", ".join(str(c) for c in unmapped.index[:8])
        raise problem(label, ProblemCode.UNKNOWN_LABEL, agg.offences.column, (
            f"none of the {total} incidents has an offence code that data.aggregate.offences.map counts (codes in "
            f"the records: {seen}{', ...' if len(unmapped) > 8 else ''}); map these codes to the design's categories"))
    if n_unmapped:
        warnings.append(f"{n_unmapped} of {total} incidents have offence codes not in data.aggregate.offences.map "
                        f"({listed}); they are not counted (map them, or map them to null to leave them out)")
    prov["incidents_counted"] = int(counted["n"].sum())
    return counted, agg.offences.categories


def _isna(v: Any) -> bool:
    import pandas as pd

    return bool(pd.isna(v))


def _period_keys(agg: Any, inside: pd.DataFrame) -> np.ndarray:
    p = inside["p"].astype("int64")
    lo = key_of_date(agg.period.every, agg.period.start) if agg.period.start else int(p.min())
    hi = key_of_date(agg.period.every, agg.period.end) if agg.period.end else int(p.max())
    return np.arange(lo, hi + 1, dtype=np.int64)


def _panel(counted: pd.DataFrame, categories: list[str], units: list[str], keys: np.ndarray, agg: Any,
           prov: dict) -> pd.DataFrame:
    import pandas as pd

    counted = counted.assign(p=counted["p"].astype("int64"))
    table = counted.pivot_table(index=["u", "p"], columns="cat", values="n", aggfunc="sum", fill_value=0)
    table = table.reindex(columns=categories, fill_value=0)
    if agg.zero_fill:
        full = pd.MultiIndex.from_product([pd.Index(units, name="u"), pd.Index(keys, name="p")])
        prov["zero_filled_unit_periods"] = int(len(full) - len(full.intersection(table.index)))
        table = table.reindex(full, fill_value=0)
    table = table.astype("int64").sort_index()
    for i, band in enumerate(agg.bands):  # counts inside each band; outside = the category's count - inside
        within = counted.loc[counted[f"band{i}"].astype(bool)]
        split = within.pivot_table(index=["u", "p"], columns="cat", values="n", aggfunc="sum", fill_value=0)
        split = split.reindex(index=table.index, columns=categories, fill_value=0).astype("int64")
        for _, c, inside, outside in (t for t in agg.band_columns() if t[0] == band.name):
            table[inside] = split[c].to_numpy()
            table[outside] = table[c].to_numpy() - split[c].to_numpy()
    table.columns.name = None
    return table.reset_index()


def _victims(con, frame: pd.DataFrame, agg: Any, categories: list[str]) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    import pandas as pd

    codes = "TRUE"
    if agg.offences is not None:
        counted = [c for c, cat in agg.offences.map.items() if cat is not None]
        codes = f"code IN ({', '.join(sql_text(c) for c in counted)})"
    names = agg.victims.columns()
    per = con.execute(
        f"SELECT u, p, count(*) AS {q(names[0])}, count(*) FILTER (WHERE k >= 2) AS {q(names[1])}, "
        f"sum(k) - count(*) AS {q(names[2])} FROM (SELECT u, p, v, count(*) AS k FROM cpeval_keyed "
        f"WHERE inw AND u IS NOT NULL AND v IS NOT NULL AND {codes} GROUP BY u, p, v) GROUP BY u, p"
    ).df()
    per = per.astype({"p": "int64", **dict.fromkeys(names, "int64")})
    out = frame.merge(per, on=["u", "p"], how="left")
    out[list(names)] = out[list(names)].fillna(0).astype("int64")
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)


def _join_table(con, design: DesignBase, read: Read, label: str) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    import duckdb

    join = design.data.aggregate.join  # type: ignore[union-attr]
    unit = join.unit or design.data.unit
    cols = [join.period] if join.period else []
    cols += [c for c in join.columns if c not in (unit, join.period)]
    from cpeval.data.incidents import check_columns, describe

    types = describe(con, read.join_relation, label, "; check data.aggregate.join")
    check_columns(types, dict.fromkeys([unit, *cols], "data.aggregate.join"), label, "the join table")
    try:
        table = con.execute(f"SELECT CAST({q(unit)} AS VARCHAR) AS u, {', '.join(q(c) for c in cols)} "
                            f"FROM {read.join_relation}").df()
    except duckdb.Error as exc:
        from cpeval.data.incidents import duck_error

        raise duck_error(exc, label, "; check data.aggregate.join") from None
    keys = ["u", *([join.period] if join.period else [])]
    dup = table.duplicated(keys)
    if dup.any():
        shown = ", ".join(map(str, table.loc[dup, "u"].head(3)))
        raise problem(label, ProblemCode.DUPLICATE_ROWS, unit, f"the join table has {int(dup.sum())} repeated "
                       f"{' and '.join(keys).replace('u', 'area')} rows (e.g. {shown}); one row each is needed")
    return table


def _merge_join(frame: pd.DataFrame, join_table: pd.DataFrame, design: DesignBase, label: str) -> pd.DataFrame:
    join = design.data.aggregate.join  # type: ignore[union-attr]
    unit, time = design.data.unit, design.data.time
    clash = [c for c in join.columns if c in frame.columns and c not in (unit, join.period)]
    if clash:
        raise problem(label, ProblemCode.DUPLICATE_ROWS, clash[0], f"join column {clash[0]!r} is also a count "
                       "column of the aggregate; rename one of them")
    right = join_table.rename(columns={"u": unit})
    on = [unit]
    if join.period:
        right = right.rename(columns={join.period: time})
        right[time] = right[time].astype(frame[time].dtype)
        on.append(time)
    out = frame.merge(right, on=on, how="left", validate="many_to_one")
    return out.sort_values([unit, time], kind="mergesort")


def aggregate_incidents(design: DesignBase) -> Aggregated:
    """Read ``design.data.source`` and aggregate it as ``design.data.aggregate`` says."""
    src, agg = design.data.source, design.data.aggregate
    assert src is not None and agg is not None
    label = f"data.source ({src.kind}: {getattr(src, 'path', None) or getattr(src, 'url', '')})"
    with duck_session("cpeval-incidents-") as (con, tmp):
        read = open_incidents(con, design, tmp, label)
        return run_aggregation(con, design, read, label)
