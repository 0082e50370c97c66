"""Estimator methods: each method's options model, and the capabilities it declares.

A method is one pydantic model (a subclass of :class:`MethodOptions`): its ``method`` literal, its options and a
class-level :class:`Capabilities`. A design's ``estimator`` is a discriminated union of its kind's models, so a
key that does not apply to the chosen method is an error naming the methods it applies to. Validation,
checks, power, the pipeline and the report ask :func:`capabilities`, never compare method names. The
estimator classes that fit each method are paired with these models in :mod:`cpeval.estimation.registry`
(designs hold specifications only: no numerics, no estimation imports).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, Union

from cpeval.designs.strict import StrictModel
from cpeval.errors import did_you_mean

if TYPE_CHECKING:
    from pydantic import BaseModel

KINDS = ("did", "synthetic_control", "rct")


@dataclass(frozen=True)
class Capabilities:
    """What a method is, as the rest of cpeval needs to know it before and after fitting."""

    title: str
    """How reports name the method."""
    effect_scale: Literal["level", "log"] = "level"
    """'log' when the effect is a log ratio whatever the outcome's measure."""
    counts: bool = False
    """Models non-negative counts (rates and harm indices too) with an exposure: its effects are rate ratios."""
    event_path: bool = False
    """The Effect carries event-time coefficients and their covariance, which the DiD checks reuse."""
    group_time: bool = False
    """The Effect carries group-time effects and their aggregations (Callaway & Sant'Anna)."""
    small_sample: tuple[str, ...] = ()
    """Small-sample conventions of the clustered covariance the method offers (``estimator.small_sample``)."""
    requires_absorbing: bool = False
    """Treatment must stay on once it starts even when given as a 0/1 indicator."""
    always_treated: Literal["keep", "drop", "refuse"] = "refuse"
    """Units treated from the first period: kept as comparisons, dropped with a warning, or a data problem."""
    covariates: Literal["time_varying", "base_period", "baseline"] = "time_varying"
    """How ``estimator.covariates`` enter: alongside unit and period effects (so they must vary within
    both), at the base period, or as baseline (pre-randomisation) measures."""
    covariate_adjusted: bool = False
    """A trial estimator that adjusts for the baseline covariates (it needs at least one)."""
    repeated_cross_sections: bool = False
    """Accepts ``estimator.panel: false`` (survey waves of different people)."""
    placebo_refit: bool = False
    """The estimator class refits for other treated units and donors (``placebo_gap``): synthetic control
    placebos and leave-one-out need it."""
    wild_bootstrap: Literal["linear", "score"] | None = None
    """The wild cluster bootstrap it admits: of its linear regression, or Kline-Santos score bootstrap."""
    randomization: bool = False
    """Design-based randomisation inference applies."""
    regression: Literal["treatment", "event_time", "cohort_event_time"] | None = None
    """The treatment regressors of its linear two-way fixed-effects regression (for the wild bootstrap and
    randomisation inference, which rebuild it): one 0/1 indicator, event-time indicators, or cohort by
    event-time cells."""

    @property
    def alternative_inference(self) -> frozenset[str]:
        """The inference.method values beyond 'auto' and 'analytic' that apply."""
        return frozenset({"wild_bootstrap"} if self.wild_bootstrap else set()) | (
            {"randomization"} if self.randomization else set())


class MethodOptions(StrictModel):
    """Options every method of a kind shares live on the kind's subclass; each method adds its own."""

    method: str
    capabilities: ClassVar[Capabilities]
    instead: ClassVar[dict[str, str]] = {}
    """What to write instead of another method's key (shown when that key is given to this method)."""


_METHODS: dict[str, dict[str, type[MethodOptions]]] = {kind: {} for kind in KINDS}
_DESIGNS: dict[str, type[BaseModel]] = {}
_ON_CHANGE: list[Callable[[], None]] = []  # called after a design model changes (see on_change)


def method_name(model: type[MethodOptions]) -> str:
    """The method an options model declares (its ``method`` literal)."""
    return str(model.model_fields["method"].annotation.__args__[0])  # type: ignore[union-attr]


def declare(kind: str, *models: type[MethodOptions]) -> Any:
    """Record ``kind``'s methods; returns the type of the design's ``estimator`` field (their union)."""
    for model in models:
        _METHODS[kind][method_name(model)] = model
    return estimator_union(kind)


def estimator_union(kind: str) -> Any:
    models = tuple(_METHODS[kind].values())
    return Union[models] if len(models) > 1 else models[0]  # noqa: UP007


def attach_design(kind: str, design: type[BaseModel]) -> None:
    """The design model whose ``estimator`` field is rebuilt when a method is registered."""
    _DESIGNS[kind] = design


def methods(kind: str) -> dict[str, type[MethodOptions]]:
    """Method name -> options model, for one design kind."""
    _load()
    return dict(_METHODS[kind])


def options_model(kind: str, method: str) -> type[MethodOptions]:
    """The options model of ``method``; an unknown method is a ValueError naming the available ones."""
    _load()
    known = _METHODS.get(kind, {})
    if method not in known:
        have = ", ".join(known) or "none"
        raise ValueError(f"method {method!r} is not available for {kind} designs (available: {have})"
                         f"{did_you_mean(str(method), list(known))}")
    return known[method]


def capabilities(kind: str, method: str) -> Capabilities:
    """What ``method`` of design ``kind`` is (see :class:`Capabilities`)."""
    return options_model(kind, method).capabilities


def prepare_estimator(kind: str, raw: Any) -> Any:
    """Before validation: the default method filled in, an unknown method named with the available ones, and
    each key that belongs to other methods named with them (a key no method has is left to the model, which
    suggests the closest key)."""
    if not isinstance(raw, dict):
        return raw
    default = next(iter(_METHODS[kind]))
    method = raw.get("method", default)
    if not isinstance(method, str):
        return raw
    try:
        model = options_model(kind, method)
    except ValueError as exc:
        _raise_at({"method": exc})
    misplaced = {}
    for key in raw:
        owners = [name for name, m in _METHODS[kind].items() if key in m.model_fields]
        if key not in model.model_fields and owners:
            hint = model.instead.get(key, "remove it or choose one of those methods")
            misplaced[key] = ValueError(f"{key!r} does not apply to method {method!r}; it applies to "
                                        f"{', '.join(owners)} ({hint})")
    if misplaced:
        _raise_at(misplaced)
    return {"method": method, **raw}


def _raise_at(errors: dict[str, ValueError]) -> NoReturn:
    """A validation error located at each key (pydantic nests it under the field being validated)."""
    from pydantic_core import ValidationError

    raise ValidationError.from_exception_data("estimator", [
        {"type": "value_error", "loc": (key,), "input": key, "ctx": {"error": exc}} for key, exc in errors.items()
    ])


def register(kind: str, model: type[MethodOptions]) -> None:
    """Add a method at run time (a plug-in or a test): designs of ``kind`` then accept it."""
    _load()
    _METHODS[kind][method_name(model)] = model
    _rebuild(kind)


def unregister(kind: str, method: str) -> None:
    _METHODS[kind].pop(method, None)
    _rebuild(kind)


def _rebuild(kind: str) -> None:
    design = _DESIGNS[kind]
    design.model_fields["estimator"].annotation = estimator_union(kind)
    design.model_rebuild(force=True)
    for listener in _ON_CHANGE:
        listener()


def on_change(listener: Callable[[], None]) -> None:
    """Call ``listener`` whenever a design model changes (a method registered or removed): the design
    loader rebuilds its validator of the Design union this way, without this registry importing it."""
    if listener not in _ON_CHANGE:
        _ON_CHANGE.append(listener)


def _load() -> None:
    """The design modules declare their methods when imported."""
    if not _DESIGNS:
        import importlib

        importlib.import_module("cpeval.designs")  # by name, as the registries load what they list
