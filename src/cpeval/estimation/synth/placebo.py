"""Refits for placebos and leave-one-out, run in parallel over processes with a progress bar.

``refit_gap`` re-estimates the design's method with other treated units and/or donors and returns the gap
path (treated minus counterfactual, every period). Every refit uses the design's seed, so results do not
depend on the order or the process in which they run.

Worker processes die with the run that started them: on Linux the kernel sends them SIGKILL when their parent
dies (``prctl(PR_SET_PDEATHSIG)``, set in the worker initializer), elsewhere a watchdog thread in each worker
exits when its parent process changes. Killing a run (SIGKILL, SIGTERM) therefore leaves no placebo fits
running; an exception or Ctrl-C in the run cancels the refits not yet started.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from cpeval.designs.synth import SynthDesign
    from cpeval.estimation.synth.prep import SynthData


def refit_gap(
    design: SynthDesign, data: SynthData, treated: tuple[int, ...], donors: tuple[int, ...]
) -> np.ndarray:
    """The design's own method refitted with other treated units and donors (its class's ``placebo_gap``)."""
    from cpeval.errors import EstimationError
    from cpeval.estimation.registry import capabilities, estimator_class

    cls = estimator_class(design.kind, design.estimator.method)
    if not capabilities(design.kind, design.estimator.method).placebo_refit or not hasattr(cls, "placebo_gap"):
        raise EstimationError(f"method {design.estimator.method!r} cannot be refitted for placebos or "
                              "leave-one-out (it declares no placebo_gap); drop those checks")
    return cls.placebo_gap(design, data, treated, donors)


def _job(args: tuple[Any, ...]) -> np.ndarray:
    design, data, treated, donors = args
    return refit_gap(design, data, treated, donors)


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _parent_death_signal() -> bool:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux); False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when process ``parent`` ends (it may already have, before the
    death signal was armed: then the worker has been re-parented and exits at once)."""
    armed = _parent_death_signal()
    if os.getppid() != parent:
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="cpeval-parent-watch").start()


def n_workers(n_jobs: int, n_tasks: int) -> int:
    cores = os.cpu_count() or 1
    want = cores if n_jobs == -1 else n_jobs
    return max(1, min(want, n_tasks))


def run_refits(
    design: SynthDesign, data: SynthData, tasks: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], label: str,
    progress: bool | None = None, n_jobs: int = -1,
) -> list[np.ndarray]:
    """Gap paths for every (treated, donors) task, in task order; in ``n_jobs`` processes (-1: every core)."""
    from tqdm import tqdm

    workers = n_workers(n_jobs, len(tasks))
    args = [(design, data, t, d) for t, d in tasks]
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    bar: Callable[..., Any] = tqdm
    if workers == 1:
        return [_job(a) for a in bar(args, desc=label, disable=disable, leave=False)]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(
        max_workers=workers, mp_context=ctx, initializer=die_with_parent, initargs=(os.getpid(),)
    )
    try:
        gaps = list(bar(pool.map(_job, args), total=len(args), desc=label, disable=disable, leave=False))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return gaps
