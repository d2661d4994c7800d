"""Every code block of README.md runs as written (conventions: ``tests/_doc_blocks.py``).

The README's python blocks run in order in one namespace, its ``console`` blocks print what they
show, and its ``bash`` blocks are checked. Its relative links lead to files that exist, and its
performance summary holds the numbers of ``benchmarks/results/latest.json``.
"""

from __future__ import annotations

import json
import re

import pytest

from tests._doc_blocks import (
    LANGUAGES,
    ROOT,
    check_bash,
    check_console,
    markdown_blocks,
    run_blocks_in_order,
)

README = ROOT / "README.md"
BLOCKS = markdown_blocks(README)


def _params(lang: str) -> list:
    return [pytest.param(b, id=b.where) for b in BLOCKS if b.lang == lang]


def test_every_block_has_a_known_language():
    assert BLOCKS and {b.lang for b in BLOCKS} <= LANGUAGES


def test_python_blocks_run(in_tmp, restore_tables):
    """The python blocks, in order, in one namespace: scripts run, doctest outputs hold."""
    assert any(b.lang == "python" for b in BLOCKS)
    run_blocks_in_order(BLOCKS, {"__name__": "__readme__"}, in_tmp)


def test_quickstart_trains_to_an_exact_fit(in_tmp, capsys):
    """The first example is the training-loop idiom: with zero_grad the loop converges."""
    code = next(b.code for b in BLOCKS if b.lang == "python")
    assert "zero_grad" in code
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert float(namespace["loss"]) < 1e-20
    assert namespace["w"].grad is None and namespace["h"] == 12.0
    # without zero_grad the gradients accumulate and the same loop does not converge
    broken = code.replace("    w.zero_grad()", "    pass").replace("    b.zero_grad()", "    pass")
    exec(compile(broken, str(README), "exec"), namespace := {})
    assert float(namespace["loss"]) > 1.0


@pytest.mark.parametrize("block", _params("console"))
def test_console_block_prints_what_it_shows(block):
    check_console(block)


@pytest.mark.parametrize("block", _params("bash"))
def test_bash_block_is_valid_and_refers_to_what_exists(block):
    check_bash(block)


def test_the_first_commands_install_and_run_the_demonstration_and_the_tests():
    """The two commands a first visit copies stay true (``.ci/run`` runs the second one)."""
    first = next(b.code for b in BLOCKS if b.lang == "bash")
    assert "pip install -e '.[examples]' && python examples/" in first
    assert "pip install -e '.[test,examples]' && python -m pytest" in first
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[test,examples]'\npython -m pytest\n" in ci


def test_relative_links_lead_to_files_that_exist():
    text = README.read_text()
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text)
    local = [link for link in links if not re.match(r"\w+://", link)]
    assert local
    for link in local:
        assert (ROOT / link).exists(), link


def _section(title: str) -> str:
    text = README.read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_performance_summary_holds_the_latest_results():
    """The README's summary table is typed, so it is checked against the JSON the docs render."""
    report = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    measures = {w["title"]: w for w in report["workloads"].values()} | report.get("memory", {})
    section = _section("Performance")
    header, _, *rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("|")
    ]
    assert header[0] == "workload" and len(rows) >= 5
    for title, *cells in rows:
        results = measures[title]["results"]
        for system, cell in zip(header[1:], cells, strict=True):
            assert cell == f"{results[system]['ratio']:.2f}x", (title, system, cell)
    machine = report["machine"]
    assert f"({machine['date_utc'][:10]}, ndgrad {machine['ndgrad_commit']}," in section
