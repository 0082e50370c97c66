"""Poisson PML DiD: against statsmodels GLM Poisson with unit and period dummies (1e-6), with an exposure
offset, zeros, all-zero units, the extended (cohort x period) form, rate ratios, simulation truth, errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from cpeval.errors import DataError, DesignError, EstimationError
from cpeval.payloads import RateRatio
from did_es._did_es import castle, castle_design, count_panel, design, fit, path_rows

POIS = {"data": {"population": "population", "cluster": None}}


def _glm(df: pd.DataFrame, regressors: list[str], cluster: str, offset: bool = True):
    import statsmodels.api as sm

    x = pd.concat(
        [df[regressors].astype(float),
         pd.get_dummies(df["unit"], prefix="u", drop_first=True, dtype=float),
         pd.get_dummies(df["period"], prefix="t", drop_first=True, dtype=float)], axis=1)
    x = sm.add_constant(x)
    groups = pd.factorize(df[cluster])[0]
    res = sm.GLM(df["y"], x, family=sm.families.Poisson(),
                 offset=np.log(df["population"]) if offset else None).fit(
        tol=1e-14, cov_type="cluster", cov_kwds={"groups": groups, "use_correction": False})
    g = len(np.unique(groups))
    return res, res.cov_params() * g / (g - 1)


def _pdesign(**kw):
    return design("poisson", data={"population": "population"}, measure="count", **kw)


@pytest.mark.parametrize("cluster", [None, "cl"])
def test_twfe_form_equals_glm_with_dummies(cluster):
    df = count_panel(n_units=30, seed=2)
    assert (df["y"] == 0).mean() > 0.1  # plenty of zeros, no log(0) trick needed
    effect = fit(df, _pdesign(poisson_form="twfe", cluster=cluster))
    res, cov = _glm(df, ["treated"], cluster or "unit")
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-6)
    assert effect.std_error == pytest.approx(math.sqrt(cov.loc["treated", "treated"]), abs=1e-6)
    assert effect.payload(RateRatio).rate_ratio == pytest.approx(math.exp(effect.estimate))
    assert effect.percent_change[0] == pytest.approx(100 * math.expm1(effect.estimate))
    assert effect.percent_change[1] == pytest.approx(100 * math.expm1(effect.ci_lower))


def test_extended_form_equals_glm_with_cohort_period_dummies():
    df = count_panel(n_units=30, n_periods=6, cohorts=(3, 5), seed=4)
    effect = fit(df, _pdesign(poisson_form="extended"))
    treated = df["treated"] == 1
    cells = sorted(set(zip(df.loc[treated, "first_treated"], df.loc[treated, "period"], strict=True)))
    names = []
    for g, t in cells:
        name = f"c{g}_{t}"
        df[name] = ((df["first_treated"] == g) & (df["period"] == t)).astype(float)
        names.append(name)
    res, cov = _glm(df, names, "unit")
    table = pd.DataFrame(effect.diagnostics["cohort_period_effects"])
    np.testing.assert_allclose(table["log_rate_ratio"], res.params[names], atol=1e-6)
    np.testing.assert_allclose(table["std_error"], np.sqrt(np.diag(cov.loc[names, names])), atol=1e-6)
    # headline: log of treated cells' expected count over their expected count without treatment
    mu = res.fittedvalues[treated]
    tau = (df.loc[treated, names].to_numpy() @ res.params[names].to_numpy())
    assert effect.estimate == pytest.approx(math.log(mu.sum() / (mu * np.exp(-tau)).sum()), abs=1e-6)
    assert set(path_rows(effect)["event_time"]) == {0, 1, 2, 3}


def test_all_zero_units_are_dropped_with_a_warning():
    df = count_panel(seed=5, zero_unit=True)
    effect = fit(df, _pdesign(poisson_form="twfe"))
    zero_units = df.groupby("unit")["y"].max() == 0
    assert zero_units.loc[1] and effect.n_units == df["unit"].nunique() - int(zero_units.sum())
    assert any("all zero" in w for w in effect.warnings)
    kept = df[~df["unit"].map(zero_units)]
    assert effect.diagnostics["dropped_rows"] == len(df) - len(kept)
    res, _ = _glm(kept, ["treated"], "unit")
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-6)


def test_exposure_none_models_raw_counts():
    df = count_panel(seed=6)
    effect = fit(df, design("poisson", measure="count", exposure="none", poisson_form="twfe"))
    res, _ = _glm(df, ["treated"], "unit", offset=False)
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-6)


def test_recovers_the_rate_ratio():
    ests, covered = [], 0
    for seed in range(10):
        df = count_panel(n_units=80, n_periods=6, tau=0.3, base=3.0, seed=50 + seed)
        e = fit(df, _pdesign())
        ests.append(e.estimate)
        covered += e.ci_lower <= 0.3 <= e.ci_upper
    assert abs(np.mean(ests) - 0.3) < 3 * np.std(ests, ddof=1) / math.sqrt(10)
    assert covered >= 8


def test_castle_homicide_counts_with_population_exposure():
    effect = fit(castle(), castle_design("poisson", outcome="homicide_count", weights=None))
    assert effect.payload(RateRatio).form == "extended" and effect.payload(RateRatio).exposure == "population"
    assert 0.0 < effect.estimate < 0.2 and effect.n_clusters == 50


def test_errors():
    df = count_panel(seed=7)
    bad = df.assign(y=df["y"] - 5)
    with pytest.raises(DataError):  # data validation rejects negative counts before anything is fitted
        fit(bad, _pdesign())
    with pytest.raises(DesignError, match=r"outcomes\[0\]\.measure is 'level' .*estimator\.method is 'poisson'"):
        design("poisson", data={"population": "population"}, measure="level")
    with pytest.raises(DesignError, match=r"data\.population is not set"):
        design("poisson", measure="count")
    sparse = df.copy()
    sparse.loc[(sparse["first_treated"] == 5) & (sparse["period"] == 6), "y"] = 0
    with pytest.raises(EstimationError, match="cohort x period cells have only zero counts"):
        fit(sparse, _pdesign(poisson_form="extended"))
    with pytest.raises(EstimationError, match=r"estimator\.covariates are not supported by the poisson method"):
        fit(df.assign(z=df["period"] ** 2 + df["unit"]), _pdesign(covariates=["z"]))
    rcs = df.assign(unit=range(1, len(df) + 1))  # every row its own respondent
    with pytest.raises(DesignError, match=r"needs method callaway_santanna; 'poisson' needs panel data"):
        fit(rcs, _pdesign(panel=False))


def test_poisson_invariant_to_row_order_and_unit_labels():
    df = count_panel(seed=12)
    base = fit(df, _pdesign(poisson_form="extended"))
    other = df.sample(frac=1.0, random_state=3).reset_index(drop=True)
    other["unit"] = other["unit"] * 7 + 1000
    moved = fit(other, _pdesign(poisson_form="extended"))
    assert moved.estimate == pytest.approx(base.estimate, abs=1e-9)
    assert moved.std_error == pytest.approx(base.std_error, abs=1e-9)


@pytest.mark.slow
def test_poisson_coverage_sweep():
    reps, covered = 400, 0
    for seed in range(reps):
        df = count_panel(n_units=160, n_periods=6, tau=0.3, base=2.0, seed=9000 + seed)
        e = fit(df, _pdesign(poisson_form="twfe"))
        covered += e.ci_lower <= 0.3 <= e.ci_upper
    assert 0.93 <= covered / reps <= 0.97, covered / reps


def test_extended_form_without_never_treated_uses_last_cohort_as_control():
    df = count_panel(n_units=30, n_periods=6, cohorts=(3, 5), seed=14)
    df.loc[df["first_treated"] == 0, "first_treated"] = 6
    df["treated"] = (df["period"] >= df["first_treated"]).astype(int)
    effect = fit(df, _pdesign(poisson_form="extended", control_group="not_yet_treated"))
    assert any("last cohort to adopt (6)" in w for w in effect.warnings)
    kept = df[df["period"] < 6].copy()
    kept.loc[kept["first_treated"] == 6, "first_treated"] = 0
    treated = kept["treated"] == 1
    names = []
    for g, t in sorted(set(zip(kept.loc[treated, "first_treated"], kept.loc[treated, "period"], strict=True))):
        kept[f"c{g}_{t}"] = ((kept["first_treated"] == g) & (kept["period"] == t)).astype(float)
        names.append(f"c{g}_{t}")
    res, _ = _glm(kept, names, "unit")
    table = pd.DataFrame(effect.diagnostics["cohort_period_effects"])
    np.testing.assert_allclose(table["log_rate_ratio"], res.params[names], atol=1e-6)


def test_weights_equal_glm_var_weights():
    import statsmodels.api as sm

    df = count_panel(n_units=30, seed=15)
    df["w"] = 1.0 + (df["unit"] % 4)
    effect = fit(df, design("poisson", data={"population": "population", "weights": "w"}, measure="count",
                            poisson_form="twfe"))
    x = sm.add_constant(pd.concat([df[["treated"]].astype(float),
                                   pd.get_dummies(df["unit"], prefix="u", drop_first=True, dtype=float),
                                   pd.get_dummies(df["period"], prefix="t", drop_first=True, dtype=float)], axis=1))
    res = sm.GLM(df["y"], x, family=sm.families.Poisson(), offset=np.log(df["population"]),
                 var_weights=df["w"]).fit(tol=1e-14)
    assert effect.estimate == pytest.approx(res.params["treated"], abs=1e-6)


def test_level_effect_and_its_delta_method_error():
    df = count_panel(seed=16)
    e = fit(df, _pdesign(poisson_form="twfe"))
    d = e.payload(RateRatio)
    treated = df[df["treated"] == 1]
    # twfe form: change in expected count = mean(mu1) (1 - exp(-b)); SE = mean(mu1) x SE(b)
    mean_mu1 = d.level_att / (1 - math.exp(-e.estimate))
    assert d.level_att_std_error == pytest.approx(mean_mu1 * e.std_error, rel=1e-10)
    assert 0.3 * treated["y"].mean() < mean_mu1 < 3 * treated["y"].mean()


def test_poisson_event_study_equals_glm_with_event_time_dummies():
    """The log-rate event study that the DiD checks fit for Poisson effects: statsmodels GLM Poisson with
    unit, period and event-time dummies (reference -1), population offset, unit-clustered errors."""
    from cpeval.data import validate_panel
    from cpeval.estimation.did.poisson import PoissonDid

    df = count_panel(n_units=40, n_periods=6, cohorts=(3, 5), seed=4)
    d = _pdesign()
    panel = validate_panel(df, d)
    effect = PoissonDid(d).event_study(panel, d.outcomes[0])
    rel = (df["period"] - df["first_treated"]).where(df["first_treated"] > 0)
    keys = sorted(int(k) for k in rel.dropna().unique() if k != -1)
    names = []
    for k in keys:
        df[f"e{k}"] = (rel == k).astype(float)
        names.append(f"e{k}")
    res, cov = _glm(df, names, "unit")
    table = path_rows(effect).set_index("event_time")
    assert sorted(table.index) == sorted([*keys, -1])
    for k, name in zip(keys, names, strict=True):
        assert table.loc[k, "estimate"] == pytest.approx(res.params[name], abs=1e-6)
        assert table.loc[k, "std_error"] == pytest.approx(math.sqrt(cov.loc[name, name]), abs=1e-6)
    post = [n for k, n in zip(keys, names, strict=True) if k >= 0]
    assert effect.estimate == pytest.approx(float(res.params[post].mean()), abs=1e-6)


@pytest.mark.parametrize("form", ["twfe", "extended"])
def test_influence_reproduces_the_clustered_variance(form):
    # the influence kept for joint uncertainty across outcomes: G/(G-1) times its sum of squares is SE^2
    df = count_panel(n_units=30, n_periods=6, cohorts=(3, 5), seed=4)
    effect = fit(df, _pdesign(poisson_form=form))
    s = effect.sampling
    g = df["unit"].nunique()
    assert len(s.labels) == g and s.by == "unit"
    assert g / (g - 1) * float(s.influence @ s.influence) == pytest.approx(effect.std_error**2, rel=1e-10)
