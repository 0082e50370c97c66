"""Maps (design kind, estimator.method) to an estimator class. Classes are imported only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cpeval._lazy import lazy

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase

_DID = "cpeval.estimation.did"
_SYNTH = "cpeval.estimation.synth"

# A static table: heavy dependencies load only when a design needs them; tests resolve every entry.
REGISTRY: dict[tuple[str, str], Callable[[], type]] = {
    ("did", "twfe"): lazy(f"{_DID}.twfe", "TwoWayFixedEffects"),
    ("did", "event_study"): lazy(f"{_DID}.event_study", "EventStudy"),
    ("did", "sun_abraham"): lazy(f"{_DID}.sun_abraham", "SunAbraham"),
    ("did", "poisson"): lazy(f"{_DID}.poisson", "PoissonDid"),
    ("did", "callaway_santanna"): lazy(f"{_DID}.callaway_santanna", "CallawaySantAnna"),
    ("synthetic_control", "abadie"): lazy(f"{_SYNTH}.abadie", "AbadieSynth"),
    ("synthetic_control", "augmented"): lazy(f"{_SYNTH}.augmented", "AugmentedSynth"),
    ("synthetic_control", "synthetic_did"): lazy(f"{_SYNTH}.sdid", "SyntheticDiD"),
    ("rct", "difference_in_means"): lazy("cpeval.estimation.rct.estimators", "DifferenceInMeans"),
    ("rct", "lin"): lazy("cpeval.estimation.rct.estimators", "Lin"),
}


def estimator_for(design: DesignBase) -> Any:
    """Build (not fit) the estimator a design names."""
    key = (design.kind, design.estimator.method)  # type: ignore[attr-defined]
    if key not in REGISTRY:  # validation should have caught this; keep the message clear regardless
        from cpeval.errors import DesignError

        raise DesignError(f"method {key[1]!r} is not available for kind {key[0]!r}")
    return REGISTRY[key]()(design)


def effect_scale(kind: str, method: str) -> str:
    """'log' if the method reports log ratios whatever the outcome's measure (known before fitting)."""
    return getattr(REGISTRY[(kind, method)](), "effect_scale", "level")
