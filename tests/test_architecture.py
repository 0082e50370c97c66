"""Architecture rules written as tests."""

from __future__ import annotations

import ast
from pathlib import Path

from _support import ROOT
from cpeval.designs.methods import KINDS, methods
from cpeval.estimation.registry import REGISTRY

SRC = ROOT / "src" / "cpeval"
HEAVY_ADAPTED = ("linearmodels", "dowhy", "econml")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_registry_pairs_every_declared_method_with_its_class():
    declared = {(kind, name) for kind in KINDS for name in methods(kind)}
    assert set(REGISTRY) == declared
    for (kind, name), loader in REGISTRY.items():
        cls = loader()
        assert cls.method == name, (kind, name)  # the name its Effects carry
        caps = methods(kind)[name].capabilities
        assert getattr(cls, "effect_scale", "level") == caps.effect_scale, (kind, name)
        assert caps.placebo_refit == callable(getattr(cls, "placebo_gap", None)), (kind, name)


def test_every_registered_estimator_and_check_resolves():
    from cpeval.checks import CHECKS

    for loader in REGISTRY.values():
        assert callable(getattr(loader(), "fit", None))
    for loader in CHECKS.values():
        assert callable(loader())


def test_checks_registry_and_design_check_lists_agree():
    from cpeval.checks import CHECKS
    from cpeval.designs import DidDesign, RctDesign, SynthDesign

    for kind, cls in (("did", DidDesign), ("synthetic_control", SynthDesign), ("rct", RctDesign)):
        declared = set(cls.model_fields["checks"].annotation.model_fields)
        assert declared == {name for (k, name) in CHECKS if k == kind}, kind


def test_linearmodels_dowhy_econml_only_in_adapters():
    offenders = []
    for path in SRC.rglob("*.py"):
        if "_adapters" in path.parts:
            continue
        for name in _imports(path):
            if name.split(".")[0] in HEAVY_ADAPTED:
                offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, offenders


UPPER = ("cpeval.pipeline", "cpeval.report", "cpeval.cli", "cpeval.diagnose")


def test_layers_import_one_way():
    """designs <- data/datasets/outcomes <- estimation <- checks <- consequences <- cba <- pipeline <- diagnose,
    report, cli; results (the result types) import no layer that computes."""
    forbidden = {
        "designs": ("cpeval.data", "cpeval.datasets", "cpeval.outcomes", "cpeval.estimation", "cpeval.checks",
                    "cpeval.consequences", "cpeval.cba", "cpeval.results", *UPPER),
        "data": ("cpeval.estimation", "cpeval.checks", "cpeval.consequences", "cpeval.cba", *UPPER),
        "datasets": ("cpeval.estimation", "cpeval.checks", "cpeval.consequences", "cpeval.cba", *UPPER),
        "outcomes": ("cpeval.estimation", "cpeval.checks", "cpeval.consequences", "cpeval.cba", *UPPER),
        "estimation": ("cpeval.checks", "cpeval.consequences", "cpeval.cba", *UPPER),
        "checks": ("cpeval.consequences", "cpeval.cba", *UPPER),
        "consequences": ("cpeval.cba", *UPPER),
        "cba": ("cpeval.checks", "cpeval.consequences", *UPPER),
        "results": ("cpeval.data", "cpeval.datasets", "cpeval.outcomes", "cpeval.estimation", "cpeval.checks",
                    *UPPER),
        "payloads": ("cpeval.data", "cpeval.datasets", "cpeval.outcomes", "cpeval.estimation", "cpeval.checks",
                     "cpeval.consequences", "cpeval.cba", *UPPER),
        "appraise": ("cpeval.checks", "cpeval.consequences", *UPPER),
        "_format": ("cpeval",),  # the number formatters: a leaf that report and appraise both import
        "templates": UPPER,
        "diagnose": ("cpeval.report", "cpeval.cli"),
        "report": ("cpeval.data", "cpeval.datasets", "cpeval.outcomes", "cpeval.estimation", "cpeval.checks",
                   "cpeval.consequences", "cpeval.pipeline", "cpeval.diagnose", "cpeval.power", "cpeval.cli"),
    }
    offenders = []
    for layer, banned in forbidden.items():
        paths = list((SRC / layer).rglob("*.py")) if (SRC / layer).is_dir() else [SRC / f"{layer}.py"]
        assert paths and all(p.exists() for p in paths), layer
        for path in paths:
            for name in _imports(path):
                if name.startswith(banned):
                    offenders.append(f"{path.relative_to(SRC)} imports {name}")
    assert not offenders, offenders
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(forbidden), packages - set(forbidden)  # a new package gets its line here


def test_no_module_imports_another_modules_private_names():
    """A name with a leading underscore belongs to its module; code elsewhere uses public names."""
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cpeval"):
                offenders += [f"{path.relative_to(SRC)}:{node.lineno} imports {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offenders, offenders


def test_no_swallowed_exceptions():
    offenders = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ExceptHandler):
                broad = node.type is None or (isinstance(node.type, ast.Name) and node.type.id == "Exception")
                silent = all(isinstance(s, ast.Pass) for s in node.body)
                if broad and silent:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert not offenders, offenders


def test_effect_scale_is_declared_by_the_estimator_and_carried_by_the_effect():
    """Log-ratio effects are marked once, on the estimator class, not by method names downstream."""
    import pytest

    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.estimation.inference import make_effect
    from cpeval.estimation.registry import effect_scale

    scales = {key: effect_scale(*key) for key in REGISTRY}
    assert set(scales.values()) <= {"level", "log"}
    assert scales[("did", "poisson")] == "log" and scales[("did", "twfe")] == "level"
    common = dict(method="m", estimand="att", estimate=0.1, std_error=0.05, level=0.95, df=None, n_obs=10,
                  n_units=5, n_clusters=None, variance_type="v")
    count = OutcomeSpec(name="y", column="y", measure="count")
    assert make_effect(count, **common).percent_change is None
    pct = make_effect(count, **common, scale="log").percent_change
    assert pct is not None and pct[0] == pytest.approx(100 * (2.718281828459045**0.1 - 1))
    assert make_effect(OutcomeSpec(name="y", column="y", measure="log", take_log=False), **common).scale == "log"
    with pytest.raises(ValueError, match=r"Effect\.scale"):
        make_effect(count, **common, scale="logit")


def test_no_method_name_comparison_outside_the_registry():
    """Code asks a method's capabilities; only estimation/registry.py turns a method name into behaviour."""
    import re

    pattern = re.compile(r"method ==|method in")
    offenders = [f"{path.relative_to(SRC)}:{i}" for path in SRC.rglob("*.py")
                 if path.relative_to(SRC).as_posix() != "estimation/registry.py"
                 for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders


def test_comments_explain_code_not_issue_history():
    import re

    pattern = re.compile(r"\bissues? #?\d+", re.IGNORECASE)
    offenders = [f"{path.relative_to(SRC)}:{i}" for path in SRC.rglob("*.py")
                 for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, offenders
