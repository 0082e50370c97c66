"""Power before the trial: the minimum detectable effect and the power for a stated effect.

Two answers for each outcome of an RCT design, for the design's own sample (people, blocks, clusters and
the share assigned, read from its data):

* analytic: Var(ITT) = sigma^2 (1 - R^2) DE / (n p (1 - p)), with the design effect for clustering
  DE = 1 + ((cv^2 + 1) m - 1) rho (Eldridge, Ashby & Kerry 2006; m the mean cluster size, cv its
  coefficient of variation, rho the intra-cluster correlation), and the MDE
  (t_{1-alpha/2} + t_{power}) SE on t with n - 2 (individual) or J - 2 (clusters) degrees of freedom
  (Bloom 1995; minus one more per extra block);
* simulated: the declared design is re-run many times -- outcomes drawn with the same variance and
  intra-cluster correlation, assignment re-randomised exactly as the design did (within blocks, by
  cluster), the design's own estimator and standard error applied -- and power is the share of trials
  whose interval excludes zero (as DeclareDesign's ``diagnose_design``).

sigma, rho and R^2 (of blocks and, for ``lin``, covariates) are estimated from the control arm of the
data unless the design's ``power`` section states them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.designs.rct import RctDesign


@dataclass(frozen=True)
class PowerResult:
    outcome: str
    n: int
    n_clusters: int | None
    n_blocks: int | None
    share_treated: float
    sd: float
    icc: float
    r2: float
    design_effect: float
    level: float
    target_power: float
    df: float
    std_error: float
    mde: float
    effect: float | None
    power_analytic: float | None
    power_simulated: float | None
    power_simulated_at_mde: float | None
    simulations: int
    sources: dict[str, str]
    required: int | None = None  # people (or clusters) needed for the stated effect at the target power
    simulated_bias: float | None = None  # mean estimate minus the stated effect, over the simulated trials
    simulated_coverage: float | None = None  # share of simulated intervals containing the stated effect

    def to_dict(self) -> dict[str, Any]:
        from cpeval.results import jsonable

        return jsonable(asdict(self))

    def summary(self) -> str:
        clusters = f", {self.n_clusters} clusters (ICC {self.icc:.3f}, design effect {self.design_effect:.2f})" \
            if self.n_clusters else ""
        blocks = f", {self.n_blocks} blocks" if self.n_blocks else ""
        lines = [
            f"{self.outcome}: n = {self.n}{clusters}{blocks}; {self.share_treated:.0%} assigned; outcome SD "
            f"{self.sd:.4g}, R^2 {self.r2:.2f}",
            f"  minimum detectable effect at {self.target_power:.0%} power, {1 - self.level:.0%} two-sided: "
            f"{self.mde:.4g} (SE {self.std_error:.4g}, {self.df:.0f} df)",
        ]
        if self.power_simulated_at_mde is not None:
            sim_mde = self.power_simulated_at_mde
            lines.append(f"  simulated power at that MDE: {sim_mde:.1%} ({self.simulations} trials)")
        if self.effect is not None:
            sim = f"; simulated {self.power_simulated:.1%}" if self.power_simulated is not None else ""
            if self.simulated_coverage is not None:
                sim += (f" (bias {self.simulated_bias:+.3g}, {self.level:.0%} interval coverage "
                        f"{self.simulated_coverage:.1%})")
            lines.append(f"  power for an effect of {self.effect:.4g}: analytic {self.power_analytic:.1%}{sim}")
            if self.required is not None:
                what = "clusters (same mean size)" if self.n_clusters else "people"
                lines.append(f"  {self.target_power:.0%} power for that effect needs about {self.required} {what} "
                             f"(the design has {self.n_clusters or self.n})")
        return "\n".join(lines)


def analytic_power(effect: float, se: float, df: float, level: float) -> float:
    from scipy import stats

    from cpeval.results import critical_value

    crit = critical_value(level, df)
    shift = abs(effect) / se
    return float(stats.t.cdf(shift - crit, df) + stats.t.cdf(-shift - crit, df))


def mde(se: float, df: float, level: float, power: float) -> float:
    from scipy import stats

    from cpeval.results import critical_value

    return float((critical_value(level, df) + stats.t.ppf(power, df)) * se)


def required_size(effect: float, unit_sd: float, extra_df: int, level: float, power: float) -> int | None:
    """Smallest number of randomisation units N with MDE(N) <= ``effect``, where SE = unit_sd / sqrt(N)
    and df = N - extra_df. ``unit_sd`` already carries the design effect and the assignment share."""
    from scipy import stats

    N = np.unique(np.round(np.geomspace(extra_df + 2, 10_000_000, 4000)).astype(np.int64))
    df = N - extra_df
    m = (stats.t.ppf(0.5 + level / 2, df) + stats.t.ppf(power, df)) * unit_sd / np.sqrt(N)
    ok = np.flatnonzero(m <= effect)
    if not len(ok):
        return None
    hi = int(N[ok[0]])
    lo = int(N[ok[0] - 1]) if ok[0] > 0 else extra_df + 1
    cand = np.arange(lo + 1, hi + 1)
    dfc = cand - extra_df
    mc = (stats.t.ppf(0.5 + level / 2, dfc) + stats.t.ppf(power, dfc)) * unit_sd / np.sqrt(cand)
    return int(cand[np.argmax(mc <= effect)])


def icc_anova(y: np.ndarray, cluster: np.ndarray) -> float:
    """One-way ANOVA estimator of the intra-cluster correlation, clipped to [0, 1)."""
    codes = np.unique(cluster, return_inverse=True)[1]
    J = int(codes.max()) + 1
    N = len(y)
    m = np.bincount(codes, minlength=J).astype(float)
    if J < 2 or N <= J:
        return 0.0
    means = np.bincount(codes, weights=y, minlength=J) / m
    msb = float(np.sum(m * (means - y.mean()) ** 2) / (J - 1))
    msw = float(np.sum((y - means[codes]) ** 2) / (N - J))
    m0 = (N - np.sum(m**2) / N) / (J - 1)
    rho = (msb - msw) / (msb + (m0 - 1) * msw) if msb + (m0 - 1) * msw > 0 else 0.0
    return float(min(max(rho, 0.0), 0.99))


def adjust(y: np.ndarray, block: np.ndarray | None, X: np.ndarray) -> np.ndarray:
    """Residuals of ``y`` on blocks and covariates (what the design's estimator adjusts for)."""
    cols = [np.ones(len(y))]
    if block is not None and int(block.max()) > 0:
        from cpeval.estimation.rct.core import dummies

        cols.append(dummies(block))
    if X.shape[1]:
        cols.append(X - X.mean(axis=0))
    R = np.column_stack(cols)
    return y - R @ np.linalg.lstsq(R, y, rcond=None)[0]


def power_analysis(
    design_or_path: RctDesign | str | Path | dict,
    data: pd.DataFrame | None = None,
    *,
    effect: float | dict[str, float] | None = None,
    simulations: int | None = None,
    outcomes: list[str] | None = None,
) -> list[PowerResult]:
    """MDE and power for each outcome of an RCT design (see the module docstring)."""
    from cpeval.data import load_panel
    from cpeval.errors import DesignError, did_you_mean
    from cpeval.estimation.rct.estimators import trial_frame
    from cpeval.pipeline import resolve_design

    design = resolve_design(design_or_path)
    if design.kind != "rct":  # type: ignore[attr-defined]
        raise DesignError(f"cpeval power works on randomised-trial designs (kind: rct); this design is kind "
                          f"{design.kind!r}")  # type: ignore[attr-defined]
    spec = design.power  # type: ignore[attr-defined]
    effect = spec.effect if effect is None else effect
    sims = spec.simulations if simulations is None else simulations
    if isinstance(sims, bool) or not isinstance(sims, int) or sims < 0:
        raise DesignError(f"simulations must be a whole number, 0 (none) or more; got {sims!r}")
    panel = load_panel(design, data)
    tf = trial_frame(panel, design)  # type: ignore[arg-type]
    names = [o.name for o in design.outcomes]
    unknown = [name for name in outcomes or [] if name not in names]
    if unknown:
        raise DesignError(f"no outcome named {unknown[0]!r}; the design's outcomes are: {', '.join(names)}"
                          f"{did_you_mean(unknown[0], names)}")
    chosen = [o for o in design.outcomes if outcomes is None or o.name in outcomes]
    def effect_for(name: str) -> float | None:
        return effect.get(name) if isinstance(effect, dict) else effect

    return [_one(design, tf, o, effect_for(o.name), sims) for o in chosen]  # type: ignore[arg-type]


def _one(design: RctDesign, tf: Any, outcome: Any, effect: float | None, sims: int) -> PowerResult:
    spec = design.power
    level = design.inference.level
    # structure of the whole randomised sample (as designed, before attrition)
    n = len(tf.z)
    p = float(tf.z.mean())
    J = int(tf.cluster.max()) + 1 if tf.cluster is not None else None
    B = int(tf.block.max()) + 1 if tf.block is not None else None
    sources: dict[str, str] = {}
    keep = tf.rows(outcome.column) & (tf.z == 0)
    y0 = tf.frame.loc[keep, outcome.column].to_numpy(float)
    sd = spec.sd if spec.sd is not None else float(y0.std(ddof=1))
    sources["sd"] = "design" if spec.sd is not None else "control arm of the data"
    covs = design.estimator.covariates if design.estimator.capabilities.covariate_adjusted else []
    X = tf.frame.loc[keep, covs].to_numpy(float) if covs else np.empty((len(y0), 0))
    blk0 = None if tf.block is None else np.unique(tf.block[keep], return_inverse=True)[1]
    resid = adjust(y0, blk0, X)
    if spec.r2 > 0:
        r2 = spec.r2
        sources["r2"] = "design"
    else:
        r2 = float(max(0.0, 1 - resid.var() / y0.var()))
        sources["r2"] = ("control arm: blocks" + (" and covariates" if covs else "")) if r2 > 0 else "none"
    resid_sd = sd * math.sqrt(1 - r2)
    if J is not None:
        if spec.icc is not None:
            rho = spec.icc
            sources["icc"] = "design"
        else:
            rho = icc_anova(resid, tf.cluster[keep])
            sources["icc"] = "ANOVA estimate, control arm, after blocks and covariates"
        m = np.bincount(tf.cluster).astype(float)
        cv2 = float(m.var() / m.mean() ** 2)
        deff = 1 + ((cv2 + 1) * m.mean() - 1) * rho
        df = float(J - 2 - (B - 1 if B else 0))
    else:
        rho, deff = 0.0, 1.0
        df = float(n - 2 - (B - 1 if B else 0))
    se = resid_sd * math.sqrt(deff / (n * p * (1 - p)))
    required = None
    if effect is not None and effect != 0:
        extra_df = 2 + (B - 1 if B else 0)
        required = required_size(abs(effect), resid_sd * math.sqrt(deff / (p * (1 - p))) * (
            math.sqrt(J / n) if J else 1.0), extra_df, level, spec.power)
    m_de = mde(se, df, level, spec.power)
    sim_eff = sim_mde = bias = coverage = None
    if sims:
        rng = np.random.default_rng(design.inference.seed)
        sim_mde = _simulate(design, tf, resid_sd, rho, m_de, sims, rng)[0]
        if effect is not None:
            sim_eff, bias, coverage = _simulate(design, tf, resid_sd, rho, effect, sims, rng)
    return PowerResult(
        outcome=outcome.name, n=n, n_clusters=J, n_blocks=B, share_treated=p, sd=sd, icc=rho, r2=r2,
        design_effect=deff, level=level, target_power=spec.power, df=df, std_error=se, mde=m_de,
        required=required, effect=effect,
        power_analytic=analytic_power(effect, se, df, level) if effect is not None else None,
        power_simulated=sim_eff, power_simulated_at_mde=sim_mde, simulations=sims, sources=sources,
        simulated_bias=bias, simulated_coverage=coverage,
    )


def rerandomised(z: np.ndarray, block: np.ndarray | None, cluster: np.ndarray | None, sims: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``sims`` assignments drawn as the trial was randomised (within blocks, by cluster): each person's
    randomisation unit and a boolean sims x units matrix of the units assigned."""
    from cpeval.estimation.rct.randomization import draws, unit_scheme

    unit, blk_unit, sch = unit_scheme(z, block, cluster)
    n_units = len(blk_unit)
    inv = np.empty(n_units, dtype=np.int64)
    inv[sch.order] = np.arange(n_units)
    return unit, np.concatenate(list(draws(sch, sims, rng)))[:, inv]  # back to unit order


def _simulate(design: RctDesign, tf: Any, resid_sd: float, rho: float, effect: float, sims: int,
              rng: np.random.Generator) -> tuple[float, float, float]:
    """Over simulated trials (the declared design, re-randomised): the share whose interval excludes zero,
    the bias of the estimate and the coverage of the interval for the true ``effect``."""
    from cpeval.estimation.rct.core import Trial, estimate_itt
    from cpeval.results import critical_value

    n = len(tf.z)
    unit, Z = rerandomised(tf.z, tf.block, tf.cluster, sims, rng)
    n_units = Z.shape[1]
    hits = covered = 0
    total = 0.0
    for s in range(sims):
        z = Z[s][unit].astype(float)
        u = rng.normal(scale=resid_sd * math.sqrt(rho), size=n_units)[unit] if tf.cluster is not None else 0.0
        y = u + rng.normal(scale=resid_sd * math.sqrt(1 - rho), size=n) + effect * z
        trial = Trial(y, z, tf.block, tf.cluster, np.empty((n, 0)))
        e = estimate_itt(trial, False, design.estimator.blocked)
        half = critical_value(design.inference.level, e.df) * e.std_error
        hits += abs(e.estimate) > half
        covered += abs(e.estimate - effect) <= half
        total += e.estimate
    return hits / sims, total / sims - effect, covered / sims
