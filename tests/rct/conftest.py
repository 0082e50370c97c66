from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference" / "rct"


@pytest.fixture(scope="session")
def nsw() -> pd.DataFrame:
    return pd.read_csv(ROOT / "case_studies" / "data" / "nsw_mixtape.csv")


def load_ref(name: str) -> dict:
    return json.loads((REF / f"{name}.json").read_text())


def nsw_design(**over) -> dict:
    d = {
        "name": "NSW",
        "kind": "rct",
        "data": {"path": str(ROOT / "case_studies" / "data" / "nsw_mixtape.csv"), "unit": "id"},
        "treatment": {"assignment": "treat"},
        "outcomes": [{"name": "re78", "column": "re78", "family": "other", "better_if": "increase"}],
    }
    d.update(over)
    return d


@pytest.fixture(scope="session")
def hotspots_result():
    import warnings

    from cpeval.errors import CpevalWarning
    from cpeval.pipeline import evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        return evaluate(ROOT / "designs" / "hotspots_trial.yaml")
