"""Function transforms: ``grad`` and ``value_and_grad`` of functions written with plain NumPy.

A transform wraps the chosen arguments as fresh tracers (new leaves, or, inside another
transform, a recorded alias of the outer tracer), calls the function, and backpropagates to
exactly those tracers: the caller's arrays and their ``.grad`` are never touched. At the
outermost level results are plain ndarrays (a Python float gets a Python float); inside another
transform they are GradArrays whose graph the outer transform differentiates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from ndgrad import _graph
from ndgrad._array import GradArray, _plain
from ndgrad._graph import enable_grad, grad_enabled

__all__ = ["grad", "value_and_grad"]

ArgNums = int | Sequence[int]

# How many transforms are evaluating their function right now in this context: inside one, a
# transform records its backward pass so that the outer one can differentiate it.
_depth: ContextVar[int] = ContextVar("ndgrad_transform_depth", default=0)


# --- containers of arrays ---------------------------------------------------------------------


def tree_flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of nested tuples, lists and dicts, and a spec to rebuild the structure."""
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


def _tracer(x: Any) -> GradArray:
    """A fresh array that stands for ``x`` and requires grad."""
    if isinstance(x, GradArray) and x.requires_grad and grad_enabled():
        # An outer transform (or the user) differentiates x: alias it with a recorded identity,
        # a node of our own, so the outer graph still reaches x and nothing is confused.
        return np.positive(x)  # type: ignore[no-any-return]
    values = _plain(x) if isinstance(x, GradArray) else x
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


def _nested(args: Sequence[Any]) -> bool:
    """Whether the result must stay differentiable: inside a transform, or on traced inputs."""
    if _depth.get() > 0:
        return True
    leaves, _ = tree_flatten(list(args))
    return any(isinstance(x, GradArray) and x.requires_grad for x in leaves) and grad_enabled()


def _check_output(out: Any, fname: str) -> None:
    dtype = getattr(out, "dtype", None)
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


def _disconnected(fname: str) -> ValueError:
    return ValueError(
        f"the output of {fname} does not depend on the input(s) being differentiated. The "
        "usual cause is a conversion that strips the GradArray: np.asarray(x), np.array(x), "
        "float(x), x.tolist() or math.* inside the function. Pass allow_unused=True to get "
        "zeros for inputs the output really does not depend on."
    )


def _outermost(g: Any, like: Any) -> Any:
    """Plain ndarray results; a Python float for a Python float argument."""
    g = _plain(g) if isinstance(g, GradArray) else np.asarray(g)
    if isinstance(like, float):
        return float(g)
    if isinstance(like, complex):
        return complex(g)
    return g


def _value_and_grad(
    fun: Callable[..., Any],
    argnums: ArgNums,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    allow_unused: bool,
    has_aux: bool,
) -> tuple[Any, Any, Any]:
    fname = getattr(fun, "__name__", "the function")
    nums = _argnum_tuple(argnums, len(args))
    nested = _nested(args)
    call_args = list(args)
    specs, tracers = {}, {}
    for n in nums:
        leaves, spec = tree_flatten(args[n])
        specs[n], tracers[n] = spec, [_tracer(x) for x in leaves]
        call_args[n] = tree_unflatten(spec, tracers[n])
    token = _depth.set(_depth.get() + 1)
    try:
        with enable_grad():
            result = fun(*call_args, **kwargs)
    finally:
        _depth.reset(token)
    out, aux = result if has_aux else (result, None)
    _check_output(out, fname)
    flat = [t for n in nums for t in tracers[n]]
    if isinstance(out, GradArray) and out.requires_grad:
        root = out if out.shape == () else np.reshape(out, ())
        cots = _graph.backward(
            [(root._node, root._out)],
            [GradArray(np.ones((), out.dtype)) if nested else np.ones((), out.dtype)],
            inputs=[(t._node, t._out) for t in flat],
            retain_graph=nested,
            create_graph=nested,
        )
        assert cots is not None
    else:
        cots = [None] * len(flat)
    if any(c is None for c in cots) and not allow_unused:
        raise _disconnected(fname)
    cots = [np.zeros(t.shape, t.dtype) if c is None else c for c, t in zip(cots, flat, strict=True)]
    grads, start = [], 0
    for n in nums:
        leaves, _ = tree_flatten(args[n])
        part = cots[start : start + len(leaves)]
        start += len(leaves)
        if not nested:
            part = [_outermost(c, x) for c, x in zip(part, leaves, strict=True)]
        grads.append(tree_unflatten(specs[n], part))
    value = out if nested else (_plain(out) if isinstance(out, GradArray) else np.asarray(out))
    return value, grads[0] if isinstance(argnums, int) else tuple(grads), aux


def value_and_grad(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
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

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> value, g = nd.value_and_grad(lambda x: np.sum(x**2))(np.array([1.0, 2.0]))
    >>> float(value), g
    (5.0, array([2., 4.]))
    """

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        value, grads, aux = _value_and_grad(fun, argnums, args, kwargs, allow_unused, has_aux)
        return ((value, aux), grads) if has_aux else (value, grads)

    return wrapped


def grad(
    fun: Callable[..., Any],
    argnums: ArgNums = 0,
    *,
    has_aux: bool = False,
    allow_unused: bool = False,
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

    Returns
    -------
    callable
        Takes ``fun``'s arguments and returns gradients shaped like the chosen ones.

    See Also
    --------
    value_and_grad : the value and the gradient in one pass.

    Examples
    --------
    >>> import numpy as np
    >>> from ndgrad import grad
    >>> grad(lambda x: np.sum(x ** 2))(np.array([1.0, 2.0]))
    array([2., 4.])
    >>> grad(grad(lambda x: x ** 3))(2.0)
    12.0
    """

    @functools.wraps(fun)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        _, grads, aux = _value_and_grad(fun, argnums, args, kwargs, allow_unused, has_aux)
        return (grads, aux) if has_aux else grads

    return wrapped
