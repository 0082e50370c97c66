"""Difference-in-differences estimators."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from cpeval.designs.did import DidDesign
    from cpeval.estimation.inference import ClusterCounts


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


def did_clusters(frame: pd.DataFrame, time: str, cluster: str, leverage: np.ndarray | None = None) -> ClusterCounts:
    """Cluster counts of a DiD estimation frame. A cluster is treated when it holds a unit whose treatment
    starts within the data; units treated from the first period (absorbed by their unit effect) and a
    comparison cohort count as untreated. ``leverage``: each row's weight in the reported coefficient."""
    from cpeval.data.panel import COHORT
    from cpeval.estimation.inference import count_clusters

    cohort = frame[COHORT]
    treated = (cohort.notna() & (cohort > frame[time].min())).to_numpy()
    return count_clusters(frame[cluster].to_numpy(), treated, cluster, leverage)
