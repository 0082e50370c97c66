"""Blocked and clustered trials: clusters alone in their arm of a block, and designs that cannot estimate
their own sampling error.

The rules follow R estimatr's ``difference_in_means`` (DeclareDesign/estimatr, R/difference_in_means.R): with
blocks and clusters, every block having two clusters is a matched-pair cluster design (Imai, King & Nall 2009,
eq. 6, J - 1 df); some blocks with two clusters and others with more use that matched-pair variance for
every block, with a warning; otherwise a block with a single treated or control cluster is refused.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cpeval.datasets.rct import simulate_blocked_clusters
from cpeval.errors import CpevalWarning, EstimationError
from cpeval.estimation.rct.core import Trial, estimate_itt
from cpeval.pipeline import evaluate

from .conftest import load_ref


def _design(**treatment) -> dict:
    return {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
            "treatment": {"assignment": "assigned", **treatment}, "outcomes": [{"name": "y", "column": "y"}]}


def _trial(f: pd.DataFrame) -> Trial:
    return Trial(f["y"].to_numpy(float), f["assigned"].to_numpy(float),
                 pd.factorize(f["block_id"], sort=True)[0], pd.factorize(f["cluster_id"], sort=True)[0],
                 np.empty((len(f), 0)))


def _ikn(f: pd.DataFrame) -> tuple[float, float]:
    """Imai, King & Nall (2009) eq. 6 as estimatr writes it, block by block in plain Python."""
    N_j, tau_j = [], []
    for _, g in f.groupby("block_id"):
        N_j.append(len(g))
        tau_j.append(g.loc[g.assigned == 1, "y"].mean() - g.loc[g.assigned == 0, "y"].mean())
    N_j, tau_j = np.array(N_j, float), np.array(tau_j)
    J, N = len(N_j), N_j.sum()
    tau = (N_j * tau_j).sum() / N
    var = J / ((J - 1) * N**2) * ((N_j * tau_j - N * tau / J) ** 2).sum()
    return tau, math.sqrt(var)


def _evaluate(design: dict, frame: pd.DataFrame):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CpevalWarning)
        e = evaluate(design, frame).effect("y")
    return e, [str(w.message) for w in caught if issubclass(w.category, CpevalWarning)]


def test_matched_pair_cluster_se_equals_the_hand_calculation():
    ref = load_ref("matched_pair_clusters_hand")
    d = pd.DataFrame(ref["data"]).assign(unit_id=lambda x: np.arange(len(x)))
    d = d.rename(columns={"block": "block_id", "cluster": "cluster_id", "z": "assigned"})
    e, caught = _evaluate(_design(block="block_id", cluster="cluster_id"), d)
    tol = ref["tolerance"]
    assert e.estimate == pytest.approx(ref["estimate"], abs=tol["estimate_abs"])
    assert e.std_error == pytest.approx(ref["std_error"], abs=tol["std_error_abs"])
    assert e.df == ref["df"]
    assert "Imai, King & Nall" in e.variance_type
    assert any("one treated and one control cluster" in w for w in caught)
    # the interval and p-value use t with J - 1 df
    assert e.p_value == pytest.approx(2 * stats.t.sf(ref["estimate"] / ref["std_error"], ref["df"]), rel=1e-12)


def test_pair_matched_cluster_trial_under_the_null_has_a_real_standard_error():
    f = simulate_blocked_clusters([2] * 20, cluster_size=(5, 15), icc=0.3, seed=11)
    e, _ = _evaluate(_design(block="block_id", cluster="cluster_id"), f)
    tau, se = _ikn(f)
    assert e.estimate == pytest.approx(tau, rel=1e-12)
    assert e.std_error == pytest.approx(se, rel=1e-12)
    assert e.std_error > 0.1  # not the 1e-17 of a cluster alone in its arm contributing nothing
    assert e.df == 19
    assert e.p_value > 1e-6


def test_clusters_of_one_person_reduce_to_the_unit_matched_pair_estimator():
    # estimatr's test "Matched Pair Cluster Randomization = Matched Pair when cluster size is 1"
    rng = np.random.default_rng(3)
    J = 12
    y = rng.normal(size=2 * J)
    z = np.tile([1.0, 0.0], J)
    block = np.repeat(np.arange(J), 2)
    clustered = estimate_itt(Trial(y, z, block, np.arange(2 * J), np.empty((2 * J, 0))), False,
                             "weighted")
    unit = estimate_itt(Trial(y, z, block, None, np.empty((2 * J, 0))), False, "weighted")
    tau_j = y[z == 1] - y[z == 0]
    assert clustered.std_error == pytest.approx(unit.std_error, rel=1e-12)
    assert clustered.std_error == pytest.approx(math.sqrt(((tau_j - tau_j.mean()) ** 2).sum() / (J * (J - 1))))
    assert clustered.df == unit.df == J - 1


def test_mixed_block_sizes_use_the_matched_pair_variance_for_every_block_and_warn():
    # shaped like Tennessee STAR: schools (blocks) of two to four classrooms, one treated classroom each
    cpb = np.random.default_rng(5).integers(2, 5, size=40)
    f = simulate_blocked_clusters(cpb, cluster_size=(13, 25), icc=0.2, seed=5)
    before_blocks = int((cpb == 2).sum())
    e, caught = _evaluate(_design(block="block_id", cluster="cluster_id"), f)
    tau, se = _ikn(f)
    assert e.estimate == pytest.approx(tau, rel=1e-12)
    assert e.std_error == pytest.approx(se, rel=1e-12)
    assert e.df == 39
    assert "every block" in e.variance_type
    msg = [w for w in caught if "one cluster in an arm" in w]
    assert msg and f"{before_blocks} of 40 blocks" in msg[0]


def test_a_block_with_a_single_treated_cluster_among_larger_blocks_is_refused():
    # every block has three or more clusters, but block 4 has only one treated cluster: estimatr refuses
    # ("Some `blocks` have only one treated or one control `cluster`") rather than understate the SE
    f = simulate_blocked_clusters([6, 6, 6, 4], treated_per_block=[3, 3, 3, 1], seed=8)
    with pytest.raises(EstimationError, match=r"outcome 'y': 1 block\(s\) of 'block_id' have a single treated or "
                       r"control cluster \(4\).*blocked: fixed_effects"):
        evaluate(_design(block="block_id", cluster="cluster_id"), f)


def test_fixed_effects_and_lin_with_singleton_cluster_arms_use_block_fixed_effects():
    f = simulate_blocked_clusters([2] * 15, cluster_size=(10, 10), seed=2)
    f["x"] = np.random.default_rng(0).normal(size=len(f))
    e_fe, _ = _evaluate({**_design(block="block_id", cluster="cluster_id"),
                         "estimator": {"blocked": "fixed_effects"}}, f)
    se = _ikn(f)[1]
    # equal cluster sizes: CR2 with block dummies equals the matched-pair variance
    assert e_fe.std_error == pytest.approx(se, rel=1e-8)
    e_lin, caught = _evaluate({**_design(block="block_id", cluster="cluster_id"),
                               "estimator": {"method": "lin", "covariates": ["x"]}}, f)
    assert "block fixed effects" in e_lin.variance_type
    assert any("single cluster in one arm" in w for w in caught)
    assert 0.3 * se < e_lin.std_error < 3 * se


@pytest.mark.parametrize(
    ("frame", "treatment"),
    [
        (pd.DataFrame({"unit_id": [1, 2], "assigned": [1, 0], "y": [3.0, 1.0]}), {}),
        (simulate_blocked_clusters([2], cluster_size=(5, 5), seed=1), {"cluster": "cluster_id"}),
        (simulate_blocked_clusters([2], cluster_size=(5, 5), seed=1), {"cluster": "cluster_id", "block": "block_id"}),
        (pd.DataFrame({"unit_id": [1, 2], "b": [1, 1], "assigned": [1, 0], "y": [3.0, 1.0]}), {"block": "b"}),
        (pd.DataFrame({"unit_id": range(6), "assigned": [1, 0, 0, 0, 0, 0], "y": [3.0, 1, 2, 4, 1, 0]}), {}),
        (simulate_blocked_clusters([6], cluster_size=(4, 8), seed=3), {"cluster": "cluster_id"}),
    ],
    ids=["one-unit-per-arm", "one-cluster-per-arm", "one-cluster-pair", "one-pair", "one-treated-unit",
         "one-treated-cluster-of-six"],
)
def test_a_design_that_cannot_estimate_its_sampling_error_reports_nan_not_a_tiny_se(frame, treatment):
    e, caught = _evaluate(_design(**treatment), frame)
    assert math.isfinite(e.estimate)
    assert math.isnan(e.std_error) and math.isnan(e.p_value)
    assert math.isnan(e.ci_lower) and math.isnan(e.ci_upper)
    assert any("cannot estimate its own sampling error" in w for w in caught)
    assert "not estimable" in e.variance_type


def test_nan_p_value_does_not_spoil_the_other_outcomes_adjustment():
    from cpeval.estimation.rct.multiple import benjamini_hochberg, holm

    p = np.array([0.01, np.nan, 0.04])
    for adjust in (holm, benjamini_hochberg):
        out = adjust(p)
        assert math.isnan(out[1])
        assert np.all(np.isfinite(out[[0, 2]]))
    # the outcome with no p-value still counts in the family (treated as p = 1): Holm multiplies by 3
    assert holm(p)[0] == pytest.approx(0.03)


PAIRS = [2] * 15  # a pair-matched cluster trial
STAR_LIKE = np.random.default_rng(5).integers(2, 5, size=40)  # schools of two to four classrooms, one treated


def _null_rejections(draws: int, seed: int, clusters_per_block=PAIRS) -> tuple[float, float]:
    """Share of 95% intervals covering the true 0 and share of p < 0.05, over blocked cluster trials."""
    rng = np.random.default_rng(seed)
    covered = rejected = 0
    for _ in range(draws):
        f = simulate_blocked_clusters(clusters_per_block, cluster_size=(5, 20), icc=0.3, block_sd=2.0,
                                      seed=int(rng.integers(2**31)))
        e = estimate_itt(_trial(f), False, "weighted")
        half = stats.t.ppf(0.975, e.df) * e.std_error
        covered += abs(e.estimate) <= half
        rejected += 2 * stats.t.sf(abs(e.estimate) / e.std_error, e.df) < 0.05
    return covered / draws, rejected / draws


def test_pair_matched_cluster_trial_size_is_near_nominal():
    # 400 draws: the rejection rate's Monte Carlo SD at a true 5% is 0.011, so the band is about 3.5 SD wide
    coverage, size = _null_rejections(400, 21)
    assert 0.01 <= size <= 0.09
    assert coverage == pytest.approx(1 - size)


@pytest.mark.slow
@pytest.mark.parametrize("clusters_per_block", [PAIRS, STAR_LIKE], ids=["pairs", "star-like-mixed"])
def test_blocked_cluster_trials_cover_at_the_nominal_rate(clusters_per_block):
    coverage, _ = _null_rejections(1000, 22, clusters_per_block)
    assert 0.93 <= coverage <= 0.97
