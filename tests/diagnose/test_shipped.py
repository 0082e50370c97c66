"""Every shipped design can be diagnosed: one simulation each in the slow suite, one design per kind always."""

from __future__ import annotations

import pytest

from _support import DESIGNS
from cpeval.diagnose import diagnose

ALL = sorted(p.name for p in DESIGNS.glob("*.yaml"))


def _check(name: str) -> None:
    d = diagnose(DESIGNS / name, simulations=1, workers=1, progress=False)
    assert d.simulations == 1 and d.verdict
    for o in d.variants[0].outcomes:
        assert o.simulations + o.failed == 1
        assert o.dgp["family"] in ("negative_binomial", "poisson", "normal", "survey", "trial")


@pytest.mark.parametrize("name", ["castle_doctrine_event_study.yaml", "nsw_experiment.yaml"])
def test_one_design_per_kind(name):
    _check(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_every_shipped_design(name):
    _check(name)
