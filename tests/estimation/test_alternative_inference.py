"""inference.method: validation, the few-treated rule, and the Effect's alternative inference in results.json."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cpeval.designs import design_from_dict
from cpeval.errors import DesignError
from cpeval.payloads import RateRatio, TrialTests
from cpeval.pipeline import evaluate


def null_panel(n_areas=20, n_months=12, n_treated=3, start=7, seed=0):
    rng = np.random.default_rng(seed)
    level = np.exp(rng.normal(np.log(20), 0.6, n_areas))
    u, t = np.meshgrid(np.arange(n_areas), np.arange(1, n_months + 1), indexing="ij")
    mu = level[u] * np.exp(0.15 * np.sin(2 * np.pi * t / 12))
    treated = np.isin(u, rng.choice(n_areas, n_treated, replace=False))
    return pd.DataFrame({"area": u.ravel(), "month": t.ravel(), "burglary": rng.poisson(mu).ravel(),
                         "population": 1000, "post": (treated & (t >= start)).astype(int).ravel()})


def did(method="twfe", inference=None):
    return {"name": "few", "kind": "did",
            "data": {"path": "x.csv", "unit": "area", "time": "month", "population": "population"},
            "treatment": {"indicator": "post"},
            "outcomes": [{"name": "burglary", "column": "burglary", "family": "crime", "measure": "count",
                          "better_if": "decrease"}],
            "estimator": {"method": method}, "inference": inference or {}}


def run(design, frame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return evaluate(design, frame)


def test_five_treated_areas_lead_with_the_wild_bootstrap():
    res = run(did(inference={"wild_bootstrap": {"replications": 999}}), null_panel(n_treated=5))
    alt = res.effects[0].inference
    assert alt is not None and alt.method == "wild_bootstrap" and alt.headline
    assert "5 treated and 15 untreated" in alt.reason and 0 < alt.p_value <= 1
    out = json.loads(res.to_json())["effects"][0]["inference"]
    assert out["method"] == "wild_bootstrap" and out["replications"] == 999 and out["weights"] == "rademacher"
    again = run(did(inference={"wild_bootstrap": {"replications": 999}}), null_panel(n_treated=5))
    assert res.to_json() == again.to_json()


def test_three_treated_areas_lead_with_randomisation_and_the_warning():
    res = run(did(inference={"permutations": 2000}), null_panel())
    e = res.effects[0]
    assert e.inference.method == "randomization" and e.inference.headline
    assert e.inference.enumerated and e.inference.replications == 1140  # 20 choose 3
    assert any("only 3 of the 20 clusters" in w for w in e.warnings)


def test_one_treated_area_uses_randomisation_and_many_add_nothing():
    one = run(did(inference={"permutations": 99}), null_panel(n_treated=1)).effects[0].inference
    assert one.method == "randomization" and one.enumerated and one.replications == 20
    assert "Conley & Taber 2011" in one.note
    many = run(did(), null_panel(n_areas=30, n_treated=12)).effects[0]
    assert many.inference is None and many.to_dict()["inference"] is None


def test_poisson_reports_the_score_bootstrap_and_analytic_none():
    boot = did("poisson", {"method": "wild_bootstrap", "wild_bootstrap": {"replications": 499}})
    res = run(boot, null_panel(n_treated=5))
    alt = res.effects[0].inference
    assert alt.method == "score_bootstrap" and alt.conf_int[0] < res.effects[0].estimate < alt.conf_int[1]
    assert "one weight per cluster" in alt.statistic  # bootcluster auto keeps clusters for the score bootstrap
    from cpeval.errors import EstimationError

    with pytest.raises(EstimationError, match=r"score bootstrap does not hold its size.*inference\.method: random"):
        run(boot, null_panel(n_treated=3))  # fewer than 5 treated clusters: refused
    assert run(did(inference={"method": "analytic"}), null_panel()).effects[0].inference is None


@pytest.mark.parametrize("design, needle", [
    (did("callaway_santanna", {"method": "wild_bootstrap"}), "inference.method: 'wild_bootstrap' does not apply"),
    ({"name": "t", "kind": "rct", "data": {"path": "x.csv", "unit": "id"}, "treatment": {"assignment": "z"},
      "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level", "better_if": "decrease"}],
      "inference": {"method": "wild_bootstrap"}}, "needs a cluster-randomised trial (treatment.cluster)"),
    ({"name": "t", "kind": "rct", "data": {"path": "x.csv", "unit": "id"}, "treatment": {"assignment": "z"},
      "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level", "better_if": "decrease"}],
      "inference": {"method": "randomization"}}, "set inference.permutations"),
])
def test_method_that_cannot_apply_is_a_design_error(design, needle):
    with pytest.raises(DesignError, match=r"inference\.method") as info:
        design_from_dict(design)
    assert needle in str(info.value)


def test_report_leads_with_the_valid_inference_and_explains_why():
    from cpeval.report.markdown import render_markdown

    res = run(did(inference={"wild_bootstrap": {"replications": 999}}), null_panel(n_treated=5))
    e, alt = res.effects[0], res.effects[0].inference
    text = render_markdown(res)
    effects = text[text.index("## Effects"):text.index("### Crime")]
    assert "Few treated clusters." in effects and "too small when only a few clusters are treated" in effects
    row = next(line for line in text.splitlines() if line.startswith("| burglary | primary | ATT"))
    # the bootstrap p-value comes before the analytic one in the table
    assert row.index(f"**{alt.p_value:.3g}** (wild bootstrap)") < row.index(f"analytic {e.p_value:.3g}")
    assert "## Inference beside the analytic interval" in text
    plain = render_markdown(run(did(), null_panel(n_areas=30, n_treated=12)))
    assert "Few treated clusters." not in plain and "## Inference beside" not in plain


def test_cluster_randomised_trial_with_few_treated_clusters_gets_the_bootstrap():
    from cpeval.datasets.rct import simulate_rct

    frame = simulate_rct(n_clusters=12, cluster_size=15, n_blocks=2, seed=5)
    design = {"name": "small trial", "kind": "rct", "data": {"path": "x.csv", "unit": "unit_id"},
              "treatment": {"assignment": "assigned", "cluster": "cluster_id"},
              "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level",
                            "better_if": "decrease"}],
              "estimator": {"method": "difference_in_means"}, "inference": {"wild_bootstrap": {"replications": 999}}}
    res = run(design, frame)
    alt = res.effects[0].inference
    # fewer than 10 treated clusters: one weight per person (180 of them, Rademacher), variance by cluster
    assert alt.method == "wild_bootstrap" and alt.headline and alt.weights == "rademacher"
    assert "one weight per observation" in alt.statistic and not alt.enumerated
    assert alt.conf_int[0] < res.effects[0].estimate < alt.conf_int[1]
    design["inference"]["wild_bootstrap"]["bootcluster"] = "cluster"
    alt = run(design, frame).effects[0].inference
    assert alt.weights == "webb" and "one weight per cluster" in alt.statistic  # 12 clusters: Webb


def test_wild_bootstrap_with_one_treated_area_is_refused_with_the_fix():
    from cpeval.errors import EstimationError

    for bootcluster in ("auto", "cluster", "observation"):
        design = did(inference={"method": "wild_bootstrap", "wild_bootstrap": {"bootcluster": bootcluster}})
        with pytest.raises(EstimationError, match=r"only one cluster is treated.*set inference\.method: randomization"):
            run(design, null_panel(n_treated=1))
    with pytest.raises(DesignError, match="bootcluster"):
        design_from_dict(did(inference={"wild_bootstrap": {"bootcluster": "area"}}))


@pytest.mark.slow
def test_synthetic_control_randomisation_is_the_placebo_in_space_p_value():
    from cpeval.designs import load_design

    design = load_design(Path(__file__).parents[2] / "designs" / "prop99.yaml")
    raw = design.model_dump(mode="json", by_alias=True)
    raw["inference"]["method"] = "randomization"
    raw["checks"] = sorted({*raw.get("checks", []), "placebo_space"})
    again = design_from_dict(raw)
    again._origin = design._origin
    res = run(again, None)
    check = next(c for c in res.checks if c.name == "placebo_space")
    alt = res.effects[0].inference
    assert alt.method == "randomization" and alt.p_value == check.values["p_value"]
    assert alt.replications == check.values["n_units"] and alt.conf_int == (None, None)


def test_very_few_trial_clusters_use_the_trials_re_randomisation_when_asked():
    from cpeval.datasets.rct import simulate_rct

    frame = simulate_rct(n_clusters=8, cluster_size=10, n_blocks=2, seed=3)
    design = {"name": "tiny trial", "kind": "rct", "data": {"path": "x.csv", "unit": "unit_id"},
              "treatment": {"assignment": "assigned", "cluster": "cluster_id"},
              "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level",
                            "better_if": "decrease"}], "inference": {"permutations": 500}}
    e = run(design, frame).effects[0]
    assert e.inference.method == "randomization" and e.inference.headline
    assert e.inference.p_value == e.payload(TrialTests).ri_p_value and e.inference.enumerated  # 6 x 6 within blocks


def test_a_p_value_of_zero_is_reported_as_a_bound():
    from cpeval.report.inference import p_text
    from cpeval.results import AlternativeInference

    alt = AlternativeInference("wild_bootstrap", 0.0, (0.1, 0.2), 9999, False, True, "t", "rademacher")
    assert p_text(alt) == "< 0.0001"


@pytest.mark.parametrize("method", ["event_study", "sun_abraham"])
def test_weighted_event_time_estimators_are_rebuilt_exactly(method):
    frame = null_panel(n_treated=6, seed=2).assign(w=lambda f: 1 + (f["area"] % 3))
    design = did(method, {"method": "wild_bootstrap", "wild_bootstrap": {"replications": 499}})
    design["data"]["weights"] = "w"
    e = run(design, frame).effects[0]  # the bootstrap refuses to run unless it rebuilds the reported estimate
    assert e.inference.method == "wild_bootstrap" and e.inference.conf_int[0] < e.estimate < e.inference.conf_int[1]


def test_staggered_poisson_under_auto_is_randomised():
    frame = null_panel(n_treated=6, seed=4)
    first = frame[frame["post"] == 1].groupby("area")["month"].min()
    late = first.index[:3]
    frame.loc[frame["area"].isin(late) & (frame["month"] < 9), "post"] = 0  # a second adoption date
    e = run(did("poisson", {"permutations": 99}), frame).effects[0]
    assert e.payload(RateRatio).form == "extended" and e.inference.method == "randomization"


def test_a_trial_with_one_treated_cluster_and_no_permutations_is_told_to_re_randomise():
    """auto cannot bootstrap one treated cluster (refused) and the trial re-randomises only with
    inference.permutations: no alternative inference runs, and the warning names the key to set."""
    from cpeval.datasets.rct import simulate_rct

    frame = simulate_rct(n_clusters=8, cluster_size=10, n_blocks=2, seed=3)
    first = frame["cluster_id"].iloc[0]
    frame["assigned"] = (frame["cluster_id"] == first).astype(int)
    design = {"name": "one treated cluster", "kind": "rct", "data": {"path": "x.csv", "unit": "unit_id"},
              "treatment": {"assignment": "assigned", "cluster": "cluster_id"},
              "outcomes": [{"name": "y", "column": "y", "family": "crime", "measure": "level",
                            "better_if": "decrease"}]}
    e = run(design, frame).effects[0]
    assert e.inference is None
    assert any("set inference.permutations" in w for w in e.warnings)
    assert not any("auto, which randomises here" in w or "wild bootstrap is refused" in w for w in e.warnings)
    design["inference"] = {"permutations": 200}
    e = run(design, frame).effects[0]
    assert e.inference.method == "randomization" and e.inference.headline


@pytest.mark.parametrize(("counts", "expected"), [
    ((1, 39), "randomization"), ((4, 36), "randomization"), ((36, 4), "randomization"),
    ((5, 35), "wild_bootstrap"), ((9, 31), "wild_bootstrap"), ((31, 9), "wild_bootstrap"),
    ((10, 30), None), ((20, 20), None),
])
def test_auto_thresholds_at_their_boundaries(counts, expected):
    """auto randomises below RANDOMISE_BELOW = 5 treated (or untreated) clusters, bootstraps below
    FEW_TREATED_CLUSTERS = 10, and adds nothing from 10 on; the bootstrap draws one weight per row below 10."""
    from cpeval.errors import EstimationError
    from cpeval.estimation.alternative import chosen_method, observation_weights, refuse_score_bootstrap

    method, headline, _ = chosen_method(design_from_dict(did()), counts)
    assert (method, headline) == (expected, expected is not None)
    assert observation_weights("auto", counts) is (min(counts) < 10)
    assert observation_weights("auto", counts, score=True) is False
    if min(counts) < 5:
        with pytest.raises(EstimationError, match="score bootstrap does not hold its size"):
            refuse_score_bootstrap(counts, "burglary")
    else:
        refuse_score_bootstrap(counts, "burglary")
