"""The compiled core (ndgrad/_core.c): its Node type, and that the backward loop takes and
releases exactly the references it should, on every path (common node, general node, leaf,
several outputs, inputs=, an error raised by a rule)."""

from __future__ import annotations

import gc
import subprocess
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import _core, _graph
from ndgrad._forward import ForwardPlan
from ndgrad._registry import VJP_RULES, Primitive

# --- the Node type ---------------------------------------------------------------------------


def _node(**changes):
    fields = dict(
        prim=VJP_RULES[np.exp], edges=(), args=(np.ones(2),), kwargs={}, ans=None,
        versions=(), out_meta=None,
    )  # fmt: skip
    fields.update(changes)
    return _core.Node(*fields.values())


def test_node_fields_and_name():
    node = _node()
    assert node.name == "numpy.exp" and repr(node) == "<Node numpy.exp>"
    assert node.n_out == 1 and node.where is None and not node.freed
    assert _node(out_meta=(((2,), np.dtype(float)), ((2,), np.dtype(float)))).n_out == 2
    ref = weakref.ref(node)
    del node
    assert ref() is None


@pytest.mark.parametrize(
    "changes",
    [
        {"edges": [()]},  # not a tuple
        {"edges": ((1, 2),)},  # not an Edge
        {"edges": (_graph.Edge("0", None, None, 0, (2,), np.dtype(float)),)},  # slot not an int
        {"edges": (_graph.Edge(0, None, None, 0.0, (2,), np.dtype(float)),)},  # out not an int
        {"args": [1]},
        {"kwargs": ()},
        {"versions": [1]},
        {"out_meta": []},
    ],
)
def test_node_refuses_wrong_field_types(changes):
    # the backward loop reads these fields as tuples and dicts without further checks
    with pytest.raises(TypeError):
        _node(**changes)


def test_node_fields_keep_their_types_and_cannot_be_deleted():
    node = _node()
    node.args = (1, 2)
    node.ans = "anything"
    assert node.args == (1, 2) and node.ans == "anything"
    for name, bad in [("args", [1]), ("kwargs", ()), ("versions", None)]:
        with pytest.raises(TypeError):
            setattr(node, name, bad)
    for name in ("args", "kwargs", "ans", "versions"):
        with pytest.raises(AttributeError):
            delattr(node, name)
    with pytest.raises(AttributeError):
        node.edges = ()  # read-only: the graph's shape never changes after recording


def test_node_holds_the_fields_of_its_edges_and_reads_them_back_as_the_same_edges():
    # the edges live inside the node; Python reads them as Edge tuples made on the first read,
    # then the same objects (as an attribute should: ndgrad itself matches edges by value)
    leaf = _graph.LeafNode(nd.GradArray(np.ones(2)))
    parent = _node()
    before = sys.getrefcount(parent), sys.getrefcount(leaf)
    given = (
        _graph.Edge(1, None, parent, 0, (2,), np.dtype(float)),
        _graph.Edge(3, (0, 2), leaf, 0, (2,), np.dtype(np.float32)),
    )
    node = _node(edges=given)
    del given
    edges = node.edges
    assert type(edges) is tuple and all(type(e) is _graph.Edge for e in edges)
    assert edges == (
        (1, None, parent, 0, (2,), np.dtype(float)),
        (3, (0, 2), leaf, 0, (2,), np.dtype(np.float32)),
    )
    assert node.edges is edges and all(a is b for a, b in zip(node.edges, edges, strict=True))
    x = nd.GradArray(np.ones(3), requires_grad=True)
    y = np.sin(x * 2.0)
    assert y._node.edges[0] is y._node.edges[0]
    assert y._node.edges[0].parent.edges[0].parent is x._node  # recorded in C: the same fields
    del node, edges
    assert (sys.getrefcount(parent), sys.getrefcount(leaf)) == before  # the node held them once


def test_node_takes_where_by_keyword_or_position():
    mask = np.array([True, False])
    assert _node().where is None
    assert _core.Node(VJP_RULES[np.exp], (), (), {}, None, (), None, mask).where is mask
    assert _core.Node(VJP_RULES[np.exp], (), (), {}, None, (), None, where=mask).where is mask
    with pytest.raises(TypeError):
        _core.Node(VJP_RULES[np.exp], (), (), {}, None, (), None, other=mask)
    with pytest.raises(TypeError):
        _core.Node(VJP_RULES[np.exp])


# --- references: nothing kept, nothing lost ---------------------------------------------------


def _graphs(x, c, root_grad):
    """One pass over several kinds of node; returns the gradient (checked in closed form)."""
    x.grad = None
    y = np.exp(x) * c  # common nodes; ``c`` saved by the multiply
    parts = np.split(y, 2)  # several outputs
    z = np.sum(parts[0] * parts[1]) + np.sum(np.where(x > 0, x, 0.0))  # where: general node
    z.backward(root_grad)
    return x.grad


def test_backward_keeps_no_references():
    rng = np.random.default_rng(0)
    x = nd.GradArray(rng.standard_normal(8), requires_grad=True)
    c = rng.standard_normal(8) + 3.0  # a small constant: copied when saved
    big = rng.standard_normal(4096)  # above COPY_BYTES: saved as is and guarded
    root_grad = np.array(1.5)
    grad = _graphs(x, c, root_grad)
    e = np.exp(x.values) * c
    expected = 1.5 * (np.concatenate([e[4:] * e[:4], e[:4] * e[4:]]) + (x.values > 0))
    np.testing.assert_allclose(grad, expected, rtol=1e-12)

    xb = nd.GradArray(big, requires_grad=True)
    watched = [c, big, root_grad, VJP_RULES[np.exp], VJP_RULES[np.multiply], x]
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    for _ in range(50):
        _graphs(x, c, root_grad)
        np.sum(np.sin(xb) * big).backward()
        xb.grad = None
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == before


def test_the_forward_pass_keeps_no_references():
    """``_core.forward_steps``: the tangents, rules, saved arrays and plan keep their reference
    counts over many pushes, the inlined nodes, the general ones and an error in a rule alike."""
    from ndgrad._forward import ForwardPlan

    rng = np.random.default_rng(1)
    x = nd.GradArray(rng.standard_normal(8), requires_grad=True)
    c = rng.standard_normal((3, 8))
    y = np.sum(np.tanh(c @ x) * np.sin(x[:3]) + np.concatenate([x, x])[:3], axis=0)
    plan = ForwardPlan([(y._node, 0)], [(x._node, 0)], [(y.shape, y.dtype)])
    v = rng.standard_normal(8)
    (first,) = plan.push([v], False)
    eps = 1e-6
    with nd.no_grad():
        hi = np.sum(np.tanh(c @ (x.values + eps * v)) * np.sin((x.values + eps * v)[:3]))
        lo = np.sum(np.tanh(c @ (x.values - eps * v)) * np.sin((x.values - eps * v)[:3]))
    expected = (hi - lo) / (2 * eps) + np.sum(v[:3])
    np.testing.assert_allclose(first, expected, rtol=1e-6)

    def bad_jvp(t, ans, x):
        raise ZeroDivisionError("from the JVP rule")

    f = nd.defjvp(nd.defvjp(lambda x: np.sin(x.view(np.ndarray)), lambda g, ans, x: g), bad_jvp)
    z = f(x)
    bad = ForwardPlan([(z._node, 0)], [(x._node, 0)], [(z.shape, z.dtype)])
    watched = [v, c, x, VJP_RULES[np.tanh], VJP_RULES[np.matmul], plan, y._node, bad]
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    for _ in range(50):
        (t,) = plan.push([v], False)
        assert t == first
        with pytest.raises(ZeroDivisionError, match="from the JVP rule"):
            bad.push([v], False)
    del t
    gc.collect()
    assert [sys.getrefcount(o) for o in watched] == before


def test_error_in_a_rule_keeps_no_references():
    calls = []

    def bad_rule(g, ans, x):
        calls.append(1)
        raise ZeroDivisionError("from the rule")

    f = nd.defvjp(lambda x: np.sin(x), bad_rule)
    x = nd.GradArray(np.ones(3), requires_grad=True)
    c = np.full(3, 2.0)
    gc.collect()
    before = sys.getrefcount(c), sys.getrefcount(x)
    for _ in range(20):
        y = np.sum(f(x) * c)
        with pytest.raises(ZeroDivisionError, match="from the rule"):
            y.backward()
        del y
    gc.collect()
    assert calls and (sys.getrefcount(c), sys.getrefcount(x)) == before


def test_memory_does_not_grow_over_many_graphs():
    x = nd.GradArray(np.linspace(0.1, 1.0, 16), requires_grad=True)
    c = np.linspace(1.0, 2.0, 16)
    root = np.array(1.0)
    for _ in range(200):  # warm caches (interned strings, dtype caches, the registry's)
        _graphs(x, c, root)
        nd.grad(lambda v: np.sum(np.tanh(v) ** 2))(c)
    gc.collect()
    tracked = len(gc.get_objects())
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            _graphs(x, c, root)
            nd.grad(lambda v: np.sum(np.tanh(v) ** 2))(c)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    # exact for the objects the garbage collector tracks (GradArrays, lists, nodes holding a
    # user's object); traced memory (which bounds the nodes and edges it does not track) also
    # holds CPython's free lists, which fill over the first thousands of
    # graphs (more under PYTHONMALLOC=malloc, as tools/sanitize.sh runs): a bound that a leaked
    # cotangent or saved array per graph (over 300 kB in all) still exceeds
    assert len(gc.get_objects()) - tracked <= 10
    assert grown < 256 * 1024, f"{grown} bytes kept after 2000 graphs"


def test_inputs_and_retain_graph_paths_release_their_references():
    x = nd.GradArray(np.linspace(0.5, 1.5, 6), requires_grad=True)
    c = np.linspace(1.0, 2.0, 6)
    gc.collect()
    before = sys.getrefcount(c)
    for _ in range(20):
        y = np.sum(np.sin(x) * c)
        (g,) = _graph.backward(
            [(y._node, 0)], [np.array(1.0)], inputs=[(x._node, 0)], retain_graph=True
        )
        np.testing.assert_allclose(g, np.cos(x.values) * c, rtol=1e-12)
        y.backward()  # the retained graph is still usable
        np.testing.assert_allclose(x.grad, np.cos(x.values) * c, rtol=1e-12)
        x.grad = None
        del y, g
    gc.collect()
    assert sys.getrefcount(c) == before


def test_a_pass_to_inputs_skips_a_branch_that_reaches_another_leaf_only():
    """The backward pass to ``inputs=`` works out which nodes lead to them (needed_nodes)
    unless every walk down from the root ends at an input; a branch ending at another leaf
    that requires grad is not needed, and its rule never runs."""
    calls = []

    def scaled(z):
        return z * 2.0

    scaled = nd.defvjp(scaled, lambda g, ans, z: calls.append(1) or g * 2.0)
    x = nd.GradArray(np.linspace(0.5, 1.5, 4), requires_grad=True)
    z = nd.GradArray(np.linspace(1.0, 2.0, 4), requires_grad=True)  # not an input
    w = scaled(z)
    y = np.sum(np.sin(x) * w)
    (g,) = _graph.backward(
        [(y._node, 0)], [np.array(1.0)], inputs=[(x._node, 0)], retain_graph=True
    )
    np.testing.assert_allclose(g, np.cos(x.values) * 2.0 * z.values, rtol=1e-12)
    assert calls == []  # the branch to z was not entered
    # every walk ends at an input: one shared path, both inputs
    y2 = np.sum(np.sin(x) * np.exp(x))
    (g2,) = _graph.backward([(y2._node, 0)], [np.array(1.0)], inputs=[(x._node, 0)])
    v = x.values
    np.testing.assert_allclose(g2, (np.cos(v) + np.sin(v)) * np.exp(v), rtol=1e-12)
    y.backward()  # all leaves: the rule runs
    assert calls == [1]


# --- graphs that are deep, or cyclic through the user's objects ------------------------------


def test_dropping_a_deep_graph_does_not_recurse():
    # each node frees its parent when it dies: without the trashcan, 200,000 nested
    # deallocations overflow the C stack
    x = nd.GradArray(np.ones(1), requires_grad=True)
    y = x
    for _ in range(200_000):
        y = y * 1.0
    ref = weakref.ref(y._node)
    del y
    assert ref() is None


def test_a_cycle_through_a_node_is_collected():
    # a rule's keyword argument that refers back to the node's own output (a user's closure):
    # nodes are tracked by the garbage collector, so the cycle is found and freed
    class Box:
        scale = 2.0
        held = None

    def scaled_sin(x, box):
        return np.sin(x) * box.scale

    f = nd.defvjp(scaled_sin, lambda g, ans, x, box: g * np.cos(x) * box.scale)
    x = nd.GradArray(np.ones(3), requires_grad=True)
    box = Box()
    y = f(x, box=box)
    assert y._node.kwargs["box"] is box  # the node holds the user's object
    box.held = y
    ref = weakref.ref(y._node)
    del y, box
    gc.collect()
    assert ref() is None


def test_nodes_no_cycle_can_pass_through_are_left_out_of_the_gc():
    # a long graph of plain operations: the garbage collector would walk every node and edge
    # at each collection (half the time of recording 10^5 operations)
    x = nd.GradArray(np.ones(3), requires_grad=True)
    y = np.sum(np.sin(x) * 2.0 + x[1:2], axis=0)
    nodes, stack = [], [y._node]
    while stack:
        node = stack.pop()
        if isinstance(node, _core.Node):
            nodes.append(node)
            stack.extend(e.parent for e in node.edges)
    assert len(nodes) == 5
    for node in nodes:
        assert not gc.is_tracked(node), node
        # its edges are its own fields, which the collector sees through the node
        assert all(any(r is e.parent for r in gc.get_referents(node)) for e in node.edges)
    y.backward()  # the graph still works, and frees itself
    np.testing.assert_allclose(x.grad, 2 * np.cos(1.0) + np.array([0.0, 3.0, 0.0]))


def test_a_node_whose_fields_could_close_a_cycle_is_tracked_and_so_its_descendants():
    # a keyword argument that is a bound method (it holds the user's list): tracked, and every
    # node below it, since a cycle may pass from it to a descendant's output and back along
    # the edges
    def scaled(x, fn):
        return x * 2.0

    f = nd.defvjp(scaled, lambda g, ans, x, fn: 2.0 * g)
    box: list = []
    x = nd.GradArray(np.ones(3), requires_grad=True)
    w = f(x, fn=box.copy)
    v = np.exp(w) + np.sin(x)
    assert gc.is_tracked(w._node) and gc.is_tracked(v._node)
    assert not gc.is_tracked(v._node.edges[1].parent)  # sin(x): no such field on its way
    box.append(v)  # the cycle: v -> its node -> w's node -> the method -> box -> v
    ref = weakref.ref(v._node)
    del v, w, box
    gc.collect()
    assert ref() is None


def _edge(parent):
    return _graph.Edge(0, None, parent, 0, (2,), np.dtype(float))


@pytest.mark.parametrize(
    ("changes", "tracked"),
    [
        ({}, False),
        ({"args": (np.ones(2), 3, slice(1, None), (None, Ellipsis), "s")}, False),
        ({"kwargs": {"axis": (0, 1), "dtype": np.dtype(float)}}, False),
        ({"versions": ([0, None], 0, 0, None)}, False),
        ({"args": ([np.ones(2)],)}, True),  # a list: its holder may add to it later
        ({"kwargs": {"fn": print}}, True),
        ({"kwargs": {"d": {}}}, True),
        ({"args": (slice(0, [1]),)}, True),
        ({"ans": nd.GradArray(np.ones(2))}, True),
        ({"versions": ([0, weakref.ref(_graph.Edge, print)], 0, 0, None)}, True),  # a callback
        ({"prim": Primitive(np.exp, (None,), None, name="not registered")}, True),
        ({"args": ((((((1,),),),),),)}, True),  # deeper than it looks
    ],
)
def test_which_nodes_the_gc_tracks(changes, tracked):
    assert gc.is_tracked(_node(**changes)) is tracked


def test_a_node_below_a_tracked_one_is_tracked():
    leaf = _graph.LeafNode(nd.GradArray(np.ones(2)))
    inert = _node(edges=(_edge(leaf),))
    assert not gc.is_tracked(inert)
    assert not gc.is_tracked(_node(edges=(_edge(inert),)))
    held = _node(kwargs={"fn": print})
    below = _node(edges=(_edge(inert), _edge(held)))
    assert gc.is_tracked(below)


def test_a_node_left_out_of_the_gc_refuses_a_field_the_gc_must_see():
    x = nd.GradArray(np.ones(2), requires_grad=True)
    node = np.sin(x)._node
    assert not gc.is_tracked(node)
    with pytest.raises(RuntimeError, match="left out of the cyclic GC"):
        node.kwargs = {"fn": lambda: node}
    node.args = tuple(np.asarray(a) for a in node.args)  # copies of saved arrays: fine


# --- small saved arrays are private copies ----------------------------------------------------


def _layouts():
    base = np.arange(1.0, 13.0).reshape(3, 4) / 7.0
    return {
        "C": base.copy(),
        "F": np.asfortranarray(base),
        "strided": base[:, ::2],
        "0-d": np.array(0.3),
        "big-endian": base.astype(">f8"),
        "float32": base.astype(np.float32),
        "complex": base + 0.5j * base[::-1],
        "empty": np.ones((0, 3)),
    }


@pytest.mark.parametrize("layout", list(_layouts()))
def test_a_small_saved_operand_is_a_private_copy_in_every_layout(layout):
    """A small operand a rule reads is copied when recorded (``small_copy``): writing into the
    constant, or into the memory of an array in the graph through a plain alias, afterwards
    changes neither the values nor the layout the rules see."""
    c = _layouts()[layout]
    w = nd.GradArray(np.full(c.shape, 0.9, dtype=c.dtype), requires_grad=True)
    x = nd.GradArray(c.copy(), requires_grad=True)
    loss = np.sum(np.real(w * c)) + np.sum(np.real(np.sin(x)))
    expected_w, expected_x = np.conj(c).copy(), np.conj(np.cos(c))
    if c.size:
        c[...] = 99.0  # the constant, after it was recorded
        plain = x.view(np.ndarray)  # a plain alias of the memory of an array in the graph
        plain[...] = 99.0
    loss.backward()
    np.testing.assert_allclose(w.grad, expected_w, rtol=1e-6)
    np.testing.assert_allclose(x.grad, expected_x, rtol=1e-6)
    assert w.grad.dtype == w.dtype and x.grad.dtype == x.dtype


def test_a_function_that_returns_its_argument_keeps_it_a_view_of_a_small_result():
    """A ufunc reads a small result through the array NumPy made under it (``classify``); a
    function with a rule (np.atleast_1d returns its argument itself) must get a view, so that
    its result is tracked as a view of the result: a write through ``y`` then reaches ``z``'s
    graph. With the array itself the write was missed: gradient [2, 4, 6], no error."""
    x = nd.GradArray([0.5, 1.5, 2.0], requires_grad=True)
    y = x * 2.0
    z = np.atleast_1d(y)
    assert np.shares_memory(z, y)
    y[0] = 7.0 * x[1]
    loss = np.sum(z * np.array([1.0, 2.0, 3.0]))  # 7 x1 + 2 (2 x1) + 3 (2 x2)
    assert float(loss) == 7.0 * 1.5 + 2.0 * 3.0 + 3.0 * 4.0
    loss.backward()
    np.testing.assert_array_equal(x.grad, [0.0, 11.0, 6.0])


@pytest.mark.parametrize(
    "value",
    [np.ones(3), np.ones(3) + 1j, np.float32(2.0), np.complex64(1 + 2j), 1.5, 3, True,
     2 - 1j, [1.0, 2.0], [1.0, 2j], (1j,), np.ones((2, 2), dtype=">c16")],
    ids=repr,
)  # fmt: skip
def test_conj_is_numpys_conjugate_of_complex_values_and_the_value_itself_otherwise(value):
    """``_core.conj``, the helper most rules call on every node."""
    got = _core.conj(value)
    if np.iscomplexobj(value):
        expected = np.conj(value)
        np.testing.assert_array_equal(got, expected)
        assert type(got) is type(expected) and np.asarray(got).dtype == np.asarray(expected).dtype
    else:
        assert got is value  # no copy


def test_conj_of_a_complex_array_in_a_graph_is_recorded():
    """Under create_graph the rules read GradArrays: conj of a complex one is recorded, of a
    real one is the array itself. Checked against finite differences in x and y (PyTorch's
    convention: z.grad = dL/dx + i dL/dy)."""
    z0, c = np.array([1 + 2j, -0.5 + 1j]), np.array([2.0 + 1j, 1.0 - 3j])
    z = nd.GradArray(z0, requires_grad=True)
    r = z.real
    assert _core.conj(r) is r
    np.sum(np.real(_core.conj(z) * c * z)).backward()

    def loss(v):
        return np.sum(np.real(np.conj(v) * c * v))

    h = 1e-6
    fd = [(loss(z0 + d * e) - loss(z0 - d * e)) / (2 * h)
          for e in np.eye(2) for d in (h, 1j * h)]  # fmt: skip
    np.testing.assert_allclose(z.grad, np.array(fd[0::2]) + 1j * np.array(fd[1::2]), rtol=1e-6)


# --- the alias registry's entries ----------------------------------------------------------------


def test_alias_entry_leaves_its_table_when_its_array_dies():
    class Box:  # any object that takes weak references
        pass

    table: dict = {}
    a, b = Box(), Box()
    table[1] = _core.alias_entry(a, table, 1)
    table[2] = _core.alias_entry(b, table, 2)
    assert table[1]() is a and table[1].key == 1 and table[1].table is table
    del a
    assert list(table) == [2] and table[2]() is b
    replaced = table[2]
    table[2] = "another value"  # an entry no longer in its table: its death changes nothing
    del b
    assert table == {2: "another value"} and replaced() is None


def _owner(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def test_the_alias_table_holds_the_live_arrays_in_a_graph_over_each_owner():
    """``_core``'s alias table (register_alias, arrays_over): an array is entered once, under
    the end of its chain of bases, and leaves when it dies, wherever it is in its owner's list;
    a plain array or one that is not in a graph is not in it."""
    base = np.linspace(0.0, 1.0, 12)
    x = nd.GradArray(base, requires_grad=True)  # a leaf: entered
    owner = _owner(x)
    views = [x[i : i + 3] for i in range(6)]
    assert all(_owner(v) is owner for v in views)
    listed = _core.arrays_over(owner)
    assert len(listed) == 7 and {id(a) for a in listed} == {id(x), *map(id, views)}
    del listed
    _core.register_alias(views[2])  # again: nothing changes
    assert len(_core.arrays_over(owner)) == 7
    for k in (0, 3, 5):  # the newest, one in the middle, the oldest of the views
        views[k] = None
        gc.collect()
        assert len(_core.arrays_over(owner)) == 7 - [0, 3, 5].index(k) - 1
    left = {id(x), *(id(v) for v in views if v is not None)}
    assert {id(a) for a in _core.arrays_over(owner)} == left
    y = np.sin(x) * 2.0  # results: each over its own fresh memory
    assert [a is y for a in _core.arrays_over(_owner(y))] == [True]
    constant = nd.GradArray(np.ones(3))  # not in a graph
    assert _core.arrays_over(_owner(constant)) == [] and _core.arrays_over(base) == []
    with pytest.raises(TypeError, match="GradArray"):
        _core.register_alias(np.ones(2))
    del y, views, x
    gc.collect()
    assert _core.arrays_over(owner) == []


def test_the_alias_table_grows_and_empties_over_many_owners():
    arrays = [np.sin(nd.GradArray(np.full(2, float(i)), requires_grad=True)) for i in range(3000)]
    assert all(_core.arrays_over(_owner(a)) == [a] for a in arrays)
    owners = [_owner(a) for a in arrays]
    del arrays
    gc.collect()
    assert all(_core.arrays_over(o) == [] for o in owners)


def test_alias_entries_die_quietly_at_interpreter_exit():
    # the last arrays die while the modules are torn down: the callback is compiled and holds
    # its table itself, so nothing is printed
    code = (
        "import numpy as np, ndgrad as nd\n"
        "x = nd.GradArray(np.ones(3), requires_grad=True)\n"
        "keep = [np.exp(x) * x for _ in range(100)]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == "", done.stderr


def _older(node, since):
    return isinstance(node, _core.Node) and node.serial < since


def _reference_forward_order(roots, stop, since, meta):
    """``forward_order`` in Python: the edges into each node counted from the roots (nodes in
    ``stop`` or older than ``since`` not entered), Kahn's order (the older nodes neither listed
    nor entered) reversed, and of it the nodes that depend on a node of ``stop``; and the nodes
    that depend on nothing but the leaves of ``stop``."""
    deps, stack, pushed = {}, list(roots), set(roots)
    while stack:
        node = stack.pop()
        if _older(node, since) or node in stop:
            continue
        for e in node.edges:
            deps[e.parent] = deps.get(e.parent, 0) + 1
            if e.parent not in pushed:
                pushed.add(e.parent)
                stack.append(e.parent)
    left = dict(deps)
    order, ready = [], [r for r in roots if left.get(r, 0) == 0]
    while ready:
        node = ready.pop()
        if _older(node, since):
            continue
        order.append(node)
        if node in stop:
            continue
        for e in node.edges:
            meta[(e.parent, e.out)] = (e.shape, e.dtype)
            left[e.parent] -= 1
            if left[e.parent] == 0:
                ready.append(e.parent)
    reached, kept, free = set(), [], set()
    for node in reversed(order):
        if node in stop or any(e.parent in reached for e in node.edges):
            reached.add(node)
            kept.append(node)
        node_type = isinstance(node, _core.Node)
        if (not node_type and node in stop) or (
            node_type and node not in stop and all(e.parent in free for e in node.edges)
        ):
            free.add(node)
    return kept, deps, free


@pytest.mark.parametrize("stop_at_input", [True, False])
@pytest.mark.parametrize("with_since", [True, False])
def test_forward_order_lists_the_nodes_above_the_inputs_parents_first(stop_at_input, with_since):
    x = nd.GradArray(np.linspace(0.1, 1.0, 6).reshape(2, 3), requires_grad=True)
    c = np.cos(x) ** 2  # made before ``since``: an outer history
    since = _core.node_serial() if with_since else 0
    y = nd.GradArray(np.linspace(-1.0, 1.0, 3), requires_grad=True)
    h = np.sin(x) * y  # y read twice, by two nodes
    u, s, vt = np.linalg.svd(h @ h.T + c @ c.T)  # a node with several outputs, two of them read
    out = np.sum(u * s) + np.sum(vt[0] ** 2) + np.sum(h[:, 1:]) + np.sum(np.exp(x))
    roots = [out._node]
    stop = {y._node, x._node} if stop_at_input else {y._node}
    meta, meta_ref = {}, {}
    order, deps, free = _core.forward_order(roots, stop, since, meta)
    assert (order, deps, free) == _reference_forward_order(roots, stop, since, meta_ref)
    # what depends on the inputs alone: y, sin(x) * y when x is one, and out too when the
    # history c (made from x, before ``since``) is walked
    assert y._node in free and (h._node in free) == stop_at_input
    assert (out._node in free) == (stop_at_input and not with_since)
    assert meta == meta_ref and (u._node, 0) in meta and (u._node, 1) in meta
    # every node comes after its parents and reads a listed node; the inputs are listed; what
    # was recorded before ``since`` is neither listed nor walked, even when it reads an input
    at = {n: i for i, n in enumerate(order)}
    for n in order:
        if n not in stop:
            assert any(e.parent in at for e in n.edges)
            assert all(at[e.parent] < at[n] for e in n.edges if e.parent in at)
    assert y._node in at and (x._node in at) == stop_at_input
    assert c._node in deps and (c._node in at) == (stop_at_input and not with_since)
    assert (c._node.edges[0].parent in deps) == (not with_since)


def _reference_plan_step(node, meta, keep):
    """A forward plan's step of one node, as ``_forward._step`` made it in Python before
    ``forward_plan_steps``."""
    from ndgrad._forward import _ans_meta, _common_rules
    from ndgrad._registry import ArrayMeta

    keys, drops, slots, whole = [], [], [], True
    for e in node.edges:
        key = (e.parent, e.out)
        keys.append(key)
        n_out = e.parent.n_out
        targets = [key] if n_out == 1 else [(e.parent, i) for i in range(n_out)]
        drops.append((e.parent, [t for t in targets if t not in keep]))
        if whole and (e.flat is not None or e.slot < 0 or e.slot in slots):
            whole = False
        slots.append(e.slot)
    fasts = ans_meta = None
    if whole and node.n_out == 1 and node.where is None:
        kind, fasts = _common_rules(node.prim, tuple(slots), len(node.args))
        if fasts is None:
            pass
        elif kind == "rules" and node.ans is None:
            ans_meta = _ans_meta(*meta[(node, 0)])
        elif kind == "elementwise" and meta[(node, 0)][1].kind == "c":
            fasts = None
        elif kind == "multilinear" and not all(
            a is not None and not isinstance(a, ArrayMeta)
            for i, a in enumerate(node.args)
            if i not in slots or len(slots) > 1
        ):
            fasts = None
    real_only = node.prim.jvp_kind == "elementwise"
    return (node, keys, node.edges, fasts, real_only, drops, ans_meta)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_forward_plan_steps_are_the_python_steps(dtype):
    """Every kind of node a plan meets: elementwise and rules ufuncs, a repeated argument, a
    product whose other factor is or is not kept, a sum, an index, ``where=``, a node with
    several outputs (one of them an output of the plan), complex values."""
    from ndgrad._forward import _ans_meta, _common_rules

    x = nd.GradArray(np.linspace(0.1, 1.0, 6).reshape(2, 3).astype(dtype), requires_grad=True)
    y = nd.GradArray(np.linspace(-1.0, 1.0, 3).astype(dtype), requires_grad=True)
    h = np.sin(x) * y + np.exp(x) * x
    k = h @ y + np.tanh(np.sum(h, axis=0)) @ np.ones(3)  # a constant factor
    m = np.add(
        h[:, 1:], 2.0, where=np.array([True, False]), out=nd.GradArray(np.ones((2, 2), dtype))
    )
    u, s, vt = np.linalg.svd(h @ np.conj(h.T))
    outs = [np.sum(u * s) + np.sum(k) + np.sum(m), vt]
    plan = ForwardPlan(
        [(o._node, o._out) for o in outs],
        [(x._node, 0), (y._node, 0)],
        [(o.shape, o.dtype) for o in outs],
    )
    keep = set(plan.outputs)
    got = _core.forward_plan_steps(plan.order, plan.stop, plan.meta, keep, _common_rules, _ans_meta)
    want = [_reference_plan_step(n, plan.meta, keep) for n in plan.order if n not in plan.stop]
    assert got == want
    fast = [f is not None for _, _, _, f, *_ in got]
    assert len(got) > 12 and any(fast) and not all(fast)


# --- the context a pass runs its rules in -----------------------------------------------------


def test_rules_run_outside_the_conversion_scope_and_the_scope_comes_back():
    # The pass sets the scope depth to 0 for the rules only when it is not 0 already (a
    # context variable set costs more than a small pass's bookkeeping): either way the rules
    # see no scope, and the caller's depth is what it was.
    seen = []

    def rule(g, ans, x):
        seen.append(_graph.scope_depth.get())
        return 3.0 * g

    triple = nd.defvjp(lambda x: x * 3.0, rule, name="triple_depth_probe")
    a = np.array([1.0, 2.0])
    x = nd.GradArray(a, requires_grad=True)
    np.sum(triple(x)).backward()  # outside every scope
    with nd.tracing():
        y = nd.GradArray(a, requires_grad=True)
        np.sum(triple(y)).backward()
        inside = _graph.scope_depth.get()
        g = nd.grad(lambda t: np.sum(triple(t)))(a)  # a transform's pass, in a scope
        after = _graph.scope_depth.get()
    assert seen == [0, 0, 0]
    assert inside == after == 1 and _graph.scope_depth.get() == 0
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    np.testing.assert_array_equal(y.grad, [3.0, 3.0])
    np.testing.assert_array_equal(g, [3.0, 3.0])


def test_edges_of_one_shape_share_one_shape_tuple():
    # a chain on one shape keeps one shape tuple, not one an operation (48 bytes each)
    x = nd.GradArray(np.linspace(0.1, 0.9, 8), requires_grad=True)
    y = np.sin(np.tanh(x) * 2.0)
    w = nd.GradArray(np.ones((2, 3)), requires_grad=True)
    z = np.exp(w)
    edges = [y._node.edges[0], y._node.edges[0].parent.edges[0]]
    assert edges[0].shape == edges[1].shape == (8,) and edges[0].shape is edges[1].shape
    assert z._node.edges[0].shape == (2, 3)
    assert np.sin(nd.GradArray(np.float64(2.0), requires_grad=True))._node.edges[0].shape == ()
    np.sum(y).backward()
    np.testing.assert_allclose(
        x.grad, np.cos(np.tanh(x.values) * 2.0) * 2.0 / np.cosh(x.values) ** 2
    )
