"""`cpeval validate` on the castle-doctrine design with a faithful and an inflated claim, and `cpeval compare`."""

from __future__ import annotations

import json

import pytest
import yaml

from _support import CASE_DATA, DESIGNS, REFERENCE
from cpeval.appraise.compare import compare_outcome
from cpeval.cli import main

REF = json.loads((REFERENCE / "appraise" / "castle_claims.json").read_text())
SOURCE = {"title": "Grantee final report", "page": 4, "table": "Table 2"}


def castle_with_claim(tmp_path, **claimed):
    """A copy of the castle-doctrine design in tmp_path, claiming ``claimed`` for homicide (none if empty)."""
    design = yaml.safe_load((DESIGNS / "castle_doctrine.yaml").read_text())
    design["data"]["path"] = str(CASE_DATA / "castle.csv")
    if claimed:
        design["claim"] = {"by": "grantee", "outcomes": [{"outcome": "homicide", "source": SOURCE, **claimed}]}
    path = tmp_path / ("castle_claim.yaml" if claimed else "plain.yaml")
    path.write_text(yaml.safe_dump(design, sort_keys=False))
    return path


@pytest.mark.parametrize(("case", "keys", "code", "said"), [
    ("faithful", ("estimate", "std_error", "scale"), 0, ["homicide: reproduced."]),
    ("inflated", ("estimate", "conf_int", "scale"), 1,
     ["homicide: reproduced but the claim is larger", "outside the re-analysis 95% interval: beyond sampling error"]),
])
def test_validate_exit_status_and_reason(tmp_path, capsys, case, keys, code, said):
    claimed = {k: REF[case][k] for k in keys}
    got = main(["validate", str(castle_with_claim(tmp_path, **claimed)), "--out", str(tmp_path / "out"), "--quiet"])
    out = capsys.readouterr().out
    assert got == code, out
    assert all(s in out for s in said), out
    saved = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert saved["reproduces"] is (code == 0)
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["claims"] == saved and results["rating"]["level"] in range(1, 6)
    assert "Validation of the claim" in (tmp_path / "out" / "report.html").read_text()


def test_validate_bad_input_exit_2(tmp_path, capsys):
    assert main(["validate", str(castle_with_claim(tmp_path)), "--out", str(tmp_path / "o")]) == 2
    assert "no claim section to validate" in capsys.readouterr().err
    bad = castle_with_claim(tmp_path, estimate=0.3, conf_int=[0.1, 0.2], scale="log_points")
    assert main(["validate", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "does not contain the estimate" in capsys.readouterr().err


def test_compare_outcome_flags_by_hand():
    a = {"estimate": 0.10, "std_error": 0.02, "conf_int": [0.0608, 0.1392], "scale": "log", "level": 0.95}
    b = {"estimate": -0.05, "std_error": 0.03, "conf_int": [-0.1088, 0.0088], "scale": "log", "level": 0.95}
    c = compare_outcome("y", a, b)
    # z = 0.15 / sqrt(0.02^2 + 0.03^2) = 0.15 / 0.0360555 = 4.1603
    assert c.z == pytest.approx(4.1603, abs=1e-4) and c.difference == pytest.approx(0.15)
    assert c.flags == ("estimates differ beyond sampling error (z = 4.16, |z| > 1.96)", "opposite signs",
                       "significant only in the first", "intervals do not overlap")
    assert compare_outcome("y", a, dict(a)).flags == ()
    assert compare_outcome("y", a, {**b, "scale": "level"}).flags[0].startswith("different effect scales")
    assert compare_outcome("y", a, None).flags == ("only in one evaluation (absent from the second)",)


def test_compare_two_result_files(tmp_path, capsys):
    assert main(["run", str(DESIGNS / "castle_doctrine.yaml"), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    first = json.loads((tmp_path / "a" / "results.json").read_text())
    second = json.loads(json.dumps(first))
    second["effects"][0]["estimate"] = 0.30  # an inflated homicide estimate with the same SE
    second["effects"][0]["conf_int"] = [0.23, 0.37]
    second["effects"] = second["effects"][:2]
    (tmp_path / "b.json").write_text(json.dumps(second))
    capsys.readouterr()
    code = main(["compare", str(tmp_path / "a" / "results.json"), str(tmp_path / "b.json"),
                 "--out", str(tmp_path / "cmp")])
    out = capsys.readouterr().out
    assert code == 0
    saved = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    flags = {o["outcome"]: o["flags"] for o in saved["outcomes"]}
    assert "intervals do not overlap" in flags["homicide"] and flags["larceny"] == []
    assert flags["motor_vehicle_theft"] == ["only in one evaluation (absent from the second)"]
    assert "2 of 3 outcomes flagged" in out
    assert main(["compare", str(tmp_path / "missing.json"), str(tmp_path / "b.json")]) == 2
