"""Every code block of the documentation's sources (``docs/**/*.rst``) runs as written.

The same conventions as the README's (``tests/_doc_blocks.py``): each page's python blocks run in
order in one namespace, ``>>>`` outputs are checked, blocks defining ``test_*`` functions run
under pytest, ``console`` blocks print what they show, ``bash`` blocks are checked.
"""

from __future__ import annotations

import re

import pytest

from tests._doc_blocks import (
    LANGUAGES,
    ROOT,
    check_bash,
    check_console,
    rest_blocks,
    run_blocks_in_order,
)

DOCS = ROOT / "docs"
GENERATED = {"_build", "_generated", "auto_examples", "generated"}  # written by the build
PAGES = sorted(p for p in DOCS.rglob("*.rst") if not GENERATED & set(p.relative_to(DOCS).parts))
BLOCKS = {page: rest_blocks(page) for page in PAGES}


def _params(lang: str) -> list:
    return [
        pytest.param(b, id=b.where) for blocks in BLOCKS.values() for b in blocks if b.lang == lang
    ]


def test_every_block_has_a_known_language():
    langs = {b.lang for blocks in BLOCKS.values() for b in blocks}
    assert langs and langs <= LANGUAGES, langs


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(p, id=str(p.relative_to(ROOT)))
        for p, blocks in BLOCKS.items()
        if any(b.lang == "python" for b in blocks)
    ],
)
def test_page_python_blocks_run(page, in_tmp, restore_tables):
    """A page's python blocks, in order, in one namespace: scripts run, doctest outputs hold."""
    run_blocks_in_order(BLOCKS[page], {"__name__": "__docs__"}, in_tmp)


@pytest.mark.parametrize("block", _params("console"))
def test_console_block_prints_what_it_shows(block):
    check_console(block)


@pytest.mark.parametrize("block", _params("bash"))
def test_bash_block_is_valid_and_refers_to_what_exists(block):
    check_bash(block)


def test_no_code_escapes_the_test():
    """Code is shown only with ``.. code-block::`` (the directive collected above): no other code
    directive, and no ``::`` literal block, whose contents this test would never run."""
    for page in PAGES:
        text = page.read_text()
        other = re.findall(
            r"^ *\.\. (code|sourcecode|doctest|testcode|ipython|literalinclude)::", text, re.M
        )
        assert not other, (page, other)
        literal = [
            line
            for line in text.splitlines()
            if line.rstrip().endswith("::") and not line.lstrip().startswith("..")
        ]
        assert not literal, (page, literal)
    assert sum(b.lang == "python" for blocks in BLOCKS.values() for b in blocks) >= 12
