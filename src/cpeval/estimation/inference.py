"""Shared inference helpers: intervals and p-values from an estimate, its SE and a reference law."""

from __future__ import annotations

from dataclasses import dataclass

from cpeval.results import critical_value, p_value

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


def few_clusters_warning(n_clusters: int | None, column: str) -> str | None:
    if n_clusters is not None and n_clusters < FEW_CLUSTERS:
        return (
            f"only {n_clusters} clusters of {column!r}: cluster-robust standard errors can be too small with "
            f"fewer than about {FEW_CLUSTERS}; treat the interval with caution (wild-cluster bootstrap or "
            "randomisation inference is safer)"
        )
    return None
