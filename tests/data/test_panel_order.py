"""Row order and the data layer's copies: a panel already sorted by unit and time is used as it is (no sort),
a shuffled one is sorted into the same panel and gives the same estimates, the caller's frame is never
modified, and the file fingerprint read in chunks is the sha256 of the whole file's bytes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import cpeval
from cpeval.data import validate_panel
from cpeval.data.sources import HASH_CHUNK_BYTES, file_sha256, read_file
from cpeval.datasets.did import simulate_did
from cpeval.designs import design_from_dict
from cpeval.errors import DataError, ProblemCode

CS = {
    "name": "order", "kind": "did", "data": {"path": "panel.csv", "unit": "unit", "time": "period"},
    "treatment": {"first_treated": "first_treated"}, "outcomes": [{"name": "y", "column": "y"}],
    "estimator": {"method": "callaway_santanna", "approach": "dr", "control_group": "never_treated",
                  "aggregation": "dynamic"},
}


def _panel() -> pd.DataFrame:
    frame = simulate_did(n_units=120, n_periods=8, cohorts=(3, 5, 7), seed=11)
    return frame[["unit", "period", "first_treated", "y"]].sort_values(["unit", "period"], ignore_index=True)


def _shuffled(frame: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    return frame.sample(frac=1.0, random_state=seed)  # keeps the shuffled index labels, as a user's frame would


@pytest.fixture
def sort_calls(monkeypatch):
    """Every DataFrame.sort_values call made while the test runs (its ``by``)."""
    calls: list = []
    original = pd.DataFrame.sort_values

    def spy(self, by, *args, **kwargs):
        calls.append(by)
        return original(self, by, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "sort_values", spy)
    return calls


def test_sorted_panel_is_not_sorted_again(sort_calls):
    frame = _panel()
    sort_calls.clear()
    panel = validate_panel(frame, design_from_dict(CS))
    assert ["unit", "period"] not in sort_calls
    pd.testing.assert_frame_equal(panel.frame[["unit", "period", "first_treated", "y"]], frame)


def test_shuffled_panel_is_sorted_into_the_same_panel(sort_calls):
    frame = _panel()
    design = design_from_dict(CS)
    shuffled = _shuffled(frame)
    sort_calls.clear()
    from_shuffled = validate_panel(shuffled, design)
    assert ["unit", "period"] in sort_calls  # the sort runs when the order is not there
    pd.testing.assert_frame_equal(from_shuffled.frame, validate_panel(frame, design).frame)
    assert isinstance(from_shuffled.frame.index, pd.RangeIndex)


def test_shuffled_panel_gives_identical_estimates():
    frame = _panel()
    design = design_from_dict(CS)
    a = cpeval.evaluate(design, data=frame).effects[0]
    b = cpeval.evaluate(design, data=_shuffled(frame, seed=8)).effects[0]
    assert (a.estimate, a.std_error) == (b.estimate, b.std_error)
    cells = [[(r["group"], r["time"], r["estimate"], r["std_error"]) for r in e.path if r["kind"] == "att_gt"]
             for e in (a, b)]
    assert len(cells[0]) == 3 * 7 and cells[0] == cells[1]


def test_text_units_sorted_by_value_not_by_appearance(sort_calls):
    """'u10' sorts before 'u2' (as sort_values orders text); a frame ordered by number is not in that order."""
    frame = _panel()
    frame["unit"] = "u" + frame["unit"].astype(str)
    design = design_from_dict(CS)
    sort_calls.clear()
    by_number = validate_panel(frame, design)
    assert ["unit", "period"] in sort_calls
    in_text_order = frame.sort_values(["unit", "period"], kind="mergesort", ignore_index=True)
    sort_calls.clear()
    pd.testing.assert_frame_equal(validate_panel(in_text_order, design).frame, by_number.frame)
    assert ["unit", "period"] not in sort_calls


def test_caller_frame_untouched_when_the_panel_shares_its_columns():
    frame = _panel()
    frame["first_treated"] = frame["first_treated"].astype(float)  # cast in place of the copy in validation
    before = frame.copy()
    panel = validate_panel(frame, design_from_dict(CS))
    panel.frame.loc[:, "y"] = 0.0  # writing into the panel copies on write
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize("order", ["sorted", "shuffled"])
def test_duplicate_unit_periods_reported_alike_in_either_order(order):
    frame = pd.concat([_panel(), _panel().iloc[[17, 40, 41]]])
    frame = frame.sort_values(["unit", "period"], kind="mergesort") if order == "sorted" else _shuffled(frame)
    with pytest.raises(DataError) as info:
        validate_panel(frame, design_from_dict(CS))
    problem = next(p for p in info.value.problems if p.code == ProblemCode.DUPLICATE_ROWS)
    assert problem.message.startswith("6 rows share a unit-period pair")


# ------------------------------------------------------------------------------------------ the fingerprint
def test_streamed_sha256_of_the_fips_example(tmp_path):
    """FIPS 180-2, appendix B.1: SHA-256("abc")."""
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("size", [0, 1, HASH_CHUNK_BYTES - 1, HASH_CHUNK_BYTES, 2 * HASH_CHUNK_BYTES + 12_345])
def test_streamed_sha256_equals_the_whole_file_hash(tmp_path, size):
    path = tmp_path / "data.bin"
    path.write_bytes(np.random.default_rng(size).bytes(size))
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_read_file_fingerprint_is_of_the_bytes(tmp_path, suffix):
    frame = _panel()
    path = tmp_path / f"panel{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    source = read_file(path, path.name, "data.path")
    assert source.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    pd.testing.assert_frame_equal(source.frame, frame, check_exact=suffix == ".parquet")


def test_cohort_varying_within_units_named_in_unit_order():
    frame = _panel()
    first_row = frame.groupby("unit").head(1).index
    for unit in (9, 2, 5):  # the first row of each of these units gets another first treated period
        frame.loc[first_row[frame.loc[first_row, "unit"] == unit], "first_treated"] = 6
    named = []
    for data in (frame, _shuffled(frame)):  # units named in order of appearance
        with pytest.raises(DataError) as info:
            validate_panel(data, design_from_dict(CS))
        problem = next(p for p in info.value.problems if p.code == ProblemCode.COHORT_NOT_CONSTANT)
        named.append(problem.message.split("it varies in units ")[-1])
    assert named[0] == "2, 5, 9" and sorted(named[1].split(", ")) == ["2", "5", "9"]


def test_units_treated_from_the_start_dropped_alike_in_either_order():
    frame = _panel()
    always = frame["unit"].isin([4, 7])
    frame.loc[always, "first_treated"] = frame["period"].min()
    design = design_from_dict(CS)
    ordered, shuffled = validate_panel(frame, design), validate_panel(_shuffled(frame), design)
    pd.testing.assert_frame_equal(ordered.frame, shuffled.frame)
    assert ordered.warnings == shuffled.warnings
    assert ordered.summary == shuffled.summary
    assert ordered.summary["units"] == 118 and not ordered.frame["unit"].isin([4, 7]).any()
    assert any("dropped 2 units treated from the first period" in w for w in ordered.warnings)
