"""Maps (design kind, estimator.method) to an estimator class. Classes are imported only when asked for."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cpeval.designs.base import DesignBase


def _twfe() -> type:
    from cpeval.estimation.did.twfe import TwoWayFixedEffects

    return TwoWayFixedEffects


def _event_study() -> type:
    from cpeval.estimation.did.event_study import EventStudy

    return EventStudy


def _sun_abraham() -> type:
    from cpeval.estimation.did.sun_abraham import SunAbraham

    return SunAbraham


def _poisson() -> type:
    from cpeval.estimation.did.poisson import PoissonDid

    return PoissonDid


def _rct_dim() -> type:
    from cpeval.estimation.rct.estimators import DifferenceInMeans

    return DifferenceInMeans


def _rct_lin() -> type:
    from cpeval.estimation.rct.estimators import Lin

    return Lin


def _callaway_santanna() -> type:
    from cpeval.estimation.did.callaway_santanna import CallawaySantAnna

    return CallawaySantAnna



def _synth_abadie() -> type:
    from cpeval.estimation.synth.abadie import AbadieSynth

    return AbadieSynth


def _synth_augmented() -> type:
    from cpeval.estimation.synth.augmented import AugmentedSynth

    return AugmentedSynth


def _synth_sdid() -> type:
    from cpeval.estimation.synth.sdid import SyntheticDiD

    return SyntheticDiD

# Each entry is a function returning the class, so heavy dependencies load only when a design needs them.
REGISTRY: dict[tuple[str, str], Callable[[], type]] = {
    ("did", "twfe"): _twfe,
    ("synthetic_control", "abadie"): _synth_abadie,
    ("synthetic_control", "augmented"): _synth_augmented,
    ("synthetic_control", "synthetic_did"): _synth_sdid,
    ("rct", "difference_in_means"): _rct_dim,
    ("rct", "lin"): _rct_lin,
    ("did", "event_study"): _event_study,
    ("did", "sun_abraham"): _sun_abraham,
    ("did", "poisson"): _poisson,
    ("did", "callaway_santanna"): _callaway_santanna,
}


def estimator_for(design: DesignBase) -> Any:
    """Build (not fit) the estimator a design names."""
    key = (design.kind, design.estimator.method)  # type: ignore[attr-defined]
    if key not in REGISTRY:  # validation should have caught this; keep the message clear regardless
        from cpeval.errors import DesignError

        raise DesignError(f"method {key[1]!r} is not available for kind {key[0]!r}")
    return REGISTRY[key]()(design)
