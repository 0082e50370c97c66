"""A fear-of-crime index with an item everyone answered the same way is a data problem naming the item, at
`cpeval check` (exit 2), not a plain ValueError from the standardisation."""

from __future__ import annotations

import pandas as pd
import pytest

from _support import write_design
from cpeval.cli import main
from cpeval.data import load_panel
from cpeval.designs import load_design
from cpeval.errors import DataError, ProblemCode

SCALE = ["very safe", "fairly safe", "a bit unsafe", "very unsafe"]


def _design(tmp_path) -> dict:
    pd.DataFrame({
        "id": range(8), "assigned": [0, 1] * 4,
        "day": ["very safe", "fairly safe", "a bit unsafe", "very unsafe"] * 2,
        "night": ["a bit unsafe"] * 8,                       # no variation
    }).to_csv(tmp_path / "resp.csv", index=False)
    return {
        "name": "t", "kind": "rct", "data": {"path": "resp.csv", "unit": "id"},
        "treatment": {"assignment": "assigned"},
        "outcomes": [{"name": "fear_index", "fear": {"items": ["day", "night"], "scale": SCALE}}],
    }


def test_constant_item_is_a_data_problem_naming_the_column(tmp_path):
    design = load_design(write_design(tmp_path, _design(tmp_path)))
    with pytest.raises(DataError) as info:
        load_panel(design)
    [problem] = info.value.problems
    assert problem.code is ProblemCode.CONSTANT_OUTCOME and problem.column == "night"
    assert "remove it from fear.items" in problem.message


def test_check_command_exits_2_without_a_traceback(tmp_path, capsys):
    path = write_design(tmp_path, _design(tmp_path))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "night" in err
