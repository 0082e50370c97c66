"""`cpeval init`: a new evaluation folder whose design, data and notebook run unedited.

The commented design is generated from the JSON Schema at run time, so it must list every key of the kind's
schema (the top level and every key of each section the example uses), and it must load to the same design
as the example with the comments stripped away.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
import yaml

from cpeval.cli import main
from cpeval.designs import design_from_dict, design_schema
from cpeval.scaffold import EXAMPLES, commented_design
from cpeval.templates import KINDS

# The simulated truth each example is built with (cpeval.scaffold's calls to cpeval.datasets): the synthetic
# control's effect is -5 in every post-period (simulate_synth(effect=-5.0)), the trial's ITT -3 with full
# compliance (simulate_rct(effect=-3.0)); the DiD example's ATT(g,t) grow from -1 at adoption
# (simulate_did(effect=-1.0, cohorts=(4, 6))), aggregated over the sample's cohorts by did_truth.
TRUTH = {"synthetic_control": -5.0, "rct": -3.0}


def _did_truth(folder) -> float:
    import pandas as pd

    from cpeval.datasets.did import did_truth

    return did_truth(pd.read_csv(folder / "data.csv"), effect=-1.0, cohorts=(4, 6))["simple"]


def _key_names(text: str) -> set[str]:
    """Every key written in the YAML, set or commented ('# key:' / '# - key:')."""
    return set(re.findall(r"(?m)^\s*(?:#\s*)?(?:-\s+)?([A-Za-z_][A-Za-z0-9_]*):(?:\s|$)", text))


@pytest.mark.parametrize("kind", KINDS)
def test_init_writes_a_folder_that_runs_unedited(tmp_path, monkeypatch, capsys, kind):
    monkeypatch.chdir(tmp_path)
    assert main(["init", "--kind", kind, "study"]) == 0
    out = capsys.readouterr().out
    folder = tmp_path / "study"
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "analysis.ipynb", "data.csv", "design.yaml"]
    readme = (folder / "README.md").read_text()
    assert "cpeval run design.yaml --out out" in readme and "cpeval notebook design.yaml -o analysis.ipynb" in readme
    assert "SIMULATED" in readme and "cd study" in out

    monkeypatch.chdir(folder)
    assert main(["run", "design.yaml", "--out", "out", "--quiet"]) == 0
    result = json.loads((folder / "out" / "results.json").read_text())
    (effect,) = result["effects"]
    truth = TRUTH[kind] if kind in TRUTH else _did_truth(folder)
    lower, upper = effect["conf_int"]
    assert lower <= truth <= upper, (truth, effect["conf_int"])
    assert main(["notebook", "design.yaml", "-o", "analysis.ipynb", "--quiet"]) == 0, capsys.readouterr().err
    nb = nbformat.read(folder / "analysis.ipynb", as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert nb.metadata.papermill.parameters["design_path"] == "design.yaml"


@pytest.mark.parametrize("kind", KINDS)
def test_commented_design_lists_every_key_of_the_schema_and_loads_as_the_example(kind):
    schema = design_schema()
    defs = schema["$defs"]
    example, _ = EXAMPLES[kind]()
    text = commented_design(example, schema)
    assert design_from_dict(yaml.safe_load(text)) == design_from_dict(example)
    keys = _key_names(text)
    root = defs[schema["discriminator"]["mapping"][kind].rsplit("/", 1)[1]]
    assert set(root["properties"]) <= keys
    for section in ("data", "treatment", "inference"):
        ref = root["properties"][section]["$ref"].rsplit("/", 1)[1]
        assert set(defs[ref]["properties"]) <= keys, section
    assert set(defs["OutcomeSpec"]["properties"]) <= keys
    method = example["estimator"]["method"]
    options = root["properties"]["estimator"]["discriminator"]["mapping"][method].rsplit("/", 1)[1]
    assert set(defs[options]["properties"]) <= keys
    # each key's description is written beside it
    assert defs["DataSpec"]["properties"]["unit"]["description"].split(".")[0] in text


def test_commented_design_follows_the_schema_it_is_given():
    """A key added to the schema appears in the next scaffold, with its description and default."""
    schema = design_schema()
    extra = {"type": "integer", "default": 7, "description": "A key added after this test was written."}
    schema["$defs"]["DataSpec"]["properties"]["new_key"] = extra
    example, _ = EXAMPLES["did"]()
    text = commented_design(example, schema)
    written = r"(?m)^  # A key added after this test was written\. \[integer; default 7\]\n  # new_key: 7$"
    assert re.search(written, text)


def test_init_refuses_an_existing_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()
    assert main(["init", "--kind", "did", "taken"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert list((tmp_path / "taken").iterdir()) == []


def test_init_data_are_seeded(tmp_path):
    from cpeval.scaffold import scaffold

    scaffold(tmp_path / "a", kind="rct")
    scaffold(tmp_path / "b", kind="rct")
    assert (tmp_path / "a" / "data.csv").read_bytes() == (tmp_path / "b" / "data.csv").read_bytes()
