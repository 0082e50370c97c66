"""The frozen, JSON-able result of a cost-benefit analysis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cpeval.results import Summarised, jsonable

if TYPE_CHECKING:
    import pandas as pd


def money(x: float | None, currency: str) -> str:
    if x is None:
        return "n/a"
    sign = "-" if x < 0 else ""
    x = abs(x)
    for div, suffix in ((1e9, "bn"), (1e6, "m")):
        if x >= div:
            return f"{currency} {sign}{x / div:,.2f}{suffix}"
    return f"{currency} {sign}{x:,.0f}"


@dataclass(frozen=True)
class CostBenefitResult(Summarised):
    """Present values, NPV, BCR, ROI, cost per crime avoided, break-even effects and their uncertainty."""

    currency: str
    price_year: int
    perspective: str
    horizon_years: int
    discount: str
    unit_cost_table: str
    pv_costs: float
    pv_benefits: float
    npv: float
    bcr: float | None
    roi: float | None
    crimes_avoided: float
    cost_per_crime_avoided: float | None
    outcomes: tuple[dict[str, Any], ...] = ()
    costs: tuple[dict[str, Any], ...] = ()
    schedule: tuple[dict[str, Any], ...] = ()
    break_even: tuple[dict[str, Any], ...] = ()
    by_perspective: tuple[dict[str, Any], ...] = ()
    monte_carlo: Mapping[str, Any] = field(default_factory=dict)
    tornado: tuple[dict[str, Any], ...] = ()
    provenance: Mapping[str, Any] = field(default_factory=dict)
    assumptions: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # outcomes the design estimated but the cost-benefit section does not price (their effects are left out)
    unpriced: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CostBenefitResult:
        """Rebuild from :meth:`to_dict` output (e.g. the ``cost_benefit`` entry of ``results.json``)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in fields})

    @property
    def prob_benefits_exceed_costs(self) -> float | None:
        return self.monte_carlo.get("prob_benefits_exceed_costs")

    def sentence(self) -> str:
        """The plain-language summary a funder reads first (naming what is priced when not everything is)."""
        who = {"society": "society", "taxpayer": "taxpayers", "victim": "victims"}[self.perspective]
        symbol = {"GBP": "£", "USD": "$", "EUR": "€"}.get(self.currency)
        amount = (lambda x: f"{symbol}{x:.2f}") if symbol else (lambda x: f"{x:.2f} {self.currency}")
        priced = ", ".join(o["outcome"] for o in self.outcomes)
        scope = ""
        if self.unpriced:
            scope = (f"Counting only {priced} ({', '.join(u['outcome'] for u in self.unpriced)} estimated but "
                     "not priced): ")
        npv = (f"net present value {money(self.npv, self.currency)}, {self.price_year} prices, "
               f"{self.horizon_years} years")
        if self.bcr is None:
            s = f"{scope}the programme has no costs to compare with; {npv}."
        elif self.bcr >= 0:
            s = (f"{scope}for every {amount(1)} spent, {who} gain{'s' if who == 'society' else ''} "
                 f"{amount(self.bcr)} in avoided costs of crime ({npv}).")
        else:
            effect = "effect" if len(self.outcomes) == 1 else "effects"
            s = (f"{scope}the estimated {effect} on {priced} add{'s' if effect == 'effect' else ''} crime: for every "
                 f"{amount(1)} spent, {who} lose{'s' if who == 'society' else ''} a further {amount(-self.bcr)} "
                 f"({npv}).")
        s = s[0].upper() + s[1:]
        p = self.prob_benefits_exceed_costs
        if p is not None:
            digits = 0 if 0.1 <= p <= 0.9 else 1
            s += f" The chance that benefits exceed costs is {100 * p:.{digits}f}%."
        return s

    def tidy(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{k: v for k, v in self.to_dict().items() if not isinstance(v, (list, dict))}])

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "currency": self.currency, "price_year": self.price_year, "perspective": self.perspective,
            "horizon_years": self.horizon_years, "discount": self.discount,
            "unit_cost_table": self.unit_cost_table, "pv_costs": self.pv_costs,
            "pv_benefits": self.pv_benefits, "npv": self.npv, "bcr": self.bcr, "roi": self.roi,
            "crimes_avoided": self.crimes_avoided, "cost_per_crime_avoided": self.cost_per_crime_avoided,
            "prob_benefits_exceed_costs": self.prob_benefits_exceed_costs, "sentence": self.sentence(),
            "outcomes": list(self.outcomes), "costs": list(self.costs), "schedule": list(self.schedule),
            "break_even": list(self.break_even), "by_perspective": list(self.by_perspective),
            "monte_carlo": dict(self.monte_carlo),
            "tornado": list(self.tornado), "provenance": dict(self.provenance),
            "assumptions": dict(self.assumptions), "warnings": list(self.warnings),
            "unpriced": list(self.unpriced),
        })

    def summary(self) -> str:
        c = self.currency
        lines = [
            f"Cost-benefit ({self.perspective} perspective, {c} {self.price_year} prices, "
            f"{self.horizon_years} years, {self.discount}; unit costs: {self.unit_cost_table})",
            f"  PV costs {money(self.pv_costs, c)}; PV benefits {money(self.pv_benefits, c)}; "
            f"NPV {money(self.npv, c)}; BCR {'n/a' if self.bcr is None else f'{self.bcr:.3f}'}; "
            f"ROI {'n/a' if self.roi is None else f'{100 * self.roi:.1f}%'}",
            f"  crimes avoided {self.crimes_avoided:,.1f}; cost per crime avoided "
            f"{money(self.cost_per_crime_avoided, c)}",
        ]
        for b in self.break_even:
            be = b["break_even_effect"]
            lines.append(f"  break-even effect on {b['outcome']}: "
                         f"{'not reachable' if be is None else f'{be + 0.0:.4g}'} (estimate {b['estimate']:.4g})")
        lines.append(f"  {self.sentence()}")
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)
