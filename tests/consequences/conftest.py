"""Fixtures shared by the consequences tests: the default simulated hot-spots city and its design."""

from __future__ import annotations

import pytest

from _support import DESIGNS
from cpeval.datasets.city import simulate_hotspot_city
from cpeval.designs import load_design


@pytest.fixture(scope="module")
def city():
    return simulate_hotspot_city()


@pytest.fixture(scope="module")
def design():
    return load_design(DESIGNS / "hotspots_displacement.yaml")
