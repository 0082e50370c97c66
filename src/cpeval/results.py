"""Result types: frozen, self-contained (no reference back to an estimator), JSON-serialisable.

Stored values are attributes; anything with a parameter is a method (``conf_int(level)``). ``tidy()`` gives a
DataFrame, ``summary()`` drives ``__str__`` and ``_repr_html_``, ``to_dict()`` gives plain JSON types.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    import pandas as pd

    from cpeval.appraise.claim import ClaimValidation
    from cpeval.appraise.rating import EvidenceRating
    from cpeval.cba.result import CostBenefitResult
    from cpeval.consequences.result import ConsequencesResult

P = TypeVar("P")
Status = Literal["pass", "warn", "fail", "info", "error"]
STATUSES: tuple[str, ...] = ("pass", "warn", "fail", "info", "error")


def jsonable(obj: Any) -> Any:
    """Convert numpy / pandas scalars and containers to plain JSON types; NaN and inf become None."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if hasattr(obj, "to_dict") and callable(obj.to_dict) and not hasattr(obj, "dtype"):
        return jsonable(obj.to_dict())
    if hasattr(obj, "item") and getattr(obj, "ndim", 1) == 0:  # numpy scalar
        return jsonable(obj.item())
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return str(obj)


def records(frame: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    """A DataFrame as an immutable tuple of plain-typed row dicts (for storage inside frozen results)."""
    return tuple(jsonable(frame.to_dict(orient="records")))


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


class Summarised:
    """One ``summary()`` drives both ``str()`` and the notebook display (``_repr_html_``)."""

    def summary(self) -> str:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(self.summary()) + "</pre>"


@dataclass(frozen=True, eq=False)
class Sampling:
    """How an estimate varies from sample to sample, kept in memory for joint uncertainty across outcomes.

    ``influence``: each cluster's (or unit's) contribution to the estimate's sampling error, labelled by
    ``labels`` (the values of the column ``by``): the estimate minus its limit is approximately
    ``influence.sum()`` and its variance is ``(influence**2).sum()`` up to the estimator's small-sample factor.
    Two effects whose influences share ``source`` and ``by`` have sampling correlation
    ``sum(a*b) / sqrt(sum(a**2) * sum(b**2))`` over the aligned labels.
    ``draws``: bootstrap draws of the estimate; draws with the same ``draws_key`` (and ``source``) were made
    with the same resampling weights (the same seed and clusters), so the i-th draws of two outcomes belong
    together.
    Not written to results.json (it can hold one number per person); it lives only as long as the run.
    """

    by: str | None = None
    labels: Any = None  # numpy array, aligned with influence
    influence: Any = None  # numpy array
    draws: Any = None  # numpy array of bootstrap draws of the estimate
    draws_key: str | None = None
    source: str | None = None  # the data the estimate came from (Panel.sha256; set by the pipeline)


@dataclass(frozen=True)
class AlternativeInference:
    """Inference that does not rest on the cluster-robust standard error: the restricted wild cluster bootstrap
    (or the Poisson score bootstrap) or design-based randomisation inference, reported beside the analytic one.

    ``headline`` is True when this inference, not the analytic one, should be read first (few treated or
    untreated clusters). ``conf_int`` is at the Effect's level, on the Effect's scale; a bound is None (JSON
    null) when the set is unbounded, and both are None when no interval was computed (``note`` says why).
    """

    method: str  # "wild_bootstrap" | "score_bootstrap" | "randomization"
    p_value: float
    conf_int: tuple[float | None, float | None]
    replications: int  # bootstrap draws or assignments used
    enumerated: bool  # every sign vector / assignment used once (no simulation noise)
    headline: bool
    statistic: str  # what was bootstrapped or permuted
    weights: str | None = None  # bootstrap auxiliary weights ("rademacher" | "webb"); None for randomisation
    reason: str = ""  # why this inference was run (design key or the few-clusters rule)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return jsonable({
            "method": self.method, "p_value": self.p_value, "conf_int": list(self.conf_int),
            "replications": self.replications, "enumerated": self.enumerated, "headline": self.headline,
            "statistic": self.statistic, "weights": self.weights, "reason": self.reason, "note": self.note,
        })


@dataclass(frozen=True)
class Effect(Summarised):
    """The estimated effect of the programme on one outcome."""

    outcome: str
    family: str
    measure: str
    better_if: str
    estimand: str
    method: str
    estimate: float
    std_error: float
    level: float
    ci_lower: float
    ci_upper: float
    p_value: float
    n_obs: int
    n_units: int
    n_clusters: int | None
    variance_type: str
    df: float | None = None  # degrees of freedom of the reference t distribution (None: normal)
    path: tuple[dict[str, Any], ...] = ()  # per-period effects, tidy rows
    diagnostics: Mapping[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # "log" when the estimate is a log ratio (log outcomes, Poisson rate ratios); None: derived from measure
    scale: str | None = None
    # in-memory only (not in to_dict): influence values / bootstrap draws for joint uncertainty
    sampling: Sampling | None = field(default=None, compare=False, repr=False)
    # wild bootstrap or randomisation inference beside the analytic interval (set by the pipeline)
    inference: AlternativeInference | None = None
    # typed results read by checks and the report (cpeval.payloads); results.json writes each into
    # ``diagnostics`` under its key
    payloads: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.scale is None:
            object.__setattr__(self, "scale", "log" if self.measure == "log" else "level")
        if self.scale not in ("level", "log"):
            raise ValueError(f"Effect.scale must be 'level' or 'log', got {self.scale!r}")

    def conf_int(self, level: float | None = None) -> tuple[float, float]:
        """Confidence interval at ``level`` (default: the design's level), from the same reference law."""
        if level is None or math.isclose(level, self.level):
            return (self.ci_lower, self.ci_upper)
        if not math.isfinite(self.std_error):
            raise ValueError(
                f"{self.outcome}: the {self.method} interval is not built from a standard error, so it exists only "
                f"at the design's level {self.level}; set inference.level to {level} and re-run"
            )
        crit = critical_value(level, self.df)
        return (self.estimate - crit * self.std_error, self.estimate + crit * self.std_error)

    @property
    def percent_change(self) -> tuple[float, float, float] | None:
        """For effects on the log scale (log outcomes, rate ratios): 100*(exp(b)-1) with the interval
        transformed the same way; else None."""
        if self.scale != "log":
            return None
        return tuple(100.0 * math.expm1(v) for v in (self.estimate, self.ci_lower, self.ci_upper))  # type: ignore[return-value]

    @property
    def improved(self) -> bool | None:
        """True if the interval excludes zero in the good direction, False in the bad, None otherwise."""
        good_sign = -1 if self.better_if == "decrease" else 1
        if self.ci_lower > 0:
            return good_sign > 0
        if self.ci_upper < 0:
            return good_sign < 0
        return None

    def path_table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(list(self.path))

    def tidy(self) -> pd.DataFrame:
        import pandas as pd

        skip = ("path", "diagnostics", "inference")
        return pd.DataFrame([{k: v for k, v in self.to_dict().items() if k not in skip}])

    def payload(self, kind: type[P]) -> P | None:
        """The payload of type ``kind`` (a class of :mod:`cpeval.payloads`) this Effect carries, or None."""
        return next((p for p in self.payloads if isinstance(p, kind)), None)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "outcome": self.outcome,
                "family": self.family,
                "measure": self.measure,
                "better_if": self.better_if,
                "estimand": self.estimand,
                "method": self.method,
                "estimate": self.estimate,
                "std_error": self.std_error,
                "level": self.level,
                "conf_int": [self.ci_lower, self.ci_upper],
                "p_value": self.p_value,
                "percent_change": self.percent_change,
                "n_obs": self.n_obs,
                "n_units": self.n_units,
                "n_clusters": self.n_clusters,
                "variance_type": self.variance_type,
                "df": self.df,
                "scale": self.scale,
                "path": list(self.path),
                "diagnostics": {**self.diagnostics, **{p.key: p.to_dict() for p in self.payloads}},
                "warnings": list(self.warnings),
                "inference": None if self.inference is None else self.inference.to_dict(),
            }
        )

    def summary(self) -> str:
        pct = self.percent_change
        pct_s = f" ({pct[0]:+.1f}% [{pct[1]:+.1f}%, {pct[2]:+.1f}%])" if pct else ""
        return (
            f"{self.outcome}: {self.estimand.upper()} = {self.estimate:.4g} "
            f"(SE {self.std_error:.4g}; {self.level:.0%} CI [{self.ci_lower:.4g}, {self.ci_upper:.4g}]; "
            f"p = {self.p_value:.3g}){pct_s} — {self.method}, {self.n_obs} obs, {self.n_units} units"
            + (f"; {self.inference.method.replace('_', ' ')} p = {self.inference.p_value:.3g}"
               if self.inference is not None else "")
        )


def critical_value(level: float, df: float | None = None) -> float:
    """Two-sided critical value of the normal (df=None) or Student t law."""
    if df is None:
        return _z(level)
    from scipy import stats

    return float(stats.t.ppf(0.5 + level / 2, df))


def p_value(t_stat: float, df: float | None = None) -> float:
    """Two-sided p-value of ``t_stat`` under the normal (df=None) or Student t law."""
    from scipy import stats

    if not math.isfinite(t_stat):
        return float("nan")
    if df is None:
        return float(2 * stats.norm.sf(abs(t_stat)))
    return float(2 * stats.t.sf(abs(t_stat), df))


@dataclass(frozen=True)
class CheckResult(Summarised):
    """The outcome of one check (pre-trends, placebo, refuter, displacement, ...)."""

    name: str
    status: Status
    message: str
    outcome: str | None = None
    table: tuple[dict[str, Any], ...] = ()
    figures: tuple[str, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"CheckResult.status must be one of {STATUSES}, got {self.status!r}")

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "name": self.name,
                "status": self.status,
                "message": self.message,
                "outcome": self.outcome,
                "table": list(self.table),
                "figures": list(self.figures),
                "values": dict(self.values),
            }
        )

    def summary(self) -> str:
        scope = f" [{self.outcome}]" if self.outcome else ""
        return f"{self.status.upper():5s} {self.name}{scope}: {self.message}"


@dataclass(frozen=True)
class EvaluationResult(Summarised):
    """Everything one evaluation produced; the report, CLI, notebooks and book all read this."""

    design: Mapping[str, Any]
    design_hash: str
    design_origin: str | None
    data_sha256: str
    data_summary: Mapping[str, Any]
    cpeval_version: str
    effects: tuple[Effect, ...]
    checks: tuple[CheckResult, ...] = ()
    warnings: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)
    # unintended consequences (displacement, adverse indicators, disproportionality, subgroups, refuters)
    consequences: ConsequencesResult | None = None
    # the cost-benefit analysis of the priced effects (cpeval.cba); results.json key "cost_benefit"
    cost_benefit: CostBenefitResult | None = None
    # the evidence rating (Maryland SMS level, reading per outcome) and a claim's verdicts (cpeval.appraise)
    rating: EvidenceRating | None = None
    claims: ClaimValidation | None = None

    @property
    def name(self) -> str:
        return str(self.design.get("name", ""))

    def effect(self, outcome: str) -> Effect:
        for e in self.effects:
            if e.outcome == outcome:
                return e
        names = ", ".join(e.outcome for e in self.effects)
        raise KeyError(f"no effect for outcome {outcome!r}; outcomes: {names}")

    def tidy(self) -> pd.DataFrame:
        import pandas as pd

        return pd.concat([e.tidy() for e in self.effects], ignore_index=True)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "cpeval_version": self.cpeval_version,
                "design": dict(self.design),
                "design_hash": self.design_hash,
                "data_sha256": self.data_sha256,
                "data_summary": dict(self.data_summary),
                "effects": [e.to_dict() for e in self.effects],
                "checks": [c.to_dict() for c in self.checks],
                "warnings": list(self.warnings),
                "extras": dict(self.extras),
                **({} if self.consequences is None else {"consequences": self.consequences.to_dict()}),
                **({} if self.cost_benefit is None else {"cost_benefit": self.cost_benefit.to_dict()}),
                **({} if self.rating is None else {"rating": self.rating.to_dict()}),
                **({} if self.claims is None else {"claims": self.claims.to_dict()}),
            }
        )

    def to_json(self, indent: int = 2) -> str:
        """Deterministic JSON: the same design and data give the same bytes (no timestamps, sorted keys)."""
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True, allow_nan=False) + "\n"

    def summary(self) -> str:
        lines = [f"Evaluation: {self.name}  (design {self.design_hash[:12]}, data {self.data_sha256[:12]})"]
        lines += [f"  {e.summary()}" for e in self.effects]
        lines += [f"  {c.summary()}" for c in self.checks]
        lines += [f"  WARNING: {w}" for w in self.warnings]
        return "\n".join(lines)


def effects_in_family_order(effects: Sequence[Effect]) -> list[Effect]:
    """Effects ordered as para 23(c) lists them: crime, seriousness, fear, then other (stable)."""
    from cpeval.designs.families import FAMILY_ORDER

    return sorted(effects, key=lambda e: FAMILY_ORDER.index(e.family) if e.family in FAMILY_ORDER else 99)
