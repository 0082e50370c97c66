"""Running tasks: serially, on a local process pool (the default), or on a dask.distributed cluster.

Results do not depend on the backend or the number of workers: each task's simulations take their seeds
from the design's seed alone (:func:`cpeval.diagnose.simulate.seeds_for`), tasks have a fixed size, and results
are put back in task order before anything is summed.

Finished tasks are kept in a results cache, one JSON file per task named by a hash of the design, the data,
the variant and the task's seeds (:meth:`cpeval.diagnose.problem.Problem.task_key`), so an interrupted
diagnosis resumes without redoing them. Only the process that started the run writes the cache.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TASK_SIZE = 20  # simulations per task: fixed, so that the cache and the results do not depend on the workers
_STATE: dict[str, Any] = {}


class Cache:
    """Task results as JSON files in ``folder`` (None: no cache)."""

    def __init__(self, folder: str | Path | None):
        self.folder = Path(folder) if folder is not None else None

    def get(self, key: str) -> Any:
        if self.folder is None:
            return None
        path = self.folder / f"{key}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):  # absent, or cut short by an interruption: the task runs again
            return None

    def put(self, key: str, value: Any) -> None:
        if self.folder is None:
            return
        from cpeval._io import write_file_atomically

        self.folder.mkdir(parents=True, exist_ok=True)
        write_file_atomically(self.folder / f"{key}.json", json.dumps(value))


def _init_worker(parent: int, payload: Any) -> None:
    from cpeval.estimation.synth.placebo import die_with_parent

    die_with_parent(parent)
    _STATE["payload"] = payload


def _pooled(fn: Callable[..., Any], args: tuple) -> Any:
    return fn(_STATE["payload"], *args)


def _call(fn: Callable[..., Any], payload: Any, args: tuple) -> Any:
    return fn(payload, *args)


def run_tasks(fn: Callable[..., Any], payload: Any, tasks: Sequence[tuple], keys: Sequence[str | None], *,
              cache: Cache, scheduler: str | None = None, workers: int | None = None, label: str = "tasks",
              progress: bool | None = None) -> list[Any]:
    """``fn(payload, *task)`` for every task, in task order; cached tasks are read, not run (a task whose key
    is None is never cached).

    ``scheduler``: the address of a dask.distributed scheduler; otherwise ``workers`` processes (default: every
    core; 1 runs in this process)."""
    from tqdm import tqdm

    results: list[Any] = [cache.get(k) if k else None for k in keys]
    todo = [i for i, r in enumerate(results) if r is None]
    disable = (not sys.stderr.isatty()) if progress is None else not progress
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), desc=label, disable=disable, leave=False)

    def done(i: int, value: Any) -> None:
        results[i] = value
        if keys[i]:
            cache.put(keys[i], value)
        bar.update(1)

    try:
        if not todo:
            return results
        if scheduler is not None:
            _dask(fn, payload, tasks, todo, scheduler, done)
        else:
            from cpeval.estimation.synth.placebo import n_workers

            n = n_workers(-1 if workers is None else workers, len(todo))
            if n == 1:
                for i in todo:
                    done(i, fn(payload, *tasks[i]))
            else:
                _pool(fn, payload, tasks, todo, n, done)
    finally:
        bar.close()
    return results


def _pool(fn: Callable[..., Any], payload: Any, tasks: Sequence[tuple], todo: list[int], n: int,
          done: Callable[[int, Any], None]) -> None:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                               initargs=(os.getpid(), payload))
    try:
        futures = {pool.submit(_pooled, fn, tuple(tasks[i])): i for i in todo}
        for future in as_completed(futures):
            done(futures[future], future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _dask(fn: Callable[..., Any], payload: Any, tasks: Sequence[tuple], todo: list[int], address: str,
          done: Callable[[int, Any], None]) -> None:
    from cpeval.errors import CpevalError

    try:
        from distributed import Client, as_completed
    except ImportError:
        raise CpevalError("--scheduler needs dask.distributed: pip install 'cpeval[dask]'") from None
    try:
        client = Client(address, timeout="5s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise CpevalError(f"--scheduler {address}: cannot reach a dask scheduler there ({exc}); start one with "
                          "`dask scheduler` and workers with `dask worker ADDRESS`") from None
    try:
        shared = client.scatter(payload, broadcast=True)
        futures = {client.submit(_call, fn, shared, tuple(tasks[i]), pure=False): i for i in todo}
        with client.as_current():
            for future in as_completed(futures):
                done(futures[future], future.result())
    finally:
        client.close()
