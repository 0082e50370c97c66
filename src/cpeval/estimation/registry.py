"""Maps (design kind, estimator.method) to an estimator class. Classes are imported only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase


def _twfe() -> type:
    from cpeval.estimation.did.twfe import TwoWayFixedEffects

    return TwoWayFixedEffects


# Each entry is a function returning the class, so heavy dependencies load only when a design needs them.
REGISTRY: dict[tuple[str, str], Callable[[], type]] = {
    ("did", "twfe"): _twfe,
}


def estimator_for(design: DesignBase) -> Any:
    """Build (not fit) the estimator a design names."""
    key = (design.kind, design.estimator.method)  # type: ignore[attr-defined]
    if key not in REGISTRY:  # validation should have caught this; keep the message clear regardless
        from cpeval.errors import DesignError

        raise DesignError(f"method {key[1]!r} is not available for kind {key[0]!r}")
    return REGISTRY[key]()(design)
