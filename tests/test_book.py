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
