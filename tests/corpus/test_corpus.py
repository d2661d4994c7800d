"""Run the corpus of real third-party code (see ``tests/corpus/__init__.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd

from . import Case, all_cases

CASES = all_cases()


def _weights(case: Case) -> np.ndarray | None:
    """Random weights for an array output; None for a scalar, differentiated as it is."""
    out = case.f(case.x.copy())
    if np.ndim(out) == 0:
        return None
    return np.random.default_rng(len(case.id)).uniform(0.5, 1.5, np.shape(out))


def _loss(case: Case, w: np.ndarray | None):
    # A scalar output goes to nd.grad unchanged, as a user would pass the function (a Python
    # float returned by the library must be diagnosed, not hidden by our own arithmetic).
    return case.f if w is None else lambda x: np.sum(w * case.f(x))


def central_differences(case: Case, w: np.ndarray) -> np.ndarray:
    x, loss = case.x, _loss(case, w)
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = case.eps
        g.flat[i] = (loss(x + e) - loss(x - e)) / (2 * case.eps)
    return g


def _param(case: Case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


def test_corpus_is_large_and_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) >= 150
    assert len(set(ids)) == len(ids), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case: Case):
    w = _weights(case)
    if case.raises is not None:
        with pytest.raises(case.raises, match=case.match):
            nd.grad(_loss(case, w))(case.x.copy())
        return
    got = nd.grad(_loss(case, w))(case.x.copy())
    expected = central_differences(case, w)
    assert type(got) is np.ndarray or isinstance(got, np.ndarray)
    scale = np.max(np.abs(expected), initial=1.0)
    np.testing.assert_allclose(got, expected, rtol=case.rtol, atol=case.atol * scale)


# Where differences of the gradient measure a solver's tolerance, not the curvature: the closed
# form. ``minimize(lambda p: sum((p - x) ** 2), ...).fun`` is 0 for every ``x``.
_HVP_CLOSED_FORM = {"optimize.minimize": 0.0}


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("case", [_param(c) for c in CASES if c.raises is None and not c.xfail])
def test_hvp_agrees_with_differences_of_the_gradient(case: Case):
    """``nd.hvp`` (reverse over forward) on real code, against central differences of
    ``nd.grad`` along a random direction; a solver that refuses second derivatives says so."""
    w = _weights(case)
    loss = _loss(case, w)
    x = case.x.copy()
    v = np.random.default_rng(len(case.id) + 1).standard_normal(x.shape)
    try:
        hv = nd.hvp(loss, x.copy(), v)
    except nd.NotDifferentiableError as e:
        assert "only first derivatives" in str(e)
        return
    if case.id in _HVP_CLOSED_FORM:
        np.testing.assert_allclose(hv, _HVP_CLOSED_FORM[case.id], atol=1e-8)
        return
    g = nd.grad(loss, allow_unused=True)
    h = 1e-5 * (1 + np.max(np.abs(x), initial=0.0))
    expected = (g(x + h * v) - g(x - h * v)) / (2 * h)
    scale = 1 + np.max(np.abs(expected), initial=0.0)
    np.testing.assert_allclose(hv, expected, rtol=1e-4, atol=1e-4 * scale)
