"""Killing a synthetic-control run kills its placebo workers: none survives its parent by more than 2 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process table in /proc")

RUN = textwrap.dedent("""
    import sys
    sys.path.insert(0, "tests")
    from synth.conftest import design_dict
    from cpeval.pipeline import evaluate
    import cpeval.estimation.synth.placebo as placebo

    if sys.argv[1] == "watchdog":  # the path taken where the kernel offers no parent-death signal
        placebo._parent_death_signal = lambda: False
    raw = design_dict("prop99", conformal=False, starts=2)
    raw["checks"] = {"placebo_space": {"n_jobs": 2}}
    evaluate(raw)
""")


def _stat(pid: int) -> tuple[int, str, str] | None:
    """(parent pid, state, start time) of a live process, None once it has gone (a zombie has gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return None if fields[0] in "ZX" else (int(fields[1]), fields[0], fields[19])


def _children(parent: int) -> dict[int, str]:
    """Live children of ``parent``, keyed by pid, with their start times (to tell a reused pid apart)."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None and st[0] == parent:
            out[int(entry)] = st[2]
    return out


@pytest.mark.parametrize(
    ("sig", "guard"),
    [(signal.SIGKILL, "prctl"), (signal.SIGTERM, "prctl"), (signal.SIGKILL, "watchdog")],
    ids=["SIGKILL", "SIGTERM", "SIGKILL-watchdog"],
)
def test_killing_a_run_leaves_no_placebo_worker(sig, guard):
    run = subprocess.Popen(
        [sys.executable, "-c", RUN, guard], cwd=ROOT, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    workers: dict[int, str] = {}
    try:
        deadline = time.monotonic() + 120
        while len(workers) < 2 and run.poll() is None and time.monotonic() < deadline:
            workers.update(_children(run.pid))
            time.sleep(0.05)
        assert len(workers) == 2, f"the run never started its 2 placebo workers: {run.stderr.read().decode()[-2000:]}"
        time.sleep(0.5)  # the workers are fitting placebos
        os.kill(run.pid, sig)  # the run only, not its process group
        run.wait(timeout=10)
        time.sleep(2.0)
        alive = {pid for pid, start in workers.items() if (st := _stat(pid)) is not None and st[2] == start}
        assert not alive, f"placebo workers {sorted(alive)} outlived the killed run by 2 s"
    finally:
        if run.poll() is None:
            run.kill()
        for pid, start in workers.items():
            if (st := _stat(pid)) is not None and st[2] == start:
                os.kill(pid, signal.SIGKILL)
        run.stderr.close()
