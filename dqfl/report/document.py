"""The report as a list of blocks, rendered twice: Markdown (report.md) and one self-contained
HTML page (report.html: tables as HTML, figures inline as base64 PNG, no network, no external
CSS or JavaScript), so the two can never say different things."""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    text: str  # a paragraph; `code`, **bold** and [links](target) are understood


@dataclass(frozen=True)
class Table:
    markdown: str  # a pipe table (header, separator, rows); cells hold no "|"


@dataclass(frozen=True)
class Figure:
    title: str
    path: Path


Block = Heading | Text | Table | Figure


def markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append("#" * block.level + " " + block.text)
        elif isinstance(block, Text):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(block.markdown)
        else:
            parts.append(f"### {block.title}\n\n![{block.title}]({block.path.name})")
    return "\n\n".join(parts) + "\n"


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 0.8em 0 1.6em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
.wrap { overflow-x: auto; }
figure { margin: 1em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-weight: 600; margin-bottom: 0.4em; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    out = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)
    return re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r'<a href="\2">\1</a>', out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(markdown_table: str) -> str:
    lines = [line for line in markdown_table.strip().splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].lstrip().startswith("|"):
        return f"<p>{_inline(markdown_table)}</p>"
    head = "".join(f"<th>{_inline(c)}</th>" for c in _cells(lines[0]))
    rows = "".join(
        "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(line)) + "</tr>"
        for line in lines[2:]
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<div class="wrap">{table}</div>'


_MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}


def _figure(figure: Figure) -> str:
    mime = _MIME.get(figure.path.suffix.lower(), "application/octet-stream")
    data = base64.b64encode(figure.path.read_bytes()).decode("ascii")
    title = html.escape(figure.title)
    return (
        f"<figure><figcaption>{title}</figcaption>"
        f'<img alt="{title}" src="data:{mime};base64,{data}"></figure>'
    )


def html_page(title: str, blocks: list[Block]) -> str:
    """One page that needs nothing but itself: styles inline, images as data: URIs."""
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            level = min(max(block.level, 1), 6)
            body.append(f"<h{level}>{_inline(block.text)}</h{level}>")
        elif isinstance(block, Text):
            body.append(f"<p>{_inline(block.text)}</p>")
        elif isinstance(block, Table):
            body.append(_table(block.markdown))
        else:
            body.append(_figure(block))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
