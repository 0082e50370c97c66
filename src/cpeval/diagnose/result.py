"""The diagnosis: power, bias, RMSE, coverage, check error rates and the minimum detectable effect, each with
its Monte Carlo standard error, per variant and outcome, and a verdict in words.

Monte Carlo standard errors over S successful simulations: a proportion p (power, coverage, a check's rate)
sqrt(p(1-p)/S); bias sd(estimate)/sqrt(S); RMSE sd((estimate - truth)^2)/(2 RMSE sqrt(S)) by the delta
method; the MDE its multiplier times sd/sqrt(2(S-1)), the standard error of a standard deviation.

The minimum detectable effect is computed from the simulated standard error, not by a search over effect
sizes: MDE = (t_{1-alpha/2} + t_power) x sd(estimates), the estimator's true sampling standard deviation across
the simulations, with the median of the estimator's reference degrees of freedom (normal when it has none);
Bloom (1995). "Needs about N treated units" scales that standard deviation with sqrt(1/n1 + 1/n0) at the
design's number of comparison units n0 (did, synthetic control), or for trials with 1/sqrt(N) at the same
share assigned (:func:`cpeval.power.required_size`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cpeval.results import Summarised, jsonable


@dataclass(frozen=True)
class Estimate:
    value: float | None
    mc_se: float | None


@dataclass(frozen=True)
class OutcomeDiagnosis:
    outcome: str
    declared_effect: str
    true_effect: float
    scale: str
    baseline: float
    dgp: dict[str, Any]
    simulations: int  # successful
    failed: int
    power: Estimate  # share of simulations that detect an effect (the false-positive rate when truth is 0)
    bias: Estimate
    rmse: Estimate
    coverage: Estimate
    mean_std_error: float | None
    sd_estimate: float | None
    mde: Estimate
    required_treated: int | None
    failure: str | None = None  # the message of the first simulation whose fit failed


@dataclass(frozen=True)
class CheckRate:
    check: str
    meaning: str  # "false_positive" (flags a problem the DGP does not have), "size" or "power" (an effect test),
    # "fragile" (a sensitivity analysis warning that a significant result is fragile)
    rate: Estimate
    simulations: int  # draws in which the check gave a verdict
    errors: int = 0  # draws in which the check failed


@dataclass(frozen=True)
class VariantDiagnosis:
    label: str
    change: dict[str, int]
    n_units: int
    n_treated: int
    n_pre: int | None
    outcomes: tuple[OutcomeDiagnosis, ...]
    checks: tuple[CheckRate, ...]


@dataclass(frozen=True)
class Diagnosis(Summarised):
    design: str
    kind: str
    method: str
    level: float
    target_power: float
    simulations: int
    seed: int
    design_hash: str
    data_hash: str
    variants: tuple[VariantDiagnosis, ...]
    verdict: tuple[str, ...]
    mde_method: str = "simulated standard error: (t_{1-alpha/2} + t_power) x sd of the estimates"

    def to_dict(self) -> dict[str, Any]:
        return jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def table(self) -> Any:
        """One row per variant and outcome: the headline numbers."""
        import pandas as pd

        rows = [{"variant": v.label, "treated": v.n_treated, "pre_periods": v.n_pre, "outcome": o.outcome,
                 "effect": o.declared_effect, "power": o.power.value, "power_mc_se": o.power.mc_se,
                 "bias": o.bias.value, "rmse": o.rmse.value, "coverage": o.coverage.value, "mde": o.mde.value}
                for v in self.variants for o in v.outcomes]
        return pd.DataFrame(rows)

    def summary(self) -> str:
        lines = [f"Diagnosis of {self.design!r} ({self.kind}, {self.method}): {self.simulations} simulations per "
                 f"variant, seed {self.seed}"]
        for v in self.variants:
            pre = f", {v.n_pre} pre-periods" if v.n_pre is not None else ""
            lines.append(f"- {v.label}: {v.n_treated} treated of {v.n_units} units{pre}")
            for o in v.outcomes:
                lines.append(
                    f"    {o.outcome} (true effect {o.declared_effect}): {_rate_name(o)} {_pm(o.power, pct=True)}, "
                    f"bias {_pm(o.bias)}, RMSE {_pm(o.rmse)}, coverage {_pm(o.coverage, pct=True)}, "
                    f"MDE {_pm(o.mde)}" + (f"; {o.failed} simulations failed" if o.failed else ""))
            for c in v.checks:
                lines.append(f"    check {c.check}: {c.meaning.replace('_', '-')} rate {_pm(c.rate, pct=True)} over "
                             f"{c.simulations} simulations" + (f" ({c.errors} failed)" if c.errors else ""))
        lines.append("Verdict:")
        lines += [f"  {line}" for line in self.verdict]
        return "\n".join(lines)


def _rate_name(o: OutcomeDiagnosis) -> str:
    return "false-positive rate" if o.true_effect == 0 else "power"


def _pm(e: Estimate, pct: bool = False) -> str:
    if e.value is None:
        return "n/a"
    if pct:
        return f"{e.value:.1%} (MC SE {e.mc_se or 0:.1%})"
    return f"{e.value:.4g} (MC SE {e.mc_se or 0:.2g})"


def _prop(x: np.ndarray) -> Estimate:
    x = x[np.isfinite(x)]
    if not len(x):
        return Estimate(None, None)
    p = float(x.mean())
    return Estimate(p, math.sqrt(p * (1 - p) / len(x)))


def _col(rows: list, k: int) -> np.ndarray:
    return np.array([np.nan if r[k] is None else r[k] for r in rows], dtype=float)


def outcome_diagnosis(problem: Any, variant: Any, k: int, raw: dict[str, Any]) -> OutcomeDiagnosis:
    from scipy import stats

    from cpeval.results import critical_value

    plan = variant.outcomes[k]
    est, se = _col(raw["estimate"], k), _col(raw["std_error"], k)
    lo, hi, det, df = (_col(raw[name], k) for name in ("ci_lower", "ci_upper", "detected", "df"))
    ok = np.isfinite(est)
    S = int(ok.sum())
    truth = plan.truth
    failure = next((f for fs in raw["failures"] for f in fs if f.startswith(f"{plan.name}: ")), None)
    if S == 0:
        none = Estimate(None, None)
        return OutcomeDiagnosis(plan.name, plan.declared, truth, plan.scale, plan.dgp.baseline(variant.cells),
                                {"family": plan.dgp.kind, **plan.dgp.params}, 0, len(est), none, none, none, none,
                                None, None, none, None, failure)
    e = est[ok]
    err = e - truth
    sd = float(e.std(ddof=1)) if S > 1 else math.nan
    bias = Estimate(float(err.mean()), sd / math.sqrt(S) if S > 1 else None)
    mse = float(np.mean(err**2))
    rmse_v = math.sqrt(mse)
    rmse = Estimate(rmse_v, float((err**2).std(ddof=1) / (2 * rmse_v * math.sqrt(S))) if S > 1 and rmse_v > 0 else None)
    band = np.isfinite(lo) & np.isfinite(hi)
    coverage = _prop(np.where(band, (lo <= truth) & (truth <= hi), np.nan)[ok])
    dfs = df[ok & np.isfinite(df)]
    dof = float(np.median(dfs)) if len(dfs) else None
    z_power = stats.t.ppf(problem.power, dof) if dof else stats.norm.ppf(problem.power)
    mult = critical_value(problem.level, dof) + z_power
    mde = Estimate(mult * sd, mult * sd / math.sqrt(2 * (S - 1))) if S > 1 else Estimate(None, None)
    mean_se = float(np.nanmean(se[ok])) if np.isfinite(se[ok]).any() else None
    return OutcomeDiagnosis(
        outcome=plan.name, declared_effect=plan.declared, true_effect=truth, scale=plan.scale,
        baseline=plan.dgp.baseline(variant.cells), dgp={"family": plan.dgp.kind, **plan.dgp.params},
        simulations=S, failed=int((~ok).sum()), power=_prop(det[ok]), bias=bias, rmse=rmse, coverage=coverage,
        mean_std_error=mean_se, sd_estimate=sd if S > 1 else None, mde=mde,
        required_treated=_required(problem, variant, truth, sd, mult) if S > 1 else None, failure=failure,
    )


def _required(problem: Any, variant: Any, truth: float, sd: float, mult: float) -> int | None:
    """Treated units (trials: randomisation units) for the target power at the true effect; None if unreachable."""
    if truth == 0 or not math.isfinite(sd) or sd <= 0:
        return None
    if problem.kind == "rct":
        from cpeval.power import required_size

        return required_size(abs(truth), sd * math.sqrt(variant.n_units), 2, problem.level, problem.power)
    n1, n0 = variant.n_treated, variant.n_units - variant.n_treated
    if n0 < 1:
        return None
    r = (abs(truth) / (mult * sd)) ** 2 * (1 / n1 + 1 / n0)
    return math.ceil(1 / (r - 1 / n0)) if r > 1 / n0 else None


def check_rates(problem: Any, variant: Any, raw: dict[str, Any]) -> tuple[CheckRate, ...]:
    from cpeval.diagnose.simulate import CHECK_ERROR, EFFECT_TESTS, SENSITIVITY

    out = []
    truths = {p.name: p.truth for p in variant.outcomes}
    for key in sorted(raw["checks"]):
        x = np.array([np.nan if v is None else v for v in raw["checks"][key]], dtype=float)
        errors = int(np.sum(x == CHECK_ERROR))
        x[x == CHECK_ERROR] = np.nan
        name, _, outcome = key.partition("[")
        meaning = "fragile" if name in SENSITIVITY else "false_positive"
        if name in EFFECT_TESTS:
            meaning = "size" if truths.get(outcome.rstrip("]"), 0.0) == 0 else "power"
        out.append(CheckRate(key, meaning, _prop(x), int(np.isfinite(x).sum()), errors))
    return tuple(out)
