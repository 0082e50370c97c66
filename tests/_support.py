"""Helpers shared by tests (import as `from _support import ...`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = ROOT / "designs"
CASE_DATA = ROOT / "case_studies" / "data"
REFERENCE = Path(__file__).resolve().parent / "reference"


BASE_DID: dict[str, Any] = {
    "name": "test design",
    "kind": "did",
    "data": {"path": "panel.csv", "unit": "unit", "time": "year"},
    "treatment": {"indicator": "post"},
    "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level"}],
    "estimator": {"method": "twfe"},
}


def write_design(directory: Path, design: dict[str, Any] | str, name: str = "design.yaml") -> Path:
    path = directory / name
    path.write_text(design if isinstance(design, str) else yaml.safe_dump(design, sort_keys=False))
    return path


def small_panel(n_units: int = 8, n_periods: int = 6, effect: float = 2.0, seed: int = 0) -> pd.DataFrame:
    """A small balanced panel: half the units treated from period 3 on, with a known additive effect."""
    import numpy as np

    rng = np.random.default_rng(seed)
    units = np.repeat(np.arange(1, n_units + 1), n_periods)
    years = np.tile(np.arange(2000, 2000 + n_periods), n_units)
    treated = units <= n_units // 2
    post = (treated & (years >= 2003)).astype(int)
    y = 10 + units * 0.5 + (years - 2000) * 0.3 + effect * post + rng.normal(0, 1, len(units))
    return pd.DataFrame({"unit": units, "year": years, "post": post, "y": y, "w": 1.0 + (units % 3)})
