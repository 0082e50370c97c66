"""The "Cost-benefit" report section and its figures (NPV distribution, tornado chart).

Reads only ``EvaluationResult.cost_benefit`` (a :class:`cpeval.cba.CostBenefitResult`, rendered from its dict).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval._format import formatted, num, share
from cpeval.cba.result import money
from cpeval.report.figures import new_figure, png_bytes
from cpeval.report.section import Section

if TYPE_CHECKING:
    from cpeval.results import EvaluationResult

NPV_FIGURE = "cost_benefit_npv.png"
TORNADO_FIGURE = "cost_benefit_tornado.png"


def _cba(result: EvaluationResult) -> dict[str, Any] | None:
    return result.cost_benefit.to_dict() if result.cost_benefit is not None else None


def render_section(result: EvaluationResult) -> str:
    cba = _cba(result)
    if not cba:
        return ""
    return render_cba_markdown(cba)


def render_cba_markdown(cba: dict[str, Any]) -> str:
    c = cba["currency"]
    mc = cba.get("monte_carlo") or {}
    lines = ["## Cost-benefit", "", f"**{cba['sentence']}**", ""]
    lines += [
        f"Perspective: {cba['perspective']}; {c}, {cba['price_year']} prices; {cba['horizon_years']} years; "
        f"discounting: {cba['discount']}; unit costs: `{cba['unit_cost_table']}`.", "",
        "| measure | value |", "|---|---|",
        f"| present value of costs | {money(cba['pv_costs'], c)} |",
        f"| present value of benefits | {money(cba['pv_benefits'], c)} |",
        f"| net present value | {money(cba['npv'], c)} |",
        f"| benefit-cost ratio | {formatted(cba['bcr'], '.3f')} |",
        f"| return on investment | {share(cba['roi'])} |",
        f"| crimes avoided over the horizon | {formatted(cba['crimes_avoided'], ',.1f')} |",
        f"| cost per crime avoided | {money(cba['cost_per_crime_avoided'], c)} |",
    ]
    if mc:
        q = mc["npv_quantiles"]
        lines += [
            f"| chance benefits exceed costs | {100 * mc['prob_benefits_exceed_costs']:.1f}% |",
            f"| NPV, 90% simulation interval | {money(q['0.05'], c)} to {money(q['0.95'], c)} |",
        ]
    lines += ["", *cost_item_lines(cba)]
    lines += ["", "| outcome | category | effect | crimes avoided / year | unit cost | PV of benefits |",
              "|---|---|---|---|---|---|"]
    for o in cba["outcomes"]:
        lines.append(
            f"| {o['outcome']} | {o['label']} | {o['estimate']:.4g} ({o['measure']}) | "
            f"{o['crimes_avoided_per_year']:,.1f} | {money(o['unit_cost'], c)} | {money(o['pv_benefits'], c)} |"
        )
    for u in cba.get("unpriced") or []:
        lines.append(f"| {u['outcome']} | not priced | {u['estimate']:.4g} ({u['measure']}) | — | — | left out |")
    comps = []
    for o in cba["outcomes"]:
        total = o["unit_cost_as_published"]
        if total and len(o["components"]) > 1:
            parts = ", ".join(f"{x['component'].replace('_', ' ')} ({x['stage']}, {x['kind']}) "
                              f"{100 * x['amount'] / total:.0f}%" for x in o["components"])
            comps.append(f"{o['outcome']}: {parts}")
    if comps:
        lines += ["", f"Unit cost components ({cba['perspective']} perspective): " + "; ".join(comps) + "."]
    if cba.get("by_perspective"):
        lines += ["", "| perspective | PV of benefits | NPV | BCR |", "|---|---|---|---|"]
        for p in cba["by_perspective"]:
            mark = " (chosen)" if p["chosen"] else ""
            lines.append(f"| {p['perspective']}{mark} | {money(p['pv_benefits'], c)} | {money(p['npv'], c)} | "
                         f"{formatted(p['bcr'], '.3f')} |")
    lines += ["", "Crimes avoided per year: " + "; ".join(f"{o['outcome']}: {o['conversion_note']}"
                                                          for o in cba["outcomes"]) + "."]
    lines += ["", "| outcome | estimated effect | break-even effect (NPV = 0) | share of estimated crimes avoided |",
              "|---|---|---|---|"]
    for b in cba["break_even"]:
        of_estimate = b["share_of_estimate"]
        pct = "" if b.get("percent_change") is None else f" ({b['percent_change']:+.3g}%)"
        lines.append(f"| {b['outcome']} | {b['estimate']:.4g} | {formatted(b['break_even_effect'], '.4g')}{pct} | "
                     f"{share(of_estimate)} |")
    if mc:
        dep = mc.get("effect_dependence") or {}
        joint = ""
        if dep.get("correlation"):
            names, r = dep["outcomes"], dep["correlation"]
            pairs = [f"{names[i]}/{names[j]} {r[i][j]:+.2f}"
                     for i in range(len(names)) for j in range(i + 1, len(names))]
            joint = " Sampling correlations of the effects: " + ", ".join(pairs) + "."
        lines += ["", f"Monte Carlo: {mc['draws']:,} draws (seed {mc['seed']}); "
                  + "; ".join(mc["effect_draws"]) + f". Effects drawn: {dep.get('method', 'independently')}.{joint}",
                  "", f"![NPV distribution](figures/{NPV_FIGURE})"]
    if cba.get("tornado"):
        lines += ["", f"![One-way sensitivities](figures/{TORNADO_FIGURE})"]
    if cba.get("schedule"):
        lines += ["", "<details><summary>Year by year (central case)</summary>", "",
                  "| year | discount factor | effect share | crimes avoided | costs | benefits | PV net |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['year']} | {r['discount_factor']:.4f} | {r['effect_share']:.3f} | "
                  f"{r['crimes_avoided']:,.1f} | {money(r['costs'], c)} | {money(r['benefits'], c)} | "
                  f"{money(r['pv_benefits'] - r['pv_costs'], c)} |" for r in cba["schedule"]]
        lines += ["", "</details>"]
    prov = cba.get("provenance") or {}
    if prov:
        lines += ["", f"Unit costs: {prov.get('authors', '')}, *{prov.get('title', prov.get('name', ''))}*, "
                  f"{prov.get('publication', '')}; {prov.get('tables', '')}.",
                  f"Verification: {str(prov.get('verification', 'not stated')).strip()}"]
        d = prov.get("deflator") or {}
        if d:
            lines += [f"Re-priced with {d.get('title', d.get('series'))} ({d.get('publisher', '')})."]
    return "\n".join(lines)


def cost_item_lines(cba: dict[str, Any]) -> list[str]:
    """Every programme cost item with its label: what the costs side of the appraisal is made of."""
    c = cba["currency"]
    lines = ["Programme costs (every item as declared in cost_benefit.costs):", "",
             "| item | type | amount | per | quantity | price year | total over the horizon, undiscounted |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {x['item']} | {x['type']} | {money(x['amount'], c)} | {x['per']} | {num(x.get('quantity'))} | "
              f"{x['price_year']} | {money(x['undiscounted_total'], c)} |" for x in cba.get("costs") or []]
    assumed = [x["item"] for x in cba.get("costs") or [] if "illustrative" in x["item"].lower()]
    if assumed:
        lines += ["", f"**The costs include illustrative assumptions** ({'; '.join(assumed)}): the net present "
                  "value, the benefit-cost ratio and the headline sentence depend on them; replace them with the "
                  "programme's accounts before quoting any of these."]
    return lines


def render_figures(result: EvaluationResult) -> dict[str, bytes]:
    cba = _cba(result)
    if not cba:
        return {}
    files = {}
    if cba.get("monte_carlo"):
        files[NPV_FIGURE] = npv_figure(cba)
    if cba.get("tornado"):
        files[TORNADO_FIGURE] = tornado_figure(cba)
    return files


def _scale(values: list[float]) -> tuple[float, str]:
    m = max((abs(v) for v in values), default=0.0)
    return (1e9, "bn") if m >= 1e9 else (1e6, "m") if m >= 1e6 else (1e3, "thousand") if m >= 1e4 else (1.0, "")


def npv_figure(cba: dict[str, Any]) -> bytes:
    import numpy as np

    mc = cba["monte_carlo"]
    edges = np.asarray(mc["histogram"]["edges"], dtype=float)
    counts = np.asarray(mc["histogram"]["counts"], dtype=float)
    div, unit = _scale(list(edges))
    fig = new_figure(7.0, 3.8)
    ax = fig.add_subplot()
    left = edges[:-1] / div
    width = np.diff(edges) / div
    colours = np.where(edges[:-1] + np.diff(edges) / 2 >= 0, "#2a7f62", "#b8423c")
    ax.bar(left, counts / counts.sum(), width=width, align="edge", color=colours, edgecolor="white", lw=0.3)
    ax.axvline(0, color="black", lw=0.8)
    ax.axvline(cba["npv"] / div, color="#333333", ls="--", lw=1, label="NPV at the estimates")
    ax.set_xlabel(f"net present value ({cba['currency']} {unit}, {cba['price_year']} prices)".replace(" ,", ","))
    ax.set_ylabel("share of draws")
    ax.set_title(f"Chance benefits exceed costs: {100 * mc['prob_benefits_exceed_costs']:.1f}% "
                 f"({mc['draws']:,} draws)")
    ax.legend(frameon=False, fontsize=8)
    return png_bytes(fig)


def tornado_figure(cba: dict[str, Any]) -> bytes:
    rows = list(cba["tornado"])[::-1]  # largest swing on top
    central = rows[0]["npv_central"]
    div, unit = _scale([central] + [r["npv_at_low"] for r in rows] + [r["npv_at_high"] for r in rows])
    fig = new_figure(7.0, 1.2 + 0.45 * len(rows))
    ax = fig.add_subplot()
    for i, r in enumerate(rows):
        for value, colour in ((r["npv_at_low"], "#4c72b0"), (r["npv_at_high"], "#dd8452")):
            ax.barh(i, (value - central) / div, left=central / div, color=colour, height=0.6)
    ax.axvline(central / div, color="black", lw=0.8)
    ax.set_yticks(range(len(rows)), [r["parameter"] for r in rows], fontsize=8)
    ax.set_xlabel(f"net present value ({cba['currency']} {unit})")
    ax.set_title("One-way sensitivity: NPV at each input's low (blue) and high (orange) value", fontsize=9)
    return png_bytes(fig)


class CostBenefit(Section):
    key = "cost_benefit"
    title = "Cost-benefit"
    part = "cost_benefit"
    markdown = staticmethod(render_section)
    figures = staticmethod(render_figures)
