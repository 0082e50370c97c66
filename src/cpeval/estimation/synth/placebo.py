"""Refits for placebos and leave-one-out, run in parallel over processes with a progress bar.

``refit_gap`` re-estimates the design's method with other treated units and/or donors and returns the gap
path (treated minus counterfactual, every period). Every refit uses the design's seed, so results do not
depend on the order or the process in which they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.prep import SynthData


def refit_gap(
    design: SynthDesign, data: SynthData, treated: tuple[int, ...], donors: tuple[int, ...]
) -> np.ndarray:
    method = design.estimator.method
    if method == "augmented":
        from cpeval.estimation.synth.augmented import augmented_gap

        return augmented_gap(design, data, treated, donors)
    if method == "synthetic_did":
        from cpeval.estimation.synth.sdid import sdid_gap

        return sdid_gap(data, treated, donors)
    from cpeval.estimation.synth.common import fit_group, settings_for

    pooled = design.estimator.treated_aggregation == "pooled"
    return fit_group(data, settings_for(design, data), treated, donors, pooled=pooled).gap


def _job(args: tuple[Any, ...]) -> np.ndarray:
    design, data, treated, donors = args
    return refit_gap(design, data, treated, donors)


def n_workers(n_jobs: int, n_tasks: int) -> int:
    cores = os.cpu_count() or 1
    want = cores if n_jobs == -1 else n_jobs
    return max(1, min(want, n_tasks))


def run_refits(
    design: SynthDesign, data: SynthData, tasks: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], label: str,
    progress: bool | None = None,
) -> list[np.ndarray]:
    """Gap paths for every (treated, donors) task, in task order; in parallel when n_jobs allows."""
    from tqdm import tqdm

    workers = n_workers(design.estimator.n_jobs, len(tasks))
    args = [(design, data, t, d) for t, d in tasks]
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    bar: Callable[..., Any] = tqdm
    if workers == 1:
        return [_job(a) for a in bar(args, desc=label, disable=disable, leave=False)]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(bar(pool.map(_job, args), total=len(args), desc=label, disable=disable, leave=False))
