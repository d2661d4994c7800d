"""Differentiate code that calls ``np.asarray`` / ``np.array`` on its inputs, unmodified.

Much real code starts with ``x = np.asarray(x)``: SciPy's ``logsumexp`` and ``softmax``,
``scipy.stats`` densities, scikit-learn helpers, most in-house models. NumPy has no hook there,
so the GradArray subclass is stripped and the graph broken. Inside :func:`tracing` (or a
function wrapped by :func:`differentiable`), and only there:

- the converters ``asarray``, ``array``, ``asarray_chkfinite``, ``ascontiguousarray`` and
  ``asfortranarray`` return GradArrays unchanged (``array`` and a change of ``dtype`` make a
  recorded copy), and a list or tuple holding GradArrays becomes a recorded ``np.stack`` of
  them;
- the allocators ``empty``, ``zeros``, ``ones``, ``full`` and their ``*_like`` forms return
  float buffers as GradArrays without a graph, so that the legacy pattern
  ``out = np.empty(n); out[i] = f(x[i])`` records the assignment instead of silently dropping
  it; ``full`` and ``full_like`` with a fill value that carries a graph record the fill;
- ``place``, ``putmask`` and ``copyto`` into such a buffer are recorded as item assignment
  (that is how ``scipy.stats`` writes its results);
- ``select``, ``interp``, ``pad``, ``nan_to_num`` and ``fill_diagonal`` with a GradArray in
  an argument their NumPy dispatchers leave out (``default``, ``left``, ``constant_values``,
  ``nan``, ``val``) go through the engine, which differentiates it or raises
  ``NotDifferentiableError``; ``piecewise`` of
  a plain array fills a GradArray, so that functions closing over parameters are recorded.

For plain ndarrays every one of these behaves exactly as NumPy's own, except that float
buffers allocated inside the scope are GradArrays (an ndarray subclass without a graph).

How it works, and why this way
------------------------------
NumPy's converters are C functions that cannot be hooked, so the names that code calls them
by are rebound: ``numpy.asarray`` etc. in the ``numpy`` namespace, and every module global
that holds the very same object (``from numpy import asarray`` in ``scipy.special._basic``),
found by scanning ``sys.modules``. NumPy's own submodules and ndgrad's are left alone, and a
call that comes from their code (``numpy.lib``'s ``np.zeros``, a rule's ``np.asarray``) gets
NumPy's function even inside a scope (except ``numpy.polynomial``: plain Python that never
dispatches, traced like any library): NumPy functions reach GradArrays only through
``__array_function__``, and ndgrad's engine must see NumPy unchanged.

The rebinding is shared by all threads, so every replacement first reads a
:class:`contextvars.ContextVar`: outside a scope (another thread, another asyncio task, code
after the ``with``) it calls NumPy's function directly. Every transform opens a scope per
call, so entering must be cheap: restoring about 250 names in 30 modules (SciPy and
scikit-learn loaded) on every exit cost 0.1 ms per call. So the names are rebound in two parts:

- in the ``numpy`` namespace (about 60 names) when the first scope opens anywhere, and restored
  when the last one closes (the count and the swap change together in compiled code, where no
  other thread can run in between; the ``with`` restores on exceptions too),
  without writing ``numpy``'s dict: the module's class is swapped for a subclass of it whose
  properties return the replacements (a data descriptor of a type wins over the instance's
  ``__dict__``), one ``__class__`` assignment each way. While no scope is open ``numpy`` is a
  plain module and ``np.asarray``, ``np.sum`` ... are NumPy's own objects, so code that
  compares them by identity (``defvjp(np.sum, ...)``, tables keyed by them) and the cost of
  calling them are unchanged. (Writing the 60 names into the dict and back, as before, cost
  about 10 us per transform call with the cache misses that followed: 11 % of a tiny function
  through ``value_and_grad``; see ``benchmarks/scope.py``.) In a scope, ``np.sum`` of an array
  (not a list) goes to NumPy's function after a type check, before any frame is inspected.
- in the libraries' module globals (``from numpy import asarray`` in ``scipy.special._basic``)
  once, when the first scope finds them, and kept: a call of one of them outside any scope
  costs one extra Python call and a ``ContextVar.get``, about 0.1 us on top of ``np.asarray``'s
  0.05 us. :func:`restore_numpy` puts NumPy's functions back there (the next scope rebinds
  them). A scope that finds modules imported since the last one scans them (about 30 ms the
  first time).

The alternative of copying the wrapped function with patched globals reaches only that one
function, not the helpers and methods it calls in other modules (``rv_continuous.logpdf``
calls ``argsreduce``, ``_logpdf``, ...), so it was not chosen.

Limits
------
- Names bound in other ways are reached only on the function a transform (or
  :func:`differentiable`) is given: its default arguments (``def f(x, conv=np.asarray)``) and,
  for a method or a callable object, its class's attributes (``conv =
  staticmethod(np.asarray)``) are replaced while its scope is open. The same bindings in the
  helpers it calls, and closures, are not reached. (A module imported during a scope binds
  the replacement and keeps it afterwards; it still checks the context variable, so it stays
  correct.)
- C and Cython code that converts through NumPy's C API (``PyArray_FROM_OTF``) strips the
  subclass (code that reads through the buffer protocol, a typed memoryview, raises
  ``GraphBreakError``, as ``float(x)``, ``x.item()``, ``x.tolist()`` and ``math.*`` do). When
  that cuts every path, ``nd.grad`` raises its "does not depend on the input" error; a cut on
  one path among several loses that path's contribution, as anywhere in ndgrad.
- Writing a recorded value into a plain ndarray that was allocated before the scope
  (``out[i] = x``) cannot be recorded; allocate inside the scope.
- While a scope is open in any thread, ``type(numpy)`` is a subclass of ``types.ModuleType``
  (``isinstance`` checks still pass), and assigning one of the replaced names
  (``np.asarray = f``) is seen once the last scope closes.
- Code that tests ``type(a) is np.ndarray`` on a buffer allocated in the scope sees a
  GradArray; a library's module global bound to ``np.asarray`` is another function after the
  first scope (until :func:`restore_numpy`), though it behaves as NumPy's outside scopes.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import threading
import types
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ndgrad._array import GradArray, plain_array
from ndgrad._core import (
    ArraysFirst,
    Scope,
    configure_scope,
    forget_scope_plan,
    open_scopes,
    scope_plan,
)
from ndgrad._errors import not_differentiable, plain_target, raised_in_scope, reraise_hidden
from ndgrad._graph import scope_depth
from ndgrad.numpy._sequences import NUMPY as SEQUENCE_ARGUMENTS
from ndgrad.numpy._sequences import keeping_sequences

__all__ = ["differentiable", "is_tracing", "restore_numpy", "tracing"]

F = TypeVar("F", bound=Callable[..., Any])

_DEPTH = scope_depth  # the engine reads it too (conversions to Python values)
_LOCK = threading.Lock()  # guards the rebinding (scopes may open in several threads at once)


def is_tracing() -> bool:
    """Whether the current thread / async context is inside :func:`tracing`."""
    return _DEPTH.get() > 0


# --- what the replacements do inside a scope ---------------------------------------------------


def _first_grad_array(obj: Any) -> GradArray | None:
    """``obj`` if it is a GradArray, else the first one in it (lists and tuples searched)."""
    if isinstance(obj, GradArray):
        return obj
    if type(obj) in (list, tuple):
        for o in obj:
            found = _first_grad_array(o)
            if found is not None:
                return found
    return None


def _holds_grad_array(obj: Any) -> bool:
    return _first_grad_array(obj) is not None


def _stacked(obj: Any, original: Callable[..., Any]) -> Any:
    """A (nested) list of arrays and numbers as one recorded array."""
    if isinstance(obj, GradArray):
        return obj
    if type(obj) in (list, tuple) and _holds_grad_array(obj):
        return np.stack([_stacked(o, original) for o in obj])
    return original(obj)


def _converted(a: Any, dtype: Any, original: Callable[..., Any]) -> Any:
    x = _stacked(a, original)
    if dtype is not None and np.dtype(dtype) != x.dtype:
        x = x.astype(dtype)
    return x


def _always_copy(copy: Any) -> bool:
    """``copy=True`` or ``np._CopyMode.ALWAYS`` (``IF_NEEDED`` and ``None`` never copy here)."""
    return copy is True or (isinstance(copy, np._CopyMode) and copy is np._CopyMode.ALWAYS)


def _asarray(original: Callable[..., Any], a: Any, dtype: Any = None, *args: Any, **kw: Any) -> Any:
    if not _holds_grad_array(a):
        return original(a, dtype, *args, **kw)
    x = _converted(a, dtype, _ORIGINALS["asarray"])
    return np.copy(x) if _always_copy(kw.get("copy")) and x is a else x


def _array(original: Callable[..., Any], a: Any, dtype: Any = None, *args: Any, **kw: Any) -> Any:
    if not _holds_grad_array(a):
        return original(a, dtype, *args, **kw)
    x = _converted(a, dtype, _ORIGINALS["asarray"])
    if x is a and _always_copy(kw.get("copy", True)):
        x = np.copy(x)
    ndmin = kw.get("ndmin", 0)
    if x.ndim < ndmin:
        x = np.reshape(x, (1,) * (ndmin - x.ndim) + x.shape)
    return x


def _chkfinite(
    original: Callable[..., Any], a: Any, dtype: Any = None, *args: Any, **kw: Any
) -> Any:
    """``asarray_chkfinite``: plain Python in ``numpy.lib`` that never dispatches (SciPy's
    ``linalg`` and ``stats`` call it), so its inner ``asarray`` would strip the graph silently."""
    if not _holds_grad_array(a):
        return original(a, dtype, *args, **kw)
    x = _converted(a, dtype, _ORIGINALS["asarray"])
    if x.dtype.kind in "fc" and not np.all(np.isfinite(plain_array(x))):
        raise ValueError("array must not contain infs or NaNs")
    return x


def _contiguous(
    original: Callable[..., Any], a: Any, dtype: Any = None, *args: Any, **kw: Any
) -> Any:
    if not _holds_grad_array(a):
        return original(a, dtype, *args, **kw)
    x = _converted(a, dtype, _ORIGINALS["asarray"])
    fortran = original is _ORIGINALS["asfortranarray"]
    ok = x.flags.f_contiguous if fortran else x.flags.c_contiguous
    return x if ok else np.copy(x, order="F" if fortran else "C")


def _buffer(original: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    out = original(*args, **kw)
    if type(out) is np.ndarray and out.dtype.kind in "fc":
        return np.ndarray.view(out, GradArray)
    return out


def _full(original: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``full(shape, v)`` / ``full_like(a, v)``; a fill value with a graph is assigned, recorded.

    NumPy fills with its own ``copyto``, which ndgrad cannot record (scikit-learn's
    ``ConstantKernel`` calls ``np.full((n, n), self.constant_value)``).
    """
    params = list(args)  # the fill value is replaced below
    fill = params[1] if len(params) > 1 else kw.get("fill_value")
    if not _holds_grad_array(fill):
        return _buffer(original, *params, **kw)
    fill = _converted(fill, None, _ORIGINALS["asarray"])
    if len(params) > 1:
        params[1] = 0
    else:
        kw["fill_value"] = 0
    if original is _ORIGINALS["full"]:
        if len(params) > 2 and params[2] is None:
            params[2] = fill.dtype
        elif len(params) <= 2:
            kw.setdefault("dtype", fill.dtype)
            if kw["dtype"] is None:
                kw["dtype"] = fill.dtype
    out = _buffer(original, *params, **kw)
    if not isinstance(out, GradArray) or out.dtype.kind not in "fc":
        raise not_differentiable(
            f"numpy.{original.__name__}",
            f"the fill value carries a gradient but the result has dtype {out.dtype}",
        )
    out[...] = fill
    return out


def _needs_recording(target: Any, values: Any) -> bool:
    return _holds_grad_array(values) or (isinstance(target, GradArray) and target.requires_grad)


def _unrecordable(name: str) -> Exception:
    return plain_target(f"numpy.{name}")


def _place(original: Callable[..., Any], arr: Any, mask: Any, vals: Any) -> Any:
    if not _needs_recording(arr, vals):
        return original(arr, mask, vals)
    if not isinstance(arr, GradArray):
        raise _unrecordable("place")
    mask = _ORIGINALS["asarray"](mask, dtype=bool)
    n = int(np.count_nonzero(mask))
    flat = np.ravel(_converted(vals, None, _ORIGINALS["asarray"]))
    # place repeats vals cyclically over the True positions, in order.
    arr[mask] = flat if flat.size == n else flat[np.arange(n) % flat.size]
    return None


def _putmask(original: Callable[..., Any], a: Any, mask: Any, values: Any) -> Any:
    if not _needs_recording(a, values):
        return original(a, mask, values)
    if not isinstance(a, GradArray):
        raise _unrecordable("putmask")
    mask = np.broadcast_to(_ORIGINALS["asarray"](mask, dtype=bool), a.shape)
    flat = np.ravel(_converted(values, None, _ORIGINALS["asarray"]))
    # putmask takes values[n % len(values)] for the n-th element of a (not of the mask).
    full = flat if flat.size == a.size else flat[np.arange(a.size) % flat.size]
    a[mask] = np.reshape(full, a.shape)[mask]
    return None


def _copyto(original: Callable[..., Any], dst: Any, src: Any, *args: Any, **kw: Any) -> Any:
    if not _needs_recording(dst, src):
        return original(dst, src, *args, **kw)
    if not isinstance(dst, GradArray):
        raise _unrecordable("copyto")
    where = args[1] if len(args) > 1 else kw.get("where", True)
    src = np.broadcast_to(_converted(src, None, _ORIGINALS["asarray"]), dst.shape)
    if where is True:
        dst[...] = src
    else:
        mask = np.broadcast_to(_ORIGINALS["asarray"](where, dtype=bool), dst.shape)
        dst[mask] = src[mask]
    return None


_TRACED: dict[str, Callable[..., Any]] = {
    "asarray": _asarray,
    "array": _array,
    "asarray_chkfinite": _chkfinite,
    "ascontiguousarray": _contiguous,
    "asfortranarray": _contiguous,
    "empty": _buffer,
    "zeros": _buffer,
    "ones": _buffer,
    "full": _full,
    "empty_like": _buffer,
    "zeros_like": _buffer,
    "ones_like": _buffer,
    "full_like": _full,
    "place": _place,
    "putmask": _putmask,
    "copyto": _copyto,
}


def _keeping_sequences(name: str, names: tuple[str, ...]) -> Callable[..., Any]:
    """A NumPy function whose arguments ``names`` are single arrays: a list or tuple holding
    GradArrays there is stacked (recorded) first, as ``ndgrad.numpy``'s own version does.
    NumPy dispatches on the argument itself, so ``np.sum([x, 2 * x])`` would otherwise convert
    the list in C and drop the graph silently."""

    keeping = keeping_sequences(getattr(np, name), names)  # made once: on every np.sum call
    count = len(names)

    def traced(original: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        # the common call, with arrays, goes to NumPy's function directly
        for a in args[:count]:
            if type(a) in _SEQUENCES:
                return keeping(*args, **kw)
        if kw:
            for n in names:
                if type(kw.get(n)) in _SEQUENCES:
                    return keeping(*args, **kw)
        return original(*args, **kw)

    return traced


_SEQUENCES = (list, tuple)

# ``ndgrad.numpy``'s table of such functions (reductions, statistics, cumulative operations),
# and the common shape and product functions, which ``ndgrad.numpy`` leaves as NumPy's own.
# (Ufuncs are left alone: rebinding ``np.exp`` would hide its methods and attributes. A list
# holding GradArrays passed to a ufunc is still converted in C: see "Limits" in the README.)
_SINGLE_ARRAY_FUNCTIONS: dict[str, tuple[str, ...]] = {
    **SEQUENCE_ARGUMENTS,
    **dict.fromkeys(
        ("transpose", "ravel", "reshape", "squeeze", "swapaxes", "moveaxis", "flip",
         "expand_dims", "sort", "clip", "round"),
        ("a",),
    ),
    "dot": ("a", "b"), "outer": ("a", "b"),
}  # fmt: skip
_TRACED.update({n: _keeping_sequences(n, a) for n, a in _SINGLE_ARRAY_FUNCTIONS.items()})


def _through_engine(name: str, params: tuple[str, ...]) -> Callable[..., Any]:
    """A NumPy function whose dispatcher leaves out the arguments ``params``: NumPy calls its
    implementation without looking there, which converts a GradArray passed only there in C
    and loses its gradient silently (``np.select``'s ``default``, ``np.interp``'s ``left``).
    A call holding a GradArray in one of them is sent to the engine, those arguments by
    keyword: the rule of each, or for one without a rule (``np.pad``'s ``constant_values``)
    ``NotDifferentiableError``, as for any keyword argument that requires grad."""
    signature = inspect.signature(getattr(np, name))
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    order = [p.name for p in signature.parameters.values() if p.kind in kinds]
    first = min((order.index(p) for p in params if p in order), default=len(order))
    var_keyword = [p.name for p in signature.parameters.values() if p.kind == p.VAR_KEYWORD]

    def traced(original: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        found = _first_grad_array((*args[first:], *(kw.get(p) for p in params)))
        if found is None:
            return original(*args, **kw)
        bound = signature.bind(*args, **kw)
        head = [bound.arguments.pop(p) for p in order[:first] if p in bound.arguments]
        rest = bound.arguments.pop(var_keyword[0], {}) if var_keyword else {}
        return type(found).__array_function__(
            found, original, (type(found),), tuple(head), {**bound.arguments, **rest}
        )

    return traced


def _piecewise(original: Callable[..., Any], x: Any, *args: Any, **kw: Any) -> Any:
    """``np.piecewise`` fills an array it allocates like ``x`` (``zeros_like``) with what its
    functions return. For a plain ``x`` that array is plain, and a value that requires grad (a
    function closing over a parameter: a broken-stick model) is stored without its graph, the
    gradient through it lost silently. On a GradArray view of ``x`` (no graph of its own) the
    array is a GradArray and each store is recorded."""
    if type(x) is np.ndarray:
        x = x.view(GradArray)
    elif not isinstance(x, np.ndarray):  # a list or a scalar, as np.asanyarray takes it
        x = np.asarray(x).view(GradArray)
    return original(x, *args, **kw)


_TRACED["piecewise"] = _piecewise
_TRACED.update(
    {
        name: _through_engine(name, params)
        for name, params in {
            "select": ("default",),
            "interp": ("left", "right", "period"),
            "pad": ("constant_values", "end_values"),
            "nan_to_num": ("nan", "posinf", "neginf"),
            "fill_diagonal": ("val",),
        }.items()
    }
)
_ORIGINALS: dict[str, Any] = {name: getattr(np, name) for name in _TRACED}


# Modules whose calls always get NumPy's functions: NumPy's own, and ndgrad's engine, rules and
# transforms (a doctest of this module runs under the name ``ndgrad.tracing``, so not all of
# ndgrad is listed).
_UNTRACED_CALLERS = ("numpy.", "ndgrad._", "ndgrad.functional", "ndgrad.testing", "ndgrad.custom")
# ... except NumPy's pure-Python packages that never dispatch through ``__array_function__``:
# ``numpy.polynomial`` (``polyval``, ``chebval``, ``Polynomial.__call__``) converts its
# coefficients with ``np.array(c, ndmin=1)``, which would strip the graph silently.
_TRACED_NUMPY = ("numpy.polynomial.",)


def _traced_caller(frame: types.FrameType) -> bool:
    """Whether the code of ``frame`` gets the replacements: NumPy's own Python code and ndgrad's
    engine (rules run inside scopes too) must see NumPy unchanged."""
    caller = frame.f_globals.get("__name__", "")
    return not caller.startswith(_UNTRACED_CALLERS) or caller.startswith(_TRACED_NUMPY)


def _replacement(name: str) -> Callable[..., Any]:
    original = _ORIGINALS[name]
    traced = _TRACED[name]
    names = _SINGLE_ARRAY_FUNCTIONS.get(name)

    def replacement(*args: Any, **kwargs: Any) -> Any:
        if _DEPTH.get() and _traced_caller(sys._getframe(1)):
            return traced(original, *args, **kwargs)
        return original(*args, **kwargs)

    functools.update_wrapper(replacement, original)
    replacement.__ndgrad_original__ = original  # type: ignore[attr-defined]
    if names is None:
        return replacement
    # An array (not a list or tuple) gets NumPy's function whoever calls, in a scope or not:
    # decided in C before the context variable and the caller's frame are read, on every
    # ``np.sum`` of traced code; any other call goes to ``replacement``.
    chosen = ArraysFirst(original, replacement, names)
    functools.update_wrapper(chosen, original)
    return chosen


_REPLACEMENTS: dict[str, Callable[..., Any]] = {name: _replacement(name) for name in _TRACED}

# --- rebinding the names -----------------------------------------------------------------------

_known: dict[str, tuple[Any, list[tuple[str, str]]]] = {}  # module -> (module, bindings)
_all_bindings: tuple[int, list[tuple[dict[str, Any], str, str]]] | None = None
# ``len(sys.modules)`` when the names were last rebound (-1: not rebound), and per module
# holding converters: (its globals, {name: replacement}, {name: NumPy's function}).
_plan: tuple[int, list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]] = (-1, [])


def _skipped(module_name: str) -> bool:
    if module_name.startswith(_TRACED_NUMPY):
        return False
    return module_name.startswith(("numpy.", "ndgrad")) or module_name == __name__


def _bindings() -> list[tuple[dict[str, Any], str, str]]:
    """``(module globals, global name, NumPy name)`` for each global bound to a converter.

    Aliases count (``from numpy import asarray as _asarray``). Each module is scanned once,
    and the whole list is reused while no module has been imported since.
    """
    global _all_bindings
    if _all_bindings is not None and _all_bindings[0] == len(sys.modules):
        return _all_bindings[1]
    originals = {id(f): name for name, f in _ORIGINALS.items()}
    # a module imported while the names are rebound holds the replacement: found too, so that
    # restore_numpy reaches it
    originals.update({id(f): name for name, f in _REPLACEMENTS.items()})
    found_all: list[tuple[dict[str, Any], str, str]] = []
    for module_name, module in list(sys.modules.items()):
        if _skipped(module_name):
            continue
        cached = _known.get(module_name)
        if cached is None or cached[0] is not module:
            try:
                namespace = vars(module)
            except TypeError:
                continue
            found = [
                (n, originals[id(v)]) for n, v in list(namespace.items()) if id(v) in originals
            ]
            cached = _known[module_name] = (module, found)
        namespace = vars(cached[0])
        found_all.extend((namespace, name, numpy_name) for name, numpy_name in cached[1])
    _all_bindings = (len(sys.modules), found_all)
    return found_all


def _install() -> None:
    """Rebind every converter name to its replacement; rescan when modules were imported.

    Called under ``_LOCK`` by the first open scope when ``len(sys.modules)`` changed since the
    last plan. The libraries' module globals stay rebound after the scopes close; the
    ``numpy`` namespace is read through its swapped class (:func:`_prepare_numpy`).
    """
    global _plan
    grouped: dict[int, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
    for namespace, name, numpy_name in _bindings():
        _, to_ours, to_numpys = grouped.setdefault(id(namespace), (namespace, {}, {}))
        to_ours[name] = _REPLACEMENTS[numpy_name]
        to_numpys[name] = _ORIGINALS[numpy_name]
    grouped.pop(id(vars(np)), None)  # ``numpy``'s own: read through its swapped class
    # (A module that rebinds one of these names to a function of its own gets it overwritten
    # when the plan is made again; none is known to.)
    for namespace, to_ours, _ in grouped.values():
        namespace.update(to_ours)
    _plan = (len(sys.modules), list(grouped.values()))


# ``numpy``'s own names are read differently while a scope is open, without writing ``numpy``'s
# dict: its class is swapped for a subclass of it whose converters are properties returning the
# replacements. Data descriptors of a type win over an instance's ``__dict__``, so ``np.asarray``
# (and ``getattr``, ``from numpy import asarray``) gives the replacement while ``vars(np)`` keeps
# NumPy's objects. Entering and leaving is one ``__class__`` assignment each, where writing the
# ~60 names into ``numpy``'s dict and back cost 4 us per transform call, and as much again in
# cache misses afterwards (``python -m benchmarks.scope``). Outside every scope ``numpy`` is a
# plain module again: its lookups, identities and calls are NumPy's own.
_numpy_in_scope: dict[type, type] = {}  # numpy's class -> its subclass with the properties
_numpy_swap: list[type] = [type(np), type(np)]  # numpy's class, and the subclass it becomes


def _set_numpy_name(name: str, module: Any, value: Any) -> None:
    vars(module)[name] = value  # an assignment during a scope is seen once it closes


def _delete_numpy_name(name: str, module: Any) -> None:
    del vars(module)[name]


def _prepare_numpy() -> None:
    """Rebind the libraries' names if modules were imported, and make numpy's scoped class.

    Called under ``_LOCK`` by the first scope to open anywhere, when either has changed.
    """
    if _plan[0] != len(sys.modules):  # the first scope, or modules imported since
        _install()
    base = type(np)
    scoped = _numpy_in_scope.get(base)
    if scoped is None:
        attributes: dict[str, Any] = {"__module__": __name__, "__doc__": base.__doc__}
        for name, replacement in _REPLACEMENTS.items():
            attributes[name] = property(
                {np: replacement}.get,  # a C callable: reading ``np.sum`` in a scope stays fast
                functools.partial(_set_numpy_name, name),
                functools.partial(_delete_numpy_name, name),
            )
        scoped = _numpy_in_scope[base] = type("numpy_in_scope", (base,), attributes)
    _numpy_swap[:] = [base, scoped]


def restore_numpy() -> None:
    """Put NumPy's own converters back into every library module that holds a replacement.

    Not needed for correctness: outside a scope each replacement calls NumPy's function, and
    ``numpy.asarray`` etc. are NumPy's own objects whenever no scope is open. For code that
    compares a library's module globals by identity. The next scope rebinds them.
    """
    global _plan
    with _LOCK:
        if not forget_scope_plan():  # (a scope opening meanwhile prepares again, after us)
            raise RuntimeError("restore_numpy() while a conversion scope is open")
        for namespace, _, to_numpys in _plan[1]:
            namespace.update(to_numpys)
        _plan = (-1, [])


def _prepare_scope() -> None:
    """What the compiled scope (``_core.Scope``) calls when the first scope to open anywhere
    finds its plan stale: modules imported since, :func:`restore_numpy`, or ``numpy``'s class
    changed. Rebinds under the lock and hands the plan back (``_core.scope_plan``)."""
    with _LOCK:
        if open_scopes():
            return  # another thread opened one while this waited: its plan holds
        _prepare_numpy()
        scope_plan(_plan[0], *_numpy_swap)


configure_scope(np, raised_in_scope, _prepare_scope, reraise_hidden)


class tracing(Scope):  # lower case: used as ``with nd.tracing():``
    """Keep GradArrays through ``np.asarray`` and friends inside the ``with`` block.

    Only the current thread (and async context) is affected; scopes nest. See the module
    documentation of :mod:`ndgrad.tracing` for what changes and what cannot be reached.
    ndgrad's errors that library code in the block hides are re-raised on the way out (as
    ``hidden_errors_reraised`` does). Entering and leaving are compiled (``_core.Scope``):
    every transform enters a scope once per call.

    See Also
    --------
    differentiable : the same, as a decorator.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> def legacy(x):
    ...     x = np.asarray(x, dtype=float)
    ...     return np.sum(x**2)
    >>> def f(x):
    ...     with nd.tracing():
    ...         return legacy(x)
    >>> nd.grad(f)(np.array([1.0, 2.0]))
    array([2., 4.])
    """

    __slots__ = ()


def maybe_tracing(enabled: bool, fun: Any = None) -> Any:
    """:func:`tracing` when ``enabled``, else nothing: how transforms take ``scope=``.

    With ``fun``, converters that ``fun`` holds where module globals cannot reach them are
    replaced too while the scope is open (:class:`_bound_converters`).
    """
    if not enabled:
        return contextlib.nullcontext()
    if type(fun) is types.FunctionType and fun.__defaults__ is None and not fun.__kwdefaults__:
        return tracing()  # the common case, on every transform call: nothing else to look at
    if fun is not None:
        found = _converters_held_by(fun)
        if found:
            return _bound_converters(found)
    return tracing()


# --- converters held by the function itself ------------------------------------------------------

_BY_ORIGINAL_ID: dict[int, Callable[..., Any]] = {
    id(_ORIGINALS[n]): r for n, r in _REPLACEMENTS.items()
}
_held: dict[tuple[int, str], list[Any]] = {}  # (id(holder), attribute) -> [holder, old, opened]


def _replaced(value: Any) -> Any:
    """``value`` with NumPy's converters swapped for the replacements, or None if it has none."""
    if type(value) is tuple:
        if not any(id(v) in _BY_ORIGINAL_ID for v in value):
            return None
        return tuple(_BY_ORIGINAL_ID.get(id(v), v) for v in value)
    if type(value) is dict:
        if not any(id(v) in _BY_ORIGINAL_ID for v in value.values()):
            return None
        return {k: _BY_ORIGINAL_ID.get(id(v), v) for k, v in value.items()}
    if type(value) is staticmethod and id(value.__func__) in _BY_ORIGINAL_ID:
        return staticmethod(_BY_ORIGINAL_ID[id(value.__func__)])
    if id(value) in _BY_ORIGINAL_ID:
        return _BY_ORIGINAL_ID[id(value)]
    return None


def _converters_held_by(fun: Any) -> list[tuple[Any, str, Any]]:
    """``(holder, attribute, replacement)`` for each converter ``fun`` holds beyond the module
    globals: its default arguments (``def f(x, conv=np.asarray)``), and for a method or a
    callable object, its class's attributes (``conv = staticmethod(np.asarray)``)."""
    if type(fun) is types.FunctionType and fun.__defaults__ is None and not fun.__kwdefaults__:
        return []  # the common case, on every transform call: nothing to look at
    found = []
    func = getattr(fun, "__func__", fun)
    for attribute in ("__defaults__", "__kwdefaults__"):
        new = _replaced(getattr(func, attribute, None))
        if new is not None:
            found.append((func, attribute, new))
    owner = getattr(fun, "__self__", None)
    if owner is None and not isinstance(fun, types.FunctionType | types.BuiltinFunctionType):
        owner = fun  # a callable object
    if owner is not None and not isinstance(owner, types.ModuleType):
        found += _class_converters(owner if isinstance(owner, type) else type(owner))
    return found


_by_class: weakref.WeakKeyDictionary[type, list[tuple[Any, str, Any]]] = weakref.WeakKeyDictionary()


def _class_converters(cls: type) -> list[tuple[Any, str, Any]]:
    """The converters among the attributes of ``cls`` and its bases (scanned once per class)."""
    found = _by_class.get(cls)
    if found is None:
        found = []
        for klass in cls.__mro__[:-1]:
            for name, value in list(vars(klass).items()):
                new = _replaced(value)
                if new is not None and not name.startswith("__"):
                    found.append((klass, name, new))
        try:
            _by_class[cls] = found
        except TypeError:  # not weakly referenceable
            pass
    return found


class _bound_converters:
    """:func:`tracing`, plus the converters a function holds, replaced while it is open.

    Setting a function's defaults or a class attribute is seen by all threads, as the module
    globals are; the replacements read the context variable, so other threads get NumPy's
    behaviour. Nested and concurrent scopes count their holders, and the last one restores.
    """

    __slots__ = ("_found", "_scope")

    def __init__(self, found: list[tuple[Any, str, Any]]) -> None:
        self._found = found
        self._scope = tracing()

    def __enter__(self) -> None:
        with _LOCK:
            for holder, attribute, new in self._found:
                entry = _held.get((id(holder), attribute))
                if entry is None:
                    old = vars(holder)[attribute] if isinstance(holder, type) else None
                    if old is None:
                        old = getattr(holder, attribute)
                    _held[(id(holder), attribute)] = [holder, old, 1]
                    setattr(holder, attribute, new)
                else:
                    entry[2] += 1
        self._scope.__enter__()

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            self._scope.__exit__(kind, exc, tb)
        finally:
            with _LOCK:
                for holder, attribute, _ in self._found:
                    entry = _held[(id(holder), attribute)]
                    entry[2] -= 1
                    if entry[2] == 0:
                        del _held[(id(holder), attribute)]
                        setattr(holder, attribute, entry[1])


def differentiable(fn: F) -> F:
    """Wrap ``fn`` so that it runs inside :func:`tracing`: its ``np.asarray`` keeps the graph.

    Parameters
    ----------
    fn : callable
        Any function written for plain NumPy arrays, e.g. ``scipy.special.logsumexp``.

    Returns
    -------
    callable
        ``fn`` with the same signature, recording its NumPy calls on GradArray arguments.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.special
    >>> import ndgrad as nd
    >>> lse = nd.differentiable(scipy.special.logsumexp)
    >>> g = nd.grad(lse)(np.array([0.0, np.log(3.0)]))
    >>> np.round(g, 6)
    array([0.25, 0.75])
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with maybe_tracing(True, fn):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
