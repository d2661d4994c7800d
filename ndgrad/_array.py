"""GradArray: the ndarray subclass, and how it dispatches NumPy calls to the graph.

Every NumPy call on a GradArray arrives here (``__array_ufunc__``, ``__array_function__``, the
overridden ndarray methods). The call is computed by NumPy on plain ndarrays; when an input
requires grad and grad mode is on, one node is recorded with the rules found in
``_registry.VJP_RULES``. Functions without a rule raise ``NotDifferentiableError``.

In-place writes (``out=``, ``x += y``, ``x[i] = v``) and views are handled in ``_inplace.py``.
"""

from __future__ import annotations

import operator
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ndgrad import _graph
from ndgrad._aliases import refuse_aliases, sanctioned
from ndgrad._core import (
    ArrayBase,
    array_meta,
    configure_array,
    function_fast,
    guard_plain,
    guard_saved,
)
from ndgrad._core import register_alias as register  # a node's array enters the alias table
from ndgrad._errors import graph_break, not_differentiable, plain_target
from ndgrad._fpwarnings import ERRSTATE, user_errstate
from ndgrad._graph import (
    CONSTANT_STATE,
    COPY_BYTES,
    GRAD_MODE,
    NO_KWARGS,
    OUTPUT,
    Edge,
    LeafNode,
    Node,
    grad_enabled,
    make_edge,
    scope_depth,
)
from ndgrad._registry import (
    KEYWORD_FORMS,
    NO_GRADIENT,
    TRACED_THROUGH,
    UNSUPPORTED,
    VJP_RULES,
    ArrayMeta,
    Primitive,
    qualified_name,
)

__all__ = ["GradArray"]

_tuple_new = tuple.__new__
_NDARRAY_SHAPE = np.ndarray.shape
view_as = np.ndarray.view  # unbound: bypasses GradArray.view, and is the fastest unwrap
# NumPy's own, bound before any conversion scope can rebind ``np.asarray`` (ndgrad.tracing): the
# hot path makes 0-d arrays of NumPy scalars with it, and must not pay for the scope's wrapper.
_asarray = np.asarray
_FLOAT_KINDS = "fc"
# gufunc keywords the rules do not follow (they assume the defaults: core dimensions last)
_CORE_DIM_KWARGS = {"axes": None, "axis": -1, "keepdims": False}


def become_leaf(x: GradArray) -> None:
    """Make float GradArray ``x``, recorded by nothing, a leaf that requires grad (what
    ``x.requires_grad = True`` does once it has checked that it may)."""
    x._node = LeafNode(x)
    register(x)  # a plain alias of its memory must not meet the graph (_aliases)
    if x._base_ga is not None:  # a view made a leaf: writes to it are refused
        register_leaf_view(x)


def plain_array(x: GradArray) -> NDArray[Any]:
    return view_as(x, np.ndarray)


class GradArray(ArrayBase):
    """An ndarray that records the NumPy operations applied to it, for reverse-mode gradients.

    Parameters
    ----------
    values : array_like
        Copied, as by ``np.array``. A GradArray given here is copied without its graph.
    requires_grad : bool, default False
        Whether operations on this array are recorded so that ``backward`` can reach it.
        Only float and complex arrays can require grad.
    dtype : data-type, optional
        As for ``np.array``.

    Attributes
    ----------
    requires_grad : bool
    grad : ndarray or None
        Accumulated by ``backward()``; a plain ndarray of this array's shape and dtype.
    is_leaf : bool
        Made by the user rather than by an operation.

    Examples
    --------
    >>> import numpy as np
    >>> import ndgrad as nd
    >>> x = nd.GradArray([1.0, 2.0, 3.0], requires_grad=True)
    >>> y = np.sum(x**2)
    >>> y.backward()
    >>> x.grad
    array([2., 4., 6.])
    """

    __slots__ = ("_base_ga", "_grad", "_node", "_out", "_seen", "_version", "_view_fn")
    _node: Any  # None, a LeafNode or the Node that made this array
    _out: int
    _grad: Any
    _base_ga: Any  # the GradArray this one is a tracked view of, or None
    _view_fn: Any
    _seen: int
    _version: list[Any]  # [writes, weak reference to the Guard or None, scalar-like, ...]

    def __new__(
        cls, values: ArrayLike, requires_grad: bool = False, dtype: DTypeLike | None = None
    ) -> GradArray:
        if isinstance(values, GradArray):
            values = plain_array(values)
        self = view_as(np.array(values, dtype=dtype, copy=True), cls)
        if requires_grad:
            self.requires_grad = True
        return self

    # ``__array_finalize__`` is ArrayBase's (compiled, ``_core.c``): NumPy calls it for every
    # new GradArray. It makes the array a constant, and gives it the version counter of the
    # GradArray it views, or a new one: ``_version`` is [writes so far, weak reference to the
    # Guard of the memory or None].

    # --- public attributes -----------------------------------------------------------------

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this array."""
        return self._node is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if not self.is_leaf:
            raise ValueError(
                "requires_grad can only be changed on a leaf; use .detach() to get an array "
                "that is cut from the graph."
            )
        if not flag:
            self._node = None
        elif self._node is None:
            if self.dtype.kind not in _FLOAT_KINDS:
                raise TypeError(
                    f"only float and complex arrays can require grad, not {self.dtype}; convert "
                    "first, e.g. GradArray(values, dtype=float, requires_grad=True)."
                )
            become_leaf(self)

    @property
    def is_leaf(self) -> bool:
        """True unless this array was produced by a recorded operation."""
        return self._node is None or type(self._node) is LeafNode

    @property
    def grad(self) -> NDArray[Any] | None:
        """The gradient accumulated by ``backward()``, or None.

        Only leaves get one: reading it on an array made by a recorded operation warns (as
        PyTorch does), since it is always None there, most often after an update written as
        ``w = w - lr * w.grad``, which makes ``w`` a new, non-leaf array.
        """
        if self._grad is None and self._node is not None and type(self._node) is not LeafNode:
            warnings.warn(
                f"reading .grad of a non-leaf GradArray (made by {self._node.name}): backward() "
                "fills .grad only on leaves, so it is None here. After `w = w - lr * w.grad` w "
                "is such a non-leaf: update the leaf in place instead, `with nd.no_grad(): w -= "
                "lr * w.grad`, or make a new leaf, `w = nd.GradArray(w.values, "
                "requires_grad=True)`.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad  # type: ignore[no-any-return]

    @grad.setter
    def grad(self, value: ArrayLike | None) -> None:
        if value is not None:
            if not isinstance(value, np.ndarray):
                value = np.asarray(value)
            if value.shape != self.shape or value.dtype != self.dtype:
                raise ValueError(
                    f"grad must have the array's shape {self.shape} and dtype {self.dtype}, "
                    f"got shape {value.shape} and dtype {value.dtype}."
                )
        self._grad = value

    @property
    def values(self) -> NDArray[Any]:
        """The data as a plain ndarray view (no graph, shares memory)."""
        return sanctioned(plain_array(self))

    @property
    def grad_fn(self) -> str | None:
        """Name of the operation that made this array (None for a leaf)."""
        return None if self.is_leaf else self._node.name  # type: ignore[union-attr]

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``grad`` becomes None)."""
        self._grad = None

    def detach(self) -> GradArray:
        """A GradArray sharing this data (and its version counter) but not the graph."""
        out = view_as(plain_array(self), GradArray)
        out._version = self._version
        adopt_view(out, self)
        return out

    def backward(
        self,
        grad: ArrayLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate the gradient of this array into the ``grad`` of every leaf it depends on.

        Parameters
        ----------
        grad : array_like, optional
            The cotangent of this array; required unless the array has exactly one element.
        retain_graph : bool, optional
            Keep the saved arrays so that ``backward`` can run again; defaults to
            ``create_graph``.
        create_graph : bool, default False
            Record the backward pass itself, so that the gradients are GradArrays that can be
            differentiated again.

        Raises
        ------
        RuntimeError
            If the array does not require grad, or its graph was freed by an earlier backward.
        ValueError
            If ``grad`` is missing for a non-scalar or a complex output, is complex for a real
            output, or has the wrong shape.
        """
        if self._node is None:
            raise RuntimeError(
                "backward() was called on an array that does not require grad: none of its "
                "inputs had requires_grad=True, or it was computed under nd.no_grad()."
            )
        root_grad = _root_grad(self, grad, create_graph)
        if self._base_ga is not None:
            refresh(self)
        state = user_errstate()  # the rules' warnings point at this call
        token = None if state is None else ERRSTATE.set(state)
        try:
            _graph.backward(
                [(self._node, self._out)],
                [root_grad],
                retain_graph=create_graph if retain_graph is None else retain_graph,
                create_graph=create_graph,
                lift=graph_array,
            )
        finally:
            if token is not None:
                ERRSTATE.reset(token)

    # ndarray's own getter (no Python frame: the engine reads .shape on every operation); the
    # setter records ``x.shape = s`` like ``np.reshape``.
    shape = property(
        _NDARRAY_SHAPE.__get__,
        lambda self, value: set_shape(self, value),
        doc="As ``ndarray.shape``; assigning it is recorded like ``np.reshape`` (a view).",
    )

    # --- dispatch --------------------------------------------------------------------------

    # ``__array_ufunc__`` is compiled (``_core.ArrayBase``): it computes and records the common
    # call, ``ufunc(x)`` or ``ufunc(x, y)`` without keywords on GradArrays, plain arrays and
    # Python scalars, without a Python frame, and hands every other call here.
    def array_ufunc_general(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Every ufunc call the compiled ``__array_ufunc__`` does not take itself."""
        # NumPy's floating-point warnings are reported at the user's line (see _fpwarnings).
        state = user_errstate()
        if state is None:
            return self._array_ufunc(ufunc, method, inputs, kwargs)
        token = ERRSTATE.set(state)
        try:
            return self._array_ufunc(ufunc, method, inputs, kwargs)
        finally:
            ERRSTATE.reset(token)

    def _array_ufunc(
        self, ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if method == "at" or kwargs.get("out") is not None:
            return ufunc_inplace(ufunc, method, inputs, kwargs)
        raw = list(inputs)
        grad_inputs = None
        for i, x in enumerate(inputs):
            if isinstance(x, GradArray):
                if x._base_ga is not None:
                    refresh(x)
                raw[i] = plain_array(x)
                if x._node is not None:
                    if grad_inputs is None:
                        grad_inputs = [i]
                    else:
                        grad_inputs.append(i)
            elif _foreign(x):
                return NotImplemented
        where = kwargs.get("where")
        if isinstance(where, GradArray):
            kwargs["where"] = plain_array(where)
        res = getattr(ufunc, method)(*raw, **kwargs)
        if grad_inputs is None or not grad_enabled():
            return wrap_result(res)
        outs = wrap_result(res)
        if not _any_float(outs):
            if any(getattr(o, "dtype", np.dtype(float)).kind == "O" for o in flat_outputs(outs)):
                raise _object_cast()  # a Python function per element (np.frompyfunc)
            return outs
        key = ufunc if method == "__call__" else (ufunc, method)
        prim = VJP_RULES.get(key)
        if prim is None:
            raise not_differentiable(qualified_name(key))
        if method == "__call__":
            moved = [
                k for k, default in _CORE_DIM_KWARGS.items() if kwargs.get(k, default) != default
            ]
            if moved:  # the rules assume the default core dimensions of gufuncs (matmul, vecdot)
                raise not_differentiable(
                    qualified_name(key),
                    f"no gradient with {moved[0]}=; move the axes with np.moveaxis first",
                )
            node_kwargs: dict[str, Any] = {}
            where = kwargs.get("where", True)
        else:
            node_kwargs, where = kwargs, True
        edges = [(i, None, inputs[i]) for i in grad_inputs]
        where = None if where is True else where
        record_node(prim, edges, raw, node_kwargs, res, outs, where, originals=inputs)
        return outs

    # ``__array_function__`` is compiled (``_core.ArrayBase``): it calls a function that has a
    # gradient rule, with GradArrays as the only overriding type (plain ndarrays override
    # nothing), as the code below does, without a Python frame, and hands every other call here.
    def array_function_general(
        self, func: Callable[..., Any], types: Any, args: Any, kwargs: Any
    ) -> Any:
        """Every function call the compiled ``__array_function__`` does not take itself."""
        if func in _ATTRIBUTES and args and isinstance(args[0], np.ndarray):
            # np.ndim(x), np.shape(x), np.size(x[, axis]) of an array read its attributes: no
            # values, nothing to unwrap (the rules ask this of their arguments, recorded ones
            # under create_graph, on every call)
            return func._implementation(*args, **kwargs)  # type: ignore[attr-defined]
        state = user_errstate()
        if state is None:
            return self._array_function(func, types, args, kwargs)
        token = ERRSTATE.set(state)
        try:
            return self._array_function(func, types, args, kwargs)
        finally:
            ERRSTATE.reset(token)

    def _array_function(self, func: Callable[..., Any], types: Any, args: Any, kwargs: Any) -> Any:
        for t in types:
            if not issubclass(t, np.ndarray):
                return NotImplemented
            if t is not GradArray:
                _reject_subclass(t)
        prim = VJP_RULES.get(func)
        if prim is not None:
            impl = func._implementation  # type: ignore[attr-defined]
            done = _function_fast(prim, impl, args, kwargs)
            if done is NotImplemented:
                done = call_primitive(prim, impl, args, kwargs)
            return done
        if func in TRACED_THROUGH:
            if (
                func in _WRITES_FIRST  # np.put_along_axis, np.fill_diagonal
                and args
                and not isinstance(args[0], GradArray)
                and grad_enabled()
                and needs_grad((args[1:], kwargs))
            ):  # NumPy's code would store the values into the plain array, without the graph
                raise plain_target(qualified_name(func))
            res = func._implementation(*args, **kwargs)  # type: ignore[attr-defined]
            if isinstance(res, GradArray) and res.dtype.kind not in _FLOAT_KINDS:
                return plain_array(res)  # integer results are plain arrays (np.linspace(dtype=int))
            return res
        if func not in NO_GRADIENT and grad_enabled() and needs_grad((args, kwargs)):
            raise not_differentiable(qualified_name(func), UNSUPPORTED.get(func, ""))
        # ``like=`` hands over the public function, which may have no ``_implementation``.
        impl = getattr(func, "_implementation", func)
        if func in _WRITES_FIRST and args and isinstance(args[0], GradArray):
            return _write_function(impl, args, kwargs)
        return wrap_result(impl(*unwrap_all(args), **unwrap_all(kwargs)))

    # --- indexing --------------------------------------------------------------------------

    # ``x[key]`` is compiled (``_core.ArrayBase``'s mapping slot): it does what this does.
    def getitem_general(self, key: Any) -> Any:
        """``x[key]`` in Python: the compiled ``__getitem__``'s steps, for tests to compare."""
        prim = VJP_RULES[np.ndarray.__getitem__]
        done = _function_fast(prim, getitem_impl, (self, key), None)
        if done is NotImplemented:
            done = call_primitive(prim, getitem_impl, (self, key), {})
        return done

    def __setitem__(self, key: Any, value: Any) -> None:
        record_setitem(self, key, value)

    def __iter__(self) -> Any:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array_repr(plain_array(self)).replace("array", "GradArray", 1)
        if self._node is None:
            return body
        extra = "requires_grad=True" if self.is_leaf else f"grad_fn={self._node.name}"
        return f"{body[:-1]}, {extra})"

    def __reduce__(self) -> Any:
        """Pickle values, dtype, requires_grad and ``.grad`` (as ``deepcopy`` keeps them).

        The graph is not pickled: a non-leaf becomes a new constant holding its values.
        """
        grad = None if self._grad is None else np.array(plain_array(self._grad), copy=True)
        return (_unpickle, (plain_array(self).copy(), self.is_leaf and self.requires_grad, grad))

    def __copy__(self) -> GradArray:
        return self.copy()  # type: ignore[no-any-return]

    def __deepcopy__(self, memo: Any) -> GradArray:
        out = GradArray(self, requires_grad=self.is_leaf and self.requires_grad)
        if self._grad is not None:
            out._grad = self._grad.copy()
        return out


# NumPy functions that write into their first argument: with nothing that requires grad among
# the arguments they run on plain arrays, as writes ndgrad sees (copy-on-write, views, version).
_WRITES_FIRST = {np.copyto, np.place, np.put, np.putmask, np.fill_diagonal, np.put_along_axis}
# NumPy functions that, given an array, return one of its attributes (never an array)
_ATTRIBUTES = frozenset({np.ndim, np.shape, np.size})


def _write_function(impl: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    target = args[0]
    if target._base_ga is not None:
        refresh(target)
    prepare_write(target)
    res = impl(*unwrap_all(args), **unwrap_all(kwargs))
    target._version[0] += 1
    if target._base_ga is not None:
        rebase(target)
    return res


def _inplace_operator(name: str, op: Callable[[Any, Any], Any]) -> Callable[..., Any]:
    """``x += y``: in place, except on a 0-d result that NumPy would have given as a scalar.

    NumPy's scalars are immutable, so there ``+=`` makes a new object and rebinds the name;
    ``h.append(s); s += e`` must leave ``h`` alone on GradArrays too (DESIGN.md, Outputs).
    """
    inplace = getattr(np.ndarray, name)

    def method(self: GradArray, other: Any) -> Any:
        if len(self._version) > 2 and self._version[2] is _SCALAR_LIKE and self.ndim == 0:
            return op(self, other)
        return inplace(self, other)

    method.__name__ = name
    return method


for _name, _op in {
    "__iadd__": np.add,
    "__isub__": np.subtract,
    "__imul__": np.multiply,
    "__itruediv__": np.true_divide,
    "__ifloordiv__": np.floor_divide,
    "__imod__": np.remainder,
    "__ipow__": np.power,
    "__iand__": np.bitwise_and,
    "__ior__": np.bitwise_or,
    "__ixor__": np.bitwise_xor,
    "__ilshift__": np.left_shift,
    "__irshift__": np.right_shift,
}.items():
    setattr(GradArray, _name, _inplace_operator(_name, _op))


def in_scope_graph(x: GradArray) -> bool:
    """``x`` is in a graph, inside a transform or ``nd.tracing()``, with grad mode on: there a
    plain form of it (a Python value, its bytes, a plain ndarray) would be a silent cut."""
    return x._node is not None and bool(scope_depth.get()) and grad_enabled()


def _buffer_export(x: GradArray) -> Exception | None:
    """The error for exporting ``x``'s buffer (the compiled base's ``bf_getbuffer`` asks), or
    None where NumPy's export may go ahead."""
    if not in_scope_graph(x):
        return None
    return graph_break(
        "the buffer protocol (memoryview(x), np.frombuffer(x), bytes(x), compiled code that "
        "reads x through a typed memoryview)"
    )


def _object_cast() -> Exception:
    return not_differentiable(
        "a conversion to dtype=object",
        "an object array holds Python numbers, which cannot carry a gradient; np.vectorize and "
        "np.frompyfunc make one to call a Python function per element: write the function "
        "with NumPy's ufuncs instead, which work on whole arrays",
    )


def _unpickle(
    values: NDArray[Any], requires_grad: bool, grad: NDArray[Any] | None = None
) -> GradArray:
    out = GradArray(values, requires_grad=requires_grad)
    if grad is not None:
        out._grad = grad
    return out


# What ``x[key]`` computes on the plain array: a builtin, which the compiled call makes without
# a Python frame.
getitem_impl = operator.getitem


def _root_grad(out: GradArray, grad: Any, create_graph: bool) -> Any:
    if grad is None:
        if out.size != 1:
            raise ValueError(
                f"backward() on an array of shape {out.shape} needs grad=, the cotangent of "
                "each element; reduce to a scalar first (e.g. np.sum(y).backward())."
            )
        if out.dtype.kind == "c":
            # PyTorch refuses too: a complex value has no gradient of its own, and seeding 1
            # would silently differentiate its real part only.
            raise ValueError(
                "backward() on a complex output needs grad=: only a real value has a gradient. "
                "Backpropagate a real loss (np.real(z), np.abs(z) ** 2, ...) or pass grad=, "
                "the cotangent (grad=1.0 differentiates the real part)."
            )
        if out.ndim == 0:  # the common case: np.array is the cheapest new 0-d array
            grad = np.array(1, out.dtype)
        else:
            grad = np.empty(out.shape, out.dtype)  # np.ones is Python: a third of a microsecond
            grad.fill(1)
    else:
        if out.dtype.kind != "c" and np.iscomplexobj(grad):
            raise ValueError(
                f"backward(grad=...) got a complex cotangent for a real output ({out.dtype}): "
                "its imaginary part would be dropped. Pass a real grad= (e.g. grad.real)."
            )
        if isinstance(grad, GradArray) and not create_graph:
            grad = plain_array(grad)
        grad = np.array(grad, dtype=out.dtype, copy=True) if not create_graph else grad
        if np.shape(grad) != out.shape:
            raise ValueError(
                f"grad has shape {np.shape(grad)} but the array has shape {out.shape}."
            )
    if create_graph and not isinstance(grad, GradArray):
        grad = view_as(np.asarray(grad), GradArray)
    return grad


# --- wrapping and unwrapping ------------------------------------------------------------------


def wrap_result(res: Any) -> Any:
    """Float and complex results become GradArrays (0-d too); others stay as NumPy made them."""
    t = type(res)
    if t is np.ndarray:  # the common cases first
        return view_as(res, GradArray) if res.dtype.kind in _FLOAT_KINDS else res
    if t is np.float64:
        return _scalar(res)
    if t is tuple:
        return tuple(wrap_result(r) for r in res)
    if type(res) is list:
        return [wrap_result(r) for r in res]
    if isinstance(res, tuple) and hasattr(res, "_fields"):  # NumPy's named results
        return type(res)(*(wrap_result(r) for r in res))
    dtype = getattr(res, "dtype", None)
    if not isinstance(dtype, np.dtype) or dtype.kind not in _FLOAT_KINDS:
        return res  # also a scalar type (np.common_type returns np.float64, not an array)
    if type(res) is not np.ndarray:
        if not isinstance(res, (np.generic, np.ndarray)):
            return res
        if isinstance(res, np.generic):
            return _scalar(res)
    return view_as(res, GradArray)


# The version state of a 0-d GradArray that stands for a NumPy scalar: see _SCALAR_LIKE.
def _scalar(res: Any) -> GradArray:
    """A 0-d GradArray for a result NumPy gives as a scalar: in-place operators rebind it."""
    out = view_as(_asarray(res), GradArray)
    out._version = [0, None, _SCALAR_LIKE]
    return out


_SCALAR_LIKE = "scalar"


def _any_float(outs: Any) -> bool:
    if isinstance(outs, (tuple, list)):
        return any(_any_float(o) for o in outs)
    return isinstance(outs, GradArray)


def flat_outputs(outs: Any) -> list[Any]:
    return list(outs) if isinstance(outs, (tuple, list)) else [outs]


def _foreign(x: Any) -> bool:
    """An operand from another array library: NumPy should try its __array_ufunc__ instead."""
    if type(x) is np.ndarray or isinstance(x, (int, float, complex, np.generic, list)):
        return False
    if isinstance(x, np.ndarray):
        _reject_subclass(type(x))
    override = getattr(type(x), "__array_ufunc__", np.ndarray.__array_ufunc__)
    return override is not np.ndarray.__array_ufunc__


def _reject_subclass(kind: type) -> None:
    """np.matrix, MaskedArray, ...: their semantics (masks, * as matmul) would be lost."""
    if not issubclass(kind, GradArray) and kind is not np.ndarray:
        raise TypeError(
            f"ndgrad cannot mix GradArray with {kind.__module__}.{kind.__qualname__}: its "
            "semantics (masks, matrix products) have no gradient rules. Convert it first, e.g. "
            "with np.asarray(...) (or .filled() for a masked array)."
        )


def needs_grad(obj: Any) -> bool:
    if isinstance(obj, GradArray):
        return obj._node is not None
    if isinstance(obj, (list, tuple)):
        return any(needs_grad(o) for o in obj)
    if isinstance(obj, dict):
        return any(needs_grad(o) for o in obj.values())
    return False


def unwrap_all(obj: Any) -> Any:
    if isinstance(obj, GradArray):
        return plain_array(obj)
    if type(obj) in (list, tuple):
        return type(obj)(unwrap_all(o) for o in obj)
    if isinstance(obj, dict):
        return {k: unwrap_all(v) for k, v in obj.items()}
    return obj


def graph_array(raw: Any, node: Any, out: int) -> GradArray:
    """A GradArray over ``raw`` that stands for output ``out`` of ``node`` (for create_graph)."""
    arr = view_as(np.asarray(raw), GradArray)
    arr._node = node
    arr._out = out
    return arr


# --- the fast path of __array_ufunc__ ----------------------------------------------------------

# ``ufunc(x)`` and ``ufunc(x, y)`` without keywords on GradArrays, plain arrays and scalars:
# ``GradArray.__array_ufunc__`` (compiled, ``_core.ArrayBase``) computes, wraps and records the
# call in the common case, with the same saving as ``record_node`` (small saved arrays copied,
# larger ones guarded), and hands every other case (tracked views, plain views aliasing a graph,
# several outputs, dtype=object, floating-point warnings raised as errors, ufuncs without rules)
# to ``GradArray.array_ufunc_general``. ``tests/test_route_parity.py`` runs every rule case both
# ways.
#
# NumPy functions with a rule: the compiled ``_core.function_fast`` takes the common call (plain
# keyword values, no sequence arguments, an operand in a graph), with ``record_node``'s saving,
# and hands any result but one new float array to ``finish_call``; NotImplemented (before
# computing anything) sends every other call to ``call_primitive``. Parity:
# ``tests/test_route_parity.py``.
_function_fast = function_fast


# --- recording --------------------------------------------------------------------------------

GradInput = tuple[int, tuple[int, ...] | None, GradArray]  # (slot, path in a sequence, array)


def record_node(
    prim: Primitive,
    grad_inputs: Sequence[GradInput],
    raw: list[Any],
    kwargs: dict[str, Any],
    res: Any,
    outs: Any,
    where: Any = None,
    saved: list[Any] | None = None,
    old_out: GradArray | None = None,
    originals: Sequence[Any] | None = None,
) -> Node:
    """Record one node for ``outs`` (already wrapped) and point the outputs at it.

    ``originals``: the arguments as the caller passed them (GradArrays, plain arrays), so that
    every saved array is guarded; by default only those that require grad are known.
    """
    if originals is not None:
        refuse_aliases(prim.name, originals)
    # only what the rules of the arguments that require grad read (Primitive.needs)
    if len(grad_inputs) == 1:  # the common case: no set to build and sort
        slots: tuple[int, ...] = (grad_inputs[0][0],)
    else:
        slots = tuple(sorted({slot for slot, _, _ in grad_inputs}))
    saves, meta, saves_ans = prim.needs(slots)
    args = raw if saved is None else saved
    if saves is not None:
        structure = prim.structure
        args = [
            a
            if i in saves
            else (_structure(a) if i in structure else _meta(a))
            if i in meta
            else None
            for i, a in enumerate(args)
        ]
    versions: list[Any] = []
    edges = []
    for slot, flat, x in grad_inputs:
        edges.append(_tuple_new(Edge, (slot, flat, x._node, x._out, x.shape, x.dtype)))
    if originals is None:
        originals = [None] * len(raw)
        for slot, flat, x in grad_inputs:
            if flat is None:
                originals[slot] = x
    for slot, obj in enumerate(originals):
        if (saves is None or slot in saves) and (saved is None or saved[slot] is raw[slot]):
            kept = _keep(versions, slot, obj, raw[slot])  # not a private copy yet
            if kept is not raw[slot]:
                if args is raw or args is saved:
                    args = list(args)
                args[slot] = kept
    if old_out is not None and old_out._node is not None:
        edges.append(make_edge(-1, None, old_out))
    if type(outs) is GradArray and not prim.paired:  # one output, the common case: no lists
        ans: Any = None
        if saves_ans:
            ans = _keep_output(versions, outs, plain_array(outs), saved is not None)
        node = Node(
            prim, tuple(edges), tuple(args), kwargs or NO_KWARGS, ans, tuple(versions), None, where
        )
        outs._node = node
        outs._out = 0
        register(outs)
        return node
    flat_outs = flat_outputs(outs)
    ans = None
    if saves_ans:
        raws = [plain_array(o) if isinstance(o, GradArray) else o for o in flat_outs]
        for i, (o, r) in enumerate(zip(flat_outs, raws, strict=True)):
            if isinstance(r, np.ndarray):
                raws[i] = _keep_output(versions, o, r, saved is not None)
        ans = raws[0] if len(raws) == 1 else tuple(raws)
    out_meta = None
    if len(flat_outs) > 1:  # zeros stand in for the cotangent of an unused output
        out_meta = tuple(
            (o.shape, o.dtype) if isinstance(o, np.ndarray) else ((), np.dtype(type(o)))
            for o in flat_outs
        )
    node = Node(
        prim, tuple(edges), tuple(args), kwargs or NO_KWARGS, ans, tuple(versions), out_meta, where
    )
    traced = {slot for slot, _, _ in grad_inputs} if prim.paired else None
    for i, o in enumerate(flat_outs):
        if isinstance(o, GradArray) and (traced is None or i in traced):
            o._node = node
            o._out = i
            register(o)
    return node


def _keep_output(versions: list[Any], out: Any, raw: Any, written: bool) -> Any:
    """What a node keeps of its output ``out`` (``raw``, its plain array): a private copy when
    it is at most ``COPY_BYTES`` or ``written`` (an in-place result: the buffer will change),
    else ``raw`` itself, guarded while the node lives."""
    if written or raw.nbytes <= COPY_BYTES:
        return raw.copy("K")
    if isinstance(out, GradArray):
        versions += (out._version, out._version[0], OUTPUT, guard_saved(out, raw))
    return raw


def _keep(versions: list[Any], slot: int, obj: Any, raw: Any) -> Any:
    """What a node keeps of one saved argument, safe from later writes by any route.

    An array of at most ``COPY_BYTES`` is copied (cheaper than a guard, and nothing can write
    a private copy); a larger one is kept as is and guarded (``versions``). Sequences of arrays
    are kept element by element.
    """
    if isinstance(obj, GradArray) or type(obj) is np.ndarray:
        if raw.nbytes <= COPY_BYTES:
            return raw.copy("K")
        if isinstance(obj, GradArray):
            versions += (obj._version, obj._version[0], slot, guard_saved(obj, raw))
        else:
            versions += (CONSTANT_STATE, 0, slot, guard_plain(raw))
    elif type(obj) in (list, tuple) and type(raw) in (list, tuple) and len(obj) == len(raw):
        kept = [_keep(versions, slot, o, r) for o, r in zip(obj, raw, strict=True)]
        if any(k is not r for k, r in zip(kept, raw, strict=True)):
            return type(raw)(kept)
    return raw


def adopt_view(view: GradArray, base: GradArray) -> None:
    """``view`` was made read-only by the guard of ``base``: that guard restores it too."""
    ref = base._version[1]
    guard = ref() if ref is not None else None
    if guard is not None and guard.holds(base) and not view.flags.writeable:
        guard.adopt(view)


def _meta(a: Any) -> ArrayMeta:
    if isinstance(a, np.ndarray):
        return array_meta(a)  # type: ignore[no-any-return]
    meta = _SCALAR_META.get(type(a))  # the 0.0 of np.where(c, x, 0.0): one per type
    if meta is not None:
        return meta
    if isinstance(a, (list, tuple)):  # np.result_type would read a list as a dtype spec
        return ArrayMeta(np.shape(a), np.asarray(a).dtype)
    return ArrayMeta(np.shape(a), np.result_type(a))


# The ArrayMeta of a Python scalar, as np.shape and np.result_type give it (nothing writes
# to an ArrayMeta, so one per type serves every node).
_SCALAR_META = {t: ArrayMeta((), np.result_type(t(0))) for t in (bool, int, float, complex)}


def _structure(a: Any) -> Any:
    """What a node keeps of an argument its rules read only the structure of
    (``Primitive.structure``): the same lists and tuples, with each array's ``ArrayMeta``."""
    if type(a) in (list, tuple):  # the sequences whose arrays get edges (unwrap_args)
        return type(a)(_structure(x) for x in a)
    return _meta(a)


def unwrap_args(args: tuple[Any, ...]) -> tuple[list[Any], list[GradInput]]:
    """Plain arrays for NumPy, and the GradArrays among the positional arguments."""
    raw = list(args)
    grad_inputs: list[GradInput] = []
    for slot, a in enumerate(args):
        if isinstance(a, GradArray):
            if a._base_ga is not None:
                refresh(a)
            raw[slot] = plain_array(a)
            if a._node is not None:
                grad_inputs.append((slot, None, a))
        elif type(a) in (list, tuple) and _has_grad_array(a):
            raw[slot] = _unwrap_sequence(a, slot, (), grad_inputs)
    return raw, grad_inputs


def _unwrap_sequence(
    seq: Any, slot: int, path: tuple[int, ...], grad_inputs: list[GradInput]
) -> Any:
    """Plain arrays in place of the GradArrays in a (nested) sequence, each found by its path."""
    items = []
    for k, x in enumerate(seq):
        if isinstance(x, GradArray):
            if x._base_ga is not None:
                refresh(x)
            if x._node is not None:
                grad_inputs.append((slot, (*path, k), x))
            x = plain_array(x)
        elif type(x) in (list, tuple):
            x = _unwrap_sequence(x, slot, (*path, k), grad_inputs)
        items.append(x)
    return type(seq)(items)


def _has_grad_array(seq: Any) -> bool:
    return any(
        isinstance(x, GradArray) or (type(x) in (list, tuple) and _has_grad_array(x)) for x in seq
    )


# Keyword values that hold no array (axis=1, keepdims=True): nothing to unwrap or check.
_PLAIN_KWARGS = frozenset({int, bool, float, str, type(None)})


def call_primitive(
    prim: Primitive, impl: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Compute ``impl`` on plain arrays; record a node when an argument requires grad."""
    if kwargs and kwargs.get("out") is not None and grad_enabled():
        return _into_out(prim, impl, args, kwargs)
    if kwargs and prim.positional:
        args, kwargs = _kwargs_to_positions(prim, args, kwargs)
    raw, grad_inputs = unwrap_args(args)
    raw_kwargs = kwargs
    if kwargs and not all(type(v) in _PLAIN_KWARGS for v in kwargs.values()):
        if needs_grad(kwargs) and grad_enabled():
            if prim.func in KEYWORD_FORMS:
                return KEYWORD_FORMS[prim.func](*args, **kwargs)
            name = next(k for k, v in kwargs.items() if needs_grad(v))
            raise not_differentiable(prim.name, f"no gradient for the keyword argument {name!r}")
        raw_kwargs = unwrap_all(kwargs)
    res = impl(*raw, **raw_kwargs)
    return finish_call(prim, impl, args, raw, raw_kwargs, grad_inputs, res)


def finish_call(
    prim: Primitive,
    impl: Callable[..., Any],
    args: tuple[Any, ...],
    raw: list[Any],
    raw_kwargs: dict[str, Any],
    grad_inputs: list[GradInput],
    res: Any,
) -> Any:
    """The tail of ``call_primitive``: wrap ``res``, track it if it is a view, record it."""
    if grad_inputs and type(res) in (float, complex):  # SciPy's BLAS paths return Python floats
        res = np.asarray(res)[()]
    outs = wrap_result(res)
    if res.base is not None if type(res) is np.ndarray else not isinstance(res, np.generic):
        track_views(outs, args, raw, prim, impl, raw_kwargs)  # new memory is nobody's view
    if grad_inputs and grad_enabled() and _any_float(outs):
        record_node(prim, grad_inputs, raw, raw_kwargs, res, outs, originals=args)
    return outs


def _into_out(
    prim: Primitive, impl: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``func(..., out=out)``: the result computed and recorded, then ``out[...] = result``."""
    out = kwargs["out"]
    target = out[0] if type(out) is tuple and len(out) == 1 else out
    rest = {k: v for k, v in kwargs.items() if k != "out"}
    if not isinstance(target, GradArray):
        if needs_grad((args, rest)):
            raise not_differentiable(
                prim.name,
                "out= is a plain ndarray, which cannot hold a graph; use the return value, or "
                "allocate out from the GradArray (np.empty_like(x))",
            )
        return impl(*unwrap_all(args), **unwrap_all(kwargs))
    res = call_primitive(prim, impl, args, rest)
    target[...] = res
    return out


def _kwargs_to_positions(
    prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Move ``weights=w`` into its position so that the rule for it is found."""
    names = prim.positional
    if not any(n in kwargs for n in names[len(args) :]):
        return args, kwargs
    kwargs = dict(kwargs)
    last = max(i for i, n in enumerate(names) if n in kwargs)
    filled = list(args)
    for name in names[len(args) : last + 1]:
        filled.append(kwargs.pop(name) if name in kwargs else prim.defaults.get(name))
    return tuple(filled), kwargs


def primitive(func: Callable[..., Any], prim: Primitive) -> Callable[..., Any]:
    """Wrap a user's function so that calling it on arrays that require grad records a node."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not (_has_grad_array(args) or _has_grad_array(kwargs.values())):
            return func(*args, **kwargs)  # plain arrays in, NumPy's (SciPy's) results out
        # Its forward pass runs on plain arrays, as ndgrad's own computation: outside any
        # conversion scope, so that the code inside (SciPy's) allocates plain ndarrays.
        token = scope_depth.set(0)
        try:
            if prim.arrays:
                args, kwargs = _read_as_arrays(prim, args, kwargs)
            done = _function_fast(prim, func, args, kwargs)
            if done is NotImplemented:
                done = call_primitive(prim, func, args, kwargs)
            return done
        finally:
            scope_depth.reset(token)

    wrapper.__wrapped__ = func  # type: ignore[attr-defined]
    wrapper.__name__ = getattr(func, "__name__", "primitive")
    wrapper.__qualname__ = getattr(func, "__qualname__", wrapper.__name__)
    wrapper.__doc__ = func.__doc__
    wrapper.__module__ = getattr(func, "__module__", None)  # type: ignore[assignment]
    return wrapper


def as_array(x: Any) -> Any:
    """An array-like argument as SciPy reads it: one array. A list or tuple of numbers becomes
    ``np.asarray``'s array; one that holds arrays (at any depth) is stacked, so that a GradArray
    among them stays in the graph when the rule is recorded."""
    if isinstance(x, np.ndarray):
        return x
    if type(x) in (list, tuple) and _holds_array(x):
        return np.stack([as_array(e) for e in x])
    return np.asarray(x)


def _holds_array(seq: Any) -> bool:
    return any(
        isinstance(e, np.ndarray) or (type(e) in (list, tuple) and _holds_array(e)) for e in seq
    )


def _read_as_arrays(
    prim: Primitive, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``args`` and ``kwargs`` with each list or tuple that ``prim`` reads as an array made one
    (``Primitive.arrays``): a nested list of numbers, or one holding GradArrays (stacked, a
    recorded node)."""
    names = prim.positional
    args = tuple(
        as_array(a) if type(a) in (list, tuple) and i < len(names) and names[i] in prim.arrays
        else a
        for i, a in enumerate(args)
    )  # fmt: skip
    if any(type(v) in (list, tuple) and k in prim.arrays for k, v in kwargs.items()):
        kwargs = {
            k: as_array(v) if type(v) in (list, tuple) and k in prim.arrays else v
            for k, v in kwargs.items()
        }
    return args, kwargs


def _ufuncs_take_out_ellipsis() -> bool:
    """Whether NumPy's ufuncs take ``out=...`` (2.3 on), returning a 0-d result as an array:
    the compiled ufunc call then skips the NumPy scalar it would turn back into one."""
    try:
        return type(np.add(np.zeros(()), 0.0, out=...)) is np.ndarray
    except TypeError:
        return False


def _numpy_power_shortcuts() -> dict[tuple[type, Any], Any]:
    """What NumPy's ``x ** e`` calls for a float or complex array and a common Python number
    ``e`` (``x ** 2`` is ``np.square(x)``, ``x ** 3`` is ``np.power(x, 3)``), read off the
    NumPy in use by a probe that records the ufunc its operator asks for: the compiled ``**``
    calls the same for those exponents, and leaves any other to NumPy's operator. An exponent
    enters the table only when every float and complex dtype gives the same call."""
    seen: list[tuple[Any, str, int, dict[str, Any]]] = []

    class _Probe(np.ndarray):
        def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
            seen.append((ufunc, method, len(inputs), kwargs))
            return NotImplemented

    dtypes = (np.float16, np.float32, np.float64, np.longdouble, np.complex64, np.complex128)
    table: dict[tuple[type, Any], Any] = {}
    for e in (2, 3, 4, 1, 0, -1, -2, 0.5, -0.5, 1.5, 2.0, 3.0, 1.0, 0.0, -1.0):
        calls = set()
        for dtype in dtypes:
            seen.clear()
            try:
                np.ones(2, dtype).view(_Probe) ** e
            except TypeError:  # every override declined: what NumPy raises then
                pass
            if len(seen) != 1:
                calls.add(None)
                continue
            ufunc, method, n_inputs, kwargs = seen[0]
            arity = 2 if ufunc is np.power else 1
            calls.add(ufunc if method == "__call__" and not kwargs and n_inputs == arity else None)
        if len(calls) == 1 and None not in calls:
            table[(type(e), e)] = calls.pop()
    return table


# Views and in-place writes live in their own module, which needs the names above.
from ndgrad._inplace import (  # noqa: E402
    prepare_write,
    rebase,
    record_setitem,
    refresh,
    register_leaf_view,
    set_shape,
    track_views,
    ufunc_inplace,
)

configure_array(
    GradArray,
    VJP_RULES,
    GRAD_MODE,
    COPY_BYTES,
    CONSTANT_STATE,
    _SCALAR_LIKE,
    refuse_aliases,
    _meta,
    finish_call,
    Edge,
    GradArray.array_ufunc_general,
    _object_cast,
    GradArray.array_function_general,
    call_primitive,
    ERRSTATE,
    user_errstate,
    getitem_impl,
    track_views,
    _ufuncs_take_out_ellipsis(),
    _numpy_power_shortcuts(),
    _buffer_export,
)
