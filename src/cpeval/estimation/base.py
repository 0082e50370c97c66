"""The estimator protocol (scikit-learn style: options in the constructor, work in ``fit``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


class Estimator(Protocol):
    """``Estimator(design)`` stores options only; ``fit(panel, outcome)`` returns an :class:`Effect`.

    Nothing is fitted in ``__init__`` and the panel's frame is never modified.
    """

    def fit(self, panel: Panel, outcome: OutcomeSpec) -> Effect: ...
