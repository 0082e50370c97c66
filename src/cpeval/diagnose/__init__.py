"""Diagnose a design before the money is spent: simulate it under a data-generating process fitted to its own
data, with a declared true effect, and report power, bias, RMSE, coverage, the error rates of its checks and
the minimum detectable effect, each with its Monte Carlo standard error (as DeclareDesign's
``diagnose_design``).

``diagnose(design)`` runs on a local process pool by default, on a dask.distributed cluster with
``scheduler="tcp://host:8786"``, or serially with ``workers=1``; the result is the same to the byte whichever
runs it. Finished tasks are cached in ``cache`` (the CLI uses ``.cpeval-cache/`` beside ``--out``), so an
interrupted diagnosis resumes where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from cpeval.diagnose.result import Diagnosis

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Diagnosis", "diagnose"]


def diagnose(
    design_or_path: Any,
    data: pd.DataFrame | None = None,
    *,
    simulations: int | None = None,
    vary: list[str] | dict[str, list[int]] | None = None,
    effect: dict[str, float | str] | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    cache: str | Path | None = None,
    progress: bool | None = None,
) -> Diagnosis:
    """Diagnose a design (see the module docstring). ``vary``: ``["treated_units=10,20,40"]``; ``effect``:
    true effects that replace the design's ``diagnose.effect`` ({outcome: number or '-10%'})."""
    from cpeval.diagnose.execute import TASK_SIZE, Cache, run_tasks
    from cpeval.diagnose.problem import prepare
    from cpeval.diagnose.result import check_rates, outcome_diagnosis
    from cpeval.diagnose.simulate import run_task
    from cpeval.diagnose.variants import label
    from cpeval.diagnose.verdict import verdict

    problem = prepare(design_or_path, data, simulations=simulations, vary=vary, effect=effect)
    S = problem.simulations
    tasks = [(v, first, min(TASK_SIZE, S - first)) for v in range(len(problem.variants))
             for first in range(0, S, TASK_SIZE)]
    keys = [problem.task_key(*t) for t in tasks]
    parts = run_tasks(run_task, problem, tasks, keys, cache=Cache(cache), scheduler=scheduler, workers=workers,
                      label=f"diagnosing {problem.name}", progress=progress)
    variants = []
    for v, variant in enumerate(problem.variants):
        raw = _merge([p for t, p in zip(tasks, parts, strict=True) if t[0] == v])
        outcomes = tuple(outcome_diagnosis(problem, variant, k, raw) for k in range(len(variant.outcomes)))
        from cpeval.diagnose.result import VariantDiagnosis

        variants.append(VariantDiagnosis(
            label=label(variant.change), change=dict(variant.change), n_units=variant.n_units,
            n_treated=variant.n_treated, n_pre=variant.n_pre, outcomes=outcomes,
            checks=check_rates(problem, variant, raw),
        ))
    return Diagnosis(
        design=problem.name, kind=problem.kind, method=problem.method, level=problem.level,
        target_power=problem.power, simulations=S, seed=problem.seed, design_hash=problem.design_hash,
        data_hash=problem.data_hash, variants=tuple(variants), verdict=verdict(problem, tuple(variants)),
    )


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Task results of one variant, in simulation order, as one set of columns."""
    out: dict[str, Any] = {"checks": {}, "failures": []}
    done = 0
    for part in parts:
        for key, values in part.items():
            if key == "checks":
                continue
            out.setdefault(key, []).extend(values)
        n = len(part["estimate"])
        for key in sorted(set(out["checks"]) | set(part["checks"])):
            column = out["checks"].setdefault(key, [None] * done)
            column.extend(part["checks"].get(key, [None] * n))
        done += n
    return out
