"""Callaway & Sant'Anna: cpeval against csdid, differences and moderndid (speed, peak memory, agreement).

The task (issue 3): never-treated comparisons, doubly robust, no covariates, every group-time ATT plus the
dynamic (event-time) aggregation with analytic standard errors, on a generated balanced panel of 20,000
units x 20 periods with 4 cohorts and never-treated units (``cpeval.datasets.did.simulate_did``).

Each package runs in its own fresh process (cpeval from ``.venv``, the peers from ``.venv-bench``), so peak
memory is that process's maximum resident set size; the table also gives the growth of the peak over the
process's size just before estimating (libraries imported, scipy.stats included, data read). Times are
wall-clock seconds of the estimation alone (for cpeval: data validation plus estimation, best of 3; peers:
one run). Every package's
ATT(g,t) are compared with cpeval's (max absolute difference; the issue asks for <= 1e-8).

    .venv/bin/python benchmarks/bench_did_cs.py                 # 20,000 x 20, all packages
    .venv/bin/python benchmarks/bench_did_cs.py --units 200000 --only cpeval   # the scale check

Set up the peers once: ``python3 -m venv .venv-bench && .venv-bench/bin/pip install csdid differences
moderndid`` (see the benchmark notes in the issue for build flags). Results go to benchmarks/results/.
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
TOOLS = ("cpeval", "moderndid", "differences", "csdid")
MODULES = {"cpeval": "cpeval.estimation.did.callaway_santanna", "moderndid": "moderndid",
           "differences": "differences", "csdid": "csdid.att_gt"}


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ------------------------------------------------------------------------------------------ child processes


def _child_cpeval(df: Any, data: str = "x.csv") -> tuple[float, list, dict]:
    import warnings

    from cpeval import evaluate
    from cpeval.data import validate_panel
    from cpeval.designs import design_from_dict
    from cpeval.estimation.did.callaway_santanna import CallawaySantAnna

    design = design_from_dict(
        {
            "name": "bench", "kind": "did", "data": {"path": data, "unit": "unit", "time": "period"},
            "treatment": {"first_treated": "first_treated"}, "outcomes": [{"name": "y", "column": "y"}],
            "estimator": {"method": "callaway_santanna", "approach": "dr", "control_group": "never_treated",
                          "aggregation": "dynamic"},
        }
    )
    best, best_fit, effect = float("inf"), float("inf"), None
    for _ in range(3):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            panel = validate_panel(df, design)
            t1 = time.perf_counter()
            effect = CallawaySantAnna(design).fit(panel, design.outcomes[0])
        t2 = time.perf_counter()
        best, best_fit = min(best, t2 - t0), min(best_fit, t2 - t1)
        del panel
    cells = [(r["group"], r["time"], r["estimate"]) for r in effect.path if r["kind"] == "att_gt"]
    # the two routes a user takes: evaluate(design) reading the Parquet path, and evaluate(design, data=df)
    routes = {}
    for route, kwargs in (("evaluate_parquet_path_seconds", {}), ("evaluate_in_memory_seconds", {"data": df})):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            evaluate(design, **kwargs)
        routes[route] = time.perf_counter() - t0
    return best, cells, {"dynamic_overall": effect.estimate, "dynamic_overall_se": effect.std_error,
                         "estimation_only_seconds": best_fit, **routes}


def _child_moderndid(df: Any) -> tuple[float, list, dict]:
    import moderndid as md

    t0 = time.perf_counter()
    out = md.att_gt(data=df, yname="y", tname="period", idname="unit", gname="first_treated",
                    est_method="dr", control_group="nevertreated", boot=False)
    agg = md.aggte(out, type="dynamic")
    elapsed = time.perf_counter() - t0
    cells = list(zip(map(float, out.groups), map(float, out.times), map(float, out.att_gt), strict=True))
    return elapsed, cells, {"dynamic_overall": float(agg.overall_att), "dynamic_overall_se": float(agg.overall_se)}


def _child_differences(df: Any) -> tuple[float, list, dict]:
    from differences import ATTgt

    d = df.assign(cohort=df["first_treated"].where(df["first_treated"] > 0)).set_index(["unit", "period"])
    t0 = time.perf_counter()
    att = ATTgt(data=d, cohort_column="cohort")
    att.fit(formula="y", est_method="dr", control_group="never_treated", progress_bar=False)
    ev = att.aggregate("event", overall=True)
    elapsed = time.perf_counter() - t0
    res = att.results()
    cells = [(float(g), float(t), float(v)) for (g, _, t), v in res.iloc[:, 0].items()]
    return elapsed, cells, {"dynamic_overall": float(ev.iloc[0, 0]), "dynamic_overall_se": float(ev.iloc[0, 1])}


def _child_csdid(df: Any) -> tuple[float, list, dict]:
    import contextlib
    import io

    from csdid.att_gt import ATTgt

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        out = ATTgt(yname="y", tname="period", idname="unit", gname="first_treated", data=df,
                    control_group="nevertreated").fit(est_method="dr", bstrap=False)
        agg = out.aggte(typec="dynamic", bstrap=False)
    elapsed = time.perf_counter() - t0
    r = out.results
    cells = list(zip(map(float, r["group"]), map(float, r["year"]), map(float, r["att"]), strict=True))
    overall = {}
    with contextlib.suppress(AttributeError, KeyError, TypeError, IndexError):
        overall = {"dynamic_overall": float(agg.atte["overall_att"]),
                   "dynamic_overall_se": float(agg.atte["overall_se"])}
    return elapsed, cells, overall


def child(tool: str, data: str, out: str) -> None:
    import warnings

    import pandas as pd

    warnings.simplefilter("ignore")
    df = pd.read_parquet(data)
    runner = globals()[f"_child_{tool}"]
    if tool == "cpeval":
        runner = lambda frame: _child_cpeval(frame, data)  # noqa: E731  (the Parquet path route too)
    # import the package before measuring the baseline, so the baseline includes it; cpeval imports
    # scipy.stats lazily (to keep the CLI fast) while the peers import it up front, so import it here too
    __import__(MODULES[tool])
    if tool == "cpeval":
        __import__("scipy.stats")
    base = _rss_kb()
    elapsed, cells, extra = runner(df)
    Path(out).write_text(json.dumps({"tool": tool, "seconds": elapsed, "peak_rss_mb": _peak_kb() / 1024,
                                     "baseline_rss_mb": base / 1024, "cells": cells, **extra}))


# --------------------------------------------------------------------------------------------- orchestrator


def _blas() -> str:
    import numpy  # noqa: F401  (loads the BLAS library so that threadpoolctl can see it)
    from threadpoolctl import threadpool_info

    libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, {i.get('num_threads')} threads)"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return "; ".join(libs) or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=20_000)
    parser.add_argument("--periods", type=int, default=20)
    parser.add_argument("--only", nargs="*", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--child", nargs=3, metavar=("TOOL", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from cpeval.datasets.did import simulate_did

    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"{args.units}x{args.periods}"
    data = RESULTS / f"did_cs_panel_{tag}.parquet"
    frame = simulate_did(n_units=args.units, n_periods=args.periods, cohorts=COHORTS, seed=2002)
    frame[["unit", "period", "first_treated", "y"]].to_parquet(data)
    print(f"panel: {args.units:,} units x {args.periods} periods, cohorts {COHORTS} + never treated "
          f"({int((frame.groupby('unit').first_treated.first() == 0).sum()):,} units)", flush=True)

    runs: dict[str, dict] = {}
    for tool in args.only:
        py = MAIN_PY if tool == "cpeval" else BENCH_PY
        out = RESULTS / f"did_cs_{tool}_{tag}.json"
        out.unlink(missing_ok=True)
        cmd = [str(py), str(Path(__file__).resolve()), "--child", tool, str(data), str(out)]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False)
        except subprocess.TimeoutExpired:
            runs[tool] = {"tool": tool, "error": f"timed out after {args.timeout:.0f} s"}
            print(f"{tool}: timed out", flush=True)
            continue
        if proc.returncode != 0 or not out.exists():
            runs[tool] = {"tool": tool, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
            print(f"{tool}: failed: {runs[tool]['error']}", flush=True)
            continue
        runs[tool] = json.loads(out.read_text())
        only = runs[tool].get("estimation_only_seconds")
        only_s = f" ({only:.3f} s without data validation)" if only is not None else ""
        if "evaluate_in_memory_seconds" in runs[tool]:
            only_s += (f"; evaluate(): Parquet path {runs[tool]['evaluate_parquet_path_seconds']:.3f} s, "
                       f"in memory {runs[tool]['evaluate_in_memory_seconds']:.3f} s")
        print(f"{tool}: {runs[tool]['seconds']:.3f} s{only_s}, peak RSS {runs[tool]['peak_rss_mb']:.0f} MB "
              f"(process wall {time.perf_counter() - t0:.1f} s)", flush=True)

    ref = {(g, t): a for g, t, a in runs.get("cpeval", {}).get("cells", [])}
    summary = []
    for tool, r in runs.items():
        row = {"tool": tool}
        if "error" in r:
            row["error"] = r["error"]
            summary.append(row)
            continue
        theirs = {(float(g), float(t)): a for g, t, a in r["cells"]}
        common = sorted(set(ref) & set(theirs))
        row.update(
            seconds=r["seconds"], peak_rss_mb=r["peak_rss_mb"],
            peak_growth_mb=r["peak_rss_mb"] - r["baseline_rss_mb"], cells=len(r["cells"]),
            cells_compared=len(common),
            max_abs_diff_att_gt=max((abs(theirs[k] - ref[k]) for k in common), default=None),
            dynamic_overall=r.get("dynamic_overall"), dynamic_overall_se=r.get("dynamic_overall_se"),
            estimation_only_seconds=r.get("estimation_only_seconds"),
            evaluate_parquet_path_seconds=r.get("evaluate_parquet_path_seconds"),
            evaluate_in_memory_seconds=r.get("evaluate_in_memory_seconds"),
            bytes_per_input_value=(r["peak_rss_mb"] - r["baseline_rss_mb"]) * 2**20 / (4 * args.units * args.periods),
        )
        if "cpeval" in runs and "seconds" in runs["cpeval"] and tool != "cpeval":
            row["time_ratio_vs_cpeval"] = r["seconds"] / runs["cpeval"]["seconds"]
            row["time_ratio_vs_cpeval_estimation_only"] = r["seconds"] / runs["cpeval"]["estimation_only_seconds"]
            row["peak_ratio_vs_cpeval"] = r["peak_rss_mb"] / runs["cpeval"]["peak_rss_mb"]
        summary.append(row)
    blas = _blas()
    print(f"BLAS: {blas}; cpeval runs its estimation with one BLAS thread")
    report = {"units": args.units, "periods": args.periods, "cohorts": COHORTS, "python": sys.version.split()[0],
              "blas": blas, "results": summary}
    (RESULTS / f"did_cs_{tag}.json").write_text(json.dumps(report, indent=2))
    print("\n| package | seconds | x cpeval | peak RSS MB | peak growth MB | bytes per input value | "
          "ATT(g,t) max |diff| | dynamic ATT |")
    print("|---|---|---|---|---|---|---|---|")
    for row in summary:
        if "error" in row:
            print(f"| {row['tool']} | {row['error']} | | | | | | |")
            continue
        ratio = row.get("time_ratio_vs_cpeval")
        diff = row["max_abs_diff_att_gt"]
        print(f"| {row['tool']} | {row['seconds']:.3f} | {'' if ratio is None else f'{ratio:.1f}'} | "
              f"{row['peak_rss_mb']:.0f} | {row['peak_growth_mb']:.0f} | {row['bytes_per_input_value']:.0f} | "
              f"{'n/a' if diff is None else f'{diff:.1e}'} ({row['cells_compared']}/{row['cells']}) | "
              f"{row['dynamic_overall']} |")
    cp = next((r for r in summary if r["tool"] == "cpeval" and "error" not in r), None)
    if cp and cp.get("evaluate_in_memory_seconds") is not None:
        print(f"\ncpeval evaluate(): Parquet path {cp['evaluate_parquet_path_seconds']:.3f} s, in memory "
              f"{cp['evaluate_in_memory_seconds']:.3f} s (checks included)")
        for r in summary:
            if r["tool"] != "cpeval" and "error" not in r:
                print(f"  {r['tool']} / cpeval: Parquet path "
                      f"{r['seconds'] / cp['evaluate_parquet_path_seconds']:.1f}x, in memory "
                      f"{r['seconds'] / cp['evaluate_in_memory_seconds']:.1f}x")

if __name__ == "__main__":
    main()
