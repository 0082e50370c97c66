from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "tests" / "reference" / "synth"


def reference(name: str) -> dict:
    return json.loads((REF / f"{name}.json").read_text())


def design_dict(name: str, **estimator) -> dict:
    raw = yaml.safe_load((ROOT / "designs" / f"{name}.yaml").read_text())
    raw["data"]["path"] = str(ROOT / "case_studies" / "data" / Path(raw["data"]["path"]).name)
    raw["estimator"].update(estimator)
    raw["checks"] = []
    return raw


@pytest.fixture(scope="session")
def prop99_result():
    from cpeval.pipeline import evaluate

    raw = design_dict("prop99")
    raw["checks"] = [{"placebo_space": {"n_jobs": 2, "exclude": 2}}, "balance", "convex_hull"]
    return evaluate(raw)
