"""The shipped case-study data match their stated sources and derivations (case_studies/data/README.md)."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from _support import CASE_DATA, ROOT


def test_shared_copies_have_the_recorded_sha256():
    readme = (CASE_DATA / "README.md").read_text()
    names = sorted(p.name for p in CASE_DATA.glob("*.csv"))
    assert {"castle.csv", "fbi_estimated_crimes_1979_2010.csv", "nsw_mixtape.csv"} <= set(names)
    for name in names:
        digest = hashlib.sha256((CASE_DATA / name).read_bytes()).hexdigest()
        assert digest in readme, f"{name}: sha256 {digest} not recorded in case_studies/data/README.md"


def test_castle_derived_columns(castle):
    first = castle[castle.post == 1].groupby("sid").year.min()
    assert (castle.treat_year == castle.sid.map(first).fillna(0).astype(int)).all()
    assert castle.groupby("treat_year").sid.nunique().to_dict() == {0: 29, 2006: 1, 2007: 13, 2008: 4, 2009: 2, 2010: 1}
    np.testing.assert_allclose(castle.population, castle.popwt, rtol=1e-6)  # popwt is stored as float32
    # computed from the float32 source rates; the CSV's shortest-repr floats may round the other way by 1
    assert (castle.homicide_count - castle.homicide * castle.population / 1e5).abs().max() <= 0.5 + 1e-3


def test_castle_matches_causaldata_source(castle):
    causaldata = pytest.importorskip("causaldata")
    source = causaldata.castle.load_pandas().data.sort_values(["sid", "year"]).reset_index(drop=True)
    for col in ("sid", "year", "post", "l_homicide", "l_larceny", "l_motor", "popwt", "homicide"):
        np.testing.assert_allclose(castle[col].to_numpy(float), source[col].to_numpy(float), rtol=1e-6)


def test_case_data_is_inside_the_project():
    assert CASE_DATA.is_relative_to(ROOT)
    assert isinstance(pd.read_csv(CASE_DATA / "castle.csv"), pd.DataFrame)
