"""Separation in Poisson PML with unit and period effects, and what is left to identify once it is removed.

A zero count is *separated* when some combination z = X g + a_unit + l_period of the regressors and fixed
effects is zero on every positive count and non-negative on every zero, positive on that one: pushing the
linear index along -z raises the likelihood without end, so no finite maximum likelihood estimate exists and
IRLS drifts to a huge coefficient (a rate ratio of e^-26 instead of "not identified"). A unit or period
whose counts are all zero is the simplest case; in a DiD, the counts of every treated post-treatment row
being zero (z = D) is the usual one.

Stata ``ppmlhdfe`` (Correia, Guimaraes & Zylkin 2020, Stata Journal 20(1); 2021, "Verifying the existence
of maximum likelihood estimates for generalized linear models", arXiv:1903.01633) drops the separated
observations, which leaves the estimates of everything else unchanged, and then omits regressors that have
become collinear with the fixed effects. cpeval does the same: ``drop_all_zero`` removes units and periods
with only zero counts (the ppmlhdfe ``fe`` method, and R fixest's ``fixef.rm = "perfect"``, which stops
there), ``separated_rows`` finds the rest by the iterative rectifier of Correia et al. (section 4.2; the
``ir`` method of ppmlhdfe and pyfixest), and ``unidentified_columns`` reports the treatment terms that the
remaining rows cannot identify, which the estimator turns into an EstimationError rather than omitting
them, because the treatment effect is what the evaluation is for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

IR_TOL = 1e-5  # |fitted| below this is zero in the rectifier (ppmlhdfe's relu tolerance is 1e-5 as well)
IR_MAXIT = 1_000


def drop_all_zero(frame: pd.DataFrame, y: str, unit: str, time: str) -> tuple[pd.DataFrame, list[str]]:
    """Units or periods whose counts are all zero have a fixed effect at minus infinity: drop them (repeated,
    as dropping a period can leave a unit with only zeros)."""
    notes: list[str] = []
    while True:
        pos = frame[y].to_numpy() > 0
        unit_any = frame.groupby(unit)[y].transform("max").to_numpy() > 0
        time_any = frame.groupby(time)[y].transform("max").to_numpy() > 0
        keep = unit_any & time_any
        if keep.all() or not pos.any():
            return frame, notes
        dropped_u = frame.loc[~unit_any, unit].nunique()
        dropped_t = frame.loc[~time_any, time].nunique()
        notes.append(
            f"dropped {int((~keep).sum())} rows of {dropped_u} units and {dropped_t} periods whose counts are "
            "all zero (they carry no information under unit and period effects)"
        )
        frame = frame.loc[keep]


def separated_rows(y: np.ndarray, x: np.ndarray, fe_codes: list[np.ndarray], *, tol: float = IR_TOL,
                   maxit: int = IR_MAXIT) -> np.ndarray | None:
    """Boolean mask of the separated zero counts (all False when there are none), by the iterative rectifier
    of Correia, Guimaraes & Zylkin (2021): regress u (1 on zeros, 0 on positive counts) on ``x`` and the
    fixed effects with weight K = N_positive / tol^2 on the positive counts (so the fit is pinned to zero
    there) and 1 on the zeros; set fitted values within tolerance of zero to zero; once every fitted value is
    non-negative, the zeros with a positive fit are separated; otherwise replace u on the zeros by
    max(fitted, 0) and repeat. None if it has not settled after ``maxit`` rounds."""
    from cpeval.estimation.demean import FixedEffects

    pos = y > 0
    if pos.all():
        return np.zeros(len(y), dtype=bool)
    omega = np.where(pos, pos.sum() / tol**2, 1.0)
    fe = FixedEffects(fe_codes, omega)
    xt = fe.demean(x) if x.shape[1] else x
    wx = xt * omega[:, None]
    gram_inv = np.linalg.pinv(xt.T @ wx, hermitian=True)
    u = (~pos).astype(float)
    for _ in range(maxit):
        ut = fe.demean(u)
        fitted = u - (ut - xt @ (gram_inv @ (wx.T @ ut)))
        fitted[pos | ((fitted > -0.1 * tol) & (fitted < tol))] = 0.0
        if (fitted >= 0).all():
            return fitted > 0
        u[~pos] = np.maximum(fitted[~pos], 0.0)
    return None


def unidentified_columns(x: np.ndarray, fe_codes: list[np.ndarray]) -> list[int]:
    """Columns of ``x`` (0/1 treatment terms) that the unit and period effects and the other columns absorb
    on these rows, as the linear estimators judge it (``absorbed_columns``); a column with no 1 left counts
    as absorbed."""
    from cpeval.estimation.demean import FixedEffects
    from cpeval.estimation.fixed_effects import absorbed_columns

    norms = np.sqrt((x**2).sum(axis=0))
    live = np.flatnonzero(norms > 0)
    if not len(x) or not len(live):
        return list(range(x.shape[1]))
    xt = FixedEffects(fe_codes).demean(x[:, live])
    gram = xt.T @ xt
    absorbed = {int(live[j]) for j in absorbed_columns((gram + gram.T) / 2, norms[live])}
    return [j for j in range(x.shape[1]) if j in absorbed or not norms[j] > 0]


def describe_separated(sep: np.ndarray, treated: np.ndarray, treated_unit: np.ndarray) -> str:
    """Where the separated rows are: treated post-adoption rows, earlier rows of treated units, rows of
    comparison units (e.g. 'all 12 treated (post-adoption) rows')."""
    n_treated = int((sep & treated).sum())
    parts = [("all " if n_treated == int(treated.sum()) else "") + f"{n_treated} treated (post-adoption) rows",
             f"{int((sep & treated_unit & ~treated).sum())} pre-adoption rows of treated units",
             f"{int((sep & ~treated_unit).sum())} rows of comparison units"]
    return ", ".join(p for p in parts if not p.startswith(("0 ", "all 0 ")))
