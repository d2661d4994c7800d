"""The systematic forward-mode test: every primitive in the registry, whatever its JVP kind
(a JVP rule, derived from the VJP rule, linear, multilinear, or transposed), against central
finite differences and against its VJP rule (``<u, J v>`` both ways), to second order."""

from __future__ import annotations

import pytest

from ndgrad._registry import VJP_RULES, qualified_name
from ndgrad.testing import check_jvp

from .cases import CASES
from .test_rules import _callable


@pytest.mark.parametrize("key", list(VJP_RULES), ids=qualified_name)
def test_forward_mode_matches_finite_differences_and_reverse_mode(key):
    assert key in CASES, f"{qualified_name(key)} has a rule but no test case in tests/cases/"
    case = CASES[key]
    func = _callable(key, case)
    for args, kwargs in case.calls:
        check_jvp(
            lambda *a, kwargs=kwargs: func(*a, **kwargs),
            *args,
            order=case.order,
            rtol=case.rtol,
            atol=case.atol,
        )
