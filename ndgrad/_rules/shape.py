"""Gradient rules for NumPy's array manipulation routines: shapes, joining, splitting, tiling.

A rule is ``rule(g, ans, a, ...) -> cotangent`` for ``a``, with NumPy's parameter names; for an
argument that is a sequence of arrays (``concatenate``, ``stack``, ``block``) the rule returns a
sequence of cotangents of the same structure. These functions move or copy elements without
changing them, so each rule moves ``g`` back, adding up where an element was copied.

Where the bookkeeping of where each element went is intricate (``pad``, ``insert``, ``delete``,
``diagonal``, ``block``) the rule runs the same function on an array of element numbers instead
of values, and adds ``g`` back at the numbers it finds (``_gather_back``): NumPy itself says
where every element went, so the rule cannot disagree with it.
"""

from __future__ import annotations

import itertools

import numpy as np

from ndgrad._define import defjvp, defjvp_argnum, deflinear, defvjp, defvjp_argnum
from ndgrad._errors import not_differentiable
from ndgrad._registry import reads_structure, unbroadcast
from ndgrad._rules.indexing import axis_key, like_sequence, scatter_add, sequence_shapes


def _numbers(shape):
    """Element numbers 0, 1, ... laid out in ``shape``: where NumPy moves them is the answer."""
    return np.reshape(np.arange(int(np.prod(shape, dtype=np.int64))), shape)


def _gather_back(g, numbers, shape):
    """Add each element of ``g`` to the input element whose number sits at its position.

    ``numbers`` is the function applied to ``_numbers(shape)``; a negative number marks a
    position that no input element reached (padding, inserted values).
    """
    numbers = np.ravel(numbers)
    g = np.ravel(g)
    if np.any(numbers < 0):
        keep = numbers >= 0
        g, numbers = g[keep], numbers[keep]
    size = int(np.prod(shape, dtype=np.int64))
    return np.reshape(scatter_add(g, numbers, (size,)), shape)


def _each(g):
    """The cotangents of a function's outputs; one output comes as an array, not a tuple."""
    return g if isinstance(g, (tuple, list)) else (g,)


def _only(argnum, n, t):
    """The tangents of ``n`` paired outputs when only output ``argnum``'s is ``t`` (one output
    is the node's only one, even when NumPy returned it in a tuple)."""
    if n == 1:
        return t
    out = [None] * n
    out[argnum] = t
    return tuple(out)


# --- changing array shape ---------------------------------------------------------------------
def _read_order(shape, strides, itemsize, order):
    """The axes, slowest first, in which ``order`` ('C', 'F', 'A', 'K') reads an array."""
    axes = list(range(len(shape)))
    if order == "C" or strides is None:
        return axes
    if order == "F":
        return axes[::-1]
    if order == "A":  # F for an array that is Fortran- and not C-contiguous
        c = _contiguous(shape, strides, itemsize, axes)
        f = _contiguous(shape, strides, itemsize, axes[::-1])
        return axes[::-1] if f and not c else axes
    # 'K': memory order, i.e. by decreasing |stride| (stable, as NumPy sorts); negative strides
    # are read as they are, not reversed.
    return sorted(axes, key=lambda i: -abs(strides[i]) if shape[i] > 1 else 0)


def _contiguous(shape, strides, itemsize, axes):
    step = itemsize
    for i in reversed(axes):
        if shape[i] > 1 and strides[i] != step:
            return False
        step *= shape[i]
    return True


def _unread(flat, axes, shape):
    """A flat ``g``, read in the order ``axes``, back into ``shape``."""
    g = np.reshape(flat, tuple(shape[i] for i in axes))
    return np.transpose(g, tuple(int(i) for i in np.argsort(axes)))


# The rules read ``a`` only for its metadata (strides included): ``a`` itself is not saved.
def _ravel_vjp(g, ans, a, order="C"):
    """``g`` back into ``a``'s shape, in the order ``ravel`` read ``a`` (K: memory order)."""
    if order in ("C", "F"):
        return np.reshape(g, a.shape, order=order)
    return _unread(g, _read_order(a.shape, a.strides, a.dtype.itemsize, order), a.shape)


def _reshape_vjp(g, ans, a, shape=None, order="C", **kw):
    if order in ("C", "F"):
        return np.reshape(g, a.shape, order=order)
    # order='A' reads a and writes the result both in F order for a Fortran-contiguous a.
    axes = _read_order(a.shape, a.strides, a.dtype.itemsize, order)
    flat = np.ravel(g, order="C" if axes == sorted(axes) else "F")
    return _unread(flat, axes, a.shape)


# Forward mode: the tangent is read in the order ``a`` was, whatever its own memory layout
# (order 'A' and 'K' follow the layout, so ``reshape(t, ...)`` itself could read it otherwise).
def _reshape_jvp(t, ans, a, shape=None, order="C", **kw):
    if order not in ("C", "F"):  # 'A': F for a Fortran- and not C-contiguous ``a``
        axes = _read_order(a.shape, a.strides, a.dtype.itemsize, order)
        order = "C" if axes == sorted(axes) else "F"
    return np.reshape(t, shape, order=order, **kw)


def _ravel_jvp(t, ans, a, order="C"):
    if order in ("C", "F"):
        return np.ravel(t, order=order)
    return np.ravel(np.transpose(t, _read_order(a.shape, a.strides, a.dtype.itemsize, order)))


defvjp(np.reshape, _reshape_vjp)
defvjp(np.ravel, _ravel_vjp)
defjvp(np.reshape, _reshape_jvp)
defjvp(np.ravel, _ravel_jvp)


def _resize_vjp(g, ans, a, new_shape):
    """The output repeats the flattened input cyclically: add each copy back."""
    shape = np.shape(a)
    return _gather_back(g, np.resize(_numbers(shape), new_shape), shape)


defvjp(np.resize, _resize_vjp)
deflinear(np.resize)


# --- transpose-like operations ----------------------------------------------------------------
def _transpose_vjp(g, ans, a, axes=None):
    """Apply the inverse permutation."""
    if axes is None:
        return np.transpose(g)
    ndim = np.ndim(a)
    return np.transpose(g, np.argsort([ax % ndim for ax in axes]))


def _rollaxis_vjp(g, ans, a, axis, start=0):
    """Undo the permutation that NumPy's ``rollaxis`` made (its bookkeeping, replayed)."""
    ndim = np.ndim(a)
    axes = list(range(ndim))
    axis, start = axis % ndim, start + ndim if start < 0 else start
    axes.remove(axis)
    axes.insert(start - 1 if axis < start else start, axis)
    return np.transpose(g, np.argsort(axes))


defvjp(np.transpose, _transpose_vjp)
defvjp(np.matrix_transpose, lambda g, ans, x: np.matrix_transpose(g))
defvjp(np.swapaxes, lambda g, ans, a, axis1, axis2: np.swapaxes(g, axis1, axis2))
defvjp(np.moveaxis, lambda g, ans, a, source, destination: np.moveaxis(g, destination, source))
defvjp(np.rollaxis, _rollaxis_vjp)
deflinear(np.transpose, np.matrix_transpose, np.swapaxes, np.moveaxis, np.rollaxis)


# --- changing number of dimensions ------------------------------------------------------------
def _atleast_vjp(argnum, g, ans, *arys):
    """Each input got only new length-1 axes: reshape its cotangent back."""
    g = _each(g)[argnum]
    return np.reshape(g, np.shape(arys[argnum]))


def _broadcast_arrays_vjp(argnum, g, ans, *args, subok=False):
    """Each output is its input broadcast: sum back over the broadcast axes."""
    return unbroadcast(_each(g)[argnum], np.shape(args[argnum]))


defvjp(np.expand_dims, lambda g, ans, a, axis: np.reshape(g, np.shape(a)))
defvjp(np.squeeze, lambda g, ans, a, axis=None: np.reshape(g, np.shape(a)))
defvjp(np.broadcast_to, lambda g, ans, array, shape, subok=False: unbroadcast(g, np.shape(array)))
defvjp_argnum(np.broadcast_arrays, _broadcast_arrays_vjp, paired=True)
defvjp_argnum(np.atleast_1d, _atleast_vjp, paired=True)
defvjp_argnum(np.atleast_2d, _atleast_vjp, paired=True)
defvjp_argnum(np.atleast_3d, _atleast_vjp, paired=True)
defvjp(np.copy, lambda g, ans, a, order="K", subok=False: g)
# A float-to-float cast: the cotangent is cast back (the engine matches the input's dtype).
defvjp(np.astype, lambda g, ans, x, dtype, /, **kwargs: g)


def _astype_jvp(t, ans, x, dtype, /, **kwargs):
    """The tangent cast likewise; a cast to real keeps the real part (NumPy would warn)."""
    if t.dtype.kind == "c" and np.dtype(dtype).kind != "c":
        t = np.real(t)
    return np.astype(t, dtype, **kwargs)


def _broadcast_arrays_jvp(argnum, t, ans, *args, subok=False):
    """Only the output of the argument moved: a read-only broadcast of its tangent (the other
    outputs' tangents are zero, and NumPy warns about writing to broadcast_arrays' views)."""
    shape = np.broadcast_shapes(*(np.shape(a) for a in args))
    return _only(argnum, len(args), np.broadcast_to(t, shape))


# Each output of ``atleast_*`` is linear in its own argument: the zeros the others get cost no
# more than their outputs' copies.
deflinear(np.expand_dims, np.squeeze, np.broadcast_to, np.copy)
deflinear(np.atleast_1d, np.atleast_2d, np.atleast_3d)
defjvp_argnum(np.broadcast_arrays, _broadcast_arrays_jvp)
defjvp(np.astype, _astype_jvp)


# --- joining arrays ---------------------------------------------------------------------------
@reads_structure
def _unjoin(arrays, g, axis, promote):
    """Cut ``g`` along ``axis`` into one piece per array, each reshaped to its array's shape.

    ``promote`` gives the shape an array had when it was joined (after ``atleast_2d`` etc.).
    """
    shapes = sequence_shapes(arrays)
    joined = [promote(s) for s in shapes]
    ax = axis % g.ndim
    bounds = np.cumsum([s[ax] for s in joined])[:-1]
    pieces = np.split(g, bounds, axis=ax)
    return like_sequence(arrays, [np.reshape(p, s) for p, s in zip(pieces, shapes, strict=True)])


def _concatenate_vjp(g, ans, arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Split ``g`` where the arrays were joined (``axis=None`` joined them flattened)."""
    if axis is None:
        return _unjoin(arrays, g, 0, lambda s: (int(np.prod(s, dtype=np.int64)),))
    return _unjoin(arrays, g, axis, lambda s: s)


def _stack_vjp(g, ans, arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """Each array is one slice of ``g`` along the new axis."""
    return like_sequence(arrays, np.unstack(g, axis=axis))


def _shape_2d(s):
    return s if len(s) >= 2 else (1, *s) if len(s) == 1 else (1, 1)


def _shape_3d(s):
    return (1, 1, 1) if not s else (1, s[0], 1) if len(s) == 1 else (*s, 1) if len(s) == 2 else s


def _hstack_vjp(g, ans, tup, *, dtype=None, casting="same_kind"):
    """1-d inputs were joined along axis 0, the others along axis 1."""
    axis = 0 if g.ndim == 1 else 1
    return _unjoin(tup, g, axis, lambda s: s if s else (1,))


def _column_stack_vjp(g, ans, tup):
    """1-d (and 0-d) inputs became columns."""
    return _unjoin(tup, g, 1, lambda s: s if len(s) >= 2 else (int(np.prod(s, dtype=int)), 1))


def _block_vjp(g, ans, arrays):
    """Run ``np.block`` on element numbers to find where each block went."""
    starts = [0]

    def numbered(x):
        if isinstance(x, list):
            return [numbered(item) for item in x]
        starts.append(starts[-1] + int(np.size(x)))
        return _numbers(np.shape(x)) + starts[-2]

    numbers = np.ravel(np.block(numbered(arrays)))
    flat = np.ravel(g)
    blocks = itertools.pairwise(starts)

    def unnumbered(x):
        if isinstance(x, list):
            return [unnumbered(item) for item in x]
        start, stop = next(blocks)
        # Within a block, the elements keep their C order in the output.
        return np.reshape(flat[(numbers >= start) & (numbers < stop)], np.shape(x))

    return unnumbered(arrays)


defvjp(np.concatenate, _concatenate_vjp)
defvjp(np.stack, _stack_vjp)
defvjp(np.hstack, _hstack_vjp)
defvjp(
    np.vstack, lambda g, ans, tup, *, dtype=None, casting="same_kind": _unjoin(tup, g, 0, _shape_2d)
)
defvjp(np.dstack, lambda g, ans, tup: _unjoin(tup, g, 2, _shape_3d))
defvjp(np.column_stack, _column_stack_vjp)
defvjp(np.block, _block_vjp)
defvjp(np.unstack, lambda g, ans, x, /, *, axis=0: np.stack(_each(g), axis=axis))
# Jointly linear in the arrays joined: forward mode joins their tangents (zeros for constants).
deflinear(np.concatenate, np.stack, np.hstack, np.vstack, np.dstack, np.column_stack, np.block)
deflinear(np.unstack)


# --- splitting arrays -------------------------------------------------------------------------
# The pieces tile the input, so their cotangents are joined back (missing ones are zeros).
defvjp(
    np.split, lambda g, ans, ary, indices_or_sections, axis=0: np.concatenate(_each(g), axis=axis)
)
defvjp(
    np.array_split,
    lambda g, ans, ary, indices_or_sections, axis=0: np.concatenate(_each(g), axis=axis),
)
defvjp(
    np.hsplit,
    lambda g, ans, ary, indices_or_sections: np.concatenate(
        _each(g), axis=1 if np.ndim(ary) > 1 else 0
    ),
)
defvjp(np.vsplit, lambda g, ans, ary, indices_or_sections: np.concatenate(_each(g), axis=0))
defvjp(np.dsplit, lambda g, ans, ary, indices_or_sections: np.concatenate(_each(g), axis=2))
deflinear(np.split, np.array_split, np.hsplit, np.vsplit, np.dsplit)


# --- tiling arrays ----------------------------------------------------------------------------
def _tile_vjp(g, ans, A, reps):
    """Sum the copies: view ``g`` as (copies, original) pairs of axes and sum the copies."""
    reps = (reps,) if np.ndim(reps) == 0 else tuple(reps)
    shape = np.shape(A)
    ndim = max(len(shape), len(reps))
    shape_ = (1,) * (ndim - len(shape)) + tuple(shape)
    reps = (1,) * (ndim - len(reps)) + reps
    pairs = np.reshape(g, [n for pair in zip(reps, shape_, strict=True) for n in pair])
    return np.reshape(np.sum(pairs, axis=tuple(range(0, 2 * ndim, 2))), shape)


def _repeat_vjp(g, ans, a, repeats, axis=None):
    """Each output element came from one input element: add ``g`` back there."""
    if axis is None:
        size = int(np.size(a))
        source = np.repeat(np.arange(size), repeats)
        return np.reshape(scatter_add(g, source, (size,)), np.shape(a))
    n = np.shape(a)[axis]
    source = np.repeat(np.arange(n), repeats)
    return scatter_add(g, axis_key(np.ndim(a), axis, source), np.shape(a))


defvjp(np.tile, _tile_vjp)
defvjp(np.repeat, _repeat_vjp)
deflinear(np.tile, np.repeat)


# --- adding and removing elements -------------------------------------------------------------
def _pad_check(mode, kwargs):
    # The other modes compute new values (means, ramps, odd reflections) rather than copy.
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap", "empty"):
        raise not_differentiable("numpy.pad", f"mode={mode!r}")
    if kwargs.get("reflect_type", "even") != "even":
        raise not_differentiable("numpy.pad", "reflect_type='odd'")


def _pad_vjp(g, ans, array, pad_width, mode="constant", **kwargs):
    """Pad the element numbers the same way; padding that copies elements sends ``g`` back."""
    _pad_check(mode, kwargs)
    shape = np.shape(array)
    if mode in ("constant", "empty"):
        numbers = np.pad(_numbers(shape), pad_width, constant_values=-1)
    else:
        numbers = np.pad(_numbers(shape), pad_width, mode=mode)
    return _gather_back(g, numbers, shape)


def _insert_vjp_arr(g, ans, arr, obj, values, axis=None):
    shape = np.shape(arr)
    holes = np.full(np.shape(values), -1)
    return _gather_back(g, np.insert(_numbers(shape), obj, holes, axis=axis), shape)


def _insert_vjp_values(g, ans, arr, obj, values, axis=None):
    """Insert element numbers of ``values`` into -1s: NumPy broadcasts and moves them itself."""
    shape = np.shape(values)
    holes = np.full(np.shape(arr), -1)
    return _gather_back(g, np.insert(holes, obj, _numbers(shape), axis=axis), shape)


def _append_vjp_values(g, ans, arr, values, axis=None):
    if axis is None:
        return np.reshape(g[np.size(arr) :], np.shape(values))
    return g[axis_key(g.ndim, axis, slice(np.shape(arr)[axis], None))]


def _append_vjp_arr(g, ans, arr, values, axis=None):
    if axis is None:
        return np.reshape(g[: np.size(arr)], np.shape(arr))
    return g[axis_key(g.ndim, axis, slice(0, np.shape(arr)[axis]))]


def _delete_vjp(g, ans, arr, obj, axis=None):
    shape = np.shape(arr)
    return _gather_back(g, np.delete(_numbers(shape), obj, axis=axis), shape)


def _pad_jvp(t, ans, array, pad_width, mode="constant", **kwargs):
    """Affine, not linear: ``constant_values`` (and 'empty''s garbage) are constants, so the
    tangent is padded with zeros; the copying modes pad it as they pad the array."""
    _pad_check(mode, kwargs)
    if mode in ("constant", "empty"):
        return np.pad(t, pad_width)
    return np.pad(t, pad_width, mode=mode, **kwargs)


defvjp(np.pad, _pad_vjp)
defjvp(np.pad, _pad_jvp)
defvjp(np.insert, _insert_vjp_arr, None, _insert_vjp_values)
defvjp(np.append, _append_vjp_arr, _append_vjp_values)
defvjp(np.delete, _delete_vjp)
deflinear(np.insert, np.append, np.delete)  # jointly in ``arr`` and ``values``


# --- rearranging elements ---------------------------------------------------------------------
def _roll_vjp(g, ans, a, shift, axis=None):
    back = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else np.negative(shift)
    return np.roll(g, back, axis=axis)


defvjp(np.flip, lambda g, ans, m, axis=None: np.flip(g, axis=axis))
defvjp(np.fliplr, lambda g, ans, m: np.fliplr(g))
defvjp(np.flipud, lambda g, ans, m: np.flipud(g))
defvjp(np.rot90, lambda g, ans, m, k=1, axes=(0, 1): np.rot90(g, -k, axes=axes))
defvjp(np.roll, _roll_vjp)
deflinear(np.flip, np.fliplr, np.flipud, np.rot90, np.roll)


# --- diagonals and triangles (NumPy's "building matrices") ------------------------------------
def _diag_vjp(g, ans, v, k=0):
    """A 1-d ``v`` became a diagonal (read it back); a 2-d ``v`` gave one (put ``g`` there)."""
    if np.ndim(v) == 1:
        return np.diagonal(g, k)
    shape = np.shape(v)
    return _gather_back(g, np.diag(_numbers(shape), k), shape)


def _diagonal_vjp(g, ans, a, offset=0, axis1=0, axis2=1):
    shape = np.shape(a)
    return _gather_back(g, np.diagonal(_numbers(shape), offset, axis1, axis2), shape)


def _tri_vjp(tri):
    """``tril``/``triu`` of a 1-d input repeats it on every row: sum those rows back."""
    return lambda g, ans, m, k=0: unbroadcast(tri(g, k), np.shape(m))


defvjp(np.diag, _diag_vjp)
defvjp(np.diagonal, _diagonal_vjp)
defvjp(np.diagflat, lambda g, ans, v, k=0: np.reshape(np.diagonal(g, k), np.shape(v)))
defvjp(np.tril, _tri_vjp(np.tril))
defvjp(np.triu, _tri_vjp(np.triu))
deflinear(np.diag, np.diagonal, np.diagflat, np.tril, np.triu)


def _meshgrid_vjp(argnum, g, ans, *xi, copy=True, sparse=False, indexing="xy"):
    """Output ``argnum`` varies ``xi[argnum]`` along one axis: sum over all the others."""
    g = _each(g)[argnum]
    axis = argnum
    if indexing == "xy" and len(xi) > 1 and argnum < 2:
        axis = 1 - argnum
    others = tuple(i for i in range(g.ndim) if i != axis)
    return np.reshape(np.sum(g, axis=others), np.shape(xi[argnum]))


def _meshgrid_jvp(argnum, t, ans, *xi, copy=True, sparse=False, indexing="xy"):
    """Output ``argnum`` is ``xi[argnum]`` laid along one axis (and broadcast over the
    others): so is its tangent; the other outputs do not move."""
    n = len(xi)
    swap = indexing == "xy" and n > 1
    axis = 1 - argnum if swap and argnum < 2 else argnum
    out = np.reshape(t, [-1 if i == axis else 1 for i in range(n)])
    if not sparse:
        sizes = [np.size(x) for x in xi]
        if swap:
            sizes[0], sizes[1] = sizes[1], sizes[0]
        out = np.broadcast_to(out, sizes)
    return _only(argnum, n, out)


defvjp_argnum(np.meshgrid, _meshgrid_vjp, paired=True)
defjvp_argnum(np.meshgrid, _meshgrid_jvp)
