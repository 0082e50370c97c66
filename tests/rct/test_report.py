from __future__ import annotations

from cpeval.pipeline import evaluate
from cpeval.report import render_markdown
from cpeval.report.rct import render_figures

from .conftest import nsw_design


def test_report_shows_itt_cace_adjusted_p_balance_attrition(hotspots_result):
    res = hotspots_result
    md = render_markdown(res)
    assert "![" in md and "figures/rct_effects.png" in md
    for text in ("## Randomised trial", "| outcome | ITT |", "CACE (SE)", "p (adjusted)", "p (randomisation, 2000",
                 "Romano-Wolf", "### Baseline balance", "prior_crime_harm", "### Attrition", "Lee (2009) bounds"):
        assert text in md, text
    figs = render_figures(res)
    assert sorted(figs) == ["rct_balance.png", "rct_effects.png"]
    assert all(v[:4] == b"\x89PNG" for v in figs.values())


def test_report_section_silent_for_plain_dim_without_checks():
    res = evaluate(nsw_design())
    md = render_markdown(res)
    assert "## Randomised trial" in md and "p (randomisation" not in md and "### Attrition" not in md


def test_lee_bounds_interval_is_labelled_with_the_design_level():
    import warnings

    from cpeval.datasets.rct import simulate_rct
    from cpeval.errors import CpevalWarning

    f = simulate_rct(seed=3, cluster_randomised=False, attrition=0.1)
    design = {"name": "x", "kind": "rct", "data": {"dataset": "cpeval.none", "unit": "unit_id"},
              "treatment": {"assignment": "assigned"}, "attrition": {"observed": "observed"},
              "inference": {"level": 0.9, "bootstrap": 50}, "outcomes": [{"name": "y", "column": "y"}]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CpevalWarning)
        md = render_markdown(evaluate(design, f))
    assert "| 90% CI of the bounds |" in md and "95% CI of the bounds" not in md
