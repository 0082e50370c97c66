from __future__ import annotations

import copy
from pathlib import Path

import pytest

from ._cba_support import base_design, reference


@pytest.fixture
def hand_case(tmp_path: Path) -> tuple[dict, dict]:
    """The Green Book reference case: (design dict, reference dict) with the unit-cost CSV written to tmp."""
    ref = reference("green_book_40y.json")
    csv = tmp_path / "unit_costs.csv"
    csv.write_text(ref["unit_costs_csv"])
    cb = copy.deepcopy(ref["design"])
    cb["unit_costs"] = str(csv)
    return base_design(cb), ref
