"""SciPy's Python-level callables: one table per kind, and wrappers installed in SciPy's namespaces.

SciPy's functions are not ufuncs and do not dispatch through ``__array_function__``: NumPy never
hands them to ndgrad. Many convert their inputs and compute in compiled code (LAPACK, Cython,
Fortran), which silently drops the graph. So every public callable of a SciPy submodule that
ndgrad covers gets one of four treatments, like NumPy's functions:

``rule``         ``defvjp`` gives it a gradient rule: the wrapper records one node.
``traced``       its Python code only calls what ndgrad records: the wrapper runs it inside
                 :func:`ndgrad.tracing` when an argument is a GradArray.
``no_gradient``  integer, boolean or structural results: left alone.
``unsupported``  everything else (the default): the wrapper raises ``NotDifferentiableError``
                 when an argument requires grad, and guards the functions it is given
                 (``fun``, ``jac``, callbacks), so that a closure over an array that requires
                 grad (``solve_ivp(lambda t, y: -k * y, ...)``) is refused too, not cut.

The wrapper replaces the original wherever a module holds it (``scipy.linalg.expm``,
``scipy.linalg._matfuncs.expm``, ``from scipy.linalg import expm`` in a module imported earlier),
found by one scan of ``sys.modules`` when the submodule is imported (see ``_lazy``); modules
imported later take the wrapper from SciPy's namespace. Methods of a class are wrapped on the
class itself, so ``isinstance`` and subclassing are unchanged. A wrapper called without any
GradArray among its arguments costs one scan of the arguments and calls the original.
"""

from __future__ import annotations

import functools
import inspect
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ndgrad._array import GradArray
from ndgrad._define import defjvp, deflinear, defvjp
from ndgrad._errors import hidden_errors_reraised, not_differentiable
from ndgrad._graph import grad_enabled, scope_depth
from ndgrad._registry import VJP_RULES
from ndgrad._rules._lazy import after_import
from ndgrad.tracing import tracing

__all__ = [
    "COVERED", "SCIPY_TABLES", "cover", "defjvp_scipy", "deflinear_scipy", "defvjp_scipy",
    "scipy_coverage", "trace_methods",
    "wrap_scipy",
]  # fmt: skip

# module name -> {public name: kind} for every callable ``cover`` classified.
SCIPY_TABLES: dict[str, dict[str, str]] = {}
COVERED: list[str] = []  # the modules ``cover`` was called for, in order
_WHY: dict[str, str] = {}  # "module.name" -> why it raises
_installed: dict[int, Any] = {}  # id(original) -> wrapper (the originals are kept alive below)
_wrapped: dict[int, tuple[Any, Any]] = {}  # id(wrapper) -> (wrapper, original): kept alive
ORIGINALS_OF: list[Any] = []


def holds_grad(obj: Any, requires_grad: bool) -> bool:
    """Whether ``obj`` (or a list, tuple or dict in it) holds a GradArray (requiring grad)."""
    if isinstance(obj, GradArray):
        return obj._node is not None or not requires_grad
    if type(obj) in (list, tuple):
        return any(holds_grad(o, requires_grad) for o in obj)
    if type(obj) is dict:
        return any(holds_grad(o, requires_grad) for o in obj.values())
    return False


def guard_callback(name: str, callback: Any) -> Any:
    """``callback`` as ``name`` will call it: its result must not depend on the graph."""

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        with tracing():  # float(x) of an array that requires grad is a GraphBreakError here
            out = callback(*args, **kwargs)
        if holds_grad(out, requires_grad=True):
            raise not_differentiable(
                name,
                "the function it was given returns a value that depends on an array that "
                "requires grad (through a closure or args=), and no gradient flows through "
                f"{name}",
            )
        return out

    return guarded


_CALLBACKS = (types.FunctionType, types.MethodType, functools.partial)


def _unsupported(func: Any, name: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not grad_enabled():
            return func(*args, **kwargs)
        if holds_grad((args, kwargs), requires_grad=True):
            raise not_differentiable(name, _WHY.get(name, "SciPy computes it in compiled code"))
        args = tuple(guard_callback(name, a) if isinstance(a, _CALLBACKS) else a for a in args)
        kwargs = {
            k: guard_callback(name, v) if isinstance(v, _CALLBACKS) else v
            for k, v in kwargs.items()
        }
        # Compiled code may insist on exact ndarrays: SciPy's own buffers stay plain (outside the
        # scope); the guarded callbacks open it again.
        token = scope_depth.set(0)
        try:
            with hidden_errors_reraised():  # scipy.optimize catches TypeError around ``fun``
                return func(*args, **kwargs)
        finally:
            scope_depth.reset(token)

    return wrapper


def _traced(func: Any, name: str) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not (grad_enabled() and holds_grad((args, kwargs), requires_grad=False)):
            return func(*args, **kwargs)
        with tracing():
            return func(*args, **kwargs)

    return wrapper


_WRAPPERS = {"traced": _traced, "unsupported": _unsupported}


def install_wrappers(pairs: Iterable[tuple[Any, Any]]) -> None:
    """Put each wrapper wherever a module (SciPy's or another's) holds its original."""
    by_id = {}
    for original, wrapper in pairs:
        by_id[id(original)] = wrapper
        old = _installed.get(id(original))
        if old is not None and old is not wrapper:  # a rule replaces an earlier wrapper
            by_id[id(old)] = wrapper
        _installed[id(original)] = wrapper
        _wrapped[id(wrapper)] = (wrapper, original)
    if not by_id:
        return
    # SciPy keys a table of its functions' array-API capabilities by the function object: the
    # wrapper takes the original's entry, so that lookups by the public name still find it.
    array_api = sys.modules.get("scipy._lib._array_api")
    table = getattr(array_api, "xp_capabilities_table", None)
    if isinstance(table, dict):
        for original, wrapper in pairs:
            if original in table:
                table[wrapper] = table[original]
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.startswith(("numpy", "ndgrad")):
            continue
        try:
            namespace = vars(module)
        except TypeError:
            continue
        for key, value in list(namespace.items()):
            wrapper = by_id.get(id(value))
            if wrapper is not None:
                namespace[key] = wrapper


def _wrap_class(cls: type, name: str) -> None:
    """Wrap the methods ``cls`` defines (its constructor, ``__call__``, public methods)."""
    for attr, value in list(vars(cls).items()):
        if attr.startswith("_") and attr not in ("__init__", "__call__", "__new__"):
            continue
        if isinstance(value, staticmethod | classmethod):
            inner = value.__func__
            if isinstance(inner, types.FunctionType) and id(inner) not in _installed:
                wrapped = _unsupported(inner, f"{name}.{attr}")
                _installed[id(inner)] = wrapped
                ORIGINALS_OF.append(inner)
                setattr(cls, attr, type(value)(wrapped))
        elif isinstance(value, types.FunctionType) and id(value) not in _installed:
            wrapped = _unsupported(value, f"{name}.{attr}")
            _installed[id(value)] = wrapped
            ORIGINALS_OF.append(value)
            setattr(cls, attr, wrapped)


def cover(
    module_name: str,
    *,
    traced: Iterable[str] = (),
    no_gradient: Iterable[str] = (),
    why: dict[str, str] | None = None,
    default: str = "unsupported",
    classes: bool = True,
) -> None:
    """Classify every public callable of ``module_name`` once it is imported.

    Names with a rule (``defvjp_scipy``) keep it; ``traced`` and ``no_gradient`` name the
    others that differentiate or need no gradient; the rest get ``default``. ``why`` gives the
    reason an unsupported function states. With ``classes``, public classes are unsupported:
    their constructors and methods refuse arrays that require grad.
    """
    traced, no_gradient = frozenset(traced), frozenset(no_gradient)
    COVERED.append(module_name)

    def classify(module: Any) -> None:
        table = SCIPY_TABLES.setdefault(module_name, {})
        names = getattr(module, "__all__", None) or [n for n in dir(module) if n[0] != "_"]
        pairs = []
        for name in names:
            func = getattr(module, name, None)
            qualified = f"{module_name}.{name}"
            if why and name in why:
                _WHY[qualified] = why[name]
            if func is None or isinstance(func, types.ModuleType | np.ufunc) or name in table:
                continue
            if inspect.isclass(func):
                if classes and name not in no_gradient:
                    table[name] = "unsupported"
                    _wrap_class(func, qualified)
                continue
            plain = inspect.isfunction(func) or inspect.isbuiltin(func)
            # Other callables are compiled dispatchers (``scipy.fft``'s uarray functions) in
            # the modules that wrap classes too; in ``scipy.stats`` they are distributions,
            # objects whose methods are Python around ``scipy.special``, left as they are.
            if not (plain or (classes and callable(func))) or func in VJP_RULES:
                continue
            kind = "traced" if name in traced else "no_gradient" if name in no_gradient else default
            table[name] = kind
            if kind in _WRAPPERS and id(func) not in _installed:
                ORIGINALS_OF.append(func)
                pairs.append((func, _WRAPPERS[kind](func, qualified)))
        install_wrappers(pairs)

    after_import(module_name, classify)


def defvjp_scipy(module_name: str, name: str, *rules: Any, arrays: Iterable[str] = ()) -> None:
    """Register rules for ``module_name.name`` once it is imported, and install the wrapper.

    ``arrays`` names the parameters SciPy reads as arrays (``array_like``): a list or tuple
    there is made one array before the call is recorded (``Primitive.arrays``). Call it before
    :func:`cover` of the same module: the function is then in the ``rule`` table and ``cover``
    leaves it alone.
    """

    def register(module: Any) -> None:
        func = getattr(module, name)
        wrapped = _wrapped.get(id(func))
        if wrapped is not None and wrapped[0] is func:  # classified by ``cover`` first:
            func = wrapped[1]  # give the rule to the original
        wrapper = defvjp(func, *rules, name=f"{module_name}.{name}")
        VJP_RULES[wrapper].arrays = frozenset(arrays)
        SCIPY_TABLES.setdefault(module_name, {})[name] = "rule"
        ORIGINALS_OF.append(func)
        install_wrappers([(func, wrapper)])

    after_import(module_name, register)


def _registered(module_name: str, module: Any, name: str) -> Any:
    """The key of ``name``'s VJP rules: the recording wrapper ``defvjp_scipy`` installed."""
    func = getattr(module, name)
    if func not in VJP_RULES:
        raise RuntimeError(f"{module_name}.{name} has no VJP rules for its forward rules to join")
    return func


def defjvp_scipy(module_name: str, name: str, *rules: Any) -> None:
    """Forward-mode rules (``defjvp``) for ``module_name.name``, once it is imported; call it
    after the function's :func:`defvjp_scipy` (the registrations run in that order)."""
    after_import(module_name, lambda m: defjvp(_registered(module_name, m, name), *rules))


def deflinear_scipy(module_name: str, *names: str) -> None:
    """``deflinear`` for functions registered with :func:`defvjp_scipy`, once imported."""
    after_import(module_name, lambda m: deflinear(*(_registered(module_name, m, n) for n in names)))


def wrap_scipy(module_name: str, name: str, make_wrapper: Callable[[Any], Any]) -> None:
    """Install ``make_wrapper(original)`` for ``module_name.name`` once it is imported.

    For functions that a rule table cannot describe (solvers that take functions): the wrapper
    records its own nodes. Like :func:`defvjp_scipy`, call it before :func:`cover`; the
    function is then in the ``rule`` table.
    """

    def register(module: Any) -> None:
        func = getattr(module, name)
        if id(func) in _wrapped:
            func = _wrapped[id(func)]
        SCIPY_TABLES.setdefault(module_name, {})[name] = "rule"
        ORIGINALS_OF.append(func)
        install_wrappers([(func, make_wrapper(func))])

    after_import(module_name, register)


def trace_methods(module_name: str, class_name: str, names: Iterable[str]) -> None:
    """Trace the methods ``names`` of ``module_name.class_name`` once it is imported.

    For classes whose methods are NumPy code (``scipy.signal.ShortTimeFFT``); like
    :func:`defvjp_scipy`, call it before :func:`cover`, which leaves these methods alone and
    makes the class's other methods refuse.
    """

    def register(module: Any) -> None:
        cls = getattr(module, class_name)
        for name in names:
            original = vars(cls)[name]
            wrapper = _traced(original, f"{module_name}.{class_name}.{name}")
            _installed[id(original)] = _installed[id(wrapper)] = wrapper
            ORIGINALS_OF.append(original)
            setattr(cls, name, wrapper)

    after_import(module_name, register)


def scipy_coverage() -> dict[str, dict[str, list[str]]]:
    """For each covered SciPy module that is imported: its names by kind."""
    report: dict[str, dict[str, list[str]]] = {}
    for module_name, table in sorted(SCIPY_TABLES.items()):
        kinds: dict[str, list[str]] = {}
        for name, kind in sorted(table.items()):
            kinds.setdefault(kind, []).append(name)
        report[module_name] = kinds
    return report
