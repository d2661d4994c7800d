"""A backward pass keeps its counts and cotangents in the nodes it claims (``_core.c``, Claims).

A node claimed by one live pass is kept in dictionaries by any other pass that reaches it: a
pass run from inside a rule, a second thread's pass while the first waits. These tests make
the passes overlap for certain (a rule that runs a pass, a barrier inside a rule) and check
every gradient against its closed form; and that a pass that fails leaves nothing behind.
"""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray, _graph


def leaf(values):
    return GradArray(np.asarray(values, dtype=float), requires_grad=True)


def gradient_of(root, x):
    """The cotangent of leaf ``x`` from a pass over ``root``'s graph (kept for later passes)."""
    (g,) = _graph.backward(
        [(root._node, root._out)], [np.ones(())], inputs=[(x._node, x._out)], retain_graph=True
    )
    return g


def identity_running(bwd_hook):
    """An identity function whose backward rule calls ``bwd_hook()`` first."""

    @nd.custom_vjp
    def ident(a):
        return a * 1.0

    ident.defvjp(lambda a: (ident(a), None), lambda _, g: (bwd_hook(), g)[1:])
    return ident


def test_a_pass_inside_a_rule_over_the_nodes_the_outer_pass_holds():
    x0 = np.array([0.3, -1.2, 0.7, 2.0])
    x = leaf(x0)
    a = np.sin(x)  # reached by both passes
    b = np.exp(a) * a  # the inner pass's graph: every node also the outer's
    inner_root = np.sum(b * b)
    inner = []
    ident = identity_running(lambda: inner.append(gradient_of(inner_root, x)))
    loss = np.sum(ident(b) * 3.0) + np.sum(a * 5.0)
    (outer,) = _graph.backward(
        [(loss._node, loss._out)], [np.ones(())], inputs=[(x._node, x._out)], retain_graph=True
    )
    s, c = np.sin(x0), np.cos(x0)
    db = np.exp(s) * (1 + s) * c  # d b / d x
    b0 = np.exp(s) * s
    np.testing.assert_allclose(outer, 3.0 * db + 5.0 * c, rtol=1e-12)
    assert len(inner) == 1
    np.testing.assert_allclose(inner[0], 2 * b0 * db, rtol=1e-12)
    # and the graph is whole for a pass after both
    np.testing.assert_allclose(gradient_of(inner_root, x), 2 * b0 * db, rtol=1e-12)


def test_a_tape_backward_inside_a_rule_accumulates_once():
    x0 = np.array([0.5, 1.5, -0.25])
    x = leaf(x0)
    a = np.tanh(x)
    other = np.sum(a * a)
    ident = identity_running(lambda: other.backward(retain_graph=True))
    loss = np.sum(ident(a) * 2.0)
    loss.backward()
    t = np.tanh(x0)
    dt = 1 - t * t
    np.testing.assert_allclose(x.grad, 2.0 * dt + 2 * t * dt, rtol=1e-12)


@pytest.mark.parametrize("n", [4, 200_000])  # small, and large enough that NumPy drops the GIL
def test_two_threads_run_passes_over_one_graph_at_once(n):
    x0 = np.linspace(-1.0, 1.0, n)
    x = leaf(x0)
    barrier = threading.Barrier(2, timeout=30)
    ident = identity_running(barrier.wait)  # both passes are inside the rule together
    y = np.sin(x)
    for _ in range(30):
        y = np.tanh(y) * 0.9 + y * 0.1
    z = ident(y)
    roots = {"first": np.sum(z * z), "second": np.sum(np.exp(z))}
    got, errors = {}, []

    def run(name):
        try:
            got[name] = gradient_of(roots[name], x)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in roots]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    # the closed form, by the chain rule written out in NumPy
    ys, v = [np.sin(x0)], np.sin(x0)
    for _ in range(30):
        v = np.tanh(v) * 0.9 + v * 0.1
        ys.append(v)

    def through_chain(g):
        for k in range(30, 0, -1):
            t = np.tanh(ys[k - 1])
            g = g * ((1 - t * t) * 0.9 + 0.1)
        return g * np.cos(x0)

    np.testing.assert_allclose(got["first"], through_chain(2 * v), rtol=1e-10)
    np.testing.assert_allclose(got["second"], through_chain(np.exp(v)), rtol=1e-10)


def test_a_pass_that_fails_releases_the_nodes_and_their_cotangents():
    x = leaf([0.1, 0.2, 0.3])

    def fail():
        raise ValueError("in the rule")

    ident = identity_running(fail)
    a = np.sin(x)
    b = a * a  # ``a``'s node receives a cotangent from here before the rule runs ...
    loss = np.sum(ident(b) + np.cos(a))  # ... and from here, the rule that fails
    node = weakref.ref(a._node)
    with pytest.raises(ValueError, match="in the rule"):
        loss.backward()
    del a, b, loss
    gc.collect()
    assert node() is None  # no claim keeps it (nor the cotangent it held)


def test_a_pass_that_fails_leaves_the_graph_usable():
    x0 = np.array([0.4, -0.6])
    x = leaf(x0)
    calls = []

    def fail_once():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first pass")

    ident = identity_running(fail_once)
    a = np.exp(x)
    loss = np.sum(ident(a * a) + a)
    with pytest.raises(ValueError, match="first pass"):
        gradient_of(loss, x)
    e = np.exp(x0)
    np.testing.assert_allclose(gradient_of(loss, x), 2 * e * e + e, rtol=1e-12)
    np.testing.assert_allclose(gradient_of(loss, x), 2 * e * e + e, rtol=1e-12)


def test_a_pass_to_some_inputs_through_a_graph_with_other_leaves():
    # ``w``'s branch is counted but not needed: the pass orders the nodes (kahn_order) from
    # the counts of the claimed nodes and of the others together
    x0, w0 = np.array([0.2, 0.9]), np.array([1.5, -0.5])
    x, w = leaf(x0), leaf(w0)
    h = np.sin(x) * w
    loss = np.sum(h * h + np.exp(w))
    (gx,) = _graph.backward(
        [(loss._node, loss._out)], [np.ones(())], inputs=[(x._node, x._out)], retain_graph=True
    )
    h0 = np.sin(x0) * w0
    np.testing.assert_allclose(gx, 2 * h0 * np.cos(x0) * w0, rtol=1e-12)
    assert w.grad is None and x.grad is None


def test_a_cotangent_the_pass_does_not_own_is_never_added_into():
    # ``add``'s rule hands its cotangent on as it is, to both operands: ``a`` receives the
    # caller's array itself twice (neither is the pass's own to add into), then sums of its own
    # (which it may add into). The caller's cotangent must come back unchanged.
    x0 = np.array([0.2, -0.4, 1.1])
    x = leaf(x0)
    a = np.sin(x)
    y = (a + a) + a
    gy = np.array([1.0, 2.0, -3.0])
    y.backward(gy)
    np.testing.assert_array_equal(gy, [1.0, 2.0, -3.0])
    np.testing.assert_allclose(x.grad, 3 * gy * np.cos(x0), rtol=1e-14)


@pytest.mark.parametrize("n", [3, 40_000])  # and large enough for the rules' in-place forms
def test_sums_into_a_node_from_many_consumers(n):
    x0 = np.linspace(-2.0, 2.0, n)
    x = leaf(x0)
    a = np.tanh(x)
    gy = np.linspace(0.5, 1.5, n)
    kept = gy.copy()
    y = a * 2.0 + a + np.exp(a) + (a + a)  # cotangents of a: 2g, g, g e^a, g, g
    y.backward(gy)
    np.testing.assert_array_equal(gy, kept)
    t = np.tanh(x0)
    np.testing.assert_allclose(x.grad, gy * (5.0 + np.exp(t)) * (1 - t * t), rtol=1e-12)
