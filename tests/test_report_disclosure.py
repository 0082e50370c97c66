"""Disclosure control: no observed count below report.suppress_below reaches a table or a figure's data.

The property test draws counts (many below the threshold) into a synthetic-control count series, its placebo
gaps and a trial's attrition table, renders both reports, and reads every table cell of the counted columns.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _support import DESIGNS
from cpeval import evaluate
from cpeval._format import Suppressed
from cpeval.report.blocks import parse
from cpeval.report.disclosure import for_results_json, protect
from cpeval.report.html import render_html
from cpeval.report.markdown import render_markdown
from cpeval.report.render import figures_by_section

COUNTED = {"assigned", "lost", "respondents", "treated"}  # headers of columns holding observed counts
counts = st.integers(min_value=0, max_value=40)


@pytest.fixture(scope="module")
def synth():
    return evaluate(DESIGNS / "florida_stand_your_ground.yaml", quiet=True)


@pytest.fixture(scope="module")
def trial():
    return evaluate(DESIGNS / "hotspots_trial.yaml", quiet=True)


def with_threshold(result, limit):
    design = {**result.design, "report": {**result.design.get("report", {}), "suppress_below": limit}}
    return dataclasses.replace(result, design=design)


def synth_counts(result, values):
    """The synthetic control's outcome as counts: the treated series and its gaps replaced by ``values``."""
    e = result.effects[0]
    path = tuple({**r, "treated": v, "gap": v - r["synthetic"]} for r, v in zip(e.path, values, strict=False))
    effect = dataclasses.replace(e, measure="count", path=path + e.path[len(path):])
    checks = tuple(dataclasses.replace(c, values={**c.values, "treated_gap": [r["gap"] for r in effect.path]})
                   for c in result.checks)
    return dataclasses.replace(result, effects=(effect, *result.effects[1:]), checks=checks)


def trial_counts(result, assigned, lost):
    checks = tuple(dataclasses.replace(c, table=tuple(
        {**r, "assigned": a, "lost": min(lo, a), "attrition": min(lo, a) / a if a else 0.0}
        for r, a, lo in zip(c.table, assigned, lost, strict=True))) if c.name == "attrition" else c
        for c in result.checks)
    return dataclasses.replace(result, checks=checks)


class Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.cell = [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[-1][-1].append(self.cell.strip())
            self.cell = None


def small_counts_shown(tables, limit):
    """Cells of counted columns that show a number below ``limit``."""
    found = []
    for header, *rows in tables:
        for j, name in enumerate(header):
            if name not in COUNTED:
                continue
            for row in rows:
                cell = html.unescape(row[j]).replace(",", "")
                try:
                    value = float(cell)
                except ValueError:
                    assert cell.startswith("<") or cell in ("n/a", ""), cell
                    continue
                if value < limit:
                    found.append((name, cell))
    return found


def rendered_tables(result, limit):
    md_tables = [[b.header, *b.items] for b in parse(render_markdown(result)) if b.kind == "table"]
    for b in parse(render_markdown(result)):
        if b.kind == "details":
            md_tables += [[x.header, *x.items] for x in b.items if x.kind == "table"]
    parser = Tables()
    parser.feed(render_html(result, figures={}))
    return md_tables, parser.tables


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(counts, min_size=5, max_size=40), limit=st.integers(2, 30))
def test_no_small_count_in_synthetic_control_tables_or_figure_data(synth, values, limit):
    result = with_threshold(synth_counts(synth, [float(v) for v in values]), limit)
    for tables in rendered_tables(result, limit):
        assert not small_counts_shown(tables, limit)
    shown = protect(result)  # what every figure is drawn from
    e = shown.effects[0]
    for r in e.path:
        assert isinstance(r["treated"], Suppressed) or r["treated"] >= limit
        if isinstance(r["treated"], Suppressed):  # the gap would give the count back
            assert all(isinstance(r[k], Suppressed) or r[k] is None for k in ("gap", "ci_lower", "ci_upper"))
    gaps = dict(zip(shown.checks[0].values["times"], shown.checks[0].values["treated_gap"], strict=True))
    assert all(isinstance(gaps[r["time"]], Suppressed) for r in e.path if isinstance(r["treated"], Suppressed))
    withheld = sum(isinstance(r["treated"], Suppressed) for r in e.path)
    placed = values[:len(result.effects[0].path)]  # values beyond the path's periods are not used
    assert withheld == sum(r["treated"] < limit for r in result.effects[0].path) >= sum(v < limit for v in placed)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(assigned=st.lists(counts, min_size=3, max_size=3), lost=st.lists(counts, min_size=3, max_size=3),
       limit=st.integers(2, 30))
def test_no_small_count_in_trial_tables(trial, assigned, lost, limit):
    result = with_threshold(trial_counts(trial, assigned, lost), limit)
    for tables in rendered_tables(result, limit):
        assert not small_counts_shown(tables, limit)
        attrition = [t for t in tables if "lost" in t[0]]
        assert attrition  # the table is there, with its counts withheld or shown
        for row in attrition[0][1:]:  # a withheld count takes its attrition rate with it
            assert (row[1].startswith("<") or row[2].startswith("<")) == row[3].startswith("<")


def test_figures_draw_with_withheld_values_and_off_means_off(synth):
    result = with_threshold(synth_counts(synth, [3.0, 50.0, 4.0, 60.0, 70.0]), 10)
    figures = figures_by_section(result)
    assert figures["synthetic_control"]  # drawn, with gaps where counts are withheld
    off = with_threshold(synth_counts(synth, [3.0, 50.0]), None)
    assert "| 1979 |" not in render_markdown(off) or "<10" not in render_markdown(off)
    assert protect(off) is off


def test_results_json_keeps_what_the_design_says_and_says_which(synth):
    result = with_threshold(synth_counts(synth, [3.0, 50.0]), 10)
    full = json.loads(for_results_json(result).to_json())
    assert full["effects"][0]["path"][0]["treated"] == 3.0
    assert full["extras"]["disclosure"]["results_json"] == "full" and not full["extras"]["disclosure"]["applied"]
    design = {**result.design, "report": {**result.design["report"], "results_json": "suppressed"}}
    kept = json.loads(for_results_json(dataclasses.replace(result, design=design)).to_json())
    assert kept["effects"][0]["path"][0]["treated"] is None and kept["effects"][0]["path"][1]["treated"] == 50.0
    assert kept["extras"]["disclosure"] == {**kept["extras"]["disclosure"], "applied": True, "suppress_below": 10,
                                            "results_json": "suppressed"}
    assert math.isnan(Suppressed(10)) and f"{Suppressed(10):.1%}" == "<10"
