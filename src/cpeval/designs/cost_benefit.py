"""The ``cost_benefit:`` section of a design: what the programme cost, what each avoided crime is worth,
and how to treat time and uncertainty. Pydantic specs only; the numerics live in :mod:`cpeval.cba`.

Conventions (documented for users in the field descriptions):

- Appraisal years are 0, 1, ..., ``horizon_years - 1``; year 0 is the present and is not discounted.
- The effect starts in ``effect_start_year`` and holds at its estimated size for ``observed_years``
  years, then loses ``effect_decay`` of its size each year (geometric decay).
- Crimes avoided per year are derived from the effect according to the outcome's measure:
  ``count`` -> -effect x treated units x periods_per_year; ``rate`` -> -effect x population / rate_per x
  periods_per_year; ``log`` (and any effect estimated as a log rate ratio, e.g. ``method: poisson``) ->
  -(exp(effect) - 1) x baseline crimes per year; any other measure -> -effect x ``scale``.
- The baseline is declared (``baseline_per_year``) or derived from a data column (``baseline_column``):
  the sum over treated units of their mean pre-treatment value, per period, times periods_per_year. A
  Poisson count outcome is its own baseline column by default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from cpeval.designs.strict import StrictModel

DISCOUNT_PRESETS: dict[str, str] = {
    "green_book": "HM Treasury Green Book declining schedule: 3.5% (years 0-30), 3.0% (31-75), 2.5% "
    "(76-125), 2.0% (126-200), 1.5% (201-300), 1.0% (301+)",
    "omb_3": "US OMB Circular A-4 (2003): 3% constant",
    "omb_7": "US OMB Circular A-4 (2003): 7% constant",
}
PERSPECTIVES = ("society", "taxpayer", "victim")


def _range_ok(v: tuple[float, float] | None, name: str, lo_bound: float | None = None) -> None:
    if v is None:
        return
    lo, hi = v
    if not lo <= hi:
        raise ValueError(f"{name}: expected [low, high] with low <= high, got [{lo}, {hi}]")
    if lo_bound is not None and lo < lo_bound:
        raise ValueError(f"{name}: values must be >= {lo_bound}, got [{lo}, {hi}]")


# A discount rate outside DISCOUNT_LIMITS is an error (it is almost surely a typo: 3.5 for 0.035, or a sign);
# outside DISCOUNT_USUAL it is a warning. Green Book 3.5% (declining), OMB 3% and 7% are well inside both.
DEFAULT_DISCOUNT_USD = "omb_7"  # OMB Circular A-4 (2003): 7% is the base case, 3% the alternative
DISCOUNT_LIMITS = (-0.05, 0.5)
DISCOUNT_USUAL = (0.0, 0.15)


def _discount_rate_ok(rate: float, key: str = "") -> float:
    lo, hi = DISCOUNT_LIMITS
    if not lo <= rate <= hi:  # also refuses NaN
        raise ValueError(
            f"{key + ': ' if key else ''}a discount rate of {rate:g} is outside [{lo}, {hi}]; a rate is a share "
            "per year (0.035 is "
            "3.5%): write it as a share, or use a preset (green_book, omb_3, omb_7)"
        )
    return rate


def _unusual_rate(rate: float, key: str) -> str | None:
    lo, hi = DISCOUNT_USUAL
    if lo <= rate <= hi:
        return None
    return (f"{key}: a discount rate of {rate:g} is outside the usual range [{lo}, {hi}] (Green Book 0.035, OMB "
            "0.03 and 0.07); check that it is intended, as the net present value depends strongly on it")


class DiscountStep(StrictModel):
    """One step of a custom discount schedule: ``rate`` applies from ``from_year`` until the next step."""

    from_year: int = Field(..., ge=0, description="First year (counted from year 0) this rate applies to.")
    rate: float = Field(..., ge=DISCOUNT_LIMITS[0], le=DISCOUNT_LIMITS[1], description="Annual discount rate, "
                        "e.g. 0.035.")


class CostItem(StrictModel):
    """One itemised programme cost: one-off or recurring, per programme, participant or area."""

    item: str = Field(..., min_length=1, description="What the money buys (officers, cameras, ...).")
    amount: float = Field(..., ge=0, description="Cost per occurrence, per 'per' unit, in 'price_year' prices.")
    year: int = Field(0, ge=0, description="Appraisal year of the (first) payment; year 0 is the present.")
    recurring: bool = Field(False, description="Paid every year from 'year' to 'until_year'.")
    until_year: int | None = Field(
        None, ge=0, description="Last year a recurring cost is paid (default: the last appraisal year)."
    )
    per: Literal["programme", "participant", "area"] = Field(
        "programme", description="Unit the amount refers to; 'participant' and 'area' need 'quantity'."
    )
    quantity: float | None = Field(None, gt=0, description="Number of participants or areas paid for.")
    capital: bool = Field(
        False, description="A capital asset bought in 'year' and replaced every 'lifetime_years' until the "
        "horizon; the unused share of the last purchase is credited back as a residual value in the last "
        "appraisal year (straight-line depreciation)."
    )
    lifetime_years: int | None = Field(None, ge=1, description="Service life of a capital asset, in years.")
    residual_value: bool = Field(
        True, description="Capital only: credit the straight-line residual value at the end of the horizon."
    )
    currency: str | None = Field(None, description="Currency of 'amount'; must equal cost_benefit.currency.")
    price_year: int | None = Field(
        None, description="Price year of 'amount' (default: cost_benefit.price_year); re-priced with the deflator."
    )

    @model_validator(mode="after")
    def _consistent(self) -> CostItem:
        if self.per != "programme" and self.quantity is None:
            raise ValueError(
                f"cost item {self.item!r}: per: {self.per} needs 'quantity' (the number of {self.per}s paid "
                "for); add it, or use per: programme"
            )
        if self.capital and self.lifetime_years is None:
            raise ValueError(
                f"cost item {self.item!r}: a capital item needs 'lifetime_years' (its service life); add it"
            )
        if self.capital and self.recurring:
            raise ValueError(
                f"cost item {self.item!r}: give either capital: true (bought and replaced every "
                "lifetime_years) or recurring: true (paid every year), not both"
            )
        if self.until_year is not None and not self.recurring:
            raise ValueError(f"cost item {self.item!r}: until_year applies only to recurring: true items")
        if self.until_year is not None and self.until_year < self.year:
            raise ValueError(
                f"cost item {self.item!r}: until_year ({self.until_year}) is before year ({self.year})"
            )
        return self


class OutcomeValuation(StrictModel):
    """How one estimated effect becomes crimes avoided per year, and which unit cost prices them."""

    category: str = Field(..., min_length=1, description="Unit-cost category in the chosen table.")
    baseline_per_year: float | None = Field(
        None, gt=0, description="Log outcomes and rate-ratio (Poisson) effects: crimes per year in the treated "
        "areas without the programme."
    )
    baseline_column: str | None = Field(
        None, description="Log outcomes: a data column of counts (or rates, with baseline_rate_per) from "
        "which the baseline is derived: the sum over treated units of their mean pre-treatment value "
        "(comparison units' mean x treated units when there is no pre-treatment period, as in an RCT)."
    )
    baseline_rate_per: float | None = Field(
        None, gt=0, description="If baseline_column holds rates: per how many people (e.g. 100000); the "
        "rate is converted to counts with data.population."
    )
    units: float | None = Field(
        None, gt=0, description="Count outcomes: number of treated units the effect applies to (default: "
        "the treated units in the data)."
    )
    population: float | None = Field(
        None, gt=0, description="Rate outcomes: population the effect applies to (default: the treated "
        "units' mean pre-treatment data.population, summed)."
    )
    rate_per: float = Field(100000, gt=0, description="Rate outcomes: the rate is per this many people.")
    scale: float | None = Field(
        None, gt=0, description="Any measure: crimes avoided per year = -effect x scale (overrides the "
        "derivations above; not allowed for a rate-ratio effect such as method: poisson)."
    )

    @model_validator(mode="after")
    def _one_baseline(self) -> OutcomeValuation:
        if self.baseline_per_year is not None and self.baseline_column is not None:
            raise ValueError(
                f"category {self.category!r}: give baseline_per_year or baseline_column, not both"
            )
        if self.baseline_rate_per is not None and self.baseline_column is None:
            raise ValueError("baseline_rate_per needs baseline_column (the column of rates to convert)")
        return self


class UncertaintySpec(StrictModel):
    """Declared ranges for the Monte Carlo and the tornado chart (the effect is always drawn)."""

    unit_costs: tuple[float, float] | None = Field(
        None, description="[low, high] multipliers of every unit cost, drawn per category from a triangular "
        "law with mode 1 (e.g. [0.75, 1.25]). None: unit costs are fixed."
    )
    costs: tuple[float, float] | None = Field(
        None, description="[low, high] multipliers of total programme costs, triangular with mode 1."
    )
    discount_rate: tuple[float, float] | None = Field(
        None, description="[low, high] constant annual discount rate, drawn uniformly; replaces the "
        "declared schedule in the simulation and the tornado (e.g. [0.02, 0.07])."
    )
    effect_decay: tuple[float, float] | None = Field(
        None, description="[low, high] annual decay of the effect, drawn uniformly (e.g. [0.0, 0.3])."
    )

    @model_validator(mode="after")
    def _ranges(self) -> UncertaintySpec:
        for name in ("unit_costs", "costs"):
            rng = getattr(self, name)
            _range_ok(rng, f"uncertainty.{name}", 0.0)
            if rng is not None and not rng[0] <= 1 <= rng[1]:
                raise ValueError(
                    f"uncertainty.{name}: multipliers [low, high] must include 1 (the declared value), got "
                    f"{list(rng)}; e.g. [0.8, 1.2]"
                )
        _range_ok(self.discount_rate, "uncertainty.discount_rate", DISCOUNT_LIMITS[0])
        if self.discount_rate is not None:
            _discount_rate_ok(self.discount_rate[1], "uncertainty.discount_rate")
        _range_ok(self.effect_decay, "uncertainty.effect_decay", 0.0)
        if self.effect_decay is not None and self.effect_decay[1] > 1:
            raise ValueError(f"uncertainty.effect_decay: a share lost per year, at most 1, got {self.effect_decay}")
        return self


class CostBenefitSpec(StrictModel):
    """Cost-benefit analysis of the estimated effects (UN Guidelines para 23(b))."""

    currency: str = Field(..., min_length=3, max_length=3, description="ISO currency code, e.g. GBP or USD.")
    price_year: int = Field(..., ge=1900, le=2100, description="Prices are expressed in this year's money.")
    perspective: Literal["society", "taxpayer", "victim"] = Field(
        "society", description="society (every cost component) | taxpayer (criminal-justice costs only) | "
        "victim (costs borne by victims); each table declares which components each includes."
    )
    horizon_years: int = Field(10, ge=1, le=500, description="Number of appraisal years (0..horizon-1).")
    discount: float | str | list[DiscountStep] = Field(
        "green_book", description="green_book | omb_3 | omb_7 | a constant rate such as 0.035 | a schedule "
        "[{from_year: 0, rate: 0.035}, {from_year: 31, rate: 0.03}]. Default by currency: omb_7 for USD (OMB "
        "Circular A-4's base case), green_book otherwise."
    )

    @model_validator(mode="before")
    @classmethod
    def _discount_by_currency(cls, raw: Any) -> Any:
        """A USD appraisal is discounted as US federal guidance says unless the design names a schedule."""
        if isinstance(raw, dict) and "discount" not in raw and str(raw.get("currency", "")).upper() == "USD":
            return {**raw, "discount": DEFAULT_DISCOUNT_USD}
        return raw
    effect_decay: float = Field(
        0.0, ge=0, le=1, description="Share of the effect lost each year after the observed period."
    )
    observed_years: int = Field(
        1, ge=0, description="Years the effect holds at its estimated size before it starts to decay."
    )
    effect_start_year: int = Field(0, ge=0, description="Appraisal year in which the effect begins.")
    periods_per_year: float = Field(
        1.0, gt=0, description="Data periods per year (12 for monthly data): per-period effects are "
        "multiplied by this to give annual crimes avoided."
    )
    unit_costs: str = Field(
        ..., description="A shipped table (mccollister_2010, home_office_2018) or a CSV path relative to "
        "the design file with columns category, amount, currency, price_year (optional: component, "
        "perspectives separated by ';', stage, kind, label)."
    )
    deflator: str | None = Field(
        None, description="Price index for re-pricing: uk_cpi | us_cpi_u (default by currency) | a CSV path "
        "relative to the design file with columns year, index (optional: series, one series per file)."
    )
    outcomes: dict[str, str | OutcomeValuation] = Field(
        ..., min_length=1, description="Outcome name -> unit-cost category, or -> {category, baseline...}."
    )
    costs: list[CostItem] = Field(..., min_length=1, description="Itemised programme costs.")
    simulations: int = Field(100000, ge=0, le=10_000_000, description="Monte Carlo draws (0 = none).")
    seed: int | None = Field(None, ge=0, description="Monte Carlo seed (default: inference.seed).")
    uncertainty: UncertaintySpec = Field(default_factory=UncertaintySpec)

    @field_validator("currency")
    @classmethod
    def _upper(cls, v: str) -> str:
        if not v.isalpha():
            raise ValueError(f"expected a three-letter currency code such as GBP or USD, got {v!r}")
        return v.upper()

    @field_validator("discount")
    @classmethod
    def _discount(cls, v: float | str | list[DiscountStep]) -> float | str | list[DiscountStep]:
        if isinstance(v, str):
            if v not in DISCOUNT_PRESETS:
                from cpeval.errors import did_you_mean

                raise ValueError(
                    f"{v!r} is not a discount preset; expected one of {', '.join(DISCOUNT_PRESETS)} or a "
                    f"number such as 0.035{did_you_mean(v, DISCOUNT_PRESETS)}"
                )
        elif isinstance(v, list):
            if not v or v[0].from_year != 0:
                raise ValueError("a discount schedule must start with a step at from_year: 0")
            years = [s.from_year for s in v]
            if years != sorted(set(years)):
                raise ValueError(f"discount schedule from_year values must increase strictly, got {years}")
        else:
            _discount_rate_ok(float(v))
        return v

    def discount_warnings(self) -> list[str]:
        """Discount rates that are allowed but unusual (outside DISCOUNT_USUAL), as warnings."""
        rates: list[tuple[float, str]] = []
        if isinstance(self.discount, list):
            rates += [(s.rate, f"discount[{i}].rate") for i, s in enumerate(self.discount)]
        elif not isinstance(self.discount, str):
            rates.append((float(self.discount), "discount"))
        if self.uncertainty.discount_rate is not None:
            rates += [(r, "uncertainty.discount_rate") for r in self.uncertainty.discount_rate]
        found = [_unusual_rate(rate, f"cost_benefit.{key}") for rate, key in rates]
        return list(dict.fromkeys(w for w in found if w))

    @model_validator(mode="after")
    def _costs_in_horizon(self) -> CostBenefitSpec:
        last = self.horizon_years - 1
        for c in self.costs:
            if c.year > last:
                raise ValueError(
                    f"cost item {c.item!r}: year {c.year} is beyond the horizon (years 0-{last}); raise "
                    "horizon_years or move the cost"
                )
            if c.currency is not None and c.currency.upper() != self.currency:
                raise ValueError(
                    f"cost item {c.item!r}: currency {c.currency} differs from cost_benefit.currency "
                    f"{self.currency}; cpeval does not convert currencies: convert the amount first"
                )
        if self.effect_start_year > last:
            raise ValueError(f"effect_start_year {self.effect_start_year} is beyond the horizon (0-{last})")
        return self

    def valuation(self, outcome: str) -> OutcomeValuation:
        v = self.outcomes[outcome]
        return OutcomeValuation(category=v) if isinstance(v, str) else v

    def data_columns(self) -> dict[str, str]:
        """Data columns this section reads: column -> design key (for data validation)."""
        return {
            val.baseline_column: f"cost_benefit.outcomes.{name}.baseline_column"
            for name in self.outcomes
            if (val := self.valuation(name)).baseline_column
        }
