"""Data sources: CSV, parquet and named datasets give the same panel; bad sources are clear errors."""

from __future__ import annotations

import copy

import pytest
import yaml

import cpeval
from _support import CASE_DATA, DESIGNS, write_design
from cpeval.errors import DataError, ProblemCode

CASTLE = yaml.safe_load((DESIGNS / "castle_doctrine.yaml").read_text())


def _design(tmp_path, data):
    raw = copy.deepcopy(CASTLE)
    raw["data"] = {**raw["data"], **data}
    if "dataset" in data:
        raw["data"].pop("path")
    return write_design(tmp_path, raw)


def test_parquet_and_packaged_dataset_match_csv(tmp_path, castle):
    castle.to_parquet(tmp_path / "castle.parquet")
    base = cpeval.evaluate(DESIGNS / "castle_doctrine.yaml").effect("homicide")
    pq = cpeval.evaluate(_design(tmp_path, {"path": "castle.parquet"})).effect("homicide")
    named = cpeval.evaluate(_design(tmp_path, {"dataset": "cpeval.castle"})).effect("homicide")
    for other in (pq, named):
        assert other.estimate == pytest.approx(base.estimate, abs=1e-12)
        assert other.std_error == pytest.approx(base.std_error, abs=1e-12)


def test_causaldata_dataset(tmp_path):
    pytest.importorskip("causaldata")
    raw = copy.deepcopy(CASTLE)
    raw["data"] = {"dataset": "causaldata.castle", "unit": "sid", "time": "year", "weights": "popwt"}
    effect = cpeval.evaluate(write_design(tmp_path, raw)).effect("homicide")
    base = cpeval.evaluate(DESIGNS / "castle_doctrine.yaml").effect("homicide")
    assert effect.estimate == pytest.approx(base.estimate, abs=1e-6)  # float32 source vs CSV copy


def test_unknown_packaged_dataset(tmp_path):
    with pytest.raises(DataError, match=r"did you mean 'cpeval\.castle'"):
        cpeval.evaluate(_design(tmp_path, {"dataset": "cpeval.castel"}))


def test_unparseable_and_empty_files(tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DataError) as info:
        cpeval.evaluate(_design(tmp_path, {"path": "bad.parquet"}))
    assert info.value.codes == {ProblemCode.UNREADABLE}
    (tmp_path / "empty.csv").write_text((CASE_DATA / "castle.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(DataError) as info:
        cpeval.evaluate(_design(tmp_path, {"path": "empty.csv"}))
    assert info.value.codes == {ProblemCode.EMPTY}


def test_data_hash_is_of_the_bytes_read(tmp_path):
    import hashlib

    result = cpeval.evaluate(DESIGNS / "castle_doctrine.yaml")
    assert result.data_sha256 == hashlib.sha256((CASE_DATA / "castle.csv").read_bytes()).hexdigest()
