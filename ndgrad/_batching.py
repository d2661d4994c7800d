"""Batched Jacobians: many directions pushed (``jacfwd``), or many cotangents pulled
(``jacrev``), through one recorded graph at once.

A batched tangent or cotangent of an array of shape ``s`` has shape ``(n,) + s``: the batch axis
leads. One pass over ``n`` directions replaces ``n`` passes (``_forward.ForwardPlan.push`` one
tangent at a time, ``_graph.backward`` one cotangent at a time), and each node costs one NumPy
call on ``n`` times the data instead of ``n`` calls.

A node is computed batched when

- its function has a row in ``BATCH_JVP_RULES`` (forward) or ``BATCH_VJP_RULES`` (reverse):
  shape, indexing, reduction, running-sum (``cumsum``), difference, diagonal (``diagonal``,
  ``trace``) and product functions (``einsum`` and ``outer`` among them), which must be told
  where the batch axis is (an ``axis`` moved by one, a vector operand made a one-column
  matrix, a subscript of its own, ...); and in reverse mode ``where`` and ``clip``, which are
  elementwise but whose rules sum a cotangent back to an argument's unbatched shape;
- or it is a ufunc (or another elementwise function, ``ELEMENTWISE``) of real values: its rules
  are elementwise, so the batched tangents (given length-1 axes up to the output's number of
  dimensions) or the output's batched cotangent broadcast against the primal arguments as the
  unbatched ones do, and the unbatched rules serve unchanged (a cotangent is then summed over
  the broadcast axes behind the batch axis).

Every other node (a row that declines an unusual call, complex values, a linalg or SciPy
function, an in-place write) is computed one direction at a time by the unbatched rules
(``_forward.node_tangents``, ``_graph.node_cotangents``) and the results stacked: always right,
never slower than ``n`` passes. ``tests/test_batching.py`` checks every registered function's
batched Jacobian, both ways, against the unbatched one, and the rows on calls of their own.

Only the outermost transform batches: inside another transform each tangent or cotangent must
be recorded for the outer one, one direction at a time.
"""

from __future__ import annotations

import functools
import inspect
import math
import operator
import string
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
    rules_running,
)
from ndgrad._graph import node_cotangents, rule_inputs
from ndgrad._registry import ArrayMeta, Primitive

__all__ = [
    "BATCH_JVP_RULES",
    "BATCH_KINDS",
    "BATCH_VJP_RULES",
    "batch_size",
    "batching",
    "pull_batched",
    "push_batched",
]

# The most elements one batched tangent may have (n times its array's size): 2**22 float64
# numbers are 32 MiB. ``jacfwd`` splits the input directions into batches that keep to it.
BATCH_ELEMENTS = 1 << 22


def batch_size(plan: ForwardPlan, n: int) -> int:
    """How many of ``n`` directions one batched push of ``plan`` takes: as many as keep every
    tangent within ``BATCH_ELEMENTS`` elements, at least one."""
    largest = max((math.prod(shape) for shape, _ in plan.meta.values()), default=1)
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


# How a batched pass computes a node of a primitive (``batching``): its row, its unbatched
# elementwise rules, or one direction at a time (also what a row or an elementwise function
# falls back to for a call it cannot take: complex values, ``where=``, several outputs, ...).
BATCH_KINDS = ("row", "elementwise", "one at a time")


def batching(prim: Primitive, reverse: bool) -> str:
    """How a batched forward (``reverse`` false) or reverse pass computes a node of ``prim``
    (one of ``BATCH_KINDS``), for real values; ``python -m ndgrad.coverage`` counts them."""
    if prim.func in (BATCH_VJP_RULES if reverse else BATCH_JVP_RULES):
        return "row"
    if _elementwise(prim.func) and (
        prim.unbroadcast if reverse else prim.jvp_kind in ("elementwise", "rules", "linear")
    ):
        return "elementwise"
    return "one at a time"


def _batched(node: Any, edges: Sequence[Any], fitted: list[Any], outs: list[Any]) -> Any:
    """The node's output tangents computed for the whole batch at once, or None: it cannot be."""
    if node.where is not None or node.n_out != 1 or any(e.slot < 0 for e in edges):
        return None
    prim = node.prim
    shape, dtype = outs[0]
    kind = batching(prim, reverse=False)
    if kind == "row":
        args, _ = rule_inputs(node, None)
        t = BATCH_JVP_RULES[prim.func](node, args, edges, fitted, shape)
        return None if t is NotImplemented else [t]
    if not (
        kind == "elementwise"
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


def _elementwise(func: Any) -> bool:
    """Whether each output element of ``func`` depends on the same elements of its inputs
    alone (after broadcasting): a ufunc without core dimensions (``matmul``, ``vecdot``,
    ``matvec`` have them: a batch axis in front would meet their loop axes, not broadcast
    over them), or a function in ``ELEMENTWISE``."""
    if isinstance(func, np.ufunc):
        return func.signature is None
    return func in ELEMENTWISE


# Functions other than ufuncs whose output element depends on the same elements of the inputs
# alone (broadcast): computed batched by their unbatched rules, as ufuncs are.
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


def _bound(node: Any, args: tuple[Any, ...], params: tuple[str, ...] | None) -> dict[str, Any]:
    """The call's arguments after the first by name (``params``: the function's parameter
    names, when its signature cannot be read)."""
    names = params or _parameters(node.prim.func)
    bound = dict(zip(names[1:], args[1:], strict=False))
    bound.update(node.kwargs)
    return bound


def _of_first_alone(edges: Sequence[Any]) -> bool:
    """Whether the node's only edge is its first argument, an array."""
    return len(edges) == 1 and edges[0].slot == 0 and edges[0].flat is None


def _sequence_call(node: Any, args: tuple[Any, ...]) -> bool:
    """Whether the node is a call of ``stack`` or ``concatenate`` on a sequence it kept, each
    edge one of its arrays, and no ``out=``."""
    return (
        type(args[0]) in (list, tuple)
        and node.kwargs.get("out") is None
        and all(e.slot == 0 and e.flat is not None and len(e.flat) == 1 for e in node.edges)
    )


# Parameter names of the functions whose signatures inspect cannot read.
_REDUCE_PARAMS = ("array", "axis", "dtype", "out", "keepdims", "initial", "where")
_JOIN_PARAMS = ("arrays", "axis", "out", "dtype", "casting")
_GETITEM_PARAMS = ("a", "key")


def _of_first(rule: Callable[..., Any], params: tuple[str, ...] | None = None) -> Row:
    def row(node: Any, args: Any, edges: Any, tangents: list[Any], shape: Any) -> Any:
        if not _of_first_alone(edges):
            return NotImplemented
        # positional: a parameter may be named "shape"
        return rule(tangents[0], shape, **_bound(node, args, params))

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
    the tangent reshaped to the output's ``shape`` behind the batch axis (or the cotangent to
    the input's). In C and in Fortran order alike the batch axis stays itself: it is the
    outermost index of one and the innermost of the other."""
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
    if not _batchable_key(key):
        return NotImplemented
    return t[(slice(None), *key)]


def _batchable_key(key: tuple[Any, ...]) -> bool:
    """Whether ``(slice(None),) + key`` indexes each direction of a batch as ``key`` indexes
    the array (see ``_getitem``)."""
    advanced = [i for i, k in enumerate(key) if not _basic(k)]
    if not advanced:
        return True
    if any(isinstance(key[i], bool | np.bool_) for i in advanced):
        return False  # x[True] adds an axis of its own
    # with an array index present, a bare int is an advanced index too
    advanced += [i for i, k in enumerate(key) if _integer(k)]
    return max(advanced) - min(advanced) + 1 == len(set(advanced))


def _basic(k: Any) -> bool:
    return k is None or k is Ellipsis or isinstance(k, slice) or _integer(k)


def _integer(k: Any) -> bool:
    return isinstance(k, int | np.integer) and not isinstance(k, bool | np.bool_)


def _sequence(join: Callable[[list[Any], Any, int], Any], params: tuple[str, ...]) -> Row:
    """``stack`` and ``concatenate``: the tangents of the sequence's arrays (zeros for those
    without one) joined along the same axis behind the batch axis."""

    def row(node: Any, args: Any, edges: Any, tangents: list[Any], shape: Any) -> Any:
        if not _sequence_call(node, args):
            return NotImplemented
        n = next(t.shape[0] for t in tangents if t is not None)
        dtype = np.result_type(*(t for t in tangents if t is not None))
        ts = [np.zeros((n, *_shape_of(a)), dtype) for a in args[0]]
        for e, t in zip(edges, tangents, strict=True):
            if t is not None:
                ts[e.flat[0]] = t
        return join(ts, _bound(node, args, params).get("axis", 0), n)

    return row


def _stack(ts: list[Any], axis: Any, n: int) -> Any:
    return np.stack(ts, axis=_axis(axis, ts[0].ndim))  # the output has one axis more


def _concatenate(ts: list[Any], axis: Any, n: int) -> Any:
    if axis is None:  # the arrays flattened first
        return np.concatenate([t.reshape(n, -1) for t in ts], axis=1)
    return np.concatenate(ts, axis=_axis(axis, ts[0].ndim - 1))


def _shape_of(a: Any) -> tuple[int, ...]:
    return a.shape if isinstance(a, ArrayMeta | np.ndarray) else np.shape(a)


# --- running sums, differences and diagonals: linear, along axes moved by one ---------------


def _float_dtype(dtype: Any) -> bool:
    """Whether a ``dtype=`` argument leaves the tangent as the unbatched rule makes it: none,
    or a floating or complex one (an integer one would truncate the tangent)."""
    return dtype is None or np.dtype(dtype).kind in "fc"


def _cumsum(t: Any, shape: Any, /, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """The running sum of the tangent along the same axis; ``axis=None`` runs along each
    direction flattened in C order, as ``cumsum`` flattens the array."""
    if out is not None or not _float_dtype(dtype) or (axis is not None and t.ndim == 1):
        return NotImplemented  # (a 0-d array has no axis to move)
    if axis is None:
        return np.cumsum(t.reshape(t.shape[0], -1), axis=1, dtype=dtype)
    return np.cumsum(t, axis=_axis(axis, t.ndim - 1), dtype=dtype)


def _cumulative_sum(t: Any, shape: Any, /, *, axis: Any = None, dtype: Any = None,
                    out: Any = None, include_initial: Any = False) -> Any:  # fmt: skip
    """``cumulative_sum``: ``axis=None`` is allowed for a 1-d array only, its one axis."""
    if out is not None or not _float_dtype(dtype):
        return NotImplemented
    ax = 1 if axis is None else _axis(axis, t.ndim - 1)
    return np.cumulative_sum(t, axis=ax, dtype=dtype, include_initial=include_initial)


def _diff(t: Any, shape: Any, /, n: Any = 1, axis: Any = -1, prepend: Any = np._NoValue,
          append: Any = np._NoValue) -> Any:  # fmt: skip
    """The differences of the tangent along the same axis (``prepend``/``append`` declined:
    an array of them would need a batch axis of its own)."""
    if prepend is not np._NoValue or append is not np._NoValue:
        return NotImplemented
    return np.diff(t, n, axis=_axis(axis, t.ndim - 1))


def _diagonal(t: Any, shape: Any, /, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Any:
    """The same diagonal of each direction: both axes moved by one, kept in their order (the
    sign of ``offset`` depends on it)."""
    ndim = t.ndim - 1
    return np.diagonal(t, offset, _axis(axis1, ndim), _axis(axis2, ndim))


def _trace(t: Any, shape: Any, /, offset: Any = 0, axis1: Any = 0, axis2: Any = 1,
           dtype: Any = None, out: Any = None) -> Any:  # fmt: skip
    if out is not None or not _float_dtype(dtype):
        return NotImplemented
    ndim = t.ndim - 1
    return np.trace(t, offset, _axis(axis1, ndim), _axis(axis2, ndim), dtype)


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


def _matvec_part(slot: int, t: Any, a: Any, b: Any, shape: Any, rest: Any, kwargs: Any) -> Any:
    """``np.matvec(a, b)``, ``a`` a stack of matrices and ``b`` of vectors: the batched operand
    given length-1 axes up to the output's loop axes, so that the batch axis leads them."""
    if rest or kwargs:  # axes=, out=, ...
        return NotImplemented
    if slot == 0:
        return np.matvec(_lead(t, len(shape) + 1), b)
    return np.matvec(a, _lead(t, len(shape)))


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
    la, lb = _tensordot_axes(a, b, rest[0] if rest else kwargs.get("axes", 2))
    if slot == 0:
        return np.tensordot(t, b, ([x + 1 for x in la], lb))
    r = np.tensordot(a, t, (la, [x + 1 for x in lb]))
    return np.moveaxis(r, a.ndim - len(la), 0)


def _outer_part(slot: int, t: Any, a: Any, b: Any, shape: Any, rest: Any, kwargs: Any) -> Any:
    """``np.outer``: each direction's tangent flattened, times the other factor flattened (the
    same products ``outer`` makes of the raveled arrays)."""
    if rest or kwargs:  # out=
        return NotImplemented
    n = t.shape[0]
    if slot == 0:
        return t.reshape(n, -1, 1) * b.reshape(1, 1, -1)
    return a.reshape(1, -1, 1) * t.reshape(n, 1, -1)


def _einsum_terms(node: Any, args: tuple[Any, ...]) -> Any:
    """``einsum``'s subscripts as ``(operand terms, output term, a letter they do not use)``
    for the batch axis, or None for a call the rows decline: subscripts not a string (the
    sublist form), an ellipsis, a term that does not name each axis of its operand, an
    operand not kept, keywords other than ``optimize`` (and a contraction path given to it:
    the cotangent's contraction has other operands)."""
    if not args or not isinstance(args[0], str) or set(node.kwargs) - {"optimize"}:
        return None
    if node.kwargs.get("optimize", False) not in (False, True, "greedy", "optimal"):
        return None
    subscripts = args[0].replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    ops = args[1:]
    if "." in subscripts or len(terms) != len(ops):
        return None
    if any(op is None or isinstance(op, ArrayMeta) or np.ndim(op) != len(term)
           for term, op in zip(terms, ops, strict=True)):  # fmt: skip
        return None
    labels = "".join(terms)
    if not (labels + output).isalpha() or not (labels + output).isascii():
        return None
    if not arrow:  # implicit: the labels used once, in alphabetical (ASCII) order
        output = "".join(sorted(c for c in set(labels) if labels.count(c) == 1))
    spare = next((c for c in string.ascii_letters if c not in subscripts), None)
    return None if spare is None else (terms, output, spare)  # (all 52 letters used)


def _einsum(node: Any, args: Any, edges: Any, tangents: list[Any], shape: Any) -> Any:
    """``einsum`` (multilinear): for each operand with a tangent, the same contraction with
    that operand replaced by its tangent, whose batch axis gets a label of its own that the
    output keeps in front."""
    spec = _einsum_terms(node, args)
    if spec is None or any(e.flat is not None or e.slot < 1 for e in edges):
        return NotImplemented
    terms, output, z = spec
    total = None
    for e, t in zip(edges, tangents, strict=True):
        if t is None:
            continue
        k = e.slot - 1
        ops = [t if i == k else op for i, op in enumerate(args[1:])]
        subs = ",".join(z + term if i == k else term for i, term in enumerate(terms))
        p = np.einsum(f"{subs}->{z}{output}", *ops, **node.kwargs)
        total = p if total is None else total + p
    return total


BATCH_JVP_RULES: dict[Any, Row] = {
    # reductions
    np.sum: _of_first(_reduction(np.sum)),
    np.mean: _of_first(_reduction(np.mean)),
    (np.add, "reduce"): _of_first(_reduction(np.sum, default=0), _REDUCE_PARAMS),
    # shapes
    np.reshape: _of_first(lambda t, out, /, **p: _reshaped(t, out, p.get("order", "C"))),
    np.ravel: _of_first(_reshaped),
    np.squeeze: _of_first(lambda t, out, /, **_: _reshaped(t, out)),
    np.expand_dims: _of_first(lambda t, out, /, **_: _reshaped(t, out)),
    np.transpose: _of_first(_transpose),
    np.swapaxes: _of_first(_swapaxes),
    np.moveaxis: _of_first(_moveaxis),
    np.broadcast_to: _of_first(_broadcast_to),
    np.ndarray.__getitem__: _of_first(_getitem, _GETITEM_PARAMS),
    np.stack: _sequence(_stack, _JOIN_PARAMS),
    np.concatenate: _sequence(_concatenate, _JOIN_PARAMS),
    # running sums, differences, diagonals
    np.cumsum: _of_first(_cumsum),
    np.cumulative_sum: _of_first(_cumulative_sum),
    np.diff: _of_first(_diff),
    np.diagonal: _of_first(_diagonal),
    np.trace: _of_first(_trace),
    # products
    np.matmul: _product(_matmul_part),
    np.matvec: _product(_matvec_part),
    np.dot: _product(_dot_part),
    np.tensordot: _product(_tensordot_part),
    np.outer: _product(_outer_part),
    np.einsum: _einsum,
}


# --- batched reverse mode ----------------------------------------------------------------------
# ``jacrev`` at the outermost level pulls many output cotangents back at once, the same way: a
# batched cotangent of an array of shape ``s`` has shape ``(n,) + s``. A node's cotangents are
# computed batched by its row in ``BATCH_VJP_RULES``, or, for a ufunc of real values, by its
# unbatched VJP rules (elementwise: the output's batched cotangent broadcasts against the primal
# arguments) followed by a batched ``unbroadcast``; any other node one cotangent at a time by
# ``_graph.node_cotangents``, as backward computes it.


def pull_batched(plan: ForwardPlan, cotangents: Sequence[Any]) -> list[Any]:
    """The batched cotangents of ``plan``'s inputs (``None`` where unreached) for the batched
    cotangents of its outputs (``None``: zero; all of one batch size), at the outermost level:
    nothing is recorded. The graph is kept (as with ``retain_graph=True``)."""
    n = next(c.shape[0] for c in cotangents if c is not None)
    stop = plan.stop
    reaches = set(plan.order)  # the nodes some input is reached from: the inputs and above
    cot: dict[Target, Any] = {}
    for o, c in zip(plan.outputs, cotangents, strict=True):
        if o is not None and c is not None and o[0] in reaches:
            _accumulate(cot, o, _fit(c, *plan.meta[o], n))
    with rules_running(False):
        for node in reversed(plan.order):
            if node in stop or node not in reaches:
                continue
            gs = [cot.pop((node, i), None) for i in range(node.n_out)]
            if all(g is None for g in gs):
                continue
            for edge, c in _batched_cotangents(node, gs, n):
                if edge.parent in reaches:
                    _accumulate(cot, (edge.parent, edge.out), c)
    return [cot.get(t) for t in plan.inputs]


def _accumulate(cot: dict[Target, Any], target: Target, c: Any) -> None:
    old = cot.get(target)
    cot[target] = c if old is None else old + c


def _batched_cotangents(node: Any, gs: list[Any], n: int) -> list[tuple[Any, Any]]:
    """``(edge, batched cotangent)`` for each of ``node``'s edges that gets one, from the
    batched cotangents ``gs`` of its outputs (``None``: zero)."""
    args, ans = rule_inputs(node, None)  # the checks backward makes before a rule reads them
    edges = node.edges
    pairs = None
    if node.n_out == 1 and node.where is None and all(e.slot >= 0 for e in edges):
        pairs = _batched_vjp(node, args, ans, gs[0], n)
    if pairs is None:
        pairs = _vjp_one_by_one(node, gs, n)
    return [(e, _fit(c, e.shape, e.dtype, n)) for e, c in pairs if c is not None]


def _batched_vjp(node: Any, args: Any, ans: Any, g: Any, n: int) -> Any:
    """The edges' batched cotangents computed for the whole batch at once, or None."""
    prim = node.prim
    edges = node.edges
    kind = batching(prim, reverse=True)
    if kind == "row":
        pairs = BATCH_VJP_RULES[prim.func](node, args, g, n)
        return None if pairs is NotImplemented else pairs
    if not (
        kind == "elementwise"
        and g.dtype.kind != "c"
        and all(e.flat is None and e.dtype.kind != "c" for e in edges)
    ):
        return None
    pairs = []
    kwargs = node.kwargs
    for e in edges:
        rule = prim.rule_for(e.slot)
        if rule is None:
            continue
        c = rule(g, ans, *args, **kwargs)
        if c is None:
            continue
        c = np.asarray(c)
        if c.ndim < g.ndim:  # not made from g (it holds no batch axis): leave it to backward
            return None
        pairs.append((e, _unbroadcast(c, e.shape)))
    return pairs


def _vjp_one_by_one(node: Any, gs: list[Any], n: int) -> list[tuple[Any, Any]]:
    """The edges' batched cotangents, one cotangent at a time by the node's VJP rules as
    backward runs them (``_graph.node_cotangents``), stacked."""
    per_edge: dict[Any, list[Any]] = {}
    for b in range(n):
        if node.n_out == 1:
            g = gs[0][b]
        else:
            g = tuple(np.zeros(*node.out_meta[i]) if c is None else c[b] for i, c in enumerate(gs))
        for edge, c in node_cotangents(node, g, None):
            # by value: two edges of a node differ in slot or path
            per_edge.setdefault(edge, [None] * n)[b] = c
    pairs = []
    for e in node.edges:
        cs = per_edge.get(e)
        if cs is not None:
            zero = np.zeros(e.shape, e.dtype)
            pairs.append((e, np.stack([zero if c is None else c for c in cs])))
    return pairs


def _unbroadcast(c: Any, shape: tuple[int, ...]) -> Any:
    """Batched cotangent ``c`` summed over the axes along which an input of ``shape`` was
    broadcast (``_registry.unbroadcast`` behind the batch axis)."""
    lead = c.ndim - 1 - len(shape)
    assert lead >= 0, f"a batched cotangent of shape {c.shape} for an input of {shape}"
    axes = tuple(range(1, 1 + lead)) + tuple(
        1 + lead + i for i, d in enumerate(shape) if d == 1 and c.shape[1 + lead + i] != 1
    )
    if axes:
        c = np.add.reduce(c, axis=axes, keepdims=True)
    return c.reshape((c.shape[0], *shape)) if lead else c


# --- the VJP rows: ``row(node, args, g, n)``: ``[(edge, batched cotangent)]`` for the batched
# cotangent ``g`` of the node's one output, or NotImplemented ------------------------------------


def _vjp_of_first(rule: Callable[..., Any], params: tuple[str, ...] | None = None) -> Any:
    """A function linear in its first argument alone: ``rule(g, in_shape, out, /, **params)``
    gives the first argument's batched cotangent (``in_shape``: its shape)."""

    def row(node: Any, args: Any, g: Any, n: int) -> Any:
        edges = node.edges
        if not _of_first_alone(edges):
            return NotImplemented
        c = rule(g, edges[0].shape, **_bound(node, args, params))
        return NotImplemented if c is NotImplemented else [(edges[0], c)]

    return row


def _vjp_reduction(mean: bool, default: Any = None) -> Callable[..., Any]:
    """``sum``, ``mean``: the cotangent spread back over the reduced axes."""

    def rule(g: Any, shape: Any, /, axis: Any = default, dtype: Any = None, out: Any = None,
             keepdims: Any = False, initial: Any = None, where: Any = True) -> Any:  # fmt: skip
        if out is not None or where is not True:
            return NotImplemented
        axes = _axis(axis, len(shape))
        axes = axes if isinstance(axes, tuple) else (axes,)
        if not keepdims:
            g = np.expand_dims(g, axes)
        c = np.broadcast_to(g, (g.shape[0], *shape))
        if mean:
            count = 1
            for a in axes:
                count *= shape[a - 1]
            c = c / count
        return c

    return rule


def _vjp_transpose(g: Any, shape: Any, /, axes: Any = None) -> Any:
    ndim = len(shape)
    if axes is None:
        return np.transpose(g, (0, *range(ndim, 0, -1)))
    perm = np.argsort([operator.index(a) % ndim for a in axes])
    return np.transpose(g, (0, *(int(p) + 1 for p in perm)))


def _vjp_swapaxes(g: Any, shape: Any, /, axis1: Any, axis2: Any) -> Any:
    return np.swapaxes(g, _axis(axis1, len(shape)), _axis(axis2, len(shape)))


def _vjp_moveaxis(g: Any, shape: Any, /, source: Any, destination: Any) -> Any:
    ndim = len(shape)
    source = _axis(tuple(np.atleast_1d(source).tolist()), ndim)
    destination = _axis(tuple(np.atleast_1d(destination).tolist()), ndim)
    return np.moveaxis(g, destination, source)


def _vjp_broadcast_to(g: Any, shape: Any, /, **_: Any) -> Any:
    return _unbroadcast(g, shape)


def _vjp_getitem(g: Any, shape: Any, /, key: Any) -> Any:
    """The cotangent added into zeros at the indexed places (``np.add.at``: an advanced index
    may repeat an element), under the same condition as the JVP row's."""
    key = key if isinstance(key, tuple) else (key,)
    if not _batchable_key(key):
        return NotImplemented
    c = np.zeros((g.shape[0], *shape), g.dtype)
    full = (slice(None), *key)
    if all(_basic(k) for k in key):
        c[full] = g
    else:
        np.add.at(c, full, g)
    return c


def _reverse_cumsum(g: Any, axis: int) -> Any:
    """``c[i] = sum(g[i:])`` along ``axis``: the transpose of a running sum (the same sums as
    ``_rules.reductions``' rule, in the same order)."""
    flip = (slice(None),) * axis + (slice(None, None, -1),)
    return np.cumsum(g[flip], axis=axis)[flip]


def _vjp_cumsum(g: Any, shape: Any, /, axis: Any = None, dtype: Any = None,
                out: Any = None) -> Any:  # fmt: skip
    """The reversed running sum of the cotangent, reshaped back for ``axis=None``."""
    if out is not None or (axis is not None and not shape):
        return NotImplemented
    c = _reverse_cumsum(g, 1 if axis is None else _axis(axis, len(shape)))
    return c.reshape((g.shape[0], *shape))


def _vjp_cumulative_sum(g: Any, shape: Any, /, *, axis: Any = None, dtype: Any = None,
                        out: Any = None, include_initial: Any = False) -> Any:  # fmt: skip
    """The reversed running sum, without the leading zero ``include_initial`` added."""
    if out is not None:
        return NotImplemented
    ax = 1 if axis is None else _axis(axis, len(shape))
    if include_initial:
        g = g[(slice(None),) * ax + (slice(1, None),)]
    return _reverse_cumsum(g, ax)


def _vjp_diff(g: Any, shape: Any, /, n: Any = 1, axis: Any = -1, prepend: Any = np._NoValue,
              append: Any = np._NoValue) -> Any:  # fmt: skip
    """The transpose of ``diff`` applied ``n`` times: ``-diff`` of the cotangent padded with
    zeros, along the same axis."""
    if prepend is not np._NoValue or append is not np._NoValue:
        return NotImplemented
    ax = _axis(axis, len(shape))
    for _ in range(n):
        g = -np.diff(g, axis=ax, prepend=0, append=0)
    return g


def _vjp_diagonal(g: Any, shape: Any, /, offset: Any = 0, axis1: Any = 0, axis2: Any = 1) -> Any:
    """The cotangent written where ``diagonal`` read: NumPy's own diagonal of the element
    numbers says where (as the unbatched rule finds it), whatever the axes' signs and order
    and the offset; each element is read once, so the writes do not collide."""
    n = g.shape[0]
    size = math.prod(shape)
    numbers = np.diagonal(np.arange(size).reshape(shape), offset, axis1, axis2)
    c = np.zeros((n, size), g.dtype)
    c[:, numbers.reshape(-1)] = g.reshape(n, -1)
    return c.reshape((n, *shape))


def _vjp_trace(g: Any, shape: Any, /, offset: Any = 0, axis1: Any = 0, axis2: Any = 1,
               dtype: Any = None, out: Any = None) -> Any:  # fmt: skip
    """The cotangent on the ``offset`` diagonal of the ``(axis1, axis2)`` planes, zeros
    elsewhere (``_rules.products``' rule behind the batch axis)."""
    if out is not None:
        return NotImplemented
    ax1, ax2 = axis1 % len(shape), axis2 % len(shape)
    eye = np.eye(shape[ax1], shape[ax2], k=offset, dtype=bool)
    if ax1 > ax2:
        eye = eye.T
    eye = eye.reshape(tuple(d if i in (ax1, ax2) else 1 for i, d in enumerate(shape)))
    return np.expand_dims(g, (min(ax1, ax2) + 1, max(ax1, ax2) + 1)) * eye


def _vjp_where(node: Any, args: Any, g: Any, n: int) -> Any:
    """``where(condition, x, y)``: each of ``x`` and ``y`` gets the cotangent where it was
    picked, summed back over the axes it was broadcast along; ``condition`` gets none."""
    cond = args[0] if len(args) == 3 else None
    if cond is None or isinstance(cond, ArrayMeta) or node.kwargs:
        return NotImplemented  # where(condition) alone, or a condition not kept
    if any(e.flat is not None or e.slot not in (1, 2) for e in node.edges):
        return NotImplemented
    return [
        (e, _unbroadcast(np.where(cond, g, 0) if e.slot == 1 else np.where(cond, 0, g), e.shape))
        for e in node.edges
    ]


def _vjp_clip(node: Any, args: Any, g: Any, n: int) -> Any:
    """``clip(a, a_min, a_max)``: each argument gets the cotangent where the result is that
    argument (``_rules.indexing``'s masks: ``a`` at a tie with a bound, ``a_max`` where the
    bounds cross), summed back over the axes it was broadcast along."""
    bound = _bound(node, args, None)
    if g.dtype.kind == "c" or set(bound) - {"a_min", "a_max", "out", "min", "max"}:
        return NotImplemented  # ufunc keywords (dtype=, casting=, ...), complex values
    if bound.get("out") is not None or any(e.flat is not None for e in node.edges):
        return NotImplemented
    a, lo, hi = args[0], _clip_bound(bound, "a_min", "min"), _clip_bound(bound, "a_max", "max")
    values = [v for v in (a, lo, hi) if v is not _NO_BOUND]
    if any(v is None or isinstance(v, ArrayMeta) or np.iscomplexobj(v) for v in values):
        return NotImplemented  # not kept, or complex
    masks = _clip_masks(a, lo, hi)
    return [(e, _unbroadcast(np.where(masks[e.slot], g, 0), e.shape)) for e in node.edges]


_NO_BOUND = object()  # clip without this bound


def _clip_bound(bound: dict[str, Any], name: str, keyword: str) -> Any:
    """``a_min`` (``a_max``), or else ``min=`` (``max=``), or ``_NO_BOUND``."""
    for value in (bound.get(name), bound.get(keyword)):
        if value is not None and value is not np._NoValue:
            return value
    return _NO_BOUND


def _clip_masks(a: Any, lo: Any, hi: Any) -> tuple[Any, Any, Any]:
    """Where the result of ``clip`` is ``a``, the lower bound and the upper bound: NumPy's
    ``minimum(maximum(a, lo), hi)``, the upper bound winning where the bounds cross, ``a``
    where it equals a bound."""
    low = np.zeros((), bool) if lo is _NO_BOUND else np.less(a, lo)
    lifted = a if lo is _NO_BOUND else np.where(low, lo, a)
    high = np.zeros((), bool) if hi is _NO_BOUND else np.greater(lifted, hi)
    return ~(low | high), low & ~high, high


def _vjp_sequence(params: tuple[str, ...], stack: bool) -> Any:
    """``stack`` and ``concatenate``: each array's part of the cotangent."""

    def row(node: Any, args: Any, g: Any, n: int) -> Any:
        if not _sequence_call(node, args):
            return NotImplemented
        seq = args[0]
        axis = _bound(node, args, params).get("axis", 0)
        shapes = [_shape_of(a) for a in seq]
        if stack:
            ax = _axis(axis, len(shapes[0]) + 1)
            parts = [np.take(g, i, axis=ax) for i in range(len(seq))]
        elif axis is None:
            bounds = np.cumsum([math.prod(s) for s in shapes])[:-1]
            flat = np.split(g, bounds, axis=1)
            parts = [p.reshape((n, *s)) for p, s in zip(flat, shapes, strict=True)]
        else:
            ax = _axis(axis, len(shapes[0]))
            bounds = np.cumsum([s[ax - 1] for s in shapes])[:-1]
            parts = np.split(g, bounds, axis=ax)
        return [(e, parts[e.flat[0]]) for e in node.edges]

    return row


def _vjp_product(part: Callable[..., Any]) -> Any:
    """A bilinear function of its first two arguments: ``part(slot, g, a, b, rest, kwargs)``
    is argument ``slot``'s batched cotangent (``a``, ``b``: the arguments, the other one kept
    by the node and conjugated, the one of ``slot`` only read for its shape), or
    NotImplemented."""

    def row(node: Any, args: Any, g: Any, n: int) -> Any:
        if len(args) < 2 or any(e.flat is not None or e.slot > 1 for e in node.edges):
            return NotImplemented
        pairs = []
        for e in node.edges:
            other = args[1 - e.slot]
            if other is None or isinstance(other, ArrayMeta):
                return NotImplemented  # not kept
            other = np.asarray(other)
            if other.dtype.kind == "c":  # the cotangent of a in a * b is g * conj(b)
                other = np.conj(other)
            own = np.broadcast_to(np.empty((), other.dtype), e.shape)  # its shape only
            a, b = (own, other) if e.slot == 0 else (other, own)
            c = part(e.slot, g, a, b, args[2:], node.kwargs)
            if c is NotImplemented:
                return NotImplemented
            pairs.append((e, c))
        return pairs

    return row


def _matmul_cotangent(slot: int, g: Any, a: Any, b: Any, rest: Any, kwargs: Any) -> Any:
    """The batched cotangent of ``a`` (``slot`` 0) or ``b`` (1) of ``a @ b`` for the batched
    cotangent ``g`` of the product: a vector operand made a one-row (``a``) or one-column
    (``b``) matrix, the stacks' axes broadcast behind the batch axis and summed back."""
    if rest or kwargs:  # axes=, out=, ...
        return NotImplemented
    n = g.shape[0]
    if slot == 1 and a.ndim == 2 and b.ndim == 1:  # the common matrix times a vector
        return g @ a
    a1 = a[None, :] if a.ndim == 1 else a
    b1 = b[:, None] if b.ndim == 1 else b
    g1 = g[..., None] if b.ndim == 1 else g
    g1 = g1[..., None, :] if a.ndim == 1 else g1
    if slot == 0:
        c = _unbroadcast(g1 @ np.swapaxes(b1, -1, -2), a1.shape)
        return c.reshape((n, *a.shape))
    c = _unbroadcast(np.swapaxes(a1, -1, -2) @ g1, b1.shape)
    return c.reshape((n, *b.shape))


def _matvec_cotangent(slot: int, g: Any, a: Any, b: Any, rest: Any, kwargs: Any) -> Any:
    """``np.matvec(a, b)``: the matrices' cotangent is the outer product of the product's and
    the vectors' (``b`` conjugated by the row), the vectors' the matrices' transposes times the
    product's; each summed back over the loop axes its operand was broadcast along."""
    if rest or kwargs:  # axes=, out=, ...
        return NotImplemented
    if slot == 0:
        return _unbroadcast(g[..., :, None] * b[..., None, :], a.shape)
    return _unbroadcast(np.matvec(np.swapaxes(a, -1, -2), g), b.shape)


def _dot_cotangent(slot: int, g: Any, a: Any, b: Any, rest: Any, kwargs: Any) -> Any:
    """``np.dot``: a product with a scalar, or ``matmul`` for vectors and matrices."""
    if rest or kwargs:  # out=
        return NotImplemented
    other = b if slot == 0 else a
    if a.ndim == 0 or b.ndim == 0:
        c = g * other
        own = a if slot == 0 else b
        return _unbroadcast(c, own.shape) if own.ndim == 0 else c
    if a.ndim <= 2 and b.ndim <= 2:
        return _matmul_cotangent(slot, g, a, b, (), {})
    return NotImplemented


def _tensordot_cotangent(slot: int, g: Any, a: Any, b: Any, rest: Any, kwargs: Any) -> Any:
    """``np.tensordot``: ``g`` contracted with the other factor over the product's axes that
    came from it, then the axes put in the factor's order (``tensordot`` keeps each factor's
    remaining axes in their own order)."""
    la, lb = _tensordot_axes(a, b, rest[0] if rest else kwargs.get("axes", 2))
    own, other, l_own, l_other = (a, b, la, lb) if slot == 0 else (b, a, lb, la)
    free_own = [j for j in range(own.ndim) if j not in l_own]
    free_other = [j for j in range(other.ndim) if j not in l_other]
    # g's axes: the batch, a's free axes, b's free axes
    if slot == 0:
        g_other = list(range(1 + len(free_own), g.ndim))
    else:
        g_other = list(range(1, 1 + len(free_other)))
    c = np.tensordot(g, other, (g_other, free_other))
    # c's axes: the batch, own's free axes in order, other's contracted axes in their order
    contracted = sorted(l_other)
    where = {}
    for p, j in enumerate(free_own):
        where[j] = 1 + p
    for j, k in zip(l_own, l_other, strict=True):
        where[j] = 1 + len(free_own) + contracted.index(k)
    return np.transpose(c, (0, *(where[j] for j in range(own.ndim))))


def _outer_cotangent(slot: int, g: Any, a: Any, b: Any, rest: Any, kwargs: Any) -> Any:
    """``np.outer``: each direction's cotangent, a matrix, times the other factor flattened,
    reshaped to the factor's shape."""
    if rest or kwargs:  # out=
        return NotImplemented
    if slot == 0:
        return (g @ b.reshape(-1)).reshape((g.shape[0], *a.shape))
    return (a.reshape(-1) @ g).reshape((g.shape[0], *b.shape))


def _tensordot_axes(a: Any, b: Any, axes: Any) -> tuple[list[int], list[int]]:
    """``tensordot``'s ``axes`` as two lists of non-negative axes, paired."""
    if isinstance(axes, int | np.integer):
        la, lb = list(range(a.ndim - int(axes), a.ndim)), list(range(int(axes)))
    else:
        la, lb = (list(np.atleast_1d(x).tolist()) for x in axes)
    return [x % a.ndim for x in la], [x % b.ndim for x in lb]


def _vjp_einsum(node: Any, args: Any, g: Any, n: int) -> Any:
    """``einsum``: the batched cotangent contracted with the other operands (conjugated) into
    the operand's term, as ``_rules.products``' rule does it behind a batch label: a label only
    that operand carries is spread back with ones, one broadcast from size 1 summed back. An
    operand that repeats a label (a diagonal) is declined."""
    spec = _einsum_terms(node, args)
    if spec is None or any(e.flat is not None or e.slot < 1 for e in node.edges):
        return NotImplemented
    terms, output, z = spec
    ops = args[1:]
    sizes: dict[str, int] = {}
    for term, op in zip(terms, ops, strict=True):
        for c, d in zip(term, np.shape(op), strict=True):
            sizes[c] = d if sizes.get(c, 1) == 1 else sizes[c]  # 1 broadcasts
    pairs = []
    for e in node.edges:
        k = e.slot - 1
        target = terms[k]
        if len(set(target)) < len(target):
            return NotImplemented
        specs, parts = [z + output], [g]
        for i, (term, op) in enumerate(zip(terms, ops, strict=True)):
            if i != k:
                specs.append(term)
                parts.append(np.conj(op) if np.iscomplexobj(op) else op)
        present = set("".join(specs))
        for c in target:
            if c not in present:
                specs.append(c)
                parts.append(np.ones(sizes[c], g.dtype))
        optimize = node.kwargs.get("optimize", False) or ("greedy" if len(parts) > 2 else False)
        c = np.einsum(",".join(specs) + "->" + z + target, *parts, optimize=optimize)
        # a length-1 axis of c where the operand has more (a label of length 1 elsewhere) is
        # broadcast by the caller's ``_fit``
        pairs.append((e, _unbroadcast(c, e.shape)))
    return pairs


BATCH_VJP_RULES: dict[Any, Any] = {
    # reductions
    np.sum: _vjp_of_first(_vjp_reduction(mean=False)),
    np.mean: _vjp_of_first(_vjp_reduction(mean=True)),
    (np.add, "reduce"): _vjp_of_first(_vjp_reduction(mean=False, default=0), _REDUCE_PARAMS),
    # shapes
    # (a reshape's cotangent is reshaped back to the input's shape, which the row is given)
    np.reshape: _vjp_of_first(lambda g, s, /, **p: _reshaped(g, s, p.get("order", "C"))),
    np.ravel: _vjp_of_first(_reshaped),
    np.squeeze: _vjp_of_first(lambda g, s, /, **_: _reshaped(g, s)),
    np.expand_dims: _vjp_of_first(lambda g, s, /, **_: _reshaped(g, s)),
    np.transpose: _vjp_of_first(_vjp_transpose),
    np.swapaxes: _vjp_of_first(_vjp_swapaxes),
    np.moveaxis: _vjp_of_first(_vjp_moveaxis),
    np.broadcast_to: _vjp_of_first(_vjp_broadcast_to),
    np.ndarray.__getitem__: _vjp_of_first(_vjp_getitem, _GETITEM_PARAMS),
    np.stack: _vjp_sequence(_JOIN_PARAMS, stack=True),
    np.concatenate: _vjp_sequence(_JOIN_PARAMS, stack=False),
    # running sums, differences, diagonals
    np.cumsum: _vjp_of_first(_vjp_cumsum),
    np.cumulative_sum: _vjp_of_first(_vjp_cumulative_sum),
    np.diff: _vjp_of_first(_vjp_diff),
    np.diagonal: _vjp_of_first(_vjp_diagonal),
    np.trace: _vjp_of_first(_vjp_trace),
    # selections (elementwise, but their rules sum back to each argument's unbatched shape)
    np.where: _vjp_where,
    np.clip: _vjp_clip,
    # products
    np.matmul: _vjp_product(_matmul_cotangent),
    np.matvec: _vjp_product(_matvec_cotangent),
    np.dot: _vjp_product(_dot_cotangent),
    np.tensordot: _vjp_product(_tensordot_cotangent),
    np.outer: _vjp_product(_outer_cotangent),
    np.einsum: _vjp_einsum,
}
