"""The fingerprint of an in-memory DataFrame (cpeval.data.fingerprint): its documented definition, what it
ignores (the row index) and what it notices (a value, a name, a dtype, a missing value)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from cpeval.data.fingerprint import frame_sha256


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "area": ["a", "b", None],
        "year": np.array([2001, 2002, 2003], dtype="int64"),
        "rate": [1.5, np.nan, 2.0],
        "when": pd.to_datetime(["2020-01-01", "2020-02-01", "2020-03-01"]),
    })


def test_matches_the_documented_recipe_computed_by_hand():
    f = _frame()
    h = hashlib.sha256(b"cpeval-frame-v1\0")
    h.update(b"3x4\0")
    h.update(f"area\0{f['area'].dtype}\0".encode() + bytes([0, 0, 1]) + b"a\x1fb\x1f")
    h.update(b"year\0int64\0" + np.array([2001, 2002, 2003], dtype="<i8").tobytes())
    h.update(b"rate\0float64\0" + np.array([1.5, np.nan, 2.0], dtype="<f8").tobytes())
    ticks = f["when"].to_numpy().view("int64").astype("<i8")  # counts in the dtype's own unit
    h.update(f"when\0{f['when'].dtype}\0".encode() + ticks.tobytes())
    assert frame_sha256(f) == h.hexdigest()


def test_row_index_is_not_part_of_it():
    f = _frame()
    assert frame_sha256(f.set_axis([10, 20, 30])) == frame_sha256(f)


@pytest.mark.parametrize("change", [
    lambda f: f.assign(rate=[1.5, np.nan, 2.0000001]),
    lambda f: f.rename(columns={"rate": "rates"}),
    lambda f: f.assign(year=f["year"].astype("float64")),
    lambda f: f.assign(area=["a", "b", "None"]),       # a missing value is not the text 'None'
    lambda f: f.assign(area=["a", "b", ""]),           # nor the empty string
    lambda f: f.iloc[[1, 0, 2]],                       # row order is data
    lambda f: f[["year", "area", "rate", "when"]],     # so is column order
])
def test_any_change_to_the_data_changes_it(change):
    assert frame_sha256(change(_frame())) != frame_sha256(_frame())


def test_caller_frame_is_not_modified():
    f = _frame()
    before = f.copy()
    frame_sha256(f)
    pd.testing.assert_frame_equal(f, before)
