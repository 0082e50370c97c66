"""``derive``: derived outcome columns, survey aggregation, the errors, and the integration with load_panel."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _support import write_design
from cpeval.data import load_panel
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, DesignError, ProblemCode
from cpeval.outcomes import derive
from cpeval.payloads import OutcomeInfo

SAFE = {"item": "safe", "scale": ["very safe", "fairly safe", "a bit unsafe", "very unsafe"],
        "fearful": ["a bit unsafe", "very unsafe"], "missing": ["don't know"]}


def _panel() -> pd.DataFrame:
    rows = []
    for u, pop in (("A", 2000), ("B", 4000), ("C", 1000), ("D", 3000)):
        for t in (2019, 2020, 2021):
            k = len(rows)
            rows.append({"area": u, "year": t, "pop": pop, "post": int(u in "AB" and t == 2021),
                         "shop": 10 + k, "rob": k % 3, "victims": (k % 4) + 1, "crimes": (k % 4) + 3})
    return pd.DataFrame(rows)


def _design(outcomes, **data):
    return design_from_dict({
        "name": "t", "kind": "did",
        "data": {"path": "p.csv", "unit": "area", "time": "year", "population": "pop", **data},
        "treatment": {"indicator": "post"}, "outcomes": outcomes, "estimator": {"method": "twfe"},
    })


def test_area_outcomes_are_derived_without_touching_the_input():
    frame = _panel()
    before = frame.copy()
    design = _design([
        {"name": "rate", "column": "shop", "measure": "rate", "per": 1000},
        {"name": "logshop", "column": "rob", "measure": "log", "take_log": True, "zeros": "add_one"},
        {"name": "tot", "total_of": ["shop", "rob"]},
        {"name": "harm", "seriousness": {"weights": "cambridge_chi",
                                         "columns": {"shoplifting": "shop", "robbery_personal": "rob"}}},
        {"name": "harm_rate", "per": 1000, "measure": "rate",
         "seriousness": {"weights": "cambridge_chi", "columns": {"shoplifting": "shop", "robbery_personal": "rob"}}},
        {"name": "conc", "victimisation": {"measure": "concentration", "crimes": "crimes", "victims": "victims"}},
        {"name": "prev", "per": 1000, "victimisation": {"measure": "prevalence", "victims": "victims"}},
    ])
    out = derive(frame, design)
    pd.testing.assert_frame_equal(frame, before)
    o = {x.name: x for x in design.outcomes}
    assert np.allclose(out[o["rate"].column], frame.shop / frame["pop"] * 1000)
    assert np.allclose(out[o["logshop"].column], np.log1p(frame.rob))
    assert np.allclose(out[o["tot"].column], frame.shop + frame.rob)
    harm = frame.shop * 1 + frame.rob * 365
    assert np.allclose(out[o["harm"].column], harm)
    assert np.allclose(out[o["harm_rate"].column], harm / frame["pop"] * 1000)
    comps = [c for c in out.columns if c.startswith(o["harm_rate"].column + "__harm__")]
    assert np.allclose(out[comps].sum(axis=1), out[o["harm_rate"].column])
    assert np.allclose(out[o["conc"].column], frame.crimes / frame.victims)
    assert np.allclose(out[o["prev"].column], frame.victims / frame["pop"] * 1000)


def test_missing_and_bad_input_columns_are_collected(tmp_path):
    frame = _panel().assign(rob=lambda d: -d.rob)
    design = _design([
        {"name": "a", "column": "shopp", "measure": "rate", "per": 1000},
        {"name": "b", "total_of": ["shop", "rob"]},
    ])
    with pytest.raises(DataError) as err:
        derive(frame, design, "src")
    assert err.value.codes == {ProblemCode.MISSING_COLUMN, ProblemCode.NEGATIVE_VALUES}
    assert "named by outcomes[0].column but not in the data; did you mean 'shop'?" in str(err.value)


def test_rate_needs_population():
    design = _design([{"name": "a", "column": "shop", "measure": "rate", "per": 1000}], population=None)
    with pytest.raises(DesignError, match=r"outcomes\[0\]\.per: .*needs data\.population"):
        derive(_panel(), design)


def test_non_positive_population_and_zero_rule_error():
    frame = _panel()
    frame.loc[0, "pop"] = 0
    with pytest.raises(DataError) as err:
        derive(frame, _design([{"name": "a", "column": "shop", "measure": "rate", "per": 1000}]))
    assert err.value.codes == {ProblemCode.NON_POSITIVE}
    with pytest.raises(DataError, match="values are zero"):
        derive(_panel(), _design([{"name": "a", "column": "rob", "measure": "log", "take_log": True,
                                   "zeros": "error"}]))


def test_unknown_offence_is_a_design_error():
    design = _design([{"name": "h", "seriousness": {"weights": "cambridge_chi", "columns": {"robbery": "rob"}}}])
    with pytest.raises(DesignError, match=r"'robbery' is not in weight table 'cambridge_chi'.*robbery_business"):
        derive(_panel(), design)
    # the design error comes first even when the counts are also wrong
    with pytest.raises(DesignError, match=r"outcomes\[0\]\.seriousness\.columns\.robbery: offence 'robbery' is not"):
        derive(_panel().assign(rob=-1), design)


# ------------------------------------------------------------------------------------------ survey outcomes
def _survey() -> pd.DataFrame:
    return pd.DataFrame({
        "area": ["A", "A", "A", "B", "B", "A", "B", "B", "C", "D"],
        "year": [2019, 2019, 2019, 2019, 2019, 2021, 2021, 2021, 2019, 2019],
        "w": [1.0, 2.0, 1.0, 1.0, 3.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        "safe": ["very safe", "a bit unsafe", "don't know", "Very unsafe", "fairly safe", 3, 1, 4, "very safe",
                 "very unsafe"],
        "times": [0, 2, 1, 0, 0, 1, 0, 3, 0, 0],
    })


def test_fear_item_is_aggregated_to_area_wave_weighted_shares(tmp_path, monkeypatch):
    _survey().to_csv(tmp_path / "survey.csv", index=False)
    raw = {
        "name": "t", "kind": "did", "data": {"path": "p.csv", "unit": "area", "time": "year"},
        "treatment": {"indicator": "post"}, "estimator": {"method": "twfe"},
        "outcomes": [
            # the survey misses areas C and D in 2021 on purpose: those area-waves are left missing
            {"name": "unsafe", "fear": SAFE,
             "survey": {"path": "survey.csv", "weights": "w", "empty_cells": "missing"}},
            {"name": "conc", "victimisation": {"measure": "concentration", "column": "times"},
             "survey": {"path": "survey.csv", "weights": "w", "empty_cells": "missing"}},
        ],
    }
    _panel().to_csv(tmp_path / "p.csv", index=False)
    from cpeval.designs import load_design

    design = load_design(write_design(tmp_path, raw))
    out = derive(_panel(), design).set_index(["area", "year"])
    col = design.outcomes[0].column
    # A 2019: answers very safe (w1), a bit unsafe (w2), don't know (missing) -> 2/3
    assert out.loc[("A", 2019), col] == pytest.approx(2 / 3)
    assert out.loc[("B", 2019), col] == pytest.approx(1 / 4)  # very unsafe (w1), fairly safe (w3)
    assert out.loc[("B", 2021), col] == pytest.approx(1 / 2)  # codes 1 and 4
    assert out.loc[("A", 2021), col] == 1.0  # code 3
    assert np.isnan(out.loc[("A", 2020), col])  # no wave in 2020
    assert out.loc[("A", 2019), f"{col}__n"] == 2 and out.loc[("A", 2019), f"{col}__wsum"] == 3
    conc = design.outcomes[1].column
    assert out.loc[("A", 2019), conc] == pytest.approx((2 * 2 + 1 * 1) / (2 + 1))  # crimes per victim
    assert np.isnan(out.loc[("C", 2019), conc])  # no victims
    # the panel validates: survey outcomes may be missing outside survey waves
    panel = load_panel(design)
    assert any("observed in" in w for w in panel.warnings)
    # survey row order does not matter
    _survey().sample(frac=1, random_state=3).to_csv(tmp_path / "shuffled.csv", index=False)
    raw["outcomes"][0]["survey"]["path"] = "shuffled.csv"
    again = derive(_panel(), load_design(write_design(tmp_path, raw, "d2.yaml"))).set_index(["area", "year"])
    pd.testing.assert_series_equal(again[col], out[col])
    # an edited survey file is read again, not served from the cache
    _survey().assign(safe="very unsafe").to_csv(tmp_path / "shuffled.csv", index=False)
    edited = derive(_panel(), load_design(tmp_path / "d2.yaml")).set_index(["area", "year"])
    assert edited.loc[("B", 2019), col] == 1.0

    # the recorded hash is of the file's bytes (as for data.path), read once per version of the file
    import hashlib

    from cpeval.outcomes.derive import survey_sha256

    digest = survey_sha256(None, "shuffled.csv", str(tmp_path / "d2.yaml"))
    expected = hashlib.sha256((tmp_path / "shuffled.csv").read_bytes()).hexdigest()
    assert digest == expected
    calls = []
    original = pd.DataFrame.to_csv
    monkeypatch.setattr(pd.DataFrame, "to_csv", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    assert survey_sha256(None, "shuffled.csv", str(tmp_path / "d2.yaml")) == digest
    assert not calls  # served from the cache with the rows it was read with


def test_survey_problems(tmp_path):
    bad = _survey().assign(safe=lambda d: d.safe.replace({"fairly safe": "quite safe"}))
    bad.to_csv(tmp_path / "bad.csv", index=False)
    _survey().assign(year=lambda d: d.year + 10).to_csv(tmp_path / "late.csv", index=False)
    base = {"name": "t", "kind": "did", "data": {"path": "p.csv", "unit": "area", "time": "year"},
            "treatment": {"indicator": "post"}, "estimator": {"method": "twfe"}}
    from cpeval.designs import load_design

    d1 = load_design(write_design(tmp_path, {**base, "outcomes": [
        {"name": "u", "fear": SAFE, "survey": {"path": "bad.csv", "weights": "w"}}]}, "d1.yaml"))
    with pytest.raises(DataError) as err:
        derive(_panel(), d1)
    assert err.value.codes == {ProblemCode.UNKNOWN_LABEL}
    assert "'quite safe'" in str(err.value) and "Labels seen in the data:" in str(err.value)
    d2 = load_design(write_design(tmp_path, {**base, "outcomes": [
        {"name": "u", "fear": SAFE, "survey": {"path": "late.csv", "weights": "wt"}}]}, "d2.yaml"))
    with pytest.raises(DataError) as err:
        derive(_panel(), d2)
    assert err.value.codes == {ProblemCode.MISSING_COLUMN}
    assert "did you mean 'w'" in str(err.value)
    d3 = load_design(write_design(tmp_path, {**base, "outcomes": [
        {"name": "u", "fear": SAFE, "survey": {"path": "late.csv", "weights": "w"}}]}, "d3.yaml"))
    with pytest.raises(DataError) as err:
        derive(_panel(), d3)
    assert err.value.codes == {ProblemCode.BAD_TIME}
    assert "match no period" in str(err.value)
    # data without the unit column: derive leaves the survey outcome to validation, which names the column
    _panel().rename(columns={"area": "ward"}).to_csv(tmp_path / "p.csv", index=False)
    d4 = load_design(write_design(tmp_path, {**base, "outcomes": [
        {"name": "u", "fear": SAFE, "survey": {"path": "late.csv", "weights": "w"}}]}, "d4.yaml"))
    with pytest.raises(DataError) as err:
        load_panel(d4)
    assert ProblemCode.MISSING_COLUMN in err.value.codes
    assert any(p.column == "area" for p in err.value.problems)


def test_respondent_rows_in_the_design_data_are_used_row_by_row():
    frame = _survey().assign(unit=range(10), post=[0, 1] * 5)
    design = design_from_dict({
        "name": "t", "kind": "rct", "data": {"path": "p.csv", "unit": "unit", "weights": "w"},
        "treatment": {"assignment": "post"},
        "outcomes": [{"name": "unsafe", "fear": SAFE}],
    })
    out = derive(frame, design)
    col = design.outcomes[0].column
    values = out[col].to_numpy()
    assert np.allclose(values[[0, 1, 3, 4]], [0, 1, 1, 0]) and np.isnan(values[2])
    assert out[f"{col}__wsum"].iloc[1] == 2.0


def test_mean_scale_item_and_zero_rows_are_reported(tmp_path):
    from cpeval.designs import load_design
    from cpeval.outcomes import annotate_effect
    from cpeval.results import Effect

    _survey().to_csv(tmp_path / "survey.csv", index=False)
    frame = _panel()
    frame.to_csv(tmp_path / "p.csv", index=False)
    raw = {
        "name": "t", "kind": "did", "data": {"path": "p.csv", "unit": "area", "time": "year"},
        "treatment": {"indicator": "post"}, "estimator": {"method": "twfe"},
        "outcomes": [
            {"name": "score", "fear": {k: v for k, v in SAFE.items() if k != "fearful"},
             "survey": {"path": "survey.csv", "empty_cells": "missing"}},
            {"name": "logrob", "column": "rob", "measure": "log", "take_log": True, "zeros": "add_one"},
        ],
    }
    design = load_design(write_design(tmp_path, raw))
    out = derive(frame, design).set_index(["area", "year"])
    assert out.loc[("A", 2019), design.outcomes[0].column] == pytest.approx((1 + 3) / 2)  # unweighted positions
    panel = load_panel(design)
    effect = Effect(outcome="logrob", family="crime", measure="log", better_if="decrease", estimand="att",
                    method="x", estimate=0.1, std_error=0.05, level=0.95, ci_lower=0.0, ci_upper=0.2, p_value=0.05,
                    n_obs=12, n_units=4, n_clusters=4, variance_type="x")
    info = annotate_effect(effect, panel, design.outcomes[1]).payload(OutcomeInfo)
    assert info.definition.zero_rows == int((frame.rob == 0).sum()) > 0
    assert info.baseline.percent_of_baseline == pytest.approx(100 * np.expm1(0.1))
    score = annotate_effect(effect, panel, design.outcomes[0]).payload(OutcomeInfo).definition
    assert len(score.survey_sha256) == 64 and score.survey_source == "survey.csv"


def test_log_of_a_harm_index_validates(tmp_path):
    frame = _panel()
    design = _design([{"name": "h", "measure": "log", "take_log": True, "zeros": "add_one",
                       "seriousness": {"weights": "cambridge_chi", "columns": {"shoplifting": "shop"}}}])
    panel = load_panel(design, frame)
    assert np.allclose(panel.frame[design.outcomes[0].column].sort_values(), np.log1p(frame.shop.sort_values()))


def test_drop_rule_counts_zeros_not_missing_values(tmp_path):
    # zero_rows counts the values the zero rule touched, not rows that were missing anyway
    from cpeval.designs import load_design
    from cpeval.outcomes.derive import derive_with_info

    frame = _panel()
    frame.loc[frame.index[0], "rob"] = np.nan
    raw = {
        "name": "t", "kind": "did",
        "data": {"path": "p.csv", "unit": "area", "time": "year", "missing_outcomes": "drop"},
        "treatment": {"indicator": "post"}, "estimator": {"method": "twfe"},
        "outcomes": [{"name": "logrob", "column": "rob", "measure": "log", "take_log": True, "zeros": "drop"}],
    }
    design = load_design(write_design(tmp_path, raw))
    out, info = derive_with_info(frame, design)
    zeros = int((frame.rob == 0).sum())
    assert info["logrob"]["zero_rows"] == zeros > 0
    assert int(out[design.outcomes[0].column].isna().sum()) == zeros + 1  # the missing row is not counted

