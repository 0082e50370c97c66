"""cpeval: evaluate crime-prevention programmes and price what they achieve."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cpeval._version import __version__

__all__ = ["EvaluationResult", "__version__", "evaluate", "load_design"]

if TYPE_CHECKING:
    from cpeval.designs import load_design
    from cpeval.pipeline import evaluate
    from cpeval.results import EvaluationResult


def __getattr__(name: str) -> Any:
    # Lazy: `import cpeval` (and `cpeval --help`) stays instant.
    if name == "evaluate":
        from cpeval.pipeline import evaluate

        return evaluate
    if name == "load_design":
        from cpeval.designs import load_design

        return load_design
    if name == "EvaluationResult":
        from cpeval.results import EvaluationResult

        return EvaluationResult
    raise AttributeError(f"module 'cpeval' has no attribute {name!r}")
