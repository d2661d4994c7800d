"""Plain ndarrays over the memory of arrays in a graph: the silent cut of the tape API.

Outside ``nd.tracing()``, ``np.asarray(x)`` of a GradArray ``x`` is a plain ndarray over x's
memory, without the graph. NumPy sets its ``.base`` to the owner of the memory, not to ``x``,
so nothing on the plain array leads back to ``x``; when it meets arrays in a graph in a recorded
operation (``np.sum(np.asarray(h) * h)``), the result would silently miss the gradient that
flows through the plain operand.

So every GradArray that gets a node (a leaf that requires grad, the output of a recorded
operation) is entered in a table under the owner of its memory (compiled: ``_core``'s alias
table, a list per owner linked through the arrays themselves, so entering one, and leaving,
costs the same however many arrays share the owner). A recorded operation with a plain operand
that is a view (``.base`` is set) looks its owner up there; an array in a graph over overlapping
memory means the operand is such an alias, and the operation raises
:class:`~ndgrad.GraphBreakError`. Plain operands that own their memory (the user's data, fresh
results) cost one attribute read.

An array leaves the table in its own deallocation, so the table holds the arrays alive now and
nothing more; it refers to them without keeping them alive.

``x.values`` (the documented way to read the data without the graph) is exempt.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._core import alias_entry, arrays_over
from ndgrad._errors import GraphBreakError, InPlaceError, noted

__all__ = [
    "graph_alias",
    "refuse_aliases",
    "sanction_arguments",
    "sanctioned",
    "sweep",
]

_SWEEP = [1 << 12]  # sweep the dead entries when the table is larger than this
# id(plain view) -> an entry of it: ``x.values``, a plain view the user asked for
_SANCTIONED: dict[int, Any] = {}


# An entry is a weak reference that removes itself from its table when its array dies
# (``_core.alias_entry``: the callback is compiled, and keeps working at interpreter exit, when
# the module's globals are gone and the last arrays die).


def sweep() -> None:
    """Drop entries of sanctioned views that died but are still in their table.

    Not needed in normal use: every entry removes itself when its array dies. Run when the
    table has doubled since the last sweep, for an entry whose removal raced with a
    registration of the same id in another thread.
    """
    for key, ref in list(_SANCTIONED.items()):
        if ref() is None:
            _SANCTIONED.pop(key, None)
    _SWEEP[0] = max(1 << 12, 2 * len(_SANCTIONED))


def sanctioned(view: Any) -> Any:
    """Mark a plain view the user asked for (``x.values``): it may meet the graph as a constant."""
    key = id(view)
    _SANCTIONED[key] = alias_entry(view, _SANCTIONED, key)
    if len(_SANCTIONED) > _SWEEP[0]:
        sweep()
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


def read_only_arguments(args: Any, originals: dict[int, Any] | None = None) -> Any:
    """``args`` (lists, tuples and dicts searched) with each plain ndarray a read-only view of
    it, sanctioned (``sanction_arguments``): the inputs' memory handed to user code that must
    not write into it (``checkpoint``'s block and ``custom_vjp``'s ``fwd``: a write would
    change values behind the graph, and a block run again in backward would run on it).
    ``originals`` collects ``id(view) -> array``, for an output that is one of the views."""
    if type(args) is np.ndarray:
        view = args.view()
        view.flags.writeable = False
        sanctioned(view)
        if originals is not None:
            originals[id(view)] = args
        return view
    if type(args) in (list, tuple):
        return type(args)(read_only_arguments(a, originals) for a in args)
    if type(args) is dict:
        return {k: read_only_arguments(v, originals) for k, v in args.items()}
    return args


def returned_arguments(out: Any, originals: dict[int, Any]) -> Any:
    """``out`` (an array or a tuple) with each of ``read_only_arguments``' views in it the
    argument itself again: code that returns its argument gives back what it was given."""
    if isinstance(out, tuple):
        return tuple(originals.get(id(o), o) for o in out)
    return originals.get(id(out), out)


def wrote_into_arguments(error: ValueError, who: str, fix: str) -> InPlaceError | None:
    """The error to raise for NumPy's ``error`` in code given ``read_only_arguments``: an
    ``InPlaceError`` naming ``who`` when the write was refused as read-only, else None (the
    caller re-raises ``error``)."""
    if "read-only" not in str(error):
        return None
    return InPlaceError(
        f"{who} writes into an array it was given ({error}): it gets the arguments' own memory, "
        f"and a write there would change values behind the graph. {fix}"
    )


def _base(a: Any) -> Any:
    """``a.base``, through a memoryview to its exporter (``np.asarray(memoryview(x))``)."""
    base = a.base
    return base.obj if type(base) is memoryview else base


def graph_alias(p: Any) -> Any:
    """The GradArray in a graph whose memory the plain ndarray ``p`` aliases, or None."""
    ref = _SANCTIONED.get(id(p))
    if ref is not None and ref() is p:
        return None
    a, base = p, _base(p)
    while isinstance(base, np.ndarray):
        if type(base) is not np.ndarray and getattr(base, "_node", None) is not None:
            return base  # a view of a GradArray view: NumPy kept it as the base
        a, base = base, _base(base)
    for g in arrays_over(a):
        if g._node is not None and np.may_share_memory(p, g):
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
