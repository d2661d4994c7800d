"""Code blocks of the documentation, run as tests (used by ``test_readme.py`` and ``test_docs.py``).

The conventions, the same for README.md (Markdown fences) and ``docs/**/*.rst``
(``.. code-block:: LANG`` directives):

- ``python`` blocks with ``>>>`` prompts are doctests (ELLIPSIS and NORMALIZE_WHITESPACE): their
  outputs are checked.
- Other ``python`` blocks run as scripts (in a temporary directory). A block that defines
  ``test_*`` functions is a pytest module: it is written to a file and runs under pytest with
  ndgrad's plugin, and every one of its tests must pass.
- ``console`` blocks: each ``$ python ...`` command runs and its output must be the lines that
  follow it.
- ``bash`` blocks hold installation, build and benchmark commands that take minutes or change the
  environment: they are checked instead of run (valid bash, every ``python FILE`` exists, every
  ``python -m MODULE`` is importable or comes from a declared extra, every
  ``pip install -e '.[extra]'`` names an extra of ``pyproject.toml``).
"""

from __future__ import annotations

import doctest
import importlib.util
import io
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = {"python", "console", "bash"}

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_DIRECTIVE = re.compile(r"^(?P<indent> *)\.\. code-block:: *(?P<lang>\w*) *\n", re.M)


@dataclass(frozen=True)
class Block:
    """One code block: its language, its code (dedented) and where it starts."""

    lang: str
    code: str
    path: Path
    line: int  # the line of the block's first code line, 1-based

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_doctest(self) -> bool:
        return self.lang == "python" and ">>>" in self.code

    @property
    def is_pytest_module(self) -> bool:
        return self.lang == "python" and bool(re.search(r"^def test_", self.code, re.M))


def markdown_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file."""
    text = path.read_text()
    return [
        Block(m[1], m[2], path, text[: m.start()].count("\n") + 2) for m in _FENCE.finditer(text)
    ]


def rest_blocks(path: Path) -> list[Block]:
    """The ``.. code-block::`` directives of a reStructuredText file, bodies dedented."""
    text = path.read_text()
    lines = text.splitlines(keepends=True)
    blocks = []
    for m in _DIRECTIVE.finditer(text):
        i = text[: m.end()].count("\n")  # index of the line after the directive
        indent = len(m["indent"])
        while i < len(lines) and re.match(r"^ +:\w+:", lines[i]):  # directive options
            i += 1
        body: list[str] = []
        start = None
        while i < len(lines):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip(" ")) <= indent:
                break
            if line.strip() and start is None:
                start = i
            if start is not None:
                body.append(line)
            i += 1
        code = textwrap.dedent("".join(body)).rstrip("\n") + "\n"
        blocks.append(Block(m["lang"], code, path, (start or i) + 1))
    return blocks


# --- running -----------------------------------------------------------------------------------


def run_doctest(block: Block, namespace: dict, runner: doctest.DocTestRunner, out) -> int:
    """Run a ``>>>`` block in ``namespace`` (updated in place); the number of examples run."""
    test = doctest.DocTestParser().get_doctest(
        block.code, namespace, block.where, str(block.path), block.line - 1
    )
    runner.run(test, out=out.write, clear_globs=False)
    namespace.update(test.globs)
    return len(test.examples)


def doctest_runner() -> tuple[doctest.DocTestRunner, io.StringIO]:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    return runner, io.StringIO()


def run_script(block: Block, namespace: dict) -> None:
    """Execute a script block in ``namespace``; tracebacks show the documentation's line numbers."""
    exec(compile("\n" * (block.line - 1) + block.code, str(block.path), "exec"), namespace)


def run_pytest_module(block: Block, tmp: Path) -> None:
    """Write a block that defines ``test_*`` functions to a file; all its tests must pass."""
    name = "test_" + re.sub(r"\W", "_", block.path.stem) + "_block.py"
    (tmp / name).write_text(block.code)
    expected = len(re.findall(r"^def test_", block.code, re.M))
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", tmp.name],
        cwd=tmp.parent, env=dict(os.environ, PYTHONPATH=path), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{expected} passed" in run.stdout, run.stdout


def run_blocks_in_order(blocks: list[Block], namespace: dict, tmp: Path) -> int:
    """Run the python blocks of one document in order, in one namespace (pytest modules apart).

    Returns the number of doctest examples run; raises AssertionError naming the failures.
    """
    runner, out = doctest_runner()
    examples = 0
    for block in blocks:
        if block.lang != "python":
            continue
        if block.is_doctest:
            examples += run_doctest(block, namespace, runner, out)
        elif block.is_pytest_module:
            run_pytest_module(block, tmp)
        else:
            run_script(block, namespace)
    assert runner.failures == 0, out.getvalue()
    return examples


def check_console(block: Block) -> None:
    """Run each ``$ python ...`` command from the repository root; compare its output."""
    commands = re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", block.code, re.M)
    assert commands, block.where
    for command, expected in commands:
        argv = shlex.split(command)
        assert argv[0] == "python", command
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        run = subprocess.run(
            [sys.executable, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        got, want = run.stdout.strip(), expected.strip()
        shown = re.search(r"on NumPy (\S+):", want)
        if shown and shown[1] != np.__version__:
            # the counts of a NumPy other than the one the page shows (another NumPy has
            # another surface: 2.5 adds ``polyvalnd``): the same report with other numbers;
            # the exit status above says that every function is classified
            got, want = re.sub(r"\d+", "N", got), re.sub(r"\d+", "N", want)
        assert got == want, (command, run.stdout)


def extras() -> dict[str, list[str]]:
    """The optional dependencies of ``pyproject.toml``, by extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["optional-dependencies"]


def check_bash(block: Block) -> None:
    """A bash block is valid bash and refers only to files, modules and extras that exist."""
    code = block.code
    assert subprocess.run(["bash", "-n"], input=code, text=True).returncode == 0, block.where
    declared_extras = extras()
    for command in re.split(r"&&|\n", re.sub(r"#.*", "", code)):
        argv = shlex.split(command)
        while argv and (argv[0] == "env" or argv[0].startswith("-") or "=" in argv[0]):
            argv = argv[2:] if argv[0] == "-u" else argv[1:]
        if argv[:1] == ["python"] and len(argv) > 1:
            if argv[1] == "-m":
                sys.path.insert(0, str(ROOT))
                try:
                    found = importlib.util.find_spec(argv[2]) is not None
                finally:
                    sys.path.remove(str(ROOT))
                # a tool of an extra the test command does not install (sphinx: ``docs``)
                # must at least be declared there
                declared = any(
                    re.match(rf"{re.escape(argv[2])}\b", req, re.I)
                    for reqs in declared_extras.values()
                    for req in reqs
                )
                assert found or declared, command
            else:
                assert (ROOT / argv[1]).is_file(), command
        if argv[:3] == ["pip", "install", "-e"]:
            for extra in re.findall(r"\[(.*)\]", argv[3])[0].split(","):
                assert extra in declared_extras, (extra, command)
