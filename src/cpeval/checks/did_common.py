"""What the DiD checks share: the event-study coefficients of an outcome, from its Effect or refitted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from cpeval.errors import EstimationError
from cpeval.payloads import EventPath

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.designs.base import DesignBase
    from cpeval.designs.outcomes import OutcomeSpec
    from cpeval.results import Effect


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

    @property
    def has_variance(self) -> bool:
        """False when the event study cannot estimate its own sampling error (its covariance is NaN, e.g. one
        treated and one control unit): then no test or interval can be built from it."""
        return bool(np.isfinite(self.vcov).all())


NO_VARIANCE = "the event study cannot estimate its own sampling error (the effect's warnings say why)"


def with_estimator(design: DesignBase, method: str | None, **options: object) -> DesignBase:
    """``design`` with its estimator switched to ``method`` (None: kept) and ``options`` set, validated like
    any design: options the new method does not have are left out."""
    from cpeval.designs import design_from_dict
    from cpeval.designs.methods import options_model

    raw = design.model_dump(mode="json", by_alias=True, exclude_unset=True)
    method = method or design.estimator.method  # type: ignore[attr-defined]
    allowed = options_model(design.kind, method).model_fields  # type: ignore[attr-defined]
    est = {k: v for k, v in raw.get("estimator", {}).items() if k in allowed}
    raw["estimator"] = {**est, "method": method, **options}
    out = design_from_dict(raw, source=f"{design.name} (estimator {method})")
    out._origin = design.origin
    return out


def outcome_spec(panel: Panel, name: str) -> OutcomeSpec:
    for o in panel.design.outcomes:
        if o.name == name:
            return o
    raise KeyError(f"outcome {name!r} is not in the design")


def event_coefficients(panel: Panel, effect: Effect, *, need_unbinned: bool = False) -> EventCoefficients:
    """The outcome's event study: reused from ``effect`` when its method reports event-time coefficients,
    otherwise fitted with the design's window (by the method's own ``event_study`` when its class has one, as
    Poisson's on the log-rate scale; else by method ``event_study``). With ``need_unbinned`` binned end points
    are refitted as separate, unreported coefficients, so that every coefficient is a single event time."""
    from cpeval.estimation.registry import capabilities, estimator_class

    design = panel.design
    ev = effect.payload(EventPath)
    reuse = capabilities(design.kind, effect.method).event_path and ev is not None
    if reuse and need_unbinned and ev.bin_endpoints:  # type: ignore[union-attr]
        reuse = False
    if not reuse:
        import warnings

        from cpeval.data.panel import TREATED, not_absorbing_message, switching_units
        from cpeval.errors import CpevalWarning

        if panel.time is not None and TREATED in panel.frame:  # validation refuses this; say it the same way
            switching = switching_units(panel.frame, panel.unit, panel.time)
            if switching:
                raise EstimationError(not_absorbing_message(switching, ["the event study this check fits"]))
        own = getattr(estimator_class(design.kind, effect.method), "event_study", None)
        es_design = with_estimator(design, None if own else "event_study",
                                   **({"bin_endpoints": False} if need_unbinned else {}))
        spec = outcome_spec(panel, effect.outcome)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CpevalWarning)  # the check reports what matters in its own words
            estimator = estimator_class(es_design.kind, es_design.estimator.method)(es_design)
            effect = estimator.event_study(panel, spec) if own else estimator.fit(panel, spec)
        ev = effect.payload(EventPath)
        if ev is None:
            raise EstimationError(f"outcome {effect.outcome!r}: the {effect.method} event study reported no "
                                  "event-time coefficients")
    return EventCoefficients(
        keys=np.asarray(ev.event_times, dtype=int),
        beta=np.asarray([r["estimate"] for r in effect.path if r["kind"] != "reference"], dtype=float),
        vcov=np.asarray(ev.vcov, dtype=float).reshape(len(ev.event_times), len(ev.event_times)),
        ref=ev.reference_period,
        df=effect.df,
        level=effect.level,
        method=effect.method,
        binned=ev.bin_endpoints,
        effect=effect,
    )
