"""Cases for the rules of scipy.ndimage (ndgrad/_rules/scipy_ndimage.py).

Every boundary mode is checked for the correlations; the filters built on them run one call per
mode family. Rank filters use inputs without ties (``R``), so the selected element is unique.
Every function with a ``cval`` runs once with mode 'constant' (or 'grid-constant') and a nonzero
cval: it is affine in the input there, so forward mode must not call it on the tangent as is.
"""

from __future__ import annotations

import numpy as np
import scipy.ndimage as ndi

from ._case import C, Case, R, U, calls

_MODES = ["reflect", "mirror", "nearest", "wrap", "constant", "grid-wrap"]
_X = (R(4, 5),)
_IMODES = ["nearest", "reflect", "mirror", "grid-wrap", "grid-constant", "constant"]
_CONSTANT = {"mode": ["constant"], "cval": [0.7]}  # an affine constant


def _coordinates(*shape):
    """Sample points around and beyond a (4, 5) input, kept off the integers (the kinks)."""
    c = np.stack([U(*shape) * 4 + 1.5, U(*shape) * 5 + 2])
    return np.where(np.abs(c - np.round(c)) < 0.1, c + 0.25, c)


# Orders 2 to 5: the modes with an exact prefilter adjoint, and the others on coefficients.
_SPLINE_MODES = ["mirror", "constant", "grid-constant", "grid-wrap"]


def _off_knots(c):
    """Coordinates kept off integers and half-integers (the knots of odd and even orders)."""
    return np.where(np.abs(2 * c - np.round(2 * c)) < 0.2, c + 0.13, c)


def _shear(index, amount):
    """A mapping for geometric_transform: output (i, j) reads the input at (i + a j, j - 0.4)."""
    return (index[0] + amount * index[1], index[1] - 0.4)


CASES = {
    ndi.correlate1d: Case(
        calls((R(3, 4), R(3)), mode=_MODES, origin=[-1])
        + calls((R(6), R(4)), origin=[0, 1])
        + calls((R(3, 4), R(2)), axis=[0], mode=["reflect", "constant"], cval=[0.5])
    ),
    ndi.convolve1d: Case(
        calls((R(6), R(4)), mode=_MODES, origin=[1]) + calls((R(6), R(3)), **_CONSTANT)
    ),
    ndi.correlate: Case(
        calls((R(3, 4), R(3, 2)), mode=_MODES, origin=[(1, -1)], cval=[0.5])
        + calls((R(3, 2, 4), R(2, 3)), axes=[(0, 2)])
    ),
    ndi.convolve: Case(
        calls((R(3, 4), R(2, 3)), mode=_MODES[::2], origin=[(-1, 1)])
        + calls((R(3, 4), R(2, 3)), **_CONSTANT)
    ),
    ndi.gaussian_filter1d: Case(
        calls((R(7),), sigma=[0.8], order=[0, 2], mode=_MODES)
        + calls((R(7),), sigma=[0.8], **_CONSTANT)
    ),
    ndi.gaussian_filter: Case(
        calls(_X, sigma=[(1.0, 0.6)], order=[0, (1, 2)], mode=["reflect", "wrap", "constant"])
        + calls((R(3, 2, 4),), sigma=[0.7], axes=[(0, 2)], truncate=[2.0])
        + calls(_X, sigma=[0.8], **_CONSTANT)
    ),
    ndi.uniform_filter1d: Case(
        calls((R(7),), size=[2, 3], mode=_MODES, origin=[-1])
        + calls((R(7),), size=[3], **_CONSTANT)
    ),
    ndi.uniform_filter: Case(
        calls(_X, size=[(3, 2)], mode=_MODES, origin=[(0, -1)]) + calls(_X, **_CONSTANT)
    ),
    ndi.sobel: Case(
        calls(_X, axis=[0, -1], mode=["reflect", "nearest", "constant"]) + calls(_X, **_CONSTANT)
    ),
    ndi.prewitt: Case(calls(_X, axis=[0, -1], mode=["mirror", "wrap"]) + calls(_X, **_CONSTANT)),
    ndi.laplace: Case(
        calls(_X, mode=_MODES) + calls((R(3, 2, 4),), axes=[(0, 2)]) + calls(_X, **_CONSTANT)
    ),
    ndi.gaussian_laplace: Case(
        calls(_X, sigma=[0.8, (1.0, 0.6)], mode=["reflect", "constant"])
        + calls(_X, sigma=[0.8], **_CONSTANT)
    ),
    ndi.gaussian_gradient_magnitude: Case(
        calls((R(3, 4),), sigma=[0.8], mode=["wrap"])
        + calls((R(3, 2, 4),), sigma=[0.7], axes=[(1, 2)])
        + calls((R(3, 4),), sigma=[0.8], **_CONSTANT)
        + calls((C(3, 4),), sigma=[0.8])  # complex: d_a**2, not |d_a|**2
    ),
    ndi.minimum_filter: Case(
        calls(_X, size=[3], mode=_MODES)
        + calls(_X, footprint=[[[1, 0, 1], [0, 1, 1]]])
        + calls(_X, size=[3], mode=["constant"], cval=[-0.2])  # cval selected at some borders
    ),
    ndi.maximum_filter: Case(
        calls(_X, size=[(2, 3)], mode=_MODES, origin=[(0, 1)])
        + calls(_X, footprint=[[[1, 0, 1], [0, 1, 1]]], mode=["constant"], cval=[0.1])
    ),
    ndi.median_filter: Case(
        calls(_X, size=[3], mode=["reflect", "constant"])
        + calls((R(7),), size=[4])
        + calls(_X, size=[3], **_CONSTANT)
    ),
    ndi.minimum_filter1d: Case(
        calls(_X, size=[3], axis=[0], mode=["reflect", "wrap"])
        + calls(_X, size=[3], mode=["constant"], cval=[-0.2])
    ),
    ndi.maximum_filter1d: Case(
        calls(_X, size=[2], origin=[-1], mode=["mirror", "nearest"])
        + calls(_X, size=[3], mode=["constant"], cval=[0.2])
    ),
    ndi.rank_filter: Case(
        calls(_X, rank=[1], size=[3]) + calls(_X, rank=[2], size=[3], **_CONSTANT)
    ),
    ndi.map_coordinates: Case(
        calls((R(4, 5), _coordinates(3)), order=[1], mode=_IMODES, cval=[0.4])
        + calls((R(4, 5), _coordinates(2)), order=[0])
        + calls((R(3, 4), _off_knots(_coordinates(2))), order=[3], mode=_SPLINE_MODES[1:3])
        + calls((R(3, 4), _off_knots(_coordinates(2))), order=[2, 5], mode=["mirror"])
        + calls((R(3, 4), _off_knots(_coordinates(2))), mode=["nearest"], prefilter=[False])
        # complex input: the coordinates' cotangent is Re(g * conj(f'))
        + calls(
            (C(4, 5), _coordinates(3)), order=[1], mode=["nearest", "grid-constant"], cval=[0.4]
        )
    ),
    ndi.shift: Case(
        calls((R(4, 5), np.array([0.3, -1.6])), (R(6), np.array(0.7)), order=[1], mode=_IMODES)
        + calls((R(6), np.array(0.7)), order=[3], mode=["grid-constant", "grid-wrap"])
        + calls((R(4, 5), np.array([0.3, -1.6])), order=[1, 3], mode=["constant"], cval=[0.7])
        + calls((R(6), np.array(0.7)), order=[3], mode=["grid-constant"], cval=[-0.6])
    ),
    ndi.zoom: Case(
        calls(_X, zoom=[(1.5, 0.7)], order=[0, 1], mode=["nearest", "mirror"])
        + calls(_X, zoom=[1.3], order=[1], mode=["grid-wrap"], grid_mode=[True])
        + calls((R(3, 4),), zoom=[1.4], order=[3], mode=["constant", "grid-constant"])
        + calls(_X, zoom=[1.3], order=[1], mode=["grid-constant"], grid_mode=[True], cval=[0.7])
        + calls((R(3, 4),), zoom=[0.8], order=[3], **_CONSTANT)
    ),
    ndi.spline_filter1d: Case(
        calls((R(5, 3),), order=[2, 3, 4, 5], axis=[0], mode=_SPLINE_MODES[::3])
        + calls((R(4),), order=[3], mode=["constant", "grid-constant"])
        + calls((R(4),), order=[1])
    ),
    ndi.spline_filter: Case(calls((R(3, 4),), order=[3, 5], mode=_SPLINE_MODES)),
    ndi.affine_transform: Case(
        calls(
            _X,
            matrix=[[[0.9, 0.2], [-0.3, 1.1]], [0.9, 1.2]],
            offset=[(0.3, -0.2)],
            order=[1],
            mode=["reflect", "constant"],
        )
        + calls(_X, matrix=[[[0.9, 0.2], [-0.3, 1.1]]], offset=[0.3], order=[3], mode=["mirror"])
        + calls(
            _X, matrix=[[[0.9, 0.2, 0.5], [-0.3, 1.1, 0.1]]], output_shape=[(3, 6)], order=[0, 1]
        )
        + calls(_X, matrix=[[[0.9, 0.2], [-0.3, 1.1]]], offset=[0.6], order=[1, 3], **_CONSTANT)
    ),
    ndi.rotate: Case(
        calls(_X, angle=[17.0], order=[1], mode=["nearest", "grid-constant"])
        + calls((R(3, 4, 2),), angle=[30.0], axes=[(0, 2)], reshape=[False], order=[1])
        + calls((R(3, 4),), angle=[25.0], order=[2, 5])
        + calls(_X, angle=[17.0], order=[1, 3], **_CONSTANT)
    ),
    ndi.geometric_transform.__wrapped__: Case(
        calls(_X, order=[1], mode=["mirror", "constant"])
        + calls(_X, order=[3], mode=["grid-wrap"], output_shape=[(3, 6)])
        + calls(_X, order=[1, 3], **_CONSTANT),
        call=lambda x, **kw: ndi.geometric_transform(x, _shear, extra_arguments=(0.3,), **kw),
    ),
    ndi.percentile_filter: Case(
        calls(_X, percentile=[70], size=[(2, 3)], mode=["wrap"])
        + calls(_X, percentile=[30], size=[3], **_CONSTANT)
    ),
}
