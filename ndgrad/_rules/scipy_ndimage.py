"""Gradient rules for ``scipy.ndimage``: correlations, the filters built on them, rank filters.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument, with
SciPy's own parameter names; keyword arguments (``mode``, ``cval``, ``sigma``, ``size``, ...)
get no gradient. SciPy is never imported here: the rules reach it through ``sys.modules`` (the
rules only run once ``scipy.ndimage`` has been imported and has called them).

A correlation along an axis is ``y[i] = sum_j w[j] * xp[i + j]``, where ``xp`` is the input
extended by ``k // 2 + origin`` samples before and the rest after, as the boundary ``mode`` says
('reflect' = 'grid-mirror', 'mirror', 'nearest', 'wrap' = 'grid-wrap', 'constant' =
'grid-constant'). Its adjoint is a correlation with the flipped kernel over the zero-padded
cotangent (a "full" correlation), followed by the transpose of the extension: each extended
sample's cotangent is added to the input sample it copies (``_fold``); under 'constant' it is
dropped, since ``cval`` gets no gradient. The separable filters (``gaussian_filter``,
``uniform_filter``, ``sobel``, ``prewitt``, ``laplace``, ``gaussian_laplace``) are sequences of
such correlations, and their rules apply the adjoints in reverse order.

Conventions at kinks:

* ``minimum_filter``, ``maximum_filter``, ``median_filter``, ``rank_filter`` and
  ``percentile_filter`` return one element of each window; the cotangent goes to that element
  (the subgradient through the selected element). On ties it goes to the first window element,
  in the footprint's C order, that equals the result, not split.
* ``gaussian_gradient_magnitude`` is ``sqrt(sum_a d_a**2)``; where it is 0 the gradient is 0 (the
  minimal-norm subgradient of a norm at zero).

Interpolation (``map_coordinates``, ``shift``, ``zoom``, ``rotate``, ``affine_transform``, and
``geometric_transform``, whose ``mapping`` gets no gradient and is guarded) and the prefilters
``spline_filter``/``spline_filter1d`` differentiate at every spline order, in the input and
(``map_coordinates``, ``shift``) the coordinates; orders 2 to 5 are described at their section.
At orders 2 to 5 the prefilter of 'nearest', 'reflect' and 'grid-mirror' (and 'wrap') starts
from approximate initial values: its transpose is the explicit matrix SciPy's own filter makes
of the identity (``n * n`` numbers per axis of length ``n``, cached for recent shapes).

Forward mode has a rule beside every VJP rule. The correlations, the filters built on them and
the interpolations are linear in the input except for ``cval``, which mode 'constant' (and
'grid-constant') adds: the tangent is the function of the input's tangent with ``cval=0`` (the
weights' and coordinates' tangents see the real ``cval``). Rank filters pass on the tangent of the
element the VJP selects; ``spline_filter``/``spline_filter1d`` are linear (``deflinear``).

Complex weights, ``output=`` given as an array, and arrays that require grad in parameters
without a rule (``sigma``, ``zoom``, ``angle``, the affine matrix) are refused with
``NotDifferentiableError``, raised by the rule: a gradient is never silently 0.
"""

from __future__ import annotations

import functools
import itertools
import math
import sys

import numpy as np

from ndgrad._define import defjvp, defvjp
from ndgrad._errors import not_differentiable
from ndgrad._graph import grad_enabled
from ndgrad._rules._scipy import (
    defjvp_scipy,
    deflinear_scipy,
    defvjp_scipy,
    guard_callback,
    wrap_scipy,
)
from ndgrad._rules.indexing import scatter_add

_MODULE = "scipy.ndimage"


def _scipy(submodule=""):
    return sys.modules[_MODULE + submodule]


# --- boundary extension and its transpose ------------------------------------------------------


def _pad_index(n, before, after, mode):
    """For each sample of the extended axis, the input sample it copies (-1: ``cval``)."""
    i = np.arange(-before, n + after)
    if mode in ("reflect", "grid-mirror"):
        i = np.mod(i, 2 * n)
        return np.where(i >= n, 2 * n - 1 - i, i)
    if mode == "mirror":
        if n == 1:
            return np.zeros_like(i)
        i = np.mod(i, 2 * n - 2)
        return np.where(i >= n, 2 * n - 2 - i, i)
    if mode == "nearest":
        return np.clip(i, 0, n - 1)
    if mode in ("wrap", "grid-wrap"):
        return np.mod(i, n)
    if mode in ("constant", "grid-constant"):
        return np.where((i < 0) | (i >= n), -1, i)
    raise ValueError(f"boundary mode not supported: {mode!r}")


def _part(a, axis, start, stop):
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, stop)
    return a[tuple(index)]


def _extend(x, axis, before, after, mode, cval):
    """``x`` extended along ``axis`` as SciPy's filters extend it."""
    n = x.shape[axis]
    index = _pad_index(n, before, after, mode)
    parts = []
    for side in (index[:before], index[before + n :]):
        if side.size == 0:
            continue
        if mode in ("constant", "grid-constant"):
            shape = list(x.shape)
            shape[axis] = side.size
            parts.append(np.full(shape, cval, dtype=x.dtype))
        else:
            parts.append(np.take(x, side, axis=axis))
    if not parts:
        return x
    if before:
        return np.concatenate([parts[0], x, *parts[1:]], axis=axis)
    return np.concatenate([x, *parts], axis=axis)


def _fold(gp, axis, before, n, mode):
    """The transpose of ``_extend``: each extended sample's cotangent added where it came from."""
    after = gp.shape[axis] - before - n
    centre = _part(gp, axis, before, before + n)
    if mode in ("constant", "grid-constant") or before + after == 0:
        return centre
    index = _pad_index(n, before, after, mode)
    edges = np.concatenate([index[:before], index[before + n :]])
    onehot = (edges[:, None] == np.arange(n)).astype(gp.real.dtype)
    ge = np.concatenate([_part(gp, axis, 0, before), _part(gp, axis, before + n, None)], axis=axis)
    return centre + np.moveaxis(np.moveaxis(ge, axis, -1) @ onehot, -1, axis)


# --- correlation along one axis -----------------------------------------------------------------


def _weights(weights):
    if not isinstance(weights, np.ndarray):
        weights = np.asarray(weights, dtype=float)  # a list of numbers: a constant
    if weights.dtype.kind == "c":
        raise not_differentiable(
            "scipy.ndimage correlation", "complex weights (SciPy conjugates them) have no rule yet"
        )
    return weights


def _check_output(output, name):
    if output is not None and not isinstance(output, type | np.dtype | str):
        raise not_differentiable(
            name,
            "output= is an array that SciPy writes into, outside the graph; use the return value",
        )


def _refuse(name, what):
    """The rule of a parameter that changes the output but has no rule: raise, never return 0."""

    def rule(g, ans, *args, **kwargs):
        raise not_differentiable(f"{name}", f"no gradient in {what} yet; pass it as a constant")

    return rule


def _axis(axis, ndim):
    return axis + ndim if axis < 0 else axis


def _correlate1d_adjoint(g, weights, axis, mode, origin):
    """The adjoint of ``correlate1d(., weights, axis, mode=mode, origin=origin)`` applied to g."""
    weights = _weights(weights)
    k, n = weights.shape[0], g.shape[axis]
    shape = list(g.shape)
    shape[axis] = k - 1
    zeros = np.zeros(shape, dtype=g.dtype)
    gz = np.concatenate([zeros, g, zeros], axis=axis)
    full = _scipy().correlate1d(gz, weights[::-1], axis, mode="constant")
    gp = _part(full, axis, k // 2, k // 2 + n + k - 1)
    return _fold(gp, axis, k // 2 + origin, n, mode)


def _correlate1d_weights(g, x, k, axis, mode, cval, origin):
    """The cotangent of the weights of a correlation along ``axis``: sum(g * shifted input)."""
    n = x.shape[axis]
    xp = _extend(x, axis, k // 2 + origin, k - 1 - k // 2 - origin, mode, cval)
    return np.stack([np.sum(g * _part(xp, axis, j, j + n)) for j in range(k)])


def _correlate1d_input_vjp(
    g, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    """Correlate the cotangent with the flipped kernel, then fold the boundary back."""
    _check_output(output, "scipy.ndimage.correlate1d")
    return _correlate1d_adjoint(g, weights, _axis(axis, g.ndim), mode, origin)


def _correlate1d_weights_vjp(
    g, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.correlate1d")
    k = _weights(weights).shape[0]
    return _correlate1d_weights(g, input, k, _axis(axis, g.ndim), mode, cval, origin)


defvjp_scipy(_MODULE, "correlate1d", _correlate1d_input_vjp, _correlate1d_weights_vjp)

# Forward mode. A correlation is bilinear in (input, weights) but for ``cval``, which 'constant'
# adds at the borders: the input's tangent is correlated with cval 0; the weights' tangent
# correlates the input as extended, cval included (its coefficient there is cval).


def _correlate1d_input_jvp(
    t, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.correlate1d")
    return _scipy().correlate1d(t, weights, axis, output, mode, 0.0, origin)


def _correlate1d_weights_jvp(
    t, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.correlate1d")
    return _scipy().correlate1d(input, t, axis, output, mode, cval, origin)


defjvp_scipy(_MODULE, "correlate1d", _correlate1d_input_jvp, _correlate1d_weights_jvp)


def _convolve1d_origin(k, origin):
    return -origin - (0 if k & 1 else 1)


def _convolve1d_input_vjp(
    g, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    """``convolve1d`` is ``correlate1d`` with the flipped kernel and a mirrored origin."""
    _check_output(output, "scipy.ndimage.convolve1d")
    weights = _weights(weights)
    origin = _convolve1d_origin(weights.shape[0], origin)
    return _correlate1d_adjoint(g, weights[::-1], _axis(axis, g.ndim), mode, origin)


def _convolve1d_weights_vjp(
    g, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.convolve1d")
    k = _weights(weights).shape[0]
    origin = _convolve1d_origin(k, origin)
    return _correlate1d_weights(g, input, k, _axis(axis, g.ndim), mode, cval, origin)[::-1]


defvjp_scipy(_MODULE, "convolve1d", _convolve1d_input_vjp, _convolve1d_weights_vjp)


def _convolve1d_input_jvp(
    t, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.convolve1d")
    return _scipy().convolve1d(t, weights, axis, output, mode, 0.0, origin)


def _convolve1d_weights_jvp(
    t, ans, input, weights, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.convolve1d")
    return _scipy().convolve1d(input, t, axis, output, mode, cval, origin)


defjvp_scipy(_MODULE, "convolve1d", _convolve1d_input_jvp, _convolve1d_weights_jvp)


# --- n-dimensional correlation ------------------------------------------------------------------


def _nd_setup(input_ndim, weights, origin, axes, convolution):
    """SciPy's normalisation: weights with one axis per input axis, origins, the flip."""
    support = _scipy("._ni_support")
    axes = support._check_axes(axes, input_ndim)
    weights = _weights(weights)
    if len(axes) < input_ndim:
        weights = np.expand_dims(weights, tuple(a for a in range(input_ndim) if a not in axes))
    origins = list(support._normalize_sequence(origin, len(axes)))
    if len(axes) < input_ndim:
        full = [0] * input_ndim
        for o, a in zip(origins, axes, strict=True):
            full[a] = o
        origins = full
    if convolution:
        weights = weights[(slice(None, None, -1),) * weights.ndim]
        origins = [_convolve1d_origin(k, o) for k, o in zip(weights.shape, origins, strict=True)]
    return weights, origins


def _correlate_adjoint(g, weights, origins, mode):
    gz = g
    for axis, k in enumerate(weights.shape):
        shape = list(gz.shape)
        shape[axis] = k - 1
        zeros = np.zeros(shape, dtype=g.dtype)
        gz = np.concatenate([zeros, gz, zeros], axis=axis)
    full = _scipy().correlate(gz, weights[(slice(None, None, -1),) * weights.ndim], mode="constant")
    index = tuple(
        slice(k // 2, k // 2 + n + k - 1) for k, n in zip(weights.shape, g.shape, strict=True)
    )
    gp = full[index]
    for axis, (k, n, o) in enumerate(zip(weights.shape, g.shape, origins, strict=True)):
        gp = _fold(gp, axis, k // 2 + o, n, mode)
    return gp


def _correlate_weights(g, x, shape, origins, mode, cval):
    xp = x
    for axis, (k, o) in enumerate(zip(shape, origins, strict=True)):
        xp = _extend(xp, axis, k // 2 + o, k - 1 - k // 2 - o, mode, cval)
    terms = [
        np.sum(g * xp[tuple(slice(j, j + n) for j, n in zip(offset, x.shape, strict=True))])
        for offset in np.ndindex(*shape)
    ]
    return np.reshape(np.stack(terms), shape)


def _correlate_input_vjp(
    g, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    """Correlate the zero-padded cotangent with the flipped kernel, fold each axis back."""
    _check_output(output, "scipy.ndimage.correlate")
    weights, origins = _nd_setup(g.ndim, weights, origin, axes, convolution=False)
    return _correlate_adjoint(g, weights, origins, mode)


def _correlate_weights_vjp(
    g, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.correlate")
    full, origins = _nd_setup(g.ndim, weights, origin, axes, convolution=False)
    return np.reshape(_correlate_weights(g, input, full.shape, origins, mode, cval), weights.shape)


defvjp_scipy(_MODULE, "correlate", _correlate_input_vjp, _correlate_weights_vjp)


def _correlate_input_jvp(
    t, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.correlate")
    return _scipy().correlate(t, weights, output, mode, 0.0, origin, axes=axes)


def _correlate_weights_jvp(
    t, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.correlate")
    return _scipy().correlate(input, t, output, mode, cval, origin, axes=axes)


defjvp_scipy(_MODULE, "correlate", _correlate_input_jvp, _correlate_weights_jvp)


def _convolve_input_vjp(
    g, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.convolve")
    weights, origins = _nd_setup(g.ndim, weights, origin, axes, convolution=True)
    return _correlate_adjoint(g, weights, origins, mode)


def _convolve_weights_vjp(
    g, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.convolve")
    full, origins = _nd_setup(g.ndim, weights, origin, axes, convolution=True)
    grad = _correlate_weights(g, input, full.shape, origins, mode, cval)
    return np.reshape(grad[(slice(None, None, -1),) * grad.ndim], weights.shape)


defvjp_scipy(_MODULE, "convolve", _convolve_input_vjp, _convolve_weights_vjp)


def _convolve_input_jvp(
    t, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.convolve")
    return _scipy().convolve(t, weights, output, mode, 0.0, origin, axes=axes)


def _convolve_weights_jvp(
    t, ans, input, weights, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.convolve")
    return _scipy().convolve(input, t, output, mode, cval, origin, axes=axes)


defjvp_scipy(_MODULE, "convolve", _convolve_input_jvp, _convolve_weights_jvp)


# --- separable filters: sequences of correlations along axes -----------------------------------
# Each ``_*_ops`` function lists the correlations SciPy's implementation applies, as
# ``(axis, weights, mode, origin)``, in order; the rule applies their adjoints in reverse.


def _adjoint(g, ops):
    for axis, weights, mode, origin in reversed(ops):
        g = _correlate1d_adjoint(g, weights, axis, mode, origin)
    return g


def _gaussian_weights(sigma, order, truncate, radius):
    lw = int(truncate * float(sigma) + 0.5) if radius is None else radius
    return _scipy("._filters")._gaussian_kernel1d(sigma, order, lw)[::-1]


def _gaussian_filter_ops(
    ndim, sigma, order=0, mode="reflect", truncate=4.0, radius=None, axes=None
):
    support = _scipy("._ni_support")
    axes = support._check_axes(axes, ndim)
    n = len(axes)
    orders, sigmas = support._normalize_sequence(order, n), support._normalize_sequence(sigma, n)
    modes, radii = support._normalize_sequence(mode, n), support._normalize_sequence(radius, n)
    return [
        (axes[i], _gaussian_weights(sigmas[i], orders[i], truncate, radii[i]), modes[i], 0)
        for i in range(n)
        if sigmas[i] > 1e-15
    ]


def _gaussian_filter1d_vjp(
    g,
    ans,
    input,
    sigma,
    axis=-1,
    order=0,
    output=None,
    mode="reflect",
    cval=0.0,
    truncate=4.0,
    *,
    radius=None,
):
    _check_output(output, "scipy.ndimage.gaussian_filter1d")
    weights = _gaussian_weights(sigma, order, truncate, radius)
    return _correlate1d_adjoint(g, weights, _axis(axis, g.ndim), mode, 0)


defvjp_scipy(
    _MODULE,
    "gaussian_filter1d",
    _gaussian_filter1d_vjp,
    _refuse("scipy.ndimage.gaussian_filter1d", "sigma"),
)

# Forward mode of the filters linear in their input but for ``cval`` (mode 'constant'): the
# filter of the tangent with cval 0. ``sigma`` (``zoom``, ``angle``, the affine matrix below)
# refuses in forward mode as in reverse: a tangent there is never silently dropped.


def _gaussian_filter1d_jvp(
    t,
    ans,
    input,
    sigma,
    axis=-1,
    order=0,
    output=None,
    mode="reflect",
    cval=0.0,
    truncate=4.0,
    *,
    radius=None,
):
    _check_output(output, "scipy.ndimage.gaussian_filter1d")
    return _scipy().gaussian_filter1d(
        t, sigma, axis, order, output, mode, 0.0, truncate, radius=radius
    )


defjvp_scipy(
    _MODULE,
    "gaussian_filter1d",
    _gaussian_filter1d_jvp,
    _refuse("scipy.ndimage.gaussian_filter1d", "sigma"),
)


def _gaussian_filter_vjp(
    g,
    ans,
    input,
    sigma,
    order=0,
    output=None,
    mode="reflect",
    cval=0.0,
    truncate=4.0,
    *,
    radius=None,
    axes=None,
):
    _check_output(output, "scipy.ndimage.gaussian_filter")
    return _adjoint(g, _gaussian_filter_ops(g.ndim, sigma, order, mode, truncate, radius, axes))


defvjp_scipy(
    _MODULE,
    "gaussian_filter",
    _gaussian_filter_vjp,
    _refuse("scipy.ndimage.gaussian_filter", "sigma"),
)


def _gaussian_filter_jvp(
    t,
    ans,
    input,
    sigma,
    order=0,
    output=None,
    mode="reflect",
    cval=0.0,
    truncate=4.0,
    *,
    radius=None,
    axes=None,
):
    _check_output(output, "scipy.ndimage.gaussian_filter")
    return _scipy().gaussian_filter(
        t, sigma, order, output, mode, 0.0, truncate, radius=radius, axes=axes
    )


defjvp_scipy(
    _MODULE,
    "gaussian_filter",
    _gaussian_filter_jvp,
    _refuse("scipy.ndimage.gaussian_filter", "sigma"),
)


def _uniform_filter1d_vjp(
    g, ans, input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.uniform_filter1d")
    weights = np.full(int(size), 1.0 / int(size))
    return _correlate1d_adjoint(g, weights, _axis(axis, g.ndim), mode, origin)


defvjp_scipy(_MODULE, "uniform_filter1d", _uniform_filter1d_vjp)


def _uniform_filter1d_jvp(
    t, ans, input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0
):
    _check_output(output, "scipy.ndimage.uniform_filter1d")
    return _scipy().uniform_filter1d(t, size, axis, output, mode, 0.0, origin)


defjvp_scipy(_MODULE, "uniform_filter1d", _uniform_filter1d_jvp)


def _uniform_filter_vjp(
    g, ans, input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.uniform_filter")
    support = _scipy("._ni_support")
    axes = support._check_axes(axes, g.ndim)
    n = len(axes)
    sizes, origins = support._normalize_sequence(size, n), support._normalize_sequence(origin, n)
    modes = support._normalize_sequence(mode, n)
    ops = [
        (axes[i], np.full(int(sizes[i]), 1.0 / int(sizes[i])), modes[i], origins[i])
        for i in range(n)
        if sizes[i] > 1
    ]
    return _adjoint(g, ops)


defvjp_scipy(_MODULE, "uniform_filter", _uniform_filter_vjp)


def _uniform_filter_jvp(
    t, ans, input, size=3, output=None, mode="reflect", cval=0.0, origin=0, *, axes=None
):
    _check_output(output, "scipy.ndimage.uniform_filter")
    return _scipy().uniform_filter(t, size, output, mode, 0.0, origin, axes=axes)


defjvp_scipy(_MODULE, "uniform_filter", _uniform_filter_jvp)


def _edge_ops(ndim, axis, mode, smooth):
    modes = _scipy("._ni_support")._normalize_sequence(mode, ndim)
    axis = _axis(axis, ndim)
    ops = [(axis, np.array([-1.0, 0.0, 1.0]), modes[axis], 0)]
    return ops + [(a, smooth, modes[a], 0) for a in range(ndim) if a != axis]


def _prewitt_vjp(g, ans, input, axis=-1, output=None, mode="reflect", cval=0.0):
    _check_output(output, "scipy.ndimage.prewitt")
    return _adjoint(g, _edge_ops(g.ndim, axis, mode, np.array([1.0, 1.0, 1.0])))


def _sobel_vjp(g, ans, input, axis=-1, output=None, mode="reflect", cval=0.0):
    _check_output(output, "scipy.ndimage.sobel")
    return _adjoint(g, _edge_ops(g.ndim, axis, mode, np.array([1.0, 2.0, 1.0])))


defvjp_scipy(_MODULE, "prewitt", _prewitt_vjp)
defvjp_scipy(_MODULE, "sobel", _sobel_vjp)


def _prewitt_jvp(t, ans, input, axis=-1, output=None, mode="reflect", cval=0.0):
    _check_output(output, "scipy.ndimage.prewitt")
    return _scipy().prewitt(t, axis, output, mode, 0.0)


def _sobel_jvp(t, ans, input, axis=-1, output=None, mode="reflect", cval=0.0):
    _check_output(output, "scipy.ndimage.sobel")
    return _scipy().sobel(t, axis, output, mode, 0.0)


defjvp_scipy(_MODULE, "prewitt", _prewitt_jvp)
defjvp_scipy(_MODULE, "sobel", _sobel_jvp)


def _laplace_vjp(g, ans, input, output=None, mode="reflect", cval=0.0, *, axes=None):
    """A sum of second differences along each axis: the sum of their adjoints."""
    _check_output(output, "scipy.ndimage.laplace")
    support = _scipy("._ni_support")
    axes = support._check_axes(axes, g.ndim)
    modes = support._normalize_sequence(mode, len(axes))
    weights = np.array([1.0, -2.0, 1.0])
    return sum(_correlate1d_adjoint(g, weights, a, m, 0) for a, m in zip(axes, modes, strict=True))


defvjp_scipy(_MODULE, "laplace", _laplace_vjp)


def _laplace_jvp(t, ans, input, output=None, mode="reflect", cval=0.0, *, axes=None):
    _check_output(output, "scipy.ndimage.laplace")
    return _scipy().laplace(t, output, mode, 0.0, axes=axes)


defjvp_scipy(_MODULE, "laplace", _laplace_jvp)


def _derivative_ops(ndim, sigma, axes, mode, derivative, kwargs):
    """For each axis of ``axes``: the ops of ``gaussian_filter`` differentiating along it."""
    support = _scipy("._ni_support")
    axes = support._check_axes(axes, ndim)
    modes = support._normalize_sequence(mode, len(axes))
    result = []
    for axis, m in zip(axes, modes, strict=True):
        order = [0] * ndim
        order[axis] = derivative
        truncate, radius = kwargs.get("truncate", 4.0), kwargs.get("radius")
        result.append(_gaussian_filter_ops(ndim, sigma, order, m, truncate, radius))
    return axes, modes, result


def _gaussian_laplace_vjp(
    g, ans, input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs
):
    _check_output(output, "scipy.ndimage.gaussian_laplace")
    support = _scipy("._ni_support")
    checked = support._check_axes(axes, g.ndim)
    sigmas = support._normalize_sequence(sigma, len(checked))
    if len(checked) < g.ndim:  # SciPy sets sigma = 0 (no filtering) on the other axes
        full = [0] * g.ndim
        for s, a in zip(sigmas, checked, strict=True):
            full[a] = s
        sigmas = full
    _, _, ops = _derivative_ops(g.ndim, sigmas, axes, mode, 2, kwargs)
    return sum(_adjoint(g, op) for op in ops)


defvjp_scipy(
    _MODULE,
    "gaussian_laplace",
    _gaussian_laplace_vjp,
    _refuse("scipy.ndimage.gaussian_laplace", "sigma"),
)


def _gaussian_laplace_jvp(
    t, ans, input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs
):
    _check_output(output, "scipy.ndimage.gaussian_laplace")
    return _scipy().gaussian_laplace(t, sigma, output, mode, 0.0, axes=axes, **kwargs)


defjvp_scipy(
    _MODULE,
    "gaussian_laplace",
    _gaussian_laplace_jvp,
    _refuse("scipy.ndimage.gaussian_laplace", "sigma"),
)


def _gaussian_gradient_magnitude_vjp(
    g, ans, input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs
):
    """``sqrt(sum_a d_a**2)``: each derivative's adjoint applied to ``g * d_a / ans``."""
    _check_output(output, "scipy.ndimage.gaussian_gradient_magnitude")
    axes, modes, ops = _derivative_ops(g.ndim, sigma, axes, mode, 1, kwargs)
    complex_input = np.iscomplexobj(ans)  # SciPy squares without conjugating: g * conj(f')
    magnitude = np.conj(ans) if complex_input else ans
    scale = np.where(ans == 0, 0.0, g / np.where(ans == 0, 1.0, magnitude))  # 0 at a zero gradient
    total = 0
    for axis, m, op in zip(axes, modes, ops, strict=True):
        order = [0] * g.ndim
        order[axis] = 1
        d = _scipy().gaussian_filter(input, sigma, order, mode=m, cval=cval, **kwargs)
        total = total + _adjoint(scale * (np.conj(d) if complex_input else d), op)
    return total


defvjp_scipy(
    _MODULE,
    "gaussian_gradient_magnitude",
    _gaussian_gradient_magnitude_vjp,
    _refuse("scipy.ndimage.gaussian_gradient_magnitude", "sigma"),
)


def _gaussian_gradient_magnitude_jvp(
    t, ans, input, sigma, output=None, mode="reflect", cval=0.0, *, axes=None, **kwargs
):
    """Not linear: ``sum_a d_a * D_a(t) / ans``, ``D_a`` the derivative filter along ``a`` (with
    cval 0), 0 where the magnitude is 0 (as the VJP)."""
    _check_output(output, "scipy.ndimage.gaussian_gradient_magnitude")
    gaussian_filter = _scipy().gaussian_filter
    axes = _scipy("._ni_support")._check_axes(axes, input.ndim)
    modes = _scipy("._ni_support")._normalize_sequence(mode, len(axes))
    total = 0
    for axis, m in zip(axes, modes, strict=True):
        order = [0] * input.ndim
        order[axis] = 1
        d = gaussian_filter(input, sigma, order, mode=m, cval=cval, **kwargs)
        total = total + d * gaussian_filter(t, sigma, order, mode=m, cval=0.0, **kwargs)
    return np.where(ans == 0, 0.0, total / np.where(ans == 0, 1.0, ans))


defjvp_scipy(
    _MODULE,
    "gaussian_gradient_magnitude",
    _gaussian_gradient_magnitude_jvp,
    _refuse("scipy.ndimage.gaussian_gradient_magnitude", "sigma"),
)


# --- rank filters: the cotangent goes to the selected element ------------------------------------


def _footprint(ndim, size, footprint, axes):
    support = _scipy("._ni_support")
    axes = support._check_axes(axes, ndim)
    if footprint is None:
        sizes = support._normalize_sequence(size, len(axes))
        footprint = np.ones(tuple(int(s) for s in sizes), dtype=bool)
    else:
        footprint = np.asarray(footprint, dtype=bool)  # a mask given by the caller: no gradient
    if len(axes) < ndim:
        footprint = np.expand_dims(footprint, tuple(a for a in range(ndim) if a not in axes))
    return axes, footprint


def _per_axis(value, axes, ndim, fill):
    values = _scipy("._ni_support")._normalize_sequence(value, len(axes))
    full = [fill] * ndim
    for v, a in zip(values, axes, strict=True):
        full[a] = v
    return full


def _selected_vjp(g, ans, input, footprint, origins, modes, cval):
    """Send ``g`` to the first window element (in C order of the footprint) equal to ``ans``."""
    shape, kshape = g.shape, footprint.shape
    xp = input
    for axis, (k, o, m) in enumerate(zip(kshape, origins, modes, strict=True)):
        xp = _extend(xp, axis, k // 2 + o, k - 1 - k // 2 - o, m, cval)
    taken = np.zeros(shape, dtype=bool)
    gp = np.zeros(xp.shape, dtype=g.dtype)
    for offset in zip(*np.nonzero(footprint), strict=True):
        window = tuple(slice(j, j + n) for j, n in zip(offset, shape, strict=True))
        hit = (xp[window] == ans) & ~taken
        taken = taken | hit
        pad = [(j, p - j - n) for j, n, p in zip(offset, shape, xp.shape, strict=True)]
        gp = gp + np.pad(np.where(hit, g, 0.0), pad)
    for axis, (k, o, m) in enumerate(zip(kshape, origins, modes, strict=True)):
        gp = _fold(gp, axis, k // 2 + o, shape[axis], m)
    return gp


def _rank_vjp(g, ans, input, size, footprint, mode, cval, origin, axes):
    axes, footprint = _footprint(g.ndim, size, footprint, axes)
    origins = _per_axis(origin, axes, g.ndim, 0)
    modes = _per_axis(mode, axes, g.ndim, "constant")
    return _selected_vjp(g, ans, input, footprint, origins, modes, cval)


def _selected_jvp(t, ans, input, footprint, origins, modes, cval):
    """The tangent of the element the VJP sends the cotangent to: the first window element (in C
    order of the footprint) equal to ``ans``; 0 where that is a ``cval`` sample."""
    shape, kshape = ans.shape, footprint.shape
    xp, tp = input, t
    for axis, (k, o, m) in enumerate(zip(kshape, origins, modes, strict=True)):
        before, after = k // 2 + o, k - 1 - k // 2 - o
        xp = _extend(xp, axis, before, after, m, cval)
        tp = _extend(tp, axis, before, after, m, 0.0)
    taken = np.zeros(shape, dtype=bool)
    total = np.zeros(shape, dtype=t.dtype)
    for offset in zip(*np.nonzero(footprint), strict=True):
        window = tuple(slice(j, j + n) for j, n in zip(offset, shape, strict=True))
        hit = (xp[window] == ans) & ~taken
        taken = taken | hit
        total = total + np.where(hit, tp[window], 0.0)
    return total


def _rank_jvp(t, ans, input, size, footprint, mode, cval, origin, axes):
    axes, footprint = _footprint(t.ndim, size, footprint, axes)
    origins = _per_axis(origin, axes, t.ndim, 0)
    modes = _per_axis(mode, axes, t.ndim, "constant")
    return _selected_jvp(t, ans, input, footprint, origins, modes, cval)


def _min_max_vjp(
    g,
    ans,
    input,
    size=None,
    footprint=None,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_vjp(g, ans, input, size, footprint, mode, cval, origin, axes)


defvjp_scipy(_MODULE, "minimum_filter", _min_max_vjp)
defvjp_scipy(_MODULE, "maximum_filter", _min_max_vjp)
defvjp_scipy(_MODULE, "median_filter", _min_max_vjp)


def _min_max_jvp(
    t,
    ans,
    input,
    size=None,
    footprint=None,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_jvp(t, ans, input, size, footprint, mode, cval, origin, axes)


defjvp_scipy(_MODULE, "minimum_filter", _min_max_jvp)
defjvp_scipy(_MODULE, "maximum_filter", _min_max_jvp)
defjvp_scipy(_MODULE, "median_filter", _min_max_jvp)


def _min_max_1d_vjp(g, ans, input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_vjp(g, ans, input, size, None, mode, cval, origin, (_axis(axis, g.ndim),))


defvjp_scipy(_MODULE, "minimum_filter1d", _min_max_1d_vjp)
defvjp_scipy(_MODULE, "maximum_filter1d", _min_max_1d_vjp)


def _min_max_1d_jvp(t, ans, input, size, axis=-1, output=None, mode="reflect", cval=0.0, origin=0):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_jvp(t, ans, input, size, None, mode, cval, origin, (_axis(axis, t.ndim),))


defjvp_scipy(_MODULE, "minimum_filter1d", _min_max_1d_jvp)
defjvp_scipy(_MODULE, "maximum_filter1d", _min_max_1d_jvp)


def _rank_filter_vjp(
    g,
    ans,
    input,
    rank,
    size=None,
    footprint=None,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_vjp(g, ans, input, size, footprint, mode, cval, origin, axes)


defvjp_scipy(_MODULE, "rank_filter", _rank_filter_vjp)


def _rank_filter_jvp(
    t,
    ans,
    input,
    rank,
    size=None,
    footprint=None,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_jvp(t, ans, input, size, footprint, mode, cval, origin, axes)


defjvp_scipy(_MODULE, "rank_filter", _rank_filter_jvp)


def _percentile_filter_vjp(
    g,
    ans,
    input,
    percentile,
    size=None,
    footprint=None,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_vjp(g, ans, input, size, footprint, mode, cval, origin, axes)


defvjp_scipy(_MODULE, "percentile_filter", _percentile_filter_vjp)


def _percentile_filter_jvp(
    t,
    ans,
    input,
    percentile,
    size=None,
    footprint=None,
    output=None,
    mode="reflect",
    cval=0.0,
    origin=0,
    *,
    axes=None,
):
    _check_output(output, "scipy.ndimage rank filter")
    return _rank_jvp(t, ans, input, size, footprint, mode, cval, origin, axes)


defjvp_scipy(_MODULE, "percentile_filter", _percentile_filter_jvp)


# --- interpolation at order 0 and 1: map_coordinates and the transforms built like it ----------
# Along each axis a coordinate ``c`` is first mapped into the input's extent as the mode says
# (``p``), then the output is ``(1 - f) * x[i] + f * x[i + 1]`` with ``i = floor(p)``,
# ``f = p - i`` (order 1) or ``x[round(p)]`` (order 0), the indices extended like the mode;
# several axes take the tensor product. 'constant' gives ``cval`` for a coordinate outside
# ``[0, n - 1]``; 'grid-constant' interpolates towards ``cval`` beyond the edges. The gradient
# in the coordinates is that of this piecewise-linear function; at a kink (an integer
# coordinate, an edge of the extent) it is the one-sided derivative from above, and order 0 has
# zero gradient in the coordinates.

_INTERPOLATION_MODES = (
    "nearest", "reflect", "grid-mirror", "mirror", "grid-wrap", "grid-constant", "constant",
)  # fmt: skip
# Modes whose spline prefilter (order >= 2) SciPy starts from approximate initial values (its
# matrix is neither symmetric nor of the mirror form below): its transpose is formed explicitly.
_APPROXIMATE_PREFILTER = ("nearest", "reflect", "grid-mirror")


def _check_interpolation(name, order, mode, output, prefilter=True):
    _check_output(output, name)
    if mode not in _INTERPOLATION_MODES:
        raise not_differentiable(name, f"mode={mode!r} has no rule yet")


def _coordinate_map(c, n, mode):
    """``c`` mapped into the input's extent as SciPy's ``map_coordinate`` maps it, and the
    derivative of the map (a constant: 1, -1 or 0). The map is made of recorded NumPy calls."""
    one = np.ones(np.shape(c))
    if mode in ("constant", "grid-constant"):
        return c, one  # samples outside read cval
    if mode == "nearest":
        return np.clip(c, 0, n - 1), ((c >= 0) & (c <= n - 1)) * one
    if n == 1:
        return c * 0, 0 * one
    low, high = c < 0, c > n - 1
    if mode == "mirror":
        period = 2 * n - 2
        t = period * np.trunc(-c / period) + c
        low_p, low_s = np.where(t <= 1 - n, t + period, -t), np.where(t <= 1 - n, 1.0, -1.0)
        t = c - period * np.trunc(c / period)
        high_p, high_s = np.where(t >= n, period - t, t), np.where(t >= n, -1.0, 1.0)
    elif mode in ("reflect", "grid-mirror"):
        period = 2 * n
        t = np.where(c < -period, period * np.trunc(-c / period) + c, c)
        near_zero = t > -1e-15  # SciPy's guard against -0.0 - 1 == -1
        low_p = np.where(t < -n, t + period, np.where(near_zero, 1e-15, -t) - 1)
        low_s = np.where(t < -n, 1.0, np.where(near_zero, 0.0, -1.0))
        t = c - period * np.trunc(c / period)
        high_p, high_s = np.where(t >= n, period - t - 1, t), np.where(t >= n, -1.0, 1.0)
    elif mode == "grid-wrap":
        low_p, low_s = c + n * (np.trunc((-1 - c) / n) + 1), one
        high_p, high_s = c - n * np.trunc(c / n), one
    else:
        raise ValueError(f"mode={mode!r}")
    p = np.where(low, low_p, np.where(high, high_p, c))
    return p, np.where(low, low_s, np.where(high, high_s, 1.0))


def _map_index(i, n, mode):
    """Integer sample positions extended like the mode, and where they are real samples."""
    if mode in ("grid-constant", "constant"):
        return np.clip(i, 0, n - 1), (i >= 0) & (i < n)
    if mode in ("reflect", "grid-mirror"):
        i = np.mod(i, 2 * n)
        return np.where(i >= n, 2 * n - 1 - i, i), True
    if mode == "mirror":
        if n == 1:
            return i * 0, True
        i = np.mod(i, 2 * n - 2)
        return np.where(i >= n, 2 * n - 2 - i, i), True
    if mode == "grid-wrap":
        return np.mod(i, n), True
    return np.clip(i, 0, n - 1), True


def _sample_axis(c, n, mode, order):
    """The two samples along one axis: ``[(index, weight, valid), ...]``, and ``dp/dc``."""
    p, slope = _coordinate_map(c, n, mode)
    if order == 0:  # SciPy rounds the mapped coordinate half up
        i, valid = _map_index(np.floor(p + 0.5).astype(np.intp), n, mode)
        return [(i, p * 0 + 1, valid), (i, p * 0, valid)], slope * 0
    base = np.floor(p)
    i0 = base.astype(np.intp)
    fraction = p - base
    samples = [(*_map_index(i0, n, mode), 1 - fraction), (*_map_index(i0 + 1, n, mode), fraction)]
    return [(i, w, valid) for i, valid, w in samples], slope


def _corners(shape, coordinates, mode, order):
    """For each corner: which bits, its indices, where it counts (inside the extent and a real
    sample, not ``cval``), where it is a real sample, and its weight along each axis."""
    ndim = len(shape)
    per_axis = [_sample_axis(coordinates[a], shape[a], mode, order)[0] for a in range(ndim)]
    inside = True
    if mode == "constant":  # no interpolation beyond the edges: the whole output is cval there
        for a in range(ndim):
            inside = inside & (coordinates[a] >= 0) & (coordinates[a] <= shape[a] - 1)
    for bits in itertools.product((0, 1), repeat=ndim):
        chosen = [per_axis[a][b] for a, b in enumerate(bits)]
        index = tuple(i for i, _, _ in chosen)
        valid = True
        for _, _, v in chosen:
            valid = valid & v
        weights = [w for _, w, _ in chosen]
        yield bits, index, valid & inside, valid, weights


def _product(factors):
    result = 1
    for f in factors:
        result = result * f
    return result


def _sample_input_vjp(g, shape, coordinates, mode, order, prefilter=True):
    if order > 1:
        return _spline_input_vjp(g, shape, coordinates, mode, order, prefilter)
    total = 0
    for _, index, valid, _, weights in _corners(shape, coordinates, mode, order):
        total = total + scatter_add(np.where(valid, g * _product(weights), 0.0), index, shape)
    return total


def _sample_coordinates_vjp(g, input, coordinates, mode, cval, order, prefilter=True):
    """``g`` times the derivative of the interpolant along each axis, stacked."""
    if order > 1:
        return _spline_coordinates_vjp(g, input, coordinates, mode, cval, order, prefilter)
    if order == 0:
        return np.zeros(coordinates.shape, dtype=g.dtype)
    rows = _sample_slopes(input, coordinates, mode, cval, order)
    if any(np.iscomplexobj(r) for r in rows):  # a complex input: g * conj(f'), real coordinates
        return np.stack([np.real(g * np.conj(r)) for r in rows])
    return np.stack([g * r for r in rows])


def _sample_coordinates_jvp(t, input, coordinates, mode, cval, order, prefilter=True):
    """The derivative of the interpolant along each axis times the coordinates' tangent, summed
    over axes; ``None`` (zero) at order 0."""
    if order == 0:
        return None
    if order > 1:
        rows = _spline_slopes(input, coordinates, mode, cval, order, prefilter)
    else:
        rows = _sample_slopes(input, coordinates, mode, cval, order)
    return sum(r * t[a] for a, r in enumerate(rows))


def _sample_slopes(input, coordinates, mode, cval, order):
    """At order 1: the derivative of the interpolant in each coordinate (a list over axes)."""
    shape = input.shape
    slopes = [_sample_axis(coordinates[a], n, mode, order)[1] for a, n in enumerate(shape)]
    rows = [0] * len(shape)
    inside = True
    if mode == "constant":  # cval, a constant, outside the extent
        for a in range(len(shape)):
            inside = inside & (coordinates[a] >= 0) & (coordinates[a] <= shape[a] - 1)
    for bits, index, _, sample, weights in _corners(shape, coordinates, mode, order):
        value = np.where(sample, input[index], cval)
        for a in range(len(shape)):
            sign = 1.0 if bits[a] else -1.0
            others = _product(w for b, w in enumerate(weights) if b != a)
            rows[a] = rows[a] + sign * others * value
    return [inside * s * r for s, r in zip(slopes, rows, strict=True)]


# --- interpolation at orders 2 to 5: a B-spline of prefiltered coefficients -------------------
# The output is linear in the input: ``E P x``. ``P`` is the prefilter (``spline_filter`` with the
# mode's initial values; for 'grid-constant' first a padding of 12 samples of ``cval``, whose
# transpose crops) and ``E`` the evaluation: along each axis ``order + 1`` coefficients around
# the mapped coordinate ``p`` (SciPy's ``map_coordinate``; 'nearest' evaluates at ``c`` itself),
# extended like the mode ('constant' reads mirrored coefficients inside the extent and gives
# ``cval`` outside it), weighted by the centred B-spline ``beta(p - index)``. So the input gets
# ``P.T E.T g``: ``E.T`` adds each cotangent onto its coefficients (``scatter_add``), and ``P.T``
# is the prefilter itself up to a diagonal: its recursion is the exact inverse of the B-spline's
# sampling matrix ``B``, which is symmetric for 'grid-wrap' and, for the mirror initial values
# ('mirror', 'constant', 'grid-constant'), satisfies ``B.T = D B D^-1`` with ``D`` 1/2 at the two
# ends and 1 inside (``2 D B`` is the symmetric circulant restricted to mirrored signals), so
# ``P.T = D P D^-1``. The coordinates get ``g`` times the spline's slope, ``beta' = beta_{k-1}(y +
# 1/2) - beta_{k-1}(y - 1/2)``. Every piece is a recorded NumPy or SciPy call: it differentiates
# again. A spline of order k has k - 1 continuous derivatives, so the slope is continuous; at a
# knot the second derivative of an order-2 spline is the one of the taps SciPy picks there.

_MIRROR_INITIAL_VALUES = ("mirror", "constant", "grid-constant")
# SciPy pads by 12 samples before prefiltering: 'grid-constant' with ``cval`` (its transpose
# crops), 'nearest' with the edge values (part of its explicit matrix, below).
_PREPAD = 12
_PREPAD_MODES = ("grid-constant", "nearest")


def _bspline(y, order):
    """The centred B-spline of ``order`` at ``y``, as a sum of truncated powers."""
    total = 0
    for i in range(order + 2):
        term = np.maximum(y + (order + 1) / 2 - i, 0.0) ** order
        total = total + (-1) ** i * math.comb(order + 1, i) * term
    return total / math.factorial(order)


def _bspline_slope(y, order):
    return _bspline(y + 0.5, order - 1) - _bspline(y - 0.5, order - 1)


def _spline_taps(c, n, mode, order):
    """Along one axis: ``[(index, weight, d weight / dc, valid)]`` for its ``order + 1`` taps."""
    if mode == "nearest":  # the coefficients are extended, the coordinate is not mapped
        p, slope = c, np.ones(np.shape(c))
    else:
        p, slope = _coordinate_map(c, n, mode)
    base = np.floor(p) if order % 2 else np.floor(p + 0.5)
    start = base.astype(np.intp) - order // 2
    index_mode = "mirror" if mode == "constant" else mode
    taps = []
    for j in range(order + 1):
        y = p - (start + j)
        index, valid = _map_index(start + j, n, index_mode)
        taps.append((index, _bspline(y, order), slope * _bspline_slope(y, order), valid))
    return taps


def _spline_terms(shape, coordinates, mode, order):
    """For each of the ``(order + 1) ** ndim`` taps: indices, where it counts, weights, slopes."""
    ndim = len(shape)
    per_axis = [_spline_taps(coordinates[a], shape[a], mode, order) for a in range(ndim)]
    inside = True
    if mode == "constant":  # cval wherever a coordinate leaves the extent
        for a in range(ndim):
            inside = inside & (coordinates[a] >= 0) & (coordinates[a] <= shape[a] - 1)
    for combination in itertools.product(range(order + 1), repeat=ndim):
        taps = [per_axis[a][j] for a, j in enumerate(combination)]
        valid = inside
        for tap in taps:
            valid = valid & tap[3]
        yield tuple(t[0] for t in taps), valid, [t[1] for t in taps], [t[2] for t in taps]


def _prefilter_padding(order, mode, prefilter):
    return _PREPAD if prefilter and mode in _PREPAD_MODES else 0


def _spline_coefficients(input, order, mode, cval, prefilter):
    """What SciPy evaluates: the input, padded and prefiltered as SciPy does."""
    if not prefilter:
        return input
    pad = _prefilter_padding(order, mode, prefilter)
    if pad and mode == "nearest":
        input = np.pad(input, pad, mode="edge")
    elif pad:
        input = np.pad(input, pad, mode="constant", constant_values=cval)
    return _scipy().spline_filter(input, order, mode=mode)


@functools.lru_cache(maxsize=32)
def _prefilter_matrix(n, order, mode, pad):
    """The matrix ``M`` of SciPy's prefilter along one axis of length ``n`` (after padding by
    ``pad`` edge samples, for 'nearest'): coefficients = ``M @ x``. Formed by filtering the
    identity with SciPy's own ``spline_filter1d``, so it is exact whatever initial values SciPy
    uses; it costs ``n * (n + 2 pad)`` numbers, kept for the last 32 shapes."""
    eye = np.eye(n)
    if pad:
        eye = np.pad(eye, ((pad, pad), (0, 0)), mode="edge")
    m = _scipy().spline_filter1d(eye, order, axis=0, mode=mode)
    m.flags.writeable = False
    return m


def _matrix_transpose_along(m, g, axis):
    """``m.T`` applied to ``g`` along ``axis``."""
    return np.moveaxis(np.tensordot(m.T, np.moveaxis(g, axis, 0), axes=1), 0, axis)


def _spline_filter1d_transpose(g, order, axis, mode, pad=0):
    """``P.T g`` along ``axis``: ``D P D^-1 g`` or ``P g`` for the exact prefilters, the explicit
    matrix's transpose for the approximate ones (with 'nearest', the padding's too: ``g`` is
    ``2 pad`` longer than the result along ``axis``)."""
    if mode in _APPROXIMATE_PREFILTER or mode == "wrap":
        m = _prefilter_matrix(g.shape[axis] - 2 * pad, order, mode, pad)
        return _matrix_transpose_along(m, g, axis)
    n = g.shape[axis]
    if mode not in _MIRROR_INITIAL_VALUES or n == 1:
        return _scipy().spline_filter1d(g, order, axis=axis, mode=mode)
    d = np.ones(n)
    d[0] = d[-1] = 0.5
    d = np.reshape(d, (-1,) + (1,) * (g.ndim - axis - 1))
    return d * _scipy().spline_filter1d(g / d, order, axis=axis, mode=mode)


def _spline_input_vjp(g, shape, coordinates, mode, order, prefilter):
    """``P.T E.T g``: the cotangent added onto the coefficients, then the prefilter's transpose."""
    pad = _prefilter_padding(order, mode, prefilter)
    padded = tuple(n + 2 * pad for n in shape)
    coordinates = coordinates + pad if pad else coordinates
    total = 0
    for index, valid, weights, _ in _spline_terms(padded, coordinates, mode, order):
        total = total + scatter_add(np.where(valid, g * _product(weights), 0.0), index, padded)
    if prefilter and mode == "nearest":  # the edge padding is part of the explicit matrix
        for axis in range(len(shape)):
            total = _spline_filter1d_transpose(total, order, axis, mode, pad)
        return total
    if prefilter:
        for axis in range(len(shape)):
            total = _spline_filter1d_transpose(total, order, axis, mode)
    if pad:
        total = total[tuple(slice(pad, pad + n) for n in shape)]
    return total


def _spline_coordinates_vjp(g, input, coordinates, mode, cval, order, prefilter):
    """``g`` times the spline's slope along each axis, stacked."""
    rows = _spline_slopes(input, coordinates, mode, cval, order, prefilter)
    rows = [g * np.conj(r) if np.iscomplexobj(r) else g * r for r in rows]
    return np.stack([np.real(r) for r in rows])


def _spline_slopes(input, coordinates, mode, cval, order, prefilter):
    """The spline's slope in each coordinate (a list over axes)."""
    coefficients = _spline_coefficients(input, order, mode, cval, prefilter)
    pad = _prefilter_padding(order, mode, prefilter)
    coordinates = coordinates + pad if pad else coordinates
    rows = [0] * input.ndim
    terms = _spline_terms(coefficients.shape, coordinates, mode, order)
    for index, valid, weights, slopes in terms:
        value = np.where(valid, coefficients[index], 0.0)
        for a in range(input.ndim):
            others = _product(w for b, w in enumerate(weights) if b != a)
            rows[a] = rows[a] + value * slopes[a] * others
    return rows


def _spline_filter1d_vjp(g, ans, input, order=3, axis=-1, output=np.float64, mode="mirror"):
    """The transpose of the recursive prefilter (see above); orders 0 and 1 copy the input."""
    _check_output(output, "scipy.ndimage.spline_filter1d")
    if order < 2:
        return g
    return _spline_filter1d_transpose(g, order, _axis(axis, g.ndim), mode)


def _spline_filter_vjp(g, ans, input, order=3, output=np.float64, mode="mirror"):
    """The prefilter along every axis: the transposes, axis by axis."""
    _check_output(output, "scipy.ndimage.spline_filter")
    for axis in range(g.ndim):
        g = _spline_filter1d_transpose(g, order, axis, mode)
    return g


defvjp_scipy(_MODULE, "spline_filter1d", _spline_filter1d_vjp)
defvjp_scipy(_MODULE, "spline_filter", _spline_filter_vjp)
# Linear in the input (no constant: 'grid-constant' prefilters without padding here).
deflinear_scipy(_MODULE, "spline_filter1d", "spline_filter")


def _map_coordinates_input_vjp(
    g, ans, input, coordinates, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    """Each output's cotangent, split over its 2**ndim neighbours by the interpolation weights."""
    _check_interpolation("scipy.ndimage.map_coordinates", order, mode, output, prefilter)
    return _sample_input_vjp(g, input.shape, coordinates, mode, order, prefilter)


def _map_coordinates_coordinates_vjp(
    g, ans, input, coordinates, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    _check_interpolation("scipy.ndimage.map_coordinates", order, mode, output, prefilter)
    return _sample_coordinates_vjp(g, input, coordinates, mode, cval, order, prefilter)


# SciPy reads both as array_like: a list (of numbers, or holding GradArrays) is made one array
# before the call is recorded (``Primitive.arrays``)
defvjp_scipy(
    _MODULE,
    "map_coordinates",
    _map_coordinates_input_vjp,
    _map_coordinates_coordinates_vjp,
    arrays=("input", "coordinates"),
)

# Forward mode of the interpolations: linear in the input but for ``cval`` ('constant',
# 'grid-constant'), so the input's tangent is interpolated with cval 0; the coordinates' tangent
# is weighted by the interpolant's slopes, the ones the VJP uses.


def _map_coordinates_input_jvp(
    t, ans, input, coordinates, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    _check_output(output, "scipy.ndimage.map_coordinates")
    return _scipy().map_coordinates(t, coordinates, output, order, mode, 0.0, prefilter)


def _map_coordinates_coordinates_jvp(
    t, ans, input, coordinates, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    _check_interpolation("scipy.ndimage.map_coordinates", order, mode, output, prefilter)
    return _sample_coordinates_jvp(t, input, coordinates, mode, cval, order, prefilter)


defjvp_scipy(
    _MODULE, "map_coordinates", _map_coordinates_input_jvp, _map_coordinates_coordinates_jvp
)


def _grid(shape):
    return np.indices(shape, dtype=float)


def _shift_input_vjp(
    g, ans, input, shift, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    """``shift`` samples the input at ``o - shift``: map_coordinates' rule at those points."""
    _check_interpolation("scipy.ndimage.shift", order, mode, output, prefilter)
    shifts = _scipy("._ni_support")._normalize_sequence(shift, g.ndim)
    coordinates = np.stack([_grid(g.shape)[a] - shifts[a] for a in range(g.ndim)])
    return _sample_input_vjp(g, input.shape, coordinates, mode, order, prefilter)


def _shift_shift_vjp(
    g, ans, input, shift, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    _check_interpolation("scipy.ndimage.shift", order, mode, output, prefilter)
    grid = _grid(g.shape)
    if np.ndim(shift) == 0:
        coordinates = grid - shift
    else:
        coordinates = grid - np.reshape(shift, (-1,) + (1,) * g.ndim)
    gc = _sample_coordinates_vjp(g, input, coordinates, mode, cval, order, prefilter)
    total = -np.sum(gc, axis=tuple(range(1, gc.ndim)))
    return np.sum(total) if np.ndim(shift) == 0 else np.reshape(total, np.shape(shift))


defvjp_scipy(_MODULE, "shift", _shift_input_vjp, _shift_shift_vjp)


def _shift_input_jvp(
    t, ans, input, shift, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    _check_output(output, "scipy.ndimage.shift")
    return _scipy().shift(t, shift, output, order, mode, 0.0, prefilter)


def _shift_shift_jvp(
    t, ans, input, shift, output=None, order=3, mode="constant", cval=0.0, prefilter=True
):
    """The coordinates are ``grid - shift``: their tangent is ``-t`` along each axis."""
    _check_interpolation("scipy.ndimage.shift", order, mode, output, prefilter)
    grid = _grid(input.shape)
    if np.ndim(shift) == 0:
        coordinates, tc = grid - shift, -np.broadcast_to(t, (input.ndim,))
    else:
        coordinates, tc = grid - np.reshape(shift, (-1,) + (1,) * input.ndim), -np.reshape(t, -1)
    return _sample_coordinates_jvp(tc, input, coordinates, mode, cval, order, prefilter)


defjvp_scipy(_MODULE, "shift", _shift_input_jvp, _shift_shift_jvp)


def _zoom_vjp(
    g,
    ans,
    input,
    zoom,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
    *,
    grid_mode=False,
):
    """Output sample ``o`` reads the input at ``o * (n_in - 1) / (n_out - 1)`` (or the grid
    form ``(o + 0.5) * n_in / n_out - 0.5`` with ``grid_mode``)."""
    zooms = _scipy("._ni_support")._normalize_sequence(zoom, input.ndim)
    if all(z == 1 for z in zooms) and prefilter:  # SciPy returns a copy of the input
        return g
    _check_interpolation("scipy.ndimage.zoom", order, mode, output, prefilter)
    grid = _grid(g.shape)
    rows = []
    for a, (n_in, n_out) in enumerate(zip(input.shape, g.shape, strict=True)):
        if grid_mode:
            rows.append((grid[a] + 0.5) * (n_in / n_out) - 0.5)
        else:
            rows.append(grid[a] * ((n_in - 1) / (n_out - 1) if n_out > 1 else 1.0))
    return _sample_input_vjp(g, input.shape, np.stack(rows), mode, order, prefilter)


defvjp_scipy(_MODULE, "zoom", _zoom_vjp, _refuse("scipy.ndimage.zoom", "zoom"))


def _zoom_jvp(
    t,
    ans,
    input,
    zoom,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
    *,
    grid_mode=False,
):
    _check_output(output, "scipy.ndimage.zoom")
    return _scipy().zoom(t, zoom, output, order, mode, 0.0, prefilter, grid_mode=grid_mode)


defjvp_scipy(_MODULE, "zoom", _zoom_jvp, _refuse("scipy.ndimage.zoom", "zoom"))


def _affine_coordinates(out_shape, ndim, matrix, offset):
    matrix = np.asarray(matrix, dtype=float)  # the transform is a constant here
    if matrix.ndim == 2 and matrix.shape[1] == ndim + 1 and matrix.shape[0] in (ndim, ndim + 1):
        offset, matrix = matrix[:ndim, ndim], matrix[:ndim, :ndim]
    offset = np.asarray(_scipy("._ni_support")._normalize_sequence(offset, ndim), dtype=float)
    grid = _grid(out_shape)
    if matrix.ndim == 1:
        return grid * matrix[:, None].reshape((-1,) + (1,) * len(out_shape)) + offset.reshape(
            (-1,) + (1,) * len(out_shape)
        )
    return np.tensordot(matrix, grid, axes=1) + offset.reshape((-1,) + (1,) * len(out_shape))


def _affine_transform_vjp(
    g,
    ans,
    input,
    matrix,
    offset=0.0,
    output_shape=None,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
):
    """The input is sampled at ``matrix @ o + offset``: map_coordinates' rule there."""
    _check_interpolation("scipy.ndimage.affine_transform", order, mode, output, prefilter)
    coordinates = _affine_coordinates(g.shape, input.ndim, matrix, offset)
    return _sample_input_vjp(g, input.shape, coordinates, mode, order, prefilter)


defvjp_scipy(
    _MODULE,
    "affine_transform",
    _affine_transform_vjp,
    _refuse("scipy.ndimage.affine_transform", "the matrix"),
    _refuse("scipy.ndimage.affine_transform", "the offset"),
)


def _affine_transform_jvp(
    t,
    ans,
    input,
    matrix,
    offset=0.0,
    output_shape=None,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
):
    _check_output(output, "scipy.ndimage.affine_transform")
    return _scipy().affine_transform(
        t, matrix, offset, output_shape, output, order, mode, 0.0, prefilter
    )


defjvp_scipy(
    _MODULE,
    "affine_transform",
    _affine_transform_jvp,
    _refuse("scipy.ndimage.affine_transform", "the matrix"),
    _refuse("scipy.ndimage.affine_transform", "the offset"),
)


def _rotate_vjp(
    g,
    ans,
    input,
    angle,
    axes=(1, 0),
    reshape=True,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
):
    """SciPy's rotation as one affine map over all axes (the identity off the rotation plane)."""
    _check_interpolation("scipy.ndimage.rotate", order, mode, output, prefilter)
    special = sys.modules["scipy.special"]
    ndim = input.ndim
    axes = sorted(a + ndim if a < 0 else a for a in axes)
    c, s = special.cosdg(angle), special.sindg(angle)
    rotation = np.array([[c, s], [-s, c]])
    in_plane = np.array([input.shape[a] for a in axes])
    out_plane = np.array([g.shape[a] for a in axes])
    offset_plane = (in_plane - 1) / 2 - rotation @ ((out_plane - 1) / 2)
    matrix, offset = np.eye(ndim), np.zeros(ndim)
    matrix[np.ix_(axes, axes)] = rotation
    offset[axes] = offset_plane
    coordinates = _affine_coordinates(g.shape, ndim, matrix, offset)
    return _sample_input_vjp(g, input.shape, coordinates, mode, order, prefilter)


defvjp_scipy(_MODULE, "rotate", _rotate_vjp, _refuse("scipy.ndimage.rotate", "angle"))


def _rotate_jvp(
    t,
    ans,
    input,
    angle,
    axes=(1, 0),
    reshape=True,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
):
    _check_output(output, "scipy.ndimage.rotate")
    return _scipy().rotate(t, angle, axes, reshape, output, order, mode, 0.0, prefilter)


defjvp_scipy(_MODULE, "rotate", _rotate_jvp, _refuse("scipy.ndimage.rotate", "angle"))


def _geometric_coordinates(mapping, out_shape, extra_arguments, extra_keywords):
    """The input coordinates ``mapping`` gives each output index (one call per output sample,
    as SciPy makes them)."""
    keywords = extra_keywords or {}
    rows = [mapping(index, *extra_arguments, **keywords) for index in np.ndindex(*out_shape)]
    return np.reshape(np.swapaxes(np.array(rows, dtype=float), 0, 1), (-1, *out_shape))


def _geometric_transform_vjp(
    g,
    ans,
    input,
    mapping,
    output_shape=None,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
    extra_arguments=(),
    extra_keywords=None,
):
    """The input is sampled where ``mapping`` sends each output index: map_coordinates' rule."""
    name = "scipy.ndimage.geometric_transform"
    _check_interpolation(name, order, mode, output, prefilter)
    coordinates = _geometric_coordinates(mapping, g.shape, extra_arguments, extra_keywords)
    return _sample_input_vjp(g, input.shape, coordinates, mode, order, prefilter)


def _geometric_transform_jvp(
    t,
    ans,
    input,
    mapping,
    output_shape=None,
    output=None,
    order=3,
    mode="constant",
    cval=0.0,
    prefilter=True,
    extra_arguments=(),
    extra_keywords=None,
):
    """The transform of the tangent, with cval 0 (``mapping`` is guarded already)."""
    _check_output(output, "scipy.ndimage.geometric_transform")
    return _scipy().geometric_transform(
        t,
        mapping,
        output_shape,
        output,
        order,
        mode,
        0.0,
        prefilter,
        extra_arguments,
        extra_keywords,
    )


def _make_geometric_transform(original):
    """A rule in the input; ``mapping`` is guarded, since no gradient flows through it."""
    name = "scipy.ndimage.geometric_transform"
    primitive = defvjp(original, _geometric_transform_vjp, None, name=name)
    defjvp(primitive, _geometric_transform_jvp, None)

    @functools.wraps(primitive)  # ``__wrapped__`` is the primitive, the key of its rules
    def geometric_transform(input, mapping, *args, **kwargs):
        if grad_enabled():  # as for every SciPy function given a callback
            mapping = guard_callback(name, mapping)
        return primitive(input, mapping, *args, **kwargs)

    return geometric_transform


wrap_scipy(_MODULE, "geometric_transform", _make_geometric_transform)
