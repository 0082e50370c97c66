"""What the DiD checks share: the event-study coefficients of an outcome, from its Effect or refitted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect

EVENT_METHODS = ("event_study", "sun_abraham")


@dataclass(frozen=True)
class EventCoefficients:
    """Event-time coefficients (reference omitted), their covariance and where they came from."""

    keys: np.ndarray
    beta: np.ndarray
    vcov: np.ndarray
    ref: int
    df: float | None
    level: float
    method: str
    binned: bool
    effect: Effect

    @property
    def lead(self) -> np.ndarray:
        return self.keys < self.ref


def outcome_spec(panel: Panel, name: str) -> OutcomeSpec:
    for o in panel.design.outcomes:
        if o.name == name:
            return o
    raise KeyError(f"outcome {name!r} is not in the design")


def event_coefficients(panel: Panel, effect: Effect, *, need_unbinned: bool = False) -> EventCoefficients:
    """The outcome's event study: reused from ``effect`` when it is one, otherwise fitted with the design's
    window (a Poisson event study on the log-rate scale for Poisson effects, else method ``event_study``).
    With ``need_unbinned`` binned end points are refitted as separate, unreported coefficients, so that every
    coefficient is a single event time."""
    d = effect.diagnostics
    reuse = effect.method in EVENT_METHODS and "event_vcov" in d
    if reuse and need_unbinned and d.get("bin_endpoints"):
        reuse = False
    if not reuse:
        import warnings

        from cpeval.data.panel import TREATED, not_absorbing_message, switching_units
        from cpeval.errors import CpevalWarning, EstimationError

        if panel.time is not None and TREATED in panel.frame:  # validation refuses this; say it the same way
            switching = switching_units(panel.frame, panel.unit, panel.time)
            if switching:
                raise EstimationError(not_absorbing_message(switching, ["the event study this check fits"]))
        from cpeval.estimation.did.event_study import EventStudy
        from cpeval.estimation.did.poisson import PoissonDid

        design = panel.design
        poisson = effect.method == "poisson"  # counts: an event study on the log-rate scale
        est = design.estimator  # type: ignore[attr-defined]
        if not poisson:
            est = est.model_copy(update={"method": "event_study"})
        if need_unbinned:
            est = est.model_copy(update={"bin_endpoints": False})
        es_design = design.model_copy(update={"estimator": est})
        spec = outcome_spec(panel, effect.outcome)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CpevalWarning)  # the check reports what matters in its own words
            if poisson:
                effect = PoissonDid(es_design).event_study(panel, spec)
            else:
                effect = EventStudy(es_design).fit(panel, spec)
        d = effect.diagnostics
    return EventCoefficients(
        keys=np.asarray(d["event_times"], dtype=int),
        beta=np.asarray([r["estimate"] for r in effect.path if r["kind"] != "reference"], dtype=float),
        vcov=np.asarray(d["event_vcov"], dtype=float),
        ref=int(d["reference_period"]),
        df=effect.df,
        level=effect.level,
        method=effect.method,
        binned=bool(d.get("bin_endpoints")),
        effect=effect,
    )
