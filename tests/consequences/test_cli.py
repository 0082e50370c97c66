"""`cpeval check` validates the consequences section against the data before anything is fitted."""

from __future__ import annotations

import subprocess
import sys

import yaml

from _support import DESIGNS, ROOT
from cpeval.datasets.city import simulate_hotspot_city


def test_check_reports_an_unknown_role_label_and_exits_2(tmp_path):
    frame = simulate_hotspot_city().panel
    frame.loc[frame["role"] == "buffer", "role"] = "bufer"
    frame.to_csv(tmp_path / "panel.csv", index=False)
    design = yaml.safe_load((DESIGNS / "hotspots_displacement.yaml").read_text())
    design["data"] = {"path": "panel.csv", "unit": "area", "time": "quarter", "population": "population"}
    design["consequences"] = {"displacement": {"roles_column": "role"}}
    (tmp_path / "design.yaml").write_text(yaml.safe_dump(design))
    proc = subprocess.run([sys.executable, "-m", "cpeval.cli", "check", str(tmp_path / "design.yaml")],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "[unknown_label] column 'role': values ['bufer'] are not role labels" in proc.stderr
    assert "did you mean 'buffer'?" in proc.stderr
