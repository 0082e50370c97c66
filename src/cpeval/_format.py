"""The number formatters of every report section and of the appraisal's Markdown (Markdown and HTML read the
same text). A leaf module: it imports nothing from cpeval, so any layer may use it."""

from __future__ import annotations

import math
import re
from typing import Any


class Suppressed(float):
    """A count withheld by disclosure control: NaN to arithmetic and plots (a gap), ``<threshold`` in text
    whatever the format asked for, and null in JSON."""

    threshold: int

    def __new__(cls, threshold: int) -> Suppressed:
        obj = super().__new__(cls, math.nan)
        obj.threshold = threshold
        return obj

    def __str__(self) -> str:
        return f"<{self.threshold}"

    __repr__ = __str__

    def __format__(self, spec: str) -> str:
        return str(self)


def num(x: Any, digits: int = 4, missing: str = "n/a") -> str:
    """A number for a report table: floats to ``digits`` significant digits, None and NaN as ``missing``,
    others as is."""
    if isinstance(x, Suppressed):
        return str(x)
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return missing
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def interval(lo: float | None, hi: float | None) -> str:
    """``[lo, hi]``, or 'unbounded' when an end is infinite or missing."""
    return f"[{num(lo)}, {num(hi)}]" if bounded(lo, hi) else "unbounded"


def grouped(x: Any, digits: int = 4) -> str:
    """Like :func:`num` with thousands separators; a million or more as a whole number."""
    if isinstance(x, Suppressed):
        return str(x)
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:,.{digits}g}" if abs(x) < 1e6 else f"{x:,.0f}"
    return str(x)


def fixed(x: float | None, digits: int = 4) -> str:
    """``digits`` decimal places; None as 'n/a'."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def formatted(x: float | None, spec: str) -> str:
    """``format(x, spec)``; None as 'n/a'."""
    return "n/a" if x is None else format(x, spec)


def signed_pct(x: float | None, digits: int = 1) -> str:
    """A percentage already in percent units, with its sign: ``+7.8%``."""
    return "n/a" if x is None else f"{x:+.{digits}f}%"


def share(x: float | None, digits: int = 1) -> str:
    """A proportion as a percentage: 0.123 -> ``12.3%``."""
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def pct_interval(est: float, lo: float, hi: float) -> str:
    """The report's one convention for a percentage change and its interval: ``+7.8% [+0.6%, +15.7%]``."""
    return f"{signed_pct(est)} [{signed_pct(lo)}, {signed_pct(hi)}]"


def bounded(*xs: float | None) -> bool:
    """Every value is a finite number (an interval with an infinite or missing end is unbounded)."""
    return all(x is not None and math.isfinite(x) for x in xs)


def slug(name: str) -> str:
    """A file-name-safe version of an outcome name (figure files are named after outcomes)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)
