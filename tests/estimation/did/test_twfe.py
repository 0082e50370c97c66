"""Two-way fixed effects: against linearmodels PanelOLS called directly, a hand-computed 2x2 DiD,
simulation truth, and invariance to row order and unit relabelling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cpeval
from _support import DESIGNS, small_panel
from cpeval.designs import design_from_dict
from cpeval.payloads import ClusterCounts


def _panelols(df: pd.DataFrame, y: str, weights: str | None) -> tuple[float, float]:
    from linearmodels.panel import PanelOLS

    d = df.set_index(["sid", "year"])
    res = PanelOLS(
        d[y], d[["post"]], entity_effects=True, time_effects=True, weights=d[weights] if weights else None
    ).fit(cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)
    return float(res.params["post"]), float(res.std_errors["post"])


def test_castle_default_design_equals_panelols_to_1e8(castle):
    """Done-when of issue 2: l_homicide, weights popwt, state-clustered errors equal PanelOLS to 1e-8."""
    result = cpeval.evaluate(DESIGNS / "castle_doctrine.yaml")
    effect = result.effect("homicide")
    b, se = _panelols(castle, "l_homicide", "popwt")
    assert abs(effect.estimate - b) < 1e-8
    assert abs(effect.std_error - se) < 1e-8
    assert effect.n_obs == 550 and effect.n_units == 50 and effect.n_clusters == 50
    # Cheng & Hoekstra (2013) Table 4 report increases in homicide of about 8 percent; the
    # population-weighted TWFE on this panel gives 0.0755 log points (+7.8%).
    assert 0.05 < effect.estimate < 0.10
    assert effect.percent_change[0] == pytest.approx(100 * np.expm1(effect.estimate))


def test_unweighted_and_other_outcome_equal_panelols(castle):
    design = cpeval.load_design(DESIGNS / "castle_doctrine.yaml")
    raw = design.model_dump(mode="json", by_alias=True)
    raw["data"]["weights"] = None
    unweighted = design_from_dict(raw)
    unweighted._origin = design.origin
    result = cpeval.evaluate(unweighted)
    for name, column in [("homicide", "l_homicide"), ("larceny", "l_larceny")]:
        b, se = _panelols(castle, column, None)
        assert result.effect(name).estimate == pytest.approx(b, abs=1e-8)
        assert result.effect(name).std_error == pytest.approx(se, abs=1e-8)


def test_hand_computed_2x2(did_dict):
    """With two groups and two periods TWFE equals the difference of the four cell means (hand formula)."""
    df = pd.DataFrame(
        {
            "unit": [1, 1, 2, 2, 3, 3, 4, 4],
            "year": [1, 2] * 4,
            "post": [0, 1, 0, 1, 0, 0, 0, 0],
            "y": [10.0, 15.0, 12.0, 19.0, 9.0, 10.0, 11.0, 13.0],
        }
    )
    # treated: pre mean (10+12)/2 = 11, post mean (15+19)/2 = 17 -> +6
    # control: pre mean (9+11)/2 = 10, post mean (10+13)/2 = 11.5 -> +1.5 ; DiD = 4.5
    effect = cpeval.evaluate(did_dict, data=df).effect("y")
    assert effect.estimate == pytest.approx(4.5, abs=1e-12)


def test_recovers_truth_and_interval_covers(did_dict):
    """Simulation: 200 panels with effect 2; mean estimate within 0.05 of truth; coverage 90-99%."""
    estimates, covered = [], 0
    for seed in range(200):
        df = small_panel(n_units=40, n_periods=6, effect=2.0, seed=seed)
        e = cpeval.evaluate(did_dict, data=df).effect("y")
        estimates.append(e.estimate)
        covered += e.ci_lower <= 2.0 <= e.ci_upper
    assert abs(np.mean(estimates) - 2.0) < 0.05
    assert 0.90 <= covered / 200 <= 0.99


def test_invariant_to_row_order_and_relabelling(did_dict):
    df = small_panel(n_units=12, seed=3)
    did_dict["data"]["weights"] = "w"
    base = cpeval.evaluate(did_dict, data=df).effect("y")
    shuffled = df.sample(frac=1.0, random_state=7).reset_index(drop=True)
    relabelled = df.assign(unit=df["unit"].map(lambda u: f"area-{(u * 7919) % 101}"))
    for other in (shuffled, relabelled):
        e = cpeval.evaluate(did_dict, data=other).effect("y")
        assert e.estimate == pytest.approx(base.estimate, abs=1e-10)
        assert e.std_error == pytest.approx(base.std_error, abs=1e-10)


def test_caller_frame_not_mutated(did_dict):
    df = small_panel()
    before = df.copy()
    cpeval.evaluate(did_dict, data=df)
    pd.testing.assert_frame_equal(df, before)


def test_cluster_by_other_column_and_few_clusters_warning(did_dict):
    """12 units in 4 regions, units 1-6 treated: 2 of the 4 region clusters are treated."""
    df = small_panel(n_units=12)
    df["region"] = (df["unit"] - 1) // 3
    did_dict["estimator"]["cluster"] = "region"
    with pytest.warns(cpeval.errors.CpevalWarning, match="only 2 of the 4 clusters of 'region' are treated"):
        result = cpeval.evaluate(did_dict, data=df)
    effect = result.effect("y")
    assert effect.n_clusters == 4
    assert effect.df == 3
    assert (effect.payload(ClusterCounts).treated, effect.payload(ClusterCounts).untreated) == (2, 2)
    assert any("only 2 of the 4 clusters" in w and "wild_bootstrap" in w for w in result.warnings)


def test_conf_int_at_other_level(did_dict):
    e = cpeval.evaluate(did_dict, data=small_panel(n_units=30)).effect("y")
    lo90, hi90 = e.conf_int(0.90)
    assert e.ci_lower < lo90 < e.estimate < hi90 < e.ci_upper
    assert e.conf_int() == (e.ci_lower, e.ci_upper)


def test_small_sample_conventions_against_dummy_regression(castle):
    """Hand calculation from statsmodels' clustered WLS with state and year dummies (CR0 x G/(G-1) (N-1)/(N-K),
    K = its 61 columns): 'areg' keeps that K (= PanelOLS, the default); 'reghdfe' drops the 49 state
    dummies nested in the state clusters (one parameter, the constant, stays), K = 12, as Stata
    xtreg, fe / reghdfe and R fixest."""
    import statsmodels.api as sm

    x = pd.concat([castle[["post"]].astype(float),
                   pd.get_dummies(castle["sid"], prefix="s", drop_first=True, dtype=float),
                   pd.get_dummies(castle["year"], prefix="t", drop_first=True, dtype=float)], axis=1)
    x = sm.add_constant(x)
    fit = sm.WLS(castle["l_homicide"], x, weights=castle["popwt"]).fit(
        cov_type="cluster", cov_kwds={"groups": castle["sid"]})
    n, k, g = len(castle), x.shape[1], castle["sid"].nunique()
    se_areg = float(fit.bse["post"])
    se_reghdfe = se_areg * np.sqrt((n - k) / (n - (k - g + 1)))
    design = cpeval.load_design(DESIGNS / "castle_doctrine.yaml")
    raw = design.model_dump(mode="json", by_alias=True)
    for convention, expected in (("auto", se_areg), ("areg", se_areg), ("reghdfe", se_reghdfe)):
        raw["estimator"]["small_sample"] = convention
        d = design_from_dict(raw)
        d._origin = design.origin
        effect = cpeval.evaluate(d).effect("homicide")
        assert effect.std_error == pytest.approx(expected, rel=1e-8), convention
        assert ("reghdfe" in effect.variance_type) == (convention == "reghdfe")
    assert se_reghdfe / se_areg == pytest.approx(np.sqrt(489 / 538), abs=1e-12)  # about 5% smaller here


def test_small_sample_is_refused_where_it_does_not_apply(did_dict):
    from cpeval.errors import DesignError

    did_dict["estimator"] = {"method": "callaway_santanna", "small_sample": "reghdfe"}
    did_dict["treatment"] = {"first_treated": "g"}
    with pytest.raises(DesignError, match=r"estimator\.small_sample: 'small_sample' does not apply to method "
                       r"'callaway_santanna'; it applies to twfe, event_study, sun_abraham, poisson"):
        design_from_dict(did_dict)


@pytest.mark.parametrize("clusters", ["state_half", "year"])
def test_reghdfe_k_when_units_are_not_nested_in_clusters(castle, clusters):
    """Clusters cutting across states (state x half of the period): nothing is nested, so reghdfe's K is
    areg's (61) and the SEs agree. Clusters by year: the 10 free year effects are nested and dropped,
    K = 1 + 50 = 51 (fixest's count for | sid + year). Hand rescaling of statsmodels' dummy regression."""
    import statsmodels.api as sm

    frame = castle.assign(state_half=castle["sid"] * 10 + (castle["year"] >= 2005))
    x = sm.add_constant(pd.concat([frame[["post"]].astype(float),
                                   pd.get_dummies(frame["sid"], prefix="s", drop_first=True, dtype=float),
                                   pd.get_dummies(frame["year"], prefix="t", drop_first=True, dtype=float)], axis=1))
    fit = sm.WLS(frame["l_homicide"], x, weights=frame["popwt"]).fit(
        cov_type="cluster", cov_kwds={"groups": frame[clusters]})
    n, k = len(frame), x.shape[1]
    k_reghdfe = {"state_half": k, "year": 1 + 50}[clusters]
    expected = float(fit.bse["post"]) * np.sqrt((n - k) / (n - k_reghdfe))
    design = cpeval.load_design(DESIGNS / "castle_doctrine.yaml")
    raw = design.model_dump(mode="json", by_alias=True)
    raw["estimator"].update(small_sample="reghdfe", cluster=clusters)
    d = design_from_dict(raw)
    d._origin = design.origin
    effect = cpeval.evaluate(d, data=frame).effect("homicide")
    assert effect.std_error == pytest.approx(expected, rel=1e-8)
