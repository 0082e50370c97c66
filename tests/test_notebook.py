"""`cpeval notebook`: the packaged template for the design's kind, executed by papermill in this interpreter.

The executed notebook must carry the whole report (every section `cpeval run` writes, with every figure) and
end with the same verdict per effect as report.md's Effects table.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from _support import DESIGNS, write_design
from cpeval.cli import main
from cpeval.templates import KINDS, template_path


def _outputs(nb) -> list[str]:
    """Every text and Markdown output of the executed notebook, cell by cell."""
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(data.get("text/markdown") or data.get("text/plain") or out.get("text", ""))
    return texts


def _report_verdicts(report: str) -> dict[str, str]:
    """outcome -> the direction column of report.md's Effects tables (columns found by their headers; an
    outcome cell may hold a label with the name in backticks)."""
    verdicts: dict[str, str] = {}
    header: list[str] | None = None
    for line in report.splitlines():
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "outcome" in cells and "direction" in cells:
            header = cells
        elif header and len(cells) == len(header) and not set(line) <= set("|-: "):
            name = cells[header.index("outcome")]
            named = re.search(r"`(\w+)`", name)
            verdicts[named.group(1) if named else name] = cells[header.index("direction")]
    return verdicts


@pytest.mark.parametrize("kind", KINDS)
def test_each_template_has_one_parameters_cell_and_the_portable_kernel(kind):
    nb = nbformat.read(template_path(kind), as_version=4)
    nbformat.validate(nb)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert re.search(r'(?m)^design_path = "design.yaml"$', tagged[0].source)
    assert re.search(r"(?m)^output_dir = None$", tagged[0].source)
    assert nb.metadata.kernelspec.name == "python3"
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "cpeval.evaluate(design_path)" in code and "result.tidy()" in code and "show_verdicts()" in code


def _assert_notebook_is_the_report(output: Path, report: str, n_figures: int) -> list[str]:
    """Every section of report.md shown once, every figure embedded, no error, and the report's verdicts last."""
    nb = nbformat.read(output, as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert nb.metadata.kernelspec.name == "python3"
    texts = _outputs(nb)
    shown = "\n".join(texts)
    for title in re.findall(r"(?m)^## (.+)$", report):
        assert len(re.findall(rf"(?m)^### {re.escape(title)}$", shown)) == 1, title
    assert shown.count("data:image/png;base64,") == n_figures
    found = dict(re.findall(r"- \*\*(\w+)\*\* \([^)]*\): (improved|worsened|no clear change);", texts[-1]))
    expected = _report_verdicts(report)
    assert expected and found == expected
    return texts


@pytest.mark.parametrize(("design", "section"), [
    ("castle_doctrine_cs.yaml", "Group-time effects (Callaway & Sant'Anna)"),
    ("city_programme_cba.yaml", "Cost-benefit"),
])
def test_notebook_shows_the_whole_report_and_ends_with_its_verdicts(tmp_path, capsys, design, section):
    design = DESIGNS / design
    assert main(["run", str(design), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    report = (tmp_path / "run" / "report.md").read_text()
    assert f"\n## {section}\n" in report
    figures = sorted(p.name for p in (tmp_path / "run" / "figures").glob("*.png"))
    assert figures, "the report has figures"

    output = tmp_path / "nb" / "analysis.ipynb"
    code = main(["notebook", str(design), "-o", str(output), "--out", str(tmp_path / "nb_out"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    texts = _assert_notebook_is_the_report(output, report, len(figures))
    nb = nbformat.read(output, as_version=4)
    assert nb.metadata.papermill.parameters["design_path"].endswith(design.name)
    assert any("estimate" in t and "outcome" in t for t in texts)  # the tidy table of effects
    # the notebook wrote the same report files as `cpeval run`
    assert (tmp_path / "nb_out" / "report.md").read_text() == report
    assert sorted(p.name for p in (tmp_path / "nb_out" / "figures").glob("*.png")) == figures


def test_kernel_is_this_interpreter_even_if_python3_points_elsewhere(tmp_path, monkeypatch):
    """A python3 kernel spec registered for another Python (here one that cannot start) is not used."""
    broken = tmp_path / "jupyter" / "kernels" / "python3"
    broken.mkdir(parents=True)
    (broken / "kernel.json").write_text(json.dumps({
        "argv": ["/nonexistent/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "another Python", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    import os

    output = tmp_path / "castle.ipynb"
    assert main(["notebook", str(DESIGNS / "castle_doctrine_event_study.yaml"), "-o", str(output), "--quiet"]) == 0
    executable = nbformat.read(output, as_version=4)
    assert any("Event study" in t for t in _outputs(executable))
    assert os.environ["JUPYTER_PATH"] == str(tmp_path / "jupyter")  # restored after the run


def test_a_bad_design_stops_before_any_kernel_starts(tmp_path, capsys):
    design = write_design(tmp_path, {"name": "x", "kind": "did", "data": {"path": "p.csv", "unit": "u"},
                                     "treatment": {"indicator": "d"}, "outcomes": [{"name": "y"}],
                                     "estimator": {"method": "twfe", "clusters": "u"}})
    assert main(["notebook", str(design), "-o", str(tmp_path / "a.ipynb"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "estimator.clusters" in err and "did you mean 'cluster'" in err
    assert not (tmp_path / "a.ipynb").exists()


def test_a_data_error_inside_the_kernel_names_the_cell_and_keeps_the_notebook(tmp_path, capsys):
    design = write_design(tmp_path, {"name": "x", "kind": "did",
                                     "data": {"path": "missing.csv", "unit": "u", "time": "t"},
                                     "treatment": {"indicator": "d"}, "outcomes": [{"name": "y", "column": "y"}],
                                     "estimator": {"method": "twfe"}})
    output = tmp_path / "a.ipynb"
    assert main(["notebook", str(design), "-o", str(output), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "the notebook stopped in cell" in err and "missing.csv" in err and str(output) in err
    assert "Traceback" not in err
    assert nbformat.read(output, as_version=4).metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", ["a.txt", "folder"])
def test_notebook_output_must_be_an_ipynb_file(tmp_path, capsys, name):
    (tmp_path / "folder.ipynb").mkdir()
    target = tmp_path / ("folder.ipynb" if name == "folder" else name)
    assert main(["notebook", str(DESIGNS / "castle_doctrine.yaml"), "-o", str(target), "--quiet"]) == 2
    assert ".ipynb" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("design", sorted(p.name for p in DESIGNS.glob("*.yaml")))
def test_every_design_in_the_repository_runs_as_a_notebook(tmp_path, design, capsys):
    output = tmp_path / "analysis.ipynb"
    code = main(["notebook", str(DESIGNS / design), "-o", str(output), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 0, capsys.readouterr().err
    report = (tmp_path / "out" / "report.md").read_text()
    _assert_notebook_is_the_report(output, report, len(list((tmp_path / "out" / "figures").glob("*.png"))))


def test_template_path_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="kinds: did, synthetic_control, rct"):
        template_path("panel")
    assert all(Path(template_path(k)).is_file() for k in KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_templates_name_only_existing_report_sections_and_parts(kind):
    """A section renamed in the report registry must be renamed in the templates (else it would silently
    move to the end of every notebook)."""
    from cpeval.report.section import PARTS
    from cpeval.report.sections import SECTIONS

    code = "\n".join(c.source for c in nbformat.read(template_path(kind), as_version=4).cells if c.cell_type == "code")
    keys = [k for call in re.findall(r"view\.show\(([^)]*)\)", code) for k in re.findall(r'"(\w+)"', call)]
    parts = [p for call in re.findall(r"view\.show_part\(([^)]*)\)", code) for p in re.findall(r'^"(\w+)"', call)]
    assert keys and parts
    assert set(keys) <= {s.key for s in SECTIONS}
    # each part of para 23 has its own heading; a part added later is still shown, by show_rest()
    assert {"summary", "effects", "cost_benefit", "outcomes", "consequences", "diagnostics"} <= set(parts)
    assert set(parts) <= set(PARTS)


def test_report_view_refuses_unknown_sections_and_shows_each_once():
    import cpeval
    from cpeval.report.notebook import ReportView

    view = ReportView(cpeval.evaluate(DESIGNS / "castle_doctrine_event_study.yaml"))
    with pytest.raises(KeyError, match=r"no report section 'effect'; sections: .*\beffects\b"):
        view.markdown("effect")
    with pytest.raises(KeyError, match="no report part 'diagnosis'"):
        view.show_part("diagnosis")
    first = view.markdown("effects", "cost_benefit")  # cost_benefit does not apply: skipped
    assert first.startswith("### Effects") and "Cost-benefit" not in first
    assert view.markdown("effects") == ""
    rest = view.markdown(*view.sections)
    assert "### Effects" not in rest and "### Warnings" in rest
