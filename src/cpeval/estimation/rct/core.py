"""Point estimates and design-based standard errors for randomised trials (numpy only).

Every estimator is one least-squares fit whose regressors encode the design:

* unblocked difference in means: y on (1, z) -- HC2 equals the Neyman variance s1^2/n1 + s0^2/n0, with
  Welch-Satterthwaite degrees of freedom;
* block-weighted difference in means: y on (1, z, D, z*D) with D the block dummies centred at their sample
  means; the coefficient on z is sum_b (n_b/n) (ybar_1b - ybar_0b) and its HC2 variance is the blockwise
  Neyman variance sum_b (n_b/n)^2 (s_1b^2/n_1b + s_0b^2/n_0b) (Imbens & Rubin 2015, ch. 9);
* block fixed effects: y on (1, z, D) (precision-weighted within-block contrasts);
* Lin (2013): covariates centred and interacted with z, added to any of the above;
* matched pairs (every block 2 units, one treated): mean of pair differences, variance
  sum_j (tau_j - tau)^2 / (J (J - 1)), J - 1 degrees of freedom (Imai 2008);
* cluster randomisation: the same regressions with CR2 errors and Bell-McCaffrey degrees of freedom;
* blocks of clusters where some block holds only two clusters (one per arm): a cluster alone in its arm adds
  nothing to a within-block variance, so the matched-pair cluster variance of Imai, King & Nall (2009) is
  used across blocks, as R estimatr's ``difference_in_means`` does.

A design with a single randomisation unit in an arm reports the estimate with a NaN standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cpeval.estimation.rct.robust import ols_cr2, ols_hc2, welch_df

MAX_DENSE_CELLS = 50_000_000  # rows x columns of a regression design matrix (400 MB) before refusing


@dataclass(frozen=True)
class Trial:
    """The analysis sample of one outcome, as arrays."""

    y: np.ndarray
    z: np.ndarray  # 0/1 float
    block: np.ndarray | None  # integer codes 0..B-1
    cluster: np.ndarray | None  # integer codes 0..G-1
    X: np.ndarray  # baseline covariates (n x p), possibly p = 0
    d: np.ndarray | None = None  # take-up, for the CACE


@dataclass(frozen=True)
class Estimate:
    estimate: float
    std_error: float
    df: float
    variance_type: str
    n_clusters: int | None
    notes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)
    # contributions to the estimate's sampling error (sum of squares = SE^2), one per unit (row of the
    # trial), cluster or block code, as ``influence_by`` says; None where not available
    influence: np.ndarray | None = None
    influence_by: str = "unit"


def dummies(codes: np.ndarray) -> np.ndarray:
    """Block dummies without the first block, centred at their sample means."""
    n_b = int(codes.max()) + 1
    D = np.zeros((len(codes), n_b - 1))
    rows = np.flatnonzero(codes > 0)
    D[rows, codes[rows] - 1] = 1.0
    return D - D.mean(axis=0)


def design_matrix(trial: Trial, adjusted: bool, blocked: str) -> np.ndarray:
    """Regressors (1, z, main effects, z x interactions; the covariates only when ``adjusted``, as Lin does)
    under ``blocked`` weighting."""
    z = trial.z
    main: list[np.ndarray] = []
    inter: list[np.ndarray] = []
    if adjusted and trial.X.shape[1]:
        Xc = trial.X - trial.X.mean(axis=0)
        main.append(Xc)
        inter.append(Xc)
    if trial.block is not None and int(trial.block.max()) > 0:
        D = dummies(trial.block)
        main.append(D)
        if blocked == "weighted":
            inter.append(D)
    blocks = [np.ones_like(z)[:, None], z[:, None], *main, *[E * z[:, None] for E in inter]]
    return np.hstack(blocks)


def arm_units(trial: Trial) -> tuple[np.ndarray, np.ndarray]:
    """Randomisation units (clusters if clustered, else people) per block in the treated and control arms."""
    b = trial.block if trial.block is not None else np.zeros(len(trial.z), dtype=np.int64)
    if trial.cluster is None:
        n1 = np.bincount(b, weights=trial.z)
        return n1, np.bincount(b) - n1
    G = int(trial.cluster.max()) + 1
    blk_c = np.zeros(G, dtype=np.int64)
    blk_c[trial.cluster] = b
    z_c = np.zeros(G)
    z_c[trial.cluster] = trial.z
    c1 = np.bincount(blk_c, weights=z_c, minlength=int(b.max()) + 1)
    return c1, np.bincount(blk_c, minlength=int(b.max()) + 1) - c1


def singleton_arms(trial: Trial) -> bool:
    if trial.block is None:
        return False
    n1, n0 = arm_units(trial)
    return bool(np.any((n1 < 2) | (n0 < 2)))


def _all_pairs(trial: Trial) -> bool:
    if trial.block is None or trial.cluster is not None:
        return False
    n1 = np.bincount(trial.block, weights=trial.z)
    n = np.bincount(trial.block)
    return bool(np.all((n == 2) & (n1 == 1)))


def refused_cluster_blocks(trial: Trial, adjusted: bool, blocked: str) -> np.ndarray:
    """Codes of the blocks that make a block-weighted, cluster-randomised difference in means impossible.

    As R estimatr's ``difference_in_means``: if any block holds just two clusters the matched-pair variance is
    used for every block, so nothing is refused; otherwise each block needs two clusters in each arm for its
    within-block variance, and the blocks with a single treated or control cluster are returned.
    """
    if trial.block is None or trial.cluster is None or adjusted or blocked != "weighted":
        return np.empty(0, dtype=np.int64)
    c1, c0 = arm_units(trial)
    if np.any(c1 + c0 == 2):
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero((c1 < 2) | (c0 < 2))


def estimate_itt(trial: Trial, adjusted: bool, blocked: str) -> Estimate:
    """The intent-to-treat effect of assignment and its design-based standard error.

    A design with a single randomisation unit (person or cluster) in an arm cannot estimate its own sampling
    error: its standard error is NaN, with a note saying so, never the near-zero number a sandwich formula
    returns when a unit is alone in its arm.
    """
    n1, n0 = arm_units(trial)
    if min(n1.sum(), n0.sum()) < 2:
        unit = "cluster" if trial.cluster is not None else "unit"
        arms = f"{int(n1.sum())} treated {unit}(s) and {int(n0.sum())} control {unit}(s)"
        return _no_variance(trial, blocked, f"it has {arms}, and an arm's variance needs at least two")
    est = _estimate_itt(trial, adjusted, blocked)
    if not math.isfinite(est.std_error) or (est.std_error > 0 and not est.df > 0):
        return _no_variance(trial, blocked, "its variance estimator has no residual degrees of freedom")
    return est


def _no_variance(trial: Trial, blocked: str, why: str) -> Estimate:
    """The (block-weighted) difference in means with a NaN standard error and a note on why."""
    from cpeval.estimation.rct.randomization import block_weights

    b = trial.block if trial.block is not None else np.zeros(len(trial.z), dtype=np.int64)
    n_b = np.bincount(b).astype(float)
    n1 = np.bincount(b, weights=trial.z)
    w = block_weights(n_b, n1, blocked)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = np.bincount(b, weights=trial.y * trial.z) / n1 - np.bincount(b, weights=trial.y * (1 - trial.z)) / (
            n_b - n1)
    ok = np.isfinite(diff) & (w > 0)
    tau = float(diff[ok] @ w[ok] / w[ok].sum()) if ok.any() else float("nan")
    note = (f"the design cannot estimate its own sampling error: {why}. The standard error, interval and "
            "p-value are reported as NaN; read the randomisation-inference p-value (set inference.permutations)")
    return Estimate(tau, float("nan"), float("nan"),
                    "not estimable: the unadjusted (block-weighted) difference in means, with no standard error",
                    int(trial.cluster.max()) + 1 if trial.cluster is not None else None, (note,),
                    extra={"no_variance": True})


def _estimate_itt(trial: Trial, adjusted: bool, blocked: str) -> Estimate:
    notes: list[str] = []
    if trial.block is not None and not adjusted and _all_pairs(trial):
        return _matched_pairs(trial)
    if len(refused_cluster_blocks(trial, adjusted, blocked)):
        from cpeval.errors import EstimationError

        raise EstimationError(
            "some blocks have a single treated or control cluster and none is a pair of clusters, so their "
            "within-block variance cannot be estimated; merge blocks or set estimator.blocked: fixed_effects"
        )
    if trial.block is not None and trial.cluster is not None and not adjusted \
            and blocked == "weighted":
        c1, c0 = arm_units(trial)
        if np.any(c1 + c0 == 2):
            return _matched_pair_clusters(trial, int(np.sum(c1 + c0 == 2)))
    if trial.block is not None and blocked == "weighted" and singleton_arms(trial):
        unit = "cluster" if trial.cluster is not None else "unit"
        notes.append(
            f"some blocks have a single {unit} in one arm, so the within-block variance is not estimable; "
            "used block fixed effects instead of the block-weighted estimator (set estimator.blocked: "
            "fixed_effects to silence this)"
        )
        blocked = "fixed_effects"
    if trial.cluster is None and not adjusted:
        if trial.block is None:
            return _neyman(trial)
        fit = _blocked_neyman(trial) if blocked == "weighted" else _block_fixed_effects(trial)
        return Estimate(fit.estimate, fit.std_error, fit.df, fit.variance_type, None, tuple(notes),
                        influence=fit.influence)
    n_cols = 2 + trial.X.shape[1] * 2 + (int(trial.block.max()) * 2 if trial.block is not None else 0)
    if len(trial.y) * n_cols > MAX_DENSE_CELLS:
        from cpeval.errors import EstimationError

        raise EstimationError(
            f"the {'Lin' if adjusted else 'difference-in-means'} regression would need a {len(trial.y)} x "
            f"{n_cols} design matrix (many blocks); use "
            "method: difference_in_means (computed blockwise without a regression) or merge small blocks"
        )
    X = design_matrix(trial, adjusted, blocked)
    if trial.cluster is not None:
        fit = ols_cr2(X, trial.y, trial.cluster)
        vtype = "CR2 cluster-robust (Bell-McCaffrey); t with Bell-McCaffrey df"
    else:
        fit = ols_hc2(X, trial.y)
        vtype = "HC2 (Neyman); t with n - k df"
    label = "Lin (2013) interacted regression" if adjusted else "difference in means"
    if trial.block is not None:
        label += "; block-weighted" if blocked == "weighted" else "; block fixed effects"
    se = float(np.sqrt(fit.vcov[1, 1]))
    assert fit.influence is not None
    return Estimate(float(fit.beta[1]), se, fit.df, f"{vtype} [{label}]", fit.n_clusters, tuple(notes),
                    influence=fit.influence[:, 1], influence_by="unit" if trial.cluster is None else "cluster")


def _blocked_neyman(trial: Trial) -> Estimate:
    """sum_b (n_b/n)(ybar_1b - ybar_0b) with the blockwise Neyman variance; n - 2B df (as estimatr)."""
    b, z, y = trial.block, trial.z, trial.y
    B = int(b.max()) + 1
    n_b = np.bincount(b, minlength=B).astype(float)
    n1 = np.bincount(b, weights=z, minlength=B)
    n0 = n_b - n1
    s1 = np.bincount(b, weights=y * z, minlength=B)
    s0 = np.bincount(b, weights=y * (1 - z), minlength=B)
    m1, m0 = s1 / n1, s0 / n0
    w = n_b / n_b.sum()
    tau = float(w @ (m1 - m0))
    # each unit's contribution; its sum of squares is sum_b w_b^2 (s_1b^2 / n_1b + s_0b^2 / n_0b)
    infl = w[b] * np.where(z == 1, (y - m1[b]) / np.sqrt(n1 * (n1 - 1))[b], -(y - m0[b]) / np.sqrt(n0 * (n0 - 1))[b])
    return Estimate(tau, float(np.sqrt(infl @ infl)), float(len(y) - 2 * B),
                    "blockwise Neyman (= HC2 of the interacted regression); t with n - 2B df "
                    "[difference in means; block-weighted]", None, influence=infl)


def _block_fixed_effects(trial: Trial) -> Estimate:
    """y on z and block dummies by the within transformation, HC2 with the dummies' leverage 1/n_b."""
    b, z, y = trial.block, trial.z, trial.y
    B = int(b.max()) + 1
    n_b = np.bincount(b, minlength=B).astype(float)
    zt = z - (np.bincount(b, weights=z, minlength=B) / n_b)[b]
    yt = y - (np.bincount(b, weights=y, minlength=B) / n_b)[b]
    szz = float(zt @ zt)
    tau = float(zt @ yt) / szz
    e = yt - tau * zt
    h = 1 / n_b[b] + zt**2 / szz
    with np.errstate(divide="ignore"):
        infl = zt * e / np.sqrt(np.where(h < 1 - 1e-10, 1 - h, np.inf)) / szz
    return Estimate(tau, float(np.sqrt(infl @ infl)), float(len(y) - B - 1),
                    "HC2 (Neyman); t with n - k df [difference in means; block fixed effects]", None,
                    influence=infl)


def _neyman(trial: Trial) -> Estimate:
    y, z = trial.y, trial.z.astype(bool)
    y1, y0 = y[z], y[~z]
    n1, n0 = len(y1), len(y0)
    v1, v0 = y1.var(ddof=1), y0.var(ddof=1)
    se = float(np.sqrt(v1 / n1 + v0 / n0))
    infl = np.where(z, (y - y1.mean()) / np.sqrt(n1 * (n1 - 1)), -(y - y0.mean()) / np.sqrt(n0 * (n0 - 1)))
    return Estimate(
        float(y1.mean() - y0.mean()), se, welch_df(v1, n1, v0, n0),
        "Neyman (= HC2); t with Welch-Satterthwaite df", None, influence=infl,
    )


def _matched_pairs(trial: Trial) -> Estimate:
    b, z, y = trial.block, trial.z, trial.y
    J = int(b.max()) + 1
    tau_j = np.bincount(b, weights=y * z, minlength=J) - np.bincount(b, weights=y * (1 - z), minlength=J)
    tau = float(tau_j.mean())
    infl = (tau_j - tau) / np.sqrt(J * (J - 1))
    return Estimate(tau, float(np.sqrt(infl @ infl)), float(J - 1),
                    "matched-pair variance (Imai 2008); t with J - 1 df", None, influence=infl, influence_by="block")


def _matched_pair_clusters(trial: Trial, n_pairs: int) -> Estimate:
    """Imai, King & Nall (2009, eq. 6), as R estimatr's ``difference_in_means`` for blocks and clusters.

    With J blocks, N_j people in block j, tau_j its difference in person means, N = sum N_j and the estimate
    tau = sum_j N_j tau_j / N: SE^2 = J / ((J - 1) N^2) * sum_j (N_j tau_j - N tau / J)^2, with J - 1 df. It
    needs no within-block variance, so it serves blocks holding one treated and one control cluster; when
    some blocks hold more clusters it is used for every block (estimatr's rule for such mixed designs).
    """
    b, z, y = trial.block, trial.z, trial.y
    J = int(b.max()) + 1
    N_j = np.bincount(b, minlength=J).astype(float)
    n1 = np.bincount(b, weights=z, minlength=J)
    tau_j = np.bincount(b, weights=y * z, minlength=J) / n1 - np.bincount(b, weights=y * (1 - z), minlength=J) / (
        N_j - n1)
    N = N_j.sum()
    tau = float(N_j @ tau_j / N)
    infl = np.sqrt(J / (J - 1)) * (N_j * tau_j - N * tau / J) / N  # by block; sum of squares = SE^2
    label = "[difference in means; block-weighted]"
    if n_pairs == J:
        vtype = f"matched-pair cluster variance (Imai, King & Nall 2009, eq. 6; as estimatr); t with J - 1 df {label}"
        note = (f"every block has one treated and one control cluster (a pair-matched cluster trial), so no block "
                f"can estimate its own variance; the standard error is the matched-pair variance across the {J} "
                f"pairs (Imai, King & Nall 2009) with {J - 1} degrees of freedom")
    else:
        vtype = ("matched-pair cluster variance (Imai, King & Nall 2009, eq. 6) applied to every block, as estimatr "
                 f"does when some blocks hold two clusters and others more; t with J - 1 df {label}")
        note = (f"{n_pairs} of {J} blocks hold just two clusters, one cluster in an arm, so their within-block "
                f"variance cannot be estimated; as R estimatr does for such mixed designs, the standard error is "
                f"the matched-pair variance across all {J} blocks (Imai, King & Nall 2009) with {J - 1} degrees "
                "of freedom")
    return Estimate(tau, float(np.sqrt(infl @ infl)), float(J - 1), vtype, int(trial.cluster.max()) + 1, (note,),
                    influence=infl, influence_by="block")
