"""The ndgrad pytest plugin: gradient checks inside any test suite, with readable failures.

Installing ndgrad registers this module through the ``pytest11`` entry point, so it is active in
every pytest run without configuration (disable with ``-p no:ndgrad``). It provides:

``gradcheck`` fixture
    ``gradcheck(f, *args, order=1, argnums=None, eps=..., rtol=..., atol=...)`` runs
    :func:`ndgrad.testing.check_grad`; the defaults come from the ini options
    ``ndgrad_eps``, ``ndgrad_rtol`` and ``ndgrad_atol``. ``gradcheck.close(actual, expected)``
    compares two gradients.
``assert_grad_close`` fixture
    :func:`ndgrad.testing.assert_grad_close`, for tests that prefer a fixture to an import.

A failure names the argument, the worst element and its index, both values and the absolute
and relative errors. ndgrad itself is imported only when a fixture is used, so the plugin
costs nothing in test suites that do not use it.

Examples
--------
A test module of a user's project::

    import numpy as np

    def test_my_loss(gradcheck):
        gradcheck(lambda w: np.sum(np.tanh(w) ** 2), np.linspace(-1.0, 1.0, 5), order=2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["GradCheck", "assert_grad_close", "gradcheck"]

_DEFAULTS = {"ndgrad_eps": "1e-6", "ndgrad_rtol": "1e-5", "ndgrad_atol": "1e-6"}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini options with the default tolerances of ``gradcheck``."""
    helps = {
        "ndgrad_eps": "step of the central differences used by the gradcheck fixture",
        "ndgrad_rtol": "relative tolerance of the gradcheck fixture",
        "ndgrad_atol": "absolute tolerance of the gradcheck fixture",
    }
    for name, default in _DEFAULTS.items():
        parser.addini(name, helps[name], default=default)


class GradCheck:
    """What the ``gradcheck`` fixture returns: ``check_grad`` with the configured defaults.

    Parameters
    ----------
    eps, rtol, atol : float
        Defaults for every call; a call can override each of them.
    """

    def __init__(self, eps: float = 1e-6, rtol: float = 1e-5, atol: float = 1e-6) -> None:
        self.eps, self.rtol, self.atol = eps, rtol, atol

    def __call__(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Assert that ndgrad's gradient of ``f`` at ``args`` matches finite differences."""
        __tracebackhide__ = True
        from ndgrad.testing import check_grad

        kwargs.setdefault("eps", self.eps)
        kwargs.setdefault("rtol", self.rtol)
        kwargs.setdefault("atol", self.atol)
        check_grad(f, *args, **kwargs)

    def close(self, actual: Any, expected: Any, **kwargs: Any) -> None:
        """Assert that two gradients (or containers of them) are close, with ``rtol``."""
        __tracebackhide__ = True
        from ndgrad.testing import assert_grad_close as close

        kwargs.setdefault("rtol", self.rtol)
        close(actual, expected, **kwargs)

    def __repr__(self) -> str:
        return f"GradCheck(eps={self.eps:g}, rtol={self.rtol:g}, atol={self.atol:g})"


def _ini_float(config: pytest.Config, name: str) -> float:
    value = config.getini(name)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise pytest.UsageError(f"ini option {name} must be a number, got {value!r}") from None


@pytest.fixture
def gradcheck(request: pytest.FixtureRequest) -> GradCheck:
    """Check gradients against central finite differences: ``gradcheck(f, *args, order=2)``."""
    config = request.config
    return GradCheck(*(_ini_float(config, name) for name in _DEFAULTS))


@pytest.fixture(name="assert_grad_close")
def assert_grad_close() -> Callable[..., None]:
    """Compare gradients with a failure message that names the worst element."""
    from ndgrad.testing import assert_grad_close as close

    return close
