"""Gradient rules for NumPy's sums, products, means, statistics and running reductions.

A rule is ``rule(g, ans, a, axis=None, ..., keepdims=False) -> cotangent`` for ``a``, with
NumPy's own parameter names. Each rule returns a cotangent of ``a``'s exact shape.

Conventions at kinks: ``max``/``min`` (and ``ptp``, ``median``, ``quantile``) send the cotangent
to the elements equal to the selected value, split evenly among ties. The ``nan*`` functions
give NaN entries a zero gradient. ``prod`` and ``cumprod`` are exact at zeros (no division by
an element that is zero), to second order.

Each VJP rule has a forward-mode (JVP) rule beside it that follows the same conventions (the
mean tangent of tied elements, none from NaN entries), so that ``<u, J v>`` matches. ``initial``
of ``sum`` and the constant edges of ``diff``, ``ediff1d`` and ``interp`` are affine terms: the
rules leave them out, where ``deflinear`` would keep them.
"""

from __future__ import annotations

import math

import numpy as np

from ndgrad._core import spread_small
from ndgrad._define import (
    defarraymethod,
    defjvp,
    defjvp_argnum,
    deflinear,
    defvjp,
    defvjp_argnum,
)
from ndgrad._errors import not_differentiable
from ndgrad._graph import no_grad
from ndgrad._registry import KEYWORD_FORMS, mark_traced
from ndgrad._rules._common import conj, expand_reduced
from ndgrad._rules.indexing import scatter_add


def _axes(axis, ndim):
    """``axis`` as a tuple of non-negative axes (``None``: all of them).

    The forward call has validated ``axis`` already, so plain tuple arithmetic suffices here
    (for an int or a tuple, no ``normalize_axis_tuple`` or ``np.ndim`` per backward). A 0-d
    input reduced over ``axis=0`` or ``-1`` (NumPy allows it) has no axes.
    """
    if axis is None:
        return tuple(range(ndim))
    if not ndim:
        return ()
    if isinstance(axis, int):
        return (axis % ndim,)
    if isinstance(axis, tuple):
        return tuple(a % ndim for a in axis)
    return tuple(a % ndim for a in ((axis,) if np.ndim(axis) == 0 else axis))


def _kept(shape, axis):
    """``shape`` with the axes reduced over ``axis`` set to 1: the shape ``keepdims`` gives."""
    if axis is None:
        return (1,) * len(shape)
    if type(axis) is int and shape:
        i = axis % len(shape)
        return (*shape[:i], 1, *shape[i + 1 :])
    axes = _axes(axis, len(shape))
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# Up to this many elements, a plain cotangent is spread into a new array rather than a broadcast
# view: it is an array the backward pass may add into in place, and the compiled
# ``spread_small`` makes it without a Python frame. Above it, the view saves a pass over memory
# (and, for ``sum(exp(x) * x)``, an allocation as large as ``x``): the next rule multiplies it
# for free.
_SPREAD_COPY_MAX = 4096


def _broadcast_view(g, shape):
    """``np.broadcast_to(g, shape)`` for a plain ``g`` of ``len(shape)`` dims (or 0-d), built
    directly: a read-only view with zero strides along the broadcast axes (``broadcast_to``
    costs a few microseconds in Python). Like it, the view has a base, so the engine never
    adds into it in place and copies it before it becomes a ``.grad``."""
    if g.ndim == 0:
        strides = (0,) * len(shape)
    elif g.ndim == len(shape) and g.flags.c_contiguous:  # the buffer protocol needs it
        strides = tuple(
            s if m == n else 0 for m, n, s in zip(g.shape, shape, g.strides, strict=True)
        )
    else:
        return np.broadcast_to(g, shape)
    view = np.ndarray(shape, g.dtype, g, 0, strides)
    view.flags.writeable = False
    return view


def _spread(g, shape, axis, keepdims, divisor=1):
    """``g`` of a reduction over ``axis``, broadcast back to the input's ``shape`` (and divided
    by ``divisor``: the same quotients as dividing the spread array, without a second one)."""
    small = spread_small(g, shape, axis, keepdims, divisor, _SPREAD_COPY_MAX)  # compiled
    if small is not None:
        return small
    if type(g) is not np.ndarray:
        if not isinstance(g, np.generic):  # a GradArray (create_graph): recorded NumPy calls
            g = np.broadcast_to(expand_reduced(g, shape, axis, keepdims), shape)
            return g if divisor == 1 else g / divisor
        g = np.asarray(g)  # a NumPy scalar: nothing to record
    if not keepdims and axis is not None and g.ndim != len(shape):
        g = g.reshape(_kept(shape, axis))
    if math.prod(shape) <= _SPREAD_COPY_MAX:
        out = np.empty(shape, g.dtype)
        out[...] = g
        if divisor != 1:
            out /= divisor
        return out
    # Divided before it is spread: once per output element, and no pass over a large input.
    return _broadcast_view(g if divisor == 1 else np.asarray(g / divisor), shape)


def _along(axis, ndim, index):
    """An index tuple that applies ``index`` along ``axis`` and takes everything elsewhere."""
    return (slice(None),) * (axis % ndim) + (index,)


def _flip(x, axis):
    return x[_along(axis, np.ndim(x), slice(None, None, -1))]


def _reverse_cumsum(x, axis):
    """``y[i] = sum(x[i:])`` along ``axis``: the transpose of a running sum."""
    return _flip(np.cumsum(_flip(x, axis), axis=axis), axis)


# --- sums and means ---------------------------------------------------------------------------


def _sum_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
             where=True):  # fmt: skip
    """Spread ``g`` back over the axes that ``sum`` removed."""
    g = _spread(g, a.shape, axis, keepdims)  # ``a`` is saved as its ArrayMeta: shape only
    return g if where is True else g * where


def _mean_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Like sum, divided by the number of elements averaged."""
    shape = a.shape
    if where is True:  # the count is a Python int, which keeps g's dtype (float32 stays)
        if axis is None:
            count = math.prod(shape)
        else:
            count = math.prod(shape[i] for i in _axes(axis, len(shape)))
        if count:
            return _spread(g, shape, axis, keepdims, count)
    count = np.sum(np.broadcast_to(where, shape), axis=axis, keepdims=True)
    # divide by the count in g's own dtype: an integer count array would make float32 float64
    g = _spread(g, shape, axis, keepdims) / count.astype(g.dtype)
    return g if where is True else g * where


def _nansum_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                where=True):  # fmt: skip
    """Like sum; NaN entries were counted as zero, so they get no gradient."""
    g = np.where(np.isnan(a), 0, _spread(g, np.shape(a), axis, keepdims))
    return g if where is True else g * where


def _nanmean_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """Like mean over the non-NaN entries."""
    valid = ~np.isnan(a) & where
    count = np.maximum(np.sum(valid, axis=axis, keepdims=True), 1)
    return _spread(g, np.shape(a), axis, keepdims) * valid / count


def _weights_like(weights, shape, axis):
    """1-d ``weights`` along a single ``axis`` reshaped to broadcast against ``shape``."""
    if np.ndim(weights) == len(shape):
        return weights
    target = [1] * len(shape)
    target[axis % len(shape)] = np.shape(weights)[0]
    return np.reshape(weights, tuple(target))


def _average_vjp_a(g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
    """``average = sum(a * w) / sum(w)``: each element gets ``g * w / sum(w)``."""
    shape = np.shape(a)
    if returned:
        g = g[0]
    g = _spread(g, shape, axis, keepdims)
    if weights is None:
        return g / np.prod([shape[i] for i in _axes(axis, len(shape))])
    w = np.broadcast_to(_weights_like(weights, shape, axis), shape)
    return g * conj(w / np.sum(w, axis=axis, keepdims=True))


def _average_vjp_weights(g, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
    """d average / d w_i = (a_i - average) / sum(w); the returned sum of weights adds ``g``."""
    shape = np.shape(a)
    wshape = np.shape(weights)
    w = np.broadcast_to(_weights_like(weights, shape, axis), shape)
    avg = expand_reduced(ans[0] if returned else ans, shape, axis, keepdims)
    gw = _spread(g[0] if returned else g, shape, axis, keepdims)
    gw = gw * conj((a - avg) / np.sum(w, axis=axis, keepdims=True))
    if returned:
        gw = gw + _spread(g[1], shape, axis, keepdims)
    if len(wshape) == len(shape):
        return gw
    other = tuple(i for i in range(len(shape)) if i != axis % len(shape))
    return np.sum(gw, axis=other)


def _sum_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
             where=True):  # fmt: skip
    """sum is linear but for ``initial``, a constant term (so not ``deflinear``): left out."""
    return np.sum(t, axis, dtype, None, keepdims, where=where)


def _nansum_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                where=True):  # fmt: skip
    """The sum of the tangents of the non-NaN entries (NaN ones count as zero)."""
    return np.sum(np.where(np.isnan(a), 0, t), axis, dtype, None, keepdims, where=where)


def _nanmean_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, *, where=True):
    """The mean of the tangents of the non-NaN entries (as the VJP: 0 for an all-NaN slice)."""
    valid = ~np.isnan(a) & where
    count = np.maximum(np.sum(valid, axis=axis, keepdims=keepdims), 1)
    return np.sum(np.where(valid, t, 0), axis=axis, keepdims=keepdims) / count


def _average_jvp_a(t, ans, a, axis=None, weights=None, returned=False, *, keepdims=False):
    """Linear in ``a`` for given weights; the returned sum of weights does not move."""
    avg = np.average(t, axis, weights, keepdims=keepdims)
    return (avg, None) if returned else avg


def _average_jvp_weights(t, ans, a, axis=None, weights=None, returned=False, *,
                         keepdims=False):  # fmt: skip
    """``sum(t (a - average)) / sum(w)``; the returned sum of weights moves by ``sum(t)``."""
    shape = np.shape(a)
    w = np.broadcast_to(_weights_like(weights, shape, axis), shape)
    tw = np.broadcast_to(_weights_like(t, shape, axis), shape)
    avg = expand_reduced(ans[0] if returned else ans, shape, axis, keepdims)
    w_sum = np.sum(w, axis=axis, keepdims=keepdims)
    d = np.sum(tw * (a - avg), axis=axis, keepdims=keepdims) / w_sum
    if not returned:
        return d
    return d, np.broadcast_to(np.sum(tw, axis=axis, keepdims=keepdims), np.shape(d))


defvjp(np.sum, _sum_vjp)
defvjp(np.mean, _mean_vjp)
defvjp(np.nansum, _nansum_vjp)
defvjp(np.nanmean, _nanmean_vjp)
defvjp(np.average, _average_vjp_a, None, _average_vjp_weights)
defjvp(np.sum, _sum_jvp)
deflinear(np.mean)  # no constant term (``where=`` only selects)
defjvp(np.nansum, _nansum_jvp)
defjvp(np.nanmean, _nanmean_jvp)
defjvp(np.average, _average_jvp_a, None, _average_jvp_weights)

# --- products ---------------------------------------------------------------------------------


def _others_product(a, axis):
    """For each element, the product along ``axis`` of all the others (shaped like ``a``).

    With zeros present, ``prod / a`` divides by zero. Instead: the product of the non-zero
    elements over ``a_i`` (or over 1 where ``a_i`` is zero), times the product of the zeros
    other than ``i``. That last factor is written to first order in the zeros (1 with none,
    their sum with one, 0 with more), which keeps value, gradient and Hessian exact.
    """
    zero = a == 0
    if not np.any(zero):
        return np.prod(a, axis=axis, keepdims=True) / a
    safe = np.where(zero, 1, a)
    rest = np.prod(safe, axis=axis, keepdims=True) / safe
    zeros_elsewhere = np.sum(zero, axis=axis, keepdims=True) - zero
    at_zeros = np.where(zero, a, 0)
    sum_elsewhere = np.sum(at_zeros, axis=axis, keepdims=True) - at_zeros
    return rest * ((zeros_elsewhere == 0) + (zeros_elsewhere == 1) * sum_elsewhere)


def prod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):  # fmt: skip
    """d prod / d a_i = the product of the other elements (exact where some are zero)."""
    x = a if where is True else np.where(where, a, 1)
    others = _others_product(x, axis)
    if initial is not None:
        others = others * initial
    g = _spread(g, np.shape(a), axis, keepdims) * conj(others)
    return g if where is True else g * where


def _nanprod_vjp(g, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                 where=True):  # fmt: skip
    """Like prod with NaN entries counted as one; they get no gradient."""
    nan = np.isnan(a)
    g = prod_vjp(g, ans, np.where(nan, 1, a), axis, dtype, out, keepdims, initial, where)
    return np.where(nan, 0, g)


def _prod_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
              where=True):  # fmt: skip
    """``sum(t * the product of the other elements)``, exact at zeros as the VJP."""
    x = a if where is True else np.where(where, a, 1)
    others = _others_product(x, axis)
    if initial is not None:
        others = others * initial
    return np.sum(t * others, axis=axis, keepdims=keepdims, where=where)


def _nanprod_jvp(t, ans, a, axis=None, dtype=None, out=None, keepdims=False, initial=None,
                 where=True):  # fmt: skip
    nan = np.isnan(a)
    x = np.where(nan, 1, a)
    return _prod_jvp(np.where(nan, 0, t), ans, x, axis, dtype, out, keepdims, initial, where)


defvjp(np.prod, prod_vjp)
defvjp(np.nanprod, _nanprod_vjp)
defjvp(np.prod, _prod_jvp)
defjvp(np.nanprod, _nanprod_jvp)

# --- running sums and products ----------------------------------------------------------------


def cumprod_grad(g, ans, x, axis):
    """The cotangent of ``x`` for ``ans = cumprod(x, axis)`` (same shapes; exact at zeros).

    Without zeros it is the reversed running sum of ``g * ans``, over ``x``. With zeros,
    d ans_j / d x_i is the product of the non-zero ``x_k`` (k <= j, k != i) times the product
    of the zeros among them, which is written to first order in the zeros as in ``prod``.
    """
    zero = x == 0
    if not np.any(zero):
        return _reverse_cumsum(g * conj(ans), axis) / conj(x)
    safe = np.where(zero, 1, x)
    g_prod = g * conj(np.cumprod(safe, axis=axis))
    zeros_so_far = np.cumsum(zero, axis=axis)
    zero_sum = np.cumsum(np.where(zero, x, 0), axis=axis)
    # for a non-zero x_i: the zeros up to j are all "others"
    other = (zeros_so_far == 0) + (zeros_so_far == 1) * zero_sum
    at_nonzero = _reverse_cumsum(g_prod * conj(other), axis) / conj(safe)
    # for a zero x_i: one of the zeros up to j is x_i itself, which must not count
    own = (zeros_so_far == 1) + (zeros_so_far == 2) * zero_sum
    two = _reverse_cumsum(g_prod * (zeros_so_far == 2), axis)
    at_zero = _reverse_cumsum(g_prod * conj(own), axis) - conj(x) * two
    return np.where(zero, at_zero, at_nonzero)


def cumprod_tangent(t, ans, x, axis):
    """The tangent of ``ans = cumprod(x, axis)`` for the tangent ``t`` of ``x`` (exact at zeros).

    Without zeros it is ``ans * cumsum(t / x)``. With zeros, as in ``cumprod_grad``: the
    product of the other ``x_k`` (k <= j) is that of the non-zero ones times that of the other
    zeros, written to first order in the zeros.
    """
    zero = x == 0
    if not np.any(zero):
        return ans * np.cumsum(t / x, axis=axis)
    safe = np.where(zero, 1, x)
    zeros_so_far = np.cumsum(zero, axis=axis)
    zero_sum = np.cumsum(np.where(zero, x, 0), axis=axis)
    # a non-zero x_i: every zero up to j is another element; a zero x_i: all but itself
    other = (zeros_so_far == 0) + (zeros_so_far == 1) * zero_sum
    own = (zeros_so_far == 1) + (zeros_so_far == 2) * zero_sum
    at_nonzero = other * np.cumsum(np.where(zero, 0, t) / safe, axis=axis)
    twice = (zeros_so_far == 2) * np.cumsum(np.where(zero, t * x, 0), axis=axis)
    at_zero = own * np.cumsum(np.where(zero, t, 0), axis=axis) - twice
    return np.cumprod(safe, axis=axis) * (at_nonzero + at_zero)


def _flat_if_none(a, axis):
    return (np.ravel(a), 0) if axis is None else (a, axis)


def _cumsum_vjp(g, ans, a, axis=None, dtype=None, out=None):
    """The cotangent of a running sum is the reversed running sum of ``g``."""
    return np.reshape(_reverse_cumsum(g, -1 if axis is None else axis), np.shape(a))


def _cumprod_vjp(g, ans, a, axis=None, dtype=None, out=None):
    x, ax = _flat_if_none(a, axis)
    return np.reshape(cumprod_grad(g, ans, x, ax), np.shape(a))


def _nancumsum_vjp(g, ans, a, axis=None, dtype=None, out=None):
    return np.where(np.isnan(a), 0, _cumsum_vjp(g, ans, a, axis))


def _nancumprod_vjp(g, ans, a, axis=None, dtype=None, out=None):
    nan = np.isnan(a)
    x, ax = _flat_if_none(np.where(nan, 1, a), axis)
    return np.where(nan, 0, np.reshape(cumprod_grad(g, ans, x, ax), np.shape(a)))


def _drop_initial(x, axis, include_initial):
    """Without the leading identity element that ``include_initial=True`` adds along ``axis``."""
    return x[_along(axis, np.ndim(x), slice(1, None))] if include_initial else x


def _cumulative_sum_vjp(g, ans, x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    ax = 0 if axis is None else axis
    return _reverse_cumsum(_drop_initial(g, ax, include_initial), ax)


def _cumulative_prod_vjp(g, ans, x, /, *, axis=None, dtype=None, out=None,
                         include_initial=False):  # fmt: skip
    ax = 0 if axis is None else axis
    g, ans = _drop_initial(g, ax, include_initial), _drop_initial(ans, ax, include_initial)
    return cumprod_grad(g, ans, x, ax)


def _cumprod_jvp(t, ans, a, axis=None, dtype=None, out=None):
    x, ax = _flat_if_none(a, axis)
    return cumprod_tangent(t if axis is not None else np.ravel(t), ans, x, ax)


def _nancumsum_jvp(t, ans, a, axis=None, dtype=None, out=None):
    return np.cumsum(np.where(np.isnan(a), 0, t), axis, dtype)


def _nancumprod_jvp(t, ans, a, axis=None, dtype=None, out=None):
    nan = np.isnan(a)
    x, ax = _flat_if_none(np.where(nan, 1, a), axis)
    t, _ = _flat_if_none(np.where(nan, 0, t), axis)
    return cumprod_tangent(t, ans, x, ax)


def _cumulative_prod_jvp(t, ans, x, /, *, axis=None, dtype=None, out=None,
                         include_initial=False):  # fmt: skip
    """As cumprod; the leading identity element that ``include_initial`` adds is constant."""
    ax = 0 if axis is None else axis
    d = cumprod_tangent(t, _drop_initial(ans, ax, include_initial), x, ax)
    if not include_initial:
        return d
    return np.concatenate([np.zeros_like(d[_along(ax, np.ndim(d), slice(0, 1))]), d], axis=ax)


defvjp(np.cumsum, _cumsum_vjp)
defvjp(np.cumprod, _cumprod_vjp)
defvjp(np.nancumsum, _nancumsum_vjp)
defvjp(np.nancumprod, _nancumprod_vjp)
defvjp(np.cumulative_sum, _cumulative_sum_vjp)
defvjp(np.cumulative_prod, _cumulative_prod_vjp)
deflinear(np.cumsum, np.cumulative_sum)  # include_initial prepends a zero: still linear
defjvp(np.cumprod, _cumprod_jvp)
defjvp(np.nancumsum, _nancumsum_jvp)
defjvp(np.nancumprod, _nancumprod_jvp)
defjvp(np.cumulative_prod, _cumulative_prod_jvp)

# --- extrema ----------------------------------------------------------------------------------


def _hits(a, value, axis, where=True):
    """Where ``a`` equals the reduced ``value`` (keepdims shape), divided by the tie count."""
    hit = a == value
    if where is not True:
        hit = hit & where
    return hit / np.maximum(np.sum(hit, axis=axis, keepdims=True), 1)


def _extremum_plain(reduce, g, a, axis, keepdims):
    """The extremum rule on plain arrays (no ``initial``, no ``where``): the same shares as
    ``_hits``, without the ``no_grad`` scope (nothing is recorded on plain arrays) and without a
    division when no slice has a tie. ``g * hit`` then equals ``g * (hit / 1.0)`` exactly, in
    ``g``'s own dtype (float32 stays float32: no cast afterwards)."""
    value = reduce(a, axis=axis, keepdims=True)
    hit = a == value
    if axis is None:
        count = np.count_nonzero(hit)  # 0 where the extremum is NaN: no element gets g
        share = hit if count <= 1 else hit / count
        return g * share
    shape = a.shape
    if not keepdims and g.ndim != len(shape):
        g = g.reshape(_kept(shape, axis))
    counts = np.add.reduce(hit, axis=axis, keepdims=True)
    if counts.size == 0 or counts.max() <= 1:
        return g * hit
    return g * (hit / np.maximum(counts, 1))


def _extremum_rule(reduce):
    """The rule of a max/min reduction that ``reduce`` (a ufunc's reduce) recomputes."""

    def rule(g, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
        """``g`` goes to the elements equal to the extremum, split evenly among ties.

        The extremum is recomputed from ``a`` rather than read from ``ans``, so that code which
        patches the result in place (``m[~np.isfinite(m)] = 0``, as SciPy's ``log_softmax``
        does) still differentiates. NaN entries of ``nanmax``/``nanmin`` get nothing; when
        ``initial`` wins, no element was selected and the gradient is zero.
        """
        if type(a) is np.ndarray and type(g) is np.ndarray and initial is None and where is True:
            return _extremum_plain(reduce, g, a, axis, keepdims)
        shape = np.shape(a)
        options = {} if initial is None else {"initial": initial}
        with no_grad():
            value = reduce(a, axis=axis, keepdims=True, where=where, **options)
            share = _hits(a, value, axis, where)
        return expand_reduced(g, shape, axis, keepdims) * share

    return rule


def _ptp_vjp(g, ans, a, axis=None, out=None, keepdims=False):
    """``ptp = max - min``: ``+g`` to the maximum, ``-g`` to the minimum (ties split)."""
    with no_grad():  # the masks are piecewise constant: nothing to record
        top = _hits(a, np.max(a, axis=axis, keepdims=True), axis)
        bottom = _hits(a, np.min(a, axis=axis, keepdims=True), axis)
    return expand_reduced(g, np.shape(a), axis, keepdims) * (top - bottom)


def _extremum_jvp(reduce):
    """The JVP of a max/min reduction: the mean tangent of the elements equal to the extremum
    (the VJP's even split among ties, transposed); zero where ``initial`` wins."""

    def rule(t, ans, a, axis=None, out=None, keepdims=False, initial=None, where=True):
        if type(a) is np.ndarray and initial is None and where is True:
            hit = a == reduce(a, axis=axis, keepdims=True)
            count = np.add.reduce(hit, axis=axis, keepdims=keepdims)
            picked = np.sum(np.where(hit, t, 0), axis=axis, keepdims=keepdims)
            if count.size == 0 or count.max() <= 1:  # no ties: the tangent of the one hit
                return picked
            return picked / np.maximum(count, 1)
        options = {} if initial is None else {"initial": initial}
        with no_grad():
            value = reduce(a, axis=axis, keepdims=True, where=where, **options)
            share = _hits(a, value, axis, where)
        return np.sum(t * share, axis=axis, keepdims=keepdims)

    return rule


def _ptp_jvp(t, ans, a, axis=None, out=None, keepdims=False):
    """The tangent at the maximum minus the one at the minimum (each averaged over ties)."""
    with no_grad():
        top = _hits(a, np.max(a, axis=axis, keepdims=True), axis)
        bottom = _hits(a, np.min(a, axis=axis, keepdims=True), axis)
    return np.sum(t * (top - bottom), axis=axis, keepdims=keepdims)


for _f in (np.max, np.amax):
    defvjp(_f, _extremum_rule(np.maximum.reduce))
    defjvp(_f, _extremum_jvp(np.maximum.reduce))
for _f in (np.min, np.amin):
    defvjp(_f, _extremum_rule(np.minimum.reduce))
    defjvp(_f, _extremum_jvp(np.minimum.reduce))
defvjp(np.nanmax, _extremum_rule(np.fmax.reduce))
defvjp(np.nanmin, _extremum_rule(np.fmin.reduce))
defvjp(np.ptp, _ptp_vjp)
defjvp(np.nanmax, _extremum_jvp(np.fmax.reduce))
defjvp(np.nanmin, _extremum_jvp(np.fmin.reduce))
defjvp(np.ptp, _ptp_jvp)

# On a plain ndarray each of these functions is its array method (NumPy documents the method as
# the equivalent one, with the same parameters in the same order): the compiled path calls the
# method and skips the function's Python wrapper, about a microsecond of a tiny step's 14.
for _f, _method in (
    (np.sum, np.ndarray.sum), (np.mean, np.ndarray.mean), (np.prod, np.ndarray.prod),
    (np.max, np.ndarray.max), (np.amax, np.ndarray.max),
    (np.min, np.ndarray.min), (np.amin, np.ndarray.min),
):  # fmt: skip
    defarraymethod(_f, _method)

# --- order statistics -------------------------------------------------------------------------


def _bracket(g, ans, a, qshape, axis):
    """The two order statistics around ``ans`` and where ``ans`` lies between them.

    Every method of ``quantile`` returns a mix of the two order statistics around its result,
    so they are found from ``ans`` itself: the largest element <= ``ans`` and the smallest >= it.
    Tied elements share their weight evenly and NaN entries get none. The selection is piecewise
    constant; the values ``lo``, ``hi`` and the position ``frac`` are recorded functions of
    ``a`` and ``ans``, which keeps the mixed second derivatives (in ``a`` and ``q``) exact.
    Returns ``g``, ``lo``, ``hi``, ``frac`` and the two selections, shaped ``qshape + a`` with
    the reduced axes kept, and the reduced axes in that layout.
    """
    shape = np.shape(a)
    axes = _axes(axis, len(shape))
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    red = tuple(len(qshape) + i for i in axes)
    t = np.reshape(ans, qshape + kept)
    with no_grad():
        below = np.max(np.where(a <= t, a, -np.inf), axis=red, keepdims=True)
        above = np.min(np.where(a >= t, a, np.inf), axis=red, keepdims=True)
        between = np.isfinite(above - below) & (above > below)
        w_lo, w_hi = _hits(a, below, red), _hits(a, above, red)
    lo = np.sum(np.where(w_lo > 0, a, 0) * w_lo, axis=red, keepdims=True)
    hi = np.sum(np.where(w_hi > 0, a, 0) * w_hi, axis=red, keepdims=True)
    span = np.where(between, hi - lo, 1)
    frac = np.where(between, (np.where(between, t, 0) - np.where(between, lo, 0)) / span, 0)
    return np.reshape(g, qshape + kept), lo, hi, frac, w_lo, w_hi, red, between


def _refuse_overwrite(overwrite_input):
    """``overwrite_input=True`` lets NumPy reorder the input: where each value was is lost."""
    if overwrite_input:
        raise not_differentiable("numpy.quantile", "overwrite_input=True reorders the input")


def _order_statistic_vjp(g, ans, a, qshape, axis):
    """``(1 - frac)`` of ``g`` to the lower order statistic, ``frac`` to the upper one."""
    g, _, _, frac, w_lo, w_hi, _, _ = _bracket(g, ans, a, qshape, axis)
    g = g * ((1 - frac) * w_lo + frac * w_hi)
    return np.sum(g, axis=tuple(range(len(qshape)))) if qshape else g


# d(virtual index)/dq = n + 1 - alpha - beta for NumPy's continuous quantile methods (H&F 1996);
# the discrete ones (lower, higher, nearest, midpoint, *_cdf, closest_observation) are piecewise
# constant in q.
_INDEX_SLOPE = {
    "linear": -1.0,
    "weibull": 1.0,
    "hazen": 0.0,
    "interpolated_inverted_cdf": 0.0,
    "median_unbiased": 1 / 3,
    "normal_unbiased": 1 / 4,
}


def _q_slope(g, ans, a, qshape, axis, method, scale, nan):
    """``g`` as ``_bracket`` spreads it, and d ans / dq: (hi - lo) * d(virtual index)/dq inside
    a gap between order statistics, 0 where ``ans`` is an element itself (a kink)."""
    g, lo, hi, _, _, _, red, between = _bracket(g, ans, a, qshape, axis)
    if nan:
        n = np.sum(~np.isnan(a), axis=tuple(i - len(qshape) for i in red), keepdims=True)
    else:
        n = np.prod([np.shape(a)[i - len(qshape)] for i in red])
    return g, np.where(between, hi - lo, 0) * ((n + _INDEX_SLOPE[method]) / scale)


def _quantile_rules(scale, nan):
    """The rules of ``quantile`` (``scale=1``) or ``percentile`` (``scale=100``) for a and q."""

    def a_rule(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, **kwargs):  # fmt: skip
        _refuse_overwrite(overwrite_input)
        return _order_statistic_vjp(g, ans, a, np.shape(q), axis)

    def q_rule(g, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, **kwargs):  # fmt: skip
        """d ans / dq = (hi - lo) * d(virtual index)/dq, inside a gap between order statistics;
        0 where ``ans`` is an element itself (a kink: the subgradient 0)."""
        if method not in _INDEX_SLOPE:
            return np.zeros(np.shape(q))
        qshape = np.shape(q)
        g, slope = _q_slope(g, ans, a, qshape, axis, method, scale, nan)
        return np.sum(g * conj(slope), axis=tuple(range(len(qshape), np.ndim(g))))

    return a_rule, q_rule


def _order_statistic_jvp(t, ans, a, qshape, axis):
    """``(1 - frac)`` of the tangent at the lower order statistic plus ``frac`` of the upper's
    (each averaged over ties), as the VJP splits ``g``."""
    _, _, _, frac, w_lo, w_hi, red, _ = _bracket(ans, ans, a, qshape, axis)
    return np.reshape(np.sum(t * ((1 - frac) * w_lo + frac * w_hi), axis=red), ans.shape)


def _quantile_jvps(scale, nan):
    """The JVP rules of ``quantile``/``percentile`` for a and q (as ``_quantile_rules``)."""

    def a_rule(t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, **kwargs):  # fmt: skip
        _refuse_overwrite(overwrite_input)
        return _order_statistic_jvp(t, ans, a, np.shape(q), axis)

    def q_rule(t, ans, a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False, **kwargs):  # fmt: skip
        if method not in _INDEX_SLOPE:
            return None  # piecewise constant in q
        qshape = np.shape(q)
        _, slope = _q_slope(ans, ans, a, qshape, axis, method, scale, nan)
        return np.reshape(np.reshape(t, qshape + (1,) * np.ndim(a)) * slope, ans.shape)

    return a_rule, q_rule


def _median_jvp(t, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _refuse_overwrite(overwrite_input)
    return _order_statistic_jvp(t, ans, a, (), axis)


def _median_vjp(g, ans, a, axis=None, out=None, overwrite_input=False, keepdims=False):
    _refuse_overwrite(overwrite_input)
    return _order_statistic_vjp(g, ans, a, (), axis)


defvjp(np.quantile, *_quantile_rules(1, nan=False))
defvjp(np.percentile, *_quantile_rules(100, nan=False))
defvjp(np.nanquantile, *_quantile_rules(1, nan=True))
defvjp(np.nanpercentile, *_quantile_rules(100, nan=True))
defvjp(np.median, _median_vjp)
defvjp(np.nanmedian, _median_vjp)
defjvp(np.quantile, *_quantile_jvps(1, nan=False))
defjvp(np.percentile, *_quantile_jvps(100, nan=False))
defjvp(np.nanquantile, *_quantile_jvps(1, nan=True))
defjvp(np.nanpercentile, *_quantile_jvps(100, nan=True))
defjvp(np.median, _median_jvp)
defjvp(np.nanmedian, _median_jvp)

# --- variance and standard deviation ----------------------------------------------------------


def _deviations(a, axis, ddof, correction, where, mean, nan, keepdims=True):
    """``a - mean`` (zero where ``where`` is False or ``a`` is NaN for the ``nan*`` versions)
    and the divisor ``count - ddof`` (reduced over ``axis``, keeping its axes or not)."""
    if correction is not None:
        ddof = correction
    valid = np.broadcast_to(where, np.shape(a))
    if nan:
        valid = valid & ~np.isnan(a)
    count = np.sum(valid, axis=axis, keepdims=keepdims)
    if mean is None:
        if nan:
            mean = np.nanmean(a, axis=axis, keepdims=True, where=where)
        elif where is True:
            mean = np.mean(a, axis=axis, keepdims=True)
        else:
            mean = np.mean(a, axis=axis, keepdims=True, where=where)
    deviation = np.where(valid, a - mean, 0) if nan or where is not True else a - mean
    return deviation, count - ddof


def _deviation_grad(g, a, axis, keepdims, ddof, correction, where, mean, nan):
    """``g * d var / d a = 2 g (a - mean) / (count - ddof)``, for a spread-out ``g``.

    The mean's own dependence on ``a`` cancels (the deviations sum to zero), and the same
    formula holds for complex ``a``. NaN entries of the ``nan*`` versions get no gradient.
    """
    deviation, divisor = _deviations(a, axis, ddof, correction, where, mean, nan)
    g = _spread(g, np.shape(a), axis, keepdims)
    return 2 * g * deviation / divisor


def _deviation_tangent(t, a, axis, keepdims, ddof, correction, where, mean, nan):
    """``d var = 2 sum(Re(conj(a - mean) t)) / (count - ddof)``: the transpose of
    ``_deviation_grad`` (the mean's own tangent cancels, as there)."""
    deviation, divisor = _deviations(a, axis, ddof, correction, where, mean, nan, keepdims)
    moved = np.real(np.conj(deviation) * t) if np.iscomplexobj(deviation) else deviation * t
    return 2 * np.sum(moved, axis=axis, keepdims=keepdims) / divisor


def _var_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
             mean=None, correction=None):  # fmt: skip
    return _deviation_tangent(t, a, axis, keepdims, ddof, correction, where, mean, False)


def _nanvar_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                where=True, mean=None, correction=None):  # fmt: skip
    return _deviation_tangent(t, a, axis, keepdims, ddof, correction, where, mean, True)


def _std_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
             mean=None, correction=None):  # fmt: skip
    d = _deviation_tangent(t, a, axis, keepdims, ddof, correction, where, mean, False)
    return _std_scale(d, ans)


def _nanstd_jvp(t, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                where=True, mean=None, correction=None):  # fmt: skip
    d = _deviation_tangent(t, a, axis, keepdims, ddof, correction, where, mean, True)
    return _std_scale(d, ans)


def _var_vjp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
             mean=None, correction=None):  # fmt: skip
    return _deviation_grad(g, a, axis, keepdims, ddof, correction, where, mean, False)


def _nanvar_vjp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                where=True, mean=None, correction=None):  # fmt: skip
    return _deviation_grad(g, a, axis, keepdims, ddof, correction, where, mean, True)


def _std_scale(g, ans):
    """d std = d var / (2 std); where std is 0 (all equal) the subgradient 0 is used."""
    zero = ans == 0
    return np.where(zero, 0, g) / (2 * np.where(zero, 1, ans))


def _std_vjp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
             mean=None, correction=None):  # fmt: skip
    g = _std_scale(g, ans)
    return _deviation_grad(g, a, axis, keepdims, ddof, correction, where, mean, False)


def _nanstd_vjp(g, ans, a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *,
                where=True, mean=None, correction=None):  # fmt: skip
    g = _std_scale(g, ans)
    return _deviation_grad(g, a, axis, keepdims, ddof, correction, where, mean, True)


defvjp(np.var, _var_vjp)
defvjp(np.std, _std_vjp)


def _var_given_mean(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True,
                    mean=None, correction=None, root=False):  # fmt: skip
    """``var``/``std`` with a ``mean=`` that requires grad, as NumPy computes it, recorded.

    The same operations in the same order as NumPy's ``_var`` (``sum(|a - mean| ** 2) /
    max(count - ddof, 0)``), so the value is NumPy's and the gradient reaches ``mean`` too:
    ``-2 * sum(a - mean) / (count - ddof)`` per mean element.
    """
    if out is not None:
        raise not_differentiable("numpy.var", "out= is not recorded; use the return value")
    if correction is not None:
        ddof = correction
    d = a - mean
    sq = np.real(d * np.conj(d)) if np.iscomplexobj(d) else d * d
    total = np.sum(sq, axis=axis, dtype=dtype, keepdims=keepdims, where=where)
    count = np.sum(np.broadcast_to(where, np.shape(a)), axis=axis, keepdims=keepdims)
    res = total / np.maximum(count - ddof, 0)
    return np.sqrt(res) if root else res


KEYWORD_FORMS[np.var] = _var_given_mean
KEYWORD_FORMS[np.std] = lambda *args, **kwargs: _var_given_mean(*args, **kwargs, root=True)
defvjp(np.nanvar, _nanvar_vjp)
defvjp(np.nanstd, _nanstd_vjp)
defjvp(np.var, _var_jvp)
defjvp(np.std, _std_jvp)
defjvp(np.nanvar, _nanvar_jvp)
defjvp(np.nanstd, _nanstd_jvp)

# --- differences ------------------------------------------------------------------------------


def _diff_transpose(g, n, axis):
    """Apply the transpose of ``diff`` ``n`` times: ``-diff`` of ``g`` padded with zeros."""
    for _ in range(n):
        g = -np.diff(g, axis=axis, prepend=0, append=0)
    return g


def _edge_length(edge, axis):
    """How many entries ``prepend``/``append`` add along ``axis`` (a scalar adds one)."""
    return 1 if np.ndim(edge) == 0 else np.shape(edge)[axis]


def _diff_part(g, n, axis, prepend, append, which):
    """The cotangent of ``diff(concatenate([prepend, a, append]), n)`` for one of the three."""
    full = _diff_transpose(g, n, axis)
    start = 0 if prepend is np._NoValue else _edge_length(prepend, axis)
    end = np.shape(full)[axis] - (0 if append is np._NoValue else _edge_length(append, axis))
    part = {"prepend": slice(0, start), "a": slice(start, end), "append": slice(end, None)}
    c = full[_along(axis, np.ndim(full), part[which])]
    edge = {"prepend": prepend, "append": append}.get(which)
    return np.sum(c) if which != "a" and np.ndim(edge) == 0 else c


def _diff_vjp_a(g, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    return _diff_part(g, n, axis, prepend, append, "a")


def _diff_vjp_prepend(g, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    return _diff_part(g, n, axis, prepend, append, "prepend")


def _diff_vjp_append(g, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    return _diff_part(g, n, axis, prepend, append, "append")


def _ediff1d_vjp_ary(g, ans, ary, to_end=None, to_begin=None):
    """The differences sit between ``to_begin`` and ``to_end`` in ``g``."""
    start = 0 if to_begin is None else np.size(to_begin)
    middle = g[start : start + np.size(ary) - 1] if np.size(ary) else g[:0]
    return np.reshape(_diff_transpose(middle, 1, 0), np.shape(ary))


def _ediff1d_vjp_to_end(g, ans, ary, to_end=None, to_begin=None):
    return np.reshape(g[np.size(g) - np.size(to_end) :], np.shape(to_end))


def _ediff1d_vjp_to_begin(g, ans, ary, to_end=None, to_begin=None):
    return np.reshape(g[: np.size(to_begin)], np.shape(to_begin))


def _zero_edge(edge):
    """An edge of ``diff`` without a tangent: constant, so zero in the tangent (``diff`` is
    affine in ``a`` when ``prepend``/``append`` are constants)."""
    return edge if edge is np._NoValue else np.zeros_like(edge)


def _diff_jvp_a(t, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    if prepend is np._NoValue and append is np._NoValue:
        return np.diff(t, n, axis)
    return np.diff(t, n, axis, prepend=_zero_edge(prepend), append=_zero_edge(append))


def _diff_jvp_prepend(t, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    zeros = np.zeros(np.shape(a), t.dtype)
    return np.diff(zeros, n, axis, prepend=t, append=_zero_edge(append))


def _diff_jvp_append(t, ans, a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    zeros = np.zeros(np.shape(a), t.dtype)
    return np.diff(zeros, n, axis, prepend=_zero_edge(prepend), append=t)


def _ediff1d_jvp_ary(t, ans, ary, to_end=None, to_begin=None):
    """The differences of ``t``, between zeros where the constant ``to_begin``/``to_end`` sit."""
    begin = None if to_begin is None else np.zeros(np.size(to_begin), t.dtype)
    end = None if to_end is None else np.zeros(np.size(to_end), t.dtype)
    return np.ediff1d(t, to_end=end, to_begin=begin)


def _ediff1d_jvp_to_end(t, ans, ary, to_end=None, to_begin=None):
    return np.concatenate([np.zeros(ans.size - np.size(t), t.dtype), np.ravel(t)])


def _ediff1d_jvp_to_begin(t, ans, ary, to_end=None, to_begin=None):
    return np.concatenate([np.ravel(t), np.zeros(ans.size - np.size(t), t.dtype)])


defvjp(np.diff, _diff_vjp_a, None, None, _diff_vjp_prepend, _diff_vjp_append)
defvjp(np.ediff1d, _ediff1d_vjp_ary, _ediff1d_vjp_to_end, _ediff1d_vjp_to_begin)
defjvp(np.diff, _diff_jvp_a, None, None, _diff_jvp_prepend, _diff_jvp_append)
defjvp(np.ediff1d, _ediff1d_jvp_ary, _ediff1d_jvp_to_end, _ediff1d_jvp_to_begin)


def _gradient_spacings(f, varargs, axis):
    """The axes ``np.gradient`` differentiates along, and the spacing of each."""
    axes = _axes(axis, np.ndim(f))
    if not varargs:
        return axes, [1.0] * len(axes)
    if len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        return axes, [varargs[0]] * len(axes)
    return axes, list(varargs)


def _gradient_rows(h, n, edge_order):
    """The coefficients of ``np.gradient``'s stencils along one axis of length ``n``.

    Returns ``(interior, first, last)``: three 1-d arrays ``(a, b, c)`` with
    ``out[i] = a f[i-1] + b f[i] + c f[i+1]`` for interior ``i``, and the one-sided weights of
    the first and last rows (on ``f[0], f[1], ...`` and ``..., f[-2], f[-1]``).
    """
    if np.ndim(h) == 0:
        inner = (-0.5 / h, 0.0 * h, 0.5 / h)
        if edge_order == 1:
            return inner, (-1 / h, 1 / h), (-1 / h, 1 / h)
        return inner, (-1.5 / h, 2 / h, -0.5 / h), (0.5 / h, -2 / h, 1.5 / h)
    dx = np.diff(h)
    d1, d2 = dx[:-1], dx[1:]
    inner = (-d2 / (d1 * (d1 + d2)), (d2 - d1) / (d1 * d2), d1 / (d2 * (d1 + d2)))
    if edge_order == 1:
        return inner, (-1 / dx[0], 1 / dx[0]), (-1 / dx[-1], 1 / dx[-1])
    a1, a2 = dx[0], dx[1]
    first = (
        -(2 * a1 + a2) / (a1 * (a1 + a2)),
        (a1 + a2) / (a1 * a2),
        -a1 / (a2 * (a1 + a2)),
    )
    b1, b2 = dx[-2], dx[-1]
    last = (b2 / (b1 * (b1 + b2)), -(b2 + b1) / (b1 * b2), (2 * b2 + b1) / (b2 * (b1 + b2)))
    return inner, first, last


def _gradient_transpose(g, h, axis, edge_order):
    """The transpose of ``np.gradient`` along ``axis`` (it is linear in ``f``) applied to ``g``."""
    shape, ndim = np.shape(g), np.ndim(g)
    n = shape[axis]
    inner, first, last = _gradient_rows(h, n, edge_order)

    def at(start, stop):
        return _along(axis, ndim, slice(start, stop))

    def along(c):  # a 1-d coefficient array lined up with ``axis``
        return np.reshape(c, (-1,) + (1,) * (ndim - axis - 1)) if np.ndim(c) else c

    out = 0
    g_inner = g[at(1, n - 1)]
    for k, c in enumerate(inner):
        out = out + scatter_add(g_inner * along(c), at(k, n - 2 + k), shape)
    g_first, g_last = g[at(0, 1)], g[at(n - 1, n)]
    for k, c in enumerate(first):
        out = out + scatter_add(g_first * c, at(k, k + 1), shape)
    for k, c in enumerate(last):
        j = n - len(last) + k
        out = out + scatter_add(g_last * c, at(j, j + 1), shape)
    return out


def _gradient_coordinate_grad(g, f, x, axis, edge_order):
    """The cotangent of coordinates ``x`` along ``axis``, through the spacings ``dx = diff(x)``.

    Each stencil weight is a function of its one or two neighbouring spacings; ``products[k]``
    is ``g * conj(f)`` at the row and the ``k``-th point it reads, summed across the other axes.
    """
    ndim, n = np.ndim(f), np.shape(f)[axis]
    others = tuple(i for i in range(ndim) if i != axis % ndim)

    def at(start, stop):
        return _along(axis, ndim, slice(start, stop))

    def products(rows, cols):  # sum over the other axes of g[rows] * conj(f[cols])
        return np.sum(g[at(*rows)] * conj(f[at(*cols)]), axis=others)

    dx = np.diff(x)
    d1, d2 = dx[:-1], dx[1:]
    s = d1 + d2
    inner = [products((1, n - 1), (k, n - 2 + k)) for k in range(3)]
    # d(a, b, c)/d d1 and d(a, b, c)/d d2 for a = -d2/(d1 s), b = 1/d1 - 1/d2, c = d1/(d2 s)
    by_d1 = inner[0] * (1 / d1**2 - 1 / s**2) - inner[1] / d1**2 + inner[2] / s**2
    by_d2 = -inner[0] / s**2 + inner[1] / d2**2 - inner[2] * d1 * (d1 + 2 * d2) / (d2 * s) ** 2
    m = n - 1
    grad_dx = scatter_add(by_d1, slice(0, m - 1), (m,)) + scatter_add(by_d2, slice(1, m), (m,))
    if edge_order == 1:  # (f[1] - f[0]) / dx[0] and (f[-1] - f[-2]) / dx[-1]
        first = products((0, 1), (1, 2)) - products((0, 1), (0, 1))
        last = products((n - 1, n), (n - 1, n)) - products((n - 1, n), (n - 2, n - 1))
        ends = (-first[0] / dx[0] ** 2, -last[0] / dx[-1] ** 2)
        grad_dx = grad_dx + scatter_add(np.stack(ends), np.array([0, m - 1]), (m,))
    else:
        a1, a2, b1, b2 = dx[0], dx[1], dx[-2], dx[-1]
        sa, sb = a1 + a2, b1 + b2
        p = [products((0, 1), (k, k + 1))[0] for k in range(3)]
        r = [products((n - 1, n), (n - 3 + k, n - 2 + k))[0] for k in range(3)]
        # first row: A = -(2 a1 + a2)/(a1 sa), B = 1/a1 + 1/a2, C = -a1/(a2 sa); A + B + C = 0
        c_a1, c_a2 = -1 / sa**2, a1 * (a1 + 2 * a2) / (a2 * sa) ** 2
        by_a1 = p[0] * (1 / a1**2 - c_a1) - p[1] / a1**2 + p[2] * c_a1
        by_a2 = p[0] * (1 / a2**2 - c_a2) - p[1] / a2**2 + p[2] * c_a2
        # last row: A = b2/(b1 sb), B = -(1/b1 + 1/b2), C = (2 b2 + b1)/(b2 sb); A + B + C = 0
        a_b1, a_b2 = -b2 * (2 * b1 + b2) / (b1 * sb) ** 2, 1 / sb**2
        by_b1 = r[0] * a_b1 + r[1] / b1**2 - r[2] * (a_b1 + 1 / b1**2)
        by_b2 = r[0] * a_b2 + r[1] / b2**2 - r[2] * (a_b2 + 1 / b2**2)
        grad_dx = grad_dx + scatter_add(
            np.stack([by_a1, by_a2, by_b1, by_b2]), np.array([0, 1, m - 2, m - 1]), (m,)
        )
    return _diff_transpose(grad_dx, 1, 0)


def _gradient_vjp(argnum, g, ans, f, *varargs, axis=None, edge_order=1):
    """``f`` gets the transposed stencils; a scalar spacing ``h`` gets ``-sum(g * ans) / h``;
    coordinates get the derivatives of the stencil weights in their spacings."""
    axes, spacings = _gradient_spacings(f, varargs, axis)
    gs = (g,) if len(axes) == 1 else g
    if argnum == 0:
        return sum(_gradient_transpose(gk, h, ax, edge_order)
                   for gk, h, ax in zip(gs, spacings, axes, strict=True))  # fmt: skip
    h = varargs[argnum - 1]
    if np.ndim(h) != 0:
        k = argnum - 1
        return _gradient_coordinate_grad(gs[k], f, h, axes[k], edge_order)
    outs = (ans,) if len(axes) == 1 else ans
    used = range(len(axes)) if len(varargs) == 1 else [argnum - 1]
    return -sum(np.sum(gs[k] * conj(outs[k])) for k in used) / h


def _gradient_coordinate_tangent(f, x, tx, axis, edge_order):
    """The tangent of ``np.gradient(f, x)`` along ``axis`` for a tangent ``tx`` of the
    coordinates: each stencil weight moves with its spacings (the derivatives of
    ``_gradient_coordinate_grad``, applied instead of transposed)."""
    ndim, n = np.ndim(f), np.shape(f)[axis]

    def at(start, stop):
        return f[_along(axis, ndim, slice(start, stop))]

    def along(c):  # a 1-d coefficient array lined up with ``axis``
        return np.reshape(c, (-1,) + (1,) * (ndim - axis % ndim - 1))

    dx, tdx = np.diff(x), np.diff(tx)
    d1, d2, t1, t2 = dx[:-1], dx[1:], tdx[:-1], tdx[1:]
    s = d1 + d2
    da = (1 / d1**2 - 1 / s**2) * t1 - t2 / s**2
    db = -t1 / d1**2 + t2 / d2**2
    dc = t1 / s**2 - d1 * (d1 + 2 * d2) / (d2 * s) ** 2 * t2
    inner = along(da) * at(0, n - 2) + along(db) * at(1, n - 1) + along(dc) * at(2, n)
    if edge_order == 1:  # (f[1] - f[0]) / dx[0] and (f[-1] - f[-2]) / dx[-1]
        first = -(at(1, 2) - at(0, 1)) * (tdx[0] / dx[0] ** 2)
        last = -(at(n - 1, n) - at(n - 2, n - 1)) * (tdx[-1] / dx[-1] ** 2)
    else:
        a1, a2, b1, b2 = dx[0], dx[1], dx[-2], dx[-1]
        ta1, ta2, tb1, tb2 = tdx[0], tdx[1], tdx[-2], tdx[-1]
        sa, sb = a1 + a2, b1 + b2
        c_a1, c_a2 = -1 / sa**2, a1 * (a1 + 2 * a2) / (a2 * sa) ** 2
        first = (
            ((1 / a1**2 - c_a1) * ta1 + (1 / a2**2 - c_a2) * ta2) * at(0, 1)
            - (ta1 / a1**2 + ta2 / a2**2) * at(1, 2)
            + (c_a1 * ta1 + c_a2 * ta2) * at(2, 3)
        )
        a_b1, a_b2 = -b2 * (2 * b1 + b2) / (b1 * sb) ** 2, 1 / sb**2
        last = (
            (a_b1 * tb1 + a_b2 * tb2) * at(n - 3, n - 2)
            + (tb1 / b1**2 + tb2 / b2**2) * at(n - 2, n - 1)
            - ((a_b1 + 1 / b1**2) * tb1 + (a_b2 + 1 / b2**2) * tb2) * at(n - 1, n)
        )
    return np.concatenate([first, inner, last], axis=axis)


def _gradient_jvp(argnum, t, ans, f, *varargs, axis=None, edge_order=1):
    """Linear in ``f``; a scalar spacing ``h`` scales its outputs by ``-t / h``; coordinates
    move the stencil weights."""
    if argnum == 0:
        return np.gradient(t, *varargs, axis=axis, edge_order=edge_order)
    axes, _ = _gradient_spacings(f, varargs, axis)
    h = varargs[argnum - 1]
    if np.ndim(h) != 0:
        tangents = [None] * len(axes)
        k = argnum - 1
        tangents[k] = _gradient_coordinate_tangent(f, h, t, axes[k], edge_order)
    else:
        outs = (ans,) if len(axes) == 1 else ans
        used = range(len(axes)) if len(varargs) == 1 else [argnum - 1]
        tangents = [-outs[k] * (t / h) if k in used else None for k in range(len(axes))]
    return tangents[0] if len(axes) == 1 else tuple(tangents)


defvjp_argnum(np.gradient, _gradient_vjp)
defjvp_argnum(np.gradient, _gradient_jvp)


# --- integrals: numpy's own code (diff, slicing, add.reduce) is recorded ------------------------
mark_traced(np.trapezoid)

# --- correlating ------------------------------------------------------------------------------


def _variables(m, rowvar):
    """``m`` as cov sees it: a 2-d array of variables (rows) by observations (columns)."""
    if np.ndim(m) < 2:
        return np.reshape(m, (1, -1))
    return m if rowvar or np.shape(m)[0] == 1 else np.transpose(m)


def _cov_weights(n_obs, bias, ddof, fweights, aweights):
    """The observation weights ``w`` and the normalisation ``fact`` that cov divides by."""
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w = None
    if fweights is not None:
        w = np.asarray(fweights, dtype=float)
    if aweights is not None:
        # recorded (not converted): the rules of m and y depend on aweights at second order
        w = np.multiply(aweights, 1.0) if w is None else w * aweights
    if w is None:
        return np.ones(n_obs), n_obs - ddof
    w_sum = np.sum(w)
    if ddof == 0:
        return w, w_sum
    if aweights is None:
        return w, w_sum - ddof
    return w, w_sum - ddof * np.sum(w * aweights) / w_sum


def _cov_grads(g, m, y, rowvar, bias, ddof, fweights, aweights, which):
    """``C = Xc W Xc^H / fact`` with ``Xc`` the centred variables: ``dX = (G + G^H) Xc W / fact``.

    The centring's own term vanishes (the weighted deviations sum to zero); ``X`` stacks the
    variables of ``m`` and ``y``, so the cotangent of each is its block of rows.
    """
    xm = _variables(m, rowvar)
    blocks = [xm] if y is None else [xm, _variables(y, rowvar)]
    w, fact = _cov_weights(np.shape(xm)[1], bias, ddof, fweights, aweights)
    centred = [x - np.sum(x * w, axis=1, keepdims=True) / np.sum(w) for x in blocks]
    n = [np.shape(x)[0] for x in blocks]
    g = np.reshape(g, (sum(n), sum(n)))
    h = g + np.conj(np.transpose(g))
    rows = slice(0, n[0]) if which == 0 else slice(n[0], None)
    cols = [slice(0, n[0]), slice(n[0], None)]
    d = sum(h[rows, cols[k]] @ centred[k] for k in range(len(blocks))) * (w / fact)
    original = m if which == 0 else y
    if np.ndim(original) < 2:
        return np.reshape(d, np.shape(original))
    return d if rowvar or np.shape(original)[0] == 1 else np.transpose(d)


def _cov_vjp_m(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
               aweights=None, *, dtype=None):  # fmt: skip
    return _cov_grads(g, m, y, rowvar, bias, ddof, fweights, aweights, 0)


def _cov_vjp_y(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
               aweights=None, *, dtype=None):  # fmt: skip
    return _cov_grads(g, m, y, rowvar, bias, ddof, fweights, aweights, 1)


def _corrcoef_to_cov(g, ans, x, y, rowvar):
    """``R = C / (s s^T)`` with ``s = sqrt(diag(C).real)``: the cotangent of ``C``."""
    c = np.cov(x, y, rowvar)
    if np.ndim(c) == 0:  # one variable: R = C / C = 1
        return np.zeros_like(g)
    s = np.sqrt(np.real(np.diagonal(c)))
    outer = np.expand_dims(s, 1) * np.expand_dims(s, 0)
    r = c / outer
    gr = np.conj(g) * r
    h = np.real(np.sum(gr, axis=0) + np.sum(gr, axis=1)) / (2 * np.real(np.diagonal(c)))
    return g / outer - np.eye(np.shape(s)[0]) * h


def _corrcoef_vjp_x(g, ans, x, y=None, rowvar=True, *, dtype=None):
    return _cov_grads(_corrcoef_to_cov(g, ans, x, y, rowvar), x, y, rowvar, 0, None, None,
                      None, 0)  # fmt: skip


def _corrcoef_vjp_y(g, ans, x, y=None, rowvar=True, *, dtype=None):
    return _cov_grads(_corrcoef_to_cov(g, ans, x, y, rowvar), x, y, rowvar, 0, None, None,
                      None, 1)  # fmt: skip


def _cov_vjp_fweights(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                      aweights=None, *, dtype=None):  # fmt: skip
    raise not_differentiable("numpy.cov", "fweights are integer frequencies")


def _cov_vjp_aweights(g, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                      aweights=None, *, dtype=None):  # fmt: skip
    """``C = sum_k w_k xc_k xc_k^H / fact`` with ``w = fweights * aweights``.

    d C / d w_k = xc_k xc_k^H / fact (the mean's own term vanishes, as for ``m``), and
    ``fact`` depends on the weights too: ``sum(w)``, or ``sum(w) - ddof sum(w aw) / sum(w)``.
    """
    xm = _variables(m, rowvar)
    blocks = [xm] if y is None else [xm, _variables(y, rowvar)]
    w, fact = _cov_weights(np.shape(xm)[1], bias, ddof, fweights, aweights)
    fw = 1.0 if fweights is None else np.asarray(fweights, dtype=float)
    centred = [x - np.sum(x * w, axis=1, keepdims=True) / np.sum(w) for x in blocks]
    n = [np.shape(x)[0] for x in blocks]
    g = np.reshape(g, (sum(n), sum(n)))
    cut = [slice(0, n[0]), slice(n[0], None)]
    spread = sum(
        np.sum(np.conj(centred[i]) * (g[cut[i], cut[j]] @ centred[j]), axis=0)
        for i in range(len(blocks))
        for j in range(len(blocks))
    )
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w_sum = np.sum(w)
    d_fact = fw if ddof == 0 else fw - ddof * (2 * fw * aweights / w_sum
                                                - np.sum(w * aweights) * fw / w_sum**2)  # fmt: skip
    g_c = np.sum(g * np.conj(np.reshape(ans, np.shape(g))))
    return fw * spread / fact - g_c * d_fact / fact


def _cov_tangent(t, m, y, rowvar, bias, ddof, fweights, aweights, which):
    """``dC = (P + P^H) / fact`` with ``P = T W Xc^H``, ``T`` the tangent of the stacked
    variables (zero in the other block): the centring's tangent vanishes against ``Xc W``.
    Returned as the full square matrix (``cov`` squeezes its result)."""
    xm = _variables(m, rowvar)
    blocks = [xm] if y is None else [xm, _variables(y, rowvar)]
    w, fact = _cov_weights(np.shape(xm)[1], bias, ddof, fweights, aweights)
    centred = [x - np.sum(x * w, axis=1, keepdims=True) / np.sum(w) for x in blocks]
    xc = centred[0] if y is None else np.concatenate(centred, axis=0)
    p = (_variables(t, rowvar) * w) @ np.conj(np.transpose(xc))
    if y is not None:
        rest = np.zeros((np.shape(centred[1 - which])[0], np.shape(p)[1]), p.dtype)
        p = np.concatenate([p, rest] if which == 0 else [rest, p], axis=0)
    return (p + np.conj(np.transpose(p))) / fact


def _cov_jvp_m(t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
               aweights=None, *, dtype=None):  # fmt: skip
    return np.reshape(_cov_tangent(t, m, y, rowvar, bias, ddof, fweights, aweights, 0),
                      ans.shape)  # fmt: skip


def _cov_jvp_y(t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
               aweights=None, *, dtype=None):  # fmt: skip
    return np.reshape(_cov_tangent(t, m, y, rowvar, bias, ddof, fweights, aweights, 1),
                      ans.shape)  # fmt: skip


def _cov_jvp_fweights(t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                      aweights=None, *, dtype=None):  # fmt: skip
    raise not_differentiable("numpy.cov", "fweights are integer frequencies")


def _cov_jvp_aweights(t, ans, m, y=None, rowvar=True, bias=False, ddof=None, fweights=None,
                      aweights=None, *, dtype=None):  # fmt: skip
    """``dC = (sum_k fw_k t_k xc_k xc_k^H - C d fact) / fact`` (see ``_cov_vjp_aweights``)."""
    xm = _variables(m, rowvar)
    blocks = [xm] if y is None else [xm, _variables(y, rowvar)]
    w, fact = _cov_weights(np.shape(xm)[1], bias, ddof, fweights, aweights)
    fw = 1.0 if fweights is None else np.asarray(fweights, dtype=float)
    centred = [x - np.sum(x * w, axis=1, keepdims=True) / np.sum(w) for x in blocks]
    xc = centred[0] if y is None else np.concatenate(centred, axis=0)
    spread = (xc * (fw * t)) @ np.conj(np.transpose(xc))
    if ddof is None:
        ddof = 1 if bias == 0 else 0
    w_sum = np.sum(w)
    d_fact = fw if ddof == 0 else fw - ddof * (2 * fw * aweights / w_sum
                                                - np.sum(w * aweights) * fw / w_sum**2)  # fmt: skip
    c = np.reshape(ans, np.shape(spread))
    return np.reshape((spread - c * np.sum(d_fact * t)) / fact, np.shape(ans))


def _corrcoef_tangent(t, x, y, rowvar, which):
    """``R = C / (s s^T)``: ``dR = dC / (s s^T) - R (h_i + h_j)``, ``h = Re(dC_ii) / (2 C_ii)``."""
    c = np.cov(x, y, rowvar)
    if np.ndim(c) == 0:  # one variable: R = C / C = 1
        return None
    dc = _cov_tangent(t, x, y, rowvar, 0, None, None, None, which)
    var = np.real(np.diagonal(c))
    s = np.sqrt(var)
    outer = np.expand_dims(s, 1) * np.expand_dims(s, 0)
    h = np.real(np.diagonal(dc)) / (2 * var)
    return dc / outer - c / outer * (np.expand_dims(h, 1) + np.expand_dims(h, 0))


def _corrcoef_jvp_x(t, ans, x, y=None, rowvar=True, *, dtype=None):
    return _corrcoef_tangent(t, x, y, rowvar, 0)


def _corrcoef_jvp_y(t, ans, x, y=None, rowvar=True, *, dtype=None):
    return _corrcoef_tangent(t, x, y, rowvar, 1)


defvjp(np.cov, _cov_vjp_m, _cov_vjp_y, None, None, None, _cov_vjp_fweights, _cov_vjp_aweights)
defvjp(np.corrcoef, _corrcoef_vjp_x, _corrcoef_vjp_y)
defjvp(np.cov, _cov_jvp_m, _cov_jvp_y, None, None, None, _cov_jvp_fweights, _cov_jvp_aweights)
defjvp(np.corrcoef, _corrcoef_jvp_x, _corrcoef_jvp_y)

# --- polynomials and interpolation ------------------------------------------------------------


def _polyval_vjp_p(g, ans, p, x):
    """d polyval / d p_k = x ** (deg - k), summed over the points."""
    deg = np.shape(p)[0] - 1
    powers = np.expand_dims(x, -1) ** np.arange(deg, -1, -1)
    return np.sum(np.expand_dims(g, -1) * conj(powers), axis=tuple(range(np.ndim(x))))


def _polyval_vjp_x(g, ans, p, x):
    """d polyval / d x = polyval(polyder(p), x)."""
    deg = np.shape(p)[0] - 1
    return g * conj(np.polyval(p[:-1] * np.arange(deg, 0, -1), x))


def _polyval_jvp_p(t, ans, p, x):
    """polyval is linear in the coefficients."""
    return np.polyval(t, x)


def _polyval_jvp_x(t, ans, p, x):
    deg = np.shape(p)[0] - 1
    return t * np.polyval(p[:-1] * np.arange(deg, 0, -1), x)


defvjp(np.polyval, _polyval_vjp_p, _polyval_vjp_x)
defjvp(np.polyval, _polyval_jvp_p, _polyval_jvp_x)


def _vander_slopes(x, N=None, increasing=False):
    """``d x_i ** p_j / d x_i = p_j x_i ** (p_j - 1)`` for ``vander``'s powers ``p_j`` (those
    of the last column first unless ``increasing``); the zeroth power's column is zero."""
    n = np.shape(x)[0] if N is None else N
    p = np.arange(n) if increasing else np.arange(n - 1, -1, -1)
    return p * np.expand_dims(x, -1) ** np.maximum(p - 1, 0)


def _vander_vjp(g, ans, x, N=None, increasing=False):
    return np.sum(g * conj(_vander_slopes(x, N, increasing)), axis=-1)


def _vander_jvp(t, ans, x, N=None, increasing=False):
    return np.expand_dims(t, -1) * _vander_slopes(x, N, increasing)


defvjp(np.vander, _vander_vjp)
defjvp(np.vander, _vander_jvp)


def _indexable(v):
    """A list of knots as an array, so that it can be indexed (lists carry no gradient)."""
    return np.array(v) if isinstance(v, (list, tuple)) else v


def _interp_segments(x, xp):
    """For each ``x``: the ends ``i, i + 1`` of the segment of ``xp`` it falls in."""
    n = np.shape(xp)[0]
    i = np.clip(np.searchsorted(xp, x, side="right") - 1, 0, max(n - 2, 0))
    return i, np.minimum(i + 1, n - 1)


def _periodic(x, xp, fp, period):
    """What ``interp(..., period=)`` interpolates in: ``x`` and ``xp`` wrapped into one period,
    ``xp`` sorted and extended by one knot on each side; ``index`` maps the knots back."""
    period = np.abs(period)
    xp = np.remainder(xp, period)
    order = np.argsort(xp)
    index = np.concatenate([order[-1:], order, order[:1]])
    ordered = xp[order]
    xp = np.concatenate([ordered[-1:] - period, ordered, ordered[:1] + period])
    return np.remainder(x, period), xp, fp[index], index


def _interp_slope(x, xp, fp):
    """The slope of the segment ``x`` falls in; 0 outside ``[xp[0], xp[-1]]`` (flat there)."""
    i, j = _interp_segments(x, xp)
    inside = (x >= xp[0]) & (x <= xp[-1]) & (i != j)
    run = np.where(inside, xp[j] - xp[i], 1)
    return np.where(inside, (fp[j] - fp[i]) / run, 0)


def _interp_x(g, x, xp, fp):
    return g * conj(_interp_slope(x, xp, fp))


def _interp_fp(g, x, xp, fp, left, right):
    """interp is linear in ``fp``: each ``x`` sends ``g`` to its two knots, by position."""
    i, j = _interp_segments(x, xp)
    run = np.where(i != j, xp[j] - xp[i], 1)
    t = np.where(x <= xp[i], 0, np.where(x >= xp[j], 1, (x - xp[i]) / run))
    below, above = x < xp[0], x > xp[-1]
    g_lo = g * (1 - t)
    g_hi = g * t
    if left is not None:
        g_lo, g_hi = np.where(below, 0, g_lo), np.where(below, 0, g_hi)
    if right is not None:
        g_lo, g_hi = np.where(above, 0, g_lo), np.where(above, 0, g_hi)
    shape = np.shape(fp)
    return scatter_add(np.ravel(g_lo), np.ravel(i), shape) + scatter_add(
        np.ravel(g_hi), np.ravel(j), shape
    )


def _interp_knot_moves(x, xp, fp):
    """Inside a segment ``ans = fp[i] + s (x - xp[i])`` with slope ``s``: moving ``xp[i]``
    changes it by ``-s (1 - t)``, moving ``xp[i+1]`` by ``-s t`` (``t`` the position).
    Returns ``i``, ``i + 1``, ``t`` and ``s``."""
    i, j = _interp_segments(x, xp)
    inside = (x >= xp[0]) & (x <= xp[-1]) & (i != j)
    run = np.where(inside, xp[j] - xp[i], 1)
    t = (x - xp[i]) / run
    slope = np.where(inside, (fp[j] - fp[i]) / run, 0)
    return i, j, t, slope


def _interp_xp(g, x, xp, fp):
    i, j, t, slope = _interp_knot_moves(x, xp, fp)
    g = -g * conj(slope)
    shape = np.shape(xp)
    return scatter_add(np.ravel(g * (1 - t)), np.ravel(i), shape) + scatter_add(
        np.ravel(g * t), np.ravel(j), shape
    )


def _interp_vjp_x(g, ans, x, xp, fp, left=None, right=None, period=None):
    xp, fp = _indexable(xp), _indexable(fp)
    if period is not None:
        x, xp, fp, _ = _periodic(x, xp, fp, period)
    return _interp_x(g, x, xp, fp)


def _interp_vjp_fp(g, ans, x, xp, fp, left=None, right=None, period=None):
    xp, fp = _indexable(xp), _indexable(fp)
    if period is None:
        return _interp_fp(g, x, xp, fp, left, right)
    x, xp, fp2, index = _periodic(x, xp, fp, period)
    return scatter_add(_interp_fp(g, x, xp, fp2, None, None), index, np.shape(fp))


def _interp_vjp_xp(g, ans, x, xp, fp, left=None, right=None, period=None):
    xp, fp = _indexable(xp), _indexable(fp)
    if period is None:
        return _interp_xp(g, x, xp, fp)
    x, xp2, fp, index = _periodic(x, xp, fp, period)
    return scatter_add(_interp_xp(g, x, xp2, fp), index, np.shape(xp))


def _interp_vjp_left(g, ans, x, xp, fp, left=None, right=None, period=None):
    """``left`` is the value below ``xp[0]`` (unused with ``period``)."""
    below = x < _indexable(xp)[0]
    return np.sum(np.where(below, g, 0)) if period is None else np.sum(g) * 0


def _interp_vjp_right(g, ans, x, xp, fp, left=None, right=None, period=None):
    """``right`` is the value above ``xp[-1]`` (unused with ``period``)."""
    above = x > _indexable(xp)[-1]
    return np.sum(np.where(above, g, 0)) if period is None else np.sum(g) * 0


def _interp_vjp_period(g, ans, x, xp, fp, left=None, right=None, period=None):
    raise not_differentiable("numpy.interp", "no gradient with respect to period")


def _interp_jvp_x(t, ans, x, xp, fp, left=None, right=None, period=None):
    xp, fp = _indexable(xp), _indexable(fp)
    if period is not None:
        x, xp, fp, _ = _periodic(x, xp, fp, period)
    return t * _interp_slope(x, xp, fp)


def _interp_jvp_xp(t, ans, x, xp, fp, left=None, right=None, period=None):
    """The knots' tangents, weighted by ``-s (1 - t)`` and ``-s t``; with ``period`` the
    wrapped, sorted and extended knots move with the knots they copy."""
    xp, fp = _indexable(xp), _indexable(fp)
    if period is not None:
        x, xp, fp, index = _periodic(x, xp, fp, period)
        t = t[index]
    i, j, frac, slope = _interp_knot_moves(x, xp, fp)
    return -slope * ((1 - frac) * t[i] + frac * t[j])


def _interp_jvp_fp(t, ans, x, xp, fp, left=None, right=None, period=None):
    """Linear in ``fp``; constant ``left``/``right`` values become zero (they are an affine
    term), absent ones stay absent (they repeat the end values, whose tangents they take)."""
    if period is not None:
        return np.interp(x, xp, t, period=period)
    return np.interp(x, xp, t, None if left is None else 0, None if right is None else 0)


def _interp_jvp_left(t, ans, x, xp, fp, left=None, right=None, period=None):
    if period is not None:
        return None
    return np.where(x < _indexable(xp)[0], t, np.zeros_like(t))


def _interp_jvp_right(t, ans, x, xp, fp, left=None, right=None, period=None):
    if period is not None:
        return None
    return np.where(x > _indexable(xp)[-1], t, np.zeros_like(t))


def _interp_jvp_period(t, ans, x, xp, fp, left=None, right=None, period=None):
    raise not_differentiable("numpy.interp", "no gradient with respect to period")


defvjp(
    np.interp,
    _interp_vjp_x,
    _interp_vjp_xp,
    _interp_vjp_fp,
    _interp_vjp_left,
    _interp_vjp_right,
    _interp_vjp_period,
)
defjvp(
    np.interp,
    _interp_jvp_x,
    _interp_jvp_xp,
    _interp_jvp_fp,
    _interp_jvp_left,
    _interp_jvp_right,
    _interp_jvp_period,
)
