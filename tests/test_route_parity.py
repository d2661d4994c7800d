"""Every route to a ufunc's rule records the same node and gives the same gradient (issue 16).

A ufunc call on GradArrays reaches its rule by one of three routes: the fast path
(``ufunc(x)``/``ufunc(x, y)`` with no keywords, ``_array._ufunc_fast``), the general
``__array_ufunc__`` (any keyword, here ``casting="same_kind"``, NumPy's default), and the in-place
route (``out=``, ``_inplace.ufunc_inplace``). The systematic rule test (``test_rules.py``) checks
the rules against finite differences through the fast path only; this one runs every ufunc
case of ``tests/cases`` through all three and requires the same forward values, the same saved
arrays and the same gradients, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd

from .cases import CASES

UFUNC_CASES = [
    (key, i, args)
    for key, case in CASES.items()
    if isinstance(key, np.ufunc) and case.call is None
    for i, (args, kwargs) in enumerate(case.calls)
    if not kwargs and 1 <= len(args) <= 2 and key.nout == 1
]


def _leaves(args):
    """The float arguments as leaves; integer ones (``ldexp``'s exponent) stay plain."""
    return [
        nd.GradArray(np.array(a), requires_grad=True) if np.array(a).dtype.kind in "fc" else a
        for a in args
    ]


def _fast(ufunc, xs):
    return ufunc(*xs)


def _general(ufunc, xs):
    return ufunc(*xs, casting="same_kind")  # NumPy's default: only the route changes


def _inplace(ufunc, xs):
    like = ufunc(*(np.array(x) for x in xs))  # NumPy's own result: its shape and dtype
    out = nd.GradArray(np.zeros(np.shape(like), dtype=like.dtype))
    ufunc(*xs, out=out)
    return out


ROUTES = {"fast": _fast, "general": _general, "out=": _inplace}


def _run(ufunc, args, route):
    xs = _leaves(args)
    y = ROUTES[route](ufunc, xs)
    node = y._node
    saved = (node.prim, [np.copy(a) if isinstance(a, np.ndarray) else a for a in node.args])
    rng = np.random.default_rng(7)
    g = rng.standard_normal(np.shape(y))
    if np.iscomplexobj(y):
        g = g + 1j * rng.standard_normal(np.shape(y))
    value = np.array(y)
    y.backward(grad=g)
    return value, saved, [x.grad for x in xs if isinstance(x, nd.GradArray)]


def _ids(case):
    key, i, _ = case
    return f"{key.__name__}-{i}"


@pytest.mark.parametrize("case", UFUNC_CASES, ids=[_ids(c) for c in UFUNC_CASES])
def test_every_route_records_the_same_node(case):
    ufunc, _, args = case
    value, (prim, saved), grads = _run(ufunc, args, "fast")
    for route in ("general", "out="):
        if route == "out=" and np.ndim(value) == 0 and not isinstance(value, np.ndarray):
            continue
        v, (p, s), gs = _run(ufunc, args, route)
        np.testing.assert_array_equal(v, value, err_msg=f"forward values, {route} route")
        assert p is prim, route
        # what the node keeps for its rules: the inputs it reads, the same values
        if route != "out=":  # out= keeps the old value of the output as one more argument
            assert len(s) == len(saved), route
            for a, b in zip(s, saved, strict=True):
                assert (a is None) == (b is None), route
                if a is not None:
                    np.testing.assert_array_equal(a, b, err_msg=f"saved, {route} route")
        for a, b in zip(gs, grads, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"gradients, {route} route")


def test_the_routes_are_distinct():
    # the test means something only if the three calls take different routes: the general
    # route and the out= route record through other functions than the fast path
    import ndgrad._array as engine
    import ndgrad._inplace as inplace

    seen = []
    fast, general, inplace_route = (
        engine._ufunc_fast,
        engine.GradArray._array_ufunc,
        inplace.ufunc_inplace,
    )
    try:
        engine._ufunc_fast = lambda *a: (seen.append("fast"), fast(*a))[1]
        engine.GradArray._array_ufunc = lambda *a: (seen.append("general"), general(*a))[1]
        engine.ufunc_inplace = lambda *a: (seen.append("out="), inplace_route(*a))[1]
        for route in ROUTES.values():
            route(np.exp, _leaves([np.ones(3)]))
    finally:
        engine._ufunc_fast, engine.GradArray._array_ufunc = fast, general
        engine.ufunc_inplace = inplace_route
    assert seen == ["fast", "general", "general", "out="]
