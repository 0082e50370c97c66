"""Thin wrappers over linearmodels; imported lazily so `import cpeval` stays fast.

``panel_ols`` is the reference implementation of two-way fixed effects that the tests hold the fast path
(``cpeval.estimation.fixed_effects.fe_ols``) to; the estimators call the fast path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cpeval.estimation.fixed_effects import PanelFit


def panel_ols(
    frame: pd.DataFrame,
    *,
    unit: str,
    time: str,
    y: str,
    x: list[str],
    weights: str | None,
    cluster: str,
    dof: str = "all",
) -> PanelFit:
    """Two-way fixed effects by linearmodels ``PanelOLS`` with cluster-robust errors (the reference for
    ``fe_ols``, which the estimators use).

    ``dof="nested"`` (event studies) recomputes the covariance as R ``fixest`` (default ``ssc()``) and
    Stata ``xtreg, fe`` / ``reghdfe`` do: the CR0 sandwich on the two-way demeaned regressors times
    G/(G-1) (N-1)/(N-K), where K counts the regressors and the fixed-effect parameters by fixest's
    ``fixef.K = "nested"`` rule (``cpeval.estimation.fixed_effects.fixef_k``: unit effects nested in the
    clusters count one parameter). The default ``"all"`` keeps linearmodels' own correction, which counts
    every fixed effect (as Stata ``areg``) and is conservative in short panels.

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
            # codes from the frame (the cluster may be the period, which set_index moved into the index)
            clusters = pd.DataFrame({"cluster": pd.factorize(frame[cluster])[0]}, index=indexed.index)
            res = model.fit(cov_type="clustered", clusters=clusters, debiased=True, group_debias=True)
    influence, leverage, k_nested = _influence(frame, indexed, res, unit=unit, time=time, x=x, weights=weights,
                                               cluster=cluster)
    n_clusters = len(influence)
    cov = res.cov
    if dof == "nested":
        n, g = len(frame), n_clusters
        cov = (influence.T @ influence) * g / (g - 1) * (n - 1) / (n - k_nested)
    return PanelFit(
        params=res.params,
        std_errors=pd.Series(np.sqrt(np.diag(cov.to_numpy())), index=cov.index) if dof == "nested" else res.std_errors,
        nobs=int(res.nobs),
        n_clusters=n_clusters,
        rsquared_within=float(res.rsquared_within),
        cov=cov,
        influence=influence,
        leverage=leverage,
    )


def _influence(frame: pd.DataFrame, indexed: pd.DataFrame, res: Any, *, unit: str, time: str, x: list[str],
               weights: str | None, cluster: str) -> tuple[pd.DataFrame, Any, int]:
    """Each cluster's influence on the params (two-way demeaned regressors, PanelOLS residuals), each row's
    weight in them (``row_leverage``), and K for
    the fixest / reghdfe correction: the regressors plus ``fixef_k(nested=True)`` fixed-effect parameters
    (U + T - 1 when nothing is nested, as linearmodels / areg; T when the units are nested in the clusters;
    U when the periods are)."""
    from cpeval.estimation.fixed_effects import cluster_influence, demean, fixef_k, indicators, row_leverage

    u = np.unique(frame[unit].to_numpy(), return_inverse=True)[1]
    t = np.unique(frame[time].to_numpy(), return_inverse=True)[1]
    w = frame[weights].to_numpy(dtype=float) if weights else np.ones(len(frame))
    xt = demean(frame[x].to_numpy(dtype=float), [indicators(u), indicators(t)], w)
    resid = res.idiosyncratic.reindex(indexed.index).to_numpy().ravel()
    labels, infl = cluster_influence(xt, w, resid, frame[cluster].to_numpy())
    k = len(x) + fixef_k([u, t], frame[cluster].to_numpy(), nested=True)
    leverage = row_leverage(xt, w)
    return pd.DataFrame(infl, index=pd.Index(labels, name=cluster), columns=x), leverage, k


@dataclass(frozen=True)
class IvFit:
    estimate: float
    std_error: float
    nobs: int
    first_stage_coef: float
    first_stage_f: float
    first_stage_partial_r2: float
    cov_type: str
    # each row's (or, clustered, each cluster's code 0..G-1) influence on the estimate: (Z'X)^-1 z_i e_i
    influence: np.ndarray | None = None


def iv_2sls(y, d, z, exog, cluster=None) -> IvFit:
    """Complier average causal effect by two-stage least squares (linearmodels ``IV2SLS``).

    ``y`` outcome, ``d`` take-up (endogenous), ``z`` assignment (instrument), ``exog`` the exogenous
    regressors including a constant (numpy arrays). Errors are heteroskedasticity-robust with the
    n/(n-k) correction (``cov_type='robust', debiased=True``), or cluster-robust by ``cluster`` codes.
    First-stage strength: the squared robust (or clustered) t statistic of the instrument in the first
    stage, i.e. the heteroskedasticity-robust F of one instrument (equal to the Olea-Pflueger effective F
    with a single instrument), and the instrument's partial R^2.
    """
    from linearmodels.iv import IV2SLS

    n = len(y)
    exog_df = pd.DataFrame(exog, columns=["const"] + [f"x{i}" for i in range(1, exog.shape[1])])
    model = IV2SLS(
        pd.Series(np.asarray(y, float), name="y"), exog_df,
        pd.Series(np.asarray(d, float), name="received"), pd.Series(np.asarray(z, float), name="assigned"),
    )
    if cluster is None:
        res = model.fit(cov_type="robust", debiased=True)
        cov = "heteroskedasticity-robust (HC0 x n/(n-k)), linearmodels IV2SLS"
    else:
        res = model.fit(cov_type="clustered", clusters=pd.Series(cluster, name="cluster"), debiased=True)
        cov = "cluster-robust (CR1), linearmodels IV2SLS"
    fs_res = res.first_stage.individual["received"]  # first-stage OLS with the same covariance
    t_stat = float(fs_res.tstats["assigned"])
    # partial R^2 of the instrument: squared correlation of assignment and take-up after the exogenous terms
    X = np.asarray(exog, float)
    beta = np.linalg.lstsq(X, np.column_stack([d, z]).astype(float), rcond=None)[0]
    resid = np.column_stack([d, z]).astype(float) - X @ beta
    partial_r2 = float(np.corrcoef(resid.T)[0, 1] ** 2)
    # the just-identified IV sandwich's influence (linearmodels' HC0/CR0 core): row i is (Z'X)^-1 z_i e_i
    Xm, Zm = np.column_stack([X, d]).astype(float), np.column_stack([X, z]).astype(float)
    e = np.asarray(y, float) - Xm @ res.params.to_numpy()  # params: the exogenous columns, then "received"
    infl = (Zm * e[:, None]) @ np.linalg.inv(Zm.T @ Xm)[-1]
    if cluster is not None:
        infl = np.bincount(np.asarray(cluster), weights=infl)
    return IvFit(
        estimate=float(res.params["received"]),
        std_error=float(res.std_errors["received"]),
        nobs=int(n),
        first_stage_coef=float(fs_res.params["assigned"]),
        first_stage_f=t_stat**2,
        first_stage_partial_r2=partial_r2,
        cov_type=cov,
        influence=infl,
    )
