"""Property test: any design file -- generated from the JSON Schema, then mutated (wrong types, missing keys,
huge values, unicode, aliases, repeated keys, alias bombs) -- gives exit 0 or one clean message with exit 2,
never a traceback or an internal error, in bounded time.

Runs in-process through ``cpeval.cli.main`` for speed. The normal suite draws a fixed 200 designs
(derandomised); the slow test draws ``CPEVAL_PROPERTY_EXAMPLES`` (default 5,000), collects every finding
instead of stopping at the first, and writes them to ``CPEVAL_PROPERTY_REPORT`` if set:

    CPEVAL_PROPERTY_EXAMPLES=100000 CPEVAL_PROPERTY_REPORT=property.json \\
        .venv/bin/python -m pytest -p no:xdist -m slow tests/test_hostile_property.py
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cpeval.cli import main
from cpeval.designs import design_schema

COLUMNS = ["unit", "year", "post", "y", "count", "w", "pop", "g", "assign", "block", "cl", "x"]
SECONDS_PER_CASE = 20.0  # generous: the machine is shared; a hang or an explosion takes far longer
MESSAGE_LIMIT = 40_000  # 20 listed problems of at most 1,000 characters, and the head

BASES: list[dict[str, Any]] = [
    {"name": "did", "kind": "did", "data": {"path": "panel.csv", "unit": "unit", "time": "year"},
     "treatment": {"indicator": "post"}, "outcomes": [{"name": "y", "column": "y"}],
     "estimator": {"method": "twfe", "cluster": "unit"}},
    {"name": "cohorts", "kind": "did", "data": {"path": "panel.csv", "unit": "unit", "time": "year"},
     "treatment": {"first_treated": "g"}, "outcomes": [{"name": "count", "column": "count", "measure": "count"}],
     "estimator": {"method": "callaway_santanna"}, "checks": ["pre_trends"]},
    {"name": "synth", "kind": "synthetic_control", "data": {"path": "panel.csv", "unit": "unit", "time": "year"},
     "treatment": {"units": [1], "start": 2004}, "outcomes": [{"name": "y", "column": "y"}],
     "estimator": {"method": "abadie"}},
    {"name": "trial", "kind": "rct", "data": {"path": "trial.csv", "unit": "unit"},
     "treatment": {"assignment": "assign", "block": "block"}, "outcomes": [{"name": "y", "column": "y"}],
     "estimator": {"method": "difference_in_means"}},
]


def _write_data(folder: Path) -> None:
    rng = np.random.default_rng(12)
    units, years = np.repeat(np.arange(1, 9), 8), np.tile(np.arange(2000, 2008), 8)
    g = np.where(units <= 2, 2003, np.where(units <= 4, 2005, 0))
    post = ((g > 0) & (years >= g)).astype(int)
    y = 10 + 0.5 * units + 0.2 * (years - 2000) - 1.5 * post + rng.normal(0, 1, len(units))
    pd.DataFrame({
        "unit": units, "year": years, "post": post, "y": y, "count": rng.poisson(5 + post, len(units)),
        "w": 1.0 + units % 3, "pop": 1000 + 10 * units, "g": g, "assign": (units % 2).astype(int),
        "block": units % 4 // 2, "cl": units, "x": rng.normal(0, 1, len(units)),
    }).to_csv(folder / "panel.csv", index=False)
    n = 60
    pd.DataFrame({
        "unit": np.arange(n), "assign": np.tile([0, 1], n // 2), "block": np.repeat([0, 1, 2], n // 3),
        "cl": np.arange(n) // 4, "y": rng.normal(0, 1, n), "x": rng.normal(0, 1, n), "w": 1.0,
        "pop": 100, "count": rng.poisson(3, n), "post": 0, "g": 0, "year": 2020,
    }).to_csv(folder / "trial.csv", index=False)


# -- designs from the JSON Schema ---------------------------------------------------------------------------
SCHEMA = design_schema()
DEFS = SCHEMA["$defs"]


_BY_NAME: dict[str, st.SearchStrategy[Any]] = {}


def from_def(name: str) -> st.SearchStrategy[Any]:
    """The strategy of one schema definition, built once (building them is most of the generation cost)."""
    if name not in _BY_NAME:
        _BY_NAME[name] = st.deferred(lambda: from_schema(DEFS[name]))
        _BY_NAME[name] = from_schema(DEFS[name])
    return _BY_NAME[name]


def from_schema(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values that mostly fit ``node``; string fields prefer the data's column names."""
    if "$ref" in node:
        return from_def(node["$ref"].rsplit("/", 1)[-1])
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return st.one_of([from_schema(n) for n in node[key]])
    kind = node.get("type")
    if kind == "object" and "properties" in node:
        props, required = node["properties"], set(node.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v) for k, v in props.items() if k in required},
            optional={k: from_schema(v) for k, v in props.items() if k not in required},
        )
    if kind == "object":
        extra = node.get("additionalProperties")
        values = from_schema(extra) if isinstance(extra, dict) else st.integers(0, 5)
        return st.dictionaries(st.sampled_from(COLUMNS) | st.text(max_size=8), values, max_size=3)
    if kind == "array":
        if "prefixItems" in node:
            return st.tuples(*[from_schema(n) for n in node["prefixItems"]]).map(list)
        lo = node.get("minItems", 0)
        return st.lists(from_schema(node.get("items", {})), min_size=lo,
                        max_size=max(lo, min(node.get("maxItems", 3), 3)))
    if kind == "string":
        return STRINGS
    if kind in ("integer", "number"):
        lo = node.get("minimum", node.get("exclusiveMinimum"))
        hi = node.get("maximum", node.get("exclusiveMaximum"))
        near = [v for v in (lo, hi, 0, 1, 2, 5, 2000, 2004) if v is not None]
        ints = st.integers(int(lo) if lo is not None else -10, int(hi) if hi is not None else 2010)
        nums = ints | st.sampled_from(near)
        return nums if kind == "integer" else nums | st.floats(lo, hi, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    return st.none()


STRINGS = st.sampled_from(COLUMNS) | st.text(max_size=10)
DESIGNS_FROM_SCHEMA = from_schema(SCHEMA)
ANY_DEFINITION = st.sampled_from(sorted(DEFS)).flatmap(from_def)


def _fix_source(design: dict[str, Any], draw: Any) -> dict[str, Any]:
    data = design.get("data")
    if isinstance(data, dict) and draw(st.integers(0, 9)) > 0:  # most generated designs read the test data
        data.pop("dataset", None)
        data["path"] = "trial.csv" if design.get("kind") == "rct" and draw(st.booleans()) else "panel.csv"
    return design


# -- mutations --------------------------------------------------------------------------------------------
HOSTILE = st.one_of(
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),  # any unicode except lone surrogates, which YAML cannot carry
    st.sampled_from(["x" * 100_000, "é" * 5_000, "\u202e\u0000\ufeff", "NaN", ".inf", "~", "2004-13-45", "yes"]),
    st.just(10**100),
    st.builds(lambda: list(range(5_000))),  # built anew: a mutation must not change a shared value
    st.builds(lambda: json.loads("[" * 70 + "]" * 70)),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``node`` (down to 80 levels: the hostile values include 70-deep lists)."""
    out = [prefix]
    if len(prefix) < 80:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out += _paths(v, (*prefix, k))
    return out


def _containers(node: Any) -> set[int]:
    """ids of the dicts and lists inside ``node`` (itself included)."""
    seen: set[int] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (dict, list)) and id(n) not in seen:
            seen.add(id(n))
            stack.extend(n.values() if isinstance(n, dict) else n)
    return seen


def _set(root: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> None:
    node = root
    for p in path[:-1]:
        node = node[p]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def _bomb(depth: int) -> str:
    levels = ["&b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"&b{i} [" + ", ".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, depth)]
    return "[" + ", ".join(levels) + "]"


@st.composite
def hostile_designs(draw: Any) -> str:
    """The YAML text of a design: a valid base or one drawn from the schema, then mutated."""
    if draw(st.booleans()):
        design = copy.deepcopy(draw(st.sampled_from(BASES)))
    else:
        design = _fix_source(draw(DESIGNS_FROM_SCHEMA), draw)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(design)[1:] or [("name",)]))
        op = draw(st.sampled_from(["delete", "hostile", "schema", "unknown_key", "share"]))
        try:
            if op == "delete":
                _set(design, path, None, delete=True)
            elif op == "hostile":
                _set(design, path, draw(HOSTILE))
            elif op == "schema":  # a value valid somewhere in the schema, possibly not here
                _set(design, path, draw(ANY_DEFINITION))
            elif op == "unknown_key":
                _set(design, (*path[:-1], draw(st.text(min_size=1, max_size=12))), draw(HOSTILE))
            else:  # the same object in two places: the YAML dumper writes an anchor and an alias
                other = draw(st.sampled_from(_paths(design)[1:]))
                node, parent = design, design
                for p in other:
                    node = node[p]
                for p in path[:-1]:
                    parent = parent[p]
                if isinstance(node, (dict, list)) and id(parent) not in _containers(node):  # no cycle
                    _set(design, path, node)
        except (KeyError, IndexError, TypeError):
            continue  # the path went away with an earlier mutation
    try:
        text = yaml.safe_dump(design, sort_keys=False, allow_unicode=draw(st.booleans()))
    except (yaml.YAMLError, RecursionError):
        text = "name: unrepresentable\n"
    trailer = draw(st.sampled_from(["", "", "", "dup", "bomb", "truncate"]))
    if trailer == "dup" and isinstance(design, dict) and design:
        text += f"{next(iter(design))}: repeated\n"
    elif trailer == "bomb":
        text += f"description: {_bomb(draw(st.integers(2, 12)))}\n"
    elif trailer == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    return text


# -- the property -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("property")
    _write_data(path)
    return path


def run_case(folder: Path, text: str, index: int, run_valid: bool, codes: Counter | None = None) -> str | None:
    """None if the CLI behaved; otherwise a one-line description of the finding. ``codes`` counts exit codes."""
    path = folder / f"design-{index % 50}.yaml"
    path.write_text(text, encoding="utf-8")
    commands = [["check", str(path)]]
    if run_valid:
        commands.append(["run", str(path), "--out", str(folder / "out"), "--quiet"])
    for args in commands:
        err, out = io.StringIO(), io.StringIO()
        t0 = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse; not expected here
                code = exc.code
            except BaseException as exc:  # noqa: BLE001 -- a finding, recorded and reported below
                return f"{args[0]}: raised {type(exc).__name__}: {str(exc)[:200]}"
        seconds, message = time.perf_counter() - t0, err.getvalue()
        if codes is not None:
            codes[f"{args[0]} exit {code}"] += 1
        if code not in (0, 2):
            return f"{args[0]}: exit {code}: {message.strip()[-300:]}"
        if "Traceback" in message:
            return f"{args[0]}: traceback: {message.strip()[-300:]}"
        if code == 2 and not re.search(r"(^|\n)cpeval: error: ", message):
            return f"{args[0]}: exit 2 without an error message: {message[-300:]}"
        if len(message) > MESSAGE_LIMIT:
            return f"{args[0]}: message of {len(message):,} characters"
        if seconds > SECONDS_PER_CASE:
            return f"{args[0]}: took {seconds:.1f} s"
        if code != 0:
            return None
    return None


COMMON = {"database": None, "deadline": None, "suppress_health_check": list(HealthCheck)}


@settings(max_examples=200, derandomize=True, **COMMON)
@given(text=hostile_designs())
def test_any_design_exits_0_or_2_without_traceback(folder, text):
    finding = run_case(folder, text, 0, run_valid=True)
    assert finding is None, f"{finding}\n--- design ---\n{text[:3000]}"


@pytest.mark.slow
def test_many_designs_exit_0_or_2_without_traceback(folder):
    n = int(os.environ.get("CPEVAL_PROPERTY_EXAMPLES", "5000"))
    run_every = int(os.environ.get("CPEVAL_PROPERTY_RUN_EVERY", "20"))  # `run` one valid design in this many
    findings: Counter[str] = Counter()
    examples: dict[str, str] = {}
    stats = Counter()

    t0 = time.perf_counter()

    def report() -> dict[str, Any]:
        codes = {k: v for k, v in stats.items() if k != "cases"}
        out = {"cases": stats["cases"], "seconds": round(time.perf_counter() - t0), "exit_codes": codes,
               "findings": dict(findings), "examples": examples}
        if os.environ.get("CPEVAL_PROPERTY_REPORT"):  # rewritten every 1,000 cases, so a long run can be watched
            Path(os.environ["CPEVAL_PROPERTY_REPORT"]).write_text(json.dumps(out, indent=2))
        return out

    @settings(max_examples=n, derandomize=False, **COMMON)
    @given(text=hostile_designs())
    def collect(text: str) -> None:
        stats["cases"] += 1
        finding = run_case(folder, text, stats["cases"], run_valid=stats["cases"] % run_every == 0, codes=stats)
        if finding is not None:
            key = re.sub(r"\d+", "N", finding)[:160]
            findings[key] += 1
            examples.setdefault(key, text[:2000])
        if stats["cases"] % 1000 == 0:
            report()

    collect()
    final = report()
    assert not findings, json.dumps(final, indent=2)[:5000]
