"""Nodes, grad mode, version checks and the backward pass.

A GradArray that requires grad points at the node that made it (``_node``, and ``_out`` for
which output of that node it is). A node holds:

- ``edges``: one ``Edge`` per input that requires grad, naming the parent node;
- ``args``/``kwargs``/``ans``: what its rules read, as plain ndarrays (only the arguments some
  rule reads are kept: see ``Primitive.saves``);
- ``versions``: for each saved array, its version counter, the version it was saved at, what
  it is (argument slot or output) and the ``Guard`` of its memory (see below).

Leaves point at a ``LeafNode`` that holds a weak reference back to the array, so the graph has
no reference cycles: dropping the output frees everything.

What a node saves is safe from later writes, by any route. An array of at most ``COPY_BYTES``
is copied when saved: a private copy costs less than a guard, and nothing can write it.

Memory guards (copy-on-write), for larger arrays. An array that a live node saved (whether it
requires grad or not) is guarded: the array object (for a plain operand, also the owner of its
memory) is made read-only, so that a write ndgrad cannot see (a plain alias made afterwards
from ``np.asarray`` or ``.values``, compiled code through the buffer protocol) fails with
NumPy's "assignment destination is read-only" instead of changing a gradient. A write ndgrad
sees (``x += y``, ``out=``, ``x[i] = v``, ...) first calls ``release_for_write``: the nodes get
a copy of what they saved, made then and only then, and the memory becomes writable again. A
write it sees through another GradArray over memory a guard covers (``GUARDED``) is refused.
Each node keeps a ``Hold`` on the guard; when the last hold is dropped (the node freed),
the guard restores the flags it changed, and only those. Counts change under one re-entrant
lock, so threads that save and free the same memory at once keep them exact.

Fingerprints, for what the guards cannot stop. NumPy keeps the writeable flag per array object,
so a plain view made *before* the save (``a = np.asarray(h)``, ``buf[:]`` of a constant, a slice
of an intermediate base, ``h.base``) stays writable, and NumPy cannot list an array's views: such
a write cannot be prevented. It is detected: each guarded array's ``fingerprint`` (exact for any
one changed element and any swap of two) is taken when it is saved, kept in the node's ``Hold``
(and the guard), and compared in ``_check_versions`` before backward uses the array, and in
``release_for_write`` before a copy-on-write copies it; a difference raises ``InPlaceError``. A
ufunc's result saved by the call that made it needs none (``guard_saved(..., fresh=True)``): no
view of it existed before, and its base is made read-only with it. ``NDGRAD_CHECK_SAVED=0``
turns the check off. A write during backward (another thread) is not seen.

``backward`` sorts the graph topologically (Kahn's algorithm, no recursion), visits each node
once and sums the cotangents that arrive by different paths before using them.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any, NamedTuple, TypeVar

import numpy as np

from ndgrad._core import (
    Hold,
    Node,
    backward_pass,
    collect_nodes,
    configure,
    configure_guards,
    fingerprint,
    memory_owner,
    restore_guard,
)
from ndgrad._errors import InPlaceError
from ndgrad._registry import PERMANENT_PRIMITIVES, ArrayMeta, Primitive, unbroadcast

__all__ = [
    "Edge",
    "LeafNode",
    "Node",
    "backward",
    "collect_nodes",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]

F = TypeVar("F", bound=Callable[..., Any])

# --- grad mode: per thread and per async context ------------------------------------------------

_grad_enabled: ContextVar[bool] = ContextVar("ndgrad_grad_enabled", default=True)
GRAD_MODE = _grad_enabled  # (the compiled fast path reads the variable itself)
grad_enabled = _grad_enabled.get  # the dispatch path calls this on every operation

# How many conversion-keeping scopes (``ndgrad.tracing``) the current context is inside. The
# engine reads it where a conversion to a Python value would drop the graph.
scope_depth: ContextVar[int] = ContextVar("ndgrad_tracing_depth", default=0)


def is_grad_enabled() -> bool:
    """Whether operations on arrays that require grad are recorded in this context."""
    return _grad_enabled.get()


class set_grad_enabled:
    """Context manager and decorator that turns recording on or off.

    Parameters
    ----------
    mode : bool
        ``True`` records operations, ``False`` does not.

    Notes
    -----
    The mode lives in a ``contextvars.ContextVar``: it is per thread and per async task, so a
    ``no_grad`` block in one thread does not stop another thread from recording.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._tokens: list[Any] = []

    def __enter__(self) -> None:
        self._tokens.append(_grad_enabled.set(self.mode))

    def __exit__(self, *exc: object) -> None:
        _grad_enabled.reset(self._tokens.pop())

    def __call__(self, func: F) -> F:
        """Use as a decorator: ``func`` runs with this mode."""
        mode = self.mode

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = _grad_enabled.set(mode)
            try:
                return func(*args, **kwargs)
            finally:
                _grad_enabled.reset(token)

        wrapper.__wrapped__ = func  # type: ignore[attr-defined]
        wrapper.__name__ = getattr(func, "__name__", "wrapper")
        wrapper.__doc__ = func.__doc__
        return wrapper  # type: ignore[return-value]


class no_grad(set_grad_enabled):
    """Do not record operations: for parameter updates and evaluation.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> w = nd.GradArray([1.0, 2.0], requires_grad=True)
    >>> with nd.no_grad():
    ...     w -= 0.5  # an in-place update of a leaf, allowed because it is not recorded
    >>> w
    GradArray([0.5, 1.5], requires_grad=True)
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record operations again inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


# --- nodes ------------------------------------------------------------------------------------


class Edge(NamedTuple):
    """One input that requires grad: where its cotangent goes, and what it must look like."""

    slot: int  # positional argument (-1: the old value of an ``out=`` array under ``where=``)
    flat: tuple[int, ...] | None  # path within a sequence argument; None: an array argument
    parent: Any  # Node or LeafNode
    out: int  # which output of the parent
    shape: tuple[int, ...]
    dtype: np.dtype[Any]


class LeafNode:
    """Where gradients for a leaf array are accumulated (into ``array.grad``)."""

    __slots__ = ("__weakref__", "ref")
    edges: tuple[Edge, ...] = ()
    n_out = 1

    def __init__(self, array: Any) -> None:
        self.ref = weakref.ref(array)

    @property
    def name(self) -> str:
        return "leaf"


# What a node whose rules need no keyword arguments holds: one shared, never-modified dict
# instead of a new one per operation.
NO_KWARGS: dict[str, Any] = {}
# ``versions`` entries name what they saved by position: an argument's slot, or this for ``ans``.
OUTPUT = -1
# The slot of a ``versions`` entry for an array that the node's function holds (``_held``).
HELD = -2

# Built with tuple.__new__ directly: NamedTuple's own __new__ is a Python function, and an edge
# is made for every recorded input.
_tuple_new = tuple.__new__


def make_edge(slot: int, flat: tuple[int, ...] | None, x: Any) -> Edge:
    """The edge to GradArray ``x``, passed at positional ``slot`` (``flat``: within a sequence)."""
    return _tuple_new(Edge, (slot, flat, x._node, x._out, x.shape, x.dtype))  # type: ignore[no-any-return]


# ``Node`` (one recorded operation) is compiled, with the backward loop (ndgrad/_core.c). It
# holds ``prim``, ``edges`` (inside the node; read from Python as a tuple of ``Edge``, made on
# the first read and then the same tuple; ``Node()`` copies the fields of the Edges it is
# given), ``args``, ``kwargs``, ``ans``, ``versions`` (``counter, seen, what, hold`` for each
# saved array, flat in one tuple: one container fewer per saved array for the garbage collector
# to visit; ``what`` is the argument's slot, ``OUTPUT`` or ``HELD``), ``out_meta`` (the
# ``(shape, dtype)`` of each output, or None for a node with one output: the only case that
# needs no zeros for a missing cotangent), ``n_out``, ``where`` and ``freed``.
# Built as ``Node(prim, edges, args, kwargs, ans, versions, out_meta, where=None)``.


# --- fingerprints of saved arrays ------------------------------------------------------------

# NumPy keeps the writeable flag per array object, so a plain view made *before* a node saved an
# array (``a = np.asarray(h)``, a slice of a constant's buffer) stays writable when the guard
# makes the array read-only, and NumPy cannot list an array's views. Such a write cannot be
# prevented; it is detected: each guarded array's fingerprint is taken when it is saved and
# compared before backward uses it (and before a copy-on-write keeps its old values).
# ``NDGRAD_CHECK_SAVED=0`` turns the check off, for users who accept the risk.
CHECK_SAVED = os.environ.get("NDGRAD_CHECK_SAVED", "1") != "0"

# What a fingerprint is, and why it detects any single change and any swap: ``_core.fingerprint``
# (compiled: the guards take one for each array they save). Looked up here as a global, by the
# compiled guards too, so that a test can replace it.


def intact(a: Any, fp: Any) -> bool:
    """Whether ``a`` still has the fingerprint ``fp`` taken when it was saved (for
    ``SEALED_MARK``: whether its memory is still sealed)."""
    if fp is SEALED_MARK:
        return sealed(a)
    now = fingerprint(a)
    if now is None or fp is None:
        return now is fp
    # uint64 sums, equal exactly when their bytes are (np.array_equal's Python layers cost
    # more than the comparison itself)
    return bool(now.shape == fp.shape and now.tobytes() == fp.tobytes())


# Memory that no writable array can reach: a transform's private copy of an input, made read-only
# before anyone saw it (``seal``). A view of read-only memory is read-only, and NumPy refuses to
# make it writable again, so no write that respects the flag can change it: saves of it need no
# fingerprint. By id of the owner, with a weak reference to it (its entry goes with it).
_SEALED: dict[int, Any] = {}


def seal(owner: Any) -> None:
    """Make ``owner``, an array that owns its memory and that nothing else refers to yet,
    read-only, and remember that no writable view of it exists."""
    owner.flags.writeable = False
    key = id(owner)
    _SEALED[key] = weakref.ref(owner, lambda _: _SEALED.pop(key, None))


def sealed(a: Any) -> bool:
    """Whether ``a``'s memory is sealed (``seal``) and still read-only."""
    owner = memory_owner(a)
    ref = _SEALED.get(id(owner))
    return ref is not None and ref() is owner and not owner.flags.writeable


# What a node keeps for the fingerprint of a sealed array: the check before backward uses it
# is that its memory is still sealed. Code that makes the owner writable again (``t.base.flags.
# writeable = True``, the one way around the seal) may have written to it: refused, as a
# changed fingerprint is.
SEALED_MARK: Any = object()


# What a copy-on-write puts in a snapshot for an array found written behind ndgrad's back.
TAMPERED: Any = object()


def _tampered(node: Node, slot: int, raw: Any) -> InPlaceError:
    what = f"the output of {node.name}" if slot == OUTPUT else f"argument {slot} of {node.name}"
    return InPlaceError(
        f"{what} (a {raw.dtype} array of shape {raw.shape}), saved by {node.name} for the "
        f"backward pass, was changed after {node.name} saved it, through a view made before it "
        "was saved (a plain alias such as np.asarray(...), or a slice of the same buffer; "
        "NumPy leaves such a view writable when ndgrad makes the saved array read-only), so "
        "ndgrad could not see the write and the gradient would use the new values. Write "
        "through the GradArray itself (ndgrad then keeps the old values), make the alias after "
        "the operation (it is then read-only), or pass a copy (`x.copy()`) to the operation."
    )


class Held:
    """An array that the function a node calls again in backward holds (``nd.checkpoint``'s
    block, an ODE's right-hand side): ``raw`` (its plain values), its fingerprint ``fp`` when
    the node was recorded (None: not checked), and who holds it, for the error."""

    __slots__ = ("fp", "holder", "plain", "raw")
    snapshot = None  # never a copy: the function reads the array itself

    def __init__(self, raw: Any, fp: Any, holder: str, plain: bool) -> None:
        self.raw, self.fp, self.holder, self.plain = raw, fp, holder, plain


def _held_changed(node: Node, held: Held) -> InPlaceError:
    raw, kind = held.raw, "a plain ndarray" if held.plain else "a GradArray"
    return InPlaceError(
        f"{node.name}: an array that {held.holder} holds ({kind}, {raw.dtype}, shape "
        f"{raw.shape}) was modified between the forward pass and backward(). The backward pass "
        f"calls {held.holder} again, so the gradient would be computed with the new values for "
        "a result computed with the old ones. Call backward() before modifying it, or give the "
        "function a copy (np.copy) that you leave alone."
    )


# --- memory guards ----------------------------------------------------------------------------

# Saved arrays of at most this many bytes are copied when a node saves them: a private copy
# costs less than a guard (about 1 us against 5), and no write by any route (a plain alias made
# earlier, ``h.base``, another GradArray over the same memory) can change it. Larger ones are
# guarded. A graph that saves one small array n times holds n copies: at most n * 16 KiB.
# ``NDGRAD_COPY_BYTES=0`` guards every saved array: a run of the test suite with it exercises the
# guards on the small arrays tests use. The tests of the copies themselves are left out then
# (``tests/_helpers.needs_small_copies``); about 30 others fail loudly, as guards make them: code
# that writes into an array a live node saved (read-only), NumPy's ``broadcast_arrays`` of a
# locked array, an aliased write refused with InPlaceError.
COPY_BYTES = int(os.environ.get("NDGRAD_COPY_BYTES", 16 * 1024))

# Plain ndarrays that guards made read-only, by id: [array, how many guards hold it, a
# fingerprint or None]. Several guards can hold one owner (two arrays over the same memory); the
# last one restores the flag. The fingerprint, ``(address, nbytes, fp)`` of a contiguous array
# over the owner's memory taken while it was locked, serves every later save of those bytes
# until the entry goes (see ``guard_plain``).
# The counts are updated under ``_LOCKS_MUTEX`` (re-entrant: a guard may be collected while its
# thread holds it), so that two threads saving or freeing the same memory never lose a count.
LOCKS: dict[int, list[Any]] = {}
_LOCKS_MUTEX = threading.RLock()
# Views that could not be made writable again because their base was still held: retried.
_STUCK: list[Any] = []


# Owners of memory that a GradArray's guard covers, by id: how many guards. A write ndgrad sees
# through another GradArray over the same memory (one ndgrad did not link) is refused while this
# holds its owner (see ``_inplace.prepare_write``). The flag of the owner is left alone: views
# made before (the tracer of a transform's input, its slices) would become writable views of
# read-only memory, which NumPy's own functions (``broadcast_arrays``, ``meshgrid``) refuse.
# The ids are stable while counted: the saved arrays keep their owner alive.
GUARDED: dict[int, int] = {}

# The snapshot of a guard released with nothing to keep (its last hold dropped).
_RELEASED: dict[int, Any] = {}

# The guards, the holds nodes keep on them, and saving and releasing them are compiled
# (``_core``: ``Guard``, ``Hold``, ``guard_saved``, ``guard_plain``, ``restore_guard``) and
# share the tables and the lock above; what stays here is the copy-on-write below.
configure_guards(
    LOCKS, GUARDED, _STUCK, _LOCKS_MUTEX, _RELEASED, globals(), SEALED_MARK, CHECK_SAVED
)


def release_for_write(state: list[Any]) -> None:
    """Before a write ndgrad sees: the nodes keep a copy of what they saved, the memory is freed."""
    ref = state[1]
    if ref is None:
        return
    state[1] = None
    g = ref()
    if g is None:
        return
    with _LOCKS_MUTEX:
        if g.snapshot is not None:
            return  # released already, by its last hold
        saved = [(g.saved, g.fp)] if g.saved is not None else []
        saved += [v for k, v in g.more or () if k == "saved"]
        # Checked before the copy: a write through an earlier view since the save would
        # otherwise be copied into the snapshot and pass for the old value.
        snapshot = {
            id(r): np.copy(r) if fp is None or intact(r, fp) else TAMPERED for r, fp in saved
        }
        restore_guard(g, snapshot)


# A version counter that never changes: the entry for a plain operand, which only its guard
# protects.
CONSTANT_STATE: list[Any] = [0, None]


# --- backward ---------------------------------------------------------------------------------

Target = tuple[Any, int]  # (node, output index)


# A transform that backpropagates through one graph many times (a Jacobian, row by row) runs no
# user code between the passes: the fingerprints the first pass verified hold for the rest, so
# only the version counters are checked again (see ``one_graph_pulled_often``).
_VERIFIED: ContextVar[set[Any] | None] = ContextVar("ndgrad_verified", default=None)


class one_graph_pulled_often:  # a context manager, named as the function it replaced
    """Within the block, each node's saved fingerprints are compared once, not once a pass.
    (A class, not a generator: ``nd.hvp`` enters one on every call.)"""

    __slots__ = ("token",)

    def __enter__(self) -> None:
        self.token = _VERIFIED.set(set())

    def __exit__(self, *exc: object) -> None:
        _VERIFIED.reset(self.token)


def _check_versions(node: Node) -> None:
    """Before backward uses what ``node`` saved: give it the copies made for it by writes ndgrad
    saw since; refuse if a value is gone, or was changed by a write ndgrad could not see (its
    fingerprint, taken when it was saved, differs)."""
    versions = node.versions
    kept: list[Any] = []
    verified = _VERIFIED.get()
    compare = verified is None or node not in verified  # the fingerprints, this time
    if verified is not None:
        verified.add(node)
    for i in range(0, len(versions), 4):
        counter, seen, slot, hold = versions[i : i + 4]
        if slot == HELD:  # no copy can stand in for it: any change is refused
            changed = compare and hold.fp is not None and not intact(hold.raw, hold.fp)
            if counter[0] != seen or changed:
                raise _held_changed(node, hold)
            kept += versions[i : i + 4]
            continue
        if counter[0] == seen:
            if compare and hold.fp is not None and not intact(hold.raw, hold.fp):
                raise _tampered(node, slot, hold.raw)
            kept += versions[i : i + 4]
            continue
        snapshot = hold.snapshot if hold is not None else None
        if snapshot:
            if snapshot.get(id(hold.raw)) is TAMPERED:  # found changed when the copy was made
                raise _tampered(node, slot, hold.raw)
            if slot == OUTPUT:
                node.ans = _substitute(node.ans, snapshot)
            else:
                node.args = _substitute(node.args, snapshot)
            continue
        what = f"the output of {node.name}" if slot == OUTPUT else f"argument {slot} of {node.name}"
        raise InPlaceError(
            f"{what} saved by {node.name} for the backward pass was modified in place "
            f"afterwards (its version went from {seen} to {counter[0]}), and its old value was "
            "not kept. Compute the in-place operation on a copy (`x = x.copy()`), or modify the "
            "array before it is used."
        )
    node.versions = tuple(kept)


def _substitute(value: Any, snapshot: dict[int, Any]) -> Any:
    """``value`` with each saved array replaced by the copy of its old values."""
    if isinstance(value, np.ndarray):
        return snapshot.get(id(value), value)
    if type(value) in (list, tuple):
        return type(value)(_substitute(v, snapshot) for v in value)
    return value


def _check_live(node: Node) -> None:
    if node.freed:
        raise RuntimeError(
            f"backward() reached {node.name} through a graph that an earlier backward() already "
            "freed. Pass retain_graph=True to the first backward() to backpropagate twice."
        )


# How a rule's argument becomes a GradArray tied to its node when the backward pass is itself
# recorded (create_graph): ``graph_array(raw, node, out)`` of the array type, which sits above
# this module and passes it in.
Lift = Callable[[Any, Any, int], Any]


def _unpack(node: Node, graph_array: Lift | None) -> tuple[tuple[Any, ...], Any]:
    """The rule arguments: plain arrays, or (create_graph) GradArrays tied to their nodes."""
    if graph_array is None:
        return node.args, node.ans
    args = list(node.args)
    for edge in node.edges:
        if edge.slot < 0 or args[edge.slot] is None or isinstance(args[edge.slot], ArrayMeta):
            continue
        if edge.flat is None:
            args[edge.slot] = graph_array(args[edge.slot], edge.parent, edge.out)
            continue
        kept = at_path(args[edge.slot], edge.flat)
        if not isinstance(kept, ArrayMeta):  # a sequence kept for its structure only
            leaf = graph_array(kept, edge.parent, edge.out)
            args[edge.slot] = _replace_at(args[edge.slot], edge.flat, leaf)
    ans = node.ans
    if ans is not None:
        if node.n_out == 1:
            ans = graph_array(ans, node, 0)
        else:
            ans = tuple(
                graph_array(a, node, i) if isinstance(a, np.ndarray) and a.dtype.kind in "fc" else a
                for i, a in enumerate(ans)  # cho_factor's ``lower`` is a Python bool
            )
    return tuple(args), ans


def _fit(c: Any, edge: Edge, prim: Primitive) -> Any:
    """Bring a cotangent to its input's shape and dtype: sum broadcast axes, drop imaginary."""
    if c.shape != edge.shape:
        if not prim.unbroadcast and c.size != np.prod(edge.shape, dtype=int):
            raise ValueError(
                f"the gradient rule of {prim.name} returned a cotangent of shape {c.shape} for "
                f"an input of shape {edge.shape}"
            )
        c = unbroadcast(c, edge.shape) if prim.unbroadcast else np.reshape(c, edge.shape)
    if c.dtype != edge.dtype:
        if c.dtype.kind == "c" and edge.dtype.kind != "c":
            c = np.real(c)
        if c.dtype != edge.dtype:
            c = c.astype(edge.dtype)
    return c


def _zeros_for(node: Any, out: int) -> Any:
    shape, dtype = node.out_meta[out]
    return np.zeros(shape, dtype)


def at_path(value: Any, path: tuple[int, ...]) -> Any:
    """``value[i][j]...`` for ``path == (i, j, ...)``.

    A GradArray inside a sequence argument is found by its path. The rule's cotangent for the
    sequence mirrors the argument as far as the function treats it as a sequence; below that
    (``np.stack([[1.0, x], y])`` reads ``[1.0, x]`` as one array) the rest of the path indexes
    into the cotangent array, which is exactly the element's cotangent.
    """
    for k in path:
        value = value[k]
    return value


def _replace_at(seq: Any, path: tuple[int, ...], new: Any) -> Any:
    if not path:
        return new
    items = list(seq)
    items[path[0]] = _replace_at(seq[path[0]], path[1:], new)
    return type(seq)(items)


_OLD_OUT_RULE = "old value of out="


def _cotangents(node: Node, g: Any, lift: Lift | None) -> Iterator[tuple[Edge, Any]]:
    """Run the node's rules: one (edge, cotangent) pair per edge, cotangent already fitted."""
    args, ans = _unpack(node, lift)
    prim = node.prim
    slot_cot: dict[int, Any] = {}
    for edge in node.edges:
        if edge.slot not in slot_cot:
            slot_cot[edge.slot] = _run_rule(node, edge.slot, g, ans, args)
        c = slot_cot[edge.slot]
        if c is not None and edge.flat is not None:
            c = at_path(c, edge.flat)
        if c is None:
            continue
        if not isinstance(c, np.ndarray):
            c = np.asarray(c)
        yield edge, _fit(c, edge, prim)


def _run_rule(node: Node, slot: int, g: Any, ans: Any, args: tuple[Any, ...]) -> Any:
    where = node.where
    if slot < 0:  # the old value of out= survives where ``where`` is False
        return np.where(where, 0, g)
    rule = node.prim.rule_for(slot)
    if rule is None:
        return None
    if where is None:
        return rule(g, ans, *args, **node.kwargs)
    with np.errstate(all="ignore"):  # the masked-out elements may be outside the domain
        c = rule(g, ans, *args, **node.kwargs)
    return np.where(where, c, 0)


def rule_inputs(node: Node, lift: Lift | None) -> tuple[tuple[Any, ...], Any]:
    """What ``node``'s rules read, ``(args, ans)``, for a pass other than backward (forward
    mode): checked as backward checks it (the graph not freed, the saved arrays unchanged or
    replaced by the copies a write ndgrad saw made) and lifted like it under create_graph."""
    _check_live(node)
    _check_versions(node)
    return _unpack(node, lift)


def node_cotangents(node: Node, g: Any, lift: Lift | None) -> Iterator[tuple[Edge, Any]]:
    """``(edge, cotangent)`` for each of ``node``'s edges, for the cotangent ``g`` of its
    output(s): the node's VJP rules, as backward runs them (after ``rule_inputs``)."""
    return _cotangents(node, g, lift)


def replace_at(seq: Any, path: tuple[int, ...], new: Any) -> Any:
    """``seq`` with the element at ``path`` (as in ``at_path``) replaced by ``new``."""
    return _replace_at(seq, path, new)


def _take(grads: dict[Any, Any], owned: set[int], node: Any) -> Any:
    g = grads.pop(node, None)
    if g is None or node.n_out == 1:
        if g is not None:
            owned.discard(id(g))
        return g
    for part in g:
        owned.discard(id(part))
    return tuple(_zeros_for(node, i) if part is None else part for i, part in enumerate(g))


def _accumulate_leaf(node: LeafNode, g: Any, stealable: bool) -> None:
    # The backward loop (``_core.c``, ``visit``) does the commonest case itself: a first gradient
    # that is a stealable plain array owning its writable memory becomes ``_grad`` as it is.
    array = node.ref()
    if array is None:  # the user dropped the leaf: nowhere to put its gradient
        return
    graph = isinstance(g, np.ndarray) and type(g) is not np.ndarray  # create_graph: GradArray
    if array._grad is None and graph:
        array._grad = g  # a GradArray with its own graph, differentiable again
    elif array._grad is None:
        # Steal the cotangent when nothing else refers to it (as PyTorch's AccumulateGrad does);
        # otherwise copy, so that two leaves never share one gradient buffer. A NumPy scalar
        # (what NumPy returns for 0-d results) becomes a 0-d array: gradients are arrays.
        fresh = stealable and type(g) is np.ndarray and g.base is None and g.flags.writeable
        array._grad = g if fresh else np.array(g, dtype=array.dtype, copy=True)
    else:
        total = array._grad + g
        array._grad = total if isinstance(total, np.ndarray) else np.array(total, array.dtype)


# The backward loop (``_core.backward_pass``) runs the rules of the common node (one rule per
# argument, no ``where=``; under create_graph, one output and no argument inside a sequence, the
# saved arrays lifted as ``_unpack`` lifts them) itself, and every other node's through
# ``_cotangents``: the same rules, the same results and the same recorded graph, tested by
# running every rule case both ways, recorded or not (``tests/test_route_parity.py`` turns this
# off).
INLINE_COMMON_NODES = True
# A cotangent of at least this many bytes that nobody else holds may be overwritten by the
# in-place form of the one rule that reads it (``Primitive.set_inplace``), which saves a fresh
# array; on smaller ones the in-place forms' checks would cost more than the allocation they
# save. ``NDGRAD_INPLACE_BYTES=0`` runs them on every array: a run of the test suite with it
# exercises them on the small arrays tests use.
INPLACE_BYTES = int(os.environ.get("NDGRAD_INPLACE_BYTES", 1 << 16))


def backward(
    roots: Sequence[Target],
    root_grads: Sequence[Any],
    *,
    inputs: Sequence[Target] | None = None,
    retain_graph: bool = False,
    create_graph: bool = False,
    lift: Lift | None = None,
    since: int = 0,
) -> list[Any] | None:
    """Backpropagate ``root_grads`` from ``roots``.

    With ``inputs=None`` the cotangents of leaves are accumulated into their ``.grad``;
    otherwise the cotangents of the given ``(node, out)`` targets are returned (``None`` for a
    target the roots do not depend on) and no ``.grad`` is touched. With ``create_graph``, the
    rules run recorded, on GradArrays that ``lift`` makes of their saved arrays.

    With ``inputs``, only nodes through which an input is reached are visited or freed. A
    transform whose inputs were all made from serial ``since`` on (``_core.node_serial()``
    before its tracers) passes it: nodes made before it cannot reach them and are not walked,
    so a pass costs what the function recorded, not the history of what it closes over.
    """
    return backward_pass(  # type: ignore[no-any-return]
        roots,
        root_grads,
        inputs,
        retain_graph,
        create_graph,
        lift,
        since,
        CHECK_SAVED,
        INLINE_COMMON_NODES,
        INPLACE_BYTES,
    )


def configure_core() -> None:
    """Hand the compiled backward loop the Python functions it calls for the cases it does not
    handle itself (done at import; again by a test that replaces one of them)."""
    configure(
        LeafNode,
        NO_KWARGS,
        _accumulate_leaf,
        _check_live,
        _check_versions,
        _cotangents,
        _fit,
        _take,
        _grad_enabled,
        scope_depth,
        (ArrayMeta, Hold, Held),  # their references never lead to a node
        PERMANENT_PRIMITIVES,
        Primitive,
    )


configure_core()
