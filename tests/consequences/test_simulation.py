"""Simulation with known truth: the simulated hot-spots city's displacement, diffusion, disproportionality
change and harmed subgroup are detected; intervals cover the truth at the stated rate (slow); and with every
programme effect set to zero nothing is flagged more often than the stated error rate (slow)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cpeval.consequences.run import evaluate, prepare
from cpeval.data import load_panel
from cpeval.datasets.city import simulate_hotspot_city

REPLICATIONS = 100


def _run(design, seed: int, null: bool):
    city = simulate_hotspot_city(seed=seed, null=null)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few treated clusters: recorded on the Effects, not needed here
        result = evaluate(prepare(design, city.panel), load_panel(design, city.panel), [])
    return city, {f.name: f for f in result.findings}


def test_every_simulated_consequence_is_detected(design):
    _, found = _run(design, 7, null=False)
    assert found["spatial displacement: robbery"].status == "fail"
    assert found["spatial displacement: burglary"].positive
    assert found["offence displacement: vehicle_crime"].status == "fail"
    assert found["stigmatisation: stops"].status == "fail"
    assert found["stops of group_b vs group_a"].status == "fail"
    harm = found["antisocial_behaviour by deprivation"]
    assert [r["subgroup"] for r in harm.evidence["subgroups"] if r["harmful"]] == ["high"]


def _binomial_floor(p: float, n: int) -> float:
    """A rate more than 3 binomial standard errors below ``p`` over ``n`` draws is a real shortfall."""
    return p - 3 * np.sqrt(p * (1 - p) / n)


@pytest.mark.slow
def test_intervals_cover_the_truth(design):
    level = design.inference.level
    hits: dict[str, list[bool]] = {}
    for r in range(REPLICATIONS):
        city, found = _run(design, 1000 + r, null=False)
        for o in ("robbery", "burglary"):
            ev = found[f"spatial displacement: {o}"].evidence
            lo, hi = ev["buffer_effect"]["conf_int"]
            hits.setdefault(f"{o} buffer effect", []).append(lo < city.truth[f"{o}_buffer"] < hi)
            lo, hi = ev["total_net_effect"]["conf_int"]
            hits.setdefault(f"{o} net change", []).append(lo < city.truth[f"{o}_net_change"] < hi)
        lo, hi = found["stops of group_b vs group_a"].evidence["triple_difference"]["conf_int"]
        hits.setdefault("stop rate ratio change", []).append(lo < np.exp(city.truth["stop_rate_ratio_change"]) < hi)
    rates = {k: float(np.mean(v)) for k, v in hits.items()}
    print("coverage", rates)
    assert all(rate >= _binomial_floor(level, REPLICATIONS) for rate in rates.values()), rates


@pytest.mark.slow
def test_null_city_flags_nothing_beyond_the_error_rate(design):
    alpha = 1 - design.inference.level
    flags: dict[str, list[bool]] = {}
    for r in range(REPLICATIONS):
        _, found = _run(design, 5000 + r, null=True)
        for name, f in found.items():
            flags.setdefault(name, []).append(f.status == "fail")
    rates = {k: float(np.mean(v)) for k, v in flags.items()}
    print("flag rates", rates)
    # one-sided adverse flags at alpha/2 each; a subgroup finding looks at two subgroups (alpha in all)
    ceiling = alpha + 3 * np.sqrt(alpha * (1 - alpha) / REPLICATIONS)
    assert all(rate <= ceiling for rate in rates.values()), rates
