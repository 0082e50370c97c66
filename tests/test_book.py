"""The Jupyter Book of worked evaluations builds with warnings as errors, executing every page."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _support import ROOT


def test_book_builds_without_warnings(tmp_path):
    exe = Path(sys.executable).parent / "jupyter-book"
    if not exe.exists():
        exe_path = shutil.which("jupyter-book")
        if exe_path is None:
            pytest.fail("jupyter-book is not installed; install the 'docs' extra (make test does)")
        exe = Path(exe_path)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [str(exe), "build", str(ROOT / "book"), "-W", "--keep-going", "--path-output", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    html = (tmp_path / "_build" / "html" / "castle_doctrine.html").read_text()
    import cpeval

    pct = cpeval.evaluate(ROOT / "designs" / "castle_doctrine.yaml").effect("homicide").percent_change
    assert f"Homicide: {pct[0]:+.1f}%" in html  # the page was executed, not pasted
    for page in ("castle_staggered", "castle_cost_benefit", "prop99", "city_programme"):
        html = (tmp_path / "_build" / "html" / f"{page}.html").read_text()
        assert html.count("<table") >= 3, f"{page}: report tables did not render"
        assert "data:image/png;base64," in html, f"{page}: figures missing"
    _check_generated_pages(tmp_path / "_build" / "html")


def _check_generated_pages(html_dir: Path) -> None:
    """Pages whose content is computed at build time: the reference lists every key of the design schema,
    the Florida and trial chapters print the numbers cpeval computes today, the non-crime chapters say so."""
    import cpeval
    from cpeval.designs import design_schema

    reference = (html_dir / "reference.html").read_text()
    for name, node in design_schema()["$defs"].items():
        for key in node.get("properties", {}):
            assert f'<span class="pre">{key}</span>' in reference, f"reference: {name}.{key} missing"
    assert "cpeval notebook" in reference and "cpeval init" in reference  # the commands' own help
    assert "Run the evaluation a design describes" in reference  # cpeval.evaluate's docstring

    florida = (html_dir / "florida_syg.html").read_text()
    effect = cpeval.evaluate(ROOT / "designs" / "florida_stand_your_ground.yaml").effect("homicide_rate")
    assert f"Average gap 2006-2010: {effect.estimate:+.2f} homicides per 100,000" in florida
    trials = (html_dir / "trials.html").read_text()
    harm = cpeval.evaluate(ROOT / "designs" / "hotspots_trial.yaml").effect("crime_harm")
    assert f"ITT on the crime-harm index: {harm.estimate:.2f}" in trials
    for page in ("prop99", "basque"):
        assert "This is not a crime outcome." in (html_dir / f"{page}.html").read_text().replace("<strong>", "")\
            .replace("</strong>", ""), page
    started = (html_dir / "getting_started.html").read_text()
    assert "my_evaluation/design.yaml" in started and "case_studies/florida_stand_your_ground" in started
