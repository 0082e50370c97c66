"""Placebo-in-space p-value (ADH 1/39), the other checks, and the report section and figures."""

from __future__ import annotations

import pytest

from .conftest import reference


def _check(result, name):
    return next(c for c in result.checks if c.name == name)


def test_placebo_space_p_value_is_one_in_39(prop99_result):
    ref = reference("prop99_adh2010")
    c = _check(prop99_result, "placebo_space")
    assert c.status == "pass"
    assert c.values["p_value"] == pytest.approx(ref["placebo_p_value"], abs=1e-4)
    assert c.values["rank"] == 1 and c.values["n_units"] == 39
    assert len(c.values["gaps"]) == 38 and "California" not in c.values["gaps"]
    stata = reference("prop99_placebo_space_stata")
    assert c.values["exclude_multiple"] == stata["exclude_multiple"]
    assert abs((39 - c.values["n_kept"]) - stata["n_excluded"]) <= stata["tolerance"]["n_excluded"]
    assert c.values["p_value_excluding"] == pytest.approx(1 / c.values["n_kept"])  # California still ranks first
    per_period = c.values["period_p_values"]
    assert len(per_period) == 12 and min(per_period) >= 1 / 39 - 1e-12


def test_balance_and_hull(prop99_result):
    bal = _check(prop99_result, "balance")
    assert {r["predictor"] for r in bal.table} >= {"cigsale(1975)", "beer(1984-1988)"}
    assert all("std_diff_synthetic" in r for r in bal.table)
    hull = _check(prop99_result, "convex_hull")
    assert hull.status == "pass" and hull.values["share_outside"] == 0


def test_report_section_and_figures(prop99_result):
    from cpeval.report import render_figures
    from cpeval.report.markdown import render_markdown

    md = render_markdown(prop99_result)
    assert "## Synthetic control" in md and "Placebo-in-space p-value" in md
    assert "| Utah |" in md and "conformal interval" in md
    files = render_figures(prop99_result)
    for name in ("synth_fit_cigsale", "synth_gap_cigsale", "synth_placebo_cigsale"):
        assert files[f"figures/{name}.png"].startswith(b"\x89PNG")


def test_leave_one_out_and_placebo_time_on_simulated_panel():
    from cpeval.datasets.synth import simulate_synth
    from cpeval.pipeline import evaluate

    df = simulate_synth(n_donors=12, n_pre=16, n_post=6, effect=-4.0, seed=5)
    design = {
        "name": "sim", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["t0"], "start": df.attrs["start"]},
        "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": "abadie", "conformal": False},
        "checks": {"leave_one_out": {"n_jobs": 1}, "placebo_time": None},
    }
    r = evaluate(design, data=df)
    loo = _check(r, "leave_one_out")
    assert loo.status in ("pass", "warn") and len(loo.table) >= 1
    assert all(row["weight"] >= 0.001 for row in loo.table)
    pt = _check(r, "placebo_time")
    assert pt.status in ("pass", "warn") and pt.values["placebo_start"] < df.attrs["start"]
    assert len(pt.table) == 22


def test_placebos_same_in_parallel_and_sequential():
    from cpeval.datasets.synth import simulate_synth
    from cpeval.pipeline import evaluate

    df = simulate_synth(n_donors=6, n_pre=10, n_post=3, seed=2)
    design = {
        "name": "sim", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["t0"], "start": df.attrs["start"]},
        "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": "abadie", "conformal": False,
                      "predictors": [{"column": "x", "at": 1}, {"column": "y", "from": 1, "to": 10}]},
        "checks": [{"placebo_space": {"n_jobs": 1}}],
    }
    seq = evaluate(design, data=df).checks[0]
    design["checks"] = [{"placebo_space": {"n_jobs": 2}}]
    par = evaluate(design, data=df).checks[0]
    assert seq.values["gaps"] == par.values["gaps"]
    assert seq.values["p_value"] == par.values["p_value"]
    assert len(seq.table) == 7 and seq.values["n_units"] == 7
