"""Maps (design kind, estimator.method) to the estimator class that fits it. Classes are imported only when asked for.

What a method *is* (its options model and :class:`~cpeval.designs.methods.Capabilities`) is declared beside its
options in ``cpeval.designs`` (which must not import estimation); this table pairs each with the class that
fits it, and a test checks that the two agree. Everything else asks :func:`capabilities` or the class; the
one place a method name becomes behaviour is here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from cpeval._lazy import lazy
from cpeval.designs import methods as _methods
from cpeval.designs.methods import Capabilities
from cpeval.errors import DesignError

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase
    from cpeval.designs.methods import MethodOptions

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


def estimator_class(kind: str, method: str) -> type:
    """The class that fits ``method``; an unknown method is a DesignError naming the available ones."""
    if (kind, method) not in REGISTRY:
        have = ", ".join(m for k, m in REGISTRY if k == kind) or "none"
        raise DesignError(f"method {method!r} is not available for {kind} designs (available: {have})")
    return REGISTRY[(kind, method)]()


def estimator_for(design: DesignBase) -> Any:
    """Build (not fit) the estimator a design names."""
    return estimator_class(design.kind, design.estimator.method)(design)  # type: ignore[attr-defined]


def capabilities(kind: str, method: str) -> Capabilities:
    """What ``method`` is (known before fitting, without importing its class). Unknown: a DesignError."""
    try:
        return _methods.capabilities(kind, method)
    except ValueError as exc:
        raise DesignError(str(exc)) from None


def effect_scale(kind: str, method: str) -> str:
    """'log' if the method reports log ratios whatever the outcome's measure (known before fitting)."""
    return capabilities(kind, method).effect_scale


def register(kind: str, options: type[MethodOptions], loader: Callable[[], type]) -> None:
    """Add a method at run time: its options model (with its capabilities) and the loader of its class.
    Designs of ``kind`` accept it from then on; :func:`unregister` takes it away again."""
    REGISTRY[(kind, _methods.method_name(options))] = loader
    _methods.register(kind, options)


def unregister(kind: str, method: str) -> None:
    REGISTRY.pop((kind, method), None)
    _methods.unregister(kind, method)
