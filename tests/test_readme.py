"""Every code block of README.md runs as written.

- ``python`` blocks with ``>>>`` prompts are doctests (ELLIPSIS and NORMALIZE_WHITESPACE).
- Other ``python`` blocks run as scripts in a fresh namespace (in a temporary directory); a block
  that defines ``test_*`` functions is a pytest module and runs under pytest with ndgrad's plugin.
- ``console`` blocks: each ``$ python ...`` command runs and its output must be the lines that
  follow it.
- ``bash`` blocks hold installation and benchmark commands that take minutes or change the
  environment: they are checked instead of run (valid bash, every ``python FILE`` exists, every
  ``python -m MODULE`` is importable, every ``pip install -e '.[extra]'`` names an extra of
  ``pyproject.toml``).
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
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[str, str, int]]:
    text = README.read_text()
    return [(m[1], m[2], text[: m.start()].count("\n") + 1) for m in _FENCE.finditer(text)]


BLOCKS = _blocks()


def _ids(kind: str) -> list[pytest.param]:
    return [
        pytest.param(code, line, id=f"README.md:{line}")
        for lang, code, line in BLOCKS
        if lang == kind
    ]


def test_every_block_has_a_known_language():
    assert BLOCKS and {lang for lang, _, _ in BLOCKS} <= {"python", "console", "bash"}


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def test_doctest_blocks_hold(in_tmp, restore_tables):
    """The ``>>>`` blocks, in order, as one document (later blocks use earlier names)."""
    globs: dict = {}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    out = io.StringIO()
    parser = doctest.DocTestParser()
    count = 0
    for lang, code, line in BLOCKS:
        if lang == "python" and ">>>" in code:
            test = parser.get_doctest(code, globs, "README", str(README), line)
            runner.run(test, out=out.write, clear_globs=False)
            globs = test.globs  # the DocTest ran on a copy
            count += len(test.examples)
    assert count > 20
    assert runner.failures == 0, out.getvalue()


_SCRIPTS = [p for p in _ids("python") if ">>>" not in p.values[0]]


@pytest.mark.parametrize(("code", "line"), _SCRIPTS)
def test_python_block_runs(code, line, in_tmp):
    if re.search(r"^def test_", code, re.M):
        (in_tmp / "test_readme_block.py").write_text(code)
        path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", in_tmp.name],
            cwd=in_tmp.parent, env=dict(os.environ, PYTHONPATH=path), capture_output=True,
            text=True, timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert "3 passed" in run.stdout, run.stdout
    else:
        namespace: dict = {"__name__": "__readme__"}
        exec(compile("\n" * (line) + code, str(README), "exec"), namespace)


def test_quickstart_trains_to_an_exact_fit(in_tmp, capsys):
    """The first example is the training-loop idiom: with zero_grad the loop converges."""
    code = next(code for lang, code, _ in BLOCKS if lang == "python")
    assert "zero_grad" in code
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert float(namespace["loss"]) < 1e-20
    assert namespace["w"].grad is None and namespace["h"] == 12.0
    # without zero_grad the gradients accumulate and the same loop does not converge
    broken = code.replace("    w.zero_grad()", "    pass").replace("    b.zero_grad()", "    pass")
    exec(compile(broken, str(README), "exec"), namespace := {})
    assert float(namespace["loss"]) > 1.0


@pytest.mark.parametrize(("code", "line"), _ids("console"))
def test_console_block_prints_what_it_shows(code, line, in_tmp):
    commands = re.findall(r"^\$ (.*)\n((?:(?!\$ ).*\n)*)", code, re.M)
    assert commands
    for command, expected in commands:
        argv = shlex.split(command)
        assert argv[0] == "python", command
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        run = subprocess.run(
            [sys.executable, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == expected.strip(), (command, run.stdout)


@pytest.mark.parametrize(("code", "line"), _ids("bash"))
def test_bash_block_is_valid_and_refers_to_what_exists(code, line):
    assert subprocess.run(["bash", "-n"], input=code, text=True).returncode == 0
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
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
                    for reqs in extras.values()
                    for req in reqs
                )
                assert found or declared, command
            else:
                assert (ROOT / argv[1]).is_file(), command
        if argv[:3] == ["pip", "install", "-e"]:
            for extra in re.findall(r"\[(.*)\]", argv[3])[0].split(","):
                assert extra in extras, (extra, command)
