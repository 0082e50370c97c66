"""One task of a diagnosis: a run of consecutive simulations of one variant, each from its own seed.

Each simulation draws every outcome from its DGP (after re-randomising a trial's assignment), fits the
design's own estimator (through the registry, on the validated panel with the outcome columns replaced), runs
the design's checks, and records per outcome the estimate, its standard error and interval, whether the
design detected an effect, and per check whether it raised its flag.

What counts as detection: the interval excludes zero; for an estimator without an interval (the synthetic
control), its p-value at most 1 - level; failing that, the placebo-in-space permutation p-value. A check
"flags" when its status is warn or fail, except a check that is itself a test of the effect
(:data:`EFFECT_TESTS`), which flags when it finds the effect (its p-value at most 1 - level). A check that
says nothing on a draw (status info) is left out of that draw's count; one that fails is recorded as an error
(-1). Sensitivity analyses (:data:`SENSITIVITY`) warn when a significant result is fragile, which is not a
false alarm about the data: their rate is reported as the share of draws in which they applied and warned.

The interval judged is the estimator's own (cluster-robust where the design clusters). The wild bootstrap or
randomisation inference that ``inference.method`` adds in :func:`cpeval.pipeline.evaluate` is not re-run in
each simulation (it would multiply the cost by its replications); when the analytic test rejects too often the
verdict says to read that inference instead. Warnings of the estimator and checks are not collected per
simulation; a simulation whose fit fails is counted as failed, with its message.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np

EFFECT_TESTS = frozenset({"placebo_space"})
SENSITIVITY = frozenset({"honest_did"})
CHECK_ERROR = -1.0
RECORDS = ("estimate", "std_error", "ci_lower", "ci_upper", "detected", "df")


def seeds_for(seed: int, first: int, count: int) -> list[np.random.SeedSequence]:
    """The seeds of simulations first..first+count-1: children of SeedSequence(seed), the same for every
    variant (common random numbers) and whatever runs them."""
    return [np.random.SeedSequence(seed, spawn_key=(i,)) for i in range(first, first + count)]


def run_task(problem: Any, variant: int, first: int, count: int) -> dict[str, Any]:
    """Simulations first..first+count-1 of one variant, as plain JSON-ready lists (NaN as None)."""
    from threadpoolctl import threadpool_limits

    from cpeval.estimation.registry import estimator_for

    v = problem.variants[variant]
    estimator = estimator_for(v.panel.design)
    out: dict[str, Any] = {k: [] for k in RECORDS}
    out.update(checks={}, failures=[])
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s, ss in enumerate(seeds_for(problem.seed, first, count)):
            rows, checks, failures = _one(problem, v, estimator, ss)
            for k in RECORDS:
                out[k].append([_num(r[k]) for r in rows])
            for key in checks:
                out["checks"].setdefault(key, [None] * s)
            for key, flags in out["checks"].items():
                flags.append(_num(checks.get(key, math.nan)))
            out["failures"].append(failures)
    return out


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def draw_panel(problem: Any, v: Any, seed: np.random.SeedSequence) -> Any:
    """One simulated panel of variant ``v``: the trial re-randomised, then every outcome drawn from its DGP.
    Its ``sha256`` names the simulation, since these are not the data the variant was read from."""
    rng = np.random.default_rng(seed)
    panel = v.panel
    frame = panel.frame.copy()  # the variant's frame (and its assignment) must never change
    z = cluster = None
    if problem.kind == "rct":
        z, cluster = _reassign(frame, panel.design, rng)
    for plan in v.outcomes:
        frame[plan.column] = plan.draw(rng, v.cells, z, cluster)
    tag = ".".join(map(str, seed.spawn_key))
    return dataclasses.replace(panel, frame=frame, sha256=f"{panel.sha256}/simulation-{tag}")


def _one(problem: Any, v: Any, estimator: Any, seed: np.random.SeedSequence) -> tuple[list, dict, list[str]]:
    from cpeval.checks import run_checks
    from cpeval.errors import CpevalError

    sim = draw_panel(problem, v, seed)
    design = sim.design
    effects, rows, failures = [], [], []
    for outcome, plan in zip(design.outcomes, v.outcomes, strict=True):
        try:
            effects.append(estimator.fit(sim, outcome))
            rows.append(_record(effects[-1], plan.truth))
        except (CpevalError, ArithmeticError, np.linalg.LinAlgError) as exc:
            failures.append(f"{outcome.name}: {type(exc).__name__}: {exc}")
            rows.append(dict.fromkeys(RECORDS, math.nan))
    checks: dict[str, float] = {}
    if problem.checks and not failures:
        alpha = 1 - problem.level
        for c in run_checks(problem.checks, sim, effects):
            key = c.name + (f"[{c.outcome}]" if c.outcome else "")
            if c.status == "error":
                checks[key] = CHECK_ERROR
            elif c.name in EFFECT_TESTS:
                p = c.values.get("p_value")
                checks[key] = float(p <= alpha + 1e-12) if p is not None else math.nan
            elif c.status != "info":
                checks[key] = float(c.status in ("warn", "fail"))
        for row, effect in zip(rows, effects, strict=False):
            if not math.isfinite(row["detected"]):
                placebo = checks.get(f"placebo_space[{effect.outcome}]", math.nan)
                row["detected"] = placebo if placebo != CHECK_ERROR else math.nan
    return rows, checks, failures


def _record(effect: Any, truth: float) -> dict[str, float]:
    lo, hi = effect.ci_lower, effect.ci_upper
    if math.isfinite(lo) and math.isfinite(hi):
        detected = float(lo > 0 or hi < 0)
    elif math.isfinite(effect.p_value):
        detected = float(effect.p_value <= 1 - effect.level + 1e-12)
    else:
        detected = math.nan
    return {"estimate": effect.estimate, "std_error": effect.std_error, "ci_lower": lo, "ci_upper": hi,
            "detected": detected, "df": effect.df if effect.df is not None else math.nan}


def _reassign(frame: Any, design: Any, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Re-randomise the trial as declared and write the new assignment (and full take-up) into ``frame``."""
    import pandas as pd

    from cpeval.data.panel import TREATED
    from cpeval.power import rerandomised

    tr = design.treatment
    block = pd.factorize(frame[tr.block], sort=True)[0] if tr.block else None
    cluster = pd.factorize(frame[tr.cluster], sort=True)[0] if tr.cluster else None
    unit, Z = rerandomised(frame[TREATED].to_numpy(float), block, cluster, 1, rng)
    z = Z[0][unit].astype(float)
    frame[TREATED] = z
    frame[tr.assignment] = z.astype(frame[tr.assignment].dtype)
    if tr.received:
        frame[tr.received] = z.astype(frame[tr.received].dtype)
    return z, cluster
