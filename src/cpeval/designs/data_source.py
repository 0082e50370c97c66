"""Where incident records live (``data.source``) and how they become the design's panel (``data.aggregate``).
The same source kinds say where survey microdata live (``outcomes[i].survey.source``).

Pydantic specs only: reading and aggregating are in :mod:`cpeval.data.incidents` and :mod:`cpeval.data.sql`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator, model_validator

from cpeval.designs.strict import StrictModel

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
SQL_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")
PASSWORD_FIX = (
    "credentials never go in a design file: remove the password and give it through PGPASSWORD, a "
    "~/.pgpass entry, or an environment variable named by data.source.password_env (e.g. "
    "password_env: CPEVAL_PG_PASSWORD)"
)


def _table_name(v: str | None) -> str | None:
    if v is not None and not _IDENT.match(v):
        raise ValueError(f"table {v!r} is not a table name (letters, digits and _, optionally schema.table); "
                         "for anything else use query:")
    return v


class _TableOrQuery(StrictModel):
    table: str | None = Field(None, description="A table (or view), optionally schema.table.")
    query: str | None = Field(
        None, description="A read-only SELECT whose rows are the records (incidents, or survey respondents); run "
        "in a read-only transaction."
    )

    @field_validator("table")
    @classmethod
    def _table_ok(cls, v: str | None) -> str | None:
        return _table_name(v)

    @field_validator("query")
    @classmethod
    def _reads_only(cls, v: str | None) -> str | None:
        if v is None:
            return v
        text = re.sub(r"(--[^\n]*|/\*.*?\*/|\s|\()+", " ", v, flags=re.S).strip()
        first = text.split(" ", 1)[0].upper() if text else ""
        if first not in ("SELECT", "WITH", "VALUES", "TABLE", "FROM"):
            raise ValueError(f"query starts with {first or 'nothing'!r}: give one SELECT (cpeval only reads, in a "
                             "read-only transaction)")
        return v

    @model_validator(mode="after")
    def _one_of(self):  # type: ignore[no-untyped-def]
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of 'table' or 'query'")
        return self


class FilesSource(StrictModel):
    """Incident records in CSV or Parquet files, read through DuckDB (never loaded whole into pandas)."""

    kind: Literal["files"]
    path: str = Field(..., description="A .csv or .parquet file, a glob (incidents/*.parquet) or a folder of "
                      "such files; relative to the design file.")
    format: Literal["csv", "parquet"] | None = Field(
        None, description="File format; by default taken from the file names' extension."
    )


class DuckdbSource(_TableOrQuery):
    """A DuckDB database file, opened read-only."""

    kind: Literal["duckdb"]
    path: str = Field(..., description="The .duckdb file, relative to the design file.")


class SqlSource(_TableOrQuery):
    """A PostgreSQL database by URL (through SQLAlchemy and psycopg), queried in a read-only transaction."""

    kind: Literal["sql"]
    url: str = Field(..., description="postgresql://user@host:port/database, without a password.")
    password_env: str | None = Field(
        None, description="Name of an environment variable holding the password (else PGPASSWORD or ~/.pgpass)."
    )
    connect_timeout: int = Field(5, ge=1, le=120, description="Seconds to wait for the server before giving up.")

    @field_validator("url")
    @classmethod
    def _no_password(cls, v: str) -> str:
        parts = urlsplit(v)
        scheme = parts.scheme.lower()
        if scheme not in SQL_SCHEMES:
            raise ValueError(f"url scheme {parts.scheme!r} is not supported; use postgresql://user@host/database")
        if parts.password is not None or any(k.lower() == "password" for k, _ in parse_qsl(parts.query)):
            raise ValueError(f"url contains a password; {PASSWORD_FIX}")
        if not parts.path.strip("/"):
            raise ValueError("url names no database; use postgresql://user@host/database")
        return v

    @field_validator("password_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", v):
            raise ValueError(f"password_env {v!r} must be the name of an environment variable, not a password")
        return v


DataSource = Annotated[FilesSource | DuckdbSource | SqlSource, Field(discriminator="kind")]


class AreaSpec(StrictModel):
    """The unit of each incident: a column of the records, or the boundary polygon its coordinates fall in."""

    column: str | None = Field(None, description="Column holding the area (unit) id.")
    boundaries: str | None = Field(None, description="GeoJSON file of area polygons, relative to the design file.")
    id_property: str | None = Field(None, description="The features' property holding the area id.")
    x: str | None = Field(None, description="Longitude / easting column (same coordinates as the boundaries).")
    y: str | None = Field(None, description="Latitude / northing column.")

    @model_validator(mode="after")
    def _one_way(self) -> AreaSpec:
        if (self.column is None) == (self.boundaries is None):
            raise ValueError("give exactly one of 'column' (an area id column) or 'boundaries' (a GeoJSON file)")
        if self.boundaries is not None and None in (self.id_property, self.x, self.y):
            raise ValueError("boundaries need id_property (the area id in the GeoJSON) and the x and y columns")
        if self.column is not None and any(v is not None for v in (self.id_property, self.x, self.y)):
            raise ValueError("id_property, x and y go with boundaries, not with column")
        return self


class PeriodSpec(StrictModel):
    """The period of each incident, from its timestamp in a declared time zone."""

    column: str = Field(..., description="Timestamp column (with or without a time zone).")
    every: Literal["week", "month", "quarter", "year"] = Field(
        ..., description="Period length: year gives integer years; week (ISO, from Monday), month and quarter "
        "give the date their period starts."
    )
    time_zone: str = Field(
        ..., description="IANA time zone the periods are counted in (e.g. Europe/London). Timestamps with a zone "
        "are converted to it; timestamps without one are taken as local times there."
    )
    start: date | None = Field(None, description="First day of the study window (incidents before it are "
                               "counted as outside the window and left out).")
    end: date | None = Field(None, description="Last day of the study window (inclusive).")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"time_zone {v!r} is not an IANA time zone (e.g. Europe/London, UTC)") from None
        return v

    @model_validator(mode="after")
    def _window(self) -> PeriodSpec:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class OffenceSpec(StrictModel):
    """Counts by offence category, from the records' local offence codes."""

    column: str = Field(..., description="Column holding the local offence code.")
    map: dict[str, str | None] = Field(
        ..., min_length=1, description="Local code -> the design's category (a panel column of counts); null "
        "leaves a code out on purpose. Codes not listed are counted and reported as unmapped."
    )

    @field_validator("map", mode="before")
    @classmethod
    def _codes_as_text(cls, v: object) -> object:
        return {str(k): val for k, val in v.items()} if isinstance(v, dict) else v

    @property
    def categories(self) -> list[str]:
        """The categories in the order the map first names them."""
        return list(dict.fromkeys(c for c in self.map.values() if c is not None))


class VictimSpec(StrictModel):
    """Repeat victimisation per unit and period, from a victim id on each record."""

    column: str = Field(..., description="Victim id column (empty for victimless offences).")
    prefix: str = Field("", description="Prefix of the three columns made: victims (distinct victims), "
                        "repeat_victims (victims of 2+ incidents in the unit-period), repeat_incidents "
                        "(incidents beyond each victim's first).")

    def columns(self) -> tuple[str, str, str]:
        return (f"{self.prefix}victims", f"{self.prefix}repeat_victims", f"{self.prefix}repeat_incidents")


class JoinSpec(StrictModel):
    """A second table of area attributes (population, treatment cohort, ...) joined to the panel."""

    path: str | None = Field(None, description="CSV or Parquet file, relative to the design file.")
    table: str | None = Field(None, description="A table in the same database as the incidents.")
    unit: str | None = Field(None, description="Its area id column (default: data.unit).")
    period: str | None = Field(None, description="Its period column, if the values vary by period (they must "
                               "be in the panel's period form: years, or the period's first day).")
    columns: list[str] = Field(..., min_length=1, description="Columns to bring into the panel.")

    @field_validator("table")
    @classmethod
    def _table_ok(cls, v: str | None) -> str | None:
        return _table_name(v)

    @model_validator(mode="after")
    def _one_of(self) -> JoinSpec:
        if (self.path is None) == (self.table is None):
            raise ValueError("give exactly one of 'path' (a file) or 'table' (in the incidents' database)")
        return self


DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
WEEK_MINUTES = 7 * 1440


class BandSpec(StrictModel):
    """A time-of-week band (e.g. the programme's operating hours): each category is counted inside it and
    outside it, in local wall-clock time of the period's time zone. An hours range that crosses midnight belongs
    to the day it starts on: ``days: [sat], hours: 20:00-04:00`` is Saturday 20:00 to Sunday 04:00."""

    name: str = Field(..., description="Band name: the columns made are <category>_<name> and "
                      "<category>_outside_<name>.")
    days: list[str] = Field(..., description="Days the band starts on: mon, tue, wed, thu, fri, sat, sun (or "
                            "full names).")
    hours: str = Field("00:00-24:00", description="Local wall-clock hours HH:MM-HH:MM, start included, end "
                       "excluded; an end before the start crosses midnight into the next day.")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
            raise ValueError(f"band name {v!r} must be letters, digits and _ (it becomes part of column names), "
                             "e.g. patrol_hours")
        return v

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str]) -> list[str]:
        out = []
        for d in v:
            key = str(d).strip().lower()
            if key in _FULL_DAYS:
                key = DAYS[_FULL_DAYS.index(key)]
            if key not in DAYS:
                raise ValueError(f"unknown day {d!r}; name days as {', '.join(DAYS)} (or in full, e.g. thursday)")
            if key in out:
                raise ValueError(f"day {d!r} is listed twice; list each day once")
            out.append(key)
        if not out:
            raise ValueError("the band has no days, so it covers nothing; list the days it starts on, e.g. "
                             "[thu, fri, sat]")
        return out

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: str) -> str:
        m = _HOURS.match(str(v))
        bad = (f"hours {v!r} is not a range HH:MM-HH:MM of local wall-clock time (e.g. 20:00-04:00; 00:00-24:00 "
               "for whole days)")
        if m is None:
            raise ValueError(bad)
        h1, m1, h2, m2 = map(int, m.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
            raise ValueError(bad + "; hours run 00-23 (24:00 only as an end) and minutes 00-59")
        if h1 * 60 + m1 == (h2 * 60 + m2) % 1440:
            raise ValueError(f"hours {v!r} start and end at the same time, which is ambiguous (nothing or a whole "
                             "day); write 00:00-24:00 for whole days, or give the band's real start and end")
        return f"{h1:02d}:{m1:02d}-{h2:02d}:{m2:02d}"

    def minutes(self) -> tuple[int, int]:
        """Start minute of the day (0-1439) and length in minutes (1-1440)."""
        a, b = self.hours.split("-")
        start = int(a[:2]) * 60 + int(a[3:])
        end = int(b[:2]) * 60 + int(b[3:])
        return start, (end - start) % 1440 or 1440

    def week_intervals(self) -> list[tuple[int, int]]:
        """The band as merged [from, to) minute intervals of the local week from Monday 00:00 (0..10080)."""
        start, length = self.minutes()
        pieces = []
        for d in sorted(DAYS.index(x) for x in self.days):
            a = d * 1440 + start
            b = a + length
            pieces += [(a, min(b, WEEK_MINUTES))] + ([(0, b - WEEK_MINUTES)] if b > WEEK_MINUTES else [])
        merged: list[tuple[int, int]] = []
        for a, b in sorted(pieces):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    @model_validator(mode="after")
    def _not_whole_week(self) -> BandSpec:
        if self.week_intervals() == [(0, WEEK_MINUTES)]:
            raise ValueError(f"band {self.name!r} covers the whole week, so nothing falls outside it; drop days or "
                             "narrow the hours")
        return self


class AggregateSpec(StrictModel):
    """From incident records to the design's unit x period panel of counts."""

    area: AreaSpec
    period: PeriodSpec
    offences: OffenceSpec | None = Field(None, description="Counts by category; without it one column of all "
                                         "incidents, named by 'count'.")
    count: str = Field("incidents", description="Name of the all-incidents column when offences is not given.")
    victims: VictimSpec | None = None
    zero_fill: bool = Field(True, description="A unit-period with no incidents is a row of zeros (the report "
                            "says how many were filled); units come from the boundaries or the join table when "
                            "given, periods from the window (start..end) or the records' first and last.")
    join: JoinSpec | None = None
    bands: list[BandSpec] = Field(default_factory=list, description="Time-of-week bands (e.g. a programme's "
                                  "operating hours): each category is also counted inside each band "
                                  "(<category>_<band>) and outside it (<category>_outside_<band>); the two add up "
                                  "to the category's count.")

    def band_columns(self) -> list[tuple[str, str, str, str]]:
        """(band, category, inside column, outside column) for each band and category, in that order."""
        categories = self.offences.categories if self.offences is not None else [self.count]
        return [(b.name, c, f"{c}_{b.name}", f"{c}_outside_{b.name}") for b in self.bands for c in categories]

    @model_validator(mode="after")
    def _band_names(self) -> AggregateSpec:
        from cpeval.designs.strict import unique_names

        unique_names(self.bands, "band")
        taken = {c: "an offence category" for c in (self.offences.categories if self.offences else [self.count])}
        taken.update(dict.fromkeys(self.victims.columns() if self.victims else (), "a data.aggregate.victims column"))
        taken.update(dict.fromkeys(self.join.columns if self.join else (), "a data.aggregate.join column"))
        for band, _, inside, outside in self.band_columns():
            for col in (inside, outside):
                if col in taken:
                    raise ValueError(f"bands: band {band!r} makes column {col!r}, which is already {taken[col]}; "
                                     "rename the band (or that column)")
                taken[col] = f"a column of band {band!r}"
        return self
