"""The classic cases: R Synth's Basque solution with its V fixed, and ADH (2010) Proposition 99."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.payloads import SynthFit
from cpeval.pipeline import evaluate

from .conftest import design_dict, reference

BASQUE_V_LABELS = {
    "invest": "invest(1964-1969)", "school.illit": "school.illit(1964-1969)",
    "school.prim": "school.prim(1964-1969)", "school.med": "school.med(1964-1969)",
    "school.high": "school.high(1964-1969)", "school.post.high": "school.post.high(1964-1969)",
    "gdpcap": "gdpcap(1960-1969)", "popdens": "popdens(1969)",
}


def _basque_v(ref: dict) -> dict:
    out = {}
    for name, v in zip(ref["v_order"], ref["solution_v"], strict=True):
        label = BASQUE_V_LABELS.get(name, f"{name}[1961,1963,1965,1967,1969]")
        out[label] = v
    return out


@pytest.fixture(scope="module")
def basque_fixed():
    ref = reference("basque_r_synth")
    return ref, evaluate(design_dict("basque", v=_basque_v(ref), conformal=False)).effects[0]


def test_basque_fixed_v_reproduces_r_synth_weights(basque_fixed):
    ref, effect = basque_fixed
    w = effect.payload(SynthFit).weights
    tol = ref["tolerance"]["weights"]
    for unit, expected in ref["weights"].items():
        assert w[unit] == pytest.approx(expected, abs=tol)
    assert sum(v for k, v in w.items() if k not in ref["weights"]) < tol
    assert effect.payload(SynthFit).fit_window_mspe == pytest.approx(ref["loss_v"], rel=1e-3)
    assert effect.payload(SynthFit).predictor_loss == pytest.approx(ref["loss_w"], rel=1e-3)
    assert effect.payload(SynthFit).v_optimised is False


def test_basque_fixed_v_balance_table(basque_fixed):
    _, effect = basque_fixed
    synth = {row.predictor: row.synthetic for row in effect.payload(SynthFit).predictors}
    assert synth["invest(1964-1969)"] == pytest.approx(21.583, abs=0.01)
    assert synth["school.illit(1964-1969)"] == pytest.approx(256.337, abs=0.01)
    assert synth["gdpcap(1960-1969)"] == pytest.approx(5.271, abs=0.01)
    assert synth["popdens(1969)"] == pytest.approx(196.283, abs=0.01)


def test_basque_nested_no_worse_than_r_synth():
    ref = reference("basque_r_synth")
    effect = evaluate(design_dict("basque", conformal=False)).effects[0]
    assert effect.payload(SynthFit).fit_window_mspe <= ref["loss_v"] * (1 + 1e-6)
    assert abs(sum(effect.payload(SynthFit).weights.values()) - 1) < 1e-9


@pytest.fixture(scope="module")
def prop99():
    return evaluate(design_dict("prop99")).effects[0]


def test_prop99_nested_matches_table2_and_beats_published_loss(prop99):
    import pandas as pd

    from cpeval.estimation.synth.core import fixed_w_loss

    ref = reference("prop99_adh2010")
    w = prop99.payload(SynthFit).weights
    for state, expected in ref["weights"].items():
        assert w[state] == pytest.approx(expected, abs=ref["tolerance"]["weights"]), state
    df = pd.read_csv(design_dict("prop99")["data"]["path"])
    y = df.pivot(index="year", columns="state", values="cigsale")
    donors = [c for c in y.columns if c != "California"]
    w_pub = np.array([ref["weights"].get(s, 0.0) for s in donors])
    fit = (y.index >= 1970) & (y.index <= 1988)
    published = fixed_w_loss(y["California"].to_numpy(), y[donors].to_numpy(), np.asarray(fit), w_pub)
    assert prop99.payload(SynthFit).fit_window_mspe <= published


def test_prop99_gap_path(prop99):
    ref = reference("prop99_adh2010")
    last = prop99.path[-1]
    assert last["time"] == 2000
    assert last["gap"] == pytest.approx(ref["gap_2000"], abs=ref["tolerance"]["gap_2000"])
    assert prop99.estimate == pytest.approx(np.mean([r["gap"] for r in prop99.path if r["post"]]))
    assert prop99.estimate < -15
    post = [r for r in prop99.path if r["post"]]
    assert all(r["ci_lower"] <= r["gap"] <= r["ci_upper"] for r in post)
    assert prop99.ci_upper < 0  # the conformal interval of the average effect excludes zero


def test_prop99_deterministic(prop99):
    again = evaluate(design_dict("prop99")).effects[0]
    assert again.payload(SynthFit).weights == prop99.payload(SynthFit).weights
    assert again.to_dict() == prop99.to_dict()


def test_prop99_placebo_in_time_matches_stata_synth2():
    ref = reference("prop99_placebo_time_stata")
    raw = design_dict("prop99", conformal=False)
    raw["checks"] = {"placebo_time": {"start": 1985}}
    check = evaluate(raw).checks[0]
    assert check.values["placebo_start"] == 1985
    assert check.values["placebo_mean_gap"] == pytest.approx(ref["mean_gap"], abs=ref["tolerance"]["mean_gap"])
    labels = check.values["predictors"]
    assert "cigsale(1988)" not in labels and "cigsale(1975)" in labels


def test_non_unique_solution_is_reported():
    """Donors A and B both reproduce the treated unit's fit-window outcomes exactly but match different
    predictors: every V gives zero loss with weight on A, on B or on a mix. The result must say so."""
    import pandas as pd

    t = np.arange(1, 13)
    base = 10 + np.sin(t)
    paths = {"T": base, "A": base + 3 * (t >= 9), "B": base - 3 * (t >= 9), "C": 2 * base, "D": base + 10}
    preds = {"T": (1, 1), "A": (1, 5), "B": (5, 1), "C": (3, 3), "D": (2, 2)}
    rows = [{"unit": u, "time": int(s), "y": float(y), "p1": preds[u][0], "p2": preds[u][1]}
            for u, ys in paths.items() for s, y in zip(t, ys, strict=True)]
    design = {
        "name": "nonunique", "kind": "synthetic_control", "data": {"path": "x.csv", "unit": "unit", "time": "time"},
        "treatment": {"units": ["T"], "start": 9}, "outcomes": [{"name": "y", "column": "y", "family": "other"}],
        "estimator": {"method": "abadie", "conformal": False, "starts": 12, "predictors": [
            {"column": "p1", "at": 1}, {"column": "p2", "at": 1}]},
    }
    with pytest.warns(Warning, match="not unique"):
        effect = evaluate(design, data=pd.DataFrame(rows)).effects[0]
    assert effect.payload(SynthFit).alternatives
    assert any("not unique" in w for w in effect.warnings)
    assert effect.payload(SynthFit).fit_window_mspe < 1e-8
