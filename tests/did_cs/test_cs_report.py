"""The Callaway & Sant'Anna report section and figures read only the EvaluationResult."""

from __future__ import annotations

import warnings

import pytest

import cpeval
from _support import DESIGNS
from cpeval.report import render_markdown
from cpeval.report.did_cs import render_figures, render_section


@pytest.fixture(scope="module")
def result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cpeval.evaluate(DESIGNS / "castle_doctrine_cs.yaml")


def test_section_and_figures(result):
    text = render_section(result)
    assert "## Group-time effects (Callaway & Sant'Anna)" in text
    assert "| event time | estimate | SE | CI | uniform band |" in text
    assert "Pre-trend test" in text
    figs = render_figures(result)
    assert set(figs) == {f"cs_{k}_{o}.png" for k in ("dynamic", "att_gt") for o in
                         ("homicide", "larceny", "motor_vehicle_theft")}
    assert all(png.startswith(b"\x89PNG") for png in figs.values())
    for name in figs:
        assert f"figures/{name}" in text
    assert "Group-time effects" in render_markdown(result)


def test_effect_headline_and_percent_change(result):
    homicide = result.effect("homicide")
    assert homicide.method == "callaway_santanna"
    assert homicide.percent_change is not None  # log outcome: also reported as a percentage change
    assert homicide.diagnostics["bootstrap"]["reps"] == 999
    assert result.to_json()  # deterministic, JSON-able


def test_no_section_for_other_methods(result):
    from dataclasses import replace

    other = replace(result, effects=tuple(replace(e, method="twfe") for e in result.effects))
    assert render_section(other) == ""
    assert render_figures(other) == {}
