"""Batched forward mode: many tangents pushed through one recorded graph at once, for ``jacfwd``.

A batched tangent of an array of shape ``s`` has shape ``(n,) + s``: the batch axis leads. One
push of ``n`` input directions replaces ``n`` pushes of ``_forward.ForwardPlan``, and each node
costs one NumPy call on ``n`` times the data instead of ``n`` calls.

A node is computed batched when

- its function has a row in ``BATCH_RULES``: shape, indexing, reduction and product functions,
  which must be told where the batch axis is (an ``axis`` moved by one, a matrix operand kept
  a matrix, ...);
- or it is a ufunc (or another elementwise function, ``ELEMENTWISE``) of real values: its JVP
  rule is elementwise, so the tangents, given length-1 axes up to the output's number of
  dimensions, broadcast against the primal arguments as the unbatched tangents do, and the
  unbatched rules serve unchanged.

Every other node (a row that declines an unusual call, complex values, a linalg or SciPy
function, an in-place write) is computed one direction at a time by the unbatched rules
(``_forward.node_tangents``) and the results stacked: always right, never slower than ``n``
pushes. ``tests/test_batching.py`` checks every registered function's batched Jacobian against
the unbatched one, and the rows on calls of their own.

Only the outermost transform batches: inside another transform each tangent must be recorded
for the outer one, which ``_forward`` does one direction at a time.
"""

from __future__ import annotations

import functools
import inspect
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad._forward import (
    ForwardPlan,
    Target,
    Transpose,
    derived_tangents,
    fit_tangent,
    node_tangents,
)
from ndgrad._graph import rule_inputs
from ndgrad._registry import ArrayMeta

__all__ = ["BATCH_RULES", "batch_size", "push_batched"]

# The most elements one batched tangent may have (n times its array's size): 2**22 float64
# numbers are 32 MiB. ``jacfwd`` splits the input directions into batches that keep to it.
BATCH_ELEMENTS = 1 << 22


def batch_size(plan: ForwardPlan, n: int) -> int:
    """How many of ``n`` directions one batched push of ``plan`` takes: as many as keep every
    tangent within ``BATCH_ELEMENTS`` elements, at least one."""
    largest = max((_size(shape) for shape, _ in plan.meta.values()), default=1)
    return max(1, min(n, BATCH_ELEMENTS // max(largest, 1)))


def push_batched(plan: ForwardPlan, tangents: Sequence[Any]) -> list[Any]:
    """The batched tangents of ``plan``'s outputs (``None`` where unreached) for the batched
    tangents of its inputs (``None`` for an input without one; all of one batch size), at the
    outermost level: nothing is recorded."""
    n = next(t.shape[0] for t in tangents if t is not None)
    pushed = plan.push(tangents, False, batched_node_tangents)
    return [
        None if t is None or o is None else _fit(t, *plan.meta[o], n)
        for t, o in zip(pushed, plan.outputs, strict=True)
    ]


def batched_node_tangents(
    node: Any, edges: tuple[Any, ...], incoming: list[Any], lift: Any, meta: dict[Target, Any]
) -> list[Any]:
    """``_forward.node_tangents`` for batched tangents: each output's batched tangent
    (``None``: zero, or an output no later node reads)."""
    assert lift is None, "only the outermost push is batched"
    present = [t for t in incoming if t is not None]
    outs = [meta.get((node, i)) for i in range(node.n_out)]
    if not present:
        return [None] * node.n_out
    n = present[0].shape[0]
    fitted = [
        None if t is None else _fit(t, e.shape, e.dtype, n)
        for e, t in zip(edges, incoming, strict=True)
    ]
    result = _batched(node, edges, fitted, outs)
    if result is None:
        result = _one_by_one(node, edges, fitted, meta, outs, n)
    return [
        None if t is None or m is None else _fit(t, m[0], m[1], n)
        for t, m in zip(result, outs, strict=True)
    ]


def _batched(node: Any, edges: Sequence[Any], fitted: list[Any], outs: list[Any]) -> Any:
    """The node's output tangents computed for the whole batch at once, or None: it cannot be."""
    if node.where is not None or node.n_out != 1 or any(e.slot < 0 for e in edges):
        return None
    prim = node.prim
    shape, dtype = outs[0]
    row = BATCH_RULES.get(prim.func)
    if row is not None:
        args, _ = rule_inputs(node, None)
        t = row(node, args, edges, fitted, shape)
        return None if t is NotImplemented else [t]
    if not (
        (isinstance(prim.func, np.ufunc) or prim.func in ELEMENTWISE)
        and prim.jvp_kind in ("elementwise", "rules", "linear")
        and dtype.kind != "c"
        and all(e.flat is None for e in edges)
        and all(t is None or t.dtype.kind != "c" for t in fitted)
    ):
        return None
    args, ans = rule_inputs(node, None)
    if ans is None:
        ans = ArrayMeta(shape, dtype)  # a JVP rule may read the output's shape and dtype
    by_slot: dict[int, list[tuple[Any, Any]]] = {}
    for e, t in zip(edges, fitted, strict=True):
        if t is not None:
            by_slot.setdefault(e.slot, []).append((None, _lead(t, len(shape))))
    try:
        return derived_tangents(node, prim, by_slot, args, ans, 1)
    except Transpose:
        return None


# Functions other than ufuncs whose output element depends on the same elements of the inputs
# alone (broadcast): computed batched by their unbatched JVP rules, as ufuncs are.
ELEMENTWISE = {
    np.where, np.clip, np.real, np.imag, np.copy, np.astype, np.around, np.round, np.fix,
    np.sinc, np.nan_to_num,
}  # fmt: skip


def _one_by_one(
    node: Any,
    edges: Sequence[Any],
    fitted: list[Any],
    meta: dict[Target, Any],
    outs: list[Any],
    n: int,
) -> list[Any]:
    """The node's batched output tangents, one direction at a time by the unbatched rules."""
    columns = [
        node_tangents(node, tuple(edges), [None if t is None else t[b] for t in fitted], None, meta)
        for b in range(n)
    ]
    result: list[Any] = []
    for i, m in enumerate(outs):
        ts = [c[i] for c in columns]
        if m is None or all(t is None for t in ts):
            result.append(None)
            continue
        shape, dtype = m
        result.append(
            np.stack(
                [np.zeros(shape, dtype) if t is None else fit_tangent(t, shape, dtype) for t in ts]
            )
        )
    return result


def _fit(t: Any, shape: tuple[int, ...], dtype: Any, n: int) -> Any:
    """Batched tangent ``t`` as an array of ``shape`` and ``dtype`` sees it: ``(n,) + shape``,
    broadcast from what a rule left (a tangent without the batch axis is the same for every
    direction: zeros), in the array's dtype (``_forward.fit_tangent``)."""
    if not isinstance(t, np.ndarray):
        t = np.asarray(t)
    want = (n, *shape)
    if t.shape != want:
        if t.ndim == len(want) and t.shape[0] in (1, n):
            t = np.broadcast_to(t, want)
        elif t.ndim < len(want):
            t = np.broadcast_to(t, want)
        else:
            raise AssertionError(f"a batched tangent of shape {t.shape} for an array of {shape}")
    return fit_tangent(t, want, dtype)


def _lead(t: Any, ndim: int) -> Any:
    """Batched tangent ``t`` with length-1 axes after the batch axis, up to ``ndim`` axes of
    its own: it then broadcasts against arrays of up to ``ndim`` axes as the unbatched one
    does, the batch axis staying in front."""
    pad = ndim - (t.ndim - 1)
    return t.reshape(t.shape[:1] + (1,) * pad + t.shape[1:]) if pad > 0 else t


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for d in shape:
        size *= d
    return size


# --- the rows ------------------------------------------------------------------------------
# A row is ``row(node, args, edges, tangents, shape)``: the batched tangent of the node's one
# output (of ``shape``) from its edges' batched ``tangents`` (None: zero) and its saved ``args``,
# or NotImplemented for a call it does not handle (computed one direction at a time instead).
# Most functions are linear in their first argument alone: ``_of_first`` adapts a rule written
# ``rule(t, out, /, **params)`` (``out``: the output's shape), with the call's other arguments
# by name.

Row = Callable[[Any, tuple[Any, ...], Sequence[Any], list[Any], tuple[int, ...]], Any]


@functools.cache
def _parameters(func: Any) -> tuple[str, ...]:
    """The names of ``func``'s parameters, in order (NumPy's functions have signatures)."""
    return tuple(inspect.signature(func).parameters)


def _of_first(rule: Callable[..., Any], params: tuple[str, ...] | None = None) -> Row:
    def row(node: Any, args: Any, edges: Any, tangents: list[Any], shape: Any) -> Any:
        if len(edges) != 1 or edges[0].slot != 0 or edges[0].flat is not None:
            return NotImplemented
        names = params or _parameters(node.prim.func)
        bound = dict(zip(names[1:], args[1:], strict=False))
        bound.update(node.kwargs)
        return rule(tangents[0], shape, **bound)  # positional: a parameter may be "shape"

    return row


def _axis(axis: Any, ndim: int) -> Any:
    """``axis`` (None: all, an int, or a tuple) of an array of ``ndim`` axes, as the same axes
    of its batched tangent."""
    if axis is None:
        return tuple(range(1, ndim + 1))
    if isinstance(axis, tuple):
        return tuple(operator.index(a) % ndim + 1 for a in axis)
    return operator.index(axis) % ndim + 1


def _reduction(func: Callable[..., Any], default: Any = None) -> Row:
    """``sum``-like: the reduction of the tangent over the same axes (``initial`` adds a
    constant, which has no tangent)."""

    def rule(t: Any, shape: Any, /, axis: Any = default, dtype: Any = None, out: Any = None,
             keepdims: Any = False, initial: Any = None, where: Any = True) -> Any:  # fmt: skip
        if out is not None or where is not True:
            return NotImplemented
        return func(t, axis=_axis(axis, t.ndim - 1), dtype=dtype, keepdims=keepdims)

    return rule


def _reshaped(t: Any, shape: Any, /, order: Any = "C", **_: Any) -> Any:
    """A function that only reshapes (``reshape``, ``ravel``, ``squeeze``, ``expand_dims``):
    the tangent reshaped to the output's shape behind the batch axis. In C and in Fortran
    order alike the batch axis stays itself: it is the outermost index of one and the
    innermost of the other."""
    if order not in ("C", "F"):  # "A" and "K" follow the memory layout, not the shapes
        return NotImplemented
    return np.reshape(t, (t.shape[0], *shape), order=order)


def _transpose(t: Any, shape: Any, /, axes: Any = None) -> Any:
    ndim = t.ndim - 1
    if axes is None:
        return np.transpose(t, (0, *range(ndim, 0, -1)))
    return np.transpose(t, (0, *(operator.index(a) % ndim + 1 for a in axes)))


def _swapaxes(t: Any, shape: Any, /, axis1: Any, axis2: Any) -> Any:
    return np.swapaxes(t, _axis(axis1, t.ndim - 1), _axis(axis2, t.ndim - 1))


def _moveaxis(t: Any, shape: Any, /, source: Any, destination: Any) -> Any:
    ndim = t.ndim - 1
    source = _axis(tuple(np.atleast_1d(source).tolist()), ndim)
    destination = _axis(tuple(np.atleast_1d(destination).tolist()), ndim)
    return np.moveaxis(t, source, destination)


def _broadcast_to(t: Any, shape: Any, /, **_: Any) -> Any:
    return np.broadcast_to(_lead(t, len(shape)), (t.shape[0], *shape))


def _getitem(t: Any, shape: Any, /, key: Any) -> Any:
    """The tangent indexed by ``(slice(None),) + key``: the same elements of every direction,
    when the batch axis in front leaves NumPy's placement of the result's axes as it is.
    Basic indices (ints, slices, None, Ellipsis) always do; advanced ones (arrays, lists)
    only when they are next to each other, with the ints among them: NumPy puts the axes of
    advanced indices that a slice separates first, before the batch axis."""
    key = key if isinstance(key, tuple) else (key,)
    advanced = [i for i, k in enumerate(key) if not _basic(k)]
    if advanced:
        if any(isinstance(key[i], bool | np.bool_) for i in advanced):
            return NotImplemented  # x[True] adds an axis of its own
        # with an array index present, a bare int is an advanced index too
        advanced += [i for i, k in enumerate(key) if _integer(k)]
        if max(advanced) - min(advanced) + 1 != len(set(advanced)):
            return NotImplemented
    return t[(slice(None), *key)]


def _basic(k: Any) -> bool:
    return k is None or k is Ellipsis or isinstance(k, slice) or _integer(k)


def _integer(k: Any) -> bool:
    return isinstance(k, int | np.integer) and not isinstance(k, bool | np.bool_)


def _sequence(join: Callable[[list[Any], Any, int], Any], params: tuple[str, ...]) -> Row:
    """``stack`` and ``concatenate``: the tangents of the sequence's arrays (zeros for those
    without one) joined along the same axis behind the batch axis."""

    def row(node: Any, args: Any, edges: Any, tangents: list[Any], shape: Any) -> Any:
        seq = args[0]
        if (
            type(seq) not in (list, tuple)
            or node.kwargs.get("out") is not None
            or any(e.slot != 0 or e.flat is None or len(e.flat) != 1 for e in edges)
        ):
            return NotImplemented
        n = next(t.shape[0] for t in tangents if t is not None)
        dtype = np.result_type(*(t for t in tangents if t is not None))
        ts = [np.zeros((n, *_shape_of(a)), dtype) for a in seq]
        for e, t in zip(edges, tangents, strict=True):
            if t is not None:
                ts[e.flat[0]] = t
        bound = dict(zip(params[1:], args[1:], strict=False))
        bound.update(node.kwargs)
        return join(ts, bound.get("axis", 0), n)

    return row


def _stack(ts: list[Any], axis: Any, n: int) -> Any:
    return np.stack(ts, axis=_axis(axis, ts[0].ndim))  # the output has one axis more


def _concatenate(ts: list[Any], axis: Any, n: int) -> Any:
    if axis is None:  # the arrays flattened first
        return np.concatenate([t.reshape(n, -1) for t in ts], axis=1)
    return np.concatenate(ts, axis=_axis(axis, ts[0].ndim - 1))


def _shape_of(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, ArrayMeta | np.ndarray) else np.shape(a)


# --- products: each factor's tangent times the other factor (kept by the node) -------------


def _product(part: Callable[..., Any]) -> Row:
    """A bilinear function of its first two arguments: ``part(slot, t, a, b, shape)`` is the
    batched tangent when argument ``slot``'s tangent is ``t`` (``a``, ``b``: the arguments,
    the one of ``slot`` only read for its shape); the parts are added."""

    def row(node: Any, args: Any, edges: Any, tangents: list[Any], shape: Any) -> Any:
        if len(args) < 2 or any(e.flat is not None or e.slot > 1 for e in edges):
            return NotImplemented
        total = None
        for e, t in zip(edges, tangents, strict=True):
            if t is None:
                continue
            other = args[1 - e.slot]
            if other is None or isinstance(other, ArrayMeta):
                return NotImplemented  # not kept
            a, b = (t[0], other) if e.slot == 0 else (other, t[0])  # shapes as the call's
            p = part(e.slot, t, np.asarray(a), np.asarray(b), shape, args[2:], node.kwargs)
            if p is NotImplemented:
                return NotImplemented
            total = p if total is None else total + p
        return total

    return row


def _matmul_part(slot: int, t: Any, a: Any, b: Any, shape: Any, rest: Any, kwargs: Any) -> Any:
    """A batched operand of ``a @ b``: a stack of matrices keeps the batch axis in front of
    the stack's axes (given length-1 axes to match the other operand's); a vector is made a
    one-row (first operand) or one-column (second) matrix in a stack of them."""
    if rest or kwargs:  # axes=, out=, ...
        return NotImplemented
    if slot == 0:
        if a.ndim == 1:  # a one-row matrix, whose row is dropped again
            if b.ndim == 1:
                return t @ b
            row = t.reshape(t.shape[0], *(1,) * (b.ndim - 2), 1, a.shape[0])
            return (row @ b)[..., 0, :]
        return _lead(t, len(shape) if b.ndim >= 2 else a.ndim) @ b
    if b.ndim == 1:
        if a.ndim == 2:  # the batch of vectors as the rows of one matrix: one product
            return t @ a.T
        column = t.reshape(t.shape[0], *(1,) * max(a.ndim - 2, 0), b.shape[0], 1)
        return (a @ column)[..., 0]
    return a @ _lead(t, len(shape) if a.ndim >= 2 else b.ndim)


def _dot_part(slot: int, t: Any, a: Any, b: Any, shape: Any, rest: Any, kwargs: Any) -> Any:
    """``np.dot``: a product with a scalar, or ``matmul`` for vectors and matrices."""
    if rest or kwargs:  # out=
        return NotImplemented
    if a.ndim == 0 or b.ndim == 0:
        return _lead(t, len(shape)) * (b if slot == 0 else a)
    if a.ndim <= 2 and b.ndim <= 2:
        return _matmul_part(slot, t, a, b, shape, (), {})
    return NotImplemented


def _tensordot_part(slot: int, t: Any, a: Any, b: Any, shape: Any, rest: Any, kwargs: Any) -> Any:
    """``np.tensordot``: the batch axis is a free axis of the batched factor; the result has it
    first for the first factor and after the first factor's free axes for the second."""
    axes = rest[0] if rest else kwargs.get("axes", 2)
    if isinstance(axes, int | np.integer):
        la, lb = list(range(a.ndim - int(axes), a.ndim)), list(range(int(axes)))
    else:
        la, lb = (list(np.atleast_1d(x).tolist()) for x in axes)
    la = [x % a.ndim for x in la]
    lb = [x % b.ndim for x in lb]
    if slot == 0:
        return np.tensordot(t, b, ([x + 1 for x in la], lb))
    r = np.tensordot(a, t, (la, [x + 1 for x in lb]))
    return np.moveaxis(r, a.ndim - len(la), 0)


BATCH_RULES: dict[Any, Row] = {
    # reductions
    np.sum: _of_first(_reduction(np.sum)),
    np.mean: _of_first(_reduction(np.mean)),
    (np.add, "reduce"): _of_first(
        _reduction(np.sum, default=0),
        ("array", "axis", "dtype", "out", "keepdims", "initial", "where"),
    ),
    # shapes
    np.reshape: _of_first(lambda t, out, /, **p: _reshaped(t, out, p.get("order", "C"))),
    np.ravel: _of_first(_reshaped),
    np.squeeze: _of_first(lambda t, out, /, **_: _reshaped(t, out)),
    np.expand_dims: _of_first(lambda t, out, /, **_: _reshaped(t, out)),
    np.transpose: _of_first(_transpose),
    np.swapaxes: _of_first(_swapaxes),
    np.moveaxis: _of_first(_moveaxis),
    np.broadcast_to: _of_first(_broadcast_to),
    np.ndarray.__getitem__: _of_first(_getitem, ("a", "key")),
    np.stack: _sequence(_stack, ("arrays", "axis", "out", "dtype", "casting")),
    np.concatenate: _sequence(_concatenate, ("arrays", "axis", "out", "dtype", "casting")),
    # products
    np.matmul: _product(_matmul_part),
    np.dot: _product(_dot_part),
    np.tensordot: _product(_tensordot_part),
}
