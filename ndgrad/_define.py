"""``defvjp``, ``defjvp`` and their kin: how rules enter the dispatch tables of ``_registry``.

They sit above the engine because a function NumPy does not dispatch (a SciPy routine, a
function of the user's) gets the engine's recording wrapper (``_array.primitive``) in its place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ndgrad._array import primitive
from ndgrad._registry import (
    PERMANENT_PRIMITIVES,
    VJP_RULES,
    JVPRule,
    Primitive,
    VJPRule,
    classify,
)


def defvjp(func: Any, *rules: VJPRule | None, name: str | None = None) -> Any:
    """Register gradient rules for ``func``, one per positional argument, in argument order.

    Parameters
    ----------
    func : callable or (ufunc, method)
        A NumPy function or ufunc (which already dispatches on GradArray), a ufunc method as
        ``(np.add, "reduce")``, or a function of the user's own.
    *rules : callable or None
        ``rule(g, ans, *args, **kwargs)`` returns the cotangent of one positional argument;
        ``None`` for an argument that gets no gradient. Write rules with NumPy calls so that
        they can themselves be differentiated.
    name : str, optional
        How errors and ``repr`` name the function.

    Returns
    -------
    callable
        ``func`` itself for NumPy functions and ufuncs; for any other function a wrapper that
        records a node when an argument requires grad.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> def cube(x):
    ...     return x**3
    >>> cube = nd.defvjp(cube, lambda g, ans, x: 3 * g * x**2)
    >>> nd.grad(lambda x: np.sum(cube(x)))(np.array([1.0, 2.0]))
    array([ 3., 12.])
    """
    return _register(func, tuple(rules), None, name)


def defvjp_argnum(
    func: Any, rule: VJPRule, name: str | None = None, *, paired: bool = False
) -> Any:
    """Register one rule for every positional argument of a variadic ``func``.

    ``rule(argnum, g, ans, *args, **kwargs)`` returns the cotangent of ``args[argnum]``; it
    serves functions such as ``np.einsum`` or ``np.broadcast_arrays`` whose argument count
    varies. ``paired=True`` says that output ``i`` depends on argument ``i`` alone
    (``broadcast_arrays``, ``atleast_1d``): outputs of constant arguments then stay constants.
    """
    return _register(func, (), rule, name, paired)


def _register(
    func: Any, rules: tuple[VJPRule | None, ...], argnum_rule: Any, name: Any, paired: bool = False
) -> Any:
    ufunc_call = isinstance(func, np.ufunc)
    prim = Primitive(func, rules, argnum_rule, name=name, unbroadcast=ufunc_call, paired=paired)
    if not (ufunc_call or isinstance(func, tuple) or hasattr(func, "_implementation")
            or func in (np.ndarray.__getitem__, np.ndarray.__setitem__)):  # fmt: skip
        # A function of the user's: NumPy will not dispatch it, so hand out a wrapper that does.
        func = prim.func = primitive(func, prim)
    classify(func)
    VJP_RULES[func] = prim
    PERMANENT_PRIMITIVES.add(prim)
    return func


def definplace(func: Any, rules: dict[int, VJPRule]) -> None:
    """In-place forms of some of ``func``'s VJP rules, by argument position (internal: see
    ``Primitive.set_inplace``). They save backward a fresh array per call on the hot
    elementwise functions, where memory, not arithmetic, bounds the time."""
    _primitive_of(func, "definplace").set_inplace(rules)


def defunit(func: Any, rules: dict[int, VJPRule]) -> None:
    """Forms of some of ``func``'s VJP rules for a cotangent that is a spread 1, by argument
    position (internal: see ``Primitive.set_unit``). The rule ``g * factor`` then returns the
    factor, read-only: a sum of a product over a large array makes no copy of either operand."""
    _primitive_of(func, "defunit").set_unit(rules)


def defarraymethod(func: Any, method: Any) -> None:
    """NumPy's array method equal to ``func`` on a plain ndarray first argument (internal: see
    ``Primitive.array_method``): the compiled path calls it instead of ``func``'s Python
    wrapper."""
    _primitive_of(func, "defarraymethod").array_method = method


# --- forward mode -------------------------------------------------------------------------------


def _primitive_of(func: Any, what: str) -> Primitive:
    prim = VJP_RULES.get(func)
    if prim is None:
        raise ValueError(
            f"{what}: {func!r} has no VJP rules. Register them first with ndgrad.defvjp: "
            "forward mode sits beside reverse mode, and a function without reverse rules has "
            "no derivative ndgrad knows."
        )
    return prim


def defjvp(func: Any, *rules: JVPRule | None) -> Any:
    """Register forward-mode (Jacobian-vector product) rules for ``func``, one per positional
    argument, beside its VJP rules (``defvjp`` first).

    Parameters
    ----------
    func : callable or (ufunc, method)
        A function that already has VJP rules: the object ``defvjp`` returned for it.
    *rules : callable or None
        ``rule(t, ans, *args, **kwargs)`` returns the tangent of the output that the tangent
        ``t`` of one positional argument causes (for a function with several outputs, a tuple
        of them, ``None`` where zero); ``None`` for an argument without a gradient. The
        contributions of several arguments are added. Write rules with NumPy calls, so that
        they can themselves be differentiated.

    Returns
    -------
    callable
        ``func``.

    Notes
    -----
    Without JVP rules forward mode still works for ``func``: it transposes the VJP rules with
    a small reverse pass per call, which is correct and slower. ``ndgrad.coverage`` lists the
    functions that do.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> def cube(x):
    ...     return x**3
    >>> cube = nd.defvjp(cube, lambda g, ans, x: 3 * g * x**2)
    >>> cube = nd.defjvp(cube, lambda t, ans, x: 3 * t * x**2)
    >>> nd.jvp(cube, (np.array([1.0, 2.0]),), (np.array([1.0, 1.0]),))[1]
    array([ 3., 12.])
    """
    _primitive_of(func, "defjvp").set_jvp("rules", tuple(rules))
    return func


def defjvp_argnum(func: Any, rule: JVPRule) -> Any:
    """One forward-mode rule for every positional argument of a variadic ``func``:
    ``rule(argnum, t, ans, *args, **kwargs)`` (as ``defvjp_argnum`` for reverse mode)."""
    _primitive_of(func, "defjvp_argnum").set_jvp("rules", (), rule)
    return func


def deflinear(*funcs: Any) -> None:
    """Each of ``funcs`` is linear in its differentiable arguments together (``reshape``,
    ``sum``, ``concatenate``): its tangent is the function of the tangents."""
    for func in funcs:
        _primitive_of(func, "deflinear").set_jvp("linear")


def defmultilinear(*funcs: Any) -> None:
    """Each of ``funcs`` is linear in each differentiable argument alone (``matmul``,
    ``einsum``): its tangent is the sum, over arguments, of the function with that argument
    replaced by its tangent."""
    for func in funcs:
        _primitive_of(func, "defmultilinear").set_jvp("multilinear")
