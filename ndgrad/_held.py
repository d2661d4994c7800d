"""The arrays a user's function holds, and a check that they did not change before backward.

Some nodes call the user's function again when ``backward`` reaches them: ``nd.checkpoint``
recomputes its block, the ODE adjoint evaluates the right-hand side along the solution. What
that function reads from its closure, defaults, the globals it names or an object's attributes
is not an argument of the node, so the node cannot keep a copy of it: a write to such an array
between the forward pass and ``backward`` would make the backward pass compute with the new
values, a gradient of a function that was never evaluated. :func:`held_versions` records, for
every array the function holds, its version counter (writes ndgrad sees) and its fingerprint
(writes it does not) in the node's ``versions``; ``backward`` raises ``InPlaceError`` naming the
array when either changed.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ndgrad._array import GradArray, plain_array
from ndgrad._graph import CHECK_SAVED, CONSTANT_STATE, HELD, Held, fingerprint


def collect_held(obj: Any, keep: Callable[[np.ndarray], bool], found: dict[int, Any]) -> None:
    """Put in ``found`` (by id) the arrays ``obj`` holds for which ``keep`` is true: in
    containers, a function's closure cells, defaults and the globals it names, a ``partial``'s
    arguments, a bound method's instance, an object's attributes (not a module's: ``mod.x`` is
    not found), six levels deep."""
    _collect(obj, keep, found, set(), 0)


def _collect(obj: Any, keep: Any, found: dict[int, Any], seen: set[int], depth: int) -> None:
    if isinstance(obj, np.ndarray):
        if keep(obj):
            found.setdefault(id(obj), obj)
        return
    if id(obj) in seen or depth > 6 or isinstance(obj, types.ModuleType | type):
        return
    seen.add(id(obj))
    items: Any
    if isinstance(obj, list | tuple | set | frozenset):
        items = obj
    elif isinstance(obj, dict):
        items = obj.values()
    elif isinstance(obj, types.FunctionType):
        cells = [c.cell_contents for c in obj.__closure__ or () if _filled(c)]
        names = [obj.__globals__[n] for n in obj.__code__.co_names if n in obj.__globals__]
        items = [*cells, *(obj.__defaults__ or ()), *(obj.__kwdefaults__ or {}).values(), *names]
    elif isinstance(obj, functools.partial):
        items = [obj.func, *obj.args, *obj.keywords.values()]
    elif isinstance(obj, types.MethodType):
        items = [obj.__func__, obj.__self__]
    else:
        items = list(vars(obj).values()) if hasattr(obj, "__dict__") else []
    for item in items:
        _collect(item, keep, found, seen, depth + 1)


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 (an empty cell raises ValueError)
    except ValueError:
        return False
    return True


def _any_array(a: np.ndarray) -> bool:
    return a.size > 0 and not a.dtype.hasobject


def held_versions(holder: str, *objs: Any) -> tuple[Any, ...]:
    """``versions`` entries (see ``_graph``) for every array ``objs`` hold, plain or GradArray,
    requiring grad or not: ``_check_versions`` refuses the node's backward pass if one was
    written since (its version counter: writes ndgrad saw; its fingerprint: writes it did not).
    ``holder`` names the function for the error."""
    found: dict[int, Any] = {}
    for obj in objs:
        collect_held(obj, _any_array, found)
    entries: list[Any] = []
    for a in found.values():
        plain = not isinstance(a, GradArray)
        state = CONSTANT_STATE if plain else a._version
        raw = a if plain else plain_array(a)
        fp = fingerprint(raw) if CHECK_SAVED else None
        entries += (state, state[0], HELD, Held(raw, fp, holder, plain))
    return tuple(entries)
