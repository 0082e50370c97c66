"""The outcome declarations: defaults, derived columns, and one test per design error."""

from __future__ import annotations

import pytest

from _support import DESIGNS
from cpeval.designs import design_from_dict, load_design
from cpeval.designs.outcomes import DERIVED_PREFIX, OutcomeSpec
from cpeval.errors import DesignError

SAFE = {"item": "safe", "scale": ["very safe", "fairly safe", "a bit unsafe", "very unsafe"],
        "fearful": ["a bit unsafe", "very unsafe"]}
SURVEY = {"dataset": "cpeval.city_survey", "wave": "year", "weights": "weight"}


def test_plain_column_outcomes_are_unchanged():
    o = OutcomeSpec(name="homicide", column="l_homicide", measure="log", take_log=False)
    assert (o.column, o.derived, o.allows_missing, o.auxiliary_columns) == ("l_homicide", False, False, {})
    assert o.model_dump(by_alias=True)["column"] == "l_homicide"
    castle = load_design(DESIGNS / "castle_doctrine.yaml")
    assert [x.column for x in castle.outcomes] == ["l_homicide", "l_larceny", "l_motor"]


def test_families_and_measures_default_from_the_declaration():
    harm = OutcomeSpec(name="harm", seriousness={"weights": "cambridge_chi", "columns": {"shoplifting": "s"}})
    assert (harm.family, harm.measure, harm.column) == ("seriousness", "level", DERIVED_PREFIX + "harm")
    assert harm.auxiliary_columns == {f"{DERIVED_PREFIX}harm__harm__shoplifting": "outcomes[harm].seriousness"
                                      ".columns.shoplifting"}
    fear = OutcomeSpec(name="unsafe", fear=SAFE, survey=SURVEY)
    assert (fear.family, fear.measure, fear.allows_missing) == ("fear", "proportion", True)
    index = OutcomeSpec(name="worry", fear={"items": ["a", "b"], "scale": ["no", "yes"]})
    assert (index.family, index.measure) == ("fear", "level")
    prev = OutcomeSpec(name="p", victimisation={"measure": "prevalence", "column": "times"})
    inc = OutcomeSpec(name="i", victimisation={"measure": "incidence", "crimes": "c"}, per=1000)
    conc = OutcomeSpec(name="c", victimisation={"measure": "concentration", "crimes": "c", "victims": "v"})
    assert (prev.measure, inc.measure, conc.measure, conc.allows_missing) == ("proportion", "rate", "level", True)
    tot = OutcomeSpec(name="t", total_of=["a", "b"])
    assert (tot.family, tot.measure, tot.derived) == ("crime", "count", True)
    r = OutcomeSpec(name="r", column="burglary", measure="rate", per=1000)
    assert r.derived and r.column == DERIVED_PREFIX + "r" and r.source_column == "burglary"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x"}, "give 'column' (the data column) or one of total_of"),
        ({"name": "x", "column": "c", "total_of": ["a", "b"]}, "'column' is not used with total_of"),
        ({"name": "x", "total_of": ["a", "b"], "seriousness": {"weights": "w", "columns": {"a": "a"}}},
         "give only one of total_of, seriousness"),
        ({"name": "x", "column": "c", "measure": "rate", "per": 500}, "per must be one of"),
        ({"name": "x", "column": "c", "measure": "log", "take_log": True, "per": 1000}, "needs the rule for zeros"),
        ({"name": "x", "column": "c", "zeros": "add_one"}, "'zeros' applies to measure 'log'"),
        ({"name": "x", "column": "c", "per": 1000}, "'per' makes a rate; set measure: rate"),
        ({"name": "x", "total_of": ["a", "b"], "measure": "log"}, "to take the log of total_of, add take_log: true"),
        ({"name": "x", "column": "c", "measure": "log", "per": 1000}, "to take the log of a rate from 'per', add"),
        ({"name": "x", "fear": SAFE, "family": "crime"}, "a fear outcome has family 'fear'"),
        ({"name": "x", "seriousness": {"weights": "w", "columns": {"a": "a"}}, "family": "crime"},
         "a harm index has family 'seriousness'"),
        ({"name": "x", "fear": {**SAFE, "fearful": ["scared"]}}, "['scared'] are not labels of fear.scale"),
        ({"name": "x", "fear": {**SAFE, "items": ["a", "b"]}}, "exactly one of 'item'"),
        ({"name": "x", "fear": {"items": ["a", "b"], "scale": ["no", "yes"], "fearful": ["yes"]}},
         "fear.fearful applies to a single 'item'"),
        ({"name": "x", "fear": {**SAFE, "codes": [1, 2]}}, "give one code per scale label (4), got 2"),
        ({"name": "x", "fear": {**SAFE, "scale": ["a", "A"]}}, "labels must be distinct"),
        ({"name": "x", "fear": SAFE, "per": 100}, "'per' does not apply to a fear outcome"),
        ({"name": "x", "column": "c", "survey": SURVEY}, "'survey' is only for fear and survey victimisation"),
        ({"name": "x", "fear": SAFE, "survey": {"wave": "year"}}, "exactly one of 'path', 'dataset' or 'source'"),
        ({"name": "x", "victimisation": {"measure": "prevalence"}}, "give either 'column'"),
        ({"name": "x", "victimisation": {"measure": "concentration", "crimes": "c"}}, "needs victims"),
    ],
)
def test_design_errors(did_dict, raw, message):
    did_dict["outcomes"] = [raw]
    with pytest.raises(DesignError) as err:
        design_from_dict(did_dict, source="d.yaml")
    assert message in str(err.value)
    assert "outcomes[0]" in str(err.value)


def test_misspelt_outcome_key_is_an_error(did_dict):
    did_dict["outcomes"] = [{"name": "x", "column": "c", "zero": "add_one"}]
    with pytest.raises(DesignError, match=r"unknown key 'zero'.*did you mean 'zeros'"):
        design_from_dict(did_dict)


def test_city_design_declares_all_three_families():
    design = load_design(DESIGNS / "city_programme.yaml")
    assert {o.family for o in design.outcomes} == {"crime", "seriousness", "fear"}
    assert design.data.dataset == "cpeval.city"
