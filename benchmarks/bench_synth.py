"""Synthetic control: cpeval against pysyncon on Proposition 99 (issue 4).

The task: the Abadie, Diamond & Hainmueller (2010) synthetic California (the paper's predictors; V chosen
by the fit of cigarette sales 1970-1988) plus the full placebo-in-space loop (every one of the 38 donor
states refitted as if treated, the others as its donors). Both packages run their placebo loops in
parallel on every core. Reported: wall time of fit + placebos, the fit-window loss of California's
synthetic control, and for every unit the pre-period RMSPE each package reaches (cpeval should be equal
or lower: a lower RMSPE means a better optimum of the same problem).

Each package runs in its own process: cpeval from ``.venv``, pysyncon from ``.venv-bench``. pysyncon's
default outer optimiser (Nelder-Mead from equal weights) is very slow, so by default pysyncon refits only
``--placebos`` donors and its placebo time is extrapolated to all 38 (per-placebo time x 38 / cores);
``--placebos 38`` runs pysyncon's own parallel PlaceboTest over all of them. Several ``--initial`` values
are several starts: pysyncon runs once from each, its time is the sum, and each unit keeps its best start.

    .venv/bin/python benchmarks/bench_synth.py                       # pysyncon defaults (Nelder-Mead)
    .venv/bin/python benchmarks/bench_synth.py --method BFGS --initial equal ols --placebos 38   # best config

The V search is non-convex, so a change to the optimiser can move units to other optima. ``--losses FILE``
writes every unit's fit-window MSPE (the treated unit and each placebo, as the placebo check fits them) for
Proposition 99 and the Basque Country with whatever cpeval is importable (run it with PYTHONPATH set to an
older checkout for its numbers); ``--compare A.json B.json ...`` lists, per unit, where the last file's loss
exceeds the lowest of the others by more than 1e-9 relative.

    PYTHONPATH=/tmp/old/src .venv/bin/python benchmarks/bench_synth.py --losses old.json
    .venv/bin/python benchmarks/bench_synth.py --losses new.json && \
        .venv/bin/python benchmarks/bench_synth.py --compare old.json new.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_PY = ROOT / ".venv" / "bin" / "python"
BENCH_PY = ROOT / ".venv-bench" / "bin" / "python"
RESULTS = ROOT / "benchmarks" / "results"
DATA = ROOT / "case_studies" / "data" / "smoking_prop99.csv"
PRE = (1970, 1988)


def _cpu() -> float:
    """CPU seconds of this process and of its finished child processes (placebo workers)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_cpeval() -> dict:
    import yaml

    from cpeval.payloads import SynthFit
    from cpeval.pipeline import evaluate

    raw = yaml.safe_load((ROOT / "designs" / "prop99.yaml").read_text())
    raw["data"]["path"] = str(DATA)
    raw["estimator"]["conformal"] = False
    runs, cpu = {}, {}
    for n_jobs in (1, -1):  # the placebo refits serially and on every core: the results must be identical
        raw["checks"] = {"placebo_space": {"n_jobs": n_jobs}}
        t0, c0 = time.perf_counter(), _cpu()
        runs[n_jobs] = (evaluate(raw), time.perf_counter() - t0)
        cpu[n_jobs] = _cpu() - c0
    result, elapsed = runs[-1]
    serial = runs[1][0].checks[0].table
    effect = result.effects[0]
    fitted = effect.payload(SynthFit)
    check = result.checks[0]
    pre = {row["unit"]: row["pre_rmspe"] for row in check.table}  # California and every placebo
    return {"tool": "cpeval", "seconds": elapsed, "serial_seconds": runs[1][1], "cpu_seconds": cpu[-1],
            "serial_cpu_seconds": cpu[1], "serial_equals_parallel":
            [dict(r) for r in serial] == [dict(r) for r in check.table],
            "loss": fitted.fit_window_mspe, "pre_rmspe": pre,
            "weights": {k: v for k, v in fitted.weights.items() if v >= 0.001},
            "p_value": check.values["p_value"], "cores": os.cpu_count()}


def _dataprep(df, treated: str, controls: list[str]):
    from pysyncon import Dataprep

    return Dataprep(
        foo=df, predictors=[], predictors_op="mean", time_predictors_prior=range(1980, 1989),
        special_predictors=[("lnincome", range(1980, 1989), "mean"), ("age15to24", range(1980, 1989), "mean"),
                            ("retprice", range(1980, 1989), "mean"), ("beer", range(1984, 1989), "mean"),
                            ("cigsale", [1988], "mean"), ("cigsale", [1980], "mean"), ("cigsale", [1975], "mean")],
        dependent="cigsale", unit_variable="state", time_variable="year", treatment_identifier=treated,
        controls_identifier=controls, time_optimize_ssr=range(PRE[0], PRE[1] + 1),
    )


def run_pysyncon_starts(method: str, initials: list[str], n_placebos: int) -> dict:
    """pysyncon from each start in turn: times add up, each unit keeps its lowest pre-period RMSPE."""
    c0 = _cpu()
    runs = [run_pysyncon(method, init, n_placebos) for init in initials]
    best = min(runs, key=lambda r: r["loss"])
    pre = {u: min(r["pre_rmspe"][u] for r in runs if u in r["pre_rmspe"]) for u in runs[0]["pre_rmspe"]}
    return {**best, "seconds": sum(r["seconds"] for r in runs), "main_seconds": sum(r["main_seconds"] for r in runs),
            "cpu_seconds": _cpu() - c0,
            "pre_rmspe": pre, "options": {"optim_method": method, "optim_initial": "+".join(initials)},
            "starts": {init: r["seconds"] for init, r in zip(initials, runs, strict=True)}}


def run_pysyncon(method: str, initial: str, n_placebos: int) -> dict:
    import numpy as np
    import pandas as pd
    from pysyncon import Synth

    df = pd.read_csv(DATA)
    states = sorted(df.state.unique())
    donors = [s for s in states if s != "California"]
    opts = {"optim_method": method, "optim_initial": initial}

    def fit(treated: str, controls: list[str]) -> tuple[float, float, dict]:
        dp = _dataprep(df, treated, controls)
        s = Synth()
        s.fit(dataprep=dp, **opts)
        z0, z1 = dp.make_outcome_mats(time_period=range(1970, 2001))
        gap = (z1 - z0 @ s.W).to_numpy()
        pre = float(np.sqrt(np.mean(gap[: PRE[1] - PRE[0] + 1] ** 2)))
        return pre, float(s.loss_V), {k: float(v) for k, v in s.weights(threshold=0.001).items()}

    cores = os.cpu_count() or 1
    t0 = time.perf_counter()
    pre_ca, loss, weights = fit("California", donors)
    t_main = time.perf_counter() - t0
    pre = {"California": pre_ca}
    if n_placebos >= len(donors):
        from pysyncon.utils import PlaceboTest

        t1 = time.perf_counter()
        pt = PlaceboTest()
        pt.fit(dataprep=_dataprep(df, "California", donors), scm=Synth(), scm_options=opts, verbose=False)
        t_placebo = time.perf_counter() - t1 - t_main  # PlaceboTest refits California too
        years = list(range(PRE[0], PRE[1] + 1))
        for unit in pt.gaps.columns:
            pre[str(unit)] = float(np.sqrt(np.mean(pt.gaps.loc[years, unit].to_numpy() ** 2)))
        extrapolated = False
    else:
        t1 = time.perf_counter()
        for d in donors[:n_placebos]:
            pre[d] = fit(d, [x for x in donors if x != d])[0]
        per = (time.perf_counter() - t1) / max(n_placebos, 1)
        t_placebo = per * len(donors) / cores
        extrapolated = True
    return {"tool": "pysyncon", "seconds": t_main + t_placebo, "main_seconds": t_main, "loss": loss,
            "pre_rmspe": pre, "weights": weights, "extrapolated": extrapolated, "placebos_run": n_placebos,
            "options": opts, "cores": cores}


def _child(tool: str, args: argparse.Namespace) -> dict:
    py = MAIN_PY if tool == "cpeval" else BENCH_PY
    cmd = [str(py), __file__, "--child", tool, "--method", args.method, "--initial", *args.initial,
           "--placebos", str(args.placebos)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    load = os.getloadavg()[0]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "load_average": [load, os.getloadavg()[0]]}


def unit_losses() -> dict:
    """Fit-window MSPE, pre-period RMSPE and ATT of every unit of Proposition 99 and the Basque Country (the
    treated unit, then each donor as a placebo with the other donors), and the CPU seconds of the fits."""
    import yaml

    from cpeval.estimation.synth.common import settings_for
    from cpeval.estimation.synth.core import fit_unit
    from cpeval.estimation.synth.prep import prepare
    from cpeval.pipeline import check

    out = {}
    for name in ("prop99", "basque"):
        raw = yaml.safe_load((ROOT / "designs" / f"{name}.yaml").read_text())
        raw["data"]["path"] = str(ROOT / "case_studies" / "data" / Path(raw["data"]["path"]).name)
        raw["checks"] = []
        panel = check(raw)
        data = prepare(panel, panel.design, panel.design.outcomes[0].column)
        settings = settings_for(panel.design, data)
        units = [(data.treated[0], list(data.donors))] + [(d, [x for x in data.donors if x != d]) for d in data.donors]
        c0, rows = _cpu(), {}
        for t, donors in units:
            f = fit_unit(data.y[:, t], data.y[:, donors], data.x[:, t], data.x[:, donors], data.fit_mask,
                         data.n_pre, settings)
            rows[data.names[t]] = {"loss": f.loss_v, "pre_rmspe": f.pre_rmspe, "att": float(f.gap[data.n_pre:].mean())}
        out[name] = {"cpu_seconds": _cpu() - c0, "units": rows}
    return out


def compare_losses(paths: list[str]) -> str:
    """Per case: units whose loss in the last file exceeds the lowest of the others (1e-9 relative)."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    lines = []
    for case in runs[-1]:
        units = runs[-1][case]["units"]
        short = {}
        for u, row in units.items():
            best = min(r[case]["units"][u]["loss"] for r in runs[:-1])
            if row["loss"] > best * (1 + 1e-9):
                short[u] = row["loss"] / best - 1
        better = sum(row["loss"] < min(r[case]["units"][u]["loss"] for r in runs[:-1]) * (1 - 1e-9)
                     for u, row in units.items())
        cpu = ", ".join(f"{r[case]['cpu_seconds']:.1f}" for r in runs)
        lines.append(f"{case}: {len(units)} units; {paths[-1]} lower than the best of the others for {better}, "
                     f"higher for {len(short)} (CPU s of the fits: {cpu})")
        lines += [f"  {u}: +{d:.3g} relative" for u, d in sorted(short.items(), key=lambda t: -t[1])]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", choices=["cpeval", "pysyncon"])
    ap.add_argument("--method", default="Nelder-Mead", help="pysyncon optim_method (its default: Nelder-Mead)")
    ap.add_argument("--initial", nargs="+", default=["equal"],
                    help="pysyncon optim_initial (its default: equal); several values are several starts")
    ap.add_argument("--placebos", type=int, default=2, help="pysyncon placebos actually run (38 = all)")
    ap.add_argument("--losses", metavar="FILE", help="write every unit's fit-window loss (Prop 99, Basque) and stop")
    ap.add_argument("--compare", nargs="+", metavar="FILE", help="compare --losses files (the last against the rest)")
    args = ap.parse_args()
    if args.losses:
        Path(args.losses).write_text(json.dumps(unit_losses(), indent=1))
        return
    if args.compare:
        print(compare_losses(args.compare))
        return
    if args.child == "cpeval":
        print(json.dumps(run_cpeval()))
        return
    if args.child == "pysyncon":
        print(json.dumps(run_pysyncon_starts(args.method, args.initial, args.placebos)))
        return
    import numpy as np

    ours = _child("cpeval", args)
    peer = _child("pysyncon", args)
    common = [u for u in peer["pre_rmspe"] if u in ours["pre_rmspe"]]
    diffs = {u: ours["pre_rmspe"][u] - peer["pre_rmspe"][u] for u in common}
    worse = {u: d for u, d in diffs.items() if d > 1e-6}
    ratio = peer["seconds"] / ours["seconds"]
    lines = [
        f"# Synthetic control benchmark: Proposition 99 fit + placebo-in-space ({os.cpu_count()} cores, numpy "
        f"{np.__version__})",
        "",
        "| tool | wall seconds (fit + 38 placebos) | CPU seconds (with workers) | California fit-window MSPE | "
        "California pre-RMSPE | load average (start, end of the tool's run) |",
        "|---|---|---|---|---|---|",
        f"| cpeval ({ours['cores']} cores) | {ours['seconds']:.2f} | {ours['cpu_seconds']:.2f} | {ours['loss']:.4f} | "
        f"{ours['pre_rmspe']['California']:.4f} | {ours['load_average'][0]:.1f}, {ours['load_average'][1]:.1f} |",
        f"| cpeval (serial) | {ours['serial_seconds']:.2f} | {ours['serial_cpu_seconds']:.2f} | | | |",
        f"| pysyncon ({peer['options']['optim_method']}, {peer['options']['optim_initial']}"
        f"{'; extrapolated from ' + str(peer['placebos_run']) + ' placebos' if peer['extrapolated'] else ''}) | "
        f"{peer['seconds']:.2f} | {peer['cpu_seconds']:.2f} | {peer['loss']:.4f} | "
        f"{peer['pre_rmspe']['California']:.4f} | {peer['load_average'][0]:.1f}, {peer['load_average'][1]:.1f} |",
        "",
        f"Speed ratio (pysyncon / cpeval): **{ratio:.1f}x** wall, **{peer['cpu_seconds'] / ours['cpu_seconds']:.1f}x** "
        f"CPU. Units compared: {len(common)}; cpeval's pre-period "
        f"RMSPE is equal or lower for {len(common) - len(worse)} of them"
        + (f"; higher for {', '.join(f'{u} (+{d:.4f})' for u, d in worse.items())}" if worse else "") + ".",
        f"cpeval placebo table serial == parallel: {ours['serial_equals_parallel']}.",
        f"cpeval weights: {ours['weights']}; permutation p = {ours['p_value']:.4f}.",
        f"pysyncon weights: {peer['weights']}.",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "synth.md").write_text(text + "\n")
    (RESULTS / "synth.json").write_text(json.dumps({"cpeval": ours, "pysyncon": peer}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
