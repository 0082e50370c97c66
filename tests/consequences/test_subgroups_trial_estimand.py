"""Subgroups of a cluster-randomised trial whose estimand is the CACE: the bootstrap that subgroups lead with
applies to the ITT only, so the subgroup keeps the design's own inference instead of being reported as not
estimable; and a moderator none of whose subgroups could be estimated is a warning, not a pass."""

from __future__ import annotations

import pytest

from _support import DESIGNS
from cpeval.consequences import refit, subgroups
from cpeval.data import read_derived
from cpeval.designs import design_from_dict, load_design
from cpeval.errors import EstimationError


@pytest.fixture(scope="module")
def cace():
    raw = load_design(DESIGNS / "hotspots_trial.yaml").model_dump(mode="json", by_alias=True, exclude_none=True)
    raw.update(estimand="cace", checks={}, outcomes=raw["outcomes"][:1],
               consequences={"subgroups": {"moderators": ["district"]}})
    raw.pop("power", None)
    raw["inference"].update(permutations=0, multiple_testing="none")
    design = design_from_dict(raw)
    return design, read_derived(design).frame


def test_cace_subgroups_keep_the_designs_inference(cace):
    design, frame = cace
    spec = design.consequences.subgroups
    levels = subgroups.moderator_levels(frame, design, spec)
    (finding,) = subgroups.assess(design, frame, spec, levels, "t")
    rows = finding.evidence["subgroups"]
    # 6 districts of 20 beats, 10 assigned each: enough clusters that the bootstrap would lead, but the
    # wild bootstrap is for the ITT; every district is estimated with the trial's CACE and its own test
    assert finding.evidence["not_estimable"] == [] and [r["subgroup"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all("inference" not in r and r["flag_p_value"] == r["p_value"] for r in rows)
    assert "could be estimated" not in finding.sentence


def test_a_moderator_without_any_estimable_subgroup_is_a_warning(cace, monkeypatch):
    design, frame = cace
    spec = design.consequences.subgroups

    def fail(*args, **kwargs):
        raise EstimationError("no treated cluster in this subgroup")

    monkeypatch.setattr(refit, "fit", fail)
    (finding,) = subgroups.assess(design, frame, spec, subgroups.moderator_levels(frame, design, spec), "t")
    assert finding.status == "warn" and len(finding.evidence["not_estimable"]) == 6
    assert "could be estimated" in finding.sentence and "shows a clear harm" not in finding.sentence
