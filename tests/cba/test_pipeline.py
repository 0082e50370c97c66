"""The castle design with a cost_benefit section: one run gives NPV, BCR, break-even, the probability and
the plots; `cpeval cba` runs it alone."""

from __future__ import annotations

import json

import pytest

from cpeval.cli import main
from cpeval.pipeline import evaluate
from cpeval.report import render_figures, render_markdown

from ._cba_support import ROOT

CASTLE_CBA = ROOT / "designs" / "castle_doctrine_cba.yaml"


@pytest.fixture(scope="module")
def result():
    return evaluate(CASTLE_CBA)


def test_castle_cost_benefit_in_result(result):
    cba = result.cost_benefit.to_dict()
    for key in ("pv_costs", "pv_benefits", "npv", "bcr", "roi", "break_even", "monte_carlo", "tornado", "sentence"):
        assert key in cba
    # the homicide effect is an increase (about +8%), so the law costs society: NPV < 0
    assert result.effect("homicide").estimate > 0
    assert cba["npv"] < 0 and cba["pv_benefits"] < 0
    assert 0 <= cba["prob_benefits_exceed_costs"] < 0.1
    assert cba["monte_carlo"]["draws"] == 100_000
    assert [o["outcome"] for o in cba["outcomes"]] == ["homicide"]  # falsification outcomes are not priced
    assert cba["provenance"]["name"] == "mccollister_2010"
    assert any(w.startswith("cost-benefit: homicide") for w in result.warnings)


def test_castle_npv_by_hand(result):
    """NPV at the estimate, recomputed from the stored schedule and the effect."""
    import math

    cba = result.cost_benefit.to_dict()
    b = result.effect("homicide").estimate
    o = cba["outcomes"][0]
    assert o["conversion"] == "log"
    assert o["crimes_avoided_per_year"] == pytest.approx(-math.expm1(b) * o["conversion_factor"], rel=1e-12)
    df = [1.03 ** -t for t in range(10)]
    share = [1.0] * 5 + [0.9 ** k for k in range(1, 6)]
    pvb = o["crimes_avoided_per_year"] * o["unit_cost"] * sum(d * s for d, s in zip(df, share, strict=True))
    pvc = 21 * 250000 * sum(df)
    assert cba["pv_benefits"] == pytest.approx(pvb, rel=1e-12)
    assert cba["pv_costs"] == pytest.approx(pvc, rel=1e-12)


def test_json_deterministic(result):
    again = evaluate(CASTLE_CBA)
    assert again.to_json() == result.to_json()
    json.loads(result.to_json())


def test_report_section_and_figures(result):
    md = render_markdown(result)
    assert "## Cost-benefit" in md
    assert "chance benefits exceed costs" in md
    assert "figures/cost_benefit_npv.png" in md and "figures/cost_benefit_tornado.png" in md
    assert "McCollister" in md
    figs = render_figures(result)
    for name in ("figures/cost_benefit_npv.png", "figures/cost_benefit_tornado.png"):
        assert figs[name].startswith(b"\x89PNG")


def test_no_section_no_report(result):
    from dataclasses import replace

    plain = replace(result, cost_benefit=None)
    assert "## Cost-benefit" not in render_markdown(plain)
    assert not any("cost_benefit" in k for k in render_figures(plain))


def test_cli_cba(tmp_path, capsys):
    out = tmp_path / "cba"
    assert main(["cba", str(CASTLE_CBA), "--out", str(out), "--simulations", "2000", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "NPV" in printed and "chance that benefits exceed costs" in printed
    data = json.loads((out / "cost_benefit.json").read_text())
    assert data["cost_benefit"]["monte_carlo"]["draws"] == 2000
    assert data["checks"] == []
    assert (out / "cost_benefit.md").read_text().startswith("## Cost-benefit")
    assert (out / "figures" / "cost_benefit_npv.png").stat().st_size > 1000


def test_cli_cba_simulations_override_is_validated(tmp_path, capsys):
    out = tmp_path / "cba"
    with pytest.raises(SystemExit) as stop:  # refused by the argument parser, before the design is read
        main(["cba", str(CASTLE_CBA), "--out", str(out), "--simulations", "-5", "--quiet"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--simulations: must be between 0 and 10,000,000, got -5" in err
    assert "Traceback" not in err
    assert not out.exists()
