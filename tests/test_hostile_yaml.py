"""Hostile design files: alias bombs, repeated keys, huge files and values give one short message and exit 2.

The alias-bomb cases run in a child process under an address-space limit (RLIMIT_AS), so a regression
shows up as a MemoryError or a timeout rather than as a machine brought to its knees.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from _support import small_panel, write_design
from cpeval.cli import main
from cpeval.designs import design_schema
from cpeval.designs.load import MAX_DEPTH, MAX_DESIGN_BYTES, MAX_LINE, MAX_LISTED

MEMORY_LIMIT = int(1.5 * 2**30)
HEAD = (
    "name: bomb\nkind: {kind}\ndata: {{path: panel.csv, unit: unit, time: year}}\n"
    "treatment: {{indicator: post}}\noutcomes: [{{name: y, column: y}}]\n"
)


def top_level_keys() -> dict[str, str]:
    """Every top-level key of any design kind, with a kind that has it."""
    schema = design_schema()
    keys: dict[str, str] = {}
    for kind, model in (("did", "DidDesign"), ("synthetic_control", "SynthDesign"), ("rct", "RctDesign")):
        for key in schema["$defs"][model]["properties"]:
            keys.setdefault(key, kind)
    return keys


def _levels(depth: int, width: int = 9) -> list[str]:
    first = "[" + ", ".join(["lol"] * width) + "]"
    return [f"&a0 {first}"] + [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]" for i in range(1, depth)]


def bombs(key: str, kind: str, depth: int = 10) -> dict[str, str]:
    """Three shapes of a 9**depth-value alias bomb under ``key``: as a mapping, as a list, and as one alias
    to anchors defined under another key. Each is about 1 KB of text."""
    levels = _levels(depth)
    head = "".join(line + "\n" for line in HEAD.format(kind=kind).splitlines() if not line.startswith(f"{key}:"))
    other = "description" if key != "description" else "claim"
    return {
        "mapping": head + f"{key}:\n" + "".join(f"  a{i}: {v}\n" for i, v in enumerate(levels)),
        "list": head + f"{key}: [" + ", ".join(levels) + "]\n",
        "alias": head + f"{other}: [" + ", ".join(levels) + f"]\n{key}: *a{depth - 1}\n",
    }


CHILD = textwrap.dedent("""
    import contextlib, io, json, resource, sys, time
    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from cpeval.cli import main
    import cpeval.designs, cpeval.pipeline  # imported before the clock starts: the budget is for parsing
    out = []
    for path in sys.argv[2:]:
        err = io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["check", path])
        out.append({"path": path, "code": code, "seconds": time.perf_counter() - t0, "stderr": err.getvalue()})
    # VmHWM is this program's own peak; ru_maxrss would carry over the forking pytest worker's peak through exec
    hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    out.append({"maxrss_mb": int(hwm.split()[1]) / 1024})
    print(json.dumps(out))
""")


def test_alias_bomb_under_every_top_level_key_is_refused_fast_within_memory(tmp_path):
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    paths = []
    for key, kind in top_level_keys().items():
        for shape, text in bombs(key, kind).items():
            assert len(text) < 2_000
            path = tmp_path / f"{key}-{shape}.yaml"
            path.write_text(text)
            paths.append(str(path))
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(MEMORY_LIMIT), *paths], capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    *cases, memory = json.loads(proc.stdout)
    assert len(cases) == 3 * len(top_level_keys()) >= 3 * 15
    for case in cases:
        name = Path(case["path"]).name
        assert case["code"] == 2, (name, case["stderr"][-1000:])
        assert case["seconds"] < 1.0, name
        assert "Traceback" not in case["stderr"] and case["stderr"].startswith("cpeval: error: "), name
        assert len(case["stderr"]) < 4_000, name
        assert "expands to more than" in case["stderr"], (name, case["stderr"])
    assert memory["maxrss_mb"] < 500


def test_alias_expansion_within_budget_is_validated_with_short_messages(tmp_path, capsys):
    """9**4 values pass the parser's budget and reach validation; each echoed value is cut short."""
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    for key, kind in top_level_keys().items():
        for shape, text in bombs(key, kind, depth=4).items():
            assert main(["check", str(write_design(tmp_path, text, f"{key}-{shape}.yaml"))]) == 2, (key, shape)
            err = capsys.readouterr().err
            assert "Traceback" not in err
            assert all(len(line) <= MAX_LINE + 20 for line in err.splitlines()), (key, shape)
            assert err.count("\n  - ") <= MAX_LISTED, (key, shape)


def test_aliases_a_design_might_use_are_accepted(tmp_path, capsys):
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    text = (
        "name: aliases\nkind: did\ndata: {path: panel.csv, unit: unit, time: year}\n"
        "treatment: {indicator: post}\n"
        "outcomes:\n  - &y {name: y, column: y, family: crime, measure: level}\n"
        "  - {<<: *y, name: y_again}\n"
        "estimator: {method: twfe, cluster: unit}\n"
    )
    assert main(["check", str(write_design(tmp_path, text))]) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: a\nkind: did\nname: b\n", ["key 'name' at line 3 repeats the key at line 1"]),
        (
            "name: a\nkind: did\ndata:\n  unit: u\n  time: t\n  unit: v\noutcomes:\n  - {name: y, name: z}\n",
            ["2 repeated keys", "key 'unit' at line 6 repeats the key at line 4",
             "key 'name' at line 8 repeats the key at line 8"],
        ),
        ("a: &a [1, *a]\n", ["line 1: a YAML alias refers to the block that contains it"]),
        ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n", [f"nested more than {MAX_DEPTH} levels"]),
        ("a: *nothing\n", ["not valid YAML at line 1, column 4: found undefined alias"]),
        ("a: !!python/object:os.system x\n", ["not valid YAML", "python/object"]),
    ],
    ids=["top-level", "nested", "cycle", "deep", "undefined-alias", "unsafe-tag"],
)
def test_malformed_yaml_structures(tmp_path, capsys, text, expected):
    assert main(["check", str(write_design(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    for part in expected:
        assert part in err, err
    assert "Traceback" not in err


def test_design_file_size_is_capped(tmp_path, capsys):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + "#" * MAX_DESIGN_BYTES + "\n")
    assert main(["check", str(path)]) == 2
    assert f"larger than {MAX_DESIGN_BYTES:,} bytes" in capsys.readouterr().err


def test_huge_values_are_echoed_short(tmp_path, capsys):
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    huge = "x" * 200_000
    text = HEAD.format(kind="did") + f"estimator: {{method: {huge}}}\nchecks: [{huge}]\n? {huge}\n: 1\n"
    assert main(["check", str(write_design(tmp_path, text))]) == 2
    err = capsys.readouterr().err
    assert err.count("problem") and len(err) < 4 * MAX_LINE, len(err)
    assert "estimator.method" in err and "checks" in err and "unknown key" in err
