"""Monte Carlo over the effects' sampling distribution and the declared ranges, and one-way sensitivities.

Effects are drawn from their reference law (``estimate + SE x Z``, Z standard normal or Student t with the
effect's df), jointly across outcomes when their sampling correlation is known, or resampled from the
bootstrap draws the estimator kept in ``Effect.sampling`` (see ``draw_effects``). Unit-cost and
programme-cost multipliers are triangular with mode 1 over the declared [low, high]; the discount rate and
the effect decay are uniform over theirs. All draws come from one ``numpy.random.default_rng(seed)``, in a
fixed order, so results are reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from cpeval.cba.engine import appraise

if TYPE_CHECKING:
    from cpeval.cba.prepare import CbaInputs
    from cpeval.results import Effect

HIST_BINS = 60
CHUNK = 4096  # rows per block: (CHUNK, horizon) temporaries stay in cache
QUANTILES = (0.025, 0.05, 0.25, 0.5, 0.75, 0.95, 0.975)


def _triangular(rng: np.random.Generator, bounds: tuple[float, float] | None, size: Any) -> np.ndarray | float:
    if bounds is None:
        return 1.0
    lo, hi = bounds
    if lo == hi:
        return np.full(size, lo)
    return rng.triangular(lo, 1.0, hi, size=size)


def _law(e: Effect) -> str:
    law = f"Student t with {e.df:g} df" if e.df is not None else "normal"
    return f"{e.outcome}: {law}, mean {e.estimate:.4g}, SE {e.std_error:.4g}"


def _root(corr: np.ndarray) -> np.ndarray:
    """A square root L of a correlation matrix (L L' = R): Cholesky (unique, so the same draws on every
    machine), or the symmetric eigen-root when R is singular (e.g. two effects with correlation 1)."""
    try:
        return np.linalg.cholesky(corr)
    except np.linalg.LinAlgError:
        vals, vecs = np.linalg.eigh(corr)
        return (vecs * np.sqrt(np.clip(vals, 0.0, None))) @ vecs.T


def _draw_group(rng: np.random.Generator, effects: list[Effect], corr: np.ndarray, n: int
                ) -> tuple[np.ndarray, str]:
    """``n`` draws of a group of effects whose joint law is known (a single effect is a group of one)."""
    k = len(effects)
    samplings = [e.sampling for e in effects]
    draws = [s.draws if s is not None else None for s in samplings]
    keys = {s.draws_key if s is not None and d is not None else None for s, d in zip(samplings, draws, strict=True)}
    sizes = {len(d) if d is not None else 0 for d in draws}
    if len(sizes) == 1 and min(sizes) >= 2 and (k == 1 or (None not in keys and len(keys) == 1)):
        m = sizes.pop()
        idx = rng.integers(0, m, size=n)  # whole replicates: the outcomes' joint bootstrap law
        return np.column_stack([np.asarray(d, dtype=float)[idx] for d in draws]), f"{m} bootstrap replicates"
    z = rng.standard_normal((n, k)) @ _root(corr).T if k > 1 else rng.standard_normal((n, 1))
    dfs = {e.df for e in effects}
    if dfs == {None}:
        law = "normal" if k == 1 else "multivariate normal"
    elif len(dfs) == 1:  # one reference t (same clusters): multivariate t, one variance draw per replicate
        df = float(next(iter(dfs)))  # type: ignore[arg-type]
        z *= np.sqrt(df / rng.chisquare(df, size=n))[:, None]
        law = f"Student t ({df:g} df)" if k == 1 else f"multivariate t ({df:g} df)"
    else:  # different reference laws: a Gaussian copula keeps each effect's own margin
        from scipy import special

        u = special.ndtr(z)
        for j, e in enumerate(effects):
            if e.df is not None:
                z[:, j] = special.stdtrit(e.df, u[:, j])
        law = "Gaussian copula with each effect's own law"
    return np.array([e.estimate for e in effects]) + z * np.array([e.std_error for e in effects]), law


def draw_effects(rng: np.random.Generator, effects: Sequence[Effect], n: int
                 ) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """``n`` joint draws of the valued effects, a line per effect saying how, and the dependence used.

    Effects are split into groups whose joint law is known (``effect_correlation``: influence from the same
    data and clusters); groups are independent of each other. Within a group: whole bootstrap replicates are
    resampled when every member carries replicates made with the same resampling weights (one
    ``draws_key``), keeping their joint distribution; otherwise a multivariate normal, or a multivariate t
    when the members share one t reference law (one variance draw per replicate and group), with the
    group's sampling correlation; a Gaussian copula keeps each member's own margin when their laws differ
    (its Pearson correlation is slightly below the copula's at very few degrees of freedom, e.g. 0.73 for
    0.8 at 3 df). A group of one effect is drawn from its bootstrap draws or its own law.
    """
    from cpeval.estimation.inference import effect_correlation

    corr, notes, groups = effect_correlation(effects)
    out = np.empty((n, len(effects)))
    how = [""] * len(effects)
    parts = []
    for g in groups:
        members = [effects[j] for j in g]
        out[:, g], law = _draw_group(rng, members, corr[np.ix_(g, g)], n)
        for j, e in zip(g, members, strict=True):
            how[j] = (f"{e.outcome}: resampled from {law}" if "bootstrap" in law else _law(e))
            if len(g) > 1:
                how[j] += " (jointly with " + ", ".join(x.outcome for x in members if x is not e) + ")"
        parts.append({"outcomes": [e.outcome for e in members], "law": law})
    if len(effects) == 1:
        method = "one valued effect: " + parts[0]["law"]
    elif all(len(g) == 1 for g in groups):
        method = "independent effects (no sampling correlation available)"
    else:
        method = "; ".join(f"{p['law']} for {', '.join(p['outcomes'])}" for p in parts)
    dependence: dict[str, Any] = {"method": method, "groups": parts, "notes": notes}
    if len(effects) > 1:
        dependence.update(correlation=corr.tolist(), outcomes=[e.outcome for e in effects])
    return out, how, dependence


def simulate(inputs: CbaInputs, effects: Sequence[Effect], n: int, seed: int) -> dict[str, Any]:
    """Distribution of NPV and BCR over ``n`` draws: summaries, a histogram and P(benefits > costs)."""
    u = inputs.spec.uncertainty
    rng = np.random.default_rng(seed)
    b, how, dependence = draw_effects(rng, effects, n)
    k = len(inputs.outcomes)
    uc = _triangular(rng, u.unit_costs, (n, k))
    cm = _triangular(rng, u.costs, n)
    rate = rng.uniform(*u.discount_rate, size=n) if u.discount_rate is not None else None
    decay = rng.uniform(*u.effect_decay, size=n) if u.effect_decay is not None else None
    pvb, pvc = np.empty(n), np.empty(n)
    for lo in range(0, n, CHUNK):  # bounded memory: (CHUNK, horizon) temporaries at most
        sl = slice(lo, min(lo + CHUNK, n))

        def part(x: np.ndarray | float | None, sl: slice = sl) -> np.ndarray | float | None:
            return x[sl] if isinstance(x, np.ndarray) else x

        a = appraise(inputs, b[sl], unit_cost_mult=part(uc), cost_mult=part(cm), rate=part(rate),
                     decay=part(decay))
        pvb[sl], pvc[sl] = a.pv_benefits, a.pv_costs
    npv = pvb - pvc
    with np.errstate(divide="ignore", invalid="ignore"):
        bcr = np.where(pvc > 0, pvb / pvc, np.nan)
    counts, edges = np.histogram(npv, bins=HIST_BINS)
    return {
        "draws": int(n),
        "seed": int(seed),
        "effect_draws": how,
        "effect_dependence": dependence,
        "npv_mean": float(npv.mean()),
        "npv_sd": float(npv.std(ddof=1)) if n > 1 else 0.0,
        "npv_quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, np.quantile(npv, QUANTILES), strict=True)},
        "bcr_quantiles": {f"{q:g}": float(v) for q, v in zip(QUANTILES, np.nanquantile(bcr, QUANTILES), strict=True)}
        if np.isfinite(bcr).any() else {},
        "prob_benefits_exceed_costs": float((pvb > pvc).mean()),
        "prob_npv_negative": float((npv < 0).mean()),
        "histogram": {"edges": edges.tolist(), "counts": counts.tolist()},
    }


def tornado(inputs: CbaInputs, effects: Sequence[Effect], estimates: np.ndarray) -> list[dict[str, Any]]:
    """One-way sensitivities: NPV with one input at its low and high value, the rest at the central case."""
    u = inputs.spec.uncertainty
    base = float(appraise(inputs, estimates).npv[0])
    rows: list[dict[str, Any]] = []

    def add(parameter: str, low: float, high: float, npv_low: float, npv_high: float) -> None:
        rows.append({"parameter": parameter, "low": low, "high": high, "npv_at_low": npv_low,
                     "npv_at_high": npv_high, "swing": abs(npv_high - npv_low)})

    for j, e in enumerate(effects):
        lo_b, hi_b = e.conf_int()
        at = []
        for v in (lo_b, hi_b):
            x = estimates.copy()
            x[j] = v
            at.append(float(appraise(inputs, x).npv[0]))
        add(f"effect on {e.outcome} ({e.level:.0%} CI)", lo_b, hi_b, *at)
    if u.unit_costs is not None:
        k = len(inputs.outcomes)
        for j, o in enumerate(inputs.outcomes):
            at = []
            for m in u.unit_costs:
                mult = np.ones((1, k))
                mult[0, j] = m
                at.append(float(appraise(inputs, estimates, unit_cost_mult=mult).npv[0]))
            add(f"unit cost of {o.label}", o.unit_cost * u.unit_costs[0], o.unit_cost * u.unit_costs[1], *at)
    if u.costs is not None:
        at = [float(appraise(inputs, estimates, cost_mult=m).npv[0]) for m in u.costs]
        total = float(inputs.costs.sum())
        add("programme costs", total * u.costs[0], total * u.costs[1], *at)
    if u.discount_rate is not None:
        at = [float(appraise(inputs, estimates, rate=np.array([r])).npv[0]) for r in u.discount_rate]
        add("discount rate", *u.discount_rate, *at)
    if u.effect_decay is not None:
        at = [float(appraise(inputs, estimates, decay=d).npv[0]) for d in u.effect_decay]
        add("effect decay per year", *u.effect_decay, *at)
    for r in rows:
        r["npv_central"] = base
    return sorted(rows, key=lambda r: -r["swing"])
