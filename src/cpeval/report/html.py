"""The HTML report: one self-contained page built from the same sections as the Markdown report.

Figures are embedded as ``data:`` URIs and the stylesheet is inline, so the file loads nothing from the network;
a print stylesheet makes it a readable PDF (:mod:`cpeval.report.pdf`). Jinja2 renders the page
(``templates/report.html.j2``) and each section's fragment (``Section.template``) with autoescaping on; section
text reaches the templates already escaped by :func:`cpeval.report.blocks.inline`.
"""

from __future__ import annotations

import base64
from functools import cache
from typing import TYPE_CHECKING, Any

from cpeval.report.blocks import Block, parse
from cpeval.report.disclosure import protect
from cpeval.report.markdown import caption_from_name, section_markdown
from cpeval.report.section import PARTS
from cpeval.report.sections import SECTIONS

if TYPE_CHECKING:
    from jinja2 import Environment

    from cpeval.report.section import Section
    from cpeval.results import EvaluationResult


@cache
def environment() -> Environment:
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    return Environment(loader=PackageLoader("cpeval.report", "templates"), autoescape=select_autoescape(["j2"]),
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _shift(blocks: list[Block], by: int) -> list[Block]:
    for b in blocks:
        if b.kind == "heading":
            b.level = min(6, b.level + by)
        if b.kind == "details":
            _shift(b.items, by)
    return blocks


def section_html(section: Section, result: EvaluationResult, figures: dict[str, bytes],
                 numbering: list[int]) -> str:
    """One section's HTML fragment; ``numbering`` counts figures across the report (updated in place)."""
    blocks = _shift(parse(section_markdown(section, result, figures)), 1)  # the part is <h2>
    if blocks and blocks[0].kind == "heading" and blocks[0].text == PARTS[section.part]:
        blocks = blocks[1:]  # a section that is its whole part is titled once

    def figure(block: Block) -> dict[str, Any]:
        numbering[0] += 1
        png = figures.get(block.name)
        caption = block.text or caption_from_name(block.name)
        return {"number": numbering[0], "caption": caption, "alt": caption, "name": block.name,
                "src": data_uri(png) if png is not None else None}

    return environment().get_template(section.template).render(section=section, blocks=blocks, figure=figure)


def render_html(result: EvaluationResult, figures: dict[str, dict[str, bytes]] | None = None) -> str:
    """The report as one HTML page. ``figures``: each section's figures by key (drawn here when not given)."""
    result = protect(result)
    numbering = [0]
    parts: list[dict[str, Any]] = []
    for section in SECTIONS:
        if not section.applies(result):
            continue
        figs = figures.get(section.key, {}) if figures is not None else section.figures(result)
        if not parts or parts[-1]["key"] != section.part:
            parts.append({"key": section.part, "title": PARTS[section.part], "sections": []})
        parts[-1]["sections"].append({"key": section.key, "html": section_html(section, result, figs, numbering)})
    description = str(result.design.get("description") or "").strip()
    return environment().get_template("report.html.j2").render(
        title=result.name, description=description, parts=parts, version=result.cpeval_version)
