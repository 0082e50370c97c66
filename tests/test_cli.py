"""The command line end to end: run, check, schema; malformed inputs give one clean message and exit 2."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from _support import CASE_DATA, DESIGNS, ROOT, small_panel, write_design
from cpeval.cli import EXIT_INTERNAL_ERROR, main

CASTLE = yaml.safe_load((DESIGNS / "castle_doctrine.yaml").read_text())


def _castle_design(tmp_path: Path, **top) -> Path:
    raw = copy.deepcopy(CASTLE)
    raw["data"]["path"] = str(CASE_DATA / "castle.csv")
    raw.update(top)
    return write_design(tmp_path, raw)


def test_run_writes_results_and_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(DESIGNS / "castle_doctrine.yaml"), "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "results.json").read_text())
    homicide = next(e for e in result["effects"] if e["outcome"] == "homicide")
    assert homicide["method"] == "twfe" and homicide["n_obs"] == 550
    assert len(result["design_hash"]) == 64 and len(result["data_sha256"]) == 64
    report = (out / "report.md").read_text()
    assert "# Castle doctrine laws and homicide" in report and "(`homicide`) | primary | ATT |" in report
    assert "wrote" in capsys.readouterr().out


def test_same_design_and_data_give_same_bytes(tmp_path):
    for name in ("a", "b"):
        main(["run", str(DESIGNS / "castle_doctrine.yaml"), "--out", str(tmp_path / name), "--quiet"])
    for f in ("results.json", "report.md"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes()


def test_check_validates_without_estimating(capsys):
    assert main(["check", str(DESIGNS / "castle_doctrine.yaml")]) == 0
    assert "550 rows, 50 units, 11 periods (2000-2010)" in capsys.readouterr().out


def test_schema_is_json(tmp_path, capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["title"] == "cpeval design"
    assert main(["schema", "--out", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == schema


def test_failed_run_leaves_no_partial_output(tmp_path, monkeypatch, capsys):
    import cpeval.report.markdown as md
    from cpeval.report.section import Section

    class Broken(Section):
        key, title, part = "broken", "Broken", "effects"

        def markdown(self, result):
            raise RuntimeError("renderer failed")

    monkeypatch.setattr(md, "SECTIONS", [Broken()])
    out = tmp_path / "out"
    assert main(["run", str(DESIGNS / "castle_doctrine.yaml"), "--out", str(out), "--quiet"]) == EXIT_INTERNAL_ERROR
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: renderer failed; this is a bug in cpeval" in err and "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary folder or lock left beside it


def test_atomic_writer_removes_temporaries_on_failure(tmp_path):
    from cpeval._io import OutputDir

    with pytest.raises(TypeError), OutputDir(tmp_path / "out") as target:
        target.commit({"a.txt": "fine", "b.txt": 42})  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []


# Twenty malformed design or data files: each must give a message naming the problem and exit code 2.
def _malformed_cases(tmp_path: Path) -> list[tuple[str, Path, str]]:
    data = small_panel()
    csv = tmp_path / "panel.csv"
    data.to_csv(csv, index=False)
    ok = {
        "name": "t", "kind": "did", "data": {"path": "panel.csv", "unit": "unit", "time": "year"},
        "treatment": {"indicator": "post"}, "outcomes": [{"name": "y", "column": "y"}],
    }

    def design(name: str, mutate=None, text: str | None = None) -> Path:
        raw = copy.deepcopy(ok)
        if mutate:
            mutate(raw)
        return write_design(tmp_path, text if text is not None else raw, f"{name}.yaml")

    def data_file(name: str, frame) -> Path:
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        return design(name, lambda r: r["data"].update(path=f"{name}.csv"))

    dup = data.copy()
    dup.loc[len(dup)] = dup.iloc[0]
    nan_post = data.astype({"post": float})
    nan_post.loc[0, "post"] = None
    text_y = data.astype({"y": object})
    text_y.loc[0, "y"] = "missing"
    return [
        ("yaml syntax", design("syntax", text="name: [unclosed\n"), "not valid YAML at line"),
        ("empty file", design("empty", text=""), "got an empty file"),
        ("list not mapping", design("list", text="- a\n- b\n"), "must be a mapping"),
        ("no kind", design("nokind", lambda r: r.pop("kind")), "kind: required key missing"),
        ("bad kind", design("badkind", lambda r: r.update(kind="synth")), "is not a design kind"),
        ("misspelt key", design("typo", lambda r: r.update(outcome=r.pop("outcomes"))), "did you mean 'outcomes'"),
        ("bad method", design("method", lambda r: r.update(estimator={"method": "twfee"})), "did you mean 'twfe'"),
        ("bad family", design("family", lambda r: r["outcomes"][0].update(family="fears")), "did you mean 'fear'"),
        ("missing name", design("noname", lambda r: r.pop("name")), "name: required key missing"),
        ("level out of range", design("level", lambda r: r.update(inference={"level": 95})), "inference.level"),
        ("two treatments", design("twotreat", lambda r: r["treatment"].update(first_treated="g")), "exactly one"),
        ("missing data file", design("nofile", lambda r: r["data"].update(path="nope.csv")), "no file at"),
        ("missing column", design("nocol", lambda r: r["outcomes"][0].update(column="yy")), "'yy'"),
        ("misspelt unit", design("unit", lambda r: r["data"].update(unit="units")), "did you mean 'unit'"),
        ("duplicate rows", data_file("dup", dup), "share a unit-period pair"),
        ("nan treatment", data_file("nanpost", nan_post), "rows have no treatment.indicator value"),
        ("text outcome", data_file("texty", text_y), "must be numeric"),
        ("treatment not 0/1", data_file("post2", data.assign(post=data.post * 2)), "must be 0/1"),
        ("never treated", data_file("untreated", data.assign(post=0)), "no unit is ever treated"),
        ("no comparison", data_file("allsame", data.assign(post=(data.year >= 2003).astype(int))),
         "no comparison group"),
        ("design not found", tmp_path / "does_not_exist.yaml", "design file not found"),
        ("unknown harm table", design("harm", lambda r: r["outcomes"].append(
            {"name": "harm", "family": "seriousness", "seriousness": {"weights": "cambrige_chi",
                                                                       "columns": {"shoplifting": "y"}}})),
         "harm.yaml: seriousness.weights: 'cambrige_chi' is not a shipped weight table"),
    ]


def test_twenty_malformed_inputs_exit_2_in_process(tmp_path, capsys):
    cases = _malformed_cases(tmp_path)
    assert len(cases) >= 20
    for label, path, expected in cases:
        code = main(["run", str(path), "--out", str(tmp_path / "out" / path.stem), "--quiet"])
        err = capsys.readouterr().err
        assert code == 2, label
        assert expected in err, f"{label}: {err}"
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.json"))


def test_malformed_input_subprocess_no_traceback(tmp_path):
    cases = _malformed_cases(tmp_path)
    for label, path, expected in (cases[0], cases[12], cases[16]):
        proc = subprocess.run(
            [sys.executable, "-m", "cpeval.cli", "run", str(path)], capture_output=True, text=True, cwd=tmp_path
        )
        assert proc.returncode == 2, label
        assert expected in proc.stderr and "Traceback" not in proc.stderr
        assert re.search(r"(^|\n)cpeval: error: ", proc.stderr)  # after any progress lines, one clean message


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_flag_shows_traceback(tmp_path, where):
    args = ["check", str(tmp_path / "nope.yaml")]
    args = ["--debug", *args] if where == "before" else [*args, "--debug"]
    proc = subprocess.run([sys.executable, "-m", "cpeval.cli", *args], capture_output=True, text=True)
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "DesignError" in proc.stderr


def test_help_imports_no_heavy_modules():
    """`cpeval --help` stays instant: it must not import pandas, numpy, pydantic or the estimation stack."""
    code = (
        "import sys; from cpeval.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('pandas', 'numpy', 'scipy', 'pydantic', 'linearmodels', 'dowhy', 'econml',"
        " 'matplotlib', 'statsmodels') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_console_script_is_declared():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["cpeval"] == "cpeval.cli:main"
