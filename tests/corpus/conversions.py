"""Conversion routes of NumPy, SciPy's array-API layer and ``array_api_compat``, called the way
library code calls them: each result is added to a term computed outside, so a conversion that
strips the graph gives a silently partial gradient, not just an error."""

from __future__ import annotations

import numpy as np
from scipy._lib import _array_api as xpa

try:  # SciPy 1.18 moved its vendored array-API packages from scipy._lib to scipy._external
    from scipy._lib import array_api_extra as xpx
    from scipy._lib.array_api_compat import numpy as scipy_compat_np
except ImportError:
    from scipy._external import array_api_extra as xpx
    from scipy._external.array_api_compat import numpy as scipy_compat_np

from . import fd

X = np.array([0.3, -1.2, 0.8, 2.1])
W = np.array([1.0, 2.0, 3.0, 4.0])
LIST_OF_ARRAYS = (
    "NumPy converts a Python list of GradArrays in C inside functions whose dispatcher does not "
    "unpack lists (np.sum, np.transpose, np.dot, ...): __array_function__ never sees the "
    "GradArrays, so the graph is dropped silently; 0-d elements raise GraphBreakError instead"
)


def _plus_outside(convert):
    return lambda x: np.sum(convert(x) * W) + np.sum(x**2)


ROUTES = {
    "np.asarray": lambda x: np.asarray(x),
    "np.asarray-dtype": lambda x: np.asarray(x, dtype=np.float64),
    "np.asanyarray": lambda x: np.asanyarray(x),
    "np.array-copy": lambda x: np.array(x, copy=True),
    "np.array-ndmin": lambda x: np.array(x, ndmin=2)[0],
    "np.array-list": lambda x: np.array([x[0], x[1], x[2], x[3]]),
    "np.asarray_chkfinite": lambda x: np.asarray_chkfinite(x),
    "np.require": lambda x: np.require(x, dtype=float, requirements=["C", "W"]),
    "np.copy": lambda x: np.copy(x),
    "np.ascontiguousarray": lambda x: np.ascontiguousarray(x[::-1])[::-1],
    "np.asfortranarray": lambda x: np.ravel(np.asfortranarray(np.reshape(x, (2, 2)))),
    "astype": lambda x: x.astype(np.float64, copy=True),
    "np.full-fill": lambda x: np.full(4, x[0]) + x,
    "buffer-assignment": lambda x: _buffer_loop(x),
    "scipy.xp_copy": lambda x: xpa.xp_copy(x),
    "scipy._asarray": lambda x: xpa._asarray(x),
    "scipy._asarray-copy": lambda x: xpa._asarray(x, copy=True),
    "scipy.array_namespace.asarray": lambda x: xpa.array_namespace(x).asarray(x),
    "scipy.xp_promote": lambda x: xpa.xp_promote(x, force_floating=True, xp=np),
    "scipy.compat.numpy.asarray-copy": lambda x: scipy_compat_np.asarray(x, copy=True),
    "xpx.at-set-copy": lambda x: xpx.at(x, 0).set(0.5, copy=True),
    "xpx.atleast_nd": lambda x: xpx.atleast_nd(x, ndim=2, xp=np)[0],
}


def _buffer_loop(x):
    out = np.empty(4)
    for i in range(4):
        out[i] = np.sin(x[i])
    return out


CASES = [fd(f"convert.{name}", _plus_outside(f), X) for name, f in ROUTES.items()]
try:
    import array_api_compat
    import array_api_compat.numpy as compat_np
except ImportError:  # pragma: no cover - optional
    pass
else:
    CASES += [
        fd("convert.array_api_compat.numpy.asarray", _plus_outside(lambda x: compat_np.asarray(x, copy=True)), X),
        fd("convert.array_api_compat.array_namespace", _plus_outside(lambda x: array_api_compat.array_namespace(x).asarray(x)), X),
    ]  # fmt: skip
CASES += [
    # user code that hands NumPy a Python list of arrays
    fd("convert.np.sum-of-list", lambda x: np.sum([x, 2 * x]) + np.sum(x), X),
    fd("convert.np.transpose-of-list", lambda x: np.transpose([x, x**2]) @ np.ones(2) + x, X),
    fd("convert.np.mean-of-list", lambda x: np.mean([x, x**2], axis=0), X),
]  # fmt: skip
