"""Fixed-effects estimators: cpeval against pyfixest (speed, peak memory, agreement), side by side in one run.

The task: a balanced staggered-adoption panel (``cpeval.datasets.did.simulate_did``, cohorts 5, 9, 13, 17 and
never-treated units, 20 periods), clustered by unit, with the fixest/reghdfe small-sample convention
(``estimator.small_sample: reghdfe``, pyfixest's default ``ssc()``), four estimators:

- ``twfe``: y ~ treated | unit + period (pyfixest ``feols``)
- ``event_study``: y ~ every event time but -1 | unit + period (pyfixest ``feols`` with ``i(rel, ref=-1)``,
  never-treated units at the reference)
- ``sun_abraham``: cohort x event-time interactions aggregated by event time (pyfixest ``event_study(...,
  estimator="saturated")`` and its ``aggregate()``)
- ``poisson``: crimes ~ treated | unit + period by PPML (pyfixest ``fepois``)

CPU seconds (all threads of the process) are recorded beside the wall time: on a shared machine they are the
steadier figure. Each (package, estimator) runs in its own fresh process (cpeval from ``.venv``, pyfixest from
``.venv-bench``), so the peak memory is that process's maximum resident set size. Times are wall-clock
seconds, the median of ``--repeat`` runs after one warm-up run (imports, numba compilation): for cpeval
``evaluate(design)`` with the design's Parquet path (read, validate, fit, checks) and the estimator's ``fit``
alone on the validated panel; for pyfixest reading the same Parquet file plus the fit, and the fit alone.
The estimates are compared (largest absolute difference of the coefficients and standard errors).

    .venv/bin/python benchmarks/bench_fixed_effects.py                       # 50,000 x 20 = 1,000,000 rows
    .venv/bin/python benchmarks/bench_fixed_effects.py --units 20000 --methods event_study sun_abraham
    .venv/bin/python benchmarks/bench_fixed_effects.py --units 500000 --methods twfe poisson --repeat 1 \
        --mem-limit-gb 8                                                     # 10,000,000 rows
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_did_cs import BENCH_PY, MAIN_PY, RESULTS, _blas, _status_mb  # noqa: E402


def _rss_kb() -> float:
    return _status_mb("VmRSS") * 1024


def _peak_kb() -> float:
    """This process's peak resident set (VmHWM: its own, not a forking parent's carried through exec)."""
    return _status_mb("VmHWM") * 1024

COHORTS = (5, 9, 13, 17)
METHODS = ("twfe", "event_study", "sun_abraham", "poisson")
TOOLS = ("cpeval", "pyfixest")  # children also run "reuse" (--reuse)


CPU: dict[str, float] = {}  # median CPU seconds of the last timed call, by label


def _median_time(fn: Any, repeat: int, label: str = "") -> tuple[float, Any]:
    """Median wall seconds of ``repeat`` calls after a warm-up; the median CPU seconds (all threads of the
    process) go to ``CPU[label]``: on a shared machine the CPU time is the steadier figure."""
    out = fn()  # warm-up
    times, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU[label] = statistics.median(cpu)
    return statistics.median(times), out


# ------------------------------------------------------------------------------------------ child processes


def _design(method: str, data: str) -> dict:
    y = "crimes" if method == "poisson" else "y"
    outcome = {"name": y, "column": y, **({"family": "other", "measure": "count"} if method == "poisson" else {})}
    estimator: dict[str, Any] = {"method": method, "small_sample": "reghdfe"}
    if method == "poisson":
        estimator.update(exposure="none", poisson_form="twfe")
    return {"name": f"bench {method}", "kind": "did", "data": {"path": data, "unit": "unit", "time": "period"},
            "treatment": {"first_treated": "first_treated"}, "outcomes": [outcome], "estimator": estimator}


def _child_cpeval(method: str, data: str, repeat: int) -> dict:
    import warnings

    import cpeval
    from cpeval.data import load_panel
    from cpeval.designs import design_from_dict
    from cpeval.estimation.registry import estimator_for

    warnings.simplefilter("ignore")
    raw = _design(method, data)
    design = design_from_dict(raw)
    t_eval, result = _median_time(lambda: cpeval.evaluate(design), repeat, "cpu_end_to_end")
    panel = load_panel(design, None)
    est = estimator_for(design)
    t_fit, effect = _median_time(lambda: est.fit(panel, design.outcomes[0]), repeat, "cpu_fit")
    if method in ("event_study", "sun_abraham"):
        coefs = {str(r["event_time"]): [r["estimate"], r["std_error"]] for r in effect.path if r["kind"] != "reference"}
    else:
        coefs = {"treated": [effect.estimate, effect.std_error]}
    return {"seconds_end_to_end": t_eval, "seconds_fit": t_fit, "coefs": coefs, **CPU,
            "checks": [c.name for c in result.checks]}


REUSE_OUTCOMES = ("y", "y_alt", "crimes")


def _child_reuse(method: str, data: str, repeat: int) -> dict:
    """A design with three outcomes on the same rows, through ``evaluate``: the demeaned regressors shared
    across the outcomes (the pipeline's ``reuse_demeaning``) against every outcome fitted from scratch."""
    import contextlib
    import warnings

    import cpeval
    import cpeval.estimation.fixed_effects as fx
    from cpeval.designs import design_from_dict

    warnings.simplefilter("ignore")
    raw = _design(method, data)
    raw["outcomes"] = [{"name": y, "column": y} for y in REUSE_OUTCOMES]
    raw["inference"] = {"method": "analytic"}
    design = design_from_dict(raw)
    shared_s, shared = _median_time(lambda: cpeval.evaluate(design), repeat, "cpu_shared")
    real = fx.reuse_demeaning
    fx.reuse_demeaning = contextlib.nullcontext  # type: ignore[assignment]
    try:
        fresh_s, fresh = _median_time(lambda: cpeval.evaluate(design), repeat, "cpu_fresh")
    finally:
        fx.reuse_demeaning = real
    identical = [e.to_dict() for e in shared.effects] == [e.to_dict() for e in fresh.effects]
    return {"seconds_shared": shared_s, "seconds_fresh": fresh_s, "identical": identical, **CPU}


def _child_pyfixest(method: str, data: str, repeat: int) -> dict:
    import numpy as np
    import pandas as pd
    import pyfixest as pf

    def prepare(df: pd.DataFrame) -> pd.DataFrame:
        if method == "event_study":
            rel = np.where(df["first_treated"] > 0, df["period"] - df["first_treated"], -1)
            df = df.assign(rel=rel)
        return df

    def fit(df: pd.DataFrame) -> Any:
        if method == "twfe":
            return pf.feols("y ~ treated | unit + period", data=df, vcov={"CRV1": "unit"})
        if method == "event_study":
            return pf.feols("y ~ i(rel, ref=-1) | unit + period", data=df, vcov={"CRV1": "unit"})
        if method == "poisson":
            return pf.fepois("crimes ~ treated | unit + period", data=df, vcov={"CRV1": "unit"})
        m = pf.event_study(df, yname="y", idname="unit", tname="period", gname="first_treated",
                           estimator="saturated")
        return m, m.aggregate()

    cols = ["unit", "period", "first_treated", "treated", "crimes" if method == "poisson" else "y"]
    frame = prepare(pd.read_parquet(data, columns=cols))
    t_fit, out = _median_time(lambda: fit(frame), repeat, "cpu_fit")
    t_e2e, _ = _median_time(lambda: fit(prepare(pd.read_parquet(data, columns=cols))), repeat, "cpu_end_to_end")
    if method in ("twfe", "poisson"):
        coefs = {"treated": [float(out.coef()["treated"]), float(out.se()["treated"])]}
    elif method == "event_study":
        coefs = {}
        for name, b in out.coef().items():
            k = name.split("::")[-1].rstrip("]").split(".")[0]
            coefs[str(int(float(k)))] = [float(b), float(out.se()[name])]
    else:
        agg = out[1]
        coefs = {}
        for idx, row in agg.iterrows():
            k = str(idx).split("::")[-1].rstrip("]")
            try:
                coefs[str(int(float(k)))] = [float(row.iloc[0]), float(row.iloc[1])]
            except ValueError:
                continue
    return {"seconds_end_to_end": t_e2e, "seconds_fit": t_fit, "coefs": coefs, **CPU}


def child(tool: str, method: str, data: str, out: str, repeat: int) -> None:
    import warnings

    warnings.simplefilter("ignore")
    __import__("pyfixest" if tool == "pyfixest" else "cpeval.estimation.fixed_effects")
    base = _rss_kb()
    res = globals()[f"_child_{tool}"](method, data, repeat)
    Path(out).write_text(json.dumps({"tool": tool, "method": method, "peak_rss_mb": _peak_kb() / 1024,
                                     "baseline_rss_mb": base / 1024, **res}))


# --------------------------------------------------------------------------------------------- orchestrator


def _diff(a: dict, b: dict) -> tuple[float | None, float | None, int]:
    common = sorted(set(a) & set(b))
    if not common:
        return None, None, 0
    return (max(abs(a[k][0] - b[k][0]) for k in common), max(abs(a[k][1] - b[k][1]) for k in common), len(common))


def _limit(gb: float | None) -> Any:
    if gb is None:
        return None

    def apply() -> None:
        import resource

        cap = int(gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return apply


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--periods", type=int, default=20)
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    parser.add_argument("--only", nargs="*", default=list(TOOLS), choices=TOOLS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--mem-limit-gb", type=float, default=None,
                        help="cap each child's address space (a package that needs more fails cleanly instead of "
                             "pushing a shared machine out of memory)")
    parser.add_argument("--reuse", action="store_true",
                        help="instead of the comparison: a three-outcome design through evaluate, the demeaning shared "
                             "across outcomes against every outcome fitted from scratch (cpeval only)")
    parser.add_argument("--child", nargs=4, metavar=("TOOL", "METHOD", "DATA", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, repeat=args.repeat)
        return

    import numpy as np

    from cpeval.datasets.did import simulate_did

    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = f"{args.units}x{args.periods}"
    data = RESULTS / f"fe_panel_{tag}.parquet"
    frame = simulate_did(n_units=args.units, n_periods=args.periods, cohorts=COHORTS, counts=True, seed=2002)
    frame["y_alt"] = frame["y"] + np.random.default_rng(7).standard_normal(len(frame))  # a third outcome
    frame[["unit", "period", "first_treated", "treated", "y", "y_alt", "crimes"]].to_parquet(data)
    rows = len(frame)
    del frame
    print(f"panel: {args.units:,} units x {args.periods} periods = {rows:,} rows, cohorts {COHORTS} + never treated",
          flush=True)
    if args.reuse:
        _reuse_table(args, data, tag)
        return
    runs: dict[tuple[str, str], dict] = {}
    for method in args.methods:
        for tool in args.only:
            out = RESULTS / f"fe_{tool}_{method}_{tag}.json"
            out.unlink(missing_ok=True)
            py = MAIN_PY if tool == "cpeval" else BENCH_PY
            cmd = [str(py), str(Path(__file__).resolve()), "--repeat", str(args.repeat), "--child", tool, method,
                   str(data), str(out)]
            load = os.getloadavg()
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False,
                                      preexec_fn=_limit(args.mem_limit_gb))
            except subprocess.TimeoutExpired:
                runs[tool, method] = {"error": f"timed out after {args.timeout:.0f} s"}
                continue
            if proc.returncode != 0 or not out.exists():
                runs[tool, method] = {"error": " ".join((proc.stderr or proc.stdout).strip().splitlines()[-1:])}
            else:
                runs[tool, method] = json.loads(out.read_text())
            runs[tool, method]["load_average"] = [load[0], os.getloadavg()[0]]  # at the start and the end
            r = runs[tool, method]
            print(f"{method} {tool}: " + (r["error"] if "error" in r else
                  f"end-to-end {r['seconds_end_to_end']:.3f} s, fit {r['seconds_fit']:.3f} s, "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB"), flush=True)
    blas = _blas()
    print(f"\nBLAS: {blas}\n")
    print("| estimator | package | end-to-end s | fit s | fit vs pyfixest | fit CPU s | CPU vs pyfixest | "
          "peak RSS MB | max |diff| coef | max |diff| SE | compared | load average (start, end) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    summary = []
    for method in args.methods:
        ref = runs.get(("pyfixest", method), {})
        for tool in args.only:
            r = runs.get((tool, method), {})
            if "error" in r or not r:
                print(f"| {method} | {tool} | {r.get('error', 'not run')} | | | | | | | | | |")
                continue
            ratio = r["seconds_fit"] / ref["seconds_fit"] if "seconds_fit" in ref else None
            cpu_ratio = r["cpu_fit"] / ref["cpu_fit"] if "cpu_fit" in ref and ref["cpu_fit"] > 0 else None
            dc, ds, n = _diff(r["coefs"], ref.get("coefs", {})) if tool != "pyfixest" else (None, None, 0)
            summary.append({"method": method, "tool": tool, **{k: v for k, v in r.items() if k != "coefs"},
                            "fit_ratio_vs_pyfixest": ratio, "cpu_fit_ratio_vs_pyfixest": cpu_ratio,
                            "max_abs_diff_coef": dc, "max_abs_diff_se": ds,
                            "compared": n})
            print(f"| {method} | {tool} | {r['seconds_end_to_end']:.3f} | {r['seconds_fit']:.3f} | "
                  f"{'' if ratio is None else f'{ratio:.2f}'} | {r['cpu_fit']:.3f} | "
                  f"{'' if cpu_ratio is None else f'{cpu_ratio:.2f}'} | {r['peak_rss_mb']:.0f} | "
                  f"{'' if dc is None else f'{dc:.1e}'} | {'' if ds is None else f'{ds:.1e}'} | {n or ''} | "
                  f"{r['load_average'][0]:.1f}, {r['load_average'][1]:.1f} |")
    (RESULTS / f"fixed_effects_{tag}.json").write_text(json.dumps(
        {"units": args.units, "periods": args.periods, "rows": rows, "blas": blas, "results": summary}, indent=2))


def _reuse_table(args: argparse.Namespace, data: Path, tag: str) -> None:
    print("| estimator | outcomes | shared: wall s | CPU s | from scratch: wall s | CPU s | CPU saved | identical | "
          "load average (start, end) |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for method in [m for m in args.methods if m != "poisson"]:
        out = RESULTS / f"fe_reuse_{method}_{tag}.json"
        out.unlink(missing_ok=True)
        load = os.getloadavg()[0]
        cmd = [str(MAIN_PY), str(Path(__file__).resolve()), "--repeat", str(args.repeat), "--child", "reuse", method,
               str(data), str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, check=False)
        if proc.returncode != 0 or not out.exists():
            print(f"| {method} | error: {' '.join((proc.stderr or proc.stdout).strip().splitlines()[-1:])} |")
            continue
        r = {**json.loads(out.read_text()), "load_average": [load, os.getloadavg()[0]]}
        rows.append(r)
        print(f"| {method} | {len(REUSE_OUTCOMES)} | {r['seconds_shared']:.2f} | {r['cpu_shared']:.2f} | "
              f"{r['seconds_fresh']:.2f} | {r['cpu_fresh']:.2f} | {1 - r['cpu_shared'] / r['cpu_fresh']:.0%} | "
              f"{r['identical']} | {r['load_average'][0]:.1f}, {r['load_average'][1]:.1f} |")
    (RESULTS / f"fe_reuse_{tag}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
