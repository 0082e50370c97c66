"""Baseline balance of a randomised trial: standardised differences, variance ratios and a joint test."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from cpeval.results import CheckResult

if TYPE_CHECKING:
    from cpeval.data.panel import Panel
    from cpeval.results import Effect


def joint_test(X: np.ndarray, z: np.ndarray, block: np.ndarray | None, cluster: np.ndarray | None) -> dict:
    """Wald test that the covariates do not predict assignment (z on 1, X, block dummies; HC2 or CR2)."""
    from scipy import stats

    from cpeval.estimation.rct.robust import ols_with_blocks

    p = X.shape[1]
    fit = ols_with_blocks(X, z, block, cluster)
    b, V = fit.beta, fit.vcov
    wald = float(b @ np.linalg.solve(V, b))
    kind = "CR2" if cluster is not None else "HC2"
    return {"statistic": wald, "df": p, "p_value": float(stats.chi2.sf(wald, p)),
            "test": f"Wald chi2: covariates jointly predict assignment ({kind})"}


def balance_table(X: np.ndarray, z: np.ndarray, names: Sequence[str]) -> list[dict]:
    t = z.astype(bool)
    m1, m0 = X[t].mean(axis=0), X[~t].mean(axis=0)
    v1, v0 = X[t].var(axis=0, ddof=1), X[~t].var(axis=0, ddof=1)
    pooled = np.sqrt((v1 + v0) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        sd_diff = np.where(pooled > 0, (m1 - m0) / pooled, 0.0)
        ratio = np.where(v0 > 0, v1 / v0, np.nan)
    return [
        {"covariate": n, "mean_treated": float(a), "mean_control": float(b), "std_diff": float(s),
         "variance_ratio": float(r)}
        for n, a, b, s, r in zip(names, m1, m0, sd_diff, ratio, strict=True)
    ]


def _recode(codes: np.ndarray | None, keep: np.ndarray) -> np.ndarray | None:
    """``codes`` of the kept rows as 0..K-1 (a block or cluster lost entirely must not leave a gap)."""
    return None if codes is None else np.unique(codes[keep], return_inverse=True)[1]


def check_balance(panel: Panel, effects: Sequence[Effect]) -> list[CheckResult]:
    from cpeval.estimation.rct.estimators import trial_frame

    design = panel.design
    opts = design.checks.options("balance")
    covs = list(design.estimator.covariates)  # type: ignore[attr-defined]
    if not covs:
        return [CheckResult("balance", "info", "no baseline covariates declared (estimator.covariates); "
                            "nothing to compare between the arms")]
    tf = trial_frame(panel, design)  # type: ignore[arg-type]
    X = tf.frame[covs].to_numpy(float)
    table = balance_table(X, tf.z, covs)
    joint = joint_test(X, tf.z, tf.block, tf.cluster)
    values: dict = {"joint": joint, "max_abs_std_diff": max(abs(r["std_diff"]) for r in table),
                    "thresholds": {"max_std_diff": opts.max_std_diff, "alpha": opts.alpha}}
    if design.attrition is not None:  # type: ignore[attr-defined]
        keep = tf.observed
        values["joint_analysed_sample"] = joint_test(X[keep], tf.z[keep], _recode(tf.block, keep),
                                                     _recode(tf.cluster, keep))
        for row, r2 in zip(table, balance_table(X[keep], tf.z[keep], covs), strict=True):
            row["std_diff_analysed"] = r2["std_diff"]
    big = [r["covariate"] for r in table if abs(r["std_diff"]) > opts.max_std_diff]
    problems = []
    if big:
        problems.append(f"standardised difference above {opts.max_std_diff:g} for {', '.join(big)}")
    if joint["p_value"] < opts.alpha:
        problems.append(f"covariates jointly predict assignment (p = {joint['p_value']:.3g})")
    if problems:
        advice = ("the Lin adjustment already accounts for them; check how the randomisation was carried out"
                  if design.estimator.capabilities.covariate_adjusted  # type: ignore[attr-defined]
                  else "adjust for these covariates (estimator.method: lin) and check how the randomisation "
                  "was carried out")
        return [CheckResult("balance", "warn", "; ".join(problems) + "; " + advice, table=tuple(table),
                            values=values)]
    return [CheckResult(
        "balance", "pass",
        f"{len(covs)} baseline covariate(s) balanced: largest |standardised difference| "
        f"{values['max_abs_std_diff']:.3f}; joint test p = {joint['p_value']:.3g}",
        table=tuple(table), values=values,
    )]
