"""The estimator protocol (scikit-learn style: options in the constructor, work in ``fit``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


class Estimator(Protocol):
    """``Estimator(design)`` stores options only; ``fit(panel, outcome)`` returns an :class:`Effect`.

    Nothing is fitted in ``__init__`` and the panel's frame is never modified.
    """

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect: ...


def fit_outcomes(estimator: Estimator, panel: Panel, outcomes: Sequence[OutcomeSpec]) -> list[Effect]:
    """Every outcome's Effect. An estimator whose inference spans the family of outcomes (a trial's
    randomisation and multiplicity-adjusted p-values) defines ``fit_outcomes`` to share that work across
    them; any other is fitted outcome by outcome. Estimators keep no state between calls."""
    together = getattr(estimator, "fit_outcomes", None)
    if together is not None:
        return list(together(panel, outcomes))
    return [estimator.fit(panel, outcome) for outcome in outcomes]
