"""The benchmark table, from a results JSON (``benchmarks/results/latest.json``).

Free of side effects (``run.py`` pins threads on import), so that the documentation build can
render the same table: ``python -m benchmarks`` prints it as Markdown, the docs extension
``docs/_ext/benchmark_tables.py`` as a reStructuredText table.
"""

from __future__ import annotations

from typing import Any


def cell(entry: dict[str, Any] | None) -> str:
    """One system's result: the median and, when there is one, its ratio to NumPy."""
    if entry is None:
        return "-"
    if "error" in entry:
        return "error"
    ratio = entry.get("ratio")
    value = entry["median"]
    text = f"{value:.3g}" if value < 1000 else f"{value:.0f}"
    return text if ratio is None else f"{text} ({ratio:.2f}x)"


def rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The header (``workload`` and the systems) and one row per workload and memory measure."""
    names = list(report["machine"]["versions"])
    measures = [*report["workloads"].values(), *report.get("memory", {}).values()]
    titles = [*(w["title"] for w in report["workloads"].values()), *report.get("memory", {})]
    body = [
        [f"{title} [{m['unit']}]", *(cell(m["results"].get(n)) for n in names)]
        for title, m in zip(titles, measures, strict=True)
    ]
    return ["workload", *names], body


def table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per workload, one column per system, value and ratio."""
    header, body = rows(report)
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)
