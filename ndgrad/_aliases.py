"""Plain ndarrays over the memory of arrays in a graph: the silent cut of the tape API.

Outside ``nd.tracing()``, ``np.asarray(x)`` of a GradArray ``x`` is a plain ndarray over x's
memory, without the graph. NumPy sets its ``.base`` to the owner of the memory, not to ``x``,
so nothing on the plain array leads back to ``x``; when it meets arrays in a graph in a recorded
operation (``np.sum(np.asarray(h) * h)``), the result would silently miss the gradient that
flows through the plain operand.

So every GradArray that gets a node (a leaf that requires grad, the output of a recorded
operation) is registered under the id of the owner of its memory, as a weak reference: one dict
write. A recorded operation with a plain operand that is a view (``.base`` is set) looks its
owner up here; an array in a graph over overlapping memory means the operand is such an alias,
and the operation raises :class:`~ndgrad.GraphBreakError`. Plain operands that own their memory
(the user's data, fresh results) cost one attribute read.

Each entry removes itself when its array dies (a weak reference's callback), so the table holds
the arrays alive now and nothing more. A dead entry would match nothing anyway (an id is reused
only after its object died, and a live GradArray keeps the owner of its memory alive): the
callback keeps memory steady, and :func:`sweep` (run when the table has doubled) catches the
rare entry whose callback raced with a registration of the same memory in another thread.

``x.values`` (the documented way to read the data without the graph) is exempt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._core import alias_entry, configure_aliases
from ndgrad._errors import GraphBreakError, noted

__all__ = [
    "graph_alias",
    "refuse_aliases",
    "register",
    "sanction_arguments",
    "sanctioned",
    "sweep",
]

# id(owner of the memory) -> an entry (a weak reference) of a GradArray in a graph over it, or
# for several such arrays a dict of their entries by the arrays' ids (a list of slices of one
# array kept alive: each registration and each death is one dict operation)
_BY_OWNER: dict[int, Any] = {}
_SWEEP = [1 << 12]  # sweep the dead entries when the table is larger than this
# id(plain view) -> an entry of it: ``x.values``, a plain view the user asked for
_SANCTIONED: dict[int, Any] = {}


# An entry is a weak reference that removes itself from its table when its array dies
# (``_core.alias_entry``: the callback is compiled, and keeps working at interpreter exit, when
# the module's globals are gone and the last arrays die).


def sweep() -> None:
    """Drop entries whose array died but which are still in the tables.

    Not needed in normal use: every entry removes itself when its array dies. Run when a table
    has doubled since the last sweep, for an entry whose removal raced with a registration of
    the same memory in another thread.
    """
    for key, entry in list(_BY_OWNER.items()):
        if type(entry) is dict:
            live = {i: r for i, r in entry.items() if r() is not None}
            if live:
                _BY_OWNER[key] = live
            else:
                _BY_OWNER.pop(key, None)
        elif entry() is None:
            _BY_OWNER.pop(key, None)
    for key, ref in list(_SANCTIONED.items()):
        if ref() is None:
            _SANCTIONED.pop(key, None)
    _SWEEP[0] = max(1 << 12, 2 * (len(_BY_OWNER) + len(_SANCTIONED)))


def _owner(a: Any) -> Any:
    base = a.base
    while isinstance(base, np.ndarray):
        a, base = base, base.base
    return a


# A result over fresh memory (a ufunc's) is registered by the compiled call that made it
# (``register_fresh_entry`` in ndgrad/_core.c): no other entry can have its key.


def register(a: Any) -> None:
    """``a`` got a node (a leaf that requires grad, the output of a recorded operation)."""
    base = a.base  # a result wraps the array NumPy made: one level, the common case
    key = id(base) if type(base) is np.ndarray and base.base is None else id(_owner(a))
    old = _BY_OWNER.get(key)
    if old is None:
        _BY_OWNER[key] = alias_entry(a, _BY_OWNER, key)
    elif type(old) is dict:  # several arrays over this memory
        known = old.get(id(a))
        if known is None or known() is not a:
            old[id(a)] = alias_entry(a, _BY_OWNER, key)
    else:
        first = old()
        if first is None:  # dead, its callback not run yet (another thread)
            _BY_OWNER[key] = alias_entry(a, _BY_OWNER, key)
        elif first is not a:
            _BY_OWNER[key] = {id(first): old, id(a): alias_entry(a, _BY_OWNER, key)}
    if len(_BY_OWNER) > _SWEEP[0]:
        sweep()


def sanctioned(view: Any) -> Any:
    """Mark a plain view the user asked for (``x.values``): it may meet the graph as a constant."""
    key = id(view)
    _SANCTIONED[key] = alias_entry(view, _SANCTIONED, key)
    return view


def sanction_arguments(args: Any) -> None:
    """The plain arrays among ``args`` (lists, tuples and dicts searched) may meet the graph:
    ndgrad hands the inputs' memory to user code on purpose (``checkpoint``'s forward,
    ``custom_vjp``'s ``fwd``, a solver's callbacks)."""
    for a in args.values() if type(args) is dict else args:
        if type(a) is np.ndarray:
            sanctioned(a)
        elif type(a) in (list, tuple, dict):
            sanction_arguments(a)


def graph_alias(p: Any) -> Any:
    """The GradArray in a graph whose memory the plain ndarray ``p`` aliases, or None."""
    ref = _SANCTIONED.get(id(p))
    if ref is not None and ref() is p:
        return None
    a, base = p, p.base
    while isinstance(base, np.ndarray):
        if type(base) is not np.ndarray and getattr(base, "_node", None) is not None:
            return base  # a view of a GradArray view: NumPy kept it as the base
        a, base = base, base.base
    entry = _BY_OWNER.get(id(a))
    if entry is None:
        return None
    for r in entry.values() if type(entry) is dict else (entry,):
        g = r()
        if g is not None and g._node is not None and np.may_share_memory(p, g):
            return g
    return None


def refuse_aliases(name: str, operands: Any) -> None:
    """Raise if a plain view among ``operands`` (lists and tuples searched) aliases the graph."""
    for p in operands:
        t = type(p)
        if t is np.ndarray:
            if p.base is not None and graph_alias(p) is not None:
                raise alias_error(name)
        elif t is list or t is tuple:
            refuse_aliases(name, p)


def alias_error(name: str) -> GraphBreakError:
    """The error for a plain alias of an array in a graph meeting the graph in ``name``."""
    return noted(
        GraphBreakError(
            f"{name} got a plain ndarray that shares memory with an array that requires grad: "
            "a conversion outside nd.tracing() (np.asarray(x), np.array(x, copy=False), "
            "x.view(np.ndarray), np.ascontiguousarray(x), ...) stripped the graph, so the "
            "gradient through this operand would silently be lost. Run the code inside `with "
            "nd.tracing():` (ndgrad's transforms do), or pass the GradArray itself; if the "
            "operand really is a constant, use x.detach()."
        )
    )


configure_aliases(_BY_OWNER, _SWEEP, sweep)
