"""The checks a design may request, per design kind, each with its options model.

``checks:`` is written as a list of names (every check with its default options), as a mapping
``{name: {options}}``, or as a list mixing names and one-key mappings. Each kind's :class:`Checks` model has one
optional field per check; the field's type is the check's options model. Adding a check means one options
model and one field here, and one line in ``cpeval.checks.CHECKS`` naming the function that runs it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from cpeval.designs.strict import StrictModel
from cpeval.errors import did_you_mean


class CheckOptions(StrictModel):
    """Options of one check. A check without options still has a (empty) model."""


class _Parallel(CheckOptions):
    """Options of a check that refits the estimator many times."""

    n_jobs: int = Field(-1, description="Processes for the refits (-1: every core; 1: no parallelism).")

    @field_validator("n_jobs")
    @classmethod
    def _jobs(cls, v: int) -> int:
        if v == 0 or v < -1:
            raise ValueError(f"n_jobs must be -1 (every core) or a positive number, got {v}")
        return v


class PreTrendsOptions(CheckOptions):
    """Joint Wald test of the event-study leads (no options)."""


class BaconOptions(CheckOptions):
    """Goodman-Bacon decomposition of the two-way fixed-effects estimate (no options)."""


class HonestDidOptions(CheckOptions):
    """Rambachan & Roth (2023) sensitivity of the event-study conclusion to violations of parallel trends."""

    target: Literal["average", "first"] = Field(
        "average", description="Which post-treatment effect to bound: the average over the post event "
        "times shown, or the first (event time 0)."
    )
    mbar: list[float] = Field(
        default_factory=lambda: [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0],
        description="Relative-magnitudes grid: post-period changes in the trend gap may be up to Mbar times "
        "the largest pre-period change.",
    )
    m: list[float] | None = Field(
        None, description="Smoothness grid: the slope of the trend gap may change by up to M per period. "
        "Default: 0 to twice the largest pre-period slope change, 9 points.",
    )

    @field_validator("mbar", "m")
    @classmethod
    def _non_negative(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (not v or any(x < 0 for x in v)):
            raise ValueError(f"expected a non-empty list of numbers >= 0, got {v!r}")
        return v


class PlaceboSpaceOptions(_Parallel):
    """Placebo in space: every donor in turn as if it had been treated."""

    exclude: float | None = Field(
        None, gt=1, description="Also report the p-value without placebos whose pre-period MSPE exceeds this "
        "multiple of the treated unit's (Abadie et al. 2010 use 20, 5 and 2)."
    )


class PlaceboTimeOptions(CheckOptions):
    """Placebo in time: a fake treatment start before the real one."""

    start: int | str | None = Field(
        None, description="The fake treatment start (default: a quarter of the pre-period before the real start)."
    )


class LeaveOneOutOptions(_Parallel):
    """Refit without each donor that carries weight."""


class SynthBalanceOptions(CheckOptions):
    """Predictor balance of the synthetic control."""

    important_v: float = Field(
        0.1, ge=0, le=1, description="Predictors with at least this importance (V) must be matched well."
    )
    max_std_diff: float = Field(
        0.25, gt=0, description="Largest acceptable gap between the treated unit and its synthetic control, in "
        "donor standard deviations."
    )


class ConvexHullOptions(CheckOptions):
    """Is the treated unit's pre-period path inside the donors' convex hull? (no options)"""


class RctBalanceOptions(CheckOptions):
    """Baseline balance of a trial's arms."""

    max_std_diff: float = Field(
        0.25, gt=0, description="Largest acceptable standardised difference of a baseline covariate (What Works "
        "Clearinghouse: above 0.25 SD baseline equivalence is not met)."
    )
    alpha: float = Field(
        0.05, gt=0, lt=1, description="Level of the joint test that the covariates predict assignment."
    )


class AttritionOptions(CheckOptions):
    """Overall and differential attrition against thresholds."""

    max_differential: float = Field(
        0.05, ge=0, le=1,
        description="Largest acceptable difference between the arms' attrition rates (a proportion); "
        "above it the attrition check warns. 0.05 is a common conservative standard.",
    )
    max_overall: float = Field(
        0.20, ge=0, le=1, description="Largest acceptable overall attrition rate before the check warns."
    )


class Checks(StrictModel):
    """The checks requested, each with its options (a field left unset is a check not requested)."""

    kind: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, raw: Any) -> Any:
        """A list of names and one-key mappings, or a mapping, becomes {name: options}."""
        if isinstance(raw, Checks):
            return raw
        if raw is None:
            return {}
        items: list[tuple[Any, Any]] = []
        if isinstance(raw, dict):
            items = list(raw.items())
        elif isinstance(raw, list):
            for entry in raw:
                if isinstance(entry, dict) and len(entry) == 1:
                    items += list(entry.items())
                elif isinstance(entry, str):
                    items.append((entry, {}))
                else:
                    raise ValueError(
                        f"each entry of checks is a check name or a one-key mapping {{name: {{options}}}}; got "
                        f"{entry!r}"
                    )
        else:
            raise ValueError("checks is a list of check names or a mapping {name: {options}}")
        known = list(cls.model_fields)
        out: dict[str, Any] = {}
        for name, options in items:
            if name not in cls.model_fields:
                have = ", ".join(known) or "none yet for this design kind"
                raise ValueError(f"check {name!r} is not available for {cls.kind} designs (available: {have})"
                                 f"{did_you_mean(str(name), known)}")
            if name in out:
                raise ValueError(f"check {name!r} is listed twice; list each check once")
            out[name] = {} if options is None else options
        return out

    @model_serializer(mode="wrap")
    def _only_requested(self, handler: Any) -> Any:
        return {k: v for k, v in handler(self).items() if v is not None}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        mapping = handler.resolve_ref_schema(handler(core_schema))
        names = list(cls.model_fields)
        one_key = {"type": "object", "properties": mapping.get("properties", {}), "additionalProperties": False,
                   "minProperties": 1, "maxProperties": 1}
        listed = {"type": "array", "items": {"anyOf": [{"enum": names}, one_key]}}
        return {"anyOf": [{**mapping, "title": f"{cls.kind} checks with options"}, listed],
                "description": f"Checks to run: a list of names ({', '.join(names)}) or a mapping "
                "{name: {options}}."}

    @property
    def requested(self) -> tuple[str, ...]:
        """Names of the checks requested, in the order the checks run."""
        return tuple(name for name in type(self).model_fields if getattr(self, name) is not None)

    def options(self, name: str) -> Any:
        """The options of check ``name``: as given, or its defaults when it was not requested."""
        given = getattr(self, name)
        if given is not None:
            return given
        model = type(self).model_fields[name].annotation
        return next(a for a in getattr(model, "__args__", (model,)) if a is not type(None))()


class DidChecks(Checks):
    kind: ClassVar[str] = "did"
    pre_trends: PreTrendsOptions | None = Field(None, description="Joint test of the event-study leads.")
    bacon: BaconOptions | None = Field(None, description="Goodman-Bacon decomposition of the TWFE estimate.")
    honest_did: HonestDidOptions | None = Field(
        None, description="Rambachan & Roth sensitivity to violations of parallel trends."
    )


class SynthChecks(Checks):
    kind: ClassVar[str] = "synthetic_control"
    placebo_space: PlaceboSpaceOptions | None = Field(None, description="Every donor in turn as if treated.")
    placebo_time: PlaceboTimeOptions | None = Field(None, description="A fake treatment start before the real one.")
    leave_one_out: LeaveOneOutOptions | None = Field(None, description="Refit without each weighted donor.")
    balance: SynthBalanceOptions | None = Field(None, description="Predictor balance of the synthetic control.")
    convex_hull: ConvexHullOptions | None = Field(None, description="Treated path inside the donors' hull?")


class RctChecks(Checks):
    kind: ClassVar[str] = "rct"
    balance: RctBalanceOptions | None = Field(None, description="Baseline balance of the arms.")
    attrition: AttritionOptions | None = Field(None, description="Overall and differential attrition.")


MovedKeys = dict[tuple[str | None, str], tuple[str, str | None]]


def refuse_moved_keys(raw: Any, moves: MovedKeys) -> None:
    """Refuse keys of a design mapping that are now check options, saying exactly what to write instead.

    ``moves`` maps (section or None for the top level, key) to (check, option), option None meaning the key's
    whole mapping is the check's options. The suggested ``checks:`` keeps the checks the design already lists.
    """
    if not isinstance(raw, dict):
        return
    found: list[str] = []
    options: dict[str, dict[str, Any]] = {}
    for (section, key), (check, option) in moves.items():
        holder = raw if section is None else raw.get(section)
        if not isinstance(holder, dict) or key not in holder:
            continue
        found.append(key if section is None else f"{section}.{key}")
        value = holder[key]
        if option is None:
            options.setdefault(check, {}).update(value if isinstance(value, dict) else {})
        else:
            options.setdefault(check, {})[option] = value
    if not found:
        return
    entries: list[Any] = []
    listed = raw.get("checks") or []
    for entry in (list(listed.items()) if isinstance(listed, dict) else listed):
        name, given = (entry if isinstance(entry, tuple) else
                       next(iter(entry.items())) if isinstance(entry, dict) and len(entry) == 1 else (entry, None))
        if name in options:
            entries.append({name: {**(given or {}), **options.pop(name)}})
        else:
            entries.append(name if not given else {name: given})
    entries += [{name: opts} for name, opts in options.items()]
    import yaml

    flow = yaml.safe_dump(entries, default_flow_style=True, sort_keys=False, width=10_000).strip()
    suggestion = f"checks: {flow}"
    keys = ", ".join(found)
    what = "is a check option" if len(found) == 1 else "are check options"
    raise ValueError(f"{keys} {what}: remove {keys} and write {suggestion}")
