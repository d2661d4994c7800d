"""Every route to a rule records the same node and gives the same gradient (issue 16).

A ufunc call on GradArrays reaches its rule by one of three routes: the compiled common call
(``ufunc(x)``/``ufunc(x, y)`` with no keywords, ``GradArray.__array_ufunc__``), the general
path (``array_ufunc_general``: any keyword, here ``casting="same_kind"``, NumPy's default),
and the in-place route (``out=``, ``_inplace.ufunc_inplace``). The systematic rule test
(``test_rules.py``) checks the rules against finite differences through the compiled call
only; this one runs every ufunc case of ``tests/cases`` through all three and requires the
same forward values, the same saved arrays and the same gradients, bit for bit.

Backward has two routes too: its own loop for the common node (one rule per argument, no
``where=``) and the general ``_cotangents``/``_store`` for the rest. Every rule case of
``tests/cases`` (every primitive with a rule) is run through both, recorded
(``create_graph``) and not. So does forward mode's pass (``_forward.push``: its compiled loop
for the common node, or ``node_tangents``) when it is recorded inside a reverse-mode
transform.
"""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import _forward, _graph
from ndgrad._registry import ArrayMeta, qualified_name
from ndgrad.testing import check_grad

from .cases import CASES
from .test_rules import _callable

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
    # the test means something only if the three calls take different routes: the compiled
    # __array_ufunc__ records the common call without the Python general route, which the
    # other two go through (the out= route further to ufunc_inplace)
    import ndgrad._array as engine
    import ndgrad._inplace as inplace

    seen = []
    general, inplace_route = engine.GradArray._array_ufunc, inplace.ufunc_inplace
    try:
        engine.GradArray._array_ufunc = lambda *a: (seen.append("general"), general(*a))[1]
        engine.ufunc_inplace = lambda *a: (seen.append("out="), inplace_route(*a))[1]
        for name, route in ROUTES.items():
            seen.append(name)
            assert route(np.exp, _leaves([np.ones(3)]))._node is not None
    finally:
        engine.GradArray._array_ufunc = general
        engine.ufunc_inplace = inplace_route
    assert seen == ["fast", "general", "general", "out=", "general", "out="]


# --- backward: the inlined loop for common nodes and the general route ----------------------

RULE_CALLS = [
    (key, i, args, kwargs)
    for key, case in CASES.items()
    for i, (args, kwargs) in enumerate(case.calls)
]
# each test below runs once per rule case
over_rule_calls = pytest.mark.parametrize(
    "call", RULE_CALLS, ids=[f"{qualified_name(c[0])}-{c[1]}" for c in RULE_CALLS]
)


def _float_leaves(tree):
    if isinstance(tree, np.ndarray) and tree.dtype.kind in "fc":
        return [tree]
    if isinstance(tree, tuple | list):
        return [leaf for item in tree for leaf in _float_leaves(item)]
    return []


def _array_leaves(args):
    """The float array arguments as leaves; the others (indices, scalars) stay as they are."""
    return [
        nd.GradArray(np.array(a), requires_grad=True)
        if isinstance(a, np.ndarray) and a.dtype.kind in "fc"
        else a
        for a in args
    ]


def _from_one_global_random_state(route):
    """Run a route from the same state of NumPy's global random generator each time, and
    restore the state after. SciPy draws from it inside some functions: ``logm``'s 1-norm
    estimate (``onenormest``) picks its starting vectors there, and with them the algorithm's
    parameters, so the same call made from another state can differ in the last bit (one seed
    in about 13 for logm's recorded second derivative) whatever route ndgrad takes."""

    @functools.wraps(route)
    def run(*args, **kwargs):
        state = np.random.get_state()  # noqa: NPY002 (the generator SciPy draws from)
        np.random.seed(0)  # noqa: NPY002
        try:
            return route(*args, **kwargs)
        finally:
            np.random.set_state(state)  # noqa: NPY002

    return run


@_from_one_global_random_state
def _gradients(key, args, kwargs, inline):
    """The gradients of a fixed random weighting of ``key``'s float outputs, with backward's
    inlined loop for common nodes on or off."""
    func = _callable(key, CASES[key])
    leaves = _array_leaves(args)
    outs = [
        o
        for o in _float_leaves(func(*leaves, **kwargs))
        if isinstance(o, nd.GradArray) and o.requires_grad
    ]
    if not outs:  # no gradient to compare (np.angle of a real input)
        return []
    rng = np.random.default_rng(3)
    loss = sum(np.sum(np.real(o) * rng.standard_normal(o.shape)) for o in outs)
    old = _graph.INLINE_COMMON_NODES
    _graph.INLINE_COMMON_NODES = inline
    try:
        loss.backward()
    finally:
        _graph.INLINE_COMMON_NODES = old
    return [x.grad for x in leaves if isinstance(x, nd.GradArray)]


@over_rule_calls
def test_both_backward_routes_give_the_same_gradients(call):
    key, _, args, kwargs = call
    inlined = _gradients(key, args, kwargs, True)
    general = _gradients(key, args, kwargs, False)
    assert len(inlined) == len(general)
    for a, b in zip(inlined, general, strict=True):
        if a is None or b is None:
            assert a is None and b is None
        else:
            # plain arrays: rules (and the helpers they call, such as scatter_add) compute on
            # plain arrays without create_graph, never through the recording dispatch
            assert type(a) is np.ndarray and type(b) is np.ndarray, (type(a), type(b))
            np.testing.assert_array_equal(a, b)


@_from_one_global_random_state
def _recorded_gradients(key, args, kwargs, inline):
    """The first-order gradients of ``_gradients``' loss by a recorded backward pass
    (``create_graph``), and the second-order ones of a random weighting of them, with
    backward's inlined loop on or off for both passes."""
    func = _callable(key, CASES[key])
    leaves = _array_leaves(args)
    outs = [
        o
        for o in _float_leaves(func(*leaves, **kwargs))
        if isinstance(o, nd.GradArray) and o.requires_grad
    ]
    if not outs:
        return [], []
    rng = np.random.default_rng(3)
    loss = sum(np.sum(np.real(o) * rng.standard_normal(o.shape)) for o in outs)
    grads = [x for x in leaves if isinstance(x, nd.GradArray)]
    old = _graph.INLINE_COMMON_NODES
    _graph.INLINE_COMMON_NODES = inline
    try:
        loss.backward(create_graph=True)
        firsts = [x.grad for x in grads]
        for x in grads:
            x.grad = None
        terms = [
            np.sum(np.real(g) * rng.standard_normal(g.shape))
            for g in firsts
            if isinstance(g, nd.GradArray) and g.requires_grad
        ]
        if terms:
            sum(terms).backward()
        seconds = [x.grad for x in grads]
    finally:
        _graph.INLINE_COMMON_NODES = old
    return firsts, seconds


@over_rule_calls
def test_both_backward_routes_record_the_same_backward_pass(call):
    # under create_graph the rules run on GradArrays lifted from the saved arrays; the inlined
    # loop lifts them itself: the same gradients, and the same recorded graph (its gradients)
    key, _, args, kwargs = call
    results = []
    for inline in (True, False):
        try:
            with np.errstate(all="ignore"):  # second derivatives at the edges: inf and nan
                results.append(_recorded_gradients(key, args, kwargs, inline))
        except nd.NotDifferentiableError as error:  # no second derivative: refused both ways
            results.append(str(error))
    inlined, general = results
    if isinstance(inlined, str) or isinstance(general, str):
        assert inlined == general
        return
    for ours, theirs in zip(inlined, general, strict=True):
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            if a is None or b is None:
                assert a is None and b is None
            else:
                assert type(a) is type(b)
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@_from_one_global_random_state
def _recorded_push(key, args, kwargs, inline):
    """The gradient, in the float arguments, of a random weighting of the JVP of ``key`` along
    random tangents: forward mode pushed inside ``nd.grad``, so the push is recorded; with the
    push's compiled loop for common nodes on or off. An error's type and message instead."""
    func = _callable(key, CASES[key])
    floats = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    if not floats:
        return None
    rng = np.random.default_rng(5)
    tangents = [rng.standard_normal(np.shape(args[i])) for i in floats]

    def along(*xs):
        call = list(args)
        for i, x in zip(floats, xs, strict=True):
            call[i] = x
        return func(*call, **kwargs)

    def weighted(*xs):
        _, pushed = nd.jvp(along, xs, tangents, allow_unused=True)
        leaves = _float_leaves(pushed)  # the float tangents (GradArrays: recorded)
        w = np.random.default_rng(7)
        return sum(np.sum(np.real(t) * w.standard_normal(np.shape(t))) for t in leaves)

    old = _forward.INLINE_COMMON_NODES
    _forward.INLINE_COMMON_NODES = inline
    try:
        with np.errstate(all="ignore"):
            return nd.grad(weighted, argnums=tuple(range(len(floats))), allow_unused=True)(
                *(args[i] for i in floats)
            )
    except Exception as error:  # the same refusal both ways (no second derivative, ...)
        return type(error), str(error)
    finally:
        _forward.INLINE_COMMON_NODES = old


@over_rule_calls
def test_both_forward_routes_record_the_same_push(call):
    key, _, args, kwargs = call
    inlined = _recorded_push(key, args, kwargs, True)
    general = _recorded_push(key, args, kwargs, False)
    if inlined is None or (isinstance(inlined, tuple) and isinstance(inlined[0], type)):
        assert inlined == general
        return
    assert len(inlined) == len(general)
    for a, b in zip(inlined, general, strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_switch_changes_the_route():
    # the parity above means something only if turning the switch off sends common nodes
    # through _cotangents
    calls = []
    original = _graph._cotangents
    _graph._cotangents = lambda *a: (calls.append(1), original(*a))[1]
    try:
        _graph.configure_core()  # the compiled loop calls the function registered with it
        assert _gradients(np.exp, (np.ones(3),), {}, True) and not calls
        assert _gradients(np.exp, (np.ones(3),), {}, False) and calls
    finally:
        _graph._cotangents = original
        _graph.configure_core()


@pytest.mark.parametrize("inline", [True, False])
def test_rules_get_plain_arrays_on_both_routes(inline, monkeypatch):
    # Without create_graph a rule computes on the saved plain arrays, whichever route runs it
    # (a GradArray there would cost a wrap per argument and could change the last ulp).
    seen = []

    def cube(x):
        return x**3

    def rule(g, ans, x):
        seen.append((type(g), type(ans), type(x)))
        return 3 * g * x**2

    cube = nd.defvjp(cube, rule)
    monkeypatch.setattr(_graph, "INLINE_COMMON_NODES", inline)
    g = nd.grad(lambda x: np.sum(cube(x)))(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(g, [3.0, 12.0])
    assert seen == [(np.ndarray, np.ndarray, np.ndarray)]


# --- NumPy functions: the compiled common call and call_primitive ------------------------------

FUNCTION_CALLS = [c for c in RULE_CALLS if not isinstance(c[0], np.ufunc | tuple)]


@contextlib.contextmanager
def _python_entries(on=True):
    """NumPy's calls and ``x[key]`` through ``GradArray.array_function_general`` and
    ``getitem_general`` (the Python entries) in the block, instead of the compiled ones."""
    if on:
        nd.GradArray.__array_function__ = nd.GradArray.array_function_general
        nd.GradArray.__getitem__ = nd.GradArray.getitem_general
    try:
        yield
    finally:
        for name in ("__array_function__", "__getitem__"):
            if name in vars(nd.GradArray):
                delattr(nd.GradArray, name)  # the compiled one (ArrayBase's) again


@_from_one_global_random_state
def _function_route(key, args, kwargs, fast, entry="python"):
    """Forward values, what each recorded node saved (in order) and the gradients, with
    ``_array``'s compiled common call (``function_fast``) on or off (then every call takes
    ``call_primitive``); and how many calls the compiled route recorded.

    ``entry="python"`` sends NumPy's calls and ``x[key]`` through
    ``GradArray.array_function_general`` and ``getitem_general``, which call
    ``_array._function_fast`` (swapped here for a spy); the compiled ``__array_function__`` and
    ``__getitem__`` call the same two functions from C, where no spy can see them
    (``test_the_compiled_function_entry_gives_the_same_results`` compares the two entries)."""
    import ndgrad._array as engine

    compiled, record_node = engine._function_fast, engine.record_node
    kept = []
    n_fast = [0]

    def keep(node):
        kept.append([np.copy(a) if isinstance(a, np.ndarray) else a for a in node.args])

    def fast_spy(prim, impl, a, kw):
        before = len(kept)
        done = compiled(prim, impl, a, kw) if fast else NotImplemented
        # recorded by the compiled call itself, not by record_node through finish_call
        if isinstance(done, nd.GradArray) and done._node is not None and len(kept) == before:
            n_fast[0] += 1
            keep(done._node)
        return done

    def record_spy(*a, **kw):
        node = record_node(*a, **kw)
        keep(node)
        return node

    engine._function_fast, engine.record_node = fast_spy, record_spy
    try:
        with _python_entries(entry == "python"):
            func = _callable(key, CASES[key])
            leaves = _array_leaves(args)
            outs = func(*leaves, **kwargs)
            outs = [o for o in _float_leaves(outs) if isinstance(o, nd.GradArray)]
            values = [np.array(o) for o in outs]
            grads = []
            outs = [o for o in outs if o.requires_grad]
            if outs:
                rng = np.random.default_rng(3)
                sum(np.sum(np.real(o) * rng.standard_normal(o.shape)) for o in outs).backward()
                grads = [x.grad for x in leaves if isinstance(x, nd.GradArray)]
    finally:
        engine._function_fast, engine.record_node = compiled, record_node
    return values, kept, grads, n_fast[0]


def _same(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert type(a) is type(b)
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, ArrayMeta):
        assert type(b) is ArrayMeta
        assert (a.shape, a.dtype, a.strides) == (b.shape, b.dtype, b.strides)
    elif isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y)
    else:  # scalars, None, dtypes, ...; an object compared by identity: the same type
        assert type(a) is type(b), (a, b)
        assert type(a).__eq__ is object.__eq__ or a == b, (a, b)


over_function_calls = pytest.mark.parametrize(
    "call", FUNCTION_CALLS, ids=[f"{qualified_name(c[0])}-{c[1]}" for c in FUNCTION_CALLS]
)


def _same_values_and_grads(route, other):
    """The forward values and the gradients of two ``_function_route`` runs, bit for bit."""
    for a, b in zip(route[0], other[0], strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(route[2], other[2], strict=True):
        if a is None or b is None:
            assert a is None and b is None
        else:
            np.testing.assert_array_equal(a, b)


@over_function_calls
def test_both_function_routes_record_the_same(call):
    key, _, args, kwargs = call
    route = _function_route(key, args, kwargs, True)
    route_py = _function_route(key, args, kwargs, False)
    _same_values_and_grads(route, route_py)
    # the nodes keep the same arguments (arrays, metadata, None for what no rule reads)
    kept, kept_py = route[1], route_py[1]
    assert len(kept) == len(kept_py)
    for node_args, node_args_py in zip(kept, kept_py, strict=True):
        assert len(node_args) == len(node_args_py)
        for a, b in zip(node_args, node_args_py, strict=True):
            _same(a, b)


@over_function_calls
def test_the_compiled_function_entry_gives_the_same_results(call):
    key, _, args, kwargs = call
    _same_values_and_grads(
        _function_route(key, args, kwargs, True, entry="compiled"),
        _function_route(key, args, kwargs, True),
    )


@pytest.mark.parametrize(
    "make_view",
    [
        lambda b: b[1:],
        lambda b: b[:, 0],
        lambda b: b.T,
        lambda b: np.reshape(b, (6, 2)),
        lambda b: np.transpose(b),
        lambda b: np.diagonal(b),
    ],
    ids=["slice", "column", "T", "reshape", "transpose", "diagonal"],
)
def test_a_view_the_compiled_call_makes_is_tracked_as_the_python_tail_tracks_it(make_view):
    """A view result (memory of a GradArray operand) is recorded by ``function_fast`` after
    ``track_views``: it shares its base's version state, follows a later write to the base,
    and gets the gradient the Python route gives (and finite differences give)."""
    import ndgrad._array as engine

    def run(fast):
        x = nd.GradArray(np.arange(1.0, 13.0).reshape(3, 4), requires_grad=True)
        compiled = engine._function_fast
        if not fast:
            engine._function_fast = lambda *a: NotImplemented
        try:
            with _python_entries(not fast):
                b = x * 2.0
                v = make_view(b)
                assert v._base_ga is b and v._version is b._version
                b[0, 0] = -1.0  # the view follows the write (its node is made again)
                b[1] = b[1] * x[2]
                loss = np.sum(np.sin(v) * v)
        finally:
            engine._function_fast = compiled
        loss.backward()
        return np.array(v), x.grad

    values, grad = run(True)
    values_py, grad_py = run(False)
    np.testing.assert_array_equal(values, values_py)
    np.testing.assert_array_equal(grad, grad_py)

    def f(x):
        b = x * 2.0
        v = make_view(b)
        b[0, 0] = -1.0
        b[1] = b[1] * x[2]
        return np.sum(np.sin(v) * v)

    check_grad(f, np.arange(1.0, 13.0).reshape(3, 4))


@pytest.mark.parametrize(
    "make_view",
    [lambda b: b[1:], lambda b: b[:, 0], lambda b: b.T, lambda b: np.reshape(b, (6, 2))],
    ids=["slice", "column", "T", "reshape"],
)
def test_a_tracked_view_is_an_operand_of_the_compiled_calls_until_its_base_is_written(
    make_view, monkeypatch
):
    """Ufuncs and functions take a tracked view on the compiled route while nothing was
    written to its memory since its node was made; after a write through its base, the
    Python route re-records it first (``refresh``), and the gradient follows the write."""
    import ndgrad._array as engine

    refreshed = []
    real = engine.refresh
    monkeypatch.setattr(engine, "refresh", lambda v: refreshed.append(v) or real(v))

    def f(x):
        traced = isinstance(x, nd.GradArray)  # check_grad also calls f on plain arrays
        b = x * 2.0
        v = make_view(b)
        first = np.sum(np.sin(v) * v) + np.sum(v[:1])  # fresh: no refresh
        assert refreshed == []
        b[0, 1] = -1.0  # the view is stale now
        b[1] = b[1] * x[2]
        second = np.sum(np.cos(v) * v)
        assert not traced or (refreshed and refreshed[0] is v)  # re-recorded before its use
        refreshed.clear()
        return first + second + np.sum(np.exp(v))  # fresh again: compiled

    x0 = np.arange(1.0, 13.0).reshape(3, 4) / 10
    f(nd.GradArray(x0, requires_grad=True))
    assert refreshed == []
    check_grad(f, x0)


def _python_functions_called(func):
    """The names of the Python functions ``func()`` calls (a profile: deterministic)."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        result = func()
    finally:
        profile.disable()
    return result, {name for _, _, name in pstats.Stats(profile).stats}


def test_a_plain_array_among_the_arguments_keeps_the_compiled_route():
    # NumPy's functions written in C list ndarray among the overriding types when a plain array
    # is an argument; it overrides nothing, so the call is still the compiled entry's
    x = nd.GradArray([0.5, -1.0, 2.0], requires_grad=True)
    mask, plain = np.array([True, False, True]), np.array([1.0, 2.0, 3.0])
    calls = [
        lambda: np.where(mask, x, 0.0),
        lambda: np.dot(plain, x),
        lambda: np.concatenate((x, plain)),
    ]
    total = 0.0
    for call in calls:
        out, called = _python_functions_called(call)
        assert "array_function_general" not in called
        assert out._node is not None
        total = total + np.sum(out * out)
    total.backward()
    # d/dx of sum(where(mask, x, 0)^2) + (plain . x)^2 + sum(x^2)
    expected = 2 * np.where(mask, x.values, 0.0) + 2 * (plain @ x.values) * plain + 2 * x.values
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_a_call_with_nothing_to_record_takes_the_compiled_route():
    # a GradArray without a graph (a buffer allocated in the scope), or grad mode off: the
    # result is computed, wrapped and (a view) tracked in C, as the Python tail does it
    buffer = nd.GradArray(np.arange(12.0).reshape(3, 4))
    x = nd.GradArray([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    for call in (lambda: np.sum(buffer, axis=0), lambda: np.where(buffer > 3, buffer, 0.0)):
        out, called = _python_functions_called(call)
        assert "call_primitive" not in called and "finish_call" not in called
        assert type(out) is nd.GradArray and out._node is None
    with nd.no_grad():
        out, called = _python_functions_called(lambda: np.sum(x * x))
    assert "call_primitive" not in called and out._node is None and out == 30.0
    row = buffer[1]  # a tracked view made in C: a later write through it is recorded
    assert row._base_ga is buffer
    row[...] = x * 2.0
    total = np.sum(buffer * buffer)
    total.backward()
    np.testing.assert_array_equal(x.grad, 8.0 * x.values)
    np.testing.assert_array_equal(buffer[0].values, [0.0, 1.0, 2.0, 3.0])


def test_the_compiled_entries_are_taken():
    import ndgrad._array as engine

    assert "__array_function__" not in vars(nd.GradArray)  # ArrayBase's, compiled
    assert "__getitem__" not in vars(nd.GradArray)
    x = nd.GradArray([1.0, 2.0, 3.0], requires_grad=True)
    seen = []
    python_fast = engine._function_fast
    engine._function_fast = lambda *a: seen.append(a) or python_fast(*a)
    try:
        total = np.sum(x * x) + x[1]
        assert total._node is not None and seen == []  # the compiled entries: no Python call
        with _python_entries():
            assert np.sum(x)._node is not None and x[1]._node is not None
        assert len(seen) == 2  # the Python entries
    finally:
        engine._function_fast = python_fast
    assert x[2]._node is not None and len(seen) == 2  # compiled again
    total.backward()
    np.testing.assert_array_equal(x.grad, 2 * np.array([1.0, 2.0, 3.0]) + [0.0, 1.0, 0.0])


def test_the_function_routes_are_distinct():
    # the parity above means something only if common calls do take the compiled route
    taken = [c for c in FUNCTION_CALLS if _function_route(c[0], c[2], c[3], True)[3]]
    names = {qualified_name(c[0]) for c in taken}
    assert {"numpy.sum", "numpy.mean", "numpy.dot", "ndarray.__getitem__"} <= names, names
    assert len(taken) > len(FUNCTION_CALLS) // 4, (len(taken), len(FUNCTION_CALLS))
