"""Unit-cost tables and price deflators, with their provenance.

A unit-cost table has one row per cost component of an offence category (see ``tables/README.md``). A
perspective's unit cost of a category is the sum of the components whose ``perspectives`` include it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cpeval.data.sources import read_sidecar, read_table, relative_to
from cpeval.designs.cost_benefit import PERSPECTIVES
from cpeval.errors import DesignError, did_you_mean

TABLES_DIR = Path(__file__).resolve().parent / "tables"
SHIPPED_TABLES = ("mccollister_2010", "home_office_2018")
DEFAULT_DEFLATOR = {"GBP": "uk_cpi", "USD": "us_cpi_u"}
REQUIRED_COLUMNS = ("category", "amount", "currency", "price_year")
STAGES = ("anticipation", "consequence", "response", "all")  # "all": a total over the three stages
KINDS = ("tangible", "intangible", "mixed")  # "mixed": a total of tangible and intangible costs


@dataclass(frozen=True)
class CostComponent:
    category: str
    label: str
    component: str
    stage: str
    kind: str
    perspectives: frozenset[str]
    amount: float
    currency: str
    price_year: int
    source_ref: str = ""


@dataclass(frozen=True)
class UnitCostTable:
    """A validated unit-cost table and its provenance (``meta``: the YAML sidecar, or a note for user CSVs)."""

    name: str
    rows: tuple[CostComponent, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.category for r in self.rows))

    @property
    def perspectives(self) -> tuple[str, ...]:
        """The perspectives the table covers (a table of society totals only covers society)."""
        seen = set().union(*(r.perspectives for r in self.rows))
        return tuple(p for p in PERSPECTIVES if p in seen)

    def components(self, category: str, perspective: str) -> tuple[CostComponent, ...]:
        return tuple(r for r in self.rows if r.category == category and perspective in r.perspectives)

    def unit_cost(self, category: str, perspective: str) -> tuple[float, str, int]:
        """(amount, currency, price_year) of ``category`` for ``perspective``, in the table's prices."""
        if category not in self.categories:
            raise DesignError(
                f"unit-cost table {self.name!r} has no category {category!r}"
                f"{did_you_mean(category, self.categories)}; categories: {', '.join(self.categories)}"
                + (f" (not in this table: {self.meta['not_shipped']})" if self.meta.get("not_shipped") else "")
            )
        comps = [r for r in self.rows if r.category == category]
        if not any(perspective in r.perspectives for r in comps):
            raise DesignError(
                f"unit-cost table {self.name!r}: category {category!r} has no {perspective} component (its rows "
                f"cover {', '.join(sorted(set().union(*(r.perspectives for r in comps))))}); add its {perspective} "
                "rows to the table, or choose a perspective the category covers"
            )
        years = {r.price_year for r in comps}
        currencies = {r.currency for r in comps}
        if len(years) > 1 or len(currencies) > 1:
            raise DesignError(
                f"unit-cost table {self.name!r}: category {category!r} mixes price years {sorted(years)} or "
                f"currencies {sorted(currencies)}; give every component of a category the same ones"
            )
        amount = sum(r.amount for r in comps if perspective in r.perspectives)
        return float(amount), comps[0].currency, comps[0].price_year

    def provenance(self) -> dict[str, Any]:
        keys = ("name", "title", "authors", "publication", "tables", "pages", "price_year", "currency",
                "shipped", "not_shipped", "verification", "not_included", "perspectives", "source")
        return {k: self.meta[k] for k in keys if k in self.meta}


def load_unit_costs(name_or_path: str, base_dir: str | Path | None = None) -> UnitCostTable:
    """Load a shipped table by name or a user CSV (path relative to ``base_dir``, the design's folder)."""
    if name_or_path in SHIPPED_TABLES:
        path = TABLES_DIR / f"{name_or_path}.csv"
        meta = read_sidecar(TABLES_DIR / f"{name_or_path}.yaml", "cost_benefit.unit_costs")
        name = name_or_path
    else:
        path = relative_to(name_or_path, base_dir)
        if not path.suffix.lower() == ".csv" or not path.is_file():
            raise DesignError(
                f"cost_benefit.unit_costs: {name_or_path!r} is neither a shipped table "
                f"({', '.join(SHIPPED_TABLES)}) nor an existing CSV file"
                f"{did_you_mean(name_or_path, SHIPPED_TABLES)}"
            )
        meta = (read_sidecar(path.with_suffix(".yaml"), "cost_benefit.unit_costs")
                or {"source": f"user-supplied table {path.name}"})
        name = path.stem
    rows = _parse_rows(path, name)
    if not rows:
        why = str(meta.get("verification", "")).strip()
        raise DesignError(
            f"cost_benefit.unit_costs: table {name!r} has no rows. {why} Give the path of your own CSV "
            "(columns category, amount, currency, price_year; optional component, perspectives) instead."
        )
    return UnitCostTable(name=name, rows=tuple(rows), meta=meta)


def _parse_rows(path: Path, name: str) -> list[CostComponent]:
    header, rows = read_table(path, f"unit-cost table {path}", "cost_benefit.unit_costs")
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise DesignError(
            f"unit-cost table {path}: missing column(s) {', '.join(missing)}; a table needs "
            f"{', '.join(REQUIRED_COLUMNS)} (optional: component, perspectives, stage, kind, label)"
        )
    out: list[CostComponent] = []
    for i, row in enumerate(rows, start=2):
        where = f"unit-cost table {path}, line {i}"
        try:
            amount = float(row["amount"])
            year = int(float(row["price_year"]))
        except ValueError as exc:
            raise DesignError(f"{where}: amount and price_year must be numbers ({exc})") from exc
        persp = frozenset(p.strip() for p in (row.get("perspectives") or "society").split(";") if p.strip())
        bad = persp - set(PERSPECTIVES)
        if bad:
            raise DesignError(
                f"{where}: unknown perspective(s) {sorted(bad)}; use society, taxpayer, victim separated by ';'"
            )
        component = row.get("component") or "total"
        total = component == "total"  # a total spans stages and kinds unless the row says otherwise
        stage = row.get("stage") or ("all" if total else "consequence")
        kind = row.get("kind") or ("mixed" if total else "tangible")
        if stage not in STAGES or kind not in KINDS:
            raise DesignError(f"{where}: stage must be one of {STAGES} and kind one of {KINDS}")
        out.append(CostComponent(
            category=row["category"], label=row.get("label") or row["category"],
            component=component, stage=stage, kind=kind, perspectives=persp,
            amount=amount, currency=row["currency"].upper(), price_year=year,
            source_ref=row.get("source_ref", ""),
        ))
    return out


@dataclass(frozen=True)
class Deflator:
    """An annual price index: ``reprice(amount, from_year, to_year)``."""

    name: str
    index: dict[int, float]
    meta: dict[str, Any] = field(default_factory=dict)

    def factor(self, from_year: int, to_year: int) -> float:
        for y in (from_year, to_year):
            if y not in self.index:
                raise DesignError(
                    f"deflator {self.name!r} has no value for {y} (it covers {min(self.index)}-{max(self.index)}); "
                    "choose a price_year in that range or supply cost_benefit.deflator as a CSV "
                    "(columns series, year, index)"
                )
        return self.index[to_year] / self.index[from_year]

    def reprice(self, amount: float, from_year: int, to_year: int) -> float:
        return amount if from_year == to_year else amount * self.factor(from_year, to_year)


def load_deflator(name_or_path: str | None, currency: str, base_dir: str | Path | None = None) -> Deflator:
    """The shipped series ``name`` (default by currency) or a user CSV with columns year, index (and
    optionally series, holding one series)."""
    name = name_or_path or DEFAULT_DEFLATOR.get(currency)
    if name is None:
        raise DesignError(
            f"no shipped deflator for currency {currency}; set cost_benefit.deflator to a CSV (series, year, "
            f"index) or to one of {', '.join(sorted(set(DEFAULT_DEFLATOR.values())))}"
        )
    if not name.lower().endswith(".csv"):
        meta_all = read_sidecar(TABLES_DIR / "deflators.yaml", "cost_benefit.deflator")
        index = _read_index(TABLES_DIR / "deflators.csv", name)
        if not index:
            known = sorted(meta_all)
            raise DesignError(f"cost_benefit.deflator: unknown series {name!r}{did_you_mean(name, known)}; "
                              f"shipped: {', '.join(known)}")
        return Deflator(name=name, index=index, meta=meta_all.get(name, {}))
    path = relative_to(name, base_dir)
    if not path.is_file():
        raise DesignError(f"cost_benefit.deflator: file {name!r} not found")
    index = _read_index(path, None)
    if not index:
        raise DesignError(f"cost_benefit.deflator: {path} has no rows; give one row per year (year, index)")
    return Deflator(name=path.stem, index=index)


def _read_index(path: Path, series: str | None) -> dict[int, float]:
    """year -> index for ``series`` (None: the file's only series, as in a user CSV)."""
    where = f"cost_benefit.deflator: {path}"
    header, rows = read_table(path, where, "cost_benefit.deflator")
    missing = [c for c in ("year", "index") if c not in header]
    if missing:
        raise DesignError(f"{where}: missing column(s) {', '.join(missing)}; a deflator needs year and index "
                          "(optional: series)")
    index: dict[int, float] = {}
    names = set()
    for i, row in enumerate(rows, start=2):
        names.add(row.get("series"))
        if series is not None and row["series"] != series:
            continue
        try:
            index[int(row["year"])] = float(row["index"])
        except (TypeError, ValueError) as exc:
            raise DesignError(f"{where}, line {i}: year and index must be numbers ({exc})") from exc
    if series is None and len(names) > 1:
        raise DesignError(f"{where}: holds several series ({', '.join(sorted(map(str, names)))}); keep one "
                          "series in the file")
    return index
