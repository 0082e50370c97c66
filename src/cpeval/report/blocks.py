"""A section's Markdown as blocks (headings, paragraphs, lists, tables, figures, details) for the HTML report.

Sections write one small Markdown subset; this reads exactly that subset, so the HTML says what the Markdown
says, with real tables and figures. Inline text is escaped and then given ``**bold**``, ``*italic*`` and
`` `code` `` markup.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

_FIGURE = re.compile(r"^!\[([^\]]*)\]\(figures/([^)\s]+)\)$")
_DETAILS = re.compile(r"^<details><summary>(.*)</summary>$")
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w*\\])\*(?!\s)(.+?)(?<![\s\\])\*(?![\w*])")


def inline(text: str) -> str:
    """Escaped HTML of one line of Markdown text."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append(f"<code>{html.escape(part)}</code>")
            continue
        s = html.escape(part, quote=False)
        s = _BOLD.sub(r"<strong>\1</strong>", s)
        s = _ITALIC.sub(r"<em>\1</em>", s)
        out.append(s.replace("\\*", "*"))
    return "".join(out)


@dataclass
class Block:
    kind: str  # heading | paragraph | list | table | figure | details
    text: str = ""
    level: int = 0
    items: list[Any] = field(default_factory=list)  # list items; table rows (lists of cells); details' blocks
    header: list[str] = field(default_factory=list)
    name: str = ""  # figure file name


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def parse(markdown: str) -> list[Block]:
    lines = markdown.splitlines()
    blocks: list[Block] = []
    stack: list[list[Block]] = [blocks]
    para: list[str] = []
    i = 0

    def flush() -> None:
        if para:
            stack[-1].append(Block("paragraph", text=inline(" ".join(para))))
            para.clear()

    while i < len(lines):
        line = lines[i].rstrip()
        s = line.strip()
        m_fig, m_det = _FIGURE.match(s), _DETAILS.match(s)
        if not s:
            flush()
        elif s.startswith("#"):
            flush()
            hashes = len(s) - len(s.lstrip("#"))
            stack[-1].append(Block("heading", text=inline(s[hashes:].strip()), level=hashes))
        elif m_fig:
            flush()
            stack[-1].append(Block("figure", text=m_fig.group(1), name=m_fig.group(2)))
        elif m_det:
            flush()
            details = Block("details", text=inline(m_det.group(1)))
            stack[-1].append(details)
            stack.append(details.items)
        elif s == "</details>":
            flush()
            if len(stack) > 1:
                stack.pop()
        elif s.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("|-: "):
            flush()
            table = Block("table", header=[inline(c) for c in _cells(s)])
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                table.items.append([inline(c) for c in _cells(lines[i])])
                i += 1
            stack[-1].append(table)
            continue
        elif s.startswith("- "):
            flush()
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append(inline(lines[i].strip()[2:]))
                i += 1
            stack[-1].append(Block("list", items=items))
            continue
        else:
            para.append(s)
        i += 1
    flush()
    return blocks
