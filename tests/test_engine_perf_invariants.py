"""Invariants of the engine's fast paths: what the speed work must not change, and the scaling
properties it relies on, counted (function calls, live objects) rather than timed.

Timings belong in ``benchmarks/``: this machine is shared and noisy, so no test here reads a
clock.
"""

from __future__ import annotations

import gc
import math
import sys
import weakref

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, _core
from ndgrad._rules.indexing import like_sequence


def _chain(x: GradArray, n: int) -> GradArray:
    y = x
    for i in range(n):
        y = np.sin(y) if i % 2 else y * 1.0001
    return y


def _calls_during(func) -> int:
    """How many Python and C functions ``func()`` calls: a deterministic measure of work. The
    cyclic garbage collector is off meanwhile: a collection that happens to run inside would
    count the finalisers it calls (of whatever garbage other tests left) as this work."""
    count = 0

    def profiler(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    was_enabled = gc.isenabled()
    gc.disable()
    sys.setprofile(profiler)
    try:
        func()
    finally:
        sys.setprofile(None)
        if was_enabled:
            gc.enable()
    return count


@pytest.mark.parametrize("n", [500])
def test_backward_work_is_linear_in_graph_size(n):
    x = nd.GradArray(np.linspace(0.1, 0.9, 8), requires_grad=True)
    small, large = np.sum(_chain(x, n)), np.sum(_chain(x, 4 * n))
    calls_small = _calls_during(small.backward)
    calls_large = _calls_during(large.backward)
    # The same constant amount of work per node: 4 times the nodes, 4 times the calls.
    assert 3.9 < calls_large / calls_small < 4.1


def test_recording_work_and_live_objects_per_op_are_constant():
    x = nd.GradArray(np.linspace(0.1, 0.9, 8), requires_grad=True)
    # Python calls while recording: none at all on the compiled path (the count is then the
    # same constant for both lengths), and never more than linear in the number of ops.
    small, large = _calls_during(lambda: _chain(x, 500)), _calls_during(lambda: _chain(x, 2000))
    assert large <= 4.1 * small
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        before = len(gc.get_objects())
        y = _chain(x, 2000)
        per_op = (len(gc.get_objects()) - before) / 2000
    finally:
        if was_enabled:
            gc.enable()
    # Each recorded op keeps a handful of containers (node, edge, edges, versions, counter, and
    # the guard of the saved array's memory with the weak reference to it) alive: more makes
    # every garbage collection of a large graph slower.
    assert per_op <= 10.5
    del y


def test_a_graph_is_freed_without_the_cycle_collector():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = nd.GradArray(np.ones(8), requires_grad=True)
        y = _chain(x, 50)
        node = weakref.ref(y._node)
        out = weakref.ref(y)
        del y
        assert node() is None and out() is None  # reference counting alone freed them
    finally:
        if was_enabled:
            gc.enable()


def test_cotangents_from_many_paths_are_summed_correctly():
    a = np.linspace(-1.0, 1.0, 6)
    x = nd.GradArray(a, requires_grad=True)
    y = np.sum(x * 1.0 + x * 2.0 + np.sin(x) * 3.0 + x / 4.0 + np.exp(x))
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0 + 2.0 + 3.0 * np.cos(a) + 0.25 + np.exp(a))


def test_accumulation_in_place_never_writes_into_an_array_someone_else_holds():
    kept = []

    def double(x):
        return 2.0 * x

    def double_vjp(g, ans, x):
        c = np.full(np.shape(g), 2.0) * g
        kept.append(c)  # the rule keeps its result: backward must not add into it
        return c

    double = nd.defvjp(double, double_vjp)
    x = nd.GradArray(np.ones(3), requires_grad=True)
    y = np.sum(double(x) + double(x))  # x's first cotangent is a kept one, the second adds
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0, 4.0])
    for c in kept:
        np.testing.assert_array_equal(c, [2.0, 2.0, 2.0])
        assert not np.shares_memory(c, x.grad)


def test_leaves_sharing_one_cotangent_get_separate_buffers():
    a = nd.GradArray(np.ones(3), requires_grad=True)
    b = nd.GradArray(np.ones(3), requires_grad=True)
    np.sum(a + b).backward()  # add's rules hand both inputs the same cotangent object
    assert not np.shares_memory(a.grad, b.grad)
    a.grad[0] = 10.0
    assert b.grad[0] == 1.0


def test_a_user_cotangent_is_not_modified():
    x = nd.GradArray(np.arange(1.0, 4.0), requires_grad=True)
    y = x * 2.0 + x * 3.0
    g = np.array([1.0, 2.0, 3.0])
    y.backward(g)
    np.testing.assert_array_equal(g, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, 5.0 * g)


def test_fast_path_operands_and_results():
    x = nd.GradArray(np.array([0.5, 1.5]), requires_grad=True)
    for other in (2.0, 2, True, np.float64(2.0), np.float32(2.0), np.array([2.0, 2.0])):
        y = x * other
        assert type(y) is GradArray and y.requires_grad
    assert type(np.sin(nd.GradArray(np.array(0.5), requires_grad=True))) is GradArray  # 0-d
    assert type(x > 1.0) is np.ndarray  # booleans never carry a graph
    x0 = nd.GradArray(np.array(0.5), requires_grad=True)
    # 0-d: the fast path (no keywords) and the general one (keywords) give the same types.
    assert type(x0 > 0.0) is type(np.greater(x0, 0.0, casting="same_kind")) is np.bool_
    assert type(x0 * 2.0) is type(np.multiply(x0, 2.0, casting="same_kind")) is GradArray
    frac, whole = np.modf(x * 1.0)  # a ufunc with two outputs
    np.sum(frac * 3.0 + whole).backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_fast_path_defers_to_other_array_types():
    class Other:
        __array_ufunc__ = None  # NumPy must hand the operation to Other.__rmul__

        def __rmul__(self, left):
            return "Other.__rmul__"

    x = nd.GradArray(np.ones(2), requires_grad=True)
    assert x * Other() == "Other.__rmul__"


def test_fast_path_keeps_saved_inputs_and_outputs_when_written_in_place():
    x = nd.GradArray(np.array([0.1, 0.2]), requires_grad=True)
    z = x * 1.0
    w = np.sin(z)  # saves z
    z += 1.0  # copy-on-write: sin's node keeps the old z
    np.sum(w).backward()
    np.testing.assert_allclose(x.grad, np.cos([0.1, 0.2]))

    x.grad = None
    z = x * 1.0
    w = np.exp(z)  # saves its output
    w += 1.0
    np.sum(w).backward()
    np.testing.assert_allclose(x.grad, np.exp([0.1, 0.2]))


def test_fast_path_respects_no_grad_and_views():
    x = nd.GradArray(np.arange(1.0, 5.0), requires_grad=True)
    with nd.no_grad():
        assert not (x * 2.0).requires_grad
    y = x * 1.0
    v = y[1:3]
    y *= 2.0  # the view re-records itself from its base when next used
    np.sum(np.sin(v)).backward()
    expected = np.zeros(4)
    expected[1:3] = 2.0 * np.cos(2.0 * np.arange(2.0, 4.0))
    np.testing.assert_allclose(x.grad, expected)


def test_second_order_still_goes_through_the_general_backward():
    f = lambda x: np.sum(np.sin(x) * x)
    a = np.array([0.3, 0.7])
    h = nd.hessian(f)(a)
    np.testing.assert_allclose(h, np.diag(2 * np.cos(a) - a * np.sin(a)), rtol=1e-12)


def test_a_fresh_cotangent_becomes_the_leaf_gradient_without_a_copy():
    made = []

    def scale(x):
        return 3.0 * x

    def scale_vjp(g, ans, x):
        c = g * 3.0
        made.append(weakref.ref(c))  # a weak reference: does not count as a holder
        return c

    scale = nd.defvjp(scale, scale_vjp)
    w = nd.GradArray(np.ones((64, 64)), requires_grad=True)
    np.sum(scale(w)).backward()
    np.testing.assert_array_equal(w.grad, np.full((64, 64), 3.0))
    # Nothing else held the rule's result, so it became w.grad itself (regression: the
    # reference count was taken while the call's arguments were on the stack, so it never did).
    assert made[0]() is w.grad


@pytest.mark.parametrize("kept_first", [True, False])
def test_a_sum_goes_into_the_fresh_cotangent_whichever_arrives_first(kept_first):
    kept, made = [], []

    def double(x):
        return 2.0 * x

    def double_vjp(g, ans, x):
        c = np.full(np.shape(g), 2.0) * g
        kept.append(c)  # held by the rule: never written
        return c

    def triple(x):
        return 3.0 * x

    def triple_vjp(g, ans, x):
        c = g * 3.0
        made.append(weakref.ref(c))  # nothing else holds it: the sum may go into it
        return c

    double, triple = nd.defvjp(double, double_vjp), nd.defvjp(triple, triple_vjp)
    a = np.linspace(-1.0, 1.0, 5)
    x = nd.GradArray(a, requires_grad=True)
    y = np.sum(double(x) + triple(x)) if kept_first else np.sum(triple(x) + double(x))
    y.backward()
    np.testing.assert_array_equal(x.grad, np.full(5, 5.0))
    np.testing.assert_array_equal(kept[0], np.full(5, 2.0))
    assert made[0]() is x.grad  # no third buffer for the sum


def test_a_recorded_backward_pass_adds_cotangents_without_writing_in_place(monkeypatch):
    # under create_graph the sums are recorded additions of GradArrays, never ``+=`` (which
    # would take the in-place route and write into an array of the recorded graph)
    from ndgrad import _array

    writes = []
    original = _array.ufunc_inplace
    monkeypatch.setattr(_array, "ufunc_inplace", lambda *a: (writes.append(a[0]), original(*a))[1])
    a = np.linspace(0.5, 1.5, 4)
    x = nd.GradArray(a, requires_grad=True)
    y = np.sum(np.sin(x) * x + x * 3.0 + np.exp(x))  # x gets three cotangents
    y.backward(create_graph=True)
    assert writes == []
    np.testing.assert_allclose(x.grad, np.cos(a) * a + np.sin(a) + 3.0 + np.exp(a), rtol=1e-14)
    np.sum(x.grad).backward()  # the recorded pass differentiates again: second derivatives
    assert writes == []


# --- a node keeps only what the rules of its grad inputs read ---------------------------------


def test_a_constant_operand_keeps_only_what_the_other_operands_rule_reads():
    # d(c @ w)/dw reads c; d(c @ w)/dc would read w, but c does not require grad: w is not kept,
    # so it is neither copied nor guarded (it stays writable), and the gradient is still c.T g
    rng = np.random.default_rng(0)
    c = rng.standard_normal((50, 60))
    w = nd.GradArray(rng.standard_normal((60, 70)), requires_grad=True)  # 33 KB: guarded if kept
    y = c @ w
    kept = y._node.args
    assert isinstance(kept[0], np.ndarray) and not isinstance(kept[1], np.ndarray)  # w's shape
    assert w.flags.writeable
    g = rng.standard_normal((50, 70))
    y.backward(grad=g)
    np.testing.assert_allclose(w.grad, c.T @ g)


def test_the_ufunc_fast_path_keeps_only_the_needed_operand():
    x = nd.GradArray(np.linspace(0.5, 1.5, 5000), requires_grad=True)  # 40 KB
    c = np.linspace(2.0, 3.0, 5000)
    y = x * c  # d/dx reads c; x itself is not needed
    assert y._node.args == (None, y._node.args[1]) and y._node.args[1] is not None
    assert x.flags.writeable and not c.flags.writeable  # c guarded while the node lives
    np.sum(y).backward()
    np.testing.assert_array_equal(x.grad, c)
    both = x * nd.GradArray(c, requires_grad=True)
    assert all(a is not None for a in both._node.args)  # both read when both require grad


def test_needs_is_the_union_over_the_grad_slots_rules():
    from ndgrad._registry import VJP_RULES

    prim = VJP_RULES[np.matmul]
    assert prim.needs((0,))[0] == {1} and prim.needs((1,))[0] == {0}
    assert prim.needs((0, 1))[0] == {0, 1} == prim.saves
    assert prim.by_operands == (prim.needs((0,)), prim.needs((1,)), prim.needs((0, 1)))


def test_what_a_node_keeps_is_derived_on_first_use_not_at_import():
    # scanning every rule's bytecode at import was half of the time ``import ndgrad`` took
    import subprocess

    code = (
        "import numpy as np, ndgrad as nd\n"
        "from ndgrad._registry import VJP_RULES\n"
        "prim = VJP_RULES[np.arctan]\n"
        "try:\n"
        "    object.__getattribute__(prim, 'by_operands')\n"
        "    raise SystemExit('derived at import')\n"
        "except AttributeError:\n"
        "    pass\n"
        "x = nd.GradArray(np.linspace(0.1, 0.9, 4), requires_grad=True)\n"
        "np.sum(np.arctan(x)).backward()\n"  # the compiled path reads by_operands: derived now
        "assert object.__getattribute__(prim, 'by_operands')[0] == ({0}, set(), False)\n"
        "assert np.allclose(x.grad, 1 / (1 + np.linspace(0.1, 0.9, 4) ** 2))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr or done.stdout


def test_threads_that_first_use_a_primitive_at_once_derive_it_once(monkeypatch):
    import threading
    import time

    from ndgrad._registry import Primitive

    def f(x, y):
        return x * y

    calls = []
    derive = Primitive._derive_reads

    def counted(self):
        calls.append(threading.get_ident())
        time.sleep(0.05)  # slow enough that the other threads ask meanwhile
        derive(self)

    monkeypatch.setattr(Primitive, "_derive_reads", counted)
    prim = Primitive(f, (lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x))
    barrier, seen = threading.Barrier(8), []

    def first_use():
        barrier.wait()
        seen.append(prim.by_operands)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(seen) == 8
    assert all(s == ((frozenset({1}), frozenset(), False),
                     (frozenset({0}), frozenset(), False),
                     (frozenset({0, 1}), frozenset(), False)) for s in seen)  # fmt: skip


def test_new_forward_rules_make_the_nodes_keep_what_they_read():
    # set_jvp forgets what was derived: a JVP rule that reads another argument makes the node
    # keep it, though the VJP rule did not read it
    from ndgrad._registry import Primitive

    def f(x, y):
        return x * 2.0

    prim = Primitive(f, (lambda g, ans, x, y: 2.0 * g, None))
    assert prim.needs((0,)) == (frozenset(), frozenset(), False)
    assert prim.saves == frozenset() and not prim.saves_ans
    prim.set_jvp("rules", (lambda t, ans, x, y: 2.0 * t * y.shape[0] / y.size,))
    assert prim.needs((0,))[1] == {1} and prim.meta == {1}  # y, for its shape
    assert prim.by_operands[0] == prim.needs((0,))
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        prim.nothing  # noqa: B018


# --- a sequence whose arrays the rules read only the shapes of ---------------------------------

_N = 3000  # 24 kB per array: guarded (and read-only) if a node kept it
_JOINS = {  # name: (the join of a list of three arrays, their shape, where the list is)
    "concatenate": (np.concatenate, (_N,), 0),
    "concatenate_none": (lambda s: np.concatenate(s, axis=None), (50, 60), 0),
    "stack": (lambda s: np.stack(s, axis=1), (_N,), 0),
    "hstack": (np.hstack, (_N,), 0),
    "vstack": (np.vstack, (_N,), 0),
    "dstack": (np.dstack, (50, 60), 0),
    "column_stack": (np.column_stack, (_N,), 0),
    "choose": (lambda s: np.choose(np.arange(_N) % 3, s), (_N,), 1),
    "select": (lambda s: np.select([np.arange(_N) % 3 == k for k in range(3)], s), (_N,), 1),
}


def _gathered(join, shape, k, w):
    """The sum of ``w`` over the places where ``join`` puts each element of its ``k``-th array:
    the gradient of ``sum(join(arrays) * w)`` in that array, found by joining element numbers."""
    size = math.prod(shape)
    parts = [np.zeros(shape) for _ in range(3)]
    parts[k] = np.arange(1.0, size + 1).reshape(shape)
    numbers = np.asarray(join(parts)).astype(int).ravel()
    return np.bincount(numbers, weights=np.ravel(w), minlength=size + 1)[1:].reshape(shape)


@pytest.mark.parametrize("name", sorted(_JOINS))
def test_a_join_keeps_only_the_shapes_of_its_arrays(name, monkeypatch):
    # Its rule cuts the cotangent where the arrays were joined: it reads their shapes and how
    # they are nested, never their values. The node keeps ArrayMeta in the same list, so the
    # arrays are not fingerprinted or made read-only, and writing to them later is harmless.
    from ndgrad import _graph
    from ndgrad._registry import ArrayMeta

    join, shape, slot = _JOINS[name]
    fingerprinted = []
    real = _graph.fingerprint
    monkeypatch.setattr(_graph, "fingerprint", lambda a: fingerprinted.append(a) or real(a))
    rng = np.random.default_rng(0)
    x = nd.GradArray(rng.standard_normal(shape), requires_grad=True)
    c = rng.standard_normal(shape)  # a constant among them
    y = x * 2.0
    joined = join([x, c, y])
    joined_arrays = (x.values, c, y.values)  # (choose and select keep their integer keys)
    assert not any(np.shares_memory(b, a) for b in fingerprinted for a in joined_arrays)
    kept = joined._node.args[slot]
    assert type(kept) is list and len(kept) == 3
    assert all(type(k) is ArrayMeta and k.shape == shape for k in kept)
    assert x.flags.writeable and y.flags.writeable and c.flags.writeable
    w = np.cos(np.arange(joined.size)).reshape(joined.shape)
    loss = np.sum(joined * w)
    y[...] = 7.0  # written after the join: no rule reads them
    c[...] = 7.0
    loss.backward()
    expected = _gathered(join, shape, 0, w) + 2.0 * _gathered(join, shape, 2, w)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


def test_a_join_kept_as_shapes_nests_in_every_mode():
    # second order (the recorded backward pass lifts only what was kept), forward mode (the
    # constant's zero tangent is made from its ArrayMeta) and batched Jacobians, each against
    # the closed form of f(x) = sum(concatenate([x, c, x ** 2]) ** 2)
    x0 = np.linspace(0.5, 1.5, 4)
    c = np.array([3.0, -1.0])

    def f(x):
        return np.sum(np.concatenate([x, c, x**2]) ** 2)

    def joined(x):
        return np.stack([x, np.full(4, 2.0), x**3], axis=1)

    np.testing.assert_allclose(nd.grad(f)(x0), 2 * x0 + 4 * x0**3, rtol=1e-12)
    np.testing.assert_allclose(nd.hessian(f)(x0), np.diag(2 + 12 * x0**2), rtol=1e-12)
    t = np.array([1.0, -2.0, 0.5, 3.0])
    _, tangent = nd.jvp(lambda x: np.concatenate([x, c, x**2]), (x0,), (t,))
    np.testing.assert_allclose(tangent, np.concatenate([t, [0.0, 0.0], 2 * x0 * t]), rtol=1e-12)
    expected = np.zeros((4, 3, 4))
    expected[:, 0] = np.eye(4)
    expected[:, 2] = np.diag(3 * x0**2)
    for mode in ("forward", "reverse"):
        np.testing.assert_allclose(nd.jacobian(joined, mode=mode)(x0), expected, rtol=1e-12)


def _join_rule(g, ans, arrays):
    return like_sequence(arrays, [g, g])


def _by_value(g, ans, arrays):
    return like_sequence(arrays, [g * arrays[0], g])


def _by_shape(g, ans, other, arrays):
    return np.zeros(np.shape(arrays))


def _by_structure(g, ans, other, arrays):
    return like_sequence(arrays, [g, g])


def test_a_sequence_read_for_its_values_or_shape_elsewhere_is_kept_whole():
    # The structure is kept only when every rule reads the argument through reads_structure
    # helpers (called by their global names): a rule reading ``arrays[0]``, or another one
    # reading ``np.shape(arrays)``, needs the arrays (an ArrayMeta of a list cannot serve both).
    from ndgrad._registry import Primitive

    assert Primitive(np.stack, (_join_rule,)).structure == {0}
    assert Primitive(np.stack, (_by_value,)).structure == frozenset()
    assert Primitive(np.stack, (_by_value,)).needs((0,))[0] == {0}
    both = Primitive(np.add, (_by_shape, _by_structure))
    assert both.structure == frozenset()
    assert 1 in both.needs((1,))[0] and 1 in both.needs((0,))[0]


def test_registering_a_view_costs_the_same_however_many_views_of_its_memory_live():
    # Every array in a graph is entered under the owner of its memory (ndgrad._aliases), so
    # that a plain alias of it is found. Views of one array kept alive (a list of its slices,
    # joined later) share that owner: entering one more, and dropping one, is a link in a
    # list, not a pass over the others (that made a list of n slices take O(n^2)).
    x = GradArray(np.linspace(0.0, 1.0, 5000), requires_grad=True)
    few = [x[i : i + 2] for i in range(20)]
    with_few = _calls_during(lambda: few.append(x[2:4]))
    many = [x[i : i + 2] for i in range(3000)]
    with_many = _calls_during(lambda: many.append(x[2:4]))
    assert with_many == with_few
    owner = x.base if x.base is not None else x
    assert len(_core.arrays_over(owner)) == 1 + len(few) + len(many)
    gone = {id(v) for v in many}
    many.clear()
    live = {id(a) for a in _core.arrays_over(owner)}
    assert len(live) == 1 + len(few) and not gone & live
    # a plain alias of one of the views is still found
    with pytest.raises(nd.GraphBreakError):
        np.sum(few[3] * np.asarray(few[3]))
    total = np.sum(np.concatenate(few))  # and the gradient through the views is right
    total.backward()
    expected = np.zeros(5000)
    for i in range(20):
        expected[i : i + 2] += 1.0
    expected[2:4] += 1.0
    np.testing.assert_array_equal(x.grad, expected)


# --- a[key]'s cotangent added where it belongs (_core.scatter_into) --------------------------


def _reads_in_a_loop(x, keys):
    total = 0.0
    for k, key in enumerate(keys):
        total = total + np.sum(np.sin(x[key]) * (k + 1))
    return total


def _closed_form(x, keys):
    """d/dx of ``_reads_in_a_loop``: each read adds (k + 1) cos(x[key]) at its positions."""
    g = np.zeros_like(x)
    for k, key in enumerate(keys):
        np.add.at(g, key, (k + 1) * np.cos(x[key]))
    return g


KEY_LOOPS = {  # name: (the array's shape, the keys read in turn)
    "ints": ((8,), [0, 3, 3, 5, -1, 2]),
    "slices": ((8,), [slice(i, i + 3) for i in range(5)] + [slice(None, None, 2), slice(6, 1, -2)]),
    "tuples": ((4, 6), [(1, slice(None)), (slice(0, 2), 3), (Ellipsis, 1), (None, 2, 3), (0, 0)]),
    "mixed with repeats": (
        (6,),
        [[0, 0, 1], 2, np.array([3, 3]), slice(1, 4), (np.array([1, 1]),)],
    ),
    "booleans": ((8,), [True, np.array([True, False, True, False, True, False, True, True]), 4]),
}


@pytest.mark.parametrize("name", list(KEY_LOOPS))
def test_reads_in_a_loop_get_the_closed_form_gradient(name):
    """Every key a loop reads adds its cotangent once, basic keys into the parent's running
    sum, keys that may repeat a position (np.add.at) and boolean masks by their rule."""
    shape, keys = KEY_LOOPS[name]
    x0 = np.random.default_rng(3).standard_normal(shape)
    x = nd.GradArray(x0, requires_grad=True)
    _reads_in_a_loop(x, keys).backward()
    np.testing.assert_allclose(x.grad, _closed_form(x0, keys), rtol=1e-13, atol=1e-15)
    # and through an intermediate (not a leaf), whose cotangent the pass allocates
    x.grad = None
    y = x * 2.0
    _reads_in_a_loop(y, keys).backward()
    np.testing.assert_allclose(x.grad, 2.0 * _closed_form(2.0 * x0, keys), rtol=1e-13)


def test_a_loop_of_reads_runs_the_getitem_rule_once_per_array():
    """A loop over ``x[i]`` of a length-n array: the first read's rule makes the zeros, each
    later one is added at its key (O(1), not a length-n array per read). Counted by the rule's
    calls; a loop of keys that may repeat a position runs the rule every time."""
    from ndgrad._rules import indexing

    def rule_calls(keys, n=64):
        x = nd.GradArray(np.linspace(0.0, 1.0, n), requires_grad=True)
        loss = _reads_in_a_loop(x, keys)
        calls = 0

        def profiler(frame, event, arg):
            nonlocal calls
            if event == "call" and frame.f_code is indexing._getitem_vjp.__code__:
                calls += 1

        sys.setprofile(profiler)
        try:
            loss.backward()
        finally:
            sys.setprofile(None)
        return calls

    assert rule_calls(list(range(40))) == 1
    assert rule_calls([slice(i, i + 4) for i in range(40)]) == 1
    assert rule_calls([np.array([i, i]) for i in range(40)]) == 40  # np.add.at, by the rule
    # another dtype arriving first (a float32 read promoted) leaves the sum to the rule
    x = nd.GradArray(np.linspace(0.0, 1.0, 8), requires_grad=True)
    loss = np.sum(x[0:2].astype(np.float32)) + np.sum(x[1:3] * 2.0) + x[5] * 3.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [1.0, 3.0, 2.0, 0.0, 0.0, 3.0, 0.0, 0.0])


def test_reads_in_a_loop_differentiate_twice():
    """A recorded backward pass (create_graph) takes the rule every time: the second
    derivative of sum_k (k + 1) sum(sin(x[key])) is -sum_k (k + 1) sin(x[key]) at the key."""
    keys = [slice(i, i + 3) for i in range(5)] + [2, 2]
    x0 = np.linspace(0.1, 0.8, 8)
    second = nd.grad(lambda x: np.sum(nd.grad(lambda z: _reads_in_a_loop(z, keys))(x)))(x0)
    expected = np.zeros_like(x0)
    for k, key in enumerate(keys):
        np.add.at(expected, np.arange(8)[key], -(k + 1) * np.sin(x0[key]))
    np.testing.assert_allclose(second, expected, rtol=1e-12)


# --- which inputs a rule reads, on every Python's bytecode ----------------------------------


def _instruction(opname: str, argval):
    """What ``_variables_read`` reads of an instruction (the opcode of a local load: 3.11 has
    none of the fused names, whose opcodes are local ones where they exist)."""
    import dis
    import types

    opcode = dis.opmap.get(opname, dis.opmap["LOAD_FAST"])
    return types.SimpleNamespace(opname=opname, opcode=opcode, argval=argval)


@pytest.mark.parametrize(
    ("opname", "argval", "read"),
    [
        ("LOAD_FAST", "x", ("x",)),
        ("LOAD_FAST_CHECK", "x", ("x",)),
        ("LOAD_FAST_BORROW", "x", ("x",)),  # 3.14
        ("LOAD_FAST_LOAD_FAST", ("x", "y"), ("x", "y")),  # 3.13
        ("LOAD_FAST_BORROW_LOAD_FAST_BORROW", ("x", "y"), ("x", "y")),  # 3.14
        ("STORE_FAST_LOAD_FAST", ("t", "x"), ("x",)),  # 3.13: stores t, loads x
        ("STORE_FAST_STORE_FAST", ("t", "u"), ()),
        ("STORE_FAST", "t", ()),
        ("DELETE_FAST", "t", ()),
        ("LOAD_DEREF", "x", ("x",)),
    ],
)
def test_the_rule_scan_sees_every_kind_of_load(opname, argval, read):
    """A load the scan missed would leave an input unsaved: on Python 3.13, a rule that stored a
    temporary and then read an input in the next instruction (STORE_FAST_LOAD_FAST) lost it."""
    from ndgrad._registry import _variables_read

    assert _variables_read(_instruction(opname, argval)) == read


def test_fused_loads_are_judged_as_two_loads():
    """3.13 compiles ``_spread(g, a.shape)`` as LOAD_FAST_LOAD_FAST (g, a) then LOAD_ATTR shape:
    split, ``a`` is read for its shape only and ``g`` for its value, as on 3.11 (where the scan
    found ``a`` read whole, the node saved and fingerprinted it)."""
    import dis

    from ndgrad._registry import _is_meta_use, _unfused, _variables_read

    def probe(g, a):
        return a.shape

    real = list(dis.get_instructions(probe))
    load = next(op for op in real if op.opname.startswith("LOAD_FAST"))
    attr = next(op for op in real if op.opname == "LOAD_ATTR")
    for fused, halves in [
        ("LOAD_FAST_LOAD_FAST", ("LOAD_FAST", "LOAD_FAST")),
        ("LOAD_FAST_BORROW_LOAD_FAST_BORROW", ("LOAD_FAST_BORROW", "LOAD_FAST_BORROW")),
    ]:
        ins = _unfused([load._replace(opname=fused, argval=("g", "a")), attr])
        assert [op.opname for op in ins[:2]] == list(halves)
        assert [_variables_read(op) for op in ins[:2]] == [("g",), ("a",)]
        assert not _is_meta_use(probe, ins, 0) and _is_meta_use(probe, ins, 1)
    store = _unfused([load._replace(opname="STORE_FAST_LOAD_FAST", argval=("t", "a")), attr])
    assert [_variables_read(op) for op in store[:2]] == [(), ("a",)]


def test_the_compiled_ndim_called_by_name_reads_the_shape_only():
    """Matmul's rules ask ``ndim(x)`` (np.ndim compiled, imported by name): the scan reads it as
    np.ndim, for the shape only, and only for that function under that name; the matmul node
    keeps an operand that its rules read for the rank only as an ArrayMeta."""
    from ndgrad._registry import ArrayMeta, _scan_params
    from ndgrad._rules import ufuncs

    values, meta, _, _ = _scan_params(ufuncs._matmul_vjp_x1, False)
    assert values == {1} and meta == {0}  # g @ conj(x2).T: x1 for its rank only
    values, meta, _, _ = _scan_params(ufuncs._matmul_vjp_x2, False)
    assert values == {0} and meta == {1}

    namespace = {"ndim": len}  # another function under the same name reads values
    exec("def rule(g, ans, x):\n    return g * ndim(x)", namespace)
    assert _scan_params(namespace["rule"], False)[:2] == ({0}, frozenset())
    namespace["ndim"] = _core.ndim
    assert _scan_params(namespace["rule"], False)[:2] == (frozenset(), {0})

    x = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    w = GradArray(np.ones((4, 2)), requires_grad=True)
    z = x @ w  # w's gradient reads x's values and w's rank: w is not kept
    assert [type(a) for a in z._node.args] == [np.ndarray, ArrayMeta]
    y = w.T @ x.T
    assert [type(a) for a in y._node.args] == [ArrayMeta, np.ndarray]
    np.sum(z).backward()
    np.testing.assert_allclose(w.grad, x.T @ np.ones((3, 2)))


def test_the_attributes_of_a_grad_array_are_read_without_unwrapping():
    """np.ndim, np.shape and np.size of a GradArray (which rules ask of their recorded
    arguments on every call under create_graph) read its attributes: nothing is unwrapped, and
    the answers are NumPy's, for a list of GradArrays too (which takes the general route)."""
    from ndgrad import _array

    x = nd.GradArray(np.ones((2, 3)), requires_grad=True)
    seen = []

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code is _array.unwrap_all.__code__:
            seen.append(frame)

    sys.setprofile(profiler)
    try:
        got = (np.ndim(x), np.shape(x), np.size(x), np.size(x, 1), np.shape(x[0]))
    finally:
        sys.setprofile(None)
    assert got == (2, (2, 3), 6, 3, (3,))
    assert seen == []
    assert np.shape([x, x]) == (2, 2, 3) and np.ndim([x]) == 3


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_a_bias_over_a_batch_is_summed_without_the_python_fit(monkeypatch, dtype):
    # The compiled pass sums a cotangent over the one leading axis its input was broadcast
    # along itself (a bias over a batch); _graph._fit takes every other shape or dtype change.
    from ndgrad import _graph

    fitted = []
    original = _graph._fit
    monkeypatch.setattr(
        _graph,
        "_fit",
        lambda c, edge, prim: (fitted.append(edge.shape), original(c, edge, prim))[1],
    )
    _graph.configure_core()  # the compiled loop calls the function registered with it
    try:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((5, 3)).astype(dtype)
        b = GradArray(rng.standard_normal(3).astype(dtype), requires_grad=True)
        c = rng.standard_normal((5, 3)).astype(dtype)
        np.sum(np.real(np.conj(c) * (x + b))).backward()
        assert (3,) not in fitted  # (np.real's input is fitted: a real cotangent, complex z)
        assert b.grad.dtype == dtype and b.grad.shape == (3,)
        np.testing.assert_allclose(b.grad, np.conj(np.conj(c)).sum(axis=0), rtol=1e-6)

        # two leading axes, a size-1 axis, a scalar: the Python function, as before
        for shape, batch in [((3,), (2, 5, 3)), ((1, 3), (5, 3)), ((), (5, 3))]:
            fitted.clear()
            b = GradArray(np.ones(shape, dtype), requires_grad=True)
            np.sum(np.real(b * np.ones(batch, dtype))).backward()
            assert shape in fitted
            np.testing.assert_allclose(
                b.grad, np.full(shape, np.prod(batch) / max(np.prod(shape), 1))
            )
    finally:
        monkeypatch.undo()
        _graph.configure_core()


def test_saves_with_nothing_to_compare_skip_the_python_check(monkeypatch):
    # The compiled pass calls _graph._check_versions only for a node whose saved arrays have a
    # version that moved or a fingerprint that no longer matches (it compares them itself):
    # ``tanh``'s output (made by the call itself, locked at birth) has no fingerprint; ``x @
    # w``'s plain constant ``x`` has one, which matches until a write through an earlier view.
    from ndgrad import _graph

    checked = []
    original = _graph._check_versions
    monkeypatch.setattr(
        _graph, "_check_versions", lambda node: (checked.append(node.name), original(node))[1]
    )
    _graph.configure_core()  # the compiled loop calls the function registered with it
    try:
        x = np.linspace(-1.0, 1.0, 4096).reshape(64, 64)  # 32 KiB: guarded, not copied
        w = GradArray(np.eye(64) * 0.5, requires_grad=True)
        h = np.tanh(x @ w)
        np.sum(h * 3.0).backward()
        assert checked == []
        np.testing.assert_allclose(w.grad, x.T @ (3.0 * (1 - h.view(np.ndarray) ** 2)))

        # a fingerprint that no longer matches: the function judges (and refuses)
        view = x[:]
        y = np.sum(np.tanh(x @ w))
        view[0, 0] = 5.0
        with pytest.raises(nd.InPlaceError, match="changed after"):
            y.backward()
        assert checked == ["numpy.matmul"]

        # a version that moved is still checked: the node takes the copy the write left it
        checked.clear()
        w.grad = None
        h = np.tanh(w * 1.0)
        y = np.sum(h * 2.0)
        h += 1.0
        y.backward()
        assert checked == ["numpy.tanh"]
        t = np.tanh(w.view(np.ndarray))
        np.testing.assert_allclose(w.grad, 2.0 * (1 - t * t))
    finally:
        monkeypatch.undo()
        _graph.configure_core()
