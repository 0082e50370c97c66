"""simulate_did: the truth it reports is the truth it simulated."""

from __future__ import annotations

import numpy as np
import pytest

from cpeval.datasets.did import did_truth, simulate_did, true_att_gt


def test_true_effect_column_matches_true_att_gt():
    df = simulate_did(n_units=100, seed=1)
    expected = [true_att_gt(g, t) if g > 0 else 0.0 for g, t in zip(df.first_treated, df.period, strict=True)]
    assert np.allclose(df.true_effect, expected)
    assert ((df.treated == 1) == (df.true_effect > 0)).all()
    assert set(df.first_treated.unique()) == {0, 4, 6, 8}
    assert len(df) == 100 * 10


def test_seeded_and_shapes():
    a, b = simulate_did(seed=3), simulate_did(seed=3)
    assert a.equals(b)
    rcs = simulate_did(n_units=50, panel=False, seed=3)
    assert rcs.unit.is_unique and {"area", "x"} <= set(rcs.columns)
    counts = simulate_did(n_units=50, counts=True, seed=3)
    assert (counts.crimes >= 0).all() and (counts.population > 0).all()
    gappy = simulate_did(n_units=200, missing=0.2, seed=3)
    assert 0.7 * 2000 < len(gappy) < 0.9 * 2000


def test_truth_aggregations():
    pop = did_truth()
    # equal cohort shares: the simple ATT is the mean over the post-treatment cells
    cells = [true_att_gt(g, t) for g in (4, 6, 8) for t in range(1, 11) if t >= g]
    assert pop["simple"] == pytest.approx(np.mean(cells))
    assert pop["dynamic"] > pop["simple"]  # later event times have larger effects and fewer cohorts
    assert did_truth(simulate_did(seed=2))["simple"] == pytest.approx(pop["simple"], rel=0.05)


def test_bad_cohorts():
    with pytest.raises(ValueError, match="cohorts must lie in"):
        simulate_did(cohorts=(1, 5))


@pytest.mark.parametrize("covariate", [False, True])
def test_never_share_is_the_share_of_never_treated_units(covariate):
    def share(s: float) -> float:
        units = simulate_did(n_units=2000, never_share=s, covariate=covariate, seed=5).groupby("unit").first()
        return float((units.first_treated == 0).mean())

    assert share(0.0) == 0.0  # every unit adopts
    if not covariate:  # with the covariate, adoption depends on x and the share is only roughly never_share
        assert share(0.4) == pytest.approx(0.4, abs=0.03)
    with pytest.raises(ValueError, match="never_share must lie in"):
        simulate_did(never_share=1.0)
