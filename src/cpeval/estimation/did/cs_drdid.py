"""The 2x2 building blocks of Callaway & Sant'Anna: one ATT and its influence function per (g, t) cell.

These follow Sant'Anna & Zhao (2020) as R ``DRDID`` implements them and R ``did::att_gt`` calls them:
``reg`` is outcome regression (Heckman, Ichimura & Todd 1997), ``ipw`` the standardised (Hajek)
inverse-probability weighting of Abadie (2005), ``dr`` the doubly robust estimator — for panels the
locally efficient ``drdid_panel``, for repeated cross-sections the locally efficient ``drdid_rc`` with
separate outcome regressions for both groups in both periods. The propensity score is a weighted logit,
capped at 1 - 1e-6, with comparison units whose score exceeds 0.995 trimmed, as DRDID does.

Every function returns ``(att, psi)`` where ``psi`` is the influence function of the n observations passed
in, scaled so that ``att - ATT ~ mean(psi)``. Everything is vectorised over observations; ``X`` always
holds an intercept column.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cpeval.errors import EstimationError

PS_CAP = 1 - 1e-6
TRIM_LEVEL = 0.995
OVERLAP_LIMIT = 0.999


class CellProblem(EstimationError):
    """A (g, t) cell cannot be estimated (no overlap, too few comparison units); the cell becomes NaN."""


def _only_intercept(X: np.ndarray) -> bool:
    return X.shape[1] == 1


@dataclass(frozen=True)
class _Fitted:
    """A fitted nuisance model; ``lin_rep(m)`` is its estimation effect score_i * X_i' inv m."""

    _score: np.ndarray
    _X: np.ndarray
    _inv: np.ndarray

    def lin_rep(self, m: np.ndarray) -> np.ndarray:
        return self._score * (self._X @ (self._inv @ m))


@dataclass(frozen=True)
class _Ols(_Fitted):
    """Weighted least squares on a subset; ``inv`` is (X'WX/n)^-1."""

    fitted: np.ndarray


def _ols(X: np.ndarray, y: np.ndarray, w: np.ndarray, subset: np.ndarray, what: str) -> _Ols:
    n = len(y)
    ws = w * subset
    if _only_intercept(X):
        total = ws.sum()
        if total <= 0:
            raise CellProblem(f"no {what} to fit the outcome regression")
        beta = np.array([(ws @ y) / total])
        xtx = np.array([[total / n]])
    else:
        xtx = (X.T * ws) @ X / n
        if np.linalg.cond(xtx) > 1 / np.finfo(float).eps:
            raise CellProblem(f"too few {what} (or collinear covariates) to fit the outcome regression")
        beta = np.linalg.solve(xtx, (X.T * ws) @ y / n)
    fitted = X @ beta
    return _Ols(fitted=fitted, _score=ws * (y - fitted), _X=X, _inv=np.linalg.inv(xtx))


@dataclass(frozen=True)
class _Logit(_Fitted):
    """Propensity-score logit; ``inv`` is n times the inverse Hessian."""

    ps: np.ndarray
    trim: np.ndarray


def _logit(X: np.ndarray, D: np.ndarray, w: np.ndarray) -> _Logit:
    """Weighted logit of D on X (Newton-Raphson), with R DRDID's cap and trimming."""
    n = len(D)
    if _only_intercept(X):
        p = float(w @ D) / float(w.sum())
        ps = np.full(n, p)
    else:
        beta = np.zeros(X.shape[1])
        beta[0] = np.log(max(w @ D, 1e-12) / max(w @ (1 - D), 1e-12))
        for _ in range(100):
            ps = 1 / (1 + np.exp(-(X @ beta)))
            h = (X.T * (w * ps * (1 - ps))) @ X
            try:
                step = np.linalg.solve(h, X.T @ (w * (D - ps)))
            except np.linalg.LinAlgError as exc:
                raise CellProblem("the propensity-score logit is singular (collinear covariates?)") from exc
            beta = beta + step
            if np.max(np.abs(step)) < 1e-11 * (1 + np.max(np.abs(beta))):
                break
        ps = 1 / (1 + np.exp(-(X @ beta)))
    if np.max(ps) >= OVERLAP_LIMIT:
        raise CellProblem(
            f"overlap fails: some propensity scores reach {np.max(ps):.4f} (>= {OVERLAP_LIMIT}), i.e. the "
            "covariates (almost) single out the cohort; use fewer or coarser covariates, or approach: reg"
        )
    hess = n * np.linalg.inv((X.T * (w * ps * (1 - ps))) @ X)
    ps = np.minimum(ps, PS_CAP)
    trim = np.where(D == 1, 1.0, (ps < TRIM_LEVEL).astype(float))
    return _Logit(ps=ps, trim=trim, _score=w * (D - ps), _X=X, _inv=hess)


def _cm(v: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Column means of v[:, None] * X without forming the product."""
    return (v @ X) / len(v)


# ----------------------------------------------------------------------------------------------- panel


def panel_att(
    approach: str, dy: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """ATT and influence function from one difference dy = y_post - y_pre per unit (panel data)."""
    w = w / w.mean()
    if _only_intercept(X):
        return _means_panel(approach, dy, D, w)
    if approach == "reg":
        return _reg_panel(dy, D, X, w)
    if approach == "ipw":
        return _ipw_panel(dy, D, X, w)
    return _dr_panel(dy, D, X, w)


def _means_panel(approach: str, dy: np.ndarray, D: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Without covariates reg, ipw and dr are all the difference of the two groups' mean changes (and have
    the same influence function); computed directly. The overlap check of ipw/dr still applies."""
    wt = w * D
    wc = w - wt
    st, sc = wt.sum(), wc.sum()
    if sc <= 0:
        raise CellProblem("no comparison units")
    if approach != "reg" and st / (st + sc) >= OVERLAP_LIMIT:
        raise CellProblem(f"overlap fails: the treated share of the cell is {st / (st + sc):.4f}")
    if approach != "reg" and st / (st + sc) >= TRIM_LEVEL:
        raise CellProblem(f"every comparison unit is trimmed (propensity score {st / (st + sc):.4f})")
    n = len(dy)
    m1 = (wt @ dy) / st
    m0 = (wc @ dy) / sc
    psi = (n / st) * wt * (dy - m1) - (n / sc) * wc * (dy - m0)
    return float(m1 - m0), psi


def _reg_panel(dy: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    ols = _ols(X, dy, w, 1 - D, "comparison units")
    w_t = w * D
    m_t = w_t.mean()
    eta_t = (w_t @ dy) / len(dy) / m_t
    eta_c = (w_t @ ols.fitted) / len(dy) / m_t
    inf_t = (w_t * dy - w_t * eta_t) / m_t
    inf_c = (w_t * ols.fitted - w_t * eta_c + ols.lin_rep(_cm(w_t, X))) / m_t
    return float(eta_t - eta_c), inf_t - inf_c


def _ipw_panel(dy: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    lg = _logit(X, D, w)
    w_t = lg.trim * w * D
    w_c = lg.trim * w * lg.ps * (1 - D) / (1 - lg.ps)
    m_t, m_c = w_t.mean(), w_c.mean()
    eta_t = (w_t @ dy) / len(dy) / m_t
    eta_c = (w_c @ dy) / len(dy) / m_c
    inf_t = (w_t * dy - w_t * eta_t) / m_t
    inf_c = (w_c * dy - w_c * eta_c + lg.lin_rep(_cm(w_c * (dy - eta_c), X))) / m_c
    return float(eta_t - eta_c), inf_t - inf_c


def _dr_panel(dy: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    lg = _logit(X, D, w)
    ols = _ols(X, dy, w, 1 - D, "comparison units")
    r = dy - ols.fitted
    w_t = lg.trim * w * D
    w_c = lg.trim * w * lg.ps * (1 - D) / (1 - lg.ps)
    m_t, m_c = w_t.mean(), w_c.mean()
    eta_t = (w_t @ r) / len(r) / m_t
    eta_c = (w_c @ r) / len(r) / m_c
    inf_t = (w_t * r - w_t * eta_t - ols.lin_rep(_cm(w_t, X))) / m_t
    inf_c = (
        w_c * r - w_c * eta_c + lg.lin_rep(_cm(w_c * (r - eta_c), X)) - ols.lin_rep(_cm(w_c, X))
    ) / m_c
    return float(eta_t - eta_c), inf_t - inf_c


# ---------------------------------------------------------------------------------- repeated cross-sections


def rc_att(
    approach: str, y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    """ATT and influence function from pooled observations of two periods (repeated cross-sections)."""
    for mask, what in (
        (D * post, "treated observations in the current period"),
        (D * (1 - post), "treated observations in the base period"),
        ((1 - D) * post, "comparison observations in the current period"),
        ((1 - D) * (1 - post), "comparison observations in the base period"),
    ):
        if not mask.any():
            raise CellProblem(f"no {what}")
    w = w / w.mean()
    if approach == "reg":
        return _reg_rc(y, post, D, X, w)
    if approach == "ipw":
        return _ipw_rc(y, post, D, X, w)
    return _dr_rc(y, post, D, X, w)


def _reg_rc(
    y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    n = len(y)
    pre_c = _ols(X, y, w, (1 - D) * (1 - post), "comparison observations in the base period")
    post_c = _ols(X, y, w, (1 - D) * post, "comparison observations in the current period")
    w_t0, w_t1, w_c = w * D * (1 - post), w * D * post, w * D * post
    m_t0, m_t1, m_c = w_t0.mean(), w_t1.mean(), w_c.mean()
    a_c = w_c * (post_c.fitted - pre_c.fitted)
    eta_t0 = (w_t0 @ y) / n / m_t0
    eta_t1 = (w_t1 @ y) / n / m_t1
    eta_c = a_c.mean() / m_c
    inf_t = (w_t1 * y - w_t1 * eta_t1) / m_t1 - (w_t0 * y - w_t0 * eta_t0) / m_t0
    m1 = _cm(w_c, X)
    inf_c = (a_c - w_c * eta_c + post_c.lin_rep(m1) - pre_c.lin_rep(m1)) / m_c
    return float((eta_t1 - eta_t0) - eta_c), inf_t - inf_c


def _ipw_rc(
    y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    lg = _logit(X, D, w)
    odds = lg.trim * w * lg.ps * (1 - D) / (1 - lg.ps)
    w_t0, w_t1 = lg.trim * w * D * (1 - post), lg.trim * w * D * post
    w_c0, w_c1 = odds * (1 - post), odds * post
    parts = []
    for wt in (w_t0, w_t1, w_c0, w_c1):
        m = wt.mean()
        att = (wt @ y) / len(y) / m
        parts.append((wt, m, att, (wt * y - wt * att) / m))
    (_, _, a_t0, i_t0), (_, _, a_t1, i_t1), (_, m_c0, a_c0, i_c0), (_, m_c1, a_c1, i_c1) = parts
    m2 = _cm(w_c1 * (y - a_c1), X) / m_c1 - _cm(w_c0 * (y - a_c0), X) / m_c0
    inf = (i_t1 - i_t0) - (i_c1 - i_c0 + lg.lin_rep(m2))
    return float((a_t1 - a_t0) - (a_c1 - a_c0)), inf


def _dr_rc(
    y: np.ndarray, post: np.ndarray, D: np.ndarray, X: np.ndarray, w: np.ndarray
) -> tuple[float, np.ndarray]:
    n = len(y)
    lg = _logit(X, D, w)
    c0 = _ols(X, y, w, (1 - D) * (1 - post), "comparison observations in the base period")
    c1 = _ols(X, y, w, (1 - D) * post, "comparison observations in the current period")
    t0 = _ols(X, y, w, D * (1 - post), "treated observations in the base period")
    t1 = _ols(X, y, w, D * post, "treated observations in the current period")
    out_c = post * c1.fitted + (1 - post) * c0.fitted
    r = y - out_c
    tw = lg.trim * w
    odds = tw * lg.ps * (1 - D) / (1 - lg.ps)
    w_t0, w_t1 = tw * D * (1 - post), tw * D * post
    w_c0, w_c1 = odds * (1 - post), odds * post
    w_d, w_dt1, w_dt0 = tw * D, tw * D * post, tw * D * (1 - post)

    def comp(wt: np.ndarray, v: np.ndarray) -> tuple[float, float, np.ndarray]:
        m = wt.mean()
        att = (wt @ v) / n / m
        return m, att, (wt * v - wt * att) / m

    m_t0, a_t0, i_t0 = comp(w_t0, r)
    m_t1, a_t1, i_t1 = comp(w_t1, r)
    m_c0, a_c0, i_c0 = comp(w_c0, r)
    m_c1, a_c1, i_c1 = comp(w_c1, r)
    gap1, gap0 = t1.fitted - c1.fitted, t0.fitted - c0.fitted
    m_d, a_d1, i_d1 = comp(w_d, gap1)
    m_dt1, a_dt1, i_dt1 = comp(w_dt1, gap1)
    _, a_d0, i_d0 = comp(w_d, gap0)
    m_dt0, a_dt0, i_dt0 = comp(w_dt0, gap0)
    att = (a_t1 - a_t0) - (a_c1 - a_c0) + (a_d1 - a_dt1) - (a_d0 - a_dt0)

    # treated component: leading term plus the estimation effect of the comparison regressions
    inf_treat = (i_t1 - i_t0) + c1.lin_rep(-_cm(w_t1 * post, X) / m_t1) + c0.lin_rep(
        -_cm(w_t0 * (1 - post), X) / m_t0
    )
    # comparison component: leading term, propensity score and comparison regressions
    m2 = _cm(w_c1 * (r - a_c1), X) / m_c1 - _cm(w_c0 * (r - a_c0), X) / m_c0
    inf_cont = (
        (i_c1 - i_c0)
        + lg.lin_rep(m2)
        + c1.lin_rep(-_cm(w_c1 * post, X) / m_c1)
        + c0.lin_rep(-_cm(w_c0 * (1 - post), X) / m_c0)
    )
    # local-efficiency adjustment terms and the estimation effect of all four regressions
    inf_eff = (i_d1 - i_dt1) - (i_d0 - i_dt0)
    mom1 = _cm(w_d / m_d - w_dt1 / m_dt1, X)
    mom0 = _cm(w_d / m_d - w_dt0 / m_dt0, X)
    inf_or = (t1.lin_rep(mom1) - c1.lin_rep(mom1)) - (t0.lin_rep(mom0) - c0.lin_rep(mom0))
    return float(att), inf_treat - inf_cont + inf_eff + inf_or
