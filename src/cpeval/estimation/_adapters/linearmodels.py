"""Thin wrappers over linearmodels; imported lazily so `import cpeval` stays fast."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class PanelFit:
    params: pd.Series
    std_errors: pd.Series
    nobs: int
    n_clusters: int | None
    rsquared_within: float


def panel_ols(
    frame: pd.DataFrame,
    *,
    unit: str,
    time: str,
    y: str,
    x: list[str],
    weights: str | None,
    cluster: str,
) -> PanelFit:
    """Two-way fixed effects by linearmodels ``PanelOLS`` with cluster-robust errors.

    Options: ``entity_effects=True, time_effects=True``, ``cov_type='clustered'`` with
    ``debiased=True`` ((N-1)/(N-K) correction) and ``group_debias=True`` (G/(G-1)), which together give
    the small-sample correction Stata's ``areg``/``reghdfe`` apply to clustered errors.
    """
    import warnings

    from linearmodels.panel import PanelOLS

    indexed = frame.set_index([unit, time])
    w = indexed[weights] if weights else None
    model = PanelOLS(indexed[y], indexed[x], entity_effects=True, time_effects=True, weights=w, drop_absorbed=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)
        if cluster == unit:
            res = model.fit(cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)
        else:
            clusters = indexed[[cluster]].astype("category").apply(lambda s: s.cat.codes)
            res = model.fit(cov_type="clustered", clusters=clusters, debiased=True, group_debias=True)
    n_clusters = int(frame[cluster].nunique())
    return PanelFit(
        params=res.params,
        std_errors=res.std_errors,
        nobs=int(res.nobs),
        n_clusters=n_clusters,
        rsquared_within=float(res.rsquared_within),
    )
