"""Views and in-place writes: how a GradArray stays truthful when its memory changes.

Every buffer has a version counter, shared by its views. A view remembers its base and how to
re-make itself from it (``_view_fn``). A write through a view (``v += 1``, ``v[i] = x``)
re-records the base: its new value is the old base with the view's elements replaced. A view
whose base was written to since its node was made re-records itself from the base when next
used (``refresh``). ``out=``, ``ufunc.at`` and ``x[key] = value`` are recorded here: afterwards
the written array stands for the new value, and rules that need the old value get a copy.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ndgrad._array import (
    GradArray,
    GradInput,
    adopt_view,
    call_primitive,
    flat_outputs,
    needs_grad,
    plain_array,
    record_node,
    unwrap_all,
    view_as,
)
from ndgrad._errors import InPlaceError, not_differentiable
from ndgrad._graph import (
    GUARDED,
    LOCKS,
    LeafNode,
    grad_enabled,
    memory_owner,
    release_for_write,
)
from ndgrad._registry import VJP_RULES, Primitive, qualified_name

_NDARRAY_SHAPE = np.ndarray.shape

__all__ = [
    "prepare_write",
    "rebase",
    "record_setitem",
    "refresh",
    "register_leaf_view",
    "set_shape",
    "stack_nested",
    "track_views",
    "ufunc_inplace",
]


# --- views ------------------------------------------------------------------------------------


class _ViewFn:
    """Re-makes a view from its base: ``func(*args)`` with the base at ``slot``."""

    __slots__ = ("args", "func", "index", "kwargs", "slot")

    def __init__(self, func: Any, args: list[Any], kwargs: Any, slot: int, index: Any) -> None:
        self.func, self.args, self.kwargs, self.slot, self.index = func, args, kwargs, slot, index

    def __call__(self, a: Any) -> Any:
        args = list(self.args)
        args[self.slot] = a
        out = self.func(*args, **self.kwargs)
        return out if self.index is None else out[self.index]


class _Recall:
    """Call a primitive again as the engine does (records it): for views made by it."""

    __slots__ = ("impl", "prim")

    def __init__(self, prim: Primitive, impl: Any) -> None:
        self.prim, self.impl = prim, impl

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call_primitive(self.prim, self.impl, args, kwargs)


class _Composed:
    """View functions applied in turn: a flat list, so that deep views need no recursion."""

    __slots__ = ("fns",)

    def __init__(self, first: Any, then: Any) -> None:
        self.fns: tuple[Any, ...] = (*(first.fns if type(first) is _Composed else (first,)), then)

    def __call__(self, a: Any) -> Any:
        for fn in self.fns:
            a = fn(a)
        return a


# NumPy's own read-only views: they stay read-only when the guard of their base is released.
_READ_ONLY_VIEWS = {np.broadcast_to, np.broadcast_arrays, np.diagonal}


def track_views(
    outs: Any, args: Any, raw: list[Any], prim: Primitive, impl: Any, kwargs: Any
) -> None:
    """Outputs that share memory with a GradArray argument become tracked views of it."""
    if type(outs) is GradArray:  # one output, the common case: no list to make
        _track(outs, None, args, raw, prim, impl, kwargs)
        return
    for index, o in enumerate(flat_outputs(outs)):
        if isinstance(o, GradArray):
            _track(o, index, args, raw, prim, impl, kwargs)


def _track(
    o: GradArray, index: int | None, args: Any, raw: list[Any], prim: Any, impl: Any, kwargs: Any
) -> None:
    """Make ``o`` (output ``index`` of a sequence of them) a tracked view of the first
    GradArray argument whose memory it shares."""
    view = plain_array(o)
    if view.base is None:
        return
    for slot, a in enumerate(args):
        if isinstance(a, GradArray) and np.may_share_memory(view, raw[slot]):
            template = [None if i == slot else r for i, r in enumerate(raw)]
            fn = _ViewFn(_Recall(prim, impl), template, kwargs, slot, index)
            o._version = a._version
            o._seen = a._version[0]
            o._base_ga = a._base_ga if a._base_ga is not None else a
            o._view_fn = fn if a._base_ga is None else _Composed(a._view_fn, fn)
            if a._version[1] is not None and prim.func not in _READ_ONLY_VIEWS:
                adopt_view(o, a)  # read-only only because ``a`` is guarded
            return


def _root(v: GradArray) -> GradArray:
    """The base ``v``'s view function starts from (past a base whose shape was assigned)."""
    base = v._base_ga
    while base._base_ga is not None:  # only a base whose .shape was assigned has one
        base = base._base_ga
    return base  # type: ignore[no-any-return]


def refresh(v: GradArray) -> None:
    """Re-record a view whose base was written to since the view's node was made."""
    if v._seen == v._version[0] or not grad_enabled():
        return
    base = _root(v)
    if type(v._node) is LeafNode:
        pass  # a view made a leaf stays a leaf: writes to its elements are refused
    elif base._node is not None or v._node is not None:
        new = v._view_fn(base)
        v._node, v._out = new._node, new._out
    v._seen = v._version[0]


def _check_writable(target: GradArray) -> None:
    """In-place writes to a leaf that requires grad (or a view of one) are only for no_grad."""
    base = target._base_ga if target._base_ga is not None else target
    if type(base._node) is LeafNode:
        what = "a leaf" if base is target else "a view of a leaf"
        raise InPlaceError(
            f"in-place operation on {what} that requires grad: the gradient would refer to "
            "values that no longer exist. For a parameter update use `with nd.no_grad(): "
            "w -= lr * w.grad`; otherwise write `x = x + y` to make a new array."
        )
    if base is not target and target.dtype != base.dtype and base._node is not None:
        # x.real of a complex x: the view's elements are parts of the base's, not positions.
        raise InPlaceError(
            "in-place write through a view of another dtype (x.real or x.imag of a complex "
            "array in a graph) is not supported; assign the whole part (x.real = v) or make "
            "a new array (x = v + 1j * x.imag)."
        )


def register_leaf_view(v: GradArray) -> None:
    """Remember, in the state its base shares, a view made a leaf (``v.requires_grad = True``)."""
    state = v._version
    while len(state) < 4:
        state.append(None)
    if state[3] is None:
        state[3] = []
    state[3].append(weakref.ref(v))


def _check_leaf_views(target: GradArray, region: Any) -> None:
    """Writing a leaf's elements through its base is refused like writing the leaf."""
    state = target._version
    if len(state) < 4 or not state[3] or not grad_enabled():
        return
    for ref in state[3]:
        v = ref()
        if v is None or v is target or type(v._node) is not LeafNode:
            continue
        try:
            overlap = np.shares_memory(plain_array(v), region, max_work=10_000)  # type: ignore[arg-type]
        except np.exceptions.TooHardError:
            overlap = True
        if overlap:
            raise InPlaceError(
                "in-place write to elements of a view that was made a leaf (requires_grad=True) "
                "through its base: its gradient would refer to values that no longer exist. "
                "Write under nd.no_grad(), or make the leaf a copy (x[:2].copy())."
            )


def prepare_write(target: Any) -> None:
    """Copy-on-write, before a write ndgrad sees: nodes that saved ``target``'s memory keep a
    copy of the old values, and the memory becomes writable again.

    Memory that a live node saved through another array (an alias over the same buffer) stays
    guarded: writing it would change that node's values behind its back, so it is refused.
    """
    release_for_write(target._version)
    if target.size == 0:
        return  # writes nothing (and NumPy does not track an empty view as sharing memory)
    owner = memory_owner(target)
    key = id(owner)
    if key in LOCKS or key in GUARDED or (owner is not target and id(target) in LOCKS):
        raise InPlaceError(
            "in-place write to memory that a live node saved through another array over the "
            "same buffer (made with np.asarray, nd.asarray, .base or a plain ndarray passed as "
            "an operand): the write would change a gradient behind ndgrad's back. Call "
            "backward() or drop that result first, or write into a copy (`x = x.copy()`)."
        )


def _copy_slices(base: Any, view: Any, fn: Any) -> Any:
    """The base after a write through a view: its elements inside the view come from ``view``."""
    raise AssertionError("recorded by the engine only")  # never called: forward is done in place


def _view_positions(shape: tuple[int, ...], fn: Any) -> NDArray[np.bool_]:
    mask = np.zeros(int(np.prod(shape, dtype=int)), bool)
    mask[np.ravel(fn(np.arange(mask.size).reshape(shape)))] = True
    return mask.reshape(shape)


def _copy_slices_view_jvp(t: Any, ans: Any, base: Any, view: Any, fn: Any) -> Any:
    """The base's tangent after a write through a view: the view's tangent at the positions
    the view covers (each once: NumPy refuses writes through overlapping views), zero
    elsewhere. A gather, so that a tangent that carries a graph keeps it."""
    shape = ans.shape
    size = int(np.prod(shape, dtype=int))
    source = np.full(size, -1)
    source[np.ravel(fn(np.arange(size).reshape(shape)))] = np.arange(np.size(t))
    picked = np.take(np.ravel(t), np.maximum(source, 0))
    return np.reshape(np.where(source >= 0, picked, 0), shape)


_COPY_SLICES = Primitive(
    _copy_slices,
    (
        lambda g, ans, base, view, fn: np.where(_view_positions(g.shape, fn), 0, g),
        lambda g, ans, base, view, fn: fn(g),
    ),
    name="assignment through a view",
)
# Forward mode: the base's old tangent survives outside the view (the same projection as the
# VJP's), the view's tangent is put at its positions.
_COPY_SLICES.set_jvp(
    "rules",
    (
        lambda t, ans, base, view, fn: np.where(_view_positions(t.shape, fn), 0, t),
        _copy_slices_view_jvp,
    ),
)


def rebase(view: GradArray) -> None:
    """After an in-place write to ``view``, make its base stand for the new values too."""
    base = _root(view)
    if not grad_enabled():
        return  # the view re-records itself from the base when next used with grad on
    view._seen = view._version[0]
    if base._node is None and view._node is None:
        return
    grad_inputs: list[GradInput] = [(0, None, base)] if base._node is not None else []
    if view._node is not None:
        grad_inputs.append((1, None, view))
    raw = [None, None, view._view_fn]
    record_node(_COPY_SLICES, grad_inputs, raw, {}, None, base, saved=raw)


# --- in-place ufuncs ----------------------------------------------------------------------------


def ufunc_inplace(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: Any) -> Any:
    """``out=`` and ``ufunc.at``: the output array now stands for the new value."""
    outs = (inputs[0],) if method == "at" else kwargs["out"]
    for x in inputs:  # stale views are refreshed as inputs too, before anything is written
        if isinstance(x, GradArray) and x._base_ga is not None:
            refresh(x)
    enabled = grad_enabled()
    recording = enabled and needs_grad(inputs)
    for o in outs:
        if isinstance(o, GradArray):
            if o._base_ga is not None:
                refresh(o)
            if enabled and (recording or o._node is not None):
                _check_writable(o)
            _check_leaf_views(o, plain_array(o))
            prepare_write(o)
        elif o is not None and recording:
            raise not_differentiable(
                qualified_name(ufunc),
                "out= is a plain ndarray, which cannot hold a graph; make it a GradArray",
            )
    key = ufunc if method == "__call__" else (ufunc, method)
    prim = VJP_RULES.get(key) if recording else None
    if recording and prim is None:
        raise not_differentiable(qualified_name(key))
    out_raw = [plain_array(o) if isinstance(o, GradArray) else o for o in outs]
    raw = [plain_array(x) if isinstance(x, GradArray) else x for x in inputs]
    saved = raw
    if prim is not None:  # keep what the rules read before the write destroys it
        saved = [
            r.copy()
            if isinstance(x, GradArray)
            and (prim.saves is None or i in prim.saves)
            and any(np.may_share_memory(r, o) for o in out_raw if o is not None)
            else r
            for i, (x, r) in enumerate(zip(inputs, raw, strict=True))
        ]
    grad_inputs = [
        (i, None, x)
        for i, x in enumerate(inputs)
        if isinstance(x, GradArray) and x._node is not None
    ]
    old_out = outs[0] if len(outs) == 1 and isinstance(outs[0], GradArray) else None
    old_node = (old_out._node, old_out._out) if old_out is not None else None
    if method == "at":
        ufunc.at(*raw)
        res = out_raw[0]
    else:
        call_kwargs = dict(kwargs)
        call_kwargs["out"] = tuple(out_raw)
        if isinstance(call_kwargs.get("where"), GradArray):
            call_kwargs["where"] = plain_array(call_kwargs["where"])
        res = getattr(ufunc, method)(*raw, **call_kwargs)
    for o in outs:
        if isinstance(o, GradArray):
            o._version[0] += 1
    if recording:
        assert prim is not None
        where = kwargs.get("where", True) if method == "__call__" else True
        node_kwargs = (
            {} if method in ("__call__", "at") else {k: v for k, v in kwargs.items() if k != "out"}
        )
        partial = where is not True and old_out is not None
        if partial:  # elements outside ``where`` keep the old value of out
            stand_in = view_as(out_raw[0], GradArray)
            stand_in._node, stand_in._out = old_node  # type: ignore[misc]
            stand_in._version = [0, None]
        wrapped = outs[0] if len(outs) == 1 else tuple(outs)
        record_node(
            prim,
            grad_inputs,
            raw,
            node_kwargs,
            res,
            wrapped,
            None if where is True else unwrap_all(where),
            saved=saved,
            old_out=stand_in if partial else None,
            originals=inputs,
        )
    elif enabled:
        for o in outs:
            if isinstance(o, GradArray) and o._node is not None and not o.is_leaf:
                o._node = None  # overwritten by a constant: no graph behind it any more
    for o in outs:
        if isinstance(o, GradArray) and o._base_ga is not None:
            rebase(o)
    if method == "at":
        return None
    return outs[0] if len(outs) == 1 else tuple(outs)


def set_shape(x: GradArray, shape: Any) -> None:
    """``x.shape = s``: NumPy's in-place reshape (refused where it would need a copy), recorded.

    A view gets ``np.reshape(..., s)`` appended to its view function. A base becomes a view,
    ``np.reshape(old, s)``, of a hidden array that keeps its old shape, graph and views (the
    views made before still start from the old shape: see ``_root``).
    """
    enabled = grad_enabled()
    if enabled and type(x._node) is LeafNode:
        raise InPlaceError(
            "assigning .shape of a leaf that requires grad: its gradient must keep its shape. "
            "Use y = x.reshape(s), or assign it under nd.no_grad()."
        )
    if x._base_ga is not None:
        refresh(x)
    old = view_as(plain_array(x), GradArray)
    _NDARRAY_SHAPE.__set__(x, shape)  # type: ignore[attr-defined]  # raises NumPy's own error where a copy would be needed
    fn = _ViewFn(np.reshape, [None, x.shape], {}, 0, None)
    if x._base_ga is not None:
        x._view_fn = _Composed(x._view_fn, fn)
        source = _root(x)
    else:
        old._node, old._out, old._version = x._node, x._out, x._version
        x._base_ga, x._view_fn, source = old, fn, old
    x._seen = x._version[0]
    if enabled and (source._node is not None or x._node is not None):
        new = x._view_fn(source)
        x._node, x._out = new._node, new._out


def stack_nested(value: Any) -> Any:
    return np.stack([stack_nested(v) if type(v) in (list, tuple) else v for v in value])


def record_setitem(target: GradArray, key: Any, value: Any) -> None:
    if target._base_ga is not None:
        refresh(target)
    if type(value) in (list, tuple) and needs_grad(value) and grad_enabled():
        value = stack_nested(value)  # x[:2] = [a, b]: one recorded array, not lost values
    enabled = grad_enabled()
    value_grad = isinstance(value, GradArray) and value._node is not None
    recording = enabled and (target._node is not None or value_grad)
    if recording:
        _check_writable(target)
    raw_key = unwrap_all(key)
    if len(target._version) > 3:
        # ``[key, ...]``: a view, 0-d for an integer key, where NumPy makes one
        region = plain_array(target)[(*raw_key, ...) if type(raw_key) is tuple else (raw_key, ...)]
        _check_leaf_views(target, region if region.base is not None else plain_array(target))
    prepare_write(target)
    raw_value = plain_array(value) if isinstance(value, GradArray) else unwrap_all(value)
    if isinstance(value, GradArray) and value._base_ga is not None:
        refresh(value)
    plain_array(target)[raw_key] = raw_value
    target._version[0] += 1
    if recording:
        prim = VJP_RULES[np.ndarray.__setitem__]
        grad_inputs: list[GradInput] = []
        if target._node is not None:
            grad_inputs.append((0, None, target))
        if value_grad:
            grad_inputs.append((2, None, value))
        raw = [None, raw_key, raw_value]
        record_node(prim, grad_inputs, raw, {}, None, target, saved=raw)
    if target._base_ga is not None:
        rebase(target)
