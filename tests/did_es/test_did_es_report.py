"""The castle event-study and Poisson designs run end to end, and the report shows the event-study plot, the
Bacon decomposition and the honest-DiD sensitivity."""

from __future__ import annotations

import json

import numpy as np
import pytest

import cpeval
from _support import DESIGNS
from cpeval.checks import run_checks
from cpeval.data import validate_panel
from cpeval.payloads import RateRatio
from cpeval.report import render_figures
from cpeval.report.markdown import render_markdown
from did_es._did_es import castle, count_panel, design, fit


@pytest.fixture(scope="module")
def event_result():
    return cpeval.evaluate(DESIGNS / "castle_doctrine_event_study.yaml")


def test_castle_event_study_design_report(event_result):
    result = event_result
    assert {c.name: c.status for c in result.checks} == {"pre_trends": "pass", "bacon": "info",
                                                          "honest_did": "info"}
    md = render_markdown(result)
    for text in ("## Event study", "Joint test that the 4 leads are zero", "## Goodman-Bacon decomposition",
                 "## Sensitivity to violations of parallel trends", "figures/event_study_homicide.png",
                 "figures/bacon_homicide.png", "figures/honest_did_homicide.png"):
        assert text in md
    figures = render_figures(result)
    for name in ("event_study_homicide", "bacon_homicide", "honest_did_homicide"):
        assert figures[f"figures/{name}.png"].startswith(b"\x89PNG")
    json.loads(result.to_json())
    # Sun & Abraham on the same design, as the heterogeneity-robust comparison
    design_sa = cpeval.load_design(DESIGNS / "castle_doctrine_event_study.yaml")
    raw = design_sa.model_dump(mode="json", by_alias=True)
    raw["estimator"]["method"] = "sun_abraham"
    sa = cpeval.evaluate(raw, data=castle()).effects[0]
    assert abs(sa.estimate - result.effects[0].estimate) < 0.05


def test_castle_poisson_design_reports_rate_ratio():
    result = cpeval.evaluate(DESIGNS / "castle_doctrine_poisson.yaml")
    e = result.effects[0]
    assert e.method == "poisson" and e.payload(RateRatio).form == "extended"
    assert e.payload(RateRatio).rate_ratio == pytest.approx(np.exp(e.estimate))
    md = render_markdown(result)
    assert "## Count outcomes: Poisson rate ratios" in md and f"{e.payload(RateRatio).rate_ratio:.4f}" in md
    assert "figures/event_study_homicide.png" in render_figures(result)
    pre = next(c for c in result.checks if c.name == "pre_trends")
    assert pre.values["source_method"] == "poisson" and pre.values["df"] == 4


def test_poisson_pre_trend_check_uses_a_log_rate_event_study():
    df = count_panel(n_units=60, n_periods=7, cohorts=(4,), seed=9)
    d = design("poisson", data={"population": "population"}, measure="count", checks=["pre_trends"])
    [check] = run_checks(["pre_trends"], validate_panel(df, d), [fit(df, d)])
    assert check.status == "pass" and check.values["source_method"] == "poisson"
    assert [r["event_time"] for r in check.table] == [-3, -2]
