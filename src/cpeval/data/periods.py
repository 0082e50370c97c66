"""Period columns: whole numbers as they are, dates mapped to ordered integer periods.

Estimators count periods (event time = period - first treated period), so a date-valued period column is
mapped at load to integers with a frequency that is declared (``data.frequency``) or inferred:

* ``year``: the calendar year (2004-01-01 -> 2004);
* ``quarter``: 4 x year + quarter - 1 (2004Q2 -> 8017); ``month``: 12 x year + month - 1 (2004-05 -> 24052);
* ``week``: whole weeks since Monday 0001-01-01 (so the same for every day of a Monday-to-Sunday week).

These are positive and consecutive periods differ by one, whatever dates the data start or a unit is treated.

An inferred frequency is the coarsest of year, quarter, month and week in which no two dates share a
period, and the dates must then be evenly spaced one period apart (a gap is an error, since it may be a
wrong date; declare the frequency to accept it). With a declared frequency two dates in one period are an
error. The labels (``2004``, ``2004Q2``, ``2004-05``, ``2004-05-03`` for the week's Monday) are kept for
reports, and a ``first_treated`` column holding dates is mapped the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cpeval.errors import echo

FREQUENCIES = ("year", "quarter", "month", "week")
_MONDAY = np.datetime64("0001-01-01", "D")  # a Monday: week ordinals count whole weeks from it


@dataclass(frozen=True)
class PeriodMap:
    """How the dates of a period column became integers, and each integer's label."""

    frequency: str
    labels: dict[int, str] = field(default_factory=dict)  # of the periods in the data

    def to_periods(self, dates: pd.Series) -> pd.Series:
        """Integer periods of ``dates`` (missing dates stay missing, as float NaN)."""
        return pd.Series(_ordinals(pd.to_datetime(dates), self.frequency), index=dates.index)

    def label(self, period: Any) -> str:
        return self.labels.get(int(period)) or _label(int(period), self.frequency)


def _ordinals(dates: pd.Series | pd.DatetimeIndex, frequency: str) -> np.ndarray:
    d = pd.DatetimeIndex(dates)
    if frequency == "year":
        out = d.year.to_numpy(dtype=float)
    elif frequency == "quarter":
        out = d.year.to_numpy(dtype=float) * 4 + (d.quarter.to_numpy() - 1)
    elif frequency == "month":
        out = d.year.to_numpy(dtype=float) * 12 + (d.month.to_numpy() - 1)
    else:
        days = d.to_numpy().astype("datetime64[D]")
        out = ((days - _MONDAY).astype("int64") // 7).astype(float)
    return np.where(d.isna(), np.nan, out)


def _label(ordinal: int, frequency: str) -> str:
    if frequency == "year":
        return str(ordinal)
    if frequency == "quarter":
        return f"{ordinal // 4}Q{ordinal % 4 + 1}"
    if frequency == "month":
        return f"{ordinal // 12}-{ordinal % 12 + 1:02d}"
    return str(_MONDAY + np.timedelta64(7 * ordinal, "D"))


def _show(date: Any) -> str:
    ts = pd.Timestamp(date)
    return str(ts.date()) if ts == ts.normalize() else str(ts)


def period_map(dates: pd.Series, frequency: str | None) -> PeriodMap | str:
    """The mapping of a date column to integer periods, or a message saying why the dates do not fit."""
    unique = pd.DatetimeIndex(pd.unique(dates.dropna())).sort_values()
    if frequency is None:
        for candidate in FREQUENCIES:
            if len(np.unique(_ordinals(unique, candidate))) == len(unique):
                frequency = candidate
                break
        else:
            a, b = _closest(unique)
            return (f"dates {_show(a)} and {_show(b)} are less than a week apart; periods must be years, quarters, "
                    f"months or weeks: aggregate the data to one of these")
        ords = _ordinals(unique, frequency)
        steps = np.diff(ords)
        if len(steps) and not bool((steps == 1).all()):
            i = int(np.argmax(steps != 1))
            return (f"the dates look {_LY[frequency]} but are not evenly spaced: {_show(unique[i])} to "
                    f"{_show(unique[i + 1])} is {int(steps[i])} {frequency}s; if periods are missing from the "
                    f"data, declare data.frequency: {frequency}; otherwise fix the dates")
    else:
        ords = _ordinals(unique, frequency)
        same = np.flatnonzero(np.diff(ords) == 0)
        if len(same):
            i = int(same[0])
            return (f"dates {_show(unique[i])} and {_show(unique[i + 1])} fall in the same {frequency} "
                    f"(data.frequency: {frequency}); declare a finer frequency or fix the dates")
    labels = {int(o): _show(d) if frequency == "week" else _label(int(o), frequency)
              for o, d in zip(ords, unique, strict=True)}
    return PeriodMap(frequency=frequency, labels=labels)


_LY = {"year": "yearly", "quarter": "quarterly", "month": "monthly", "week": "weekly"}


def _closest(unique: pd.DatetimeIndex) -> tuple[Any, Any]:
    gaps = np.diff(unique.to_numpy())
    i = int(np.argmin(gaps)) if len(gaps) else 0
    return unique[i], unique[min(i + 1, len(unique) - 1)]


def parse_periods(s: pd.Series) -> tuple[pd.Series | None, pd.Series | None, list[Any]]:
    """Read a text period column as numbers or dates, whichever most values are.

    Returns ``(numbers, dates, bad)``: one of the first two is set, ``bad`` lists the values that are
    neither (e.g. ``'thirteen'`` among years)."""
    present = s.notna()
    numbers = pd.to_numeric(s, errors="coerce")
    n_numbers = int((numbers.notna() & present).sum())
    if n_numbers * 2 >= int(present.sum()):
        return numbers, None, list(pd.unique(s[present & numbers.isna()]))
    dates = pd.to_datetime(s, errors="coerce", format="mixed")
    return None, dates, list(pd.unique(s[present & dates.isna()]))


def _some(values: Any, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(echo(v.item() if hasattr(v, "item") else v, 60) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def coerce_periods(
    s: pd.Series, frequency: str | None, keep_dates: bool = False
) -> tuple[pd.Series, PeriodMap | None, str | None]:
    """A period column as integers: ``(periods, how dates were mapped or None, problem or None)``.

    Whole numbers stay as they are; text is read as numbers or dates, whichever most values are, and the
    values that are neither are named; dates are mapped by :func:`period_map` (or kept, with ``keep_dates``).
    """
    if pd.api.types.is_bool_dtype(s):
        return s, None, "period values must be whole numbers (e.g. years) or dates, not true/false"
    if pd.api.types.is_integer_dtype(s):
        return s, None, None
    if pd.api.types.is_float_dtype(s):
        ok = s.dropna()
        bad = ok[~np.isfinite(ok) | (ok != np.round(ok))]
        if len(bad):
            return s, None, (f"period values must be whole numbers (e.g. years) or dates; {len(bad)} rows are "
                             f"not, e.g. {_some(pd.unique(bad), 3)}")
        return (s if s.isna().any() else s.astype("int64")), None, None
    if not pd.api.types.is_datetime64_any_dtype(s):
        numbers, dates, bad = parse_periods(s)
        if bad:  # the unreadable values become missing, so later checks skip these rows
            kind = "whole numbers" if numbers is not None else "dates"
            return (numbers if numbers is not None else dates), None, (  # type: ignore[return-value]
                f"periods must be whole numbers or dates; most values here are {kind}, but "
                f"{len(bad)} distinct values are not: {_some(bad)}")
        if numbers is not None:
            return coerce_periods(numbers, frequency)
        s = dates
    if keep_dates:
        return s, None, None
    mapped = period_map(s, frequency)
    if isinstance(mapped, str):
        return s, None, mapped
    periods = mapped.to_periods(s)
    return (periods if periods.isna().any() else periods.astype("int64")), mapped, None


def cohort_periods(s: pd.Series, periods: PeriodMap) -> tuple[pd.Series, str | None]:
    """A first_treated column of dates in the integer periods of the period column (0 or empty: never
    treated): ``(periods, problem or None)``."""
    if pd.api.types.is_datetime64_any_dtype(s):
        return periods.to_periods(s), None
    never = s.isna() | s.astype(str).str.strip().isin(["0", "0.0", ""])
    dates = pd.to_datetime(s.where(~never), errors="coerce", format="mixed")
    bad = s[~never & dates.isna()]
    if len(bad):
        return s, (f"treatment.first_treated holds dates (as data.time does), or 0 or nothing for never treated; "
                   f"{len(bad)} rows hold something else, e.g. {_some(pd.unique(bad), 3)}")
    return periods.to_periods(dates), None
