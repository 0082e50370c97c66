"""Shared inference helpers: intervals and p-values from an estimate, its SE and a reference law."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cpeval.payloads import ClusterCounts, Payload
from cpeval.results import Effect, Sampling, critical_value, p_value

if TYPE_CHECKING:
    from cpeval.designs.outcomes import OutcomeSpec

FEW_CLUSTERS = 30


@dataclass(frozen=True)
class Interval:
    lower: float
    upper: float
    p_value: float


def wald_interval(estimate: float, std_error: float, level: float, df: float | None) -> Interval:
    """Two-sided interval and p-value of estimate/SE under t(df) (normal if df is None)."""
    crit = critical_value(level, df)
    t = estimate / std_error if std_error > 0 else float("nan")
    return Interval(estimate - crit * std_error, estimate + crit * std_error, p_value(t, df))


def few_clusters_warning(
    n_clusters: int | None,
    column: str | None,
    threshold: int = FEW_CLUSTERS,
    advice: str = "treat the interval with caution (wild-cluster bootstrap or randomisation inference is safer)",
) -> str | None:
    """The warning for cluster-robust errors with fewer than ``threshold`` clusters, or None."""
    if n_clusters is not None and n_clusters < threshold:
        return (
            f"only {n_clusters} clusters of {column!r}: cluster-robust standard errors can be too small with "
            f"fewer than about {threshold}; {advice}"
        )
    return None


# Cluster-robust tests over-reject when few clusters are treated (or untreated), whatever the total:
# MacKinnon & Webb (2017, J. Applied Econometrics 32(2); 2018, Econometrics Journal 21(2)) find them
# unreliable below about 10 treated clusters, and with one treated cluster they fail outright (Conley &
# Taber 2011, REStat 93(1)).
FEW_TREATED_CLUSTERS = 10
# Below this many treated (or untreated) clusters ``auto`` randomises: the Poisson score bootstrap under-rejects
# there and no wild bootstrap is valid with a single one (benchmarks/README.md, few treated areas).
RANDOMISE_BELOW = 5
VALID_INFERENCE = ("set inference.method: auto (the wild bootstrap, or randomisation below "
                   f"{RANDOMISE_BELOW} treated or untreated clusters), wild_bootstrap or randomization")
SINGLE_CLUSTER_INFERENCE = ("set inference.method: randomization (or auto, which randomises here; no wild "
                            "bootstrap is valid with a single treated or untreated cluster)")
# an estimator for which auto adds nothing (no wild bootstrap: Callaway & Sant'Anna) can only be randomised
RANDOMISE_ONLY = ("set inference.method: randomization (auto adds no other inference for this estimator, which has "
                  "no wild bootstrap)")
NO_INTERVAL = Interval(float("nan"), float("nan"), float("nan"))


def _gstar(counts: ClusterCounts) -> str:
    return "" if counts.effective is None else f" (effective number of clusters G* = {counts.effective:.1f})"


def cluster_warnings(counts: ClusterCounts, auto: bool = True) -> list[str]:
    """Why cluster-robust inference may not be trusted with these clusters, with what to use instead ([] if
    nothing). ``auto``: whether ``inference.method: auto`` adds a wild bootstrap or randomisation for the
    estimator. (A trial with a single cluster in an arm never gets here: it cannot estimate its variance.)"""
    col, g = counts.column, counts.total
    single = SINGLE_CLUSTER_INFERENCE if auto else RANDOMISE_ONLY
    valid = VALID_INFERENCE if auto else RANDOMISE_ONLY
    if g < 3:
        return []  # no analytic inference at all: see ``degenerate``
    if counts.treated == 1:
        return [f"only one of the {g} clusters of {col!r} is treated{_gstar(counts)}: cluster-robust standard "
                "errors are unreliable with a single treated cluster whatever the total number of clusters "
                f"(Conley & Taber 2011; MacKinnon & Webb 2017); {single}, or use a synthetic control "
                "(kind: synthetic_control)"]
    for n, what in ((counts.treated, "treated"), (counts.untreated, "untreated")):
        if 0 < n < FEW_TREATED_CLUSTERS:
            fix = single if n == 1 else valid
            return [f"only {n} of the {g} clusters of {col!r} {'is' if n == 1 else 'are'} {what}{_gstar(counts)}: "
                    f"cluster-robust tests over-reject when fewer than about {FEW_TREATED_CLUSTERS} clusters are "
                    f"treated (or untreated), whatever the total (MacKinnon & Webb 2017, 2018); {fix}"]
    if g < FEW_CLUSTERS:
        return [f"only {g} clusters of {col!r}{_gstar(counts)}: cluster-robust standard errors can be too small "
                f"with fewer than about {FEW_CLUSTERS}; {valid}"]
    return []


def degenerate(counts: ClusterCounts, std_error: float, scale: float) -> str | None:
    """Why the design cannot estimate its own sampling error (fewer than 3 clusters, or a cluster-robust
    variance that is numerically zero against ``scale``, e.g. one treated and one control cluster), or None."""
    if counts.total < 3:
        why = f"only {counts.total} clusters of {counts.column!r}"
    elif not std_error > 1e-8 * scale:
        why = (f"the cluster-robust variance is degenerate (SE {std_error:.2g} with {counts.treated} treated and "
               f"{counts.untreated} untreated clusters of {counts.column!r})")
    else:
        return None
    return (f"this design cannot estimate its own sampling error: {why}; no standard error, interval or "
            f"p-value is reported; {VALID_INFERENCE}, or use a synthetic control (kind: synthetic_control)")


def count_clusters(clusters: Any, treated: Any, column: str, leverage: Any = None) -> ClusterCounts:
    """Count the clusters of the rows' ``clusters`` labels, those holding a ``treated`` row (bool per row)
    and, from ``leverage`` (per row, the weight c_i of its error in the coefficient, a'(X'WX)^-1 x_i w_i
    scaled by the error's standard deviation), G* with independent errors (rho = 0):
    gamma_g = sum_{i in g} c_i^2 and G* = G / (1 + Gamma) = (sum gamma_g)^2 / sum gamma_g^2, Gamma being
    the squared coefficient of variation of gamma_g (Carter, Schnepel & Steigerwald 2017, REStat 99(4))."""
    import numpy as np

    labels, g = np.unique(np.asarray(clusters), return_inverse=True)
    has_treated = np.bincount(g, weights=np.asarray(treated, dtype=float), minlength=len(labels)) > 0
    effective = None
    if leverage is not None:
        gamma = np.bincount(g, weights=np.asarray(leverage, dtype=float) ** 2, minlength=len(labels))
        ss = float(gamma @ gamma)
        effective = float(gamma.sum() ** 2 / ss) if ss > 0 else None
    return ClusterCounts(column, len(labels), int(has_treated.sum()), int((~has_treated).sum()), effective)


def cluster_inference(counts: ClusterCounts, std_error: float, scale: float, auto: bool = True
                      ) -> tuple[float, Interval | None, list[str]]:
    """The standard error and interval to report with the notes on the clusters: NaN and a NaN interval when
    the design cannot estimate its own sampling error, else ``std_error`` and None (the Wald interval)."""
    notes = cluster_warnings(counts, auto=auto)
    why = degenerate(counts, std_error, scale)
    if why is None:
        return std_error, None, notes
    return float("nan"), NO_INTERVAL, [*notes, why]


def make_effect(
    outcome: OutcomeSpec,
    *,
    method: str,
    estimand: str,
    estimate: float,
    std_error: float,
    level: float,
    df: float | None,
    n_obs: int,
    n_units: int,
    n_clusters: int | None,
    variance_type: str,
    path: tuple[dict[str, Any], ...] = (),
    diagnostics: Mapping[str, Any] | None = None,
    warnings: Sequence[str] = (),
    scale: str | None = None,
    sampling: Sampling | None = None,
    interval: Interval | None = None,
    payloads: Sequence[Payload] = (),
) -> Effect:
    """Build an :class:`Effect` for ``outcome``: the interval and p-value come from estimate, SE and t(df).

    Every estimator reports through this one function, so intervals are computed the same way everywhere.
    Each note in ``warnings`` is also emitted as a :class:`CpevalWarning` (the Effect records it too).
    ``scale="log"`` marks an estimate that is a log ratio whatever the outcome's measure (Poisson rate
    ratios); by default the scale follows the measure. ``sampling`` carries the estimate's influence values
    or bootstrap draws (in memory only) so that uncertainty can be combined across outcomes. ``interval``
    replaces the Wald interval and p-value for estimators whose inference is not built from a standard error
    (conformal or permutation intervals; ``std_error`` is then NaN). ``payloads`` are the typed results
    (:mod:`cpeval.payloads`) that checks and the report read.
    """
    warn_notes(outcome.name, warnings)
    ci = interval if interval is not None else wald_interval(estimate, std_error, level, df)
    return Effect(
        outcome=outcome.name,
        family=outcome.family,
        measure=outcome.measure,
        better_if=outcome.better_if,
        estimand=estimand,
        method=method,
        estimate=float(estimate),
        std_error=float(std_error),
        level=level,
        ci_lower=ci.lower,
        ci_upper=ci.upper,
        p_value=ci.p_value,
        n_obs=int(n_obs),
        n_units=int(n_units),
        n_clusters=None if n_clusters is None else int(n_clusters),
        variance_type=variance_type,
        df=df,
        path=tuple(path),
        diagnostics=dict(diagnostics or {}),
        warnings=tuple(warnings),
        scale=scale,
        sampling=sampling,
        payloads=tuple(payloads),
    )


def warn_notes(outcome: str, notes: Sequence[str]) -> None:
    """Emit each statistical note about ``outcome`` as a CpevalWarning (results record them as well)."""
    import warnings as _warnings

    from cpeval.errors import CpevalWarning

    for note in notes:
        _warnings.warn(f"{outcome}: {note}", CpevalWarning, stacklevel=3)


def code_labels(codes: Any, raw: Any) -> Any:
    """The raw label of each integer code 0..max(codes), from rows holding both (``codes[i]`` labels ``raw[i]``)."""
    import numpy as np

    raw = np.asarray(raw)
    out = np.empty(int(np.max(codes)) + 1, dtype=raw.dtype)
    out[codes] = raw
    return out


def effect_correlation(effects: Sequence[Effect]) -> tuple[Any, list[str], list[list[int]]]:
    """Sampling correlation matrix of ``effects`` from their influence values, notes on what is assumed, and
    the groups of effects (indices) whose joint law is known; every other effect is a group of its own.

    Effects whose influences come from the same data (``Sampling.source``) and are labelled by the same
    column (the same clusters or units) get the correlation of their influence vectors over the union of
    labels (a label missing from one is a zero contribution there); this is the cluster-robust
    cross-covariance a stacked regression would report, scaled to a correlation. Any other pair is taken as
    uncorrelated and a note says so. The matrix is block-diagonal in the groups, hence positive semi-definite.
    """
    import numpy as np

    k = len(effects)
    corr = np.eye(k)
    notes: list[str] = []
    by_key: dict[tuple[str | None, str], list[int]] = {}
    alone: list[int] = []
    for j, e in enumerate(effects):
        s = e.sampling
        usable = s is not None and s.influence is not None and s.by is not None
        if usable and not np.any(np.asarray(s.influence, dtype=float)):  # type: ignore[union-attr]
            usable = False  # a zero influence vector (SE 0) has no direction to correlate
        if not usable:
            alone.append(j)
            if k > 1:
                notes.append(f"{e.outcome}: no influence values were kept for this {e.method} estimate of the "
                             f"{e.estimand}, so it is taken as uncorrelated with the other effects")
            continue
        by_key.setdefault((s.source, s.by), []).append(j)  # type: ignore[union-attr]
    if len(by_key) > 1:
        notes.append("effects with influence from different data or by different columns ("
                     + ", ".join(sorted(by for _, by in by_key)) + ") are taken as uncorrelated across them")
    for members in by_key.values():
        if len(members) < 2:
            continue
        labels = np.unique(np.concatenate([np.asarray(effects[j].sampling.labels) for j in members]))  # type: ignore[union-attr]
        m = np.zeros((len(members), len(labels)))
        for r, j in enumerate(members):
            s = effects[j].sampling
            idx = np.searchsorted(labels, np.asarray(s.labels))  # type: ignore[union-attr]
            np.add.at(m[r], idx, np.asarray(s.influence, dtype=float))  # type: ignore[union-attr]
        norm = np.sqrt((m**2).sum(axis=1))
        corr[np.ix_(members, members)] = np.clip((m @ m.T) / np.outer(norm, norm), -1.0, 1.0)
        np.fill_diagonal(corr, 1.0)
    groups = sorted([*by_key.values(), *([j] for j in alone)], key=min)
    return corr, notes, groups
