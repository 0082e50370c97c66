"""The design format: every contract key, strictness, and the message of every design error."""

from __future__ import annotations

import copy
import json

import pytest

from _support import BASE_DID, DESIGNS, write_design
from cpeval.designs import design_from_dict, design_schema, load_design
from cpeval.designs.load import design_hash
from cpeval.errors import DesignError

FULL_DID = {
    "name": "Castle doctrine laws and homicide",
    "kind": "did",
    "description": "free text",
    "data": {
        "path": "../case_studies/data/castle.csv",
        "unit": "sid",
        "time": "year",
        "weights": "popwt",
        "population": "population",
    },
    "treatment": {"indicator": "post"},
    "outcomes": [
        {"name": "homicide", "column": "l_homicide", "family": "crime", "measure": "log", "take_log": False,
         "better_if": "decrease"}
    ],
    "estimator": {"method": "twfe", "cluster": "sid", "small_sample": "areg"},
    "inference": {"level": 0.95, "seed": 2002},
}


def test_contract_keys_of_issue_2_validate():
    d = design_from_dict(FULL_DID)
    assert d.kind == "did" and d.name == "Castle doctrine laws and homicide"
    assert d.data.weights == "popwt" and d.data.population == "population"
    assert d.treatment.indicator == "post"
    o = d.outcomes[0]
    assert (o.name, o.column, o.family, o.measure, o.better_if) == (
        "homicide", "l_homicide", "crime", "log", "decrease"
    )
    assert d.estimator.cluster == "sid" and d.inference.level == 0.95 and d.inference.seed == 2002


def test_alternative_contract_keys():
    raw = copy.deepcopy(FULL_DID)
    raw["data"] = {"dataset": "causaldata.castle", "unit": "sid", "time": "year"}
    raw["treatment"] = {"first_treated": "treat_year"}
    d = design_from_dict(raw)
    assert d.data.dataset == "causaldata.castle" and d.treatment.first_treated == "treat_year"


def test_defaults():
    d = design_from_dict(BASE_DID)
    assert d.inference.level == 0.95 and d.inference.seed == 2002
    assert d.estimator.method == "twfe" and d.estimator.small_sample == "auto"
    staggered = copy.deepcopy(BASE_DID) | {"estimator": {"method": "event_study"}}
    assert design_from_dict(staggered).estimator.control_group == "never_treated"
    assert d.outcomes[0].better_if == "decrease"
    assert d.cluster_column == "unit"


def test_designs_are_frozen():
    d = design_from_dict(BASE_DID)
    with pytest.raises(Exception, match="frozen"):
        d.name = "other"  # type: ignore[misc]


def test_hash_ignores_yaml_layout_but_not_content(tmp_path):
    a = write_design(tmp_path, FULL_DID, "a.yaml")
    b = write_design(tmp_path, "# a comment\n" + json.dumps(FULL_DID, indent=4), "b.yaml")  # JSON is YAML
    assert design_hash(load_design(a)) == design_hash(load_design(b))
    changed = copy.deepcopy(FULL_DID)
    changed["inference"]["seed"] = 1
    assert design_hash(design_from_dict(changed)) != design_hash(load_design(a))


def _err(raw: dict) -> str:
    with pytest.raises(DesignError) as info:
        design_from_dict(raw, source="designs/x.yaml")
    return str(info.value)


def _mutate(path: str, value: object, delete: bool = False) -> dict:
    raw = copy.deepcopy(FULL_DID)
    node = raw
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    if delete:
        del node[keys[-1]]
    else:
        node[int(keys[-1]) if keys[-1].isdigit() else keys[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("path", "value", "delete", "expected"),
    [
        ("estimator.clusters", "sid", False,
         "estimator.clusters: unknown key 'clusters' in estimator; did you mean 'cluster'?"),
        ("outcome", [], False, "unknown key 'outcome' in (top level); did you mean 'outcomes'?"),
        ("estimator.method", "twfee", False, "estimator.method: method 'twfee' is not available for did designs"),
        ("estimator.method", "event_studyy", False, "did you mean 'event_study'?"),
        ("outcomes.0.family", "crimes", False, "outcomes[0].family: 'crimes' is not allowed"),
        ("outcomes.0.measure", "logs", False, "did you mean 'log'?"),
        ("outcomes.0.better_if", "down", False, "outcomes[0].better_if"),
        ("data.unit", None, True, "data.unit: required key missing"),
        ("name", None, True, "name: required key missing"),
        ("outcomes", [], False, "outcomes: list should have at least 1 item"),
        ("inference.level", 2, False, "inference.level: input should be less than 1"),
        ("inference.seed", -1, False, "inference.seed"),
        ("data.path", "castle.txt", False, "must end in .csv or .parquet"),
        ("data.dataset", "causaldata.castle", False, "give exactly one of 'path'"),
        ("treatment.first_treated", "treat_year", False, "give exactly one of 'indicator'"),
        ("estimator.small_sample", "aerg", False, "did you mean 'areg'?"),
        ("estimator.control_group", "never_treated", False, "it applies to event_study, sun_abraham, "
         "poisson, callaway_santanna"),
        ("claim", {"outcomes": [{"outcome": "homicde", "estimate": 0.08, "std_error": 0.03, "scale": "log_points",
                                 "source": {"title": "t"}}]}, False, "'homicde' is not an outcome of this design"),
        ("consequences", {"displacement": {"roles_column": "r", "role_labels": {"buffr": "B"}}}, False,
         "consequences.displacement.role_labels: role_labels: 'buffr' is not a role; the roles are treated, "
         "buffer and control; did you mean 'buffer'?"),
        ("checks", ["no_such_check"], False, "check 'no_such_check' is not available"),
        ("data.time", None, True, "a did design needs 'data.time'"),
        ("outcomes", [{"name": "a", "column": "x"}, {"name": "a", "column": "y"}], False,
         "outcome names must be unique"),
    ],
)
def test_design_errors_name_file_key_and_fix(path, value, delete, expected):
    message = _err(_mutate(path, value, delete))
    assert message.startswith("designs/x.yaml:")
    assert expected in message


def test_unknown_method_is_rejected_with_the_available_ones():
    message = _err(_mutate("estimator.method", "event_studdy", False))
    assert ("estimator.method: method 'event_studdy' is not available for did designs (available: twfe, event_study, "
            "sun_abraham, poisson, callaway_santanna); did you mean 'event_study'?") in message


def test_a_key_of_another_method_names_the_methods_it_applies_to():
    raw = {"name": "x", "kind": "did", "data": {"path": "x.csv", "unit": "u", "time": "t"},
           "treatment": {"first_treated": "g"}, "outcomes": [{"name": "y", "column": "y"}],
           "estimator": {"method": "twfe", "approach": "ipw", "leads": 3, "poisson_form": "extended"}}
    with pytest.raises(DesignError) as err:
        design_from_dict(raw, source="designs/x.yaml")
    assert str(err.value) == "\n".join([
        "designs/x.yaml: 3 problems in the design:",
        "  - estimator.approach: 'approach' does not apply to method 'twfe'; it applies to callaway_santanna (remove "
        "it or choose one of those methods)",
        "  - estimator.leads: 'leads' does not apply to method 'twfe'; it applies to event_study, sun_abraham, poisson "
        "(remove it or choose one of those methods)",
        "  - estimator.poisson_form: 'poisson_form' does not apply to method 'twfe'; it applies to poisson (remove it "
        "or choose one of those methods)"])


@pytest.mark.parametrize(("estimator", "expected"), [
    ({"method": "callaway_santanna", "aproach": "ipw"},
     "estimator.aproach: unknown key 'aproach' in estimator; did you mean 'approach'?"),
    ({"method": "callaway_santanna", "approach": "x"},
     "estimator.approach: 'x' is not allowed; expected one of 'dr', 'ipw' or 'reg'"),
    ({"method": "event_study", "leads": 0}, "estimator.leads: input should be greater than or equal to 1 (got 0)"),
    ({"cluster": "s"}, None),  # the default method, twfe
])
def test_method_options_errors_carry_no_union_tag(estimator, expected):
    raw = {"name": "x", "kind": "did", "data": {"path": "x.csv", "unit": "u", "time": "t"},
           "treatment": {"first_treated": "g"}, "outcomes": [{"name": "y", "column": "y"}], "estimator": estimator}
    if expected is None:
        assert design_from_dict(raw).estimator.method == "twfe"
        return
    with pytest.raises(DesignError) as err:
        design_from_dict(raw)
    assert expected in str(err.value)
    for tag in ("callaway_santanna.", "event_study.", "CallawaySantAnnaOptions"):
        assert tag not in str(err.value)


def test_several_problems_reported_together():
    raw = _mutate("estimator.clusters", "sid", False)
    raw["outcomes"][0]["family"] = "crimes"
    message = _err(raw)
    assert "2 problems" in message and "clusters" in message and "crimes" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "a design must be a mapping"),
        ([1, 2], "got a list"),
        ({"name": "x"}, "kind: required key missing"),
        ({"name": "x", "kind": "dif"}, "did you mean 'did'?"),
    ],
)
def test_top_level_shape_errors(raw, expected):
    assert expected in _err(raw)


def test_yaml_syntax_error_names_line(tmp_path):
    path = write_design(tmp_path, "name: x\nkind: did\ndata: [unclosed\n")
    with pytest.raises(DesignError, match=r"not valid YAML at line \d+"):
        load_design(path)


def test_yaml_is_loaded_safely(tmp_path):
    path = write_design(tmp_path, "name: !!python/object/apply:os.system ['echo hacked']\nkind: did\n")
    with pytest.raises(DesignError, match="not valid YAML"):
        load_design(path)


def test_missing_file(tmp_path):
    with pytest.raises(DesignError, match="design file not found"):
        load_design(tmp_path / "nope.yaml")


def test_schema_covers_every_kind_and_contract_key():
    schema = design_schema()
    text = json.dumps(schema)
    for key in ("indicator", "first_treated", "units", "start", "assignment", "population", "better_if", "seed"):
        assert f'"{key}"' in text
    kinds = {v["properties"]["kind"]["const"] for k, v in schema["$defs"].items() if k.endswith("Design")}
    assert kinds == {"did", "synthetic_control", "rct"}


def test_every_design_file_validates():
    files = sorted(DESIGNS.glob("*.yaml"))
    assert files, "designs/ should hold at least the embedded default"
    for f in files:
        load_design(f)


@pytest.mark.parametrize("method", ["twfe", "event_study", "sun_abraham", "poisson"])
def test_repeated_cross_sections_need_callaway_santanna(method):
    raw = _mutate("estimator", {"method": method, "panel": False}, False)
    assert f"needs method callaway_santanna; '{method}' needs panel data" in _err(raw)
    raw["estimator"]["method"] = "callaway_santanna"
    raw["treatment"] = {"first_treated": "treat_year"}
    assert design_from_dict(raw).estimator.panel is False


def test_small_sample_conventions_come_from_the_methods_capabilities():
    from typing import ClassVar, Literal

    from pydantic import ValidationError

    from cpeval.designs.did import TwfeOptions
    from cpeval.designs.methods import Capabilities

    class OnlyReghdfe(TwfeOptions):
        method: Literal["only_reghdfe"]  # type: ignore[assignment]
        capabilities: ClassVar[Capabilities] = Capabilities(title="x", small_sample=("reghdfe",))

    assert OnlyReghdfe(method="only_reghdfe", small_sample="reghdfe").small_sample == "reghdfe"
    with pytest.raises(ValidationError, match="small_sample 'areg' is not offered by method 'only_reghdfe' \\(it "
                       "offers reghdfe; or use 'auto'\\)"):
        OnlyReghdfe(method="only_reghdfe", small_sample="areg")
