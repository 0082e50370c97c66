"""Tables a design names (unit costs, deflators, harm weights) are read by the one file reader
(data.sources.read_file): a byte-order mark is read as UTF-8 text, and a file that is not UTF-8 or cannot be
read is a DataError naming the design key and the file, never a traceback."""

from __future__ import annotations

import pytest

from cpeval.cba.tables import load_deflator, load_unit_costs
from cpeval.errors import DataError, DesignError, ProblemCode
from cpeval.outcomes.harm import load_weight_table

UNIT_COSTS = "category,amount,currency,price_year\nburglary,1000.5,GBP,2016\n"


def test_a_unit_cost_table_with_a_byte_order_mark_reads_as_without(tmp_path):
    plain, bom = tmp_path / "plain.csv", tmp_path / "bom.csv"
    plain.write_text(UNIT_COSTS, encoding="utf-8")
    bom.write_text(UNIT_COSTS, encoding="utf-8-sig")  # as Excel saves "CSV UTF-8"
    a, b = load_unit_costs(str(plain)), load_unit_costs(str(bom))
    assert [(r.category, r.amount, r.price_year) for r in b.rows] == [("burglary", 1000.5, 2016)]
    assert a.rows == b.rows


def test_cells_are_read_as_text_not_as_numbers(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("category,amount,currency,price_year\n007,12,gbp,2016\n", encoding="utf-8")
    (row,) = load_unit_costs(str(path)).rows
    assert row.category == "007" and row.currency == "GBP"  # a numeric-looking category keeps its zeros


def test_a_latin1_unit_cost_table_is_a_data_error_naming_the_file(tmp_path):
    path = tmp_path / "costs.csv"
    path.write_bytes("category,amount,currency,price_year,label\nburglary,1,GBP,2016,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"(?s)unit-cost table .*costs\.csv.*cannot parse costs\.csv") as err:
        load_unit_costs(str(path))
    assert [p.code for p in err.value.problems] == [ProblemCode.UNREADABLE]


def test_a_latin1_deflator_is_a_data_error(tmp_path):
    path = tmp_path / "gdp.csv"
    path.write_bytes("year,index,note\n2020,100,\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"(?s)cost_benefit\.deflator: .*gdp\.csv"):
        load_deflator("gdp.csv", "GBP", tmp_path)


def test_harm_weights_with_a_byte_order_mark_and_in_latin1(tmp_path):
    good = tmp_path / "w.csv"
    good.write_text("offence,weight\nburglary,2.5\nrobbery,10\n", encoding="utf-8-sig")
    table = load_weight_table(str(good), str(tmp_path / "design.yaml"))
    assert table.weights == {"burglary": 2.5, "robbery": 10.0}
    bad = tmp_path / "latin.csv"
    bad.write_bytes("offence,weight,label\nburglary,1,caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"(?s)seriousness\.weights: latin\.csv.*cannot parse latin\.csv") as err:
        load_weight_table(str(bad), str(tmp_path / "design.yaml"))
    assert [p.code for p in err.value.problems] == [ProblemCode.UNREADABLE]


@pytest.mark.parametrize("text", ["source: [unclosed\n", "- a list\n- not a mapping\n"])
def test_a_broken_unit_cost_metadata_file_is_a_design_error(tmp_path, text):
    path = tmp_path / "costs.csv"
    path.write_text(UNIT_COSTS, encoding="utf-8")
    path.with_suffix(".yaml").write_text(text, encoding="utf-8")
    with pytest.raises(DesignError, match=r"cost_benefit\.unit_costs: the table's provenance file .*costs\.yaml"):
        load_unit_costs(str(path))


@pytest.mark.parametrize("text", ['{"name": "mine", ', '["not", "an object"]'])
def test_a_broken_harm_weight_provenance_file_is_a_design_error(tmp_path, text):
    path = tmp_path / "w.csv"
    path.write_text("offence,weight\nburglary,2.5\n", encoding="utf-8")
    path.with_suffix(".json").write_text(text, encoding="utf-8")
    with pytest.raises(DesignError, match=r"seriousness\.weights: the table's provenance file .*w\.json"):
        load_weight_table(str(path), str(tmp_path / "design.yaml"))
