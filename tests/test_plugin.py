"""The pytest plugin, run on tiny test files with pytester: fixtures, options, failure output."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests._doc_blocks import rest_blocks

pytest_plugins = ["pytester"]

# The inner runs see neither this project's pyproject nor its conftest: warnings stay errors so
# that a plugin that warns would fail here.
INI = """
[pytest]
filterwarnings = error
"""


@pytest.fixture
def run(pytester):
    pytester.makeini(INI)

    def run(source, *args):
        pytester.makepyfile(test_user=source)
        return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)

    return run


def test_plugin_is_registered_through_the_pytest11_entry_point(request):
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]["pytest11"]
    assert declared == {"ndgrad": "ndgrad.testing.plugin"}
    # Loaded from the installed metadata, with no -p option: this very session has it.
    assert request.config.pluginmanager.hasplugin("ndgrad")


def test_gradcheck_fixture_passes_on_correct_gradients(run):
    result = run(
        """
        import numpy as np

        def test_tanh(gradcheck):
            gradcheck(lambda w: np.sum(np.tanh(w) ** 2), np.linspace(-1.0, 1.0, 5), order=2)

        def test_two_arguments(gradcheck):
            gradcheck(lambda x, y: x * np.exp(y), np.ones(3), np.array([0.1, 0.2, 0.3]))

        def test_close(assert_grad_close, gradcheck):
            import ndgrad as nd
            g = nd.grad(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
            assert_grad_close(g, np.array([3.0, 12.0]))
            gradcheck.close(g, np.array([3.0, 12.0]))
        """
    )
    result.assert_outcomes(passed=3)


def test_gradcheck_fixture_failure_output_names_worst_element(run):
    result = run(
        """
        import numpy as np
        import ndgrad as nd

        def _cube(x):
            return x ** 3

        cube = nd.defvjp(_cube, lambda g, ans, x: 3 * g * x)  # wrong: should be 3 g x**2

        def test_cube(gradcheck):
            gradcheck(cube, np.array([1.0, 2.0, -3.0]))
        """
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*gradcheck(cube, np.array(*",
            "E * argument 0: ndgrad does not match finite differences.",
            "E *worst element (2,): ndgrad *, finite differences *",
            "E *absolute error *, relative error 1.33 (rtol=1e-05, atol=1e-06)",
            "E *2 of 3 element(s) outside the tolerance",
        ]
    )
    # The plugin's own frames are hidden: the traceback points at the user's line.
    assert "_check.py" not in result.stdout.str()


def test_assert_grad_close_fixture_failure_output(run):
    result = run(
        """
        import numpy as np

        def test_close(assert_grad_close):
            assert_grad_close({"w": np.array([1.0, 2.0]), "b": np.array(0.5)},
                              {"w": np.array([1.0, 2.5]), "b": np.array(0.5)})
        """
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *gradient?'w'?: actual does not match expected.",
            "E *worst element (1,): actual np.float64(2.0), expected np.float64(2.5)",
            "E *absolute error 0.5, relative error 0.2*",
        ]
    )


def test_ini_options_set_the_default_tolerances(run, pytester):
    pytester.makeini(INI + "ndgrad_rtol = 0.5\nndgrad_atol = 0.0\nndgrad_eps = 1e-4\n")
    result = run(
        """
        import numpy as np
        import ndgrad as nd

        off = nd.defvjp(lambda x: x * 2.0, lambda g, ans, x: g * 2.2)  # 10% off

        def test_defaults(gradcheck):
            assert repr(gradcheck) == "GradCheck(eps=0.0001, rtol=0.5, atol=0)"
            gradcheck(lambda x: off(x), np.array([1.0, 2.0]))

        def test_override(gradcheck):
            gradcheck(lambda x: off(x), np.array([1.0, 2.0]), rtol=1e-3)
        """
    )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_override*", "E *relative error 0.1 (rtol=0.001, atol=0)"])


def test_bad_ini_value_is_a_usage_error(run, pytester):
    pytester.makeini(INI + "ndgrad_rtol = tight\n")
    result = run(
        """
        def test_x(gradcheck):
            pass
        """
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ndgrad_rtol must be a number*"])


def test_plugin_can_be_disabled(run):
    result = run(
        """
        def test_x(gradcheck):
            pass
        """,
        "-p",
        "no:ndgrad",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'gradcheck' not found*"])


def test_fixtures_are_listed_with_their_docs(pytester):
    pytester.makepyfile(test_user="def test_x():\n    pass\n")
    result = pytester.runpytest_inprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        ["*gradcheck*", "*Check gradients against central finite differences*"]
    )


def test_documented_test_module_passes(run):
    """The test module the user guide shows (``docs/user_guide/testing.rst``) passes."""
    page = Path(__file__).parents[1] / "docs" / "user_guide" / "testing.rst"
    source = next(b.code for b in rest_blocks(page) if b.is_pytest_module)
    result = run(source)
    result.assert_outcomes(passed=3)
