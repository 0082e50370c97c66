"""A 0/1 treatment that switches off and on is allowed for twfe; its note says so instead of describing
staggered adoption ("adopted at N different times"), which it is not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from cpeval.pipeline import evaluate


def test_switching_treatment_note():
    rng = np.random.default_rng(0)
    units, periods = 12, 8
    frame = pd.DataFrame({"unit": np.repeat(np.arange(units), periods), "t": np.tile(np.arange(periods), units)})
    on = np.zeros(len(frame), int)
    for u in range(4):  # units 0-3 treated in periods 2-3 and again 5-6
        on[(frame.unit == u) & frame.t.isin([2, 3, 5, 6])] = 1
    frame["d"] = on
    frame["y"] = rng.normal(size=len(frame)) + 2.0 * on
    design = {"name": "s", "kind": "did", "data": {"path": "x.csv", "unit": "unit", "time": "t"},
              "treatment": {"indicator": "d"},
              "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
              "estimator": {"method": "twfe"}, "inference": {"method": "analytic"}}
    (effect,) = evaluate(design, data=frame).effects
    assert any("switches off and on again in 4 units" in w for w in effect.warnings)
    assert not any("adopted at" in w for w in effect.warnings)
