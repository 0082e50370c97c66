"""Turn a design's ``cost_benefit`` section and the validated panel into numeric inputs, before anything is
estimated (so a wrong category or a missing baseline fails fast).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.cba.discount import schedule_from_spec
from cpeval.cba.tables import Deflator, UnitCostTable, load_deflator, load_unit_costs
from cpeval.data.sources import design_folder
from cpeval.errors import DesignError, did_you_mean

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.base import DesignBase
    from cpeval.designs.cost_benefit import CostBenefitSpec, CostItem


@dataclass(frozen=True)
class ValuedOutcome:
    """One outcome priced in the analysis.

    ``conversion`` is ``linear`` (crimes avoided per year = -effect x factor) or ``log`` (= -(exp(effect) - 1)
    x factor, factor = baseline crimes per year).
    """

    outcome: str
    category: str
    label: str
    measure: str
    conversion: str
    factor: float
    factor_note: str
    unit_cost: float  # in the analysis's price year, for the chosen perspective
    unit_cost_table: float  # as published, in the table's price year
    unit_cost_price_year: int
    by_perspective: tuple[tuple[str, float], ...] = ()  # (perspective, unit cost in analysis prices)

    def crimes_avoided(self, effect: np.ndarray | float) -> np.ndarray:
        b = np.asarray(effect, dtype=float)
        return -np.expm1(b) * self.factor if self.conversion == "log" else -b * self.factor

    def effect_for(self, crimes: float) -> float | None:
        """Inverse of :meth:`crimes_avoided`: the effect giving ``crimes`` avoided per year (None if unreachable)."""
        if self.factor == 0:
            return None
        if self.conversion == "log":
            share = 1.0 - crimes / self.factor
            return math.log(share) if share > 0 else None
        return -crimes / self.factor


@dataclass(frozen=True)
class CbaInputs:
    spec: CostBenefitSpec
    schedule: tuple[tuple[int, float], ...]
    costs: np.ndarray  # programme cost by year, analysis prices (residual values negative)
    cost_items: tuple[dict[str, Any], ...]
    outcomes: tuple[ValuedOutcome, ...]
    table: UnitCostTable
    deflator: Deflator
    seed: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def prepare(design: DesignBase, panel: Panel | None = None) -> CbaInputs:
    """Validate the ``cost_benefit`` section against the design, its tables and (if given) the data."""
    spec = design.cost_benefit
    if spec is None:
        raise DesignError(f"{design.origin or '<design>'}: the design has no cost_benefit section")
    base_dir = design_folder(design) or Path.cwd()
    where = "cost_benefit"
    names = {o.name: o for o in design.outcomes}
    for name in spec.outcomes:
        if name not in names:
            raise DesignError(
                f"{where}.outcomes: {name!r} is not an outcome of the design{did_you_mean(name, names)}; "
                f"outcomes: {', '.join(names)}"
            )
    table = load_unit_costs(spec.unit_costs, base_dir)
    deflator = load_deflator(spec.deflator, spec.currency, base_dir)
    notes: list[str] = []
    valued = []
    categories = [spec.valuation(name).category for name in spec.outcomes]
    covered = [p for p in table.perspectives  # perspectives every valued category has components for
               if all(table.components(c, p) for c in categories if c in table.categories)]
    for name in spec.outcomes:
        o = names[name]
        val = spec.valuation(name)
        if o.better_if != "decrease":
            raise DesignError(
                f"{where}.outcomes.{name}: outcome {name!r} has better_if: increase; cost-benefit prices "
                "crimes avoided, so only outcomes where a decrease is good can be valued"
            )
        try:
            amount, currency, year = table.unit_cost(val.category, spec.perspective)
        except DesignError as exc:  # the table's message, prefixed with the design key to change
            raise DesignError(f"{where}.outcomes.{name}.category: {exc}") from None
        if currency != spec.currency:
            raise DesignError(
                f"{where}.outcomes.{name}: category {val.category!r} of table {table.name!r} is in {currency}, "
                f"the analysis in {spec.currency}; cpeval does not convert currencies: use a table in "
                f"{spec.currency} or set cost_benefit.currency: {currency}"
            )
        if amount == 0:
            notes.append(f"{name}: category {val.category!r} has no cost component in the "
                         f"{spec.perspective} perspective; its crimes avoided are valued at 0")
        conversion, factor, note = _conversion(spec, design, panel, name, o.measure, val)
        label = next((r.label for r in table.rows if r.category == val.category), val.category)
        valued.append(ValuedOutcome(
            outcome=name, category=val.category, label=label, measure=o.measure, conversion=conversion,
            factor=factor, factor_note=note, unit_cost=deflator.reprice(amount, year, spec.price_year),
            unit_cost_table=amount, unit_cost_price_year=year,
            by_perspective=tuple((p, deflator.reprice(table.unit_cost(val.category, p)[0], year, spec.price_year))
                                 for p in covered),
        ))
    costs, items = cost_schedule(spec, deflator)
    return CbaInputs(
        spec=spec, schedule=schedule_from_spec(spec.discount), costs=costs,
        cost_items=tuple(items), outcomes=tuple(valued), table=table, deflator=deflator,
        seed=spec.seed if spec.seed is not None else design.inference.seed, notes=tuple(notes),
    )


def cost_schedule(spec: CostBenefitSpec, deflator: Deflator) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """Programme costs by appraisal year (analysis prices) and one summary row per item."""
    horizon = spec.horizon_years
    total = np.zeros(horizon)
    items = []
    for c in spec.costs:
        v = _item_vector(c, horizon) * deflator.reprice(c.amount * (c.quantity or 1.0),
                                                        c.price_year or spec.price_year, spec.price_year)
        total += v
        items.append({
            "item": c.item, "amount": c.amount, "per": c.per, "quantity": c.quantity,
            "price_year": c.price_year or spec.price_year,
            "type": "capital" if c.capital else "recurring" if c.recurring else "one-off",
            "undiscounted_total": float(v.sum()),
        })
    return total, items


def _item_vector(c: CostItem, horizon: int) -> np.ndarray:
    """Multiples of the item's (re-priced) amount paid in each year."""
    v = np.zeros(horizon)
    if c.capital:
        life = int(c.lifetime_years)  # type: ignore[arg-type]
        buys = np.arange(c.year, horizon, life)
        v[buys] = 1.0
        used = horizon - buys[-1]
        if c.residual_value and used < life:
            v[horizon - 1] -= (life - used) / life
    elif c.recurring:
        last = horizon - 1 if c.until_year is None else min(c.until_year, horizon - 1)
        v[c.year: last + 1] = 1.0
    else:
        v[c.year] = 1.0
    return v


def rate_ratio_method(design: Any) -> bool:
    """True if the design's estimator reports a log ratio whatever the measure (known before fitting)."""
    from cpeval.estimation.registry import effect_scale

    return effect_scale(design.kind, design.estimator.method) == "log"


def proportional_effect(design: Any, measure: str) -> bool:
    return measure == "log" or rate_ratio_method(design)


def _conversion(spec: Any, design: Any, panel: Panel | None, name: str, measure: str, val: Any
                ) -> tuple[str, float, str]:
    ppy = spec.periods_per_year
    key = f"cost_benefit.outcomes.{name}"
    if val.scale is not None:
        if rate_ratio_method(design):  # rejected here, before fitting, not after (cost_benefit checks too)
            raise DesignError(
                f"{key}.scale: the effect is a log rate ratio (method {design.estimator.method}), so it cannot "
                "be valued as a change in counts; give baseline_per_year or baseline_column instead of scale"
            )
        return "linear", val.scale, f"declared scale: {val.scale:g} crimes per year per unit of effect"
    if proportional_effect(design, measure):
        return _proportional(design, panel, name, measure, val, key, ppy)
    if measure == "count":
        units = val.units if val.units is not None else _treated_units(panel, key, "units")
        return "linear", units * ppy, f"{units:g} treated units x {ppy:g} periods per year"
    if measure == "rate":
        pop = val.population if val.population is not None else _treated_population(design, panel, key)
        return ("linear", pop / val.rate_per * ppy,
                f"population {pop:,.0f} / {val.rate_per:g} x {ppy:g} periods per year")
    raise DesignError(
        f"{key}: outcome {name!r} has measure {measure!r}, which cpeval cannot turn into crimes avoided; add "
        "scale (crimes avoided per year per unit of effect)"
    )


def _proportional(design: Any, panel: Panel | None, name: str, measure: str, val: Any, key: str, ppy: float
                  ) -> tuple[str, float, str]:
    """Effects on the log scale (log outcomes, Poisson rate ratios): crimes = -(exp(b) - 1) x baseline."""
    if val.baseline_per_year is not None:
        return "log", val.baseline_per_year, f"declared baseline: {val.baseline_per_year:,.1f} crimes per year"
    column, rate_per = val.baseline_column, val.baseline_rate_per
    if column is None and measure == "count":  # a Poisson effect on a count: the outcome is its own baseline
        column = next(o.column for o in design.outcomes if o.name == name)
    if column is not None:
        base, how = _baseline(design, panel, key, column, rate_per)
        return "log", base * ppy, f"baseline {base * ppy:,.1f} crimes per year ({how})"
    what = "a log outcome" if measure == "log" else f"estimated by {design.estimator.method} as a rate ratio"
    raise DesignError(
        f"{key}: outcome {name!r} is {what}, so the effect is a proportional change; add baseline_per_year "
        "(crimes per year without the programme) or baseline_column (a count column to derive it from the data)"
    )


def _need_panel(panel: Panel | None, key: str, what: str) -> Panel:
    if panel is None:
        raise DesignError(f"{key}: {what} is derived from the data; give it explicitly or pass the panel")
    return panel


def _treated_mask(panel: Panel) -> tuple:
    from cpeval.data.panel import TREATED

    frame = panel.frame
    ever = frame.groupby(panel.unit)[TREATED].transform("max") == 1
    return frame, ever


def _treated_units(panel: Panel | None, key: str, what: str) -> float:
    panel = _need_panel(panel, key, what)
    frame, ever = _treated_mask(panel)
    return float(frame.loc[ever, panel.unit].nunique())


def _treated_population(design: Any, panel: Panel | None, key: str) -> float:
    panel = _need_panel(panel, key, "population")
    col = design.data.population
    if col is None:
        raise DesignError(f"{key}: a rate outcome needs the population: set data.population or {key}.population")
    return _sum_of_unit_means(panel, col, scale=None)[0]


def _baseline(design: Any, panel: Panel | None, key: str, column: str, rate_per: float | None
              ) -> tuple[float, str]:
    panel = _need_panel(panel, key, "baseline_column")
    pop = design.data.population
    if rate_per is not None and pop is None:
        raise DesignError(f"{key}.baseline_rate_per: converting rates to counts needs data.population")
    value, how = _sum_of_unit_means(panel, column, scale=(pop, rate_per) if rate_per else None)
    if not value > 0:
        raise DesignError(f"{key}.baseline_column: the derived baseline is {value}; it must be positive")
    return value, f"{column}: {how}"


def _sum_of_unit_means(panel: Panel, column: str, scale: tuple[str, float] | None) -> tuple[float, str]:
    """Sum over treated units of their mean pre-treatment value (counts if ``scale`` converts rates)."""
    from cpeval.data.panel import TREATED

    frame, ever = _treated_mask(panel)
    values = frame[column].astype(float)
    if scale is not None:
        values = values * frame[scale[0]].astype(float) / scale[1]
    pre = ever & (frame[TREATED] == 0)
    n_treated = frame.loc[ever, panel.unit].nunique()
    if bool(pre.any()):
        means = values[pre].groupby(frame.loc[pre, panel.unit]).mean()
        return float(means.sum()), f"sum over {len(means)} treated units of their pre-treatment mean"
    comparison = ~ever
    per_unit = values[comparison].groupby(frame.loc[comparison, panel.unit]).mean().mean()
    return float(per_unit * n_treated), f"comparison units' mean x {n_treated} treated units"
