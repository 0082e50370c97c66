"""Harm (seriousness) indices: offence counts weighted by a table of harm weights.

A weight table maps offence names to weights and carries its provenance (source, year, what one unit means).
Tables ship in ``cpeval/outcomes/tables/`` (``cambridge_chi``, ``ons_css``); a user's own table is a CSV with
the columns ``offence`` and ``weight`` (an optional sidecar ``<file>.json`` gives its ``unit`` and ``source``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpeval.data.sources import design_folder, read_file, read_sidecar, relative_to
from cpeval.errors import DesignError, did_you_mean

if TYPE_CHECKING:
    import pandas as pd

TABLES_DIR = Path(__file__).resolve().parent / "tables"


@dataclass(frozen=True)
class WeightTable:
    """Harm weights by offence, with where they come from."""

    name: str
    weights: dict[str, float]
    labels: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return str(self.meta.get("unit", "harm units"))

    @property
    def total(self) -> float:
        return float(sum(self.weights.values()))

    def weight(self, offence: str, key: str = "seriousness.columns") -> float:
        if offence not in self.weights:
            raise DesignError(
                f"{key}: offence {offence!r} is not in weight table {self.name!r} (it has: "
                f"{', '.join(sorted(self.weights))}){did_you_mean(offence, self.weights)}; use one of those "
                "names, or give your own CSV table with columns offence, weight"
            )
        return self.weights[offence]

    def provenance(self) -> dict[str, Any]:
        keep = ("title", "convention", "unit", "unit_meaning", "year", "values_version", "verified_from", "source")
        return {"table": self.name, **{k: self.meta[k] for k in keep if k in self.meta}}


def available_tables() -> list[str]:
    return sorted(p.stem for p in TABLES_DIR.glob("*.csv"))


def load_weight_table(ref: str, origin: str | None = None) -> WeightTable:
    """A shipped table by name (``cambridge_chi``) or a CSV path (relative to the design file ``origin``)."""
    import pandas as pd

    if not ref.lower().endswith(".csv"):
        path = TABLES_DIR / f"{ref}.csv"
        if not path.is_file():
            shipped = available_tables()
            raise DesignError(
                f"seriousness.weights: {ref!r} is not a shipped weight table (shipped: {', '.join(shipped)})"
                f"{did_you_mean(ref, shipped)}; or give the path of your own CSV with columns offence, weight"
            )
    else:
        path = relative_to(ref, design_folder(origin))
        if not path.is_file():
            raise DesignError(
                f"seriousness.weights: no file at {path}; the path is relative to the design file's folder"
            )
    frame = read_file(path, f"seriousness.weights: {path.name}", "seriousness.weights").frame
    missing = [c for c in ("offence", "weight") if c not in frame.columns]
    if missing:
        raise DesignError(
            f"seriousness.weights: {path.name} needs the columns offence and weight; missing "
            f"{', '.join(missing)} (has: {', '.join(map(str, frame.columns))})"
        )
    weights = pd.to_numeric(frame["weight"], errors="coerce")
    bad = frame.loc[weights.isna() | (weights < 0), "offence"].astype(str).tolist()
    if bad:
        raise DesignError(
            f"seriousness.weights: {path.name}: weights must be numbers >= 0; check offences {', '.join(bad[:5])}"
        )
    offences = frame["offence"].astype(str).str.strip()
    dupes = sorted(set(offences[offences.duplicated()]))
    if dupes:
        raise DesignError(f"seriousness.weights: {path.name}: offences listed twice: {', '.join(dupes)}")
    labels = dict(zip(offences, frame["label"].astype(str), strict=True)) if "label" in frame else {}
    sidecar = path.with_suffix(".json")
    meta: dict[str, Any] = read_sidecar(sidecar, "seriousness.weights")
    meta.setdefault("source", str(path.name) if ref.lower().endswith(".csv") else ref)
    return WeightTable(
        name=str(meta.get("name", path.stem)),
        weights=dict(zip(offences, weights.astype(float), strict=True)),
        labels=labels,
        meta=meta,
    )


def harm_components(
    frame: pd.DataFrame, columns: dict[str, str], table: WeightTable, key: str = "seriousness.columns"
) -> pd.DataFrame:
    """One column per offence: weight x count. Their row sum is the harm index.

    ``columns`` maps offence names (as in the table) to count columns of ``frame``.
    """
    import pandas as pd

    out = {}
    for offence, col in columns.items():
        w = table.weight(offence, f"{key}.{offence}")
        out[offence] = w * pd.to_numeric(frame[col], errors="coerce").astype(float)
    return pd.DataFrame(out, index=frame.index)


def harm_index(frame: pd.DataFrame, columns: dict[str, str], table: WeightTable) -> pd.Series:
    """Sum over offences of weight x count (NaN if any count is missing in the row)."""
    comps = harm_components(frame, columns, table)
    return comps.sum(axis=1, min_count=len(columns))  # one column per offence: NaN unless all are counted
