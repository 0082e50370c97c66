"""Difference-in-differences estimators."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpeval.designs.did import DidDesign


def small_sample_dof(design: DidDesign, default: str) -> str:
    """The ``panel_ols`` degrees-of-freedom convention for ``estimator.small_sample`` ('auto': ``default``)."""
    return {"auto": default, "areg": "all", "reghdfe": "nested"}[design.estimator.small_sample]


def clustered_variance_text(cluster: str, dof: str) -> str:
    """How the clustered standard errors were computed, for Effect.variance_type."""
    k = ("every fixed effect counted in K, as Stata areg / linearmodels PanelOLS" if dof == "all" else
         "unit or period effects nested in the clusters not counted in K, as Stata reghdfe / R fixest")
    return f"cluster-robust by {cluster!r} (CR1: G/(G-1), (N-1)/(N-K), {k}); t with G-1 df"
