"""reStructuredText helpers shared by the extensions that generate pages at build time."""

from __future__ import annotations


def escape(text: str) -> str:
    """Backslash-escape every character reStructuredText could read as markup."""
    return "".join("\\" + c if not (c.isalnum() or c in " .,;()=-") else c for c in text)


def list_table(header: list[str], rows: list[list[str]], widths: str) -> list[str]:
    """The lines of a ``list-table`` directive (cells are inserted as they are: escape them)."""
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [header, *rows]:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return [*lines, ""]
