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


def draw_effects(rng: np.random.Generator, effects: Sequence[Effect], n: int
                 ) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """``n`` joint draws of the valued effects, a line per effect saying how, and the dependence used.

    Three cases, in order: (1) every effect carries bootstrap draws made with the same resampling weights
    (one ``draws_key``): whole bootstrap replicates are resampled, so the draws keep the effects' joint
    distribution; (2) the effects' influence values give a correlation matrix R (cluster-robust
    cross-covariances, see ``effect_correlation``): multivariate normal, or multivariate t when the effects
    share one t reference law (the same clusters), with correlation R; a Gaussian copula keeps each effect's
    own margin when their laws differ; (3) otherwise each effect is drawn on its own (from its bootstrap
    draws, or its reference law).
    """
    from cpeval.estimation.inference import effect_correlation

    k = len(effects)
    out = np.empty((n, k))
    draws = [e.sampling.draws if e.sampling is not None else None for e in effects]
    keys = {e.sampling.draws_key if d is not None else None for e, d in zip(effects, draws, strict=True)}
    sizes = {len(d) if d is not None else 0 for d in draws}
    if None not in keys and len(keys) == 1 and len(sizes) == 1 and min(sizes) >= 2:
        m = sizes.pop()
        idx = rng.integers(0, m, size=n)
        for j, d in enumerate(draws):
            out[:, j] = np.asarray(d, dtype=float)[idx]
        how = [f"{e.outcome}: resampled from {m} bootstrap replicates, jointly with the other outcomes"
               for e in effects]
        return out, how, {"method": "joint bootstrap replicates", "draws_key": keys.pop(), "notes": []}
    corr, notes = effect_correlation(effects)
    if k > 1 and not np.allclose(corr, np.eye(k)):
        vals, vecs = np.linalg.eigh(corr)
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))  # R = root root' (R is PSD by construction)
        z = rng.standard_normal((n, k)) @ root.T
        dfs = {e.df for e in effects}
        if dfs == {None}:
            method = "multivariate normal with the effects' sampling correlation"
        elif len(dfs) == 1:  # one reference t (same clusters): multivariate t, one variance draw per replicate
            df = float(dfs.pop())  # type: ignore[arg-type]
            z *= np.sqrt(df / rng.chisquare(df, size=n))[:, None]
            method = f"multivariate t ({df:g} df) with the effects' sampling correlation"
        else:  # different reference laws: a Gaussian copula keeps each effect's own margin
            from scipy import stats

            u = stats.norm.cdf(z)
            for j, e in enumerate(effects):
                if e.df is not None:
                    z[:, j] = stats.t.ppf(u[:, j], e.df)
            method = "Gaussian copula with the effects' sampling correlation and their own margins"
        out[:] = np.array([e.estimate for e in effects]) + z * np.array([e.std_error for e in effects])
        return out, [_law(e) for e in effects], {"method": method, "correlation": corr.tolist(),
                                                   "outcomes": [e.outcome for e in effects], "notes": notes}
    how = []
    for j, e in enumerate(effects):
        boot = e.sampling.draws if e.sampling is not None else None
        if boot is not None and len(boot) >= 2:
            out[:, j] = rng.choice(np.asarray(boot, dtype=float), size=n, replace=True)
            how.append(f"{e.outcome}: resampled from {len(boot)} bootstrap draws")
            continue
        z1 = rng.standard_t(e.df, size=n) if e.df is not None else rng.standard_normal(n)
        out[:, j] = e.estimate + e.std_error * z1
        how.append(_law(e))
    method = "one valued effect" if k == 1 else "independent (no sampling correlation available)"
    if k > 1 and not notes:
        method = "independent (estimated sampling correlation is zero)"
    return out, how, {"method": method, "notes": notes}


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
