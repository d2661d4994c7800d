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
