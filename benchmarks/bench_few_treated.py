"""Size of the tests when few areas are treated: rejection rates under the null (treated areas x method).

The issue's null simulation: 40 areas, 36 months, treatment from month 19, negative binomial burglary counts
(area levels log-normal around 20 a month, seasonality, small area-specific drifts, overdispersion k = 5), no
programme effect; the treated areas are drawn at random. For each number of treated areas (1, 2, 3, 5, 10) and
each replication, every test is run on the same data at the 5% level:

- twfe analytic: cluster-robust t (CR1, every fixed effect counted as Stata areg / cpeval's twfe), t(G-1);
- twfe WCR: restricted wild cluster bootstrap (cpeval.estimation.wild_bootstrap), B = 999, Rademacher weights,
  one weight per area (bootcluster: cluster);
- twfe WCU: the same with unrestricted residuals (shown for contrast; cpeval does not offer it);
- twfe WR-obs: restricted wild bootstrap with one weight per area-month (bootcluster: observation, the ordinary
  wild bootstrap, the finest subcluster bootstrap of MacKinnon & Webb 2018), variance still clustered by area;
- twfe randomisation: re-assigned treated areas (cpeval.estimation.design_randomization, batched TWFE),
  all assignments when they number at most 999 (1 and 2 treated areas), else 999 random ones;
- poisson analytic: cpeval's PPML (fit_fe_poisson), cluster-robust with G/(G-1), t(G-1);
- poisson score: Kline-Santos score bootstrap, B = 999, one weight per area or per area-month;
- the bootstraps as cpeval runs them (bootcluster: auto): the linear one with observation weights with fewer
  than 10 treated or untreated areas, area weights otherwise, refused with a single treated area; the score
  bootstrap with area weights, refused with fewer than 5 (printed as "refused");
- auto: what inference.method: auto reports first (randomisation with 1-4 treated, the wild bootstrap with
  5-9, the analytic test from 10).

Run: ``python benchmarks/bench_few_treated.py [replications] [processes]`` (defaults 400 and 2). Prints a
Markdown table; the Monte Carlo standard error of a rate p is sqrt(p(1-p)/R). ``python
benchmarks/bench_few_treated.py trial [replications]`` prints the same for cluster-randomised trials.
"""

from __future__ import annotations

import math
import sys
import time
from multiprocessing import Pool

import numpy as np
from scipy import stats

from cpeval.estimation.inference import FEW_TREATED_CLUSTERS, RANDOMISE_BELOW

AREAS, MONTHS, START, TREATED = 40, 36, 19, (1, 2, 3, 5, 10)
B = 999
METHODS = ("twfe analytic", "twfe WCR", "twfe WCU", "twfe WR-obs", "twfe randomisation", "poisson analytic",
           "poisson score, area weights", "poisson score, obs weights", "auto (reported first)")
DERIVED = ("twfe wild bootstrap (bootcluster auto)", "poisson score bootstrap (bootcluster auto)")


def simulate(n_treated: int, rng: np.random.Generator):
    level = np.exp(rng.normal(np.log(20), 0.6, AREAS))
    drift = rng.normal(0, 0.005, AREAS)
    month = np.arange(MONTHS)
    mu = level[:, None] * np.exp(0.15 * np.sin(2 * np.pi * month / 12)[None, :] + drift[:, None] * month[None, :])
    k = 5.0
    y = rng.negative_binomial(k, k / (k + mu)).astype(float)
    treated = np.zeros(AREAS, bool)
    treated[rng.choice(AREAS, n_treated, replace=False)] = True
    u, t = np.meshgrid(np.arange(AREAS), month, indexing="ij")
    d = (treated[u] & (t >= START - 1)).astype(float)
    return y.ravel(), d.ravel(), u.ravel(), t.ravel()


def one(args):
    n_treated, seed = args
    from cpeval.estimation.design_randomization import assignments, p_from
    from cpeval.estimation.did.poisson import fit_fe_poisson
    from cpeval.estimation.fixed_effects import demean, indicators
    from cpeval.estimation.wild_bootstrap import LinearWildTest, PoissonScoreTest, weight_chunks

    rng = np.random.default_rng(seed)
    y, d, u, t = simulate(n_treated, rng)
    n, g = len(y), AREAS
    fe = [indicators(u), indicators(t)]
    w = np.ones(n)
    yd = demean(np.column_stack([y, d]), fe, w)
    k = 1 + AREAS + MONTHS - 1  # areg: the regressor and every fixed effect
    small = g / (g - 1) * (n - 1) / (n - k)
    wild = LinearWildTest(yd[:, 0], yd[:, 1:], np.array([1.0]), u, small=small)
    p_an = 2 * stats.t.sf(abs(wild.t_stat(0.0)), g - 1)
    p_wild = wild.run(replications=B, weights="rademacher", seed=seed, level=0.95).p_value
    p_boot = [p_wild]
    for restricted, rows in ((False, None), (True, np.arange(n))):
        test = LinearWildTest(yd[:, 0], yd[:, 1:], np.array([1.0]), u, small=small, bootcluster=rows,
                              restricted=restricted)
        test._prepare("rademacher", B, seed)
        p_boot.append(test.p_value(0.0))
    # randomisation: re-assign which areas are treated (paths: treated or never)
    groups = np.zeros(AREAS, int)
    groups[np.unique(u[d == 1])] = 1
    labels, exact, _ = assignments(groups, B, seed)
    dp = (labels[:, u] == 1) & (t >= START - 1)[None, :]
    dt = demean(dp.T.astype(float), fe, w)
    stat = dt.T @ yd[:, 0] / np.einsum("ij,ij->j", dt, dt)
    p_ri = p_from(stat, wild.estimate, exact)
    # Poisson
    fit = fit_fe_poisson(y, d[:, None], [u, t], clusters=u)
    b, se = float(fit["beta"][0]), math.sqrt(fit["vcov"][0, 0])
    p_pan = 2 * stats.t.sf(abs(b / se), g - 1)
    p_score = []
    for rows in (None, np.arange(n)):
        score = PoissonScoreTest(y, d, u, t, u, bootcluster=rows)
        score._v = np.vstack(list(weight_chunks("rademacher", score.H, B, seed)))
        p_score.append(score.p_value(0.0))
    p_auto = p_ri if n_treated < RANDOMISE_BELOW else (p_boot[2] if n_treated < FEW_TREATED_CLUSTERS else p_an)
    return n_treated, np.array([p_an, *p_boot, p_ri, p_pan, *p_score, p_auto]) <= 0.05


def as_run(n_treated: int, rates: np.ndarray) -> list[float | None]:
    """The rates of the two bootstraps as cpeval runs them under ``bootcluster: auto`` (None: refused): the
    linear one with observation weights below 10 treated areas and refused with one; the score bootstrap with
    area weights, refused below 5."""
    col = {name: j for j, name in enumerate(METHODS)}
    rows = n_treated < FEW_TREATED_CLUSTERS
    linear = None if n_treated == 1 else float(rates[col["twfe WR-obs" if rows else "twfe WCR"]])
    score = None if n_treated < RANDOMISE_BELOW else float(rates[col["poisson score, area weights"]])
    return [linear, score]


def rates_by_treated(reps: int, processes: int) -> dict[int, np.ndarray]:
    tasks = [(m, 10_000 * m + r) for m in TREATED for r in range(reps)]
    with Pool(processes) as pool:
        out = pool.map(one, tasks, chunksize=8)
    return {m: np.mean([rej for mm, rej in out if mm == m], axis=0) for m in TREATED}


def main(reps: int = 400, processes: int = 2) -> str:
    t0 = time.time()
    rates = rates_by_treated(reps, processes)
    mc = math.sqrt(0.05 * 0.95 / reps)
    names = (*METHODS, *DERIVED)
    lines = [f"| treated areas of {AREAS} | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for m in TREATED:
        cells = [f"{100 * r:.1f}%" for r in rates[m]]
        cells += ["refused" if r is None else f"{100 * r:.1f}%" for r in as_run(m, rates[m])]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines.append(f"\n{reps} replications per row, B = {B}; Monte Carlo standard error of a 5% rate "
                 f"{100 * mc:.2f} points (95% band {100 * (0.05 - 1.96 * mc):.1f}-{100 * (0.05 + 1.96 * mc):.1f}%); "
                 f"{time.time() - t0:.0f} s on {processes} processes.")
    return "\n".join(lines)


TRIALS = ((12, 6, False), (12, 3, False), (20, 2, False), (12, 6, True))  # clusters, treated, unequal sizes


def trial_sizes(reps: int) -> str:
    """Size of the wild bootstraps in a cluster-randomised trial (pure treatment: y = cluster effect (sd 0.5) +
    noise (sd 1), 15 people a cluster or 5-39 when unequal, difference in means, no effect): WCR with Webb and
    with Rademacher weights, and one weight per person (WR-obs), variance clustered, B = 999."""
    from cpeval.estimation.wild_bootstrap import LinearWildTest

    lines = ["| clusters | treated | sizes | WCR Webb | WCR Rademacher | WR-obs |", "|---|---|---|---|---|---|"]
    for g, g1, unequal in TRIALS:
        rej = np.zeros(3)
        for r in range(reps):
            rng = np.random.default_rng(1000 + r)
            c = np.repeat(np.arange(g), rng.integers(5, 40, g) if unequal else np.full(g, 15))
            treated = np.zeros(g, bool)
            treated[rng.choice(g, g1, replace=False)] = True
            y = rng.normal(0, 0.5, g)[c] + rng.normal(size=len(c))
            x = np.column_stack([np.ones(len(c)), treated[c]])
            for j, (rows, kind) in enumerate(((None, "webb"), (None, "rademacher"), (np.arange(len(c)), "rademacher"))):
                test = LinearWildTest(y, x, np.array([0.0, 1.0]), c, bootcluster=rows)
                test._prepare(kind, B, r)
                rej[j] += test.p_value(0.0) <= 0.05
        cells = " | ".join(f"{100 * v / reps:.1f}%" for v in rej)
        lines.append(f"| {g} | {g1} | {'5-39' if unequal else '15'} | {cells} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["trial"]:
        print(trial_sizes(int(sys.argv[2]) if len(sys.argv) > 2 else 400))
    else:
        print(main(*[int(a) for a in sys.argv[1:3]]))
