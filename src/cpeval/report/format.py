"""Formatting shared by every report section."""

from __future__ import annotations

import re
from typing import Any


def num(x: Any, digits: int = 4) -> str:
    """A number for a report table: floats to ``digits`` significant digits, None as 'n/a', others as is."""
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return str(x)


def slug(name: str) -> str:
    """A file-name-safe version of an outcome name (figure files are named after outcomes)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name)
