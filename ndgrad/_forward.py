"""Forward mode: tangents pushed through a recorded graph, from the inputs to the outputs.

A transform records the function's graph as for reverse mode; ``ForwardPlan`` orders the nodes
between its inputs and outputs once (parents first; only those that depend on an input, which
alone get tangents), and ``push`` visits each once, computing
its output tangent from its inputs' tangents with the primitive's forward rule
(``Primitive.jvp_kind``, see ``_registry``). It walks the very nodes ``backward`` walks, so
it sees in-place writes, views, the saved arrays' guards and the conversion scope as reverse
mode does: a tangent follows a write because the write is a node, and a saved array changed
behind ndgrad's back is refused before a rule reads it. A plan is pushed many times for a
Jacobian (one input direction per push); tangents are dropped once no node needs them.

Under ``create`` (inside another transform, or for tangents that require grad) the rules run
recorded, on GradArrays tied to their nodes, as backward runs them under create_graph: the
tangents are differentiable again, by either mode, to any order. A node whose values depend on
the transform's own tracers alone (``ForwardPlan.free``) reads its saved arrays plain: nothing
outside the transform can differentiate through them (the tangents themselves, and arrays a
rule reads from its closure, are still recorded when they require grad).

The graph is kept until the push is done, as for reverse mode: forward mode costs the memory
of the recorded graph, not only of the live tangents.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ndgrad import _graph
from ndgrad._array import GradArray, graph_array
from ndgrad._core import forward_order, forward_plan_steps, forward_steps, node_serial
from ndgrad._graph import (
    enable_grad,
    node_cotangents,
    replace_at,
    rule_inputs,
)
from ndgrad._registry import HOLOMORPHIC, ArrayMeta, Primitive

__all__ = [
    "ForwardPlan",
    "Transpose",
    "derived_tangents",
    "fit_tangent",
    "node_tangents",
    "rules_running",
]

Target = tuple[Any, int]  # (node, output index)
# (node, edges, incoming tangents, lift, meta) -> the node's output tangents
NodeTangents = Callable[[Any, tuple[Any, ...], list[Any], Any, dict[Target, Any]], list[Any]]

# What a primitive's function is when called on tangents: ``ndarray.__getitem__`` itself would
# bypass GradArray's override (and so the recording of nested tangents).
_CALLED_AS = {np.ndarray.__getitem__: operator.getitem}


class Transpose(Exception):
    """This node's forward rule cannot be derived here: transpose its VJP rules instead."""


def fit_tangent(t: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """Tangent ``t`` as an input of ``shape`` and ``dtype`` sees it: an array, broadcast
    from the shape an elementwise rule left it in, in the input's dtype (a real one for a real
    input, as backward drops the imaginary part of a real input's cotangent)."""
    if not isinstance(t, np.ndarray):
        t = np.asarray(t)
    if t.shape != shape:
        t = np.broadcast_to(t, shape)
    if t.dtype != dtype:
        if t.dtype.kind == "c" and dtype.kind != "c":
            t = np.real(t)
        if t.dtype != dtype:
            t = t.astype(dtype)
    return t


# ``push``'s compiled loop (``_core.forward_steps``) computes the common node
# (``_core.forward_plan_steps``: one output, array arguments, a JVP rule, a real elementwise
# ufunc, a multilinear factor or a linear function of one argument; nothing to check or fit;
# in a recorded push the saved arrays lifted as ``rule_inputs`` lifts them) itself, and every
# other one through ``node_tangents``: the same rules, the same results, tested both ways,
# recorded or not (tests/test_forward.py and tests/test_route_parity.py turn this off).
INLINE_COMMON_NODES = True


class ForwardPlan:
    """The nodes between ``inputs`` and ``outputs`` (``(node, out)`` targets), parents first."""

    def __init__(
        self,
        outputs: Sequence[Target | None],
        inputs: Sequence[Target],
        out_meta: Sequence[tuple[tuple[int, ...], Any]],
        since: int = 0,
    ) -> None:
        """``out_meta``: the outputs' ``(shape, dtype)``. ``since``: every input was made from
        this node serial on (a transform's tracers), so no older node is walked
        (``_core.forward_order``); 0 walks the whole graph above the outputs."""
        self.outputs = list(outputs)
        self.inputs = list(inputs)
        self.stop = stop = {node for node, _ in inputs}
        roots = list(dict.fromkeys(t[0] for t in outputs if t is not None))
        # the (shape, dtype) of every node output some edge reads: a node whose output is not
        # saved still has its shape known, for the zeros of a transposed rule
        self.meta: dict[Target, tuple[tuple[int, ...], Any]] = {
            t: m for t, m in zip(outputs, out_meta, strict=True) if t is not None
        }
        # the nodes that depend on an input, parents first; how many edges of the nodes walked
        # point at each node (forward_steps counts them down to drop tangents); and the nodes
        # that depend on the inputs alone, whose tangents a recorded push computes unrecorded
        self.order, self.consumers, self.free = forward_order(roots, stop, since, self.meta)

    @functools.cached_property
    def steps(self) -> list[tuple[Any, ...]]:
        """What ``push`` needs of each node (``_core.forward_plan_steps``), made at the first
        push: a plan made for a batched backward pass (``_batching.pull_batched``) needs
        none."""
        return forward_plan_steps(
            self.order, self.stop, self.meta, set(self.outputs), _common_rules, _ans_meta
        )

    def slow(self) -> list[str]:
        """The functions on the way whose forward rule costs far more than their VJP rule:
        none of their own (their VJP rules are transposed, a small reverse pass per node and
        push), or a costly one (a solver's Jacobian, made of backward solves)."""
        stop = self.stop
        return sorted(
            {
                n.prim.name
                for n in self.order
                if n not in stop
                and n.edges  # not a leaf
                and (n.prim.jvp_kind == "transpose" or n.prim.jvp_costly)
            }
        )

    def push(
        self,
        tangents: Sequence[Any],
        create: bool,
        node_fn: NodeTangents | None = None,
        *,
        own: bool = False,
    ) -> list[Any]:
        """The tangents of the outputs (``None`` where unreached) for ``tangents`` of the inputs
        (``None`` for an input without one). ``node_fn`` computes every node in place of
        ``node_tangents`` and the compiled common node (``_batching``'s batched tangents).

        ``own`` (with ``create``): record how the tangents depend on this plan's own inputs
        too, for a backward pass over the same graph afterwards (``hvp``, reverse over
        forward). A nested push leaves that out: there no outer transform can reach the nodes
        that depend on the inputs alone (``free``), so their tangents are computed unrecorded."""
        tan: dict[Target, Any] = {}
        for target, t in zip(self.inputs, tangents, strict=True):
            if t is not None:
                tan[target] = t
        lift = graph_array if create else None
        with rules_running(create):  # the loop is compiled (_core.forward_steps)
            forward_steps(
                self.steps,
                tan,
                dict(self.consumers),
                INLINE_COMMON_NODES and node_fn is None,
                node_tangents if node_fn is None else node_fn,
                lift,
                self.meta,
                None if own else self.free,
            )
        get = tan.get
        return [None if target is None else get(target) for target in self.outputs]


class rules_running:  # a context manager, named as the function it replaced
    """A pass that runs rules outside backward (forward mode, batched passes), as backward runs
    them: grad mode is ``create``, and the rules are ndgrad's own NumPy code, not the user's,
    so no conversion scope applies to them. (A class, not a generator: it is entered on every
    ``nd.jvp`` call.)"""

    __slots__ = ("create", "tokens")

    def __init__(self, create: bool) -> None:
        self.create = create

    def __enter__(self) -> None:
        self.tokens = (_graph.GRAD_MODE.set(self.create), _graph.scope_depth.set(0))

    def __exit__(self, *exc: object) -> None:
        grad_token, scope_token = self.tokens
        _graph.scope_depth.reset(scope_token)
        _graph.GRAD_MODE.reset(grad_token)


def _common_rules(prim: Primitive, slots: tuple[int, ...], n_args: int) -> tuple[str, Any]:
    """``(jvp_kind, rule per edge)`` for a common node of ``prim`` whose edges read the whole
    arguments ``slots`` (``None``: it is not common; its kind's node checks come after, in
    ``_core.forward_plan_steps``). The same for every node of the primitive called that way,
    and a plan is made per call of a nested transform: kept in ``prim.forward_common`` (which
    the compiled steps read first, and ``set_jvp`` empties)."""
    known = prim.forward_common.get((slots, n_args))
    if known is not None:
        return known  # type: ignore[no-any-return]
    kind = prim.jvp_kind
    fasts: list[Any] | None = None
    if prim.jvp_argnum is not None:
        pass  # one variadic JVP rule: node_tangents calls it
    elif kind == "rules":
        rules = prim.jvp_rules
        fasts = [rules[s] if s < len(rules) else None for s in slots]
    elif kind == "linear" and len(slots) == 1:
        factor = _linear_factor(prim, n_args)
        if factor is not None and factor.args[1] == slots[0]:
            fasts = [factor]
    elif kind == "elementwise":
        rules = prim.rules
        fasts = [rules[s] if s < len(rules) else None for s in slots]
    elif kind == "multilinear":
        func = _function(prim)
        fasts = [functools.partial(_factor, func, slot) for slot in slots]
    known = prim.forward_common[(slots, n_args)] = (kind, fasts)
    return known


@functools.lru_cache(maxsize=1024)
def _ans_meta(shape: tuple[int, ...], dtype: Any) -> ArrayMeta:
    """The ``ArrayMeta`` of an output a node did not keep, one per shape and dtype: plans are
    made per call of a nested transform, and nothing writes to it."""
    return ArrayMeta(shape, dtype)


@functools.lru_cache(maxsize=256)
def _linear_factor(prim: Primitive, n_args: int) -> Any:
    """For a function linear in its one differentiable argument (of ``n_args``), the function
    called on that argument's tangent, or None when several are differentiable (the others'
    zeros would be needed)."""
    live = [i for i in range(n_args) if prim.rule_for(i) is not None]
    if len(live) != 1:
        return None
    return functools.partial(_factor, _function(prim), live[0])


def _factor(func: Any, slot: int, t: Any, _: Any, *args: Any, **kwargs: Any) -> Any:
    """A multilinear function with argument ``slot`` replaced by its tangent (or a linear one
    of that argument alone)."""
    return func(*args[:slot], t, *args[slot + 1 :], **kwargs)


def node_tangents(
    node: Any, edges: tuple[Any, ...], incoming: list[Any], lift: Any, meta: dict[Target, Any]
) -> list[Any]:
    """The tangent of each output of ``node`` (``None``: zero) from its edges' tangents."""
    args, ans = rule_inputs(node, lift)
    n_out = node.n_out
    fitted = []
    for e, t in zip(edges, incoming, strict=True):
        if t is not None and not (
            isinstance(t, np.ndarray) and t.shape == e.shape and t.dtype == e.dtype
        ):
            t = fit_tangent(t, e.shape, e.dtype)
        fitted.append(t)
    prim: Primitive = node.prim
    kind = prim.jvp_kind
    if ans is None and n_out == 1:
        ans = ArrayMeta(*meta[(node, 0)])  # a JVP rule may read the output's shape and dtype
    by_slot: dict[int, list[tuple[Any, Any]]] = {}
    old = None
    for e, t in zip(edges, fitted, strict=True):
        if t is None:
            continue
        if e.slot < 0:  # the old value of an ``out=`` array, kept where ``where`` is False
            old = t
        else:
            by_slot.setdefault(e.slot, []).append((e.flat, t))
    try:
        if kind == "transpose":
            raise Transpose
        results = (
            derived_tangents(node, prim, by_slot, args, ans, n_out) if by_slot else [None] * n_out
        )
    except Transpose:
        return _transposed(node, list(zip(edges, fitted, strict=True)), lift, meta)
    if node.where is not None:  # out = where(where, f(...), old); n_out == 1 for ``where=``
        t = results[0]
        results = [np.where(node.where, 0 if t is None else t, 0 if old is None else old)]
    return results


def derived_tangents(
    node: Any,
    prim: Primitive,
    by_slot: dict[int, list[tuple[Any, Any]]],
    args: tuple[Any, ...],
    ans: Any,
    n_out: int,
) -> list[Any]:
    kind = prim.jvp_kind
    kwargs = node.kwargs
    if kind == "linear":
        call = list(args)
        live = [i for i in range(len(args)) if prim.rule_for(i) is not None]
        for i in live:
            call[i] = _slot_tangent(args, i, by_slot[i]) if i in by_slot else _zeros_of(args[i])
        return _as_outputs(_function(prim)(*call, **kwargs), n_out)
    total: list[Any] = [None] * n_out
    for slot, items in by_slot.items():
        t = _slot_tangent(args, slot, items)
        if kind == "multilinear":
            call = list(args)
            for i, a in enumerate(call):
                if i != slot and (a is None or isinstance(a, ArrayMeta)):
                    raise Transpose  # another factor was not kept
            call[slot] = t
            part = _function(prim)(*call, **kwargs)
        elif kind == "elementwise":
            rule = prim.rules[slot] if slot < len(prim.rules) else None
            if rule is None:
                continue
            if _complex(t, ans):
                if prim.func not in HOLOMORPHIC:
                    raise Transpose
                part = np.conj(rule(np.conj(t), ans, *args, **kwargs))
            else:
                part = rule(t, ans, *args, **kwargs)
        else:  # "rules"
            if prim.jvp_argnum is not None:
                part = prim.jvp_argnum(slot, t, ans, *args, **kwargs)
            else:
                rule = prim.jvp_rules[slot] if slot < len(prim.jvp_rules) else None
                if rule is None:
                    continue
                part = rule(t, ans, *args, **kwargs)
        for i, p in enumerate(_as_outputs(part, n_out)):
            if p is not None:
                total[i] = p if total[i] is None else total[i] + p
    return total


def _as_outputs(value: Any, n_out: int) -> list[Any]:
    if n_out == 1:
        return [value]
    return list(value)


def _function(prim: Primitive) -> Any:
    func = prim.func
    if isinstance(func, tuple):  # (ufunc, method)
        return getattr(func[0], func[1])
    return _CALLED_AS.get(func, func)


def _complex(t: Any, ans: Any) -> bool:
    """Whether a ufunc's call involves complex numbers: a complex input makes a complex output,
    or (``abs``, ``angle``) is the input whose tangent ``t`` is complex."""
    return t.dtype.kind == "c" or _dtype_kind(ans) == "c"  # type: ignore[no-any-return]


def _dtype_kind(a: Any) -> str:
    return a.dtype.kind if hasattr(a, "dtype") else np.result_type(a).kind  # type: ignore[no-any-return]


def _slot_tangent(args: tuple[Any, ...], slot: int, items: list[tuple[Any, Any]]) -> Any:
    """The tangent of argument ``slot``: the array's, or for a sequence of arrays a sequence of
    the same structure, with zeros for the elements that have none."""
    if len(items) == 1 and items[0][0] is None:
        return items[0][1]
    seq = args[slot]
    if type(seq) not in (list, tuple):
        raise Transpose  # the sequence was not kept: its other elements' shapes are unknown
    tangent = _zeros_of(seq)
    for flat, t in items:
        tangent = replace_at(tangent, flat, t)
    return tangent


def _zeros_of(a: Any) -> Any:
    """A zero tangent shaped like the saved argument ``a`` (an array, a sequence of them, or
    what a node keeps of an array it does not read: its ``ArrayMeta``)."""
    if a is None:
        raise Transpose
    if isinstance(a, ArrayMeta):
        return np.zeros(a.shape, a.dtype)
    if type(a) in (list, tuple):
        return type(a)(_zeros_of(x) for x in a)
    return np.zeros(np.shape(a), np.result_type(a))


def _transposed(
    node: Any, fitted: list[tuple[Any, Any]], lift: Any, meta: dict[Target, Any]
) -> list[Any]:
    """The JVP as the transpose of the node's VJP rules: for the cotangent ``g`` of its outputs
    they give ``J* g``, linear in ``g``, so ``J t`` is the gradient in ``g`` of
    ``Re <J* g, t> = Re <g, J t>``: one small reverse pass over the rules. It is taken at
    ``g = 1``, not 0: the gradient is the same anywhere, and rules that return zeros for a
    zero cotangent without computing (``qr``'s, to avoid a singular solve) would hide it."""
    n_out = node.n_out
    since = node_serial()  # the pass below reaches gs, made from here on
    gs: list[Any] = []
    for i in range(n_out):
        shape, dtype = node.out_meta[i] if node.out_meta is not None else meta[(node, i)]
        if dtype.kind in "fc":
            gs.append(GradArray(np.ones(shape, dtype), requires_grad=True))
        else:
            gs.append(np.zeros(shape, dtype))
    g = gs[0] if n_out == 1 else tuple(gs)
    targets = [(x._node, x._out) for x in gs if isinstance(x, GradArray)]  # before any rule runs
    tangents = dict(fitted)  # by the edges' values: two edges of a node differ in slot or path
    total: Any = None
    # The rules always see their arguments as GradArrays tied to the graph, as under
    # create_graph: a rule may be written only for that case (a solver's recorded backward
    # pass). Backward then reaches ``gs`` alone, and frees nothing (``retain_graph``).
    with enable_grad():
        for edge, c in node_cotangents(node, g, graph_array):
            t = tangents.get(edge)
            if t is None:
                continue
            term = np.sum(np.real(np.conj(c) * t)) if c.dtype.kind == "c" else np.sum(c * t)
            total = term if total is None else total + term
    if not (isinstance(total, GradArray) and total._node is not None):
        return [None] * n_out  # the rules do not depend on g: a zero tangent
    create = lift is not None
    found = _graph.backward(
        [(total._node, total._out)],
        [GradArray(np.ones((), total.dtype)) if create else np.ones((), total.dtype)],
        inputs=targets,
        retain_graph=True,
        create_graph=create,
        lift=graph_array,
        since=since,
    )
    assert found is not None
    it = iter(found)
    return [next(it) if isinstance(x, GradArray) else None for x in gs]
