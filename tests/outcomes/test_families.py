"""Outcome families are declared once (cpeval.designs.families); validation, derivation and the report read
that table, so a declared family or builder cannot be missing from any of them."""

from __future__ import annotations

import typing

import pytest

from cpeval.designs import families
from cpeval.designs.outcomes import Family, OutcomeSpec
from cpeval.outcomes.derive import AREA_BUILDERS
from cpeval.report.effects import FAMILY_TITLES

RESPONDENT_BUILDERS = {"fear"}  # built from respondent rows by derive's survey path


def test_every_reader_sees_the_declared_families_in_order():
    assert typing.get_args(Family) == families.FAMILY_ORDER
    assert tuple(FAMILY_TITLES) == families.FAMILY_ORDER
    assert len(set(families.FAMILY_ORDER)) == len(families.FAMILY_ORDER)


def test_every_builder_has_a_derivation_and_each_belongs_to_one_family():
    assert set(AREA_BUILDERS) | RESPONDENT_BUILDERS == set(families.BUILDERS)
    assert len(set(families.BUILDERS)) == len(families.BUILDERS)
    assert set(families.BUILDERS) <= set(OutcomeSpec.model_fields)


@pytest.mark.parametrize(("builder", "family"), sorted((b, f) for b, (f, _) in families.IMPLIED_FAMILY.items()))
def test_an_exclusive_builder_fixes_the_family(builder, family):
    other = next(f for f in families.FAMILY_ORDER if f != family)
    spec = {"seriousness": {"weights": "cambridge_chi", "columns": {"robbery": "robbery"}},
            "fear": {"item": "safe", "scale": ["very safe", "very unsafe"]}}[builder]
    with pytest.raises(ValueError, match=f"has family {family!r}, not {other!r}"):
        OutcomeSpec.model_validate({"name": "x", builder: spec, "family": other})
