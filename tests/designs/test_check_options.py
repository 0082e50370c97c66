"""``checks:`` as a list, a mapping or a mixed list; each check's options model; old spellings refused with the fix."""

from __future__ import annotations

import copy
import json

import pytest

from cpeval.designs import design_from_dict, design_schema
from cpeval.designs.checks import DidChecks, HonestDidOptions, RctChecks, SynthChecks
from cpeval.errors import DesignError

DID = {
    "name": "checks", "kind": "did",
    "data": {"path": "x.csv", "unit": "unit", "time": "period"},
    "treatment": {"first_treated": "g"},
    "outcomes": [{"name": "y", "column": "y"}],
    "estimator": {"method": "event_study"},
}
SYNTH = {
    "name": "checks", "kind": "synthetic_control",
    "data": {"path": "x.csv", "unit": "unit", "time": "year"},
    "treatment": {"units": ["a"], "start": 1990},
    "outcomes": [{"name": "y", "column": "y"}],
}
RCT = {
    "name": "checks", "kind": "rct", "data": {"path": "x.csv", "unit": "id"},
    "treatment": {"assignment": "z"}, "outcomes": [{"name": "y", "column": "y"}],
    "attrition": {"observed": "seen"},
}


def _with(base: dict, **keys: object) -> dict:
    raw = copy.deepcopy(base)
    raw.update(keys)
    return raw


@pytest.mark.parametrize("checks", [
    ["pre_trends", "honest_did"],
    {"pre_trends": None, "honest_did": {}},
    {"pre_trends": {}, "honest_did": {"target": "average"}},
    ["pre_trends", {"honest_did": {}}],
])
def test_every_spelling_gives_the_same_checks(checks):
    design = design_from_dict(_with(DID, checks=checks))
    assert design.checks.requested == ("pre_trends", "honest_did")
    assert design.checks.options("honest_did") == HonestDidOptions()


def test_options_are_kept_and_defaults_fill_the_rest():
    design = design_from_dict(_with(DID, checks={"honest_did": {"mbar": [0, 1], "target": "first"}}))
    opts = design.checks.options("honest_did")
    assert (opts.mbar, opts.target, opts.m) == ([0.0, 1.0], "first", None)
    assert design.checks.requested == ("honest_did",)
    # a check not requested still has its default options (the pipeline runs placebo_space for inference)
    synth = design_from_dict(SYNTH)
    assert synth.checks.requested == ()
    assert synth.checks.options("placebo_space").exclude is None
    assert synth.checks.options("placebo_space").n_jobs == -1


def test_checks_round_trip_through_the_dump():
    design = design_from_dict(_with(SYNTH, checks=["balance", {"placebo_space": {"exclude": 5}}]))
    dumped = design.model_dump(mode="json")["checks"]
    assert dumped == {"placebo_space": {"n_jobs": -1, "exclude": 5.0},
                      "balance": {"important_v": 0.1, "max_std_diff": 0.25}}
    assert design_from_dict(_with(SYNTH, checks=dumped)).checks == design.checks


@pytest.mark.parametrize(("checks", "expected"), [
    (["pre_trend"], "checks: check 'pre_trend' is not available for did designs (available: pre_trends, bacon, "
                    "honest_did); did you mean 'pre_trends'?"),
    ({"honest_did": {"mbar": [-1]}}, "checks.honest_did.mbar: expected a non-empty list of numbers >= 0"),
    ({"honest_did": {"mbarr": [1]}}, "checks.honest_did.mbarr: unknown key 'mbarr' in checks.honest_did; did you "
                                     "mean 'mbar'?"),
    (["pre_trends", {"pre_trends": {}}], "check 'pre_trends' is listed twice"),
    ([{"pre_trends": {}, "bacon": {}}], "each entry of checks is a check name or a one-key mapping"),
])
def test_bad_checks_are_named(checks, expected):
    with pytest.raises(DesignError) as err:
        design_from_dict(_with(DID, checks=checks))
    assert expected in str(err.value)


def test_top_level_honest_did_says_what_to_write():
    raw = _with(DID, checks=["pre_trends", "honest_did"], honest_did={"mbar": [0, 0.5]})
    with pytest.raises(DesignError) as err:
        design_from_dict(raw)
    assert ("honest_did is a check option: remove honest_did and write checks: [pre_trends, {honest_did: "
            "{mbar: [0, 0.5]}}]") in str(err.value)
    fixed = _with(DID, checks=["pre_trends", {"honest_did": {"mbar": [0, 0.5]}}])
    assert design_from_dict(fixed).checks.options("honest_did").mbar == [0.0, 0.5]


def test_synth_placebo_keys_in_the_estimator_say_what_to_write():
    raw = _with(SYNTH, estimator={"method": "abadie", "placebo_exclude": 2, "placebo_start": 1985, "n_jobs": 2},
                checks=["placebo_space", "leave_one_out"])
    with pytest.raises(DesignError) as err:
        design_from_dict(raw)
    expected = ("estimator.placebo_exclude, estimator.placebo_start, estimator.n_jobs are check options: remove "
                "estimator.placebo_exclude, estimator.placebo_start, estimator.n_jobs and write checks: "
                "[{placebo_space: {exclude: 2, n_jobs: 2}}, leave_one_out, {placebo_time: {start: 1985}}]")
    assert expected in str(err.value)


def test_attrition_thresholds_in_the_attrition_section_say_what_to_write():
    raw = _with(RCT, attrition={"observed": "seen", "max_overall": 0.3}, checks=["attrition"])
    with pytest.raises(DesignError) as err:
        design_from_dict(raw)
    assert ("attrition.max_overall is a check option: remove attrition.max_overall and write checks: "
            "[{attrition: {max_overall: 0.3}}]") in str(err.value)


def test_schema_enumerates_the_checks_of_each_kind():
    defs = design_schema()["$defs"]
    for model in (DidChecks, SynthChecks, RctChecks):
        schema = defs[model.__name__]
        mapping, listed = schema["anyOf"]
        assert set(mapping["properties"]) == set(model.model_fields)
        assert listed["items"]["anyOf"][0]["enum"] == list(model.model_fields)
    assert defs["DidDesign"]["properties"]["checks"]["$ref"] == "#/$defs/DidChecks"
    json.dumps(defs)


def test_every_shipped_design_is_valid_under_the_schema_editors_use():
    from pathlib import Path

    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(design_schema())
    jsonschema.Draft202012Validator.check_schema(design_schema())
    files = sorted((Path(__file__).parents[2] / "designs").glob("*.yaml"))
    assert files
    for f in files:
        as_editor_sees_it = json.loads(json.dumps(yaml.safe_load(f.read_text()), default=str))  # dates are text
        errors = [e.message for e in validator.iter_errors(as_editor_sees_it)]
        assert not errors, (f.name, errors[:3])
    assert not list(validator.iter_errors(_with(DID, checks=["pre_trends", {"honest_did": {"mbar": [1]}}])))
    assert list(validator.iter_errors(_with(DID, checks=["placebo_space"])))  # not a did check


def test_the_did_checks_refit_design_is_validated_not_copied():
    from cpeval.checks.did_common import with_estimator

    cs = design_from_dict(_with(DID, estimator={"method": "callaway_santanna", "approach": "ipw",
                                                "control_group": "not_yet_treated"}))
    es = with_estimator(cs, "event_study", bin_endpoints=False)
    # the CS-only key is left out, the shared one kept, the new option validated
    assert type(es.estimator).__name__ == "EventStudyOptions"
    assert (es.estimator.control_group, es.estimator.bin_endpoints) == ("not_yet_treated", False)
    with pytest.raises(DesignError, match=r"estimator\.leads: input should be greater than or equal to 1"):
        with_estimator(cs, "event_study", leads=0)  # model_copy would have let this through
