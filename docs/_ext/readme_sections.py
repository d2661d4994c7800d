"""Sphinx extension: README sections that the documentation shows as they are, at build time.

README.md's "Limits you should know" and "Guarantees" are the project's statements of what it
does not see and what it promises; engineers edit them there, next to the code they change.
On ``builder-inited`` this extension converts those two sections from Markdown to
reStructuredText into ``_generated/readme_<slug>.rst``, which ``user_guide/limits.rst`` and
``user_guide/guarantees.rst`` include, so that the site never holds a second copy that drifts.

The conversion covers the Markdown those sections use: paragraphs, ``-`` lists, pipe tables,
inline code, bold, italics and links.
"""

from __future__ import annotations

import re
from pathlib import Path

from rst_tables import list_table

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTIONS = {"limits": "Limits you should know", "guarantees": "Guarantees"}


def section(markdown: str, title: str) -> str:
    """The body of the ``## title`` section, up to the next heading of level 1 or 2."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^##? |\Z)", markdown, re.S | re.M)
    if match is None:
        raise RuntimeError(f"README.md has no section '## {title}'")
    return match[1].strip("\n")


def _literal(match: re.Match) -> str:
    """Inline code as an inline literal, separated from adjacent letters as reST requires."""
    text, start, end = match.string, match.start(), match.end()
    before = "\\ " if start > 0 and text[start - 1].isalnum() else ""
    after = "\\ " if end < len(text) and text[end].isalnum() else ""
    return f"{before}``{match[1]}``{after}"


def inline(text: str) -> str:
    text = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1 (`\2`)", text)  # repository paths
    return re.sub(r"`([^`]+)`", _literal, text)


def _table(lines: list[str]) -> list[str]:
    rows = [
        [inline(cell.strip()) for cell in line.strip().strip("|").split(" | ")]
        for line in lines
        if not re.match(r"^\|[-| :]+\|$", line.strip())
    ]
    others = 30 // (len(rows[0]) - 1)  # the first column holds the statement
    widths = [100 - others * (len(rows[0]) - 1)] + [others] * (len(rows[0]) - 1)
    return list_table(rows[0], rows[1:], " ".join(map(str, widths)))


def _unnest_bold(match: re.Match) -> str:
    """reST cannot nest a literal in bold: ``**`x` text**`` becomes ``x`` **text**."""
    if "`" not in match[1]:
        return match[0]
    out = []
    for part in re.split(r"(`[^`]+`)", match[1]):
        if part.startswith("`") or not re.search(r"\w", part):
            out.append(part)
        else:
            lead, trail = part[: len(part) - len(part.lstrip())], part[len(part.rstrip()) :]
            out.append(f"{lead}**{part.strip()}**{trail}")
    return "".join(out)


def convert(markdown: str) -> str:
    """Markdown paragraphs, lists and pipe tables to reStructuredText."""
    out: list[str] = []
    markdown = re.sub(r"\*\*(.+?)\*\*", _unnest_bold, markdown, flags=re.S)
    for block in re.split(r"\n\s*\n", markdown):
        lines = block.splitlines()
        if lines[0].startswith("|"):
            out += _table(lines)
        else:
            out += [inline(line) for line in lines] + [""]
    return "\n".join(out).rstrip("\n") + "\n"


def generate(app) -> None:
    markdown = README.read_text()
    target_dir = Path(app.srcdir) / "_generated"
    target_dir.mkdir(exist_ok=True)
    for slug, title in SECTIONS.items():
        text = (
            f".. This file is generated from README.md's section '{title}'; edit it there.\n\n"
            + convert(section(markdown, title))
        )
        target = target_dir / f"readme_{slug}.rst"
        if not target.exists() or target.read_text() != text:
            target.write_text(text)


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
