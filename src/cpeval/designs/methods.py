"""Which estimator methods each design kind will offer, and which are implemented in this release.

A design naming a planned but not yet implemented method is rejected at validation with a clear message,
never a crash at fit time. When an estimator lands, add its method to ``IMPLEMENTED`` (and register the
class in ``cpeval.estimation.registry``); a test checks that the two agree.
"""

from __future__ import annotations

PLANNED: dict[str, tuple[str, ...]] = {
    "did": ("twfe", "event_study", "callaway_santanna", "sun_abraham", "poisson"),
    "synthetic_control": ("abadie", "augmented", "synthetic_did"),
    "rct": ("difference_in_means", "lin"),
}

IMPLEMENTED: dict[str, frozenset[str]] = {
    "did": frozenset({"twfe", "event_study", "sun_abraham", "poisson", "callaway_santanna"}),
    "synthetic_control": frozenset({"abadie", "augmented", "synthetic_did"}),
    "rct": frozenset({"difference_in_means", "lin"}),
}


def check_available(kind: str, method: str) -> str:
    """Raise ``ValueError`` (turned into a DesignError by the loader) if ``method`` is not implemented."""
    if method not in IMPLEMENTED[kind]:
        have = ", ".join(sorted(IMPLEMENTED[kind])) or "none yet"
        raise ValueError(
            f"method {method!r} is not available yet for kind '{kind}' in this cpeval release "
            f"(available now: {have})"
        )
    return method
