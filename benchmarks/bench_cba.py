"""Cost-benefit Monte Carlo: wall time and peak memory of cpeval's vectorised simulation.

No peer package computes a crime-programme CBA with a Monte Carlo (WSIPP's model is a spreadsheet), so the
reference point is the obvious non-vectorised implementation: one appraisal per draw in a Python loop,
using the same inputs. Both must agree on P(benefits > costs) for the same draws.

    .venv/bin/python benchmarks/bench_cba.py
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cba"))


def _inputs(tmp: Path, ranges: bool):
    from cpeval.cba import prepare
    from cpeval.designs import design_from_dict

    csv = tmp / "uc.csv"
    csv.write_text("category,amount,currency,price_year\nburglary,3000,GBP,2020\ntheft,800,GBP,2020\n")
    cb = {
        "currency": "GBP", "price_year": 2020, "horizon_years": 40, "discount": "green_book",
        "effect_decay": 0.1, "observed_years": 3, "unit_costs": str(csv),
        "outcomes": {"burglary": {"category": "burglary", "units": 10}},
        "costs": [{"item": "officers", "amount": 100000, "recurring": True},
                  {"item": "cctv", "amount": 50000, "capital": True, "lifetime_years": 15}],
    }
    if ranges:
        cb["uncertainty"] = {"unit_costs": [0.75, 1.25], "costs": [0.9, 1.2], "discount_rate": [0.015, 0.07],
                             "effect_decay": [0.0, 0.3]}
    design = design_from_dict({
        "name": "bench", "kind": "did",
        "data": {"path": "x.csv", "unit": "u", "time": "t"}, "treatment": {"indicator": "d"},
        "outcomes": [{"name": "burglary", "column": "y", "measure": "count"}],
        "estimator": {"method": "twfe"}, "cost_benefit": cb,
    })
    return prepare(design)


def _effect():
    from _cba_support import make_effect

    return make_effect(-12.0, 8.0)


def _loop(inputs, draws: np.ndarray, uc, cm, rates, decays) -> float:
    """One appraisal per draw, scalar Python arithmetic (the naive reference)."""
    spec = inputs.spec
    o = inputs.outcomes[0]
    wins = 0
    for i, b in enumerate(draws):
        m_uc = 1.0 if uc is None else uc[i, 0]
        m_c = 1.0 if cm is None else cm[i]
        r = None if rates is None else rates[i]
        d = spec.effect_decay if decays is None else decays[i]
        pvb = pvc = 0.0
        df = 1.0
        for t in range(spec.horizon_years):
            if t > 0:
                rate = r if r is not None else [x for s, x in inputs.schedule if s <= t][-1]
                df /= 1.0 + rate
            k = max(t - spec.effect_start_year - spec.observed_years + 1, 0)
            share = 0.0 if t < spec.effect_start_year else (1.0 - d) ** k
            pvb += -b * o.factor * o.unit_cost * m_uc * share * df
            pvc += m_c * inputs.costs[t] * df
        wins += pvb > pvc
    return wins / len(draws)


def main() -> None:
    import tempfile

    from cpeval.cba.montecarlo import simulate

    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i.get('internal_api')} {i.get('architecture', '')}" for i in threadpool_info())
    except ImportError:
        blas = "threadpoolctl not installed"
    print(f"numpy {np.__version__}; BLAS: {blas}")
    eff = _effect()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for ranges in (False, True):
            inputs = _inputs(Path(tmp), ranges)
            simulate(inputs, [eff], 1000, 1)  # warm-up
            for n in (10_000, 100_000, 1_000_000):
                walls = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    mc = simulate(inputs, [eff], n, 2002)
                    walls.append(time.perf_counter() - t0)
                wall = min(walls)  # best of 3: the machine is shared
                tracemalloc.start()  # separate run: tracing slows allocation
                simulate(inputs, [eff], n, 2002)
                peak = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
                rows.append(("cpeval (vectorised)", ranges, n, wall, peak, mc["prob_benefits_exceed_costs"]))
            # naive loop on 10,000 draws with the same draws
            n = 10_000
            rng = np.random.default_rng(2002)
            draws = eff.estimate + eff.std_error * rng.standard_normal(n)
            u = inputs.spec.uncertainty
            uc = rng.triangular(u.unit_costs[0], 1.0, u.unit_costs[1], size=(n, 1)) if u.unit_costs else None
            cm = rng.triangular(u.costs[0], 1.0, u.costs[1], size=n) if u.costs else None
            rates = rng.uniform(*u.discount_rate, size=n) if u.discount_rate else None
            decays = rng.uniform(*u.effect_decay, size=n) if u.effect_decay else None
            t0 = time.perf_counter()
            p_loop = _loop(inputs, draws, uc, cm, rates, decays)
            wall = time.perf_counter() - t0
            rows.append(("python loop (reference)", ranges, n, wall, float("nan"), p_loop))
        print(f"{'implementation':26s} {'ranges':>6s} {'draws':>10s} {'wall s':>9s} {'peak MiB':>9s} "
              f"{'per 1e5 draws s':>16s} {'P(B>C)':>8s}")
        for name, ranges, n, wall, peak, p in rows:
            print(f"{name:26s} {ranges!s:>6s} {n:>10,d} {wall:>9.4f} {peak:>9.1f} {wall * 1e5 / n:>16.4f} {p:>8.4f}")
    _joint_draws()


def _joint_draws() -> None:
    """Joint effect draws for 5 correlated outcomes (influence over 50 clusters): each law's wall time."""
    import dataclasses

    from _cba_support import make_effect

    from cpeval.cba.montecarlo import draw_effects
    from cpeval.results import Sampling

    rng = np.random.default_rng(0)
    common = rng.normal(size=50)
    print(f"\n{'joint draws of 5 effects':44s} {'draws':>10s} {'wall s':>9s}")
    for label, dfs in (("multivariate normal", [None] * 5), ("multivariate t (49 df)", [49] * 5),
                       ("Gaussian copula (mixed laws)", [49, None, 49, None, 9])):
        effects = [dataclasses.replace(make_effect(-1.0, 0.5, outcome=f"o{j}", df=df),
                                       sampling=Sampling(by="c", labels=np.arange(50),
                                                         influence=common + rng.normal(size=50)))
                   for j, df in enumerate(dfs)]
        draw_effects(np.random.default_rng(1), effects, 1000)  # warm-up
        t0 = time.perf_counter()
        draw_effects(np.random.default_rng(1), effects, 100_000)
        print(f"{label:44s} {100_000:>10,d} {time.perf_counter() - t0:>9.4f}")


if __name__ == "__main__":
    main()
