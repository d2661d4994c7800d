"""Sphinx extension: the benchmark table, generated at build time.

On ``builder-inited`` it reads ``benchmarks/results/latest.json`` (written by
``python -m benchmarks``) and writes ``_generated/benchmark_table.rst``, which
``user_guide/performance.rst`` includes: the machine and versions the run recorded, the table
(rendered by ``benchmarks/report.py``, the code that prints it after a run) and the command that
reproduces it. Nothing in it is typed by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rst_tables import escape, list_table

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
if str(ROOT) not in sys.path:  # ``benchmarks`` is a directory of the repository, not installed
    sys.path.insert(0, str(ROOT))

from benchmarks.report import rows  # noqa: E402


def _machine(report: dict[str, Any]) -> str:
    m = report["machine"]
    versions = dict(m["versions"])
    numpy = versions.pop("numpy", "?")
    ndgrad = versions.pop("ndgrad", "?")
    peers = ", ".join(f"{name} {version}" for name, version in versions.items())
    threads = m.get("pinning", {}).get("threads", 1)
    return (
        f"{m['cpu']}, {m['cpu_count']} cores, {m['memory_gib']} GiB, {m['platform']}; "
        f"Python {m['python']}, NumPy {numpy} with {m['numpy_blas']}, ndgrad {ndgrad} "
        f"(commit ``{m['ndgrad_commit']}``)" + (f"; {peers}" if peers else "") + f". "
        f"{threads} thread per system, garbage collector {'on' if m['gc_enabled'] else 'off'}, "
        f"{report['clock']} time."
    )


def _command(report: dict[str, Any]) -> str:
    """The recorded command, without the variables that slow OpenBLAS (as the run warns)."""
    unset = report["machine"].get("pinning", {}).get("openblas_tuning_env", {})
    prefix = "env " + " ".join(f"-u {name}" for name in unset) + " " if unset else ""
    return prefix + report["machine"]["command"]


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    header, body = rows(report)
    out = [
        f"Generated from ``benchmarks/results/latest.json`` when this page was built: a "
        f"{'quick ' if report.get('quick') else ''}run of ``{m['command']}`` on "
        f"{m['date_utc'][:10]}. Medians, with the ratio to hand-written NumPy measured in the "
        "same run in brackets.",
        "",
        f"**Machine.** {_machine(report)}",
        "",
    ]
    widths = " ".join(["34"] + [str(66 // (len(header) - 1))] * (len(header) - 1))
    out += list_table(
        [escape(h) for h in header], [[escape(c) for c in row] for row in body], widths
    )
    out += [
        "To reproduce it (about 8 minutes; ``bench`` installs the peers):",
        "",
        ".. code-block:: bash",
        "",
        "   pip install -e '.[bench]'",
        f"   {_command(report)}",
        "",
    ]
    return "\n".join(out)


def generate(app) -> None:
    text = render(json.loads(RESULTS.read_text()))
    target = Path(app.srcdir) / "_generated" / "benchmark_table.rst"
    target.parent.mkdir(exist_ok=True)
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def setup(app):
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
