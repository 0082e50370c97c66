"""Faults: a run killed at any point leaves --out holding the previous complete result or the new complete one;
the output folder is locked, cleaned of stale temporaries and written with the user's umask; file-system
failures and other tracebacks become one message and exit 2 (or 3 for a bug)."""

from __future__ import annotations

import copy
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from _support import BASE_DID, DESIGNS, ROOT, small_panel, write_design
from cpeval._io import MARKER, OutputDir
from cpeval.cli import EXIT_INTERNAL_ERROR, EXIT_USER_ERROR, main


@pytest.fixture
def two_designs(tmp_path) -> tuple[Path, Path]:
    """Design A (TWFE, no figure) and design B (event study with a figure), on one small panel."""
    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    a = copy.deepcopy(BASE_DID) | {"name": "A"}
    b = copy.deepcopy(BASE_DID) | {"name": "B", "checks": ["pre_trends"], "estimator": {"method": "event_study"}}
    return write_design(tmp_path, a, "a.yaml"), write_design(tmp_path, b, "b.yaml")


def complete_result(out: Path) -> str:
    """The design name of the complete result in ``out``; fails if the folder is missing, partial or mixed."""
    assert out.is_dir(), f"{out} is missing"
    listed = json.loads((out / MARKER).read_text())["files"]
    present = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MARKER)
    assert present == sorted(listed), (present, listed)
    name = json.loads((out / "results.json").read_text())["design"]["name"]
    assert (out / "report.md").read_text().startswith(f"# {name}\n")
    assert present == FILES[name]  # a file of the other design's run would mean a mixed folder
    return name


FILES: dict[str, list[str]] = {}  # the files a clean run of design A and of design B writes


def leftovers(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}."))


# ---------------------------------------------------------------------------------------------------------
# killed runs
CHILD = textwrap.dedent("""
    import os, sys
    import cpeval._io as io

    point, design, out = sys.argv[1:4]
    die = lambda: os._exit(137)  # as SIGKILL would: no cleanup, no finally

    if point.startswith("write:"):
        n, real_write, count = int(point[6:]), io._write, [0]
        def _write(path, content):
            count[0] += 1
            if count[0] > n:
                die()
            real_write(path, content)
        io._write = _write
    elif point == "before-swap":
        io.OutputDir._swap = lambda self, fresh: die()
    elif point == "after-exchange":
        real_exchange = io.exchange
        io.exchange = lambda a, b: (real_exchange(a, b), die())
    elif point.startswith("fallback-rename:"):  # a platform without an atomic exchange
        n, real_rename, count = int(point[16:]), os.rename, [0]
        io.exchange = lambda a, b: False
        def rename(a, b):
            real_rename(a, b)
            count[0] += 1
            if count[0] >= n:
                die()
        os.rename = rename
    elif point == "after-swap":
        io._remove_tree = lambda path: die()
    from cpeval.cli import main
    sys.exit(main(["run", design, "--out", out, "--quiet"]))
""")

POINTS = ["write:0", "write:1", "write:2", "before-swap", "after-exchange", "fallback-rename:1",
          "fallback-rename:2", "after-swap"]


def _child(point: str, design: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CHILD, point, str(design), str(out)], cwd=out.parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def previous(two_designs, tmp_path) -> Path:
    """A complete result of design A in tmp_path/prev (copied for each fault); FILES filled from clean runs."""
    for name, design in zip("AB", two_designs, strict=True):
        out = tmp_path / f"clean{name}"
        assert main(["run", str(design), "--out", str(out), "--quiet"]) == 0
        FILES[name] = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != MARKER)
    assert FILES["A"] != FILES["B"]  # B adds the event-study figure
    shutil.move(tmp_path / "cleanA", tmp_path / "prev")
    shutil.rmtree(tmp_path / "cleanB")
    assert complete_result(tmp_path / "prev") == "A"
    return tmp_path / "prev"


@pytest.mark.parametrize("point", POINTS)
def test_run_killed_at_each_step_leaves_previous_or_new_result(two_designs, previous, tmp_path, point):
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    proc = _child(point, two_designs[1], out)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 137, err
    if point.startswith("fallback-rename:1"):
        assert not out.exists()  # between the two renames of the fallback; the next start puts it back
        with OutputDir(out):
            pass
    expected = "B" if point in ("after-exchange", "fallback-rename:2", "after-swap") else "A"
    assert complete_result(out) == expected
    # the next run cleans what the killed one left and writes a complete new result
    assert main(["run", str(two_designs[1]), "--out", str(out), "--quiet"]) == 0
    assert complete_result(out) == "B"
    assert leftovers(out) == []


def _random_kills(two_designs, previous, tmp_path, n: int, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    seen = {"A": 0, "B": 0}
    designs = {"A": two_designs[0], "B": two_designs[1]}
    current = "A"
    for _ in range(n):
        target = "B" if current == "A" else "A"
        proc = _child("none", designs[target], out)
        time.sleep(rng.uniform(0.0, 3.0))
        proc.send_signal(rng.choice([signal.SIGKILL, signal.SIGTERM]))
        proc.communicate(timeout=120)
        current = complete_result(out)
        assert current in (target, "B" if target == "A" else "A")
        seen[current] += 1
    return seen


def test_run_killed_at_random_times(two_designs, previous, tmp_path):
    seen = _random_kills(two_designs, previous, tmp_path, n=4, seed=1)
    assert sum(seen.values()) == 4


@pytest.mark.slow
def test_run_killed_at_random_times_many(two_designs, previous, tmp_path):
    seen = _random_kills(two_designs, previous, tmp_path, n=40, seed=2)
    assert min(seen.values()) > 0  # both outcomes happened: kills landed before and after the swap


# ---------------------------------------------------------------------------------------------------------
# the output folder
def test_second_concurrent_run_fails_fast_with_a_clear_message(two_designs, tmp_path, capsys):
    out = tmp_path / "out"
    with OutputDir(out):
        t0 = time.perf_counter()
        assert main(["run", str(two_designs[0]), "--out", str(out), "--quiet"]) == EXIT_USER_ERROR
        assert time.perf_counter() - t0 < 5
    err = capsys.readouterr().err
    assert f"another cpeval run (process {os.getpid()}) is writing this folder" in err
    assert "give another --out" in err and not out.exists()
    assert main(["run", str(two_designs[0]), "--out", str(out), "--quiet"]) == 0  # free again


def test_stale_temporaries_are_removed_and_earlier_figures_go(two_designs, previous, tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(two_designs[1]), "--out", str(out), "--quiet"]) == 0
    assert complete_result(out) == "B"
    for stale in (".out.tmp-0123456789ab", ".out.old-0123456789ab"):
        (tmp_path / stale / "figures").mkdir(parents=True)
        (tmp_path / stale / "results.json").write_text("{}")
    (tmp_path / ".out.lock").write_text("999999")
    assert main(["run", str(two_designs[0]), "--out", str(out), "--quiet"]) == 0
    assert complete_result(out) == "A"  # exactly A's files: B's event-study figure is gone
    assert not (out / "figures" / "event_study_y.png").exists()
    assert leftovers(out) == []


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_files_follow_the_umask(two_designs, tmp_path, umask):
    out = tmp_path / "out"
    old = os.umask(umask)
    try:
        assert main(["run", str(two_designs[1]), "--out", str(out), "--quiet"]) == 0
        assert main(["schema", "--out", str(tmp_path / "schema.json")]) == 0
    finally:
        os.umask(old)
    for path in [out, *out.rglob("*"), tmp_path / "schema.json"]:
        base = 0o777 if path.is_dir() else 0o666
        assert path.stat().st_mode & 0o777 == base & ~umask, path


def test_foreign_folder_is_not_replaced(two_designs, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    assert main(["run", str(two_designs[0]), "--out", str(out), "--quiet"]) == EXIT_USER_ERROR
    assert "holds files cpeval did not write ('thesis.tex')" in capsys.readouterr().err
    assert (out / "thesis.tex").read_text() == "precious" and sorted(os.listdir(out)) == ["thesis.tex"]


def test_earlier_unmarked_output_is_replaced(two_designs, previous, tmp_path):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "results.json").write_text("{}")
    (out / "figures" / "old.png").write_bytes(b"")
    assert main(["run", str(two_designs[0]), "--out", str(out), "--quiet"]) == 0
    assert complete_result(out) == "A"


# ---------------------------------------------------------------------------------------------------------
# file-system failures: exit 2 with the fix
@pytest.mark.parametrize("command", ["run", "schema"])
def test_out_is_an_existing_file_or_under_one(two_designs, tmp_path, capsys, command):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    args = ["run", str(two_designs[0]), "--quiet"] if command == "run" else ["schema"]
    cases = [(blocker / "sub", f"({blocker}): a file of that name is in the way")]
    if command == "run":
        cases = [(blocker, "is an existing file, not a folder"),
                 (blocker / "sub", f"{blocker} is a file, not a folder")]
    for out, expected in cases:
        assert main([*args, "--out", str(out)]) == EXIT_USER_ERROR
        err = capsys.readouterr().err
        assert expected in err and "Traceback" not in err, err
    assert main(["schema", "--out", str(tmp_path)]) == EXIT_USER_ERROR
    assert "is a folder; give a file name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("code", "expected"),
    [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "the file system is read-only"),
     (errno.EACCES, "no permission to write there")],
)
@pytest.mark.parametrize("command", ["run", "schema"])
def test_write_failures_name_the_fix(two_designs, tmp_path, monkeypatch, capsys, code, expected, command):
    import cpeval._io as io

    def failing(path, content):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(io, "_write", failing)
    out = tmp_path / ("out" if command == "run" else "schema.json")
    args = ["run", str(two_designs[0]), "--quiet"] if command == "run" else ["schema"]
    assert main([*args, "--out", str(out)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert f"--out {out}: cannot write" in err and expected in err and "Traceback" not in err
    assert sorted(os.listdir(tmp_path)) == sorted([*(p.name for p in two_designs), "panel.csv"])


def _as_unprivileged() -> dict:
    """subprocess arguments to run as a user without root's override of permissions."""
    return {"user": 65534, "group": 65534} if os.geteuid() == 0 else {}


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
@pytest.mark.parametrize("command", ["run", "schema"])
def test_no_permission_to_write(two_designs, tmp_path, command):
    locked = tmp_path / "locked"
    locked.mkdir()
    for path in (tmp_path, *two_designs, tmp_path / "panel.csv"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    locked.chmod(0o555)
    args = ["run", str(two_designs[0]), "--quiet"] if command == "run" else ["schema"]
    try:
        proc = subprocess.run([sys.executable, "-m", "cpeval.cli", *args, "--out", str(locked / "out")],
                              capture_output=True, text=True, cwd="/", **_as_unprivileged())
    except PermissionError:
        pytest.skip("running as root, and an unprivileged user cannot run this Python")
    if "Permission denied" in proc.stderr and "cpeval" not in proc.stderr:
        pytest.skip(f"the unprivileged user cannot read the environment: {proc.stderr[-200:]}")
    assert proc.returncode == EXIT_USER_ERROR, proc.stderr
    assert "no permission to write there" in proc.stderr and "Traceback" not in proc.stderr
    assert os.listdir(locked) == []


# ---------------------------------------------------------------------------------------------------------
# other tracebacks
def test_power_simulations_must_not_be_negative(capsys):
    design = str(DESIGNS / "nsw_experiment.yaml")
    with pytest.raises(SystemExit) as exc:
        main(["power", design, "--simulations", "-5"])
    assert exc.value.code == EXIT_USER_ERROR
    assert "--simulations: must be between 0 and" in capsys.readouterr().err
    from cpeval.errors import DesignError
    from cpeval.power import power_analysis

    with pytest.raises(DesignError, match=r"simulations must be a whole number, 0 \(none\) or more; got -5"):
        power_analysis(design, simulations=-5)


def test_causaldata_module_that_is_not_a_dataset(tmp_path, capsys):
    raw = copy.deepcopy(BASE_DID)
    raw["data"] = {"dataset": "causaldata.__init__", "unit": "unit", "time": "year"}
    assert main(["check", str(write_design(tmp_path, raw))]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "causaldata has no dataset '__init__'" in err and "check data.dataset" in err


def test_unreadable_data_file(tmp_path, monkeypatch, capsys):
    raw = copy.deepcopy(BASE_DID)
    small_panel().to_csv(tmp_path / "panel.csv", index=False)

    real_open = Path.open

    def denied(self, *args, **kwargs):  # the data file only: the design file stays readable
        if self.name == "panel.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", denied)
    assert main(["check", str(write_design(tmp_path, raw))]) == EXIT_USER_ERROR
    assert "cannot read" in capsys.readouterr().err


def test_unexpected_exception_is_one_line_and_exit_3(tmp_path, monkeypatch, capsys):
    import cpeval.pipeline

    def broken(design):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cpeval.pipeline, "check", broken)
    assert main(["check", str(DESIGNS / "castle_doctrine.yaml")]) == EXIT_INTERNAL_ERROR == 3
    err = capsys.readouterr().err
    assert err == (
        "cpeval: internal error: ZeroDivisionError: division by zero; this is a bug in cpeval, please report "
        "it with the output of the same command run with --debug\n"
    )
    with pytest.raises(ZeroDivisionError):
        main(["check", str(DESIGNS / "castle_doctrine.yaml"), "--debug"])


def test_debug_after_the_command_does_not_hide_debug_before(tmp_path):
    from cpeval.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["--debug", "check", "x"]).debug is True
    assert parser.parse_args(["check", "x", "--debug"]).debug is True
    assert parser.parse_args(["check", "x"]).debug is False


def test_broken_pipe_is_quiet():
    proc = subprocess.run(f"{sys.executable} -m cpeval.cli schema | head -c 10", shell=True, capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.stdout == "{\n  \"$defs\""[:10] and proc.stderr == ""
