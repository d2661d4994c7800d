"""The systematic test: every rule in the registry against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from ndgrad._registry import VJP_RULES, qualified_name
from ndgrad.testing import check_grad

from .cases import CASES


def _callable(key, case):
    if case.call is not None:
        return case.call
    if isinstance(key, tuple):
        return getattr(key[0], key[1])
    return key


def _rule_id(key) -> str:
    return qualified_name(key)


@pytest.mark.parametrize("key", list(VJP_RULES), ids=_rule_id)
def test_rule_matches_finite_differences(key):
    assert key in CASES, f"{qualified_name(key)} has a rule but no test case in tests/cases/"
    case = CASES[key]
    func = _callable(key, case)
    for args, kwargs in case.calls:
        check_grad(
            lambda *a, kwargs=kwargs: func(*a, **kwargs),
            *args,
            order=case.order,
            rtol=case.rtol,
            atol=case.atol,
        )


def test_every_case_has_a_rule():
    stale = [qualified_name(k) for k in CASES if k not in VJP_RULES]
    assert not stale, f"cases for functions without a rule: {stale}"


def test_float32_gradients_stay_float32():
    from ndgrad import GradArray

    for key in (np.exp, np.multiply, np.sum, np.tanh):
        x = GradArray(np.linspace(0.1, 1.0, 4, dtype=np.float32), requires_grad=True)
        y = key(x, x) if key is np.multiply else key(x)
        np.sum(y).backward()
        assert x.grad.dtype == np.float32, qualified_name(key)
