"""Every design under designs/ validates and runs end to end."""

from __future__ import annotations

import json
import math

import pytest

import cpeval
from _support import DESIGNS
from cpeval.designs import design_from_dict

DESIGN_FILES = sorted(DESIGNS.glob("*.yaml"))
# Synthetic-control designs whose placebo checks refit the estimator for every donor take minutes; the normal
# suite runs them without their checks, the slow suite in full.
HEAVY = {"prop99", "basque", "florida_stand_your_ground"}
FULL = [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in HEAVY else []) for p in DESIGN_FILES]
LIGHT = [p for p in DESIGN_FILES if p.stem in HEAVY]


@pytest.mark.parametrize("path", FULL)
def test_design_runs(path):
    _runs(path, cpeval.load_design(path))


@pytest.mark.parametrize("path", LIGHT, ids=[p.stem for p in LIGHT])
def test_heavy_design_runs_without_its_checks(path):
    raw = cpeval.load_design(path).model_dump(mode="json", by_alias=True)
    raw["checks"] = []
    design = design_from_dict(raw, source=str(path))
    design._origin = str(path.resolve())  # data paths stay relative to the design file
    _runs(path, design)


def _runs(path, design):
    result = cpeval.evaluate(design)
    assert [e.outcome for e in result.effects] == [o.name for o in design.outcomes]
    for effect in result.effects:
        # a method without a standard error (synthetic control: conformal/placebo inference) reports NaN
        assert math.isfinite(effect.estimate) and not effect.std_error < 0
        assert effect.ci_lower <= effect.estimate <= effect.ci_upper
    json.loads(result.to_json())  # serialisable, no NaN
    assert all(c.status != "error" for c in result.checks), [c.message for c in result.checks if c.status == "error"]
