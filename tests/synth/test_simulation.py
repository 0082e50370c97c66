"""Known truth: factor-model panels (``simulate_synth``). Bias of the ATT and coverage of the conformal
per-period intervals; a small version always runs, the larger sweep is marked slow."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from cpeval.datasets.synth import simulate_synth
from cpeval.payloads import SynthFit
from cpeval.pipeline import evaluate


def _design(start: int, method: str = "abadie", **est) -> dict:
    return {
        "name": "sim", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["t0"], "start": start},
        "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": method, **est},
    }


def _sweep(reps: int, method: str = "abadie", **est):
    errors, covered, total = [], 0, 0
    for seed in range(reps):
        df = simulate_synth(n_donors=20, n_pre=20, n_post=5, effect=-3.0, noise=0.5, ramp=True, seed=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = evaluate(_design(df.attrs["start"], method, **est), data=df).effects[0]
        errors.append(e.estimate - df.attrs["true_att"])
        post = [r for r in e.path if r["post"]]
        for r, tau in zip(post, df.attrs["true_effects"], strict=True):
            if r["ci_lower"] is not None:
                covered += r["ci_lower"] <= tau <= r["ci_upper"]
                total += 1
    return np.array(errors), covered / max(total, 1)


def test_abadie_recovers_effect_and_conformal_covers():
    errors, coverage = _sweep(12)
    assert abs(errors.mean()) < 0.4  # noise sd 0.5 per period
    assert np.sqrt(np.mean(errors**2)) < 1.0
    assert coverage >= 0.8


def test_synthetic_did_recovers_effect():
    errors, _ = _sweep(8, "synthetic_did", placebo_reps=20)
    assert abs(errors.mean()) < 0.5


@pytest.mark.slow
def test_coverage_sweep():
    errors, coverage = _sweep(100)
    assert abs(errors.mean()) < 0.15
    assert 0.88 <= coverage <= 0.99


def test_row_order_and_relabelling_invariance():
    df = simulate_synth(n_donors=10, n_pre=12, n_post=4, seed=3)
    d = _design(df.attrs["start"], conformal=False)
    base = evaluate(d, data=df).effects[0]
    shuffled = df.sample(frac=1.0, random_state=1).reset_index(drop=True)
    assert evaluate(d, data=shuffled).effects[0].estimate == pytest.approx(base.estimate, abs=1e-9)
    relabel = {u: f"z{u}" for u in df.unit.unique()}
    df2 = df.assign(unit=df.unit.map(relabel))
    d2 = _design(df.attrs["start"], conformal=False)
    d2["treatment"]["units"] = ["zt0"]
    again = evaluate(d2, data=df2).effects[0]
    assert again.estimate == pytest.approx(base.estimate, abs=1e-9)
    assert again.payload(SynthFit).weights == {relabel[k]: v for k, v in base.payload(SynthFit).weights.items()}


@pytest.mark.parametrize("aggregation", ["separate", "pooled"])
def test_several_treated_units(aggregation):
    df = simulate_synth(n_donors=20, n_pre=20, n_post=5, effect=-3.0, noise=0.3, n_treated=2, seed=4)
    d = _design(df.attrs["start"], treated_aggregation=aggregation, conformal=False)
    d["treatment"]["units"] = ["t0", "t1"]
    e = evaluate(d, data=df).effects[0]
    assert e.estimate == pytest.approx(-3.0, abs=0.6)
    assert e.payload(SynthFit).treated_units == ("t0", "t1")
    if aggregation == "separate":
        assert set(e.payload(SynthFit).per_unit) == {"t0", "t1"}
        atts = [u.att for u in e.payload(SynthFit).per_unit.values()]
        assert e.estimate == pytest.approx(np.mean(atts))
    else:
        assert e.diagnostics["aggregation"] == "pooled" and not e.payload(SynthFit).per_unit


def test_report_lists_every_treated_unit():
    from cpeval.report.markdown import render_markdown

    df = simulate_synth(n_donors=10, n_pre=12, n_post=3, n_treated=2, seed=8)
    d = _design(df.attrs["start"], conformal=False)
    d["treatment"]["units"] = ["t0", "t1"]
    md = render_markdown(evaluate(d, data=df))
    assert "| t0 |" in md and "| t1 |" in md and "One synthetic control per treated unit" in md
