"""Count outcomes: the effect as a percentage of the treated units' counterfactual mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cpeval.datasets.did import simulate_did
from cpeval.payloads import GroupTimeFit
from did_cs._cs import cs_design, fit, rows


def _design(measure: str = "count", **estimator):
    d = cs_design({"unit": "unit", "time": "period"}, {"first_treated": "first_treated"}, "crimes", **estimator)
    return d.model_copy(update={"outcomes": [d.outcomes[0].model_copy(update={"measure": measure})]})


@pytest.fixture(scope="module")
def counts():
    return simulate_did(n_units=300, counts=True, seed=5)


def test_percent_change_by_hand(counts):
    effect = fit(counts, _design(approach="reg"))
    pct = effect.payload(GroupTimeFit).percent_change
    cells = rows(effect, "att_gt")
    post = cells[cells.post]
    sizes = counts.groupby("unit").first_treated.first().value_counts()
    w = post.group.map(sizes).to_numpy(float)
    mu = np.array([counts[(counts.first_treated == g) & (counts.period == t)].crimes.mean()
                   for g, t in zip(post.group, post.time, strict=True)])
    att = w @ post.estimate.to_numpy() / w.sum()
    cf = w @ (mu - post.estimate.to_numpy()) / w.sum()
    assert effect.estimate == pytest.approx(att, rel=1e-12)
    assert pct.counterfactual_mean == pytest.approx(cf, rel=1e-12)
    assert pct.estimate == pytest.approx(100 * att / cf, rel=1e-12)
    assert pct.ci_lower < pct.estimate < pct.ci_upper


def test_percent_change_se_matches_unit_bootstrap(counts):
    design = _design(approach="reg")
    pct = fit(counts, design).payload(GroupTimeFit).percent_change
    rng = np.random.default_rng(0)
    units = counts.unit.unique()
    draws = []
    for _ in range(80):
        pick = pd.DataFrame({"unit": rng.choice(units, len(units)), "new": np.arange(len(units))})
        sample = pick.merge(counts, on="unit").drop(columns="unit").rename(columns={"new": "unit"})
        draws.append(fit(sample, design).payload(GroupTimeFit).percent_change.estimate)
    assert pct.std_error == pytest.approx(np.std(draws), rel=0.25)


def test_only_for_counts_and_rates(counts):
    assert fit(counts, _design("level")).payload(GroupTimeFit).percent_change is None
    dyn = fit(counts, _design("rate", aggregation="dynamic")).payload(GroupTimeFit).percent_change
    assert dyn.aggregation == "dynamic"


def test_repeated_cross_sections():
    frame = simulate_did(n_units=400, counts=True, panel=False, seed=6)
    pct = fit(frame, _design(panel=False)).payload(GroupTimeFit).percent_change
    truth = 100 * (np.exp(frame.loc[frame.treated == 1, "true_effect"] / 10).mean() - 1)
    assert abs(pct.estimate - truth) < 4 * pct.std_error
