"""Every design under designs/ validates and runs end to end."""

from __future__ import annotations

import json
import math

import pytest

import cpeval
from _support import DESIGNS

DESIGN_FILES = sorted(DESIGNS.glob("*.yaml"))


@pytest.mark.parametrize("path", DESIGN_FILES, ids=[p.stem for p in DESIGN_FILES])
def test_design_runs(path):
    result = cpeval.evaluate(path)
    design = cpeval.load_design(path)
    assert [e.outcome for e in result.effects] == [o.name for o in design.outcomes]
    for effect in result.effects:
        # a method without a standard error (synthetic control: conformal/placebo inference) reports NaN
        assert math.isfinite(effect.estimate) and not effect.std_error < 0
        assert effect.ci_lower <= effect.estimate <= effect.ci_upper
    json.loads(result.to_json())  # serialisable, no NaN
    assert all(c.status != "error" for c in result.checks), [c.message for c in result.checks if c.status == "error"]
