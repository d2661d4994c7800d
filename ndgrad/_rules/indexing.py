"""Gradient rules for indexing routines: ``a[key]``, ``a[key] = value``, ``take``, ``choose``...

A rule is ``rule(g, ans, a, key, ...) -> cotangent``, with NumPy's parameter names. Reading
elements sends ``g`` back to the positions read, adding up where an index repeats a position
(``scatter_add``); writing them sends ``g`` to the value written, and only to the last write
where an index repeats a position, since that is the one NumPy keeps.

The chapter ends with the float functions that select or clamp values (``clip``,
``nan_to_num``, ``round``, ``fix``, ``angle``), grouped here because their gradient, like an
index's, passes ``g`` through where a value is kept and stops it elsewhere.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import defjvp, deflinear, defvjp
from ndgrad._errors import not_differentiable
from ndgrad._registry import mark_traced, reads_structure, unbroadcast
from ndgrad._rules._common import conj, is_complex, zeros_of


def _has_array_index(key):
    """Whether ``key`` holds an integer array or list, which may repeat positions."""
    parts = key if isinstance(key, tuple) else (key,)
    return any(
        isinstance(k, list) or (isinstance(k, np.ndarray) and k.dtype.kind in "iu") for k in parts
    )


def _scatter_add(g, key, shape):
    """Zeros of ``shape`` with ``g`` added at ``key`` (repeated positions add up)."""
    out = np.zeros(shape, dtype=g.dtype)
    if type(key) not in (int, slice) and _has_array_index(key):  # (the common keys first)
        np.add.at(out, key, g)
    else:
        out[key] = g
    return out


def _scatter_add_vjp(g, ans, g0, key, shape):
    """``g`` read back at ``key``, summed over the axes NumPy broadcast ``g0`` along to fit
    ``out[key]`` (``np.add.at(out, [1, 1], v)`` with one value ``v`` adds it twice)."""
    return unbroadcast(g[key], g0.shape)


scatter_add = defvjp(_scatter_add, _scatter_add_vjp, name="ndgrad.scatter_add")
deflinear(scatter_add)


def _getitem_vjp(g, ans, a, key):
    # ``a`` is the indexed array's ArrayMeta (np.shape would go through NumPy's dispatch)
    if type(g) is np.ndarray:  # nothing to record: the function itself, not its wrapper
        return _scatter_add(g, key, a.shape)
    return scatter_add(g, key, a.shape)


def _setitem_old_vjp(g, ans, a, key, value):
    """The old array survives outside ``key``; the rule must not read ``a`` (written over)."""
    keep = np.ones(np.shape(g), dtype=bool)
    keep[key] = False
    return np.where(keep, g, 0)


def _setitem_value_vjp(g, ans, a, key, value):
    """``value`` gets ``g`` where it was written; of writes to one position only the last one.

    NumPy keeps the last of several writes to a repeated position. Which one is last is asked
    of NumPy itself: writing the numbers 0, 1, ... with the same key leaves the winner's number.
    """
    picked = g[key]
    if _has_array_index(key):
        order = np.reshape(np.arange(picked.size), picked.shape)
        written = np.zeros(g.shape, dtype=order.dtype)
        written[key] = order
        picked = np.where(written[key] == order, picked, 0)
    shape = np.shape(value)
    extra = len(shape) - picked.ndim  # NumPy drops leading length-1 axes of the value
    if extra > 0:
        return np.reshape(unbroadcast(picked, shape[extra:]), shape)
    return unbroadcast(picked, shape)


def _written_last(shape, key, region):
    """Where, in ``a[key]`` (of shape ``region``), the write NumPy keeps for a repeated
    position stands: write the numbers 0, 1, ... with ``key`` and see which survive."""
    order = np.reshape(np.arange(int(np.prod(region, dtype=np.int64))), region)
    written = np.zeros(shape, dtype=order.dtype)
    written[key] = order
    return written[key] == order


# Forward mode of ``a[key] = value`` (a node whose output is the new ``a``; ``a`` itself is not
# kept, ``ans`` only for its shape and dtype). Both rules stay cheap for the common loop
# ``buf[i] = v``: one copy or one scatter of the output's size, no index bookkeeping unless the
# key holds integer arrays (which may repeat a position).
def _setitem_old_jvp(t, ans, a, key, value):
    """The old tangent, zero where ``key`` wrote."""
    if type(t) is np.ndarray:  # a plain tangent: clear the region of a fresh copy
        out = t.copy()
        out[key] = 0
        return out
    keep = np.ones(t.shape, dtype=bool)  # a recorded one (nested): a constant mask
    keep[key] = False
    return np.where(keep, t, 0)


def _setitem_value_jvp(t, ans, a, key, value):
    """Zeros with ``t`` written at ``key``, recorded (``scatter_add``) so that a nested tangent
    keeps its graph; of writes to one position only the last one counts, as in NumPy."""
    if ans.dtype.kind not in "fc":
        return None  # written into integers: no tangent
    if t.dtype.kind == "c" and ans.dtype.kind != "c":
        t = np.real(t)  # NumPy writes the real part (and warns)
    if type(t) is np.ndarray and not _has_array_index(key):
        out = np.zeros(ans.shape, dtype=ans.dtype)  # plain, one position per element: write it
        out[key] = t
        return out
    region = np.broadcast_to(_FALSE, ans.shape)[key].shape  # no copy of the output
    extra = t.ndim - len(region)
    if extra > 0:  # NumPy drops leading length-1 axes of the value
        t = np.reshape(t, t.shape[extra:])
    if t.dtype != ans.dtype:
        t = np.astype(t, ans.dtype)
    if t.shape != region:
        t = np.broadcast_to(t, region)
    if _has_array_index(key):
        t = np.where(_written_last(ans.shape, key, region), t, 0)
    return scatter_add(t, key, ans.shape)


_FALSE = np.zeros((), dtype=bool)

defvjp(np.ndarray.__getitem__, _getitem_vjp, name="ndarray.__getitem__")
defvjp(
    np.ndarray.__setitem__, _setitem_old_vjp, None, _setitem_value_vjp, name="ndarray.__setitem__"
)
deflinear(np.ndarray.__getitem__)  # the engine calls operator.getitem on the tangent
defjvp(np.ndarray.__setitem__, _setitem_old_jvp, None, _setitem_value_jvp)

# where(condition, x, y) picks from x or y: each gets g where it was picked, summed back to its
# shape (all three broadcast together).
defvjp(
    np.where,
    None,
    lambda g, ans, condition, x=None, y=None: unbroadcast(np.where(condition, g, 0), np.shape(x)),
    lambda g, ans, condition, x=None, y=None: unbroadcast(np.where(condition, 0, g), np.shape(y)),
)
deflinear(np.where)  # jointly in x and y: a constant one gets a zero tangent


# --- sequences of arrays ----------------------------------------------------------------------
@reads_structure
def sequence_shapes(arrays):
    """The shapes of the arrays in a sequence argument: a list's items, or one array's rows."""
    if isinstance(arrays, (list, tuple)):
        return [np.shape(x) for x in arrays]
    return [np.shape(arrays)[1:]] * np.shape(arrays)[0]


@reads_structure
def like_sequence(arrays, pieces):
    """Cotangents in the structure of a sequence argument: the same type, or one array.

    An item that is itself a list (``np.concatenate(([1.0, x0], y))``) gets its cotangent as a
    list of the same nesting, since the engine finds arrays in nested lists by position.
    """
    if isinstance(arrays, (list, tuple)):
        return type(arrays)(_nest(p, x) for p, x in zip(pieces, arrays, strict=True))
    return np.stack(pieces)


def _nest(c, template):
    if isinstance(template, (list, tuple)):
        return type(template)(_nest(c[i], t) for i, t in enumerate(template))
    return c


def axis_key(ndim, axis, part):
    """The index tuple that applies ``part`` (a slice or indices) along ``axis`` only."""
    return (slice(None),) * (axis % ndim) + (part,)


def _along_axis_key(shape, indices, axis):
    """The integer-array key that ``take_along_axis`` reads (NumPy's ``_make_along_axis_idx``)."""
    ndim = len(shape)
    axis = axis % ndim
    key = []
    for dim, n in enumerate(shape):
        if dim == axis:
            key.append(indices)
        else:
            key.append(np.reshape(np.arange(n), [n if d == dim else 1 for d in range(ndim)]))
    return tuple(key)


def _in_range(indices, n, mode):
    """Indices as ``take`` and ``choose`` use them under ``mode='wrap'`` or ``'clip'``."""
    if mode == "wrap":
        return np.mod(indices, n)
    if mode == "clip":
        return np.clip(indices, 0, n - 1)
    return indices


# --- indexing-like operations -----------------------------------------------------------------
def _take_vjp(g, ans, a, indices, axis=None, out=None, mode="raise"):
    shape = np.shape(a)
    if axis is None:
        size = int(np.prod(shape, dtype=np.int64))
        return np.reshape(scatter_add(g, _in_range(indices, size, mode), (size,)), shape)
    key = axis_key(len(shape), axis, _in_range(indices, shape[axis], mode))
    return scatter_add(g, key, shape)


def _take_along_axis_vjp(g, ans, arr, indices, axis=-1):
    shape = np.shape(arr)
    if axis is None:
        size = int(np.prod(shape, dtype=np.int64))
        return np.reshape(scatter_add(g, indices, (size,)), shape)
    return scatter_add(g, _along_axis_key(shape, indices, axis), shape)


def _choose_vjp(g, ans, a, choices, out=None, mode="raise"):
    """Choice ``j`` gets ``g`` where ``a`` picked ``j``, summed back to its own shape."""
    shapes = sequence_shapes(choices)
    a = _in_range(a, len(shapes), mode)
    return like_sequence(
        choices, [unbroadcast(np.where(np.equal(a, j), g, 0), s) for j, s in enumerate(shapes)]
    )


def _select_vjp(g, ans, condlist, choicelist, default=0):
    """The first true condition picks its choice: each choice gets ``g`` where it was picked."""
    taken = np.zeros(g.shape, dtype=bool)
    pieces = []
    for cond, shape in zip(condlist, sequence_shapes(choicelist), strict=True):
        pieces.append(unbroadcast(np.where(cond & ~taken, g, 0), shape))
        taken = taken | cond
    return like_sequence(choicelist, pieces)


def _select_vjp_default(g, ans, condlist, choicelist, default=0):
    """``default`` fills where no condition holds."""
    taken = np.zeros(g.shape, dtype=bool)
    for cond in condlist:
        taken = taken | cond
    return unbroadcast(np.where(taken, 0, g), np.shape(default))


def _compress_vjp(g, ans, condition, a, axis=None, out=None):
    shape = np.shape(a)
    kept = np.flatnonzero(condition)
    if axis is None:
        size = int(np.prod(shape, dtype=np.int64))
        return np.reshape(scatter_add(g, kept, (size,)), shape)
    return scatter_add(g, axis_key(len(shape), axis, kept), shape)


def _extract_vjp(g, ans, condition, arr):
    shape = np.shape(arr)
    size = int(np.prod(shape, dtype=np.int64))
    return np.reshape(scatter_add(g, np.flatnonzero(condition), (size,)), shape)


defvjp(np.take, _take_vjp)
defvjp(np.take_along_axis, _take_along_axis_vjp)
defvjp(np.choose, None, _choose_vjp)
defvjp(np.select, None, _select_vjp, _select_vjp_default)
defvjp(np.compress, None, _compress_vjp)
defvjp(np.extract, None, _extract_vjp)
# Linear in the arrays they pick from; ``select``'s ``default`` is one of them (so a constant
# default gets a zero tangent, not its value).
deflinear(np.take, np.take_along_axis, np.choose, np.select, np.compress, np.extract)
# NumPy's put_along_axis writes ``arr[key] = values`` (or ``arr.flat[...]``), which GradArray
# records as an assignment: gradients reach both ``arr`` and ``values``.
mark_traced(np.put_along_axis)
# NumPy's fill_diagonal writes ``a.flat[::step] = val``: recorded the same way.
mark_traced(np.fill_diagonal)


# --- selecting and clamping values ------------------------------------------------------------
def _bound(value, keyword):
    """``clip``'s bound given as ``a_min`` or as ``min=`` (None: no bound)."""
    return keyword if value is None or value is np._NoValue else value


def _clip_parts(a, a_min, a_max, kwargs):
    """Masks of where the result is ``a``, ``a_min`` and ``a_max`` (NumPy: max wins ties)."""
    lo = _bound(a_min, kwargs.get("min"))
    hi = _bound(a_max, kwargs.get("max"))
    # NumPy's False for a missing bound, not Python's: ``~False`` is the int -1
    low = np.False_ if lo is None or lo is np._NoValue else a < lo
    lifted = a if low is np.False_ else np.where(low, lo, a)
    high = np.False_ if hi is None or hi is np._NoValue else lifted > hi
    # At a == a_min or a == a_max the result is a itself: the gradient goes to a.
    return ~(low | high), low & ~high, high


def _clip_vjp(part):
    def rule(g, ans, a, a_min=np._NoValue, a_max=np._NoValue, out=None, **kwargs):
        mask = _clip_parts(a, a_min, a_max, kwargs)[part]
        shape = np.shape((a, a_min, a_max)[part])
        return unbroadcast(np.where(mask, g, 0), shape)

    rule.__doc__ = "``g`` where the result of ``clip`` is this argument."
    return rule


def _nan_to_num_vjp(g, ans, x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Finite values pass ``g``; replaced ones are constants (per part for complex ``x``)."""
    if not copy:
        raise not_differentiable("numpy.nan_to_num", "copy=False overwrote the input it needs")
    if is_complex(x):
        return np.where(np.isfinite(np.real(x)), np.real(g), 0) + 1j * np.where(
            np.isfinite(np.imag(x)), np.imag(g), 0
        )
    return np.where(np.isfinite(x), g, 0)


def _clip_jvp(part):
    def rule(t, ans, a, a_min=np._NoValue, a_max=np._NoValue, out=None, **kwargs):
        return np.where(_clip_parts(a, a_min, a_max, kwargs)[part], t, 0)

    rule.__doc__ = "``t`` where the result of ``clip`` is this argument."
    return rule


def _angle_vjp(g, ans, z, deg=False):
    """d angle = (x dy - y dx) / |z|^2, i.e. the cotangent ``g * i / conj(z)``; 0 for reals."""
    if not is_complex(z):
        return zeros_of(g)  # 0 or pi: piecewise constant
    c = g * 1j / conj(z)
    return c * (180 / np.pi) if deg else c


def _angle_jvp(t, ans, z, deg=False):
    """d angle(z) = Im(dz / z); 0 for reals."""
    if not is_complex(z):
        return zeros_of(t)
    d = np.imag(t / z)
    return d * (180 / np.pi) if deg else d


defvjp(np.clip, _clip_vjp(0), _clip_vjp(1), _clip_vjp(2))
defvjp(np.nan_to_num, _nan_to_num_vjp)
defvjp(np.angle, _angle_vjp)
# Rounding is piecewise constant: zero gradient (DESIGN.md), not an error.
defvjp(np.round, lambda g, ans, a, decimals=0, out=None: zeros_of(g))
defvjp(np.around, lambda g, ans, a, decimals=0, out=None: zeros_of(g))
defvjp(np.fix, lambda g, ans, x, out=None: zeros_of(g))

defjvp(np.clip, _clip_jvp(0), _clip_jvp(1), _clip_jvp(2))
# nan_to_num's Jacobian is a real mask per part, its own adjoint: the VJP rule serves.
defjvp(np.nan_to_num, _nan_to_num_vjp)
defjvp(np.angle, _angle_jvp)
# Zero tangents, as reverse mode gives zero gradients (not "the output does not depend").
defjvp(np.round, lambda t, ans, a, decimals=0, out=None: zeros_of(t))
defjvp(np.around, lambda t, ans, a, decimals=0, out=None: zeros_of(t))
defjvp(np.fix, lambda t, ans, x, out=None: zeros_of(t))
