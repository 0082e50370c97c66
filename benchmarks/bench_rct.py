"""Randomisation inference: 10,000 re-randomisations of a 10,000-person blocked trial.

cpeval draws assignments within blocks in chunks (one ``np.partition`` per block shape) and gets every
draw's block-weighted difference in means from one matrix product. The reference point is the same
procedure written the obvious way: one re-randomisation and one statsmodels OLS fit (y on assignment and
block dummies, the fixed-effects estimator) per draw; it is timed on a subset of draws and scaled up. The
two use different random draws, so their p-values agree only up to Monte Carlo error (printed).

    .venv/bin/python benchmarks/bench_rct.py [--draws 10000] [--n 10000] [--blocks 20] [--loop-draws 200]

Measured on the project machine (2 shared cores, OpenBLAS 1 thread, 2026-11-29): cpeval 0.46-0.48 s CPU,
59 MB peak; the per-draw statsmodels loop about 116 s CPU for 10,000 draws (scaled from 200): about 240x.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np


def trial(n: int, blocks: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    block = np.repeat(np.arange(blocks), n // blocks)
    z = np.zeros(n)
    for b in range(blocks):  # half of each block treated
        idx = np.flatnonzero(block == b)
        z[rng.permutation(idx)[: len(idx) // 2]] = 1
    y = 0.3 * block + rng.normal(size=n) + 0.03 * z
    return y, z, block


def cpeval_ri(y, z, block, draws: int):
    from cpeval.estimation.rct.randomization import p_values, statistics

    observed, null = statistics(y[:, None], z, block, None, "fixed_effects", draws, np.random.default_rng(2))
    return float(p_values(observed, null, draws)[0])


def loop_ri(y, z, block, draws: int):
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    D = (block[:, None] == np.arange(1, block.max() + 1)).astype(float)
    X0 = np.column_stack([np.ones(len(y)), z, D])
    obs = sm.OLS(y, X0).fit().params[1]
    hits = 0
    for _ in range(draws):
        zp = z.copy()
        for b in range(block.max() + 1):
            idx = np.flatnonzero(block == b)
            zp[idx] = rng.permutation(zp[idx])
        X = X0.copy()
        X[:, 1] = zp
        hits += abs(sm.OLS(y, X).fit().params[1]) >= abs(obs)
    return (1 + hits) / (1 + draws)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--loop-draws", type=int, default=200)
    a = ap.parse_args()
    y, z, block = trial(a.n, a.blocks)
    cpeval_ri(y, z, block, 100)  # warm-up (imports)
    tracemalloc.start()
    c0, w0 = time.process_time(), time.perf_counter()
    p_c = cpeval_ri(y, z, block, a.draws)
    c1, w1 = time.process_time(), time.perf_counter()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    c2 = time.process_time()
    p_l = loop_ri(y, z, block, a.loop_draws)
    c3 = time.process_time()
    loop_cpu = (c3 - c2) * a.draws / a.loop_draws
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info())
    except ImportError:
        blas = "unknown (threadpoolctl not installed)"
    print(f"trial: n = {a.n}, {a.blocks} blocks; {a.draws} re-randomisations; BLAS: {blas}")
    print(f"{'implementation':40s} {'CPU s':>8s} {'wall s':>8s} {'peak MB':>8s} {'p-value':>8s}")
    print(f"{'cpeval (vectorised)':40s} {c1 - c0:8.3f} {w1 - w0:8.3f} {peak:8.1f} {p_c:8.4f}")
    print(f"{'statsmodels OLS per draw (scaled from ' + str(a.loop_draws) + ')':40s} {loop_cpu:8.2f} "
          f"{'':8s} {'':8s} {p_l:8.4f}")
    print(f"speed-up (CPU): {loop_cpu / (c1 - c0):.0f}x")


if __name__ == "__main__":
    main()
