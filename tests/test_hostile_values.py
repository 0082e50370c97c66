"""Implausible values a design or its data may hold: refused or warned about with the key and the fix."""

from __future__ import annotations

import copy

import pytest
import yaml

from _support import CASE_DATA, DESIGNS, write_design
from cpeval.cli import main
from cpeval.designs import design_from_dict
from cpeval.errors import DesignError

CBA = yaml.safe_load((DESIGNS / "castle_doctrine_cba.yaml").read_text())


def _cba(**changes) -> dict:
    raw = copy.deepcopy(CBA)
    raw["data"]["path"] = str(CASE_DATA / "castle.csv")
    raw["cost_benefit"].update(changes)
    return raw


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"discount": -0.99}, "cost_benefit.discount: a discount rate of -0.99 is outside [-0.05, 0.5]"),
        ({"discount": 3.5}, "cost_benefit.discount: a discount rate of 3.5 is outside [-0.05, 0.5]"),
        ({"discount": float("nan")}, "cost_benefit.discount: a discount rate of nan is outside"),
        ({"discount": [{"from_year": 0, "rate": 0.6}]}, "cost_benefit.discount[0].rate: input should be less than or "
                                                        "equal to 0.5 (got 0.6)"),
        ({"uncertainty": {"discount_rate": [0.02, 0.9]}},
         "uncertainty.discount_rate: a discount rate of 0.9 is outside [-0.05, 0.5]"),
        ({"uncertainty": {"discount_rate": [-0.5, 0.03]}}, "uncertainty.discount_rate: values must be >= -0.05"),
    ],
)
def test_discount_rates_outside_the_plausible_range_are_errors(changes, key):
    with pytest.raises(DesignError) as info:
        design_from_dict(_cba(**changes))
    assert key in str(info.value)


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"discount": -0.02}, "cost_benefit.discount: a discount rate of -0.02 is outside the usual range [0.0, 0.15]"),
        ({"discount": 0.2}, "cost_benefit.discount: a discount rate of 0.2 is outside the usual range"),
        ({"discount": [{"from_year": 0, "rate": 0.035}, {"from_year": 5, "rate": 0.3}]},
         "cost_benefit.discount[1].rate: a discount rate of 0.3"),
    ],
)
def test_unusual_discount_rates_are_warned_in_check_and_result(tmp_path, capsys, changes, warning):
    path = write_design(tmp_path, _cba(**changes))
    assert main(["check", str(path)]) == 0
    assert f"warning: {warning}" in capsys.readouterr().out


def test_usual_rates_give_no_warning(tmp_path, capsys):
    assert main(["check", str(write_design(tmp_path, _cba(discount=0.035)))]) == 0
    assert "discount rate" not in capsys.readouterr().out


def test_discount_warning_reaches_the_result():
    from cpeval.pipeline import evaluate

    raw = _cba(discount=0.2, simulations=0)
    raw["checks"] = []
    result = evaluate(design_from_dict(raw), quiet=True)
    assert any("a discount rate of 0.2 is outside the usual range" in w for w in result.warnings)


def test_many_data_problems_and_long_names_give_a_bounded_message(tmp_path, capsys):
    from _support import BASE_DID, small_panel

    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    raw = copy.deepcopy(BASE_DID)
    raw["estimator"]["covariates"] = [f"missing_{i}" for i in range(200)] + ["z" * 50_000]
    assert main(["check", str(write_design(tmp_path, raw))]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 61 and lines[-1] == "  ... and 142 more lines"  # 1 head + 201 problems, 60 shown
    assert "201 data problems found" in lines[0] and max(map(len, lines)) < 2_000


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r["data"].update(time=""), "column '': named by data.time but not in the data"),
        (lambda r: r["treatment"].update(indicator=""), "column '': named by treatment.indicator but not in the data"),
        (lambda r: r["estimator"].update(cluster=""), "column '': named by estimator.cluster but not in the data"),
    ],
)
def test_empty_column_names_are_missing_columns(tmp_path, capsys, change, expected):
    from _support import BASE_DID, small_panel

    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    raw = copy.deepcopy(BASE_DID)
    change(raw)
    assert main(["check", str(write_design(tmp_path, raw))]) == 2
    assert expected in capsys.readouterr().err


@pytest.mark.parametrize("measure", [{}, [0, 1, 2]])
def test_wrong_shapes_met_before_type_checks_are_design_errors(tmp_path, capsys, measure):
    """Found by the property run: a mapping or list where a validator expected a name."""
    from _support import BASE_DID, small_panel

    small_panel().to_csv(tmp_path / "panel.csv", index=False)
    raw = copy.deepcopy(BASE_DID)
    raw["outcomes"].append({"name": "v", "column": "y", "family": "crime", "victimisation": {"measure": measure}})
    assert main(["check", str(write_design(tmp_path, raw))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cpeval: error: ") and "internal error" not in err
