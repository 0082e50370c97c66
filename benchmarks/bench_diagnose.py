"""Speed and scale of `cpeval diagnose` and portfolios.

1. 1,000 simulations of a 200-area x 48-month DiD diagnosis (TWFE and Poisson): monthly burglary counts with
   area levels, seasonality and overdispersion, 40 areas treated from month 25, a true effect of -10%, on a
   local process pool of ``--workers`` processes (target: under a minute on 2 cores).
2. Speed-up from 1 to 2 workers of a dask LocalCluster on the same diagnosis (``--cluster-sims`` simulations),
   with each worker's peak resident memory; the results must be identical to the byte.
3. A 100-design portfolio (small DiD designs, one data file each) serially and on a 2-worker LocalCluster:
   time, peak worker memory and whether the tables are identical.

Run: ``python benchmarks/bench_diagnose.py [--simulations 1000] [--workers 2] [--cluster-sims 200]
[--designs 100] [--parts 123]``. Prints one Markdown table per part.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

AREAS, MONTHS, TREATED, START = 200, 48, 40, 24


def panel(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(AREAS), MONTHS)
    t = np.tile(np.arange(MONTHS), AREAS)
    level = np.exp(rng.normal(np.log(10), 0.5, AREAS))[unit] * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
    lam = level * rng.gamma(5.0, 1 / 5.0, len(unit))
    return pd.DataFrame({"area": unit, "month": pd.date_range("2020-01-01", periods=MONTHS, freq="MS")[t],
                         "post": ((unit < TREATED) & (t >= START)).astype(int), "burglary": rng.poisson(lam),
                         "population": 1000})


def design(method: str, sims: int) -> dict:
    from diagnose._designs import did_design

    raw = did_design({"effect": {"burglary": "-10%"}, "simulations": sims}, method=method)
    raw["data"]["frequency"] = "month"
    return raw


def part1(sims: int, workers: int) -> None:
    from cpeval.diagnose import diagnose

    data = panel()
    print("\n| method | simulations | workers | seconds | power (MC SE) | MDE | dispersion fitted |\n"
          "|---|---|---|---|---|---|---|")
    for method in ("twfe", "poisson"):
        t0 = time.perf_counter()
        d = diagnose(design(method, sims), data, workers=workers, progress=False)
        s = time.perf_counter() - t0
        o = d.variants[0].outcomes[0]
        print(f"| {method} | {sims} | {workers} | {s:.1f} | {o.power.value:.3f} ({o.power.mc_se:.3f}) | "
              f"{o.mde.value:.4g} | {o.dgp['dispersion']:.3f} |", flush=True)


def _peak_memory(client) -> float:
    import resource

    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return max(peaks.values())


def _cpu_seconds(client) -> float:
    import resource

    def used() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    return sum(client.run(used).values())


def part2(sims: int) -> None:
    from distributed import Client, LocalCluster

    from cpeval.diagnose import diagnose

    data = panel()
    print("\n| LocalCluster workers | simulations | seconds | speed-up | worker CPU seconds | peak worker RSS (MB) | "
          "identical |\n|---|---|---|---|---|---|---|")
    base = ref = None
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            # warm up: every worker imports the estimator before the clock starts
            diagnose(design("twfe", 20 * 4 * n), data, scheduler=cluster.scheduler_address, progress=False,
                     workers=None)
            cpu0 = _cpu_seconds(client)
            t0 = time.perf_counter()
            out = diagnose(design("twfe", sims), data, scheduler=cluster.scheduler_address, progress=False).to_json()
            s = time.perf_counter() - t0
            cpu = _cpu_seconds(client) - cpu0
            peak = _peak_memory(client)
        base = base or s
        ref = ref or out
        print(f"| {n} | {sims} | {s:.1f} | {base / s:.2f} | {cpu:.1f} | {peak:.0f} | {out == ref} |", flush=True)
        if out != ref:
            Path(f"bench_diagnose_{n}.json").write_text(out)
            Path("bench_diagnose_1.json").write_text(ref)


def part3(n: int) -> None:
    import yaml
    from distributed import Client, LocalCluster

    from cpeval.diagnose.portfolio import run_portfolio
    from diagnose._designs import counts, did_design

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(n):
            counts(n_units=30, n_periods=12, treated=6, start=7, seed=i).to_csv(Path(tmp) / f"p{i}.csv", index=False)
            raw = did_design({})
            raw.pop("diagnose")
            raw.update(name=f"grantee {i}", data={**raw["data"], "path": f"p{i}.csv"})
            paths.append(Path(tmp) / f"d{i}.yaml")
            paths[-1].write_text(yaml.safe_dump(raw))
        t0 = time.perf_counter()
        serial = run_portfolio(paths, workers=1, progress=False)
        s1 = time.perf_counter() - t0
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            run_portfolio(paths[:4], scheduler=cluster.scheduler_address, progress=False)  # warm up the workers
            t0 = time.perf_counter()
            clustered = run_portfolio(paths, scheduler=cluster.scheduler_address, progress=False)
            s2 = time.perf_counter() - t0
            peak = _peak_memory(client)
    print("\n| portfolio | designs | seconds | peak worker RSS (MB) | table identical to serial |\n"
          "|---|---|---|---|---|")
    print(f"| serial | {n} | {s1:.1f} | - | - |")
    print(f"| LocalCluster, 2 workers | {n} | {s2:.1f} | {peak:.0f} | {serial.to_json() == clustered.to_json()} |")
    if serial.to_json() != clustered.to_json():
        Path("bench_portfolio_serial.json").write_text(serial.to_json())
        Path("bench_portfolio_cluster.json").write_text(clustered.to_json())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--simulations", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cluster-sims", type=int, default=200)
    ap.add_argument("--designs", type=int, default=100)
    ap.add_argument("--parts", default="123", help="which parts to run, e.g. 23")
    args = ap.parse_args()
    if "1" in args.parts:
        part1(args.simulations, args.workers)
    if "2" in args.parts:
        part2(args.cluster_sims)
    if "3" in args.parts:
        part3(args.designs)


if __name__ == "__main__":
    main()
