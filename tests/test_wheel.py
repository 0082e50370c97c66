"""cpeval installed from its wheel (not from this checkout) runs a design that reads a packaged dataset.

The wheel is built without build isolation (no network) and unpacked into a fresh virtual environment whose
only other path is this test environment's site-packages, for the third-party dependencies; the checkout's
editable install is not on that path, so the run below can only use what the wheel carries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from _support import ROOT


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    # Build from a copy so that no build/ folder (with modules since deleted) is left in or read from the checkout.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "out", "*.egg-info", "__pycache__", ".*_cache", "_build", "_case_data"))
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                  "-w", str(tmp / "dist"), str(source)])
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("cpeval-*.whl")
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    installed = _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)])
    assert installed.returncode == 0, installed.stderr
    # Third-party packages come from the test environment; a path line in a .pth file does not load that
    # directory's own .pth files, so the checkout's editable finder stays out.
    (site / "_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_installed_wheel_runs_a_packaged_dataset_design(wheel_env: Path, tmp_path: Path) -> None:
    python = wheel_env / "bin" / "python"
    where = _run([str(python), "-c", "import cpeval; print(cpeval.__file__)"], cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(wheel_env), where.stdout
    design = tmp_path / "castle.yaml"
    design.write_text(textwrap.dedent("""
        name: castle doctrine from the installed package
        kind: did
        data: {dataset: cpeval.castle, unit: sid, time: year, population: population}
        treatment: {indicator: post}
        outcomes:
          - {name: homicide, column: homicide_count, family: crime, measure: count}
        estimator: {method: poisson, cluster: sid}
    """))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    ran = _run([str(python), "-m", "cpeval.cli", "run", str(design), "--out", str(tmp_path / "out"), "--quiet"],
               cwd=tmp_path, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    result = json.loads((tmp_path / "out" / "results.json").read_text())
    (effect,) = result["effects"]
    assert effect["outcome"] == "homicide"
    assert effect["n_units"] == 50


def test_installed_wheel_carries_the_notebook_templates_and_runs_them(wheel_env: Path, tmp_path: Path) -> None:
    """`cpeval init` and `cpeval notebook` from the wheel: the templates are package data, and the kernel that
    executes the notebook is the wheel environment's interpreter (it imports the wheel's cpeval)."""
    python = wheel_env / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    made = _run([str(python), "-m", "cpeval.cli", "init", "--kind", "did", "study"], cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stdout + made.stderr
    study = tmp_path / "study"
    ran = _run([str(python), "-m", "cpeval.cli", "notebook", "design.yaml", "-o", "analysis.ipynb", "--quiet"],
               cwd=study, env=env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    nb = json.loads((study / "analysis.ipynb").read_text())
    probe = study / "probe.ipynb"
    nb["cells"].append({"cell_type": "code", "metadata": {}, "source": "import cpeval; print(cpeval.__file__)",
                        "outputs": [], "execution_count": None, "id": "probe"})
    probe.write_text(json.dumps(nb))
    code = ("import papermill, sys; from cpeval.templates import this_interpreter_kernel\n"
            "with this_interpreter_kernel() as k:\n"
            "    papermill.execute_notebook('probe.ipynb', 'probe.ipynb', kernel_name=k, progress_bar=False)\n")
    probed = _run([str(python), "-c", code], cwd=study, env=env)
    assert probed.returncode == 0, probed.stderr
    printed = json.loads(probe.read_text())["cells"][-1]["outputs"][0]["text"]
    assert Path("".join(printed).strip()).is_relative_to(wheel_env), printed
