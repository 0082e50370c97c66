"""The base of every design model (its own module so that any design module can import it)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """Frozen, and a misspelt key is an error rather than a silent default."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def unique_names(items: list, what: str) -> list:
    """``items`` (objects with a ``name``) unchanged, or a ValueError listing the repeated names."""
    names = [x.name for x in items]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} names must be unique; repeated: {', '.join(dupes)}")
    return items
