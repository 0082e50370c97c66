"""Difference-in-differences estimators."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cpeval.designs.did import DidDesign


def small_sample_dof(design: DidDesign, default: str) -> str:
    """The degrees-of-freedom convention for ``estimator.small_sample`` ('auto': ``default``): 'all' (every
    fixed effect in K), 'nested' (fixest's default count) or 'none' (G/(G-1) alone, no (N-1)/(N-K))."""
    return {"auto": default, "areg": "all", "reghdfe": "nested"}[design.estimator.small_sample]


def clustered_variance_text(cluster: str, dof: str) -> str:
    """How the clustered standard errors were computed, for Effect.variance_type."""
    if dof == "none":
        return f"cluster-robust by {cluster!r} (G/(G-1), no (N-1)/(N-K), as R fixest ssc(adj = FALSE)); t with G-1 df"
    k = ("every fixed effect counted in K, as Stata areg / linearmodels PanelOLS" if dof == "all" else
         "a fixed effect nested in the clusters counts one parameter in K, as R fixest's default ssc() and "
         "Stata xtreg, fe / reghdfe")
    return f"cluster-robust by {cluster!r} (CR1: G/(G-1), (N-1)/(N-K), {k}); t with G-1 df"
