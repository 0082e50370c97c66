"""report.html: one self-contained page per design kind, built from the same sections as report.md.

For each kind (a DiD, a randomised trial, a synthetic control) the page parses with a strict tag-balance
check, has its parts and sections in the order of ``SECTIONS``, embeds every figure the sections drew (the
same bytes as figures/*.png) with alt text and a caption, shows tables as real tables, and refers to nothing
outside itself.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest

from _support import DESIGNS
from cpeval import evaluate
from cpeval.report.html import render_html
from cpeval.report.markdown import render_markdown
from cpeval.report.render import figures_by_section
from cpeval.report.section import PARTS
from cpeval.report.sections import SECTIONS

KINDS = {"did": "castle_doctrine.yaml", "rct": "hotspots_trial.yaml",
         "synthetic_control": "florida_stand_your_ground.yaml"}  # one example design per kind
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr"}
URL_ATTRS = {"src", "href", "srcset", "action", "poster", "data", "formaction", "background"}


class Page(HTMLParser):
    """Collects what the tests look at and fails on unbalanced tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.sections: list[str] = []
        self.parts: list[str] = []
        self.images: list[dict[str, str]] = []
        self.urls: list[str] = []
        self.tags: list[str] = []
        self.captions = 0
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "section" and "data-section" in a:
            self.sections.append(a["data-section"])
        if tag == "section" and a.get("id", "").startswith("part-"):
            self.parts.append(a["id"][5:])
        if tag == "img":
            self.images.append(a)
        if tag == "figcaption":
            self.captions += 1
        self.urls += [v for k, v in a.items() if k in URL_ATTRS and v]

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module", params=sorted(KINDS))
def rendered(request):
    result = evaluate(DESIGNS / KINDS[request.param], quiet=True)
    figures = figures_by_section(result)
    page = render_html(result, figures)
    parser = Page()
    parser.feed(page)
    parser.close()
    return request.param, result, figures, page, parser


def test_html_is_well_formed_and_has_the_sections_in_order(rendered):
    kind, result, figures, page, parser = rendered
    assert page.startswith("<!DOCTYPE html>") and not parser.errors and not parser.stack, parser.errors
    expected = [s.key for s in SECTIONS if s.applies(result)]
    assert parser.sections == expected
    assert parser.parts == list(dict.fromkeys(s.part for s in SECTIONS if s.applies(result)))
    assert parser.parts[0] == "summary" and parser.parts[-1] == "appendix"
    assert [list(PARTS).index(p) for p in parser.parts] == sorted(list(PARTS).index(p) for p in parser.parts)
    # the same sections as the Markdown report, in the same order
    titles = re.findall(r"(?m)^## (.+)$", render_markdown(result, figures))
    assert titles and titles[0] == "Summary" and "Effects" in titles and titles[-1] == "Reproduce"
    assert kind in page  # the appendix names the design kind


def test_every_figure_is_embedded_with_alt_text_and_caption(rendered):
    _, _, figures, _, parser = rendered
    pngs = [png for figs in figures.values() for png in figs.values()]
    assert pngs, "every design kind's report has figures"
    assert len(parser.images) == len(pngs) == parser.captions
    embedded = [base64.b64decode(img["src"].removeprefix("data:image/png;base64,")) for img in parser.images]
    assert all(img["src"].startswith("data:image/png;base64,") for img in parser.images)
    assert sorted(embedded) == sorted(pngs)  # the very bytes written to figures/
    assert all(len(img.get("alt", "")) > 10 for img in parser.images)


def test_no_network_resource_and_a_real_table(rendered):
    _, _, _, page, parser = rendered
    assert all(u.startswith(("data:", "#")) for u in parser.urls), parser.urls
    assert not re.search(r"(?i)https?://|url\(\s*['\"]?(?!data:)|@import|<script|<link", page)
    assert "table" in parser.tags and "th" in parser.tags and "td" in parser.tags
    assert '<th scope="col">' in page and "|---|" not in page  # Markdown tables became HTML tables
    assert 'name="viewport"' in page and "@media print" in page and "@media (max-width" in page


def test_text_is_escaped_once():
    from cpeval.report.blocks import inline, parse

    assert inline("a <b> & `x<y>` **bold** *it* 2 * 3 \\* 4") == (
        "a &lt;b&gt; &amp; <code>x&lt;y&gt;</code> <strong>bold</strong> <em>it</em> 2 * 3 * 4")
    blocks = parse("## T\n\n| a | b |\n|---|---|\n| 1 | <i> |\n\n- x\n- y\n\n![cap](figures/f.png)\n\n"
                   "<details><summary>more</summary>\n\ntext\n\n</details>\n")
    assert [b.kind for b in blocks] == ["heading", "table", "list", "figure", "details"]
    assert blocks[1].items == [["1", "&lt;i&gt;"]] and blocks[3].name == "f.png" and blocks[3].text == "cap"
    assert [b.kind for b in blocks[4].items] == ["paragraph"]
