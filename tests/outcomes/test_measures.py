"""Outcome transformations against hand calculations and the weight tables against their cited sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cpeval.designs.outcomes import FearSpec
from cpeval.errors import DesignError
from cpeval.outcomes import (
    available_tables,
    cronbach_alpha,
    harm_components,
    harm_index,
    load_weight_table,
    log_with_zero_rule,
    rate,
    standardised_index,
    total,
    weighted_mean_se,
)
from cpeval.outcomes.survey import LabelError, code_item, fearful_share, ratio_from_totals, repeat_victimisation

REF = Path(__file__).resolve().parents[1] / "reference" / "outcomes"
HAND = json.loads((REF / "hand_calculations.json").read_text())
TABLES = json.loads((REF / "weight_tables.json").read_text())
SAFE = FearSpec(
    item="safe", scale=["very safe", "fairly safe", "a bit unsafe", "very unsafe"],
    fearful=["a bit unsafe", "very unsafe"], missing=["don't know"],
)


# ---------------------------------------------------------------- weight tables
@pytest.mark.parametrize("name", ["cambridge_chi", "ons_css"])
def test_weight_tables_match_their_cited_sources(name):
    ref = TABLES[name]
    table = load_weight_table(name)
    named = {k: v for k, v in ref.items() if k not in ("total", "unit")}
    assert table.weights == {k: float(v) for k, v in named.items()}
    assert table.total == ref["total"]
    for key in ("unit", "unit_meaning", "convention", "year", "verified_from", "not_shipped"):
        assert table.meta.get(key), f"{name}: provenance field {key!r} is missing"


def test_shipped_tables_listed():
    assert set(available_tables()) >= {"cambridge_chi", "ons_css"}


def test_user_csv_table_and_unknown_offence(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("offence,weight\nburglary,40\nassault,10\n")
    design_file = tmp_path / "design.yaml"
    table = load_weight_table("mine.csv", str(design_file))
    assert table.weights == {"burglary": 40.0, "assault": 10.0}
    with pytest.raises(DesignError, match=r"'burglry' is not in weight table .*did you mean 'burglary'"):
        table.weight("burglry")


def test_bad_tables_are_design_errors(tmp_path):
    with pytest.raises(DesignError, match=r"not a shipped weight table.*did you mean 'cambridge_chi'"):
        load_weight_table("cambridge_ch")
    bad = tmp_path / "bad.csv"
    bad.write_text("offence,w\nx,1\n")
    with pytest.raises(DesignError, match="needs the columns offence and weight; missing weight"):
        load_weight_table(str(bad))
    neg = tmp_path / "neg.csv"
    neg.write_text("offence,weight\nx,-1\n")
    with pytest.raises(DesignError, match="weights must be numbers >= 0"):
        load_weight_table(str(neg))
    with pytest.raises(DesignError, match="no file at"):
        load_weight_table(str(tmp_path / "nope.csv"))


def test_harm_index_hand_calculation():
    h = HAND["harm_index"]
    frame = pd.DataFrame({"shop": [h["shoplifting"], 0], "rob": [h["robbery_personal"], 1]})
    chi = load_weight_table("cambridge_chi")
    cols = {"shoplifting": "shop", "robbery_personal": "rob"}
    assert harm_index(frame, cols, chi).tolist() == [h["cchi"], 365.0]
    comps = harm_components(frame, cols, chi)
    assert comps.loc[0, "robbery_personal"] == 730.0 and comps.loc[0, "shoplifting"] == 10.0
    assert harm_index(frame.assign(rob=[None, 1]), cols, chi).isna().tolist() == [True, False]  # a count missing


# ---------------------------------------------------------------- transforms
def test_rate_total_and_logs():
    r = HAND["rate"]
    assert rate(pd.Series([r["count"]]), pd.Series([r["population"]]), r["per"]).iloc[0] == r["rate"]
    f = pd.DataFrame({"a": [1, 2], "b": [3, np.nan]})
    out = total(f, ["a", "b"])
    assert out.iloc[0] == 4 and np.isnan(out.iloc[1])
    y = pd.Series([0.0, 1.0, np.e - 1])
    one, nz = log_with_zero_rule(y, "add_one")
    assert nz == 1 and np.allclose(one, [0, np.log(2), 1])
    dropped, _ = log_with_zero_rule(y, "drop")
    assert np.isnan(dropped.iloc[0]) and dropped.iloc[1] == 0
    with pytest.raises(ValueError, match=r"1 values are zero.*zeros: add_one"):
        log_with_zero_rule(y, "error")
    with pytest.raises(ValueError, match="negative"):
        log_with_zero_rule(pd.Series([-1.0]), "add_one")


# ---------------------------------------------------------------- survey measures
def test_weighted_proportion_and_clustered_se_hand_calculation():
    h = HAND["weighted_proportion"]
    wm = weighted_mean_se(np.array(h["y"]), np.array(h["w"]), np.array(h["cluster"]))
    assert wm.estimate == pytest.approx(h["estimate"], rel=1e-12)
    assert wm.std_error == pytest.approx(h["std_error"], rel=1e-12)
    assert (wm.n, wm.n_clusters) == (6, 3)
    # the same from per-cluster totals, as the report computes it from area-wave rows
    df = pd.DataFrame(h).assign(wy=lambda d: d.w * d.y).groupby("cluster")[["wy", "w"]].sum()
    wt = ratio_from_totals(df["wy"].to_numpy(), df["w"].to_numpy())
    assert (wt.estimate, wt.std_error) == pytest.approx((wm.estimate, wm.std_error), rel=1e-12)


def test_weighted_se_matches_unclustered_when_each_row_is_a_cluster():
    rng = np.random.default_rng(1)
    y, w = rng.integers(0, 2, 50).astype(float), rng.uniform(1, 3, 50)
    a = weighted_mean_se(y, w)
    b = weighted_mean_se(y, w, np.arange(50))
    assert a.std_error == pytest.approx(b.std_error)


def test_cronbach_alpha_hand_calculation():
    h = HAND["cronbach_alpha"]
    alpha, n = cronbach_alpha(np.array(h["items"], float))
    assert alpha == pytest.approx(h["alpha"], rel=1e-12) and n == 4


def test_labels_and_codes_map_to_the_same_positions():
    text = pd.Series(["Very safe", " a bit  unsafe", "very unsafe", "don't know", None])
    codes = pd.Series([1, 3, 4.0, np.nan, 2])
    assert np.allclose(code_item(text, SAFE, "safe"), [1, 3, 4, np.nan, np.nan], equal_nan=True)
    assert np.allclose(code_item(codes, SAFE, "safe"), [1, 3, 4, np.nan, 2], equal_nan=True)
    share = fearful_share(code_item(text, SAFE, "safe"), SAFE)
    assert np.allclose(share, [0, 1, 1, np.nan, np.nan], equal_nan=True)


def test_unknown_labels_list_the_labels_seen():
    s = pd.Series(["very safe", "quite safe", "unsure", "very safe"])
    with pytest.raises(LabelError) as err:
        code_item(s, SAFE, "safe")
    msg = str(err.value)
    assert "'quite safe', 'unsure'" in msg and "Labels seen in the data: 'quite safe', 'unsure', 'very safe'" in msg


def test_standardised_index_uses_reference_rows():
    items = np.array([[1, 1], [3, 3], [2, np.nan], [4, 4]], float)
    w = np.ones(4)
    ref = np.array([True, True, False, False])
    idx = standardised_index(items, w, ref)
    # reference mean 2, SD 1 (weighted, population SD) for both items
    assert np.allclose(idx, [-1, 1, 0, 2])
    assert np.isnan(standardised_index(np.array([[1, np.nan, np.nan], [2, 2, 2], [3, 3, 3]]), np.ones(3),
                                       np.ones(3, bool))[0])


def test_repeat_victimisation():
    times = np.array([0, 0, 1, 2, 3, np.nan])
    out = repeat_victimisation(times, np.ones(6))
    assert out["prevalence"] == pytest.approx(3 / 5)
    assert out["incidence"] == pytest.approx(6 / 5)
    assert out["concentration"] == pytest.approx(2.0)
    assert out["repeat_victims_share_of_crimes"] == pytest.approx(5 / 6)


def test_victimisation_from_incidents():
    from cpeval.outcomes.survey import victimisation_from_incidents

    inc = pd.DataFrame({"area": ["A", "A", "A", "A", "B", "B"], "year": [1, 1, 1, 2, 1, 1],
                        "victim": ["v1", "v1", "v2", "v1", None, None]})
    out = victimisation_from_incidents(inc, "area", "victim", "year").set_index(["area", "year"])
    assert out.loc[("A", 1)].tolist() == [3, 2, 1]  # crimes, victims, repeat victims
    assert out.loc[("A", 2)].tolist() == [1, 1, 0]
    assert out.loc[("B", 1)].tolist() == [2, 2, 0]  # anonymous incidents are separate victims
    with pytest.raises(KeyError, match="lack the columns"):
        victimisation_from_incidents(inc, "ward", "victim")
