"""A fast run of the Array API conformance suite (data-apis/array-api-tests) on ``ndgrad.numpy``.

The suite is vendored in ``third_party/array-api-tests`` (MIT; see ``third_party/README.md``),
so that this test runs from a fresh clone. Every test of the suite runs with a few Hypothesis
examples each (derandomized); the tests that fail for known reasons are listed, each with its
reason, in ``third_party/array-api-tests-xfails.txt``. A new failure, or a module that no longer
imports (as when ``xp.finfo(xp.float32)`` raised and took a whole module with it), fails this
test with the suite's own report. The full run at 20 examples is
``bash ../shared/conformance/array_api_tests.sh ndgrad.numpy 20`` (about 1360 passed).
"""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = ROOT / "third_party" / "array-api-tests"
XFAILS = ROOT / "third_party" / "array-api-tests-xfails.txt"
EXAMPLES = 3
# The full suite has 1384 tests; far fewer passing means that part of it did not run.
MIN_PASSED = 1300


def test_array_api_conformance_suite_passes(tmp_path):
    for module in ("pytest_jsonreport", "ndindex", "hypothesis"):
        # The test extra installs these; without them the suite cannot start.
        assert importlib.util.find_spec(module), f"{module} is missing: pip install -e '.[test]'"
    assert (SUITE / "conftest.py").is_file(), f"the vendored suite is missing: {SUITE}"
    env = dict(
        os.environ,
        ARRAY_API_TESTS_MODULE="ndgrad.numpy",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        PYTHONHASHSEED="0",
        HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "hypothesis"),
    )
    cmd = [
        # The suite's own pytest.ini and rootdir: ndgrad's (doctests, warnings as errors) must not
        # apply, and pytest would pick it from the --xfails-file path otherwise.
        sys.executable, "-m", "pytest", "-c", str(SUITE / "pytest.ini"), "--rootdir", str(SUITE),
        "-p", "no:cacheprovider", "-p", "tests._conformance_plugin", "-q", "-rfE",
        "--max-examples", str(EXAMPLES), "--derandomize", "--disable-deadline",
        "--xfails-file", str(XFAILS), "array_api_tests/",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=SUITE, env=env, capture_output=True, text=True, timeout=1800)
    report = run.stdout[-8000:] + run.stderr[-2000:]
    assert run.returncode == 0, f"the Array API conformance suite failed:\n{report}"
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) >= MIN_PASSED, f"too few tests ran:\n{report}"
