"""Simulated randomised trials with a known effect (blocks, clusters, attrition, non-compliance).

Everything here is SIMULATED: no real trial's data. The generators exist so that estimators can be checked
against a truth they do not see, and so that the example design ``designs/hotspots_trial.yaml`` runs
without a download.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_rct(
    *,
    n_clusters: int = 60,
    cluster_size: int = 20,
    n_blocks: int = 4,
    cluster_randomised: bool = True,
    effect: float = -3.0,
    sd: float = 10.0,
    icc: float = 0.1,
    covariate_r2: float = 0.3,
    compliance: float = 1.0,
    always_takers: float = 0.0,
    attrition: float = 0.0,
    differential_attrition: float = 0.0,
    attrition_selection: float = 1.0,
    block_shift: float = 5.0,
    baseline: float = 50.0,
    seed: int = 2002,
) -> pd.DataFrame:
    """One simulated trial with ``n_clusters * cluster_size`` people (or street segments).

    Design: clusters are split evenly into ``n_blocks`` blocks; within each block half of the clusters (if
    ``cluster_randomised``) or half of the people are assigned. Outcome under control:
    ``baseline + block shift + cluster effect + covariate + noise`` with total SD ``sd`` and intra-cluster
    correlation ``icc``; the covariate ``x`` (a baseline measure) explains ``covariate_r2`` of the
    individual variance. Take-up: compliers (share ``compliance``) take the programme if assigned,
    always-takers (share ``always_takers``) take it regardless. Receiving the programme shifts the outcome by
    ``effect`` for everyone (a constant effect), so the CACE is ``effect`` and the ITT is
    ``effect * compliance``. Attrition is monotone (Lee 2009): a person observed if treated is also observed
    if control; the control arm loses ``attrition`` and the treated arm ``attrition + differential_attrition``,
    and people with high untreated outcomes are lost first when ``attrition_selection`` > 0, so the naive
    comparison is biased while Lee bounds contain ``effect * compliance``.

    Truths are in ``frame.attrs``: ``true_itt``, ``true_cace``.
    """
    rng = np.random.default_rng(seed)
    n = n_clusters * cluster_size
    cluster = np.repeat(np.arange(n_clusters), cluster_size)
    block_of_cluster = np.arange(n_clusters) * n_blocks // n_clusters
    block = block_of_cluster[cluster]
    z = _assign_half(block_of_cluster, rng)[cluster] if cluster_randomised else _assign_half(block, rng)
    sd_c = sd * np.sqrt(icc)
    sd_i = sd * np.sqrt(1 - icc)
    x = rng.normal(size=n)
    u_c = rng.normal(scale=sd_c, size=n_clusters)[cluster]
    e = rng.normal(scale=sd_i * np.sqrt(1 - covariate_r2), size=n)
    y0 = baseline + block_shift * (block - (n_blocks - 1) / 2) + u_c + sd_i * np.sqrt(covariate_r2) * x + e
    kind = rng.random(n)
    complier = kind < compliance
    always = (kind >= compliance) & (kind < compliance + always_takers)
    received = (always | (complier & (z == 1))).astype(np.int64)
    y = y0 + effect * received
    # monotone attrition: a latent propensity to be lost, higher for high untreated outcomes
    latent = attrition_selection * (y0 - y0.mean()) / sd + rng.normal(size=n)
    pct = pd.Series(latent).rank(pct=True).to_numpy()
    lost = pct > 1 - (attrition + differential_attrition * z)
    observed = (~lost).astype(np.int64)
    y_obs = np.where(observed == 1, y, np.nan)
    frame = pd.DataFrame({
        "unit_id": np.arange(1, n + 1),
        "cluster_id": cluster + 1,
        "block_id": block + 1,
        "assigned": z,
        "received": received,
        "observed": observed,
        "x_baseline": np.round(50 + 10 * x, 6),
        "y": y_obs,
    })
    frame.attrs["true_cace"] = float(effect)
    frame.attrs["true_itt"] = float(effect * compliance)
    return frame


def _assign_half(blocks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0/1 assignment of the randomisation units with block codes ``blocks`` (0..B-1, sorted): half of each
    block (rounded down), chosen at random, is assigned."""
    n = len(blocks)
    order = np.argsort(rng.random(n) + blocks)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    first = np.searchsorted(blocks[order], blocks)  # first position of each block
    size_b = np.bincount(blocks)[blocks]
    return ((rank - first) < size_b // 2).astype(np.int64)


def hotspots_trial(seed: int = 20240601) -> pd.DataFrame:
    """A SIMULATED cluster-randomised hot-spots policing trial with a known effect.

    120 police beats (clusters) of 15 crime hot-spot street segments each (1,800 segments) in 6 districts
    (blocks); within each district half of the beats are randomised to extra directed patrols. Patrols
    were delivered on 85% of the assigned segments (non-compliance) and, by mistake, on 5% of control
    segments. 6% of control segments and 9% of treated segments have no follow-up crime data (e.g.
    redevelopment). Outcomes per segment in the follow-up year:

    - ``crime_harm``: a crime-harm index (true effect of patrols: -4.0, so ITT -3.2 and CACE -4.0);
    - ``calls``: calls for service (true effect -1.5, ITT -1.2);
    - ``fear``: residents' fear-of-crime score (no effect).

    ``prior_crime_harm`` is the baseline-year harm index. ``frame.attrs`` holds the truths.
    """
    harm = simulate_rct(
        n_clusters=120, cluster_size=15, n_blocks=6, compliance=0.80, always_takers=0.05, attrition=0.06,
        differential_attrition=0.03, icc=0.08, effect=-4.0, sd=15.0, baseline=70.0, covariate_r2=0.4,
        seed=seed,
    )
    rng = np.random.default_rng(seed + 1)
    n = len(harm)
    beat = harm["cluster_id"].to_numpy() - 1
    received = harm["received"].to_numpy()
    observed = harm["observed"].to_numpy() == 1
    x = (harm["x_baseline"].to_numpy() - 50) / 10

    def other(effect: float, sd: float, baseline: float, r2: float, icc: float) -> np.ndarray:
        u = rng.normal(scale=sd * np.sqrt(icc), size=beat.max() + 1)[beat]
        e = rng.normal(scale=sd * np.sqrt((1 - icc) * (1 - r2)), size=n)
        y = baseline + u + sd * np.sqrt((1 - icc) * r2) * x + e + effect * received
        return np.where(observed, y, np.nan)

    frame = pd.DataFrame({
        "segment_id": harm["unit_id"],
        "beat": harm["cluster_id"],
        "district": harm["block_id"],
        "patrol_assigned": harm["assigned"],
        "patrol_received": harm["received"],
        "followed_up": harm["observed"],
        "prior_crime_harm": harm["x_baseline"],
        "crime_harm": np.round(harm["y"], 3),
        "calls": np.round(other(-1.5, 5.0, 25.0, 0.3, 0.10), 3),
        "fear": np.round(other(0.0, 1.0, 3.0, 0.2, 0.15), 4),
    })
    frame.attrs.update({"true_cace": {"crime_harm": -4.0, "calls": -1.5, "fear": 0.0},
                        "true_itt": {"crime_harm": -3.2, "calls": -1.2, "fear": 0.0}})
    return frame


def simulate_blocked_clusters(
    clusters_per_block: list[int] | np.ndarray,
    *,
    treated_per_block: int | list[int] | np.ndarray = 1,
    cluster_size: tuple[int, int] = (10, 10),
    effect: float = 0.0,
    sd: float = 1.0,
    icc: float = 0.2,
    block_sd: float = 1.0,
    seed: int = 2009,
) -> pd.DataFrame:
    """A SIMULATED block-and-cluster randomised trial: whole clusters assigned within blocks.

    Block ``b`` holds ``clusters_per_block[b]`` clusters, of which ``treated_per_block`` (one number or one per
    block) are chosen at random for treatment. Two clusters per block and one treated is a pair-matched
    cluster trial (hot-spot pairs, matched schools); blocks of two to four classrooms with one treated is
    shaped like Tennessee STAR (schools as blocks, classrooms as clusters). Cluster sizes are drawn uniformly
    from ``cluster_size`` (inclusive). Outcome: block effect (SD ``block_sd``) + cluster effect + person noise
    (total within-block SD ``sd``, intra-cluster correlation ``icc``) + ``effect`` if treated, so the true
    effect is ``effect`` (in ``frame.attrs["true_itt"]``).
    """
    rng = np.random.default_rng(seed)
    cpb = np.asarray(clusters_per_block, dtype=np.int64)
    n_treated = np.broadcast_to(np.asarray(treated_per_block, dtype=np.int64), cpb.shape)
    block_of_cluster = np.repeat(np.arange(len(cpb)), cpb)
    # within each block, the clusters with the n_treated smallest random keys are treated
    order = np.lexsort((rng.random(len(block_of_cluster)), block_of_cluster))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order)) - np.repeat(np.cumsum(cpb) - cpb, cpb)
    z_cluster = (rank < n_treated[block_of_cluster]).astype(np.int64)
    sizes = rng.integers(cluster_size[0], cluster_size[1] + 1, size=len(block_of_cluster))
    cluster = np.repeat(np.arange(len(block_of_cluster)), sizes)
    block = block_of_cluster[cluster]
    y = (rng.normal(scale=block_sd, size=len(cpb))[block]
         + rng.normal(scale=sd * np.sqrt(icc), size=len(sizes))[cluster]
         + rng.normal(scale=sd * np.sqrt(1 - icc), size=len(cluster))
         + effect * z_cluster[cluster])
    frame = pd.DataFrame({"unit_id": np.arange(1, len(cluster) + 1), "cluster_id": cluster + 1,
                          "block_id": block + 1, "assigned": z_cluster[cluster], "y": y})
    frame.attrs["true_itt"] = float(effect)
    return frame
