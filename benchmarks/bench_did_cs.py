"""Callaway & Sant'Anna: cpeval against csdid, differences and moderndid (speed, peak memory, agreement).

The task: never-treated comparisons, doubly robust, no covariates, every group-time ATT plus the dynamic
(event-time) aggregation with analytic standard errors, on a generated balanced panel (default 200,000 units
x 20 periods, cohorts 5/9/13/17 and never-treated units, ``cpeval.datasets.did.simulate_did``), written once
to Parquet with the columns unit, period, first_treated and y.

Every run is a fresh process (cpeval from ``.venv``, the peers from ``.venv-bench``) that reads the Parquet
file into a DataFrame (except the Parquet-path route) and then times the work on it:

- ``cpeval (Parquet path)``: ``evaluate(design)`` with ``data.path`` the Parquet file (it reads the file itself:
  reading, hashing, validation, estimation);
- ``cpeval (in memory)``: ``evaluate(design, data=df)``, how a notebook calls it (hash of the frame's bytes,
  validation, estimation);
- ``cpeval (fit)``: the estimator alone (``CallawaySantAnna.fit``) on the panel validated beforehand;
- each peer: its ``att_gt`` (or equivalent) plus the dynamic aggregation on the DataFrame.

For each run: wall seconds and CPU seconds (user + system of the process, all threads) of the timed work,
best of ``--repeat`` (cpeval; peers run once) and of the first run alone (lazy imports included), the
process's peak resident set (VmHWM, which exec resets), its resident set just before the timed work, and
bytes per input value (peak / (units x periods x 4 columns)).
The load average is recorded at the start and end of each run: the machine is shared, so CPU seconds are the
steadier comparison. Every package's ATT(g,t) and dynamic overall effect are compared with cpeval's.

    .venv/bin/python benchmarks/bench_did_cs.py                                   # 200,000 x 20, all
    .venv/bin/python benchmarks/bench_did_cs.py --units 1000000 --only cpeval-path cpeval-memory

Set up the peers once: ``python3 -m venv .venv-bench && .venv-bench/bin/pip install csdid differences
moderndid``. Results go to benchmarks/results/did_cs_<units>x<periods>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MAIN_PY = ROOT / ".venv" / "bin" / "python"
BENCH_PY = ROOT / ".venv-bench" / "bin" / "python"
RESULTS = ROOT / "benchmarks" / "results"
COHORTS = (5, 9, 13, 17)
COLUMNS = ("unit", "period", "first_treated", "y")
TOOLS = ("cpeval-path", "cpeval-memory", "cpeval-fit", "csdid", "moderndid", "differences")
MODULES = {"cpeval-path": "cpeval.pipeline", "cpeval-memory": "cpeval.pipeline",
           "cpeval-fit": "cpeval.estimation.did.callaway_santanna", "moderndid": "moderndid",
           "differences": "differences", "csdid": "csdid.att_gt"}


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(key + ":")) / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ------------------------------------------------------------------------------------------ child processes


def _design(data: str) -> Any:
    from cpeval.designs import design_from_dict

    return design_from_dict(
        {
            "name": "bench", "kind": "did", "data": {"path": data, "unit": "unit", "time": "period"},
            "treatment": {"first_treated": "first_treated"}, "outcomes": [{"name": "y", "column": "y"}],
            "estimator": {"method": "callaway_santanna", "approach": "dr", "control_group": "never_treated",
                          "aggregation": "dynamic"},
        }
    )


def _cpeval_result(result: Any) -> tuple[list, dict]:
    effect = result.effects[0]
    cells = [(r["group"], r["time"], r["estimate"]) for r in effect.path if r["kind"] == "att_gt"]
    return cells, {"dynamic_overall": effect.estimate, "dynamic_overall_se": effect.std_error}


def _run_cpeval(df: Any, data: str, in_memory: bool) -> tuple[list, dict]:
    from cpeval import evaluate

    result = evaluate(_design(data), data=df) if in_memory else evaluate(_design(data))
    return _cpeval_result(result)


def _run_cpeval_fit(panel: Any, data: str) -> tuple[list, dict]:
    from cpeval.estimation.did.callaway_santanna import CallawaySantAnna

    design = _design(data)
    effect = CallawaySantAnna(design).fit(panel, design.outcomes[0])
    cells = [(r["group"], r["time"], r["estimate"]) for r in effect.path if r["kind"] == "att_gt"]
    return cells, {"dynamic_overall": effect.estimate, "dynamic_overall_se": effect.std_error}


def _run_moderndid(df: Any, data: str) -> tuple[list, dict]:
    import inspect

    import moderndid as md

    # no bootstrap: the keyword is ``boot`` from moderndid 0.1, ``bstrap`` (with ``cband``) before
    no_boot = {"boot": False} if "boot" in inspect.signature(md.att_gt).parameters else {"bstrap": False,
                                                                                          "cband": False}
    out = md.att_gt(data=df, yname="y", tname="period", idname="unit", gname="first_treated",
                    est_method="dr", control_group="nevertreated", **no_boot)
    agg = md.aggte(out, type="dynamic")
    cells = list(zip(map(float, out.groups), map(float, out.times), map(float, out.att_gt), strict=True))
    return cells, {"dynamic_overall": float(agg.overall_att), "dynamic_overall_se": float(agg.overall_se)}


def _run_differences(df: Any, data: str) -> tuple[list, dict]:
    from differences import ATTgt

    d = df.assign(cohort=df["first_treated"].where(df["first_treated"] > 0)).set_index(["unit", "period"])
    att = ATTgt(data=d, cohort_column="cohort")
    att.fit(formula="y", est_method="dr", control_group="never_treated", progress_bar=False)
    ev = att.aggregate("event", overall=True)
    res = att.results()
    cells = [(float(g), float(t), float(v)) for (g, _, t), v in res.iloc[:, 0].items()]
    return cells, {"dynamic_overall": float(ev.iloc[0, 0]), "dynamic_overall_se": float(ev.iloc[0, 1])}


def _run_csdid(df: Any, data: str) -> tuple[list, dict]:
    import contextlib
    import io

    from csdid.att_gt import ATTgt

    with contextlib.redirect_stdout(io.StringIO()):
        out = ATTgt(yname="y", tname="period", idname="unit", gname="first_treated", data=df,
                    control_group="nevertreated").fit(est_method="dr", bstrap=False)
        agg = out.aggte(typec="dynamic", bstrap=False)
    r = out.results
    cells = list(zip(map(float, r["group"]), map(float, r["year"]), map(float, r["att"]), strict=True))
    overall = {}
    with contextlib.suppress(AttributeError, KeyError, TypeError, IndexError):
        overall = {"dynamic_overall": float(agg.atte["overall_att"]),
                   "dynamic_overall_se": float(agg.atte["overall_se"])}
    return cells, overall


def child(tool: str, data: str, out: str, repeat: int) -> None:
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    __import__(MODULES[tool])
    if tool.startswith("cpeval"):
        __import__("scipy.stats")  # the peers import scipy.stats up front; cpeval imports it when it needs it
    df = None if tool == "cpeval-path" else pd.read_parquet(data)  # that route reads the file itself
    if tool == "cpeval-fit":  # the estimator alone: the data validated beforehand, untimed
        from cpeval.data import validate_panel

        df = validate_panel(df, _design(data))
    base = _status_mb("VmRSS")
    runner = {"cpeval-path": lambda f, d: _run_cpeval(f, d, in_memory=False),
              "cpeval-memory": lambda f, d: _run_cpeval(f, d, in_memory=True),
              "cpeval-fit": _run_cpeval_fit}.get(tool) or globals()[f"_run_{tool}"]
    walls, cpus = [], []
    cells: list = []
    extra: dict = {}
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), _cpu()
        cells, extra = runner(df, data)
        walls.append(time.perf_counter() - w0)
        cpus.append(_cpu() - c0)
    Path(out).write_text(json.dumps({"tool": tool, "wall_seconds": min(walls), "cpu_seconds": min(cpus),
                                     "first_wall_seconds": walls[0], "first_cpu_seconds": cpus[0],
                                     "repeat": repeat, "peak_rss_mb": _status_mb("VmHWM"), "baseline_rss_mb": base,
                                     "cells": cells, **extra}))


# --------------------------------------------------------------------------------------------- orchestrator


def _blas() -> str:
    import numpy  # noqa: F401  (loads the BLAS library so that threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(libs) or "unknown"


def _versions() -> dict[str, str]:
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "('csdid', 'differences', 'moderndid', 'pandas', 'numpy') if __import__('importlib.util').util"
            ".find_spec(p.replace('-', '_'))}))")
    try:
        out = subprocess.run([str(BENCH_PY), "-c", code], capture_output=True, text=True, timeout=120, check=True)
        return json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError):
        return {}


def _limit(gb: float) -> Any:
    def cap() -> None:
        limit = int(gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return cap if gb > 0 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--periods", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of cpeval (best kept); peers run once")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a run is stopped")
    parser.add_argument("--peer-mem-limit-gb", type=float, default=10,
                        help="address-space cap of the peers' processes (0: none), to protect a shared machine")
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "DATA", "OUT", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child[:3], int(args.child[3]))
        return

    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"{args.units}x{args.periods}"
    data = RESULTS / f"did_cs_panel_{tag}.parquet"
    if not data.exists():
        from cpeval.datasets.did import simulate_did

        frame = simulate_did(n_units=args.units, n_periods=args.periods, cohorts=COHORTS, seed=2002)
        frame[list(COLUMNS)].to_parquet(data)
        del frame
    n_values = args.units * args.periods * len(COLUMNS)
    print(f"panel: {args.units:,} units x {args.periods} periods ({n_values:,} input values), cohorts {COHORTS} "
          "+ never treated", flush=True)

    runs: dict[str, dict] = {}
    for tool in args.only:
        cpeval = tool.startswith("cpeval")
        py = MAIN_PY if cpeval else BENCH_PY
        out = RESULTS / f"did_cs_{tool}_{tag}.json"
        out.unlink(missing_ok=True)
        cmd = [str(py), str(Path(__file__).resolve()), "--child", tool, str(data), str(out),
               str(args.repeat if cpeval else 1)]
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False,
                                  preexec_fn=None if cpeval else _limit(args.peer_mem_limit_gb))
        except subprocess.TimeoutExpired:
            runs[tool] = {"tool": tool, "error": f"stopped after {args.timeout:.0f} s",
                          "load_average": [load0, os.getloadavg()[0]]}
            print(f"{tool}: stopped after {args.timeout:.0f} s", flush=True)
            continue
        load = [load0, os.getloadavg()[0]]
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            runs[tool] = {"tool": tool, "error": tail, "load_average": load}
            print(f"{tool}: failed: {tail}", flush=True)
            continue
        runs[tool] = {**json.loads(out.read_text()), "load_average": load}
        r = runs[tool]
        print(f"{tool}: {r['wall_seconds']:.2f} s wall, {r['cpu_seconds']:.2f} s CPU, peak RSS "
              f"{r['peak_rss_mb']:.0f} MB (process {time.perf_counter() - t0:.0f} s, load {load[0]:.1f} -> "
              f"{load[1]:.1f})", flush=True)

    ref_run = runs.get("cpeval-memory") or runs.get("cpeval-path") or {}
    ref = {(float(g), float(t)): a for g, t, a in ref_run.get("cells", [])}
    done = [r for r in runs.values() if "error" not in r]
    peers = [r for r in done if not r["tool"].startswith("cpeval")]
    fastest = min(peers, key=lambda r: r["wall_seconds"], default=None)
    fastest_cpu = min(peers, key=lambda r: r["cpu_seconds"], default=None)
    summary = []
    for tool, r in runs.items():
        row: dict[str, Any] = {"tool": tool, "load_average": r.get("load_average")}
        if "error" in r:
            summary.append({**row, "error": r["error"]})
            continue
        theirs = {(float(g), float(t)): a for g, t, a in r["cells"]}
        common = sorted(set(ref) & set(theirs))
        row.update(
            wall_seconds=r["wall_seconds"], cpu_seconds=r["cpu_seconds"], repeat=r["repeat"],
            first_wall_seconds=r.get("first_wall_seconds"), first_cpu_seconds=r.get("first_cpu_seconds"),
            peak_rss_mb=r["peak_rss_mb"], baseline_rss_mb=r["baseline_rss_mb"],
            bytes_per_input_value=r["peak_rss_mb"] * 2**20 / n_values,
            growth_bytes_per_input_value=(r["peak_rss_mb"] - r["baseline_rss_mb"]) * 2**20 / n_values,
            cells=len(r["cells"]), cells_compared=len(common),
            max_abs_diff_att_gt=max((abs(theirs[k] - ref[k]) for k in common), default=None),
            dynamic_overall=r.get("dynamic_overall"), dynamic_overall_se=r.get("dynamic_overall_se"),
        )
        if tool.startswith("cpeval") and fastest is not None and fastest_cpu is not None:
            row["speedup_wall_vs_fastest_peer"] = fastest["wall_seconds"] / r["wall_seconds"]
            row["speedup_cpu_vs_fastest_peer"] = fastest_cpu["cpu_seconds"] / r["cpu_seconds"]
            row["speedup_cpu_vs_each_peer"] = {p["tool"]: p["cpu_seconds"] / r["cpu_seconds"] for p in peers}
        summary.append(row)
    blas = _blas()
    report = {"units": args.units, "periods": args.periods, "cohorts": COHORTS, "input_values": n_values,
              "python": sys.version.split()[0], "blas": blas, "peer_versions": _versions(),
              "cpus": os.cpu_count(), "results": summary}
    (RESULTS / f"did_cs_{tag}.json").write_text(json.dumps(report, indent=2))
    print(f"BLAS: {blas}; peers: {report['peer_versions']}")
    print("\n| package | wall s | CPU s | first run: wall s / CPU s | peak RSS MB | bytes per input value "
          "(peak / growth) | ATT(g,t) max abs diff vs cpeval | dynamic ATT (SE) | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    for row in summary:
        load = row.get("load_average") or [float("nan")] * 2
        if "error" in row:
            print(f"| {row['tool']} | {row['error']} | | | | | | | {load[0]:.1f}-{load[1]:.1f} |")
            continue
        diff = row["max_abs_diff_att_gt"]
        first = f"{row['first_wall_seconds']:.2f} / {row['first_cpu_seconds']:.2f}" if row["repeat"] > 1 else "same"
        print(f"| {row['tool']} | {row['wall_seconds']:.2f} | {row['cpu_seconds']:.2f} | {first} | "
              f"{row['peak_rss_mb']:,.0f} | "
              f"{row['bytes_per_input_value']:.0f} / {row['growth_bytes_per_input_value']:.0f} | "
              f"{'n/a' if diff is None else f'{diff:.1e}'} ({row['cells_compared']}/{row['cells']}) | "
              f"{row['dynamic_overall']:.6f} ({row['dynamic_overall_se']:.6f}) | {load[0]:.1f}-{load[1]:.1f} |")
    for row in summary:
        if "speedup_cpu_vs_each_peer" in row:
            each = ", ".join(f"{k} {v:.1f}x" for k, v in row["speedup_cpu_vs_each_peer"].items())
            print(f"{row['tool']}: {row['speedup_wall_vs_fastest_peer']:.1f}x the fastest peer's wall time, "
                  f"{row['speedup_cpu_vs_fastest_peer']:.1f}x its CPU time (CPU: {each})")


if __name__ == "__main__":
    main()
