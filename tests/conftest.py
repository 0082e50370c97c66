"""Shared fixtures."""

from __future__ import annotations

import copy
import os
from typing import Any

import pandas as pd
import pytest

from _support import BASE_DID, CASE_DATA

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def castle() -> pd.DataFrame:
    return pd.read_csv(CASE_DATA / "castle.csv")


@pytest.fixture
def did_dict() -> dict[str, Any]:
    return copy.deepcopy(BASE_DID)
