"""The notebook view of a result: the Markdown report with its figures embedded."""

from __future__ import annotations

import base64
import re

import cpeval
from _support import DESIGNS
from cpeval.report import render_figures, render_markdown
from cpeval.report.notebook import self_contained_markdown


def test_self_contained_markdown_embeds_every_linked_figure():
    result = cpeval.evaluate(DESIGNS / "castle_doctrine_cs.yaml")
    plain = render_markdown(result)
    links = re.findall(r"\]\(figures/([^)]+)\)", plain)
    assert links, "the CS report links its figures"
    figures = render_figures(result)
    text = self_contained_markdown(result, heading_offset=1)
    assert "](figures/" not in text
    for name in links:
        assert base64.b64encode(figures[f"figures/{name}"]).decode()[:200] in text
    assert text.startswith("## ") and "\n# " not in text
    # only links and headings differ from report.md
    strip = re.sub(r"\]\([^)]*\)", "]()", text)
    assert re.sub(r"(?m)^#", "", strip) == re.sub(r"\]\([^)]*\)", "]()", plain)


def test_conf_int_at_another_level_needs_a_standard_error():
    import dataclasses

    import pytest

    effect = cpeval.evaluate(DESIGNS / "castle_doctrine.yaml").effect("homicide")
    no_se = dataclasses.replace(effect, std_error=float("nan"))
    assert no_se.conf_int() == (effect.ci_lower, effect.ci_upper)
    with pytest.raises(ValueError, match=r"exists only at the design's level 0\.95"):
        no_se.conf_int(0.9)
