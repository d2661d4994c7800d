"""Function transforms of functions written with plain NumPy: gradients, Jacobians, Hessians.

A transform wraps the chosen arguments as fresh tracers (new leaves, or, inside another
transform, a recorded alias of the outer tracer), calls the function, and backpropagates to
exactly those tracers: the caller's arrays and their ``.grad`` are never touched. At the
outermost level results are plain ndarrays (a Python float gets a Python float, a tuple, list
or dict of arrays gets the same structure back); inside another transform they are GradArrays
whose graph the outer transform differentiates, so transforms compose to any depth (a result of
``grad``, ``value_and_grad`` or ``jvp`` that depends on nothing but the call's own arguments is
a plain array there too: ``_detach_own``).

Complex numbers follow PyTorch's convention: for a real loss ``L`` of a complex ``z`` the
gradient is ``dL/dRe(z) + 1j * dL/dIm(z)``, and a VJP with cotangent ``u`` is the gradient of
``Re(sum(conj(u) * f(z)))``.
"""

from __future__ import annotations

import functools
import math
import sys
import threading
import weakref
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from ndgrad import _graph
from ndgrad._aliases import read_only_arguments, returned_arguments, wrote_into_arguments
from ndgrad._array import (
    GradArray,
    become_leaf,
    call_primitive,
    graph_array,
    plain_array,
    view_as,
)
from ndgrad._batching import batch_size, pull_batched, push_batched
from ndgrad._core import node_serial, recorded_since, writeable, zero_filled
from ndgrad._errors import GraphBreakError
from ndgrad._forward import ForwardPlan, fit_tangent
from ndgrad._graph import enable_grad, grad_enabled, seal, sealed
from ndgrad._held import held_versions
from ndgrad._inplace import refresh
from ndgrad._registry import Primitive
from ndgrad.tracing import maybe_tracing

__all__ = [
    "checkpoint",
    "elementwise_grad",
    "grad",
    "hessian",
    "hvp",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "value_and_grad",
    "vjp",
]

ArgNums = int | Sequence[int]
_FLOAT_KINDS = "fc"

# How many transforms are evaluating their function right now in this context: inside one, a
# transform records its backward pass so that the outer one can differentiate it.
_depth: ContextVar[int] = ContextVar("ndgrad_transform_depth", default=0)


# --- containers of arrays ---------------------------------------------------------------------


def tree_flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of nested tuples, lists and dicts, and a spec to rebuild the structure."""
    if type(tree) in (tuple, list) and all(isinstance(x, np.ndarray) for x in tree):
        return list(tree), (type(tree), [(1, None)] * len(tree))  # arrays only: the common case
    if isinstance(tree, (tuple, list)):
        specs, leaves = [], []
        for item in tree:
            sub, spec = tree_flatten(item)
            leaves.extend(sub)
            specs.append((len(sub), spec))
        return leaves, (type(tree), specs)
    if isinstance(tree, dict):
        keys = list(tree)
        leaves, spec = tree_flatten([tree[k] for k in keys])
        return leaves, (dict, keys, spec)
    return [tree], None


def tree_unflatten(spec: Any, leaves: Sequence[Any]) -> Any:
    """Inverse of ``tree_flatten``."""
    if spec is None:
        return leaves[0]
    if spec[0] is dict:
        _, keys, inner = spec
        return dict(zip(keys, tree_unflatten(inner, leaves), strict=True))
    kind, specs = spec
    items, start = [], 0
    for count, sub in specs:
        items.append(tree_unflatten(sub, leaves[start : start + count]))
        start += count
    return kind(items) if kind in (tuple, list) else kind(*items)


# --- tracers ----------------------------------------------------------------------------------


# Inputs of at least this many bytes are copied into the buffer the transform used for the same
# argument in its previous call, once nothing refers to it any more: memory that size is mapped
# anew by the allocator on every call, and its page faults cost about as much as the copy.
_REUSE_BYTES = 1 << 16


def _private_copy(x: Any, buffers: dict[int, Any] | None, slot: int) -> Any:
    """A private copy of the values of float ndarray ``x``, which is above ``COPY_BYTES`` (the
    nodes would guard it; a smaller one is a plain copy, ``_tracer``): into ``buffers[slot]``
    when nothing else refers to that buffer any more (its tracer, the graph that saved it and
    any view of it the caller kept are gone), else into new memory, which becomes
    ``buffers[slot]``.

    The copy is sealed (``_graph.seal``): read-only before anyone sees it, so that no view of it
    is writable and its saves need no fingerprint (two passes over it per call). Writes into a
    tracer are refused anyway (a leaf)."""
    if buffers is None or x.nbytes < _REUSE_BYTES or not x.flags.c_contiguous:
        copy = x.copy(order="K")
        seal(copy)
        return copy
    buf = buffers.pop(slot, None)  # taken at once: a call in another thread cannot take it too
    # one reference in ``buf``, one in getrefcount's argument: nothing else holds the buffer
    if buf is None or sys.getrefcount(buf) > 2 or buf.shape != x.shape or buf.dtype != x.dtype:
        buf = x.copy(order="C")
        seal(buf)
    else:
        buf.flags.writeable = True  # sealed by us, and held by nobody: no view of it exists
        np.copyto(buf, x)
        buf.flags.writeable = False
    buffers[slot] = buf
    return buf


def _tracer(x: Any, buffers: dict[int, Any] | None = None, slot: int = 0) -> GradArray:
    """A fresh array that stands for ``x`` and requires grad.

    It holds a private copy of ``x``'s values: a graph that outlives the call (``vjp``), or a
    write into ``x`` through another name while ``fun`` runs, must not change the values the
    rules saved. (For the 8 elements of a tiny function the copy is 1 % of a call.) A read-only
    view of ``x`` instead would let such a write change the gradient silently (the function
    writes ``x[1] = 7`` through a closure, then reads its argument: the tracer has moved), and
    would make a closure's plain view of the same memory (``m[0]`` for the argument ``m[0]``)
    an alias of the graph, refused with ``GraphBreakError``: see tests/test_functional_fast.py.
    """
    if type(x) is np.ndarray and x.dtype.kind in _FLOAT_KINDS:  # the common case, directly
        small = x.nbytes <= _graph.COPY_BYTES  # saved by copies: no seal, no buffer to reuse
        t = (x.copy(order="K") if small else _private_copy(x, buffers, slot)).view(GradArray)
        become_leaf(t)  # ``t.requires_grad = True`` without its checks: they hold
        return t  # type: ignore[no-any-return]
    if isinstance(x, GradArray) and x.requires_grad and grad_enabled():
        # An outer transform (or the user) differentiates x: alias it with a recorded identity,
        # a node of our own, so the outer graph still reaches x and nothing is confused.
        return np.positive(x)  # type: ignore[return-value]
    if isinstance(x, (np.matrix, np.ma.MaskedArray)):
        # As a GradArray it would lose its meaning (masked elements, * as a matrix product), and
        # the transform would differentiate a different function.
        kind = "a masked array" if isinstance(x, np.ma.MaskedArray) else "an np.matrix"
        fix = "x.filled(value) or x.compressed()" if kind[2] == "m" else "np.asarray(x)"
        raise TypeError(
            f"cannot differentiate with respect to {kind}: its semantics have no gradient rules "
            f"and would be lost. Convert it first ({fix}) and write the function for that."
        )
    values = plain_array(x) if isinstance(x, GradArray) else x
    arr = np.asarray(values)
    if arr.dtype.kind not in "fc":
        raise TypeError(
            f"can only differentiate with respect to float or complex inputs, got {arr.dtype}"
            f"{' (a Python int)' if isinstance(x, int) else ''}; pass floats, e.g. 1.0 or "
            "x.astype(float)."
        )
    return GradArray(arr, requires_grad=True)


def _argnum_tuple(argnums: ArgNums, nargs: int) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for n in nums:
        if not -nargs <= n < nargs:
            raise ValueError(f"argnums={argnums!r} but the function got {nargs} arguments")
    return tuple(n % nargs for n in nums)


def _requires_grad(x: Any) -> bool:
    return isinstance(x, GradArray) and x.requires_grad


_NONE_TYPE = type(None)
_FLOAT64 = np.dtype(np.float64)


def _read_only(a: Any) -> Any:
    a.flags.writeable = False
    return a


_ONE_FLOAT64 = _read_only(np.array(1.0))  # the cotangent of the common output
_PLAIN_ARGUMENTS = (np.ndarray, float, int)  # types that never require grad, checked first


def _nested(args: Any) -> bool:
    """Whether the result must stay differentiable: inside a transform, or on traced inputs."""
    if _depth.get() > 0:
        return True
    for a in args:  # (a loop: a generator costs a third of the check)
        if type(a) not in _PLAIN_ARGUMENTS:
            break
    else:
        return False
    leaves, _ = tree_flatten(list(args))
    return any(_requires_grad(x) for x in leaves) and grad_enabled()


def _check_output(out: Any, fname: str) -> None:
    """Raise unless ``out`` is a real scalar (a float array or NumPy scalar with one element).
    The caller tests the common case, a one-element float GradArray, first."""
    dtype = getattr(out, "dtype", None)
    if isinstance(out, int | float | complex) and not isinstance(out, bool | np.generic):
        raise GraphBreakError(
            f"{fname} returned a Python {type(out).__name__}, which cannot carry a gradient: "
            "a conversion inside it (float(...), .item(), math.*) cut the graph, or its value "
            "does not depend differentiably on the input (ranks, counts, thresholds). Return "
            "the NumPy array instead of converting it."
        )
    if dtype is None or not isinstance(out, np.ndarray | np.generic):
        raise TypeError(f"{fname} must return a float array with one element, got {type(out)}")
    if dtype.kind == "c":
        raise TypeError(
            f"{fname} returned a complex value: grad needs a real scalar; take np.real(...) or "
            "np.abs(...) of it first."
        )
    if dtype.kind != "f":
        raise TypeError(f"{fname} returned {dtype} values: grad needs a float scalar output.")
    if np.size(out) != 1:
        raise ValueError(
            f"{fname} returned shape {np.shape(out)}: grad needs exactly one element (use "
            "jacobian for vector outputs, or reduce with np.sum)."
        )


# What the error of an output that does not depend on a differentiated input says
# (``ndgrad.testing`` recognises it).
NO_DEPENDENCE = "does not depend on the input(s) being differentiated"


def _disconnected(fname: str) -> ValueError:
    return ValueError(
        f"the output of {fname} {NO_DEPENDENCE}. The "
        "usual cause is a conversion that strips the GradArray: np.asarray(x), np.array(x), "
        "float(x), x.tolist() or math.* inside the function. Pass allow_unused=True to get "
        "zeros for inputs the output really does not depend on."
    )


def _outermost(g: Any, like: Any) -> Any:
    """Plain ndarray results; a Python float for a Python float argument.

    The caller owns the result: a read-only cotangent (a sum's broadcast view of large arrays)
    is copied, as it would be by the tape API's ``.grad``.
    """
    if type(g) is np.ndarray and type(like) is np.ndarray:  # the common case
        return g if writeable(g) else g.copy()
    g = plain_array(g) if isinstance(g, GradArray) else np.asarray(g)
    if isinstance(like, float) and g.ndim == 0:
        return complex(g) if g.dtype.kind == "c" else float(g)
    if isinstance(like, complex) and g.ndim == 0:
        return complex(g)
    return g if writeable(g) else g.copy()


def _detach_own(results: list[Any], targets: Sequence[Any], since: int) -> list[Any]:
    """Nested results (inside another transform) with each GradArray that depends only on
    this call's own tracers made a plain array.

    Such a result is recorded (the rules run on GradArrays) in case it depends on what an
    outer transform differentiates: a closure over the outer variable, an argument that is one.
    When its graph reaches nothing but the tracers this call made for its plain arguments, no
    outer transform can reach it: its derivative with respect to anything outside is zero,
    and as a GradArray it would only make everything computed from it recorded too (an inner
    solver's iterates, stepped by the inner gradient, each recorded into the outer graph). The
    walk (``_core.recorded_since``) stops at the first node recorded before the call began,
    or the first leaf that is not one of the tracers.
    """
    own = {node for node, _ in targets}
    for i, r in enumerate(results):
        if (
            type(r) is GradArray
            and r.requires_grad
            and r._base_ga is None  # (a view's node may be stale: kept, as a GradArray)
            and recorded_since([r._node], since, own)
        ):
            plain = plain_array(r)
            results[i] = plain if writeable(plain) else plain.copy()
    return results


def _handed_back(x: Any) -> Any:
    """What the caller gets for a result or aux leaf: a GradArray's plain values, and a copy
    of an array that shows a tracer's sealed memory (``fun`` returned its argument or a view
    of it): read-only there, where ``fun`` on the caller's array gives a writable one."""
    if isinstance(x, GradArray):
        x = view_as(x, np.ndarray)  # plain_array, without its call
    elif type(x) is not np.ndarray:
        return x
    return x if writeable(x) or not sealed(x) else x.copy()


def _plain_tree(tree: Any) -> Any:
    """The same structure with every GradArray replaced by its plain values (``_handed_back``)."""
    leaves, spec = tree_flatten(tree)
    return tree_unflatten(spec, [_handed_back(x) for x in leaves])


class _Trace:
    """``fun`` evaluated on tracers for the arguments ``nums``."""

    # Made on every transform call: slots, and the attributes set once from locals.
    __slots__ = (
        "arrays_only",
        "aux",
        "leaves",
        "nested",
        "nums",
        "originals",
        "out",
        "since",
        "specs",
        "targets",
        "tracers",
    )

    def __init__(
        self,
        fun: Callable[..., Any],
        args: Sequence[Any],
        kwargs: dict[str, Any],
        nums: tuple[int, ...],
        has_aux: bool,
        scope: bool = True,
        buffers: dict[int, Any] | None = None,
        alias: bool = False,
    ) -> None:
        """``alias``: ``fun`` gets a recorded identity of each tracer, not the tracer itself,
        so that it may write into its arguments, as it may when its transform runs inside
        another (a write into a leaf that requires grad is refused)."""
        # Every node made from here on has a serial at least this: nothing older can depend on
        # the tracers, so passes to and from them stop there (and results free of anything
        # older are detached, _detach_own).
        self.since = node_serial()
        self.nested = nested = _nested(args)
        self.nums = nums
        specs: dict[int, Any] = {}
        all_leaves: dict[int, list[Any]] = {}
        tracers: list[GradArray] = []
        # Where passes start and stop: each tracer's node as made. An identity of an outer
        # transform's array (``_tracer``) is not a leaf, so ``fun`` may write into it, and its
        # ``_node`` then names the write; the input is the value before it.
        targets: list[tuple[Any, int]] = []
        originals: list[Any] = []  # what each tracer stands for, in order
        call_args = list(args)
        arrays_only = True  # every chosen argument an array: one tracer each, in order
        for n in nums:
            a = args[n]
            if type(a) is np.ndarray:  # an array argument: no container to flatten
                leaves, spec = [a], None
                tracer = _tracer(a, buffers, n)
                tracers.append(tracer)
                targets.append((tracer._node, tracer._out))
                originals.append(a)
                call_args[n] = np.positive(tracer) if alias else tracer
            else:
                arrays_only = False
                leaves, spec = tree_flatten(a)
                made = [_tracer(x) for x in leaves]
                tracers.extend(made)
                targets.extend((t._node, t._out) for t in made)
                originals.extend(leaves)
                call_args[n] = tree_unflatten(
                    spec, [np.positive(t) for t in made] if alias else made
                )
            specs[n], all_leaves[n] = spec, leaves
        self.specs, self.leaves, self.tracers = specs, all_leaves, tracers
        self.targets, self.originals = targets, originals
        self.arrays_only = arrays_only
        token = _depth.set(_depth.get() + 1)
        try:
            if not grad_enabled():
                with enable_grad(), maybe_tracing(scope, fun):
                    result = fun(*call_args, **kwargs)
            elif not scope:  # no mode to set and restore, no scope to open
                result = fun(*call_args, **kwargs)
            else:
                with maybe_tracing(True, fun):
                    result = fun(*call_args, **kwargs)
        finally:
            _depth.reset(token)
        if has_aux:
            if not isinstance(result, (tuple, list)) or len(result) != 2:
                raise TypeError(
                    f"has_aux=True but {getattr(fun, '__name__', 'the function')} did not "
                    "return a pair (output, aux)."
                )
            self.out, aux = result
            self.aux = aux if nested else _plain_tree(aux)
        else:
            self.out, self.aux = result, None

    def pull(
        self, outs: Sequence[Any], cots: Sequence[Any], create: bool, retain: bool = True
    ) -> list[Any]:
        """Cotangents of the tracers (``None`` where disconnected) for ``cots`` of ``outs``."""
        return pull_to(outs, cots, self.targets, create, retain, self.since)

    def pull_one(self, out: GradArray, nested: bool) -> list[Any]:
        """Cotangents of the tracers for a recorded one-element ``out`` with cotangent 1: one
        backward pass, recorded and retained when ``nested``; at the outermost level the saved
        arrays are freed as it goes. (``pull`` for one scalar root, without its checks.)"""
        root = out if out.shape == () else np.reshape(out, ())
        if root._base_ga is not None:
            refresh(root)
        if nested:
            one = GradArray(np.array(1, out.dtype))
        else:  # read-only: a pass never adds into the cotangent it is given
            one = _ONE_FLOAT64 if out.dtype is _FLOAT64 else _read_only(np.array(1, out.dtype))
        cots = _graph.backward(
            [(root._node, root._out)],
            [one],
            inputs=self.targets,
            retain_graph=nested,
            create_graph=nested,
            lift=graph_array,
            since=self.since,
        )
        assert cots is not None
        return cots

    def regroup(self, flat: Sequence[Any], outermost: bool, single: bool) -> Any:
        """Per-tracer values back into the arguments' structures (a tuple for tuple argnums)."""
        if self.arrays_only:  # the common case: no structure to rebuild
            if single:
                return _outermost(flat[0], self.originals[0]) if outermost else flat[0]
            return tuple(map(_outermost, flat, self.originals) if outermost else flat)
        groups, start = [], 0
        for n in self.nums:
            leaves = self.leaves[n]
            part = list(flat[start : start + len(leaves)])
            start += len(leaves)
            if outermost:
                part = [_outermost(c, x) for c, x in zip(part, leaves, strict=True)]
            groups.append(tree_unflatten(self.specs[n], part))
        return groups[0] if single else tuple(groups)


def pull_cotangents(
    outs: Sequence[Any],
    cots: Sequence[Any],
    inputs: Sequence[GradArray],
    create: bool,
    retain: bool = True,
    since: int = 0,
) -> list[Any]:
    """Backpropagate ``cots`` from ``outs`` to ``inputs``; ``None`` for an unreached input.

    By default the graph is retained: a vjp function may be called again, and a Jacobian
    pulls once per row. It is freed when the outputs are dropped. ``since``: every input was
    made from this node serial on (see ``_graph.backward``).
    """
    return pull_to(outs, cots, [(t._node, t._out) for t in inputs], create, retain, since)


def pull_to(
    outs: Sequence[Any],
    cots: Sequence[Any],
    targets: Sequence[Any],
    create: bool,
    retain: bool = True,
    since: int = 0,
) -> list[Any]:
    """``pull_cotangents`` to ``(node, out)`` targets (a trace's, taken before its function
    ran)."""
    roots, grads = [], []
    for o, c in zip(outs, cots, strict=True):
        if not _requires_grad(o):
            continue
        if o._base_ga is not None:
            refresh(o)
        if (c.shape if isinstance(c, np.ndarray) else np.shape(c)) != o.shape:
            raise ValueError(f"a cotangent of shape {np.shape(c)} for an output of shape {o.shape}")
        if create:
            c = c if isinstance(c, GradArray) else GradArray(np.asarray(c, dtype=o.dtype))
        else:
            c = plain_array(c) if isinstance(c, GradArray) else np.asarray(c, dtype=o.dtype)
        roots.append((o._node, o._out))
        grads.append(c)
    if not roots:
        return [None] * len(targets)
    res = _graph.backward(
        roots,
        grads,
        inputs=list(targets),
        retain_graph=retain,
        create_graph=create,
        lift=graph_array,
        since=since,
    )
    assert res is not None
    return res


def _zeros_for(cots: Sequence[Any], like: Sequence[Any]) -> list[Any]:
    return [
        np.zeros(np.shape(t), np.result_type(t)) if c is None else c
        for c, t in zip(cots, like, strict=True)
    ]


# --- grad and value_and_grad ----------------------------------------------------------------------


def _argnums_for(argnums: ArgNums) -> Callable[[int], tuple[int, ...]]:
    """``_argnum_tuple`` of one transform, made once per number of arguments: an int or a
    tuple cannot change between calls (a list can, and is read again on every call)."""
    if not isinstance(argnums, int | tuple):
        return functools.partial(_argnum_tuple, argnums)
    made: dict[int, tuple[int, ...]] = {}

    def nums(nargs: int) -> tuple[int, ...]:
        found = made.get(nargs)
        if found is None:
            found = made[nargs] = _argnum_tuple(argnums, nargs)
        return found

    return nums


def _value_and_grad(
    fun: Callable[..., Any],
    fname: str,
    nums: tuple[int, ...],
    single: bool,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    allow_unused: bool,
    has_aux: bool,
    scope: bool,
    buffers: dict[int, Any] | None = None,
) -> tuple[Any, Any, Any]:
    trace = _Trace(fun, args, kwargs, nums, has_aux, scope, buffers)
    out = trace.out
    if type(out) is not GradArray or out.dtype.kind != "f" or out.size != 1:
        _check_output(out, fname)
    nested = trace.nested
    if isinstance(out, GradArray) and out._node is not None:  # _requires_grad(out)
        cots = trace.pull_one(out, nested)
    else:
        cots = [None] * len(trace.tracers)
    unreached = _NONE_TYPE in map(type, cots)  # (``None in cots`` would compare arrays)
    if unreached and not allow_unused:
        raise _disconnected(fname)
    if not nested and any(map(_all_zero, cots)):
        _confirm_zero_gradients(fun, args, kwargs, trace, cots, out, fname, has_aux, scope)
    if unreached:
        cots = _zeros_for(cots, trace.tracers)
    if nested:
        cots = _detach_own(cots, trace.targets, trace.since)
    grads = trace.regroup(cots, not nested, single)
    return (out if nested else _handed_back(out)), grads, trace.aux


def _all_zero(c: Any) -> bool:
    """Whether ``c`` is a non-empty real float cotangent of zeros only (NaN is not zero)."""
    if type(c) is np.ndarray:  # the common case: compiled, the first element read first
        found = zero_filled(c)
        if found is not None:
            return found  # type: ignore[no-any-return]
        return c.dtype.kind == "f" and c.size > 0 and np.count_nonzero(c) == 0
    return (
        c is not None
        and np.result_type(c).kind == "f"
        and np.size(c) > 0
        and not np.any(plain_array(c) if isinstance(c, GradArray) else c)
    )


def _confirm_zero_gradients(
    fun: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    trace: _Trace,
    cots: Sequence[Any],
    out: Any,
    fname: str,
    has_aux: bool,
    scope: bool,
) -> None:
    """Raise if an input's gradient is exactly zero but ``fun`` changes along it.

    A conversion that cut the graph (compiled code, ``scope=False``) can leave a link from the
    output to the input that carries only zeros: a ``np.where`` that selects nothing from it, a
    stored copy of it that the output does not use. The "does not depend on the input" check
    then passes and the gradient is silently zero. So when a gradient comes out exactly zero,
    ``fun`` is evaluated (without recording) at ``x`` and at ``x +- h v`` along a fixed random
    direction ``v`` of those inputs: if both one-sided differences agree and are clearly
    nonzero, the output does change along ``v`` and the zero is wrong. A true zero (a flat
    region, a stationary point, a kink) gives differences of opposite sign or zero; a jump (a
    step function such as ``floor_divide`` whose gradient is zero almost everywhere, evaluated
    at its discontinuity) gives differences that do not shrink with the step, so the check is
    made again at a step 16 times smaller and a slope must shrink with it; a function that
    gives a different value at the same point is not judged.
    """
    zero = [k for k, c in enumerate(cots) if _all_zero(c)]
    if not zero:
        return
    rng = np.random.default_rng(0)
    moved: dict[int, Any] = {}
    for k in zero:
        x = np.asarray(plain_array(trace.tracers[k]))
        h = 1e-6 if x.dtype.itemsize >= 8 else 1e-3
        moved[k] = h * (1 + np.abs(x)) * rng.standard_normal(x.shape)

    def value(sign: float) -> float:
        call_args, k = list(args), 0
        for n in trace.nums:
            leaves = []
            for leaf in trace.leaves[n]:
                plain = plain_array(leaf) if isinstance(leaf, GradArray) else leaf
                leaves.append(plain + sign * moved[k] if k in moved else plain)
                k += 1
            call_args[n] = tree_unflatten(trace.specs[n], leaves)
        with _graph.no_grad(), maybe_tracing(scope, fun):
            res = fun(*call_args, **kwargs)
        return float(np.real(np.asarray(_plain_tree(res[0] if has_aux else res))).ravel()[0])

    f0 = float(
        np.real(np.asarray(plain_array(out) if isinstance(out, GradArray) else out)).ravel()[0]
    )
    tol = 1e3 * np.finfo(np.result_type(out)).eps * (1 + abs(f0))
    if _changes_along(value, f0, tol):
        which = sorted({_argument_of(trace, k) for k in zero})
        raise GraphBreakError(
            f"the gradient of {fname} with respect to argument(s) {which} is exactly zero, "
            "but its value changes when they change (checked at two nearby points): a "
            "conversion inside the function cut the graph and left a link that carries only "
            "zeros (a np.where that selects nothing from the input, a stored copy of the "
            "input that the output does not use). Run it inside the conversion scope "
            "(scope=True, the default), give the compiled code a rule (ndgrad.defvjp), or "
            "look for np.ndarray.view / compiled code that reads the input."
        )


def _slope_like(up: float, down: float, tol: float) -> bool:
    return (
        up * down > 0
        and min(abs(up), abs(down)) > tol
        and abs(up - down) < 0.5 * max(abs(up), abs(down))
    )


def _changes_along(value: Callable[[float], float], f0: float, tol: float) -> bool:
    """Whether ``value(s)``, a function's value ``s`` steps along a direction (``f0`` at 0),
    changes like a slope: both one-sided differences agree and are clearly nonzero, and they
    shrink with the step (16 times smaller here; a jump does not). A true zero (a flat region,
    a stationary point, a kink) gives differences of opposite sign or zero; a function that
    gives a different value at the same point, or fails off it, is not judged."""
    try:
        if value(0) != f0:
            return False
        up, down = value(1) - f0, f0 - value(-1)
    except Exception:
        return False
    if not _slope_like(up, down, tol):
        return False
    try:
        small_up, small_down = value(1 / 16) - f0, f0 - value(-1 / 16)
    except Exception:
        return False
    return _slope_like(small_up, small_down, tol) and 4 < up / small_up < 64


def _argument_of(trace: _Trace, k: int) -> int:
    """The argument number of tracer ``k``."""
    start = 0
    for n in trace.nums:
        start += len(trace.leaves[n])
        if k < start:
            return n
    return trace.nums[-1]


def _explained(
    e: Exception, fun: Callable[..., Any], args: tuple[Any, ...], argnums: ArgNums
) -> Exception:
    """``e``, or, when a differentiated argument is a list or tuple of numbers, an error of the
    same type that names that as the cause: such a list is a container of separate scalars
    (as in JAX and autograd), so ``fun`` received a list of 0-d arrays, not an array."""
    try:
        nums = _argnum_tuple(argnums, len(args))
    except ValueError:
        return e
    for n in nums:
        a = args[n]
        if type(a) in (list, tuple) and a and all(type(v) in (float, int) for v in a):
            kind = type(a).__name__
            return type(e)(
                f"argument {n} is a {kind} of {len(a)} numbers, which grad takes as a container "
                f"of {len(a)} separate scalars (as JAX and autograd do): the function received "
                f"a {kind} of 0-d arrays, not an array, and then failed. To differentiate with "
                f"respect to an array, pass np.array({a!r:.40}). The function's error: {e}"
            )
    return e


def value_and_grad(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
) -> Callable[..., Any]:
    """Return a function that computes ``fun``'s value and its gradient.

    Parameters
    ----------
    fun : callable
        Takes arrays (or Python floats, or tuples/lists/dicts of them) and returns a real
        scalar: a float array with exactly one element.
    argnums : int or tuple of int, default 0
        The positional argument(s) to differentiate with respect to.
    has_aux : bool, default False
        ``fun`` returns ``(value, aux)``; ``aux`` is passed through undifferentiated.
    allow_unused : bool, default False
        Give zeros, instead of an error, for inputs the value does not depend on.
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    callable
        Returns ``(value, gradient)`` (``((value, aux), gradient)`` with ``has_aux``), the
        gradient shaped like the chosen argument(s).

    Raises
    ------
    TypeError
        If ``fun`` returns a complex, integer or boolean value, or an input is not float.
    ValueError
        If the value has more than one element, or does not depend on the inputs (often
        because ``fun`` called ``np.asarray`` on them).
    GraphBreakError
        If ``fun`` converts an array that requires grad to a Python value (``float(x)``,
        ``math.*``) or returns a Python number.
    NotDifferentiableError
        If ``fun`` calls a function without a gradient rule on an array that requires grad.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> value, g = nd.value_and_grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
    >>> float(value), g
    (5.0, array([2., 4.]))
    """

    fname = getattr(fun, "__name__", "the function")
    nums_for, single = _argnums_for(argnums), isinstance(argnums, int)
    buffers: dict[int, Any] = {}  # the large inputs' copies, reused (_private_copy)

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            value, grads, aux = _value_and_grad(
                fun, fname, nums_for(len(args)), single, args, kwargs, allow_unused, has_aux,
                scope, buffers,
            )  # fmt: skip
        except (TypeError, ValueError, GraphBreakError) as e:
            raise _explained(e, fun, args, argnums) from e
        return ((value, aux), grads) if has_aux else (value, grads)

    return wrapped


def grad(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
) -> Callable[..., Any]:
    """Return a function that computes the gradient of a scalar-valued ``fun``.

    Parameters
    ----------
    fun : callable
        Takes arrays and returns a real scalar (a float array with one element).
    argnums : int or tuple of int, default 0
        The positional argument(s) to differentiate with respect to.
    has_aux : bool, default False
        ``fun`` returns ``(value, aux)``; the transformed function returns ``(grad, aux)``.
    allow_unused : bool, default False
        Give zeros, instead of an error, for inputs the value does not depend on.
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    callable
        Takes ``fun``'s arguments and returns gradients shaped like the chosen ones.

    Raises
    ------
    TypeError
        If ``fun`` returns a complex, integer or boolean value, or an input is not float.
    ValueError
        If the value has more than one element, or does not depend on the inputs (often
        because ``fun`` called ``np.asarray`` on them).
    GraphBreakError
        If ``fun`` converts an array that requires grad to a Python value (``float(x)``,
        ``math.*``) or returns a Python number.
    NotDifferentiableError
        If ``fun`` calls a function without a gradient rule on an array that requires grad.

    See Also
    --------
    value_and_grad : the value and the gradient in one pass.
    elementwise_grad : the derivative of an elementwise function, element by element.

    Notes
    -----
    The differentiated arguments may be containers: a tuple, list or dict of arrays gives a
    gradient of the same structure, as in JAX and autograd. So a Python list of numbers,
    ``grad(f)([1.0, 2.0, 3.0])``, is three separate scalars and ``f`` receives a list of three
    0-d arrays, not an array; NumPy functions that convert their argument then see plain
    numbers. Pass ``np.array([1.0, 2.0, 3.0])`` to differentiate with respect to an array; an
    error raised for a list of numbers says so.

    Examples
    --------
    >>> import numpy as np
    >>> from ndgrad import grad
    >>> grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    array([2., 4.])
    >>> grad(grad(lambda x: x ** 3))(2.0)
    12.0
    """

    fname = getattr(fun, "__name__", "the function")
    nums_for, single = _argnums_for(argnums), isinstance(argnums, int)
    buffers: dict[int, Any] = {}  # the large inputs' copies, reused (_private_copy)

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            _, grads, aux = _value_and_grad(
                fun, fname, nums_for(len(args)), single, args, kwargs, allow_unused, has_aux,
                scope, buffers,
            )  # fmt: skip
        except (TypeError, ValueError, GraphBreakError) as e:
            raise _explained(e, fun, args, argnums) from e
        return (grads, aux) if has_aux else grads

    return wrapped


def elementwise_grad(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    allow_unused: bool = False,
    scope: bool = True,
) -> Callable[..., Any]:
    """Return a function that computes the derivative of an elementwise ``fun`` elementwise.

    This is the gradient of ``sum(fun(x))``, i.e. the vector-Jacobian product with ones: for a
    function that acts on each element separately it is the derivative at every element.

    Parameters
    ----------
    fun : callable
        Takes arrays and returns a real array.
    argnums : int or tuple of int, default 0
        The positional argument(s) to differentiate with respect to.
    allow_unused : bool, default False
        Give zeros, instead of an error, where ``fun`` does not depend on an input (for a
        nested ``elementwise_grad`` of a function whose derivative is constant).
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    callable
        Takes ``fun``'s arguments and returns arrays shaped like the chosen ones.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> nd.elementwise_grad(np.sin)(np.array([0.0, np.pi]))
    array([ 1., -1.])
    """

    @functools.wraps(fun)
    def summed(*args: Any, **kwargs: Any) -> Any:
        return np.sum(fun(*args, **kwargs))

    return grad(summed, argnums, allow_unused=allow_unused, scope=scope)


# --- vjp and jvp --------------------------------------------------------------------------------


def _float_output(o: Any) -> bool:
    # the dtype attribute: ``np.result_type`` of a GradArray would go through dispatch
    return isinstance(o, np.ndarray | np.generic) and o.dtype.kind in "fc"


def vjp(
    fun: Callable[..., Any],
    *primals: Any,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
) -> Any:
    """Evaluate ``fun`` at ``primals`` and return a function for its vector-Jacobian products.

    Parameters
    ----------
    fun : callable
        Takes ``primals`` and returns an array or a tuple/list/dict of arrays.
    *primals
        The point: arrays, Python floats, or containers of them. All are differentiated.
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; ``aux`` is returned undifferentiated.
    allow_unused : bool, default False
        Give zeros, instead of an error, for a primal that no output depends on (often the
        sign of a conversion that stripped the GradArray, or of a NumPy function that does not
        dispatch on that argument, such as ``np.select``'s ``default``).
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    out
        ``fun(*primals)``, plain ndarrays at the outermost level.
    vjp_fn : callable
        ``vjp_fn(cotangent)`` takes a cotangent shaped like ``out`` and returns a tuple with
        one cotangent per primal, each shaped like it. It can be called many times.
    aux
        Only with ``has_aux``.

    Notes
    -----
    For complex outputs the product is PyTorch's: ``vjp_fn(u)`` is the gradient of
    ``Re(sum(conj(u) * fun(x)))``.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> out, vjp_fn = nd.vjp(lambda x: x**2, np.array([1.0, 2.0]))
    >>> out
    array([1., 4.])
    >>> vjp_fn(np.array([1.0, 10.0]))
    (array([ 2., 40.]),)
    """
    fname = getattr(fun, "__name__", "the function")
    trace = _Trace(fun, primals, {}, tuple(range(len(primals))), has_aux, scope)
    outs, spec = tree_flatten(trace.out)
    for o in outs:
        if not _float_output(o):
            raise TypeError(f"{fname} must return float or complex arrays, got {type(o)}")
    nested = trace.nested

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cots, cspec = tree_flatten(cotangent)
        if cspec != spec:
            raise ValueError(f"the cotangent's structure {cotangent!r} is not the output's")
        create = nested or (any(_requires_grad(c) for c in cots) and grad_enabled())
        pulled = trace.pull(outs, cots, create)
        unreached = (c is None and t.size for c, t in zip(pulled, trace.tracers, strict=True))
        if not allow_unused and any(unreached):
            raise _disconnected(fname)
        pulled = _zeros_for(pulled, trace.tracers)
        return trace.regroup(pulled, not create, single=False)  # type: ignore[no-any-return]

    out = trace.out if nested else _plain_tree(trace.out)
    return (out, vjp_fn, trace.aux) if has_aux else (out, vjp_fn)


def jvp(
    fun: Callable[..., Any],
    primals: Sequence[Any],
    tangents: Sequence[Any],
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
) -> Any:
    """Evaluate ``fun`` at ``primals`` and its Jacobian-vector product with ``tangents``.

    Parameters
    ----------
    fun : callable
        Takes ``*primals`` and returns an array or a tuple/list/dict of arrays.
    primals, tangents : tuple or list
        The point, and one tangent of the same shape (and structure) per primal.
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; ``aux`` is returned undifferentiated.
    allow_unused : bool, default False
        Give zeros, instead of an error, for an output that does not depend on the primals
        (often the sign of ``np.asarray`` inside ``fun``).
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    out : array or container
        ``fun(*primals)``.
    tangent_out : array or container
        ``J @ tangents``, shaped like ``out``.
    aux
        Only with ``has_aux``.

    Notes
    -----
    Forward mode: ndgrad records ``fun``'s graph, then pushes the tangents through it from
    the inputs to the outputs with each function's JVP rule, in one pass. Inside another
    transform the pass is itself recorded, so ``jvp`` nests with ``grad``, ``jvp`` and the
    rest to any order (``hessian`` is forward over reverse). Functions without a JVP rule
    transpose their VJP rule instead (``ndgrad.coverage`` lists them): correct, and slower.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> out, tangent = nd.jvp(np.sin, (np.array([0.0, 1.0]),), (np.array([1.0, 2.0]),))
    >>> tangent  # cos(x) * t
    array([1.        , 1.08060461])
    """
    fname = getattr(fun, "__name__", "the function")
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"{len(primals)} primals but {len(tangents)} tangents")
    if all(type(a) is np.ndarray for a in primals + tangents):  # no structure to compare
        t_leaves = list(tangents)
    else:
        t_leaves, t_spec = tree_flatten(list(tangents))
        if t_spec != tree_flatten(list(primals))[1]:
            raise ValueError("tangents must have the structure of primals")
    outer = _nested(primals) or _nested(tangents)
    trace = _Trace(fun, primals, {}, tuple(range(len(primals))), has_aux, scope)
    outs, spec = tree_flatten(trace.out)
    for o in outs:
        if not _float_output(o):
            raise TypeError(f"{fname} must return float or complex arrays, got {type(o)}")
    t_in = [_tangent_for(t, x, outer) for t, x in zip(t_leaves, trace.tracers, strict=True)]
    plan = _forward_plan(outs, trace)
    pushed = plan.push(t_in, outer)
    unreached = any(t is None and np.size(o) for t, o in zip(pushed, outs, strict=True))
    if unreached and not allow_unused:
        raise _disconnected(fname)
    tan = _fitted(pushed, outs)
    if not outer:
        _confirm_zero_tangents(fun, primals, t_in, outs, tan, fname, has_aux, scope)
    if outer:
        out, aux = trace.out, trace.aux
        tan = _detach_own(tan, trace.targets, trace.since)
    else:
        out, aux = _plain_tree(trace.out), _plain_tree(trace.aux)
        tan = [_outermost(t, o) for t, o in zip(tan, tree_flatten(out)[0], strict=True)]
    result = (out, tree_unflatten(spec, tan))
    return (*result, aux) if has_aux else result


def _confirm_zero_tangents(
    fun: Callable[..., Any],
    primals: tuple[Any, ...],
    t_in: list[Any],
    outs: list[Any],
    tan: list[Any],
    fname: str,
    has_aux: bool,
    scope: bool,
) -> None:
    """Raise if an output's tangent is exactly zero but ``fun``'s output moves along the
    tangents: the forward counterpart of ``_confirm_zero_gradients`` (a conversion that cut
    the graph and left a link carrying only zeros)."""
    zero = [i for i, t in enumerate(tan) if _all_zero(t)]
    if not zero or not any(np.any(t) for t in t_in):
        return
    p_leaves, p_spec = tree_flatten(list(primals))
    plain = [np.asarray(plain_array(x) if isinstance(x, GradArray) else x) for x in p_leaves]
    scale = max(float(np.max(np.abs(t), initial=0.0)) for t in t_in)
    steps = [1e-6 * (1 + np.abs(x)) * t / scale for x, t in zip(plain, t_in, strict=True)]
    rng = np.random.default_rng(0)
    weights = {i: rng.standard_normal(np.shape(outs[i])) for i in zero}

    def value(sign: float) -> float:
        moved = [x + sign * h for x, h in zip(plain, steps, strict=True)]
        with _graph.no_grad(), maybe_tracing(scope, fun):
            res = fun(*tree_unflatten(p_spec, moved))
        leaves, _ = tree_flatten(_plain_tree(res[0] if has_aux else res))
        return float(sum(np.sum(np.real(leaves[i]) * w) for i, w in weights.items()))

    f0 = float(
        sum(
            np.sum(np.real(plain_array(outs[i]) if isinstance(outs[i], GradArray) else outs[i]) * w)
            for i, w in weights.items()
        )
    )
    tol = 1e3 * np.finfo(np.result_type(*[outs[i] for i in zero])).eps * (1 + abs(f0))
    if _changes_along(value, f0, tol):
        raise GraphBreakError(
            f"the tangent of output(s) {zero} of {fname} is exactly zero, but they change when "
            "the primals move along the tangents (checked at two nearby points): a conversion "
            "inside the function cut the graph and left a link that carries only zeros. Run "
            "it inside the conversion scope (scope=True, the default), give the compiled code "
            "a rule (ndgrad.defvjp), or look for np.ndarray.view / compiled code that reads "
            "the input."
        )


def _tangent_for(t: Any, tracer: GradArray, outer: bool) -> Any:
    """A tangent as forward mode takes it: an array of the tracer's shape and dtype."""
    if type(t) is np.ndarray and t.dtype == tracer.dtype and t.shape == tracer.shape:
        return t  # the common case
    keep = outer and isinstance(t, GradArray)
    arr = t if keep else np.asarray(plain_array(t) if isinstance(t, GradArray) else t)
    if arr.shape != tracer.shape:
        raise ValueError(f"a tangent of shape {arr.shape} for a primal of shape {tracer.shape}")
    if arr.dtype.kind == "c" and tracer.dtype.kind != "c":
        raise TypeError(
            f"a complex tangent for a real primal ({tracer.dtype}): the function is not defined "
            "off the real line. Pass a real tangent, or a complex primal."
        )
    return arr if arr.dtype == tracer.dtype else arr.astype(tracer.dtype)


def _forward_plan(outs: Sequence[Any], trace: _Trace) -> ForwardPlan:
    """The forward pass from ``tracers`` to ``outs`` over the graph that ``fun`` recorded."""
    targets: list[Any] = []
    for o in outs:
        if _requires_grad(o):
            if o._base_ga is not None:
                refresh(o)
            targets.append((o._node, o._out))
        else:
            targets.append(None)
    return ForwardPlan(targets, trace.targets, _metas(outs), trace.since)


def _metas(outs: Sequence[Any]) -> list[tuple[tuple[int, ...], Any]]:
    """``(shape, dtype)`` of each output (attributes, not ``np.shape``: no dispatch)."""
    return [
        (o.shape, o.dtype)
        if isinstance(o, np.ndarray | np.generic)
        else (np.shape(o), np.result_type(o))
        for o in outs
    ]


def _fitted(tan: Sequence[Any], outs: Sequence[Any]) -> list[Any]:
    """Output tangents in their outputs' shapes and dtypes, zeros where none arrived."""
    return [
        np.zeros(shape, dtype) if t is None else fit_tangent(t, shape, dtype)
        for t, (shape, dtype) in zip(tan, _metas(outs), strict=True)
    ]


# --- Jacobians and Hessians ------------------------------------------------------------------


def _assemble(rows: list[Any], shape: tuple[int, ...], nested: bool) -> Any:
    """Stack the rows of a Jacobian into ``shape``, recorded when they carry a graph."""
    dtype = np.result_type(*rows) if rows else np.float64
    if not (nested and any(_requires_grad(r) for r in rows)):
        plain = [plain_array(r) if isinstance(r, GradArray) else np.asarray(r) for r in rows]
        flat = np.stack(plain) if plain else np.zeros((0,), dtype)
        return np.reshape(flat.astype(dtype, copy=False), shape)
    # Writing each row into a fresh array records one assignment per row: the outer transform
    # differentiates through them (np.stack needs no rule this way).
    out = GradArray(np.zeros((len(rows), *np.shape(rows[0])), dtype))
    for i, r in enumerate(rows):
        out[i] = r
    return np.reshape(out, shape)


def jacobian(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
    holomorphic: bool = False,
    mode: str = "auto",
) -> Callable[..., Any]:
    """Return a function that computes the Jacobian of ``fun``, by forward or reverse mode.

    Parameters
    ----------
    fun : callable
        Takes arrays and returns an array (or a tuple/list/dict of arrays).
    argnums : int or tuple of int, default 0
        The positional argument(s) to differentiate with respect to.
    has_aux : bool, default False
        ``fun`` returns ``(output, aux)``; the transformed function returns ``(jac, aux)``.
    allow_unused : bool, default False
        Give zeros, instead of an error, for an input that no output depends on (often the
        sign of ``np.asarray`` inside ``fun``; a really constant function needs this).
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.
    holomorphic : bool, default False
        Declare ``fun`` holomorphic, as in JAX: needed for a complex output of a complex
        input, where the Jacobian is the complex derivative ``dy/dz``.
    mode : {"auto", "forward", "reverse"}, default "auto"
        ``"reverse"`` pulls one row per output element back (:func:`jacrev`), ``"forward"``
        pushes one column per input element (:func:`jacfwd`), both over the one graph ``fun``
        records and, at the outermost level, many rows or columns per pass.
        ``"auto"`` records ``fun`` once and then takes forward mode when the inputs have no
        more elements than the outputs, the inputs are real and every function on the way has a
        cheap JVP rule (not a transposed VJP rule, nor an ODE solver's, which costs a backward
        solve per element of the solution), else reverse mode.

    Returns
    -------
    callable
        Returns, for an output ``y`` and an input ``x``, an array of shape
        ``y.shape + x.shape`` with ``jac[i..., j...] = d y[i...] / d x[j...]``. Containers
        nest as in JAX: the output's structure outside, the inputs' inside.

    Raises
    ------
    ValueError
        For a complex output of a complex input without ``holomorphic=True`` (a
        non-holomorphic function such as ``np.conj`` or ``np.abs`` has no complex
        derivative, and one number per entry cannot hold its two real Jacobians), and with
        ``holomorphic=True`` when ``fun`` is not holomorphic at the point (its derivative in
        ``conj(z)`` is not zero): use :func:`vjp` or :func:`jvp` for such functions.

    Notes
    -----
    For a real input and a complex output the entries are ``dRe(y)/dx + 1j * dIm(y)/dx``.
    For a complex input and a complex output (``holomorphic=True``) the entries are the
    complex derivative ``dy/dz``; each is checked against the Cauchy-Riemann equations, at
    the cost of a second reverse pass per output element. For a complex input and a real
    output each row is the gradient convention of :func:`grad`.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> nd.jacobian(lambda x: x[:2] * x[1:])(np.array([1.0, 2.0, 3.0]))
    array([[2., 1., 0.],
           [0., 3., 2.]])
    """

    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse', got {mode!r}")
    fname = getattr(fun, "__name__", "the function")
    nums_for = _argnums_for(argnums)

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        trace = _Trace(fun, args, kwargs, nums_for(len(args)), has_aux, scope)
        outs, spec = tree_flatten(trace.out)
        for o in outs:
            if not _float_output(o):
                raise TypeError(f"{fname} must return float or complex arrays, got {type(o)}")
        # the graph from the tracers to the outputs, for forward mode and batched rows
        plan = None if mode == "reverse" and trace.nested else _forward_plan(outs, trace)
        forward = plan is not None and (
            mode == "forward" or (mode == "auto" and _forward_pays(trace, outs, plan))
        )
        with _graph.one_graph_pulled_often():  # one pass per output (input) element
            if forward and plan is not None:
                results, reached = _jacobian_columns(fname, trace, outs, argnums, holomorphic, plan)
            else:
                results, reached = _jacobian_rows(fname, trace, outs, argnums, holomorphic, plan)
        if not allow_unused and not all(reached) and any(np.size(o) for o in outs):
            raise _disconnected(fname)
        jac = tree_unflatten(spec, results)
        return (jac, trace.aux) if has_aux else jac

    return wrapped


def _jacobian_rows(
    fname: str,
    trace: _Trace,
    outs: list[Any],
    argnums: ArgNums,
    holomorphic: bool,
    plan: ForwardPlan | None,
) -> tuple[list[Any], list[bool]]:
    """The Jacobian of each output with respect to the tracers, one backward pass per element
    or per batch of them (``plan``: the graph ``fun`` recorded, None when nested); and, per
    tracer, whether some pass reached it."""
    nested = trace.nested
    results = []
    reached = [False] * len(trace.tracers)
    for i, o in enumerate(outs):
        if not _float_output(o):
            raise TypeError(f"{fname} must return float or complex arrays, got {type(o)}")
        dtype, size, shape = o.dtype, o.size, o.shape  # an array or a NumPy scalar
        rows: list[list[Any]] = [[] for _ in trace.tracers]
        if dtype.kind == "f" and not nested and _requires_grad(o):
            if BATCH_ROWS and plan is not None:
                _batched_rows(plan, i, trace.tracers, rows, reached)
            else:
                _real_rows(trace, o, rows, reached)
        else:
            for i in range(size):
                unit = np.zeros(size, dtype)
                unit[i] = 1
                unit = unit.reshape(shape)
                pulled = trace.pull([o], [unit], nested)
                reached = [r or c is not None for r, c in zip(reached, pulled, strict=True)]
                cots = _zeros_for(pulled, trace.tracers)
                if dtype.kind == "c":
                    imag = _zeros_for(trace.pull([o], [1j * unit], nested), trace.tracers)
                for k, (c, t) in enumerate(zip(cots, trace.tracers, strict=True)):
                    if dtype.kind == "c":
                        if t.dtype.kind == "c":
                            _check_holomorphic(fname, holomorphic, c, imag[k])
                        c = np.conj(c) if t.dtype.kind == "c" else c + 1j * imag[k]
                    rows[k].append(c)
        jacs = [
            _assemble(r, shape + t.shape, nested) for r, t in zip(rows, trace.tracers, strict=True)
        ]
        results.append(trace.regroup(jacs, not nested, isinstance(argnums, int)))
    return results, reached


def jacfwd(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """The Jacobian of ``fun`` by forward mode: ``jacobian(..., mode="forward")``.

    ``fun`` is recorded once; each element of the inputs then gives one column ``J e_j`` of a
    forward pass over the recording, so it suits functions with fewer inputs than outputs. At
    the outermost level the columns are pushed in batches (each tangent with a leading batch
    axis, see the user guide's "Forward mode"); inside another transform, and for complex
    inputs, one per pass.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> nd.jacfwd(lambda x: np.stack([x[0] * x[1], np.sin(x[0]), x[1] ** 2]))(np.array([0.0, 2.0]))
    array([[2., 0.],
           [1., 0.],
           [0., 4.]])
    """
    return jacobian(fun, argnums, has_aux=has_aux, allow_unused=allow_unused, scope=scope,
                    holomorphic=holomorphic, mode="forward")  # fmt: skip


def jacrev(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
    scope: bool = True,
    holomorphic: bool = False,
) -> Callable[..., Any]:
    """The Jacobian of ``fun`` by reverse mode: ``jacobian(..., mode="reverse")``, one row
    ``e_i^T J`` per output element; it suits functions with fewer outputs than inputs. At the
    outermost level the rows of a real output are pulled back in batches (each cotangent with
    a leading batch axis, see the user guide's "Forward mode"); inside another transform, and
    for complex outputs, one per backward pass.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> nd.jacrev(lambda x: x[:2] * x[1:])(np.array([1.0, 2.0, 3.0]))
    array([[2., 1., 0.],
           [0., 3., 2.]])
    """
    return jacobian(fun, argnums, has_aux=has_aux, allow_unused=allow_unused, scope=scope,
                    holomorphic=holomorphic, mode="reverse")  # fmt: skip


def _forward_pays(trace: _Trace, outs: Sequence[Any], plan: ForwardPlan) -> bool:
    """Whether ``jacobian(mode="auto")`` takes forward mode: no more input than output elements
    (a square Jacobian: both modes batched, 100 -> 100 measured 0.40 ms forward and 0.37 ms
    reverse; forward pays for more outputs),
    real inputs, and a cheap JVP rule for every function on the way (a transposed VJP rule
    costs a small reverse pass per node and column, a solver's one backward solve per output
    element)."""
    n_in = sum(t.size for t in trace.tracers)
    n_out = sum(np.size(o) for o in outs)
    return n_in <= n_out and all(t.dtype.kind == "f" for t in trace.tracers) and not plan.slow()


def _jacobian_columns(
    fname: str,
    trace: _Trace,
    outs: list[Any],
    argnums: ArgNums,
    holomorphic: bool,
    plan: ForwardPlan,
) -> tuple[list[Any], list[bool]]:
    """The Jacobian of each output with respect to the tracers, one forward pass per input
    element or per batch of them (``plan``: the graph ``fun`` recorded); and, per tracer,
    whether a pass reached an output."""
    nested = trace.nested
    tracers = trace.tracers
    # columns[i][k]: the columns of output i's Jacobian in tracer k, one per element of k
    columns: list[list[list[Any]]] = [[[] for _ in tracers] for _ in outs]
    reached = [False] * len(tracers)
    for k, t in enumerate(tracers):
        complex_in = t.dtype.kind == "c"
        if BATCH_COLUMNS and not nested and not complex_in:  # many columns per push
            reached[k] = _batched_columns(plan, k, tracers, outs, [c[k] for c in columns])
            continue
        for j in range(t.size):
            unit = np.zeros(t.size, t.dtype)
            unit[j] = 1
            unit = unit.reshape(t.shape)
            tangents: list[Any] = [None] * len(tracers)
            tangents[k] = unit
            raw = plan.push(tangents, nested)
            reached[k] = reached[k] or any(p is not None for p in raw)
            pushed = _fitted(raw, outs)
            if complex_in:
                tangents[k] = 1j * unit
                turned = _fitted(plan.push(tangents, nested), outs)
            for i, (col, o) in enumerate(zip(pushed, outs, strict=True)):
                if complex_in:
                    if np.result_type(o).kind != "c":
                        raise ValueError(
                            f"jacobian of {fname} in forward mode: a real output of a complex "
                            "input has no complex derivative; use mode='reverse' (whose rows "
                            "are grad's convention) or nd.jvp."
                        )
                    _check_holomorphic(fname, holomorphic, col, turned[i])
                columns[i][k].append(col)
    results = []
    for i, o in enumerate(outs):
        shape = np.shape(o)
        jacs = []
        for k, t in enumerate(tracers):
            stacked = _assemble(columns[i][k], (t.size, *shape), nested)
            jacs.append(np.reshape(np.moveaxis(stacked, 0, -1), shape + t.shape))
        results.append(trace.regroup(jacs, not nested, isinstance(argnums, int)))
    return results, reached


# ``jacfwd`` at the outermost level pushes many input directions at once (``_batching``), as
# many as keep each batched tangent within ``_batching.BATCH_ELEMENTS`` elements; inside another
# transform, and for complex inputs, one per push. False: one per push always (the tests
# compare the two).
BATCH_COLUMNS = True


def _batched_columns(
    plan: ForwardPlan, k: int, tracers: Sequence[Any], outs: Sequence[Any], columns: list[Any]
) -> bool:
    """Append to ``columns[i]`` the columns of output ``i``'s Jacobian in real tracer ``k``,
    several per batched push; whether a push reached an output."""
    t = tracers[k]
    size = t.size
    step = batch_size(plan, size)
    metas = _metas(outs)
    reached = False
    for start in range(0, size, step):
        m = min(step, size - start)
        units = np.zeros((m, size), t.dtype)
        units[np.arange(m), np.arange(start, start + m)] = 1
        tangents: list[Any] = [None] * len(tracers)
        tangents[k] = units.reshape((m, *t.shape))
        pushed = push_batched(plan, tangents)
        reached = reached or any(p is not None for p in pushed)
        for col, p, (shape, dtype) in zip(columns, pushed, metas, strict=True):
            col.extend(np.zeros((m, *shape), dtype) if p is None else p)
    return reached


# ``jacrev`` likewise pulls many output cotangents back per pass at the outermost level, for a
# real output (``_batching.pull_batched``). False: one backward pass per row.
BATCH_ROWS = True


def _batched_rows(
    plan: ForwardPlan,
    i: int,
    tracers: Sequence[GradArray],
    rows: list[list[Any]],
    reached: list[bool],
) -> None:
    """``_real_rows`` for ``plan``'s output ``i``, several rows per batched backward pass."""
    target = plan.outputs[i]
    assert target is not None  # the output requires grad
    shape, dtype = plan.meta[target]
    size = math.prod(shape)
    step = batch_size(plan, size)
    cotangents: list[Any] = [None] * len(plan.outputs)
    for start in range(0, size, step):
        m = min(step, size - start)
        units = np.zeros((m, size), dtype)
        units[np.arange(m), np.arange(start, start + m)] = 1
        cotangents[i] = units.reshape((m, *shape))
        pulled = pull_batched(plan, cotangents)
        for k, (c, t) in enumerate(zip(pulled, tracers, strict=True)):
            if c is None:
                c = np.zeros((m, *t.shape), t.dtype)
            else:
                reached[k] = True
            rows[k].extend(c)


def _real_rows(trace: _Trace, o: GradArray, rows: list[list[Any]], reached: list[bool]) -> None:
    """The rows of the Jacobian of a real output ``o`` at the outermost level: what
    ``_jacobian_rows`` does with ``trace.pull`` per row, with what does not change between rows
    (the roots, the targets, the zeros of an unreached tracer) made once, as no user code runs
    between the passes."""
    if o._base_ga is not None:
        refresh(o)
    roots = [(o._node, o._out)]
    inputs = trace.targets
    zeros: list[Any] = [None] * len(inputs)
    dtype, size, shape = o.dtype, o.size, o.shape
    for i in range(size):
        unit = np.zeros(size, dtype)
        unit[i] = 1
        pulled = _graph.backward(
            roots, [unit.reshape(shape)], inputs=inputs, retain_graph=True, since=trace.since
        )
        assert pulled is not None
        for k, c in enumerate(pulled):
            if c is None:
                c = zeros[k]
                if c is None:  # np.stack copies the rows: one array of zeros serves them all
                    t = trace.tracers[k]
                    c = zeros[k] = np.zeros(t.shape, t.dtype)
            else:
                reached[k] = True
            rows[k].append(c)


def _check_holomorphic(fname: str, holomorphic: bool, c: Any, c_imag: Any) -> None:
    """Refuse a complex-to-complex Jacobian unless declared and the function is holomorphic.

    ``c`` and ``c_imag`` are the input's cotangents for the output cotangents ``e_i`` and
    ``1j * e_i``: ``conj(dy/dz) + dy/dconj(z)`` and ``1j * (conj(dy/dz) - dy/dconj(z))`` in
    PyTorch's convention, so ``c_imag == 1j * c`` exactly when ``dy/dconj(z) == 0``.
    """
    if not holomorphic:
        raise ValueError(
            f"jacobian of {fname}: a complex output of a complex input needs "
            "holomorphic=True (as in JAX), which declares that the function is holomorphic and "
            "its Jacobian the complex derivative dy/dz. A non-holomorphic function (np.conj, "
            "np.abs, np.real, ...) has no such derivative: use nd.vjp/nd.jvp, or split the "
            "input into real and imaginary parts. For the Hessian of a real function of "
            "complex inputs, use nd.hvp."
        )
    c, c_imag = np.asarray(c), np.asarray(c_imag)
    scale = max(float(np.max(np.abs(c), initial=0.0)), float(np.max(np.abs(c_imag), initial=0.0)))
    if not np.allclose(c_imag, 1j * c, rtol=1e-7, atol=1e-10 * max(scale, 1.0)):
        raise ValueError(
            f"jacobian(..., holomorphic=True) of {fname}: the function is not holomorphic at "
            "this point (its derivative in conj(z) is not zero), so dy/dz does not exist. Use "
            "nd.vjp/nd.jvp, or split the input into real and imaginary parts."
        )


def hessian(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    allow_unused: bool = False,
    scope: bool = True,
    mode: str = "forward",
) -> Callable[..., Any]:
    """Return a function that computes the Hessian of a real scalar-valued ``fun``.

    Parameters
    ----------
    fun : callable
        Takes real arrays and returns a real scalar.
    argnums : int or tuple of int, default 0
        The positional argument(s) to differentiate with respect to; with a tuple the result
        is a tuple of tuples of blocks, as in JAX.
    allow_unused : bool, default False
        Give zeros, instead of an error, for inputs the value does not depend on. (A
        gradient that does not depend on the inputs, as for a linear ``fun``, is fine
        either way: its Hessian is zero.)
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.
    mode : {"forward", "reverse"}, default "forward"
        How the gradient is differentiated again (see Notes).

    Returns
    -------
    callable
        Returns an array of shape ``x.shape + x.shape``.

    See Also
    --------
    hvp : a Hessian-vector product, without forming the Hessian.

    Notes
    -----
    ``fun`` and its gradient are recorded once; then ``mode="forward"`` (the default, forward
    over reverse, ``jacfwd(grad(fun))``) makes one forward pass per input element, and
    ``mode="reverse"`` (``jacrev(grad(fun))``) one backward pass. Both give the same Hessian;
    forward measured faster (20 parameters: 1.24 ms against 1.67 ms; see the performance
    page). For complex inputs, whose gradient is not holomorphic, it raises
    ``ValueError``: use :func:`hvp`, which treats them as pairs of reals.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> nd.hessian(lambda x: x[0] ** 2 * x[1])(np.array([1.0, 2.0]))
    array([[4., 2.],
           [2., 0.]])
    """
    if mode not in ("forward", "reverse"):
        raise ValueError(f"mode must be 'forward' or 'reverse', got {mode!r}")
    inner = grad(fun, argnums, allow_unused=allow_unused, scope=scope)
    return jacobian(inner, argnums, allow_unused=True, scope=scope, mode=mode)


def hvp(fun: Callable[..., Any], x: Any, v: Any, *, scope: bool = True) -> Any:
    """The Hessian of a real scalar-valued ``fun`` at ``x`` times ``v``, without forming it.

    Parameters
    ----------
    fun : callable
        Takes one argument (an array, a Python float, or a container of arrays) and returns a
        real scalar.
    x, v : array_like or container
        The point and the vector, of the same shape and structure.
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    array or container
        ``H @ v``, shaped like ``x``. Complex inputs are pairs of reals: the product is that of
        the real Hessian, in the gradient convention of :func:`grad`.

    Notes
    -----
    For real inputs outside other transforms it is reverse over forward, the gradient of the
    directional derivative ``x -> J(x) v``: one recording of ``fun``, one forward pass that
    records the tangent, one backward pass (measured 30 % faster than forward over reverse on
    the benchmark's logistic loss, which records the backward pass and pushes through both).
    Nested, for complex inputs, and where that product comes out exactly zero (a linear
    ``fun``, or a graph cut by a conversion, which forward over reverse then checks and
    names), it is forward over reverse, the JVP of ``grad(fun)`` with tangent ``v``: ``fun``
    runs a second time.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> nd.hvp(lambda x: np.sum(x**3), np.array([1.0, 2.0]), np.array([1.0, 0.0]))
    array([6., 0.])
    """
    arrays = type(x) is np.ndarray and type(v) is np.ndarray  # no structure to compare
    if not arrays and tree_flatten(v)[1] != tree_flatten(x)[1]:
        raise ValueError("v must have the structure of x")
    if not _nested((x, v)):
        product = _hvp_reverse_over_forward(fun, x, v, scope)
        if product is not None:
            return product
    # A gradient independent of x (a linear ``fun``) has a zero Hessian: not an error.
    _, product = jvp(grad(fun, scope=scope), (x,), (v,), allow_unused=True, scope=scope)
    return product


def _hvp_reverse_over_forward(fun: Callable[..., Any], x: Any, v: Any, scope: bool) -> Any:
    """``hvp`` at the outermost level as the gradient of ``x -> J(x) v``, in one graph; None
    where forward over reverse must decide (it checks and explains what this does not): an
    output that is not a real scalar recorded from ``x``, complex inputs, a product with a
    leaf of zeros only."""
    # ``alias``: ``fun`` may write into its argument, as it may under forward over reverse,
    # where the inner gradient's tracer is an identity of the outer one
    trace = _Trace(fun, (x,), {}, (0,), False, scope, alias=True)
    out, tracers = trace.out, trace.tracers
    if not (type(out) is GradArray and out._node is not None and out.dtype.kind == "f"):
        return None
    if out.shape != () or any(t.dtype.kind != "f" for t in tracers):
        return None
    leaves = [v] if type(v) is np.ndarray else tree_flatten(v)[0]
    t_in = [_tangent_for(t, tracer, False) for t, tracer in zip(leaves, tracers, strict=True)]
    plan = _forward_plan([out], trace)
    # Between the push's check of what a node saved and the backward pass's, only ndgrad's
    # passes over this one graph run: each node's fingerprints are compared once.
    with _graph.one_graph_pulled_often():
        (tangent,) = plan.push(t_in, True, own=True)
        if type(tangent) is not GradArray or tangent._node is None:
            return None  # it does not depend on x
        pulled = trace.pull_one(tangent, False)
    if any(p is None or _all_zero(p) for p in pulled):
        return None
    return trace.regroup(pulled, True, single=True)


# --- checkpointing --------------------------------------------------------------------------------


class RuleCache:
    """Share one computation among the calls of a rule that yields every input's cotangent.

    The engine runs a node's rule once per input, with the same cotangent ``g`` and the same
    argument objects: the first call computes all cotangents, the next ones reuse them. An entry
    is matched by the identity of ``g`` and of every argument (held, so that their ids cannot be
    reused), so two nodes never share results even when the engine hands both the same ``g``.
    Entries are per thread, and dropped once ``g`` is.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def get(
        self, g: Any, args: tuple[Any, ...], kwargs: dict[str, Any], compute: Callable[[], Any]
    ) -> Any:
        key = g[0] if isinstance(g, tuple) else g
        entry = getattr(self._local, "entry", None)
        if entry is not None:
            ref, held_args, held_kwargs, result = entry
            if (
                ref() is key
                and len(held_args) == len(args)
                and all(a is b for a, b in zip(held_args, args, strict=True))
                and held_kwargs.keys() == kwargs.keys()
                and all(held_kwargs[k] is kwargs[k] for k in kwargs)
            ):
                return result
        result = compute()
        local = self._local

        def forget(dead: Any) -> None:
            current = getattr(local, "entry", None)
            if current is not None and current[0] is dead:
                local.entry = None

        local.entry = (weakref.ref(key, forget), args, dict(kwargs), result)
        return result


def checkpoint(fun: Callable[..., Any], *, scope: bool = True) -> Callable[..., Any]:
    """Return ``fun`` with its intermediates recomputed in the backward pass instead of kept.

    The wrapped function records a single node that keeps only ``fun``'s inputs and output.
    When ``backward`` reaches it, ``fun`` runs again on fresh tracers and is backpropagated
    through; the intermediate arrays exist only during that step. Time for memory, as
    ``torch.utils.checkpoint``.

    Parameters
    ----------
    fun : callable
        Takes arrays (positional) and returns an array or a tuple of arrays. It must be
        deterministic: the backward pass calls it again. An array it holds (a closure, a
        default, a global it names) that is written before ``backward`` reaches the node
        raises ``InPlaceError`` there. It gets read-only views of its arguments: a write
        into one raises ``InPlaceError`` (run again on what it wrote, it would compute
        something else).
    scope : bool, default True
        Run ``fun`` inside :func:`ndgrad.tracing`: ``np.asarray`` and friends keep the graph,
        and converting an array that requires grad to a Python number raises
        ``GraphBreakError``. ``False`` runs ``fun`` as it is.

    Returns
    -------
    callable
        Computes the same values and gradients as ``fun``, of any order.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> block = nd.checkpoint(lambda x: np.tanh(np.sin(x) * 2.0))
    >>> g = nd.grad(lambda x: np.sum(block(block(x))))(np.array([0.5, 1.0]))
    >>> bool(np.allclose(g, nd.grad(lambda x: np.sum(np.tanh(np.sin(np.tanh(np.sin(x) * 2.0))
    ...     * 2.0)))(np.array([0.5, 1.0]))))
    True
    """
    fname = getattr(fun, "__name__", "checkpointed")
    cache = RuleCache()  # one recomputation serves every input of a node

    def recompute(slot: int, g: Any, ans: Any, *args: Any, **kwargs: Any) -> Any:
        return cache.get(g, args, kwargs, lambda: _rerun(args, kwargs, g)).get(slot)

    def _rerun(args: tuple[Any, ...], kwargs: dict[str, Any], g: Any) -> dict[int, Any]:
        """Run ``fun`` again on fresh tracers and backpropagate ``g`` through it."""
        slots = [i for i, a in enumerate(args) if _float_output(a) or isinstance(a, float)]
        # Under create_graph the arguments are tied to the outer graph: the tracers alias them,
        # so the recomputation is itself recorded and the result differentiable again.
        tracers = [_tracer(args[i]) for i in slots]
        targets = [(t._node, t._out) for t in tracers]  # before ``fun`` may write into them
        call = list(args)
        for i, t in zip(slots, tracers, strict=True):
            call[i] = t
        create = grad_enabled()
        with enable_grad(), maybe_tracing(scope, fun):
            out = fun(*call, **kwargs)
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        gs = list(g) if isinstance(g, tuple) else [g]
        pairs = [(o, c) for o, c in zip(outs, gs, strict=True) if _requires_grad(o)]
        if not pairs:
            raise ValueError(
                f"checkpoint({fname}): when recomputed on arrays that require grad, the block "
                "returned no float array that depends on them. The usual cause is a conversion "
                "that strips the GradArray: np.asarray(x), float(x) or math.* inside the block."
            )
        cots = _graph.backward(
            [(o._node, o._out) for o, _ in pairs],
            [c for _, c in pairs],
            inputs=targets,
            retain_graph=create,  # the recorded cotangents still use the recomputed nodes
            create_graph=create,
            lift=graph_array,
        )
        assert cots is not None
        return dict(zip(slots, cots, strict=True))

    def forward(*args: Any, **kwargs: Any) -> Any:
        # Runs on plain arrays, so nothing inside is recorded: unless ``fun`` reads an array
        # that requires grad from elsewhere (a closure), which the node would not know about.
        # The plain arguments are the inputs' memory on purpose: not refused as aliases. They
        # are read-only views: the backward pass runs ``fun`` again on the arguments, so a
        # block that wrote into them would be run on what it wrote (silently wrong).
        originals: dict[int, Any] = {}
        given, given_kwargs = read_only_arguments((args, kwargs), originals)
        try:
            with maybe_tracing(scope, fun):
                out = fun(*given, **given_kwargs)
        except ValueError as e:
            refused = wrote_into_arguments(
                e,
                f"checkpoint({fname})",
                "The backward pass runs the block again on its arguments, so it must leave "
                "them unchanged: write into a copy inside the block (z = z.copy()), or keep "
                "the in-place operation outside the checkpoint.",
            )
            if refused is None:
                raise
            raise refused from e
        out = returned_arguments(out, originals)  # a block that returns its argument
        if grad_enabled() and any(_requires_grad(o) for o in tree_flatten(out)[0]):
            raise ValueError(
                f"checkpoint({fname}) uses an array that requires grad without receiving it as "
                "an argument (a closure or a global): pass every such array as an argument, "
                "or its gradient would be lost."
            )
        return out

    def tangent(slot: int, t: Any, ans: Any, *args: Any, **kwargs: Any) -> Any:
        """Forward mode: ``fun`` run again, and the tangent of argument ``slot`` pushed
        through it (nested, when the pass is recorded)."""

        def along(x: Any) -> Any:
            return fun(*args[:slot], x, *args[slot + 1 :], **kwargs)

        _, out = jvp(along, (args[slot],), (t,), allow_unused=True, scope=scope)
        return tuple(out) if isinstance(out, list) else out

    prim = Primitive(forward, (), recompute, name=f"checkpoint({fname})")
    prim.set_jvp("rules", (), tangent)

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = call_primitive(prim, forward, args, kwargs)
        node = next((o._node for o in tree_flatten(out)[0] if _requires_grad(o)), None)
        if node is not None:  # the backward pass calls fun again: what it holds must not change
            node.versions += held_versions(fname, fun)
        return out

    return wrapped
