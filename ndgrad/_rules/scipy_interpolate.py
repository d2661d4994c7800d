"""Gradient rules for ``scipy.interpolate``: interpolants differentiate in their data and points.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument. SciPy's
interpolants are objects: the constructor takes the data (``y``, ``c``, ``values``, ``d``) and
calling the object evaluates it. When the data is a GradArray the constructor runs on its values
and the object remembers the array; calling the object (or calling any object at points that
require grad) records one ``interpolant_evaluation`` node, whose rules are

* in the data: an interpolant is an affine function of its data (a spline, a linear or nearest
  interpolant, an RBF fit: a linear solve with the data on the right), so the cotangent is
  ``B.T @ g`` with ``B`` the same interpolant built on the unit vectors minus the one built on
  zeros, evaluated at the points (values filled outside the domain contribute nothing);
* in the points (1-D interpolants): ``g`` times the interpolant's derivative there (``nu + 1``),
  itself an evaluation node, so every order differentiates again.

Conventions: at a knot or breakpoint the derivative is the one SciPy's evaluation picks (the
interval to the right; at the last breakpoint the last interval); piecewise-constant kinds
(``nearest``, ``previous``, ``next``, ``zero``) have gradient 0 in the points; points outside
the domain that are filled (``fill_value``) have gradient 0.

``BarycentricInterpolator`` and ``KroghInterpolator`` (and ``barycentric_interpolate``,
``krogh_interpolate``, which build them): the polynomial through the nodes is linear in ``yi``
and differentiates in the points through SciPy's own ``derivative``, at the nodes too.

Refused with ``NotDifferentiableError`` (never a silent 0): ``PchipInterpolator`` and
``Akima1DInterpolator`` in their data (their slopes are nonlinear in it), gradients in the
knots ``x``, and in the points of ``RegularGridInterpolator``, ``griddata`` and
``RBFInterpolator``; the methods of an object built on data that requires grad other than
calling it (``derivative``, ``integrate``, ``roots``, ...). Attributes (``.c``, ``.y``) of such
an object hold the data's values: only calling the object differentiates.

FITPACK's functions on ``(t, c, k)`` tuples: ``splev`` differentiates in the points (the next
derivative, 0 where ``ext`` makes the value constant outside the base interval) and in ``c``
(the B-spline basis at the points, ``B.T @ g``); ``splint`` in its limits and ``c``; ``splrep``
in ``y`` when the knots do not depend on it (``s=0``, the default without weights, or knots
``t=`` given): ``c = M y``, and the backward pass fits the unit vectors to form ``M``, ``m``
FITPACK fits for ``m`` data points. With ``s > 0`` and no ``t`` FITPACK places the knots by the
data (a piecewise choice), and ``splrep`` refuses. ``splder`` and ``splantider`` are NumPy code
on ``c``, traced. The knots ``t`` get no gradient (refused).
"""

from __future__ import annotations

import functools
import inspect
import sys

import numpy as np

from ndgrad._array import GradArray, as_array, plain_array
from ndgrad._define import defjvp, deflinear, defvjp
from ndgrad._errors import not_differentiable
from ndgrad._graph import grad_enabled
from ndgrad._registry import VJP_RULES
from ndgrad._rules._lazy import after_import
from ndgrad._rules._scipy import (
    ORIGINALS_OF,
    SCIPY_TABLES,
    defvjp_scipy,
    holds_grad,
    install_wrappers,
    wrap_scipy,
)

_MODULE = "scipy.interpolate"


def _requires_grad(a):
    return isinstance(a, GradArray) and a._node is not None


def _plain(a):
    return plain_array(a) if isinstance(a, GradArray) else a


def _check_data(name, data):
    if not isinstance(data, GradArray) and holds_grad(data, requires_grad=True):
        raise not_differentiable(
            name, "the data is a list holding arrays that require grad; pass np.stack(data)"
        )


class _Spec:
    """How to rebuild an interpolant on other data and evaluate it.

    ``layout`` is ``"axis"`` (1-D interpolants: the data's ``axis`` is replaced by the points'
    shape) or ``"sites"`` (the data's first ``sites`` axes are the sample sites; the points'
    last axis holds coordinates).
    """

    def __init__(self, name, build, layout, axis=0, sites=1, linear=True, derivative=None):
        self.name, self.build, self.layout = name, build, layout
        self.axis, self.sites, self.linear, self.derivative = axis, sites, linear, derivative

    def evaluate(self, data, points, nu, basis=False):
        if nu == 0:
            return self.build(data, basis)(points)
        if self.derivative is None:  # piecewise constant
            return np.zeros(np.shape(self.build(data, basis)(points)))
        return self.derivative(data, points, nu, basis)


def _interpolant_evaluation(data, points, spec, nu=0, basis=False):
    """The interpolant of ``data`` that ``spec`` describes, or its ``nu``-th derivative, at points.

    ``basis=True`` fills points outside the domain with 0 instead of the user's fill value.
    """
    return spec.evaluate(data, points, nu, basis)


def _basis(spec, shape, points, nu):
    """``B[..., j]``: the (linear part of the) interpolant of the ``j``-th unit data at points."""
    if spec.layout == "axis":  # the map acts alike on every slice along the other data axes
        n, unit_spec = shape[spec.axis], spec.with_axis0
        unit, zero = np.eye(n), np.zeros(n)
    else:
        n, unit_spec = int(np.prod(shape[: spec.sites])), spec
        unit, zero = np.eye(n).reshape((*shape[: spec.sites], n)), np.zeros(shape[: spec.sites])
    basis = _interpolant_evaluation(unit, points, unit_spec, nu, True)
    offset = _interpolant_evaluation(zero, points, unit_spec, nu, True)  # affine: bc values
    return basis - np.expand_dims(offset, -1), n


def _data_vjp(g, ans, data, points, spec, nu=0, basis=False):
    """``B.T @ g``: the interpolant is affine in its data."""
    if not spec.linear:
        raise not_differentiable(
            spec.name, "no gradient in the data: its slopes are nonlinear in it (only in points)"
        )
    shape = data.shape
    basis, _ = _basis(spec, shape, points, nu)
    basis = np.where(np.isnan(basis), 0.0, basis)  # filled outside the domain: no dependence
    if spec.layout == "axis":
        p, axis = np.ndim(points), spec.axis
        g = np.moveaxis(g, tuple(range(axis, axis + p)), tuple(range(g.ndim - p, g.ndim)))
        return np.moveaxis(np.tensordot(g, basis, axes=p), -1, axis)
    p = np.ndim(points) - 1
    grad = np.tensordot(basis, g, axes=(tuple(range(p)), tuple(range(p))))
    return np.reshape(grad, shape)


def _points_vjp(g, ans, data, points, spec, nu=0, basis=False):
    """``g`` times the derivative of the interpolant at the points, summed over the data axes."""
    if spec.layout != "axis":
        raise not_differentiable(spec.name, "no gradient in the evaluation points yet")
    slope = _interpolant_evaluation(data, points, spec, nu + 1, basis)
    p, axis = np.ndim(points), spec.axis
    other = tuple(range(axis)) + tuple(range(axis + p, np.ndim(slope)))
    return np.sum(g * slope, axis=other)


def _data_jvp(t, ans, data, points, spec, nu=0, basis=False):
    """The linear part of the (affine) map at the tangent: the interpolant of ``t`` less that of
    zeros (boundary values), with filled values independent of the data, as ``_basis``."""
    if not spec.linear:
        raise not_differentiable(
            spec.name, "no gradient in the data: its slopes are nonlinear in it (only in points)"
        )
    linear = _interpolant_evaluation(t, points, spec, nu, True) - _interpolant_evaluation(
        np.zeros(np.shape(t)), points, spec, nu, True
    )
    return np.where(np.isnan(linear), 0.0, linear)


def _points_jvp(t, ans, data, points, spec, nu=0, basis=False):
    """The derivative at the points times their tangent, broadcast over the data axes."""
    if spec.layout != "axis":
        raise not_differentiable(spec.name, "no gradient in the evaluation points yet")
    slope = _interpolant_evaluation(data, points, spec, nu + 1, basis)
    shape = [1] * np.ndim(slope)
    shape[spec.axis : spec.axis + np.ndim(points)] = np.shape(points)
    return slope * np.reshape(t, shape)


_interpolant_evaluation = defvjp(
    _interpolant_evaluation, _data_vjp, _points_vjp, name="scipy.interpolate evaluation"
)
defjvp(_interpolant_evaluation, _data_jvp, _points_jvp)


# --- the classes: constructors remember their data, calls record an evaluation ----------------


def _refuse_other_methods(cls, qualified, keep):
    """Methods (inherited ones too) refuse an object built on data that requires grad."""
    for attr in dir(cls):
        if attr.startswith("_") or attr in keep:
            continue
        method = inspect.getattr_static(cls, attr)
        if not isinstance(method, type(_refuse_other_methods)):
            continue
        original = getattr(cls, attr)

        @functools.wraps(original)
        def refusing(self, *args, _original=original, _attr=attr, **kwargs):
            if getattr(self, "_ndgrad_data", None) is not None and grad_enabled():
                raise not_differentiable(
                    f"{qualified}.{_attr}",
                    "the object was built on data that requires grad, and only calling it "
                    "differentiates",
                )
            return _original(self, *args, **kwargs)

        setattr(cls, attr, refusing)


def _wrap_interpolant(cls, qualified, data_name, make_spec):
    """Give ``cls`` a recording constructor and call; its other methods refuse grad data."""
    init, call = cls.__init__, cls.__call__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        data = bound.arguments.get(data_name)
        for name, value in bound.arguments.items():
            if name != data_name and holds_grad(value, requires_grad=True):
                raise not_differentiable(qualified, f"no gradient in {name} (only in the data)")
        _check_data(qualified, data)
        bound.arguments[data_name] = _plain(data)
        init(*bound.args, **bound.kwargs)
        self._ndgrad_data = data if _requires_grad(data) and grad_enabled() else None
        arguments = {k: _plain(v) for k, v in bound.arguments.items() if k != "self"}
        self._ndgrad_spec = make_spec(self, arguments)
        self._ndgrad_spec.make, self._ndgrad_spec.data_name = make_spec, data_name

    @functools.wraps(call)
    def __call__(self, points, *args, **kwargs):
        data = getattr(self, "_ndgrad_data", None)
        if not grad_enabled() or (data is None and not _requires_grad(points)):
            return call(self, _plain(points), *args, **kwargs)
        spec = getattr(self, "_ndgrad_spec", None) or _spec_from_attributes(self, qualified)
        if args or any(v is not None and v != 0 for v in kwargs.values()):
            new = spec.make(self, {**spec.arguments, "_call": (args, kwargs)})
            new.make, new.data_name = spec.make, spec.data_name
            spec = new
        if data is None:
            data = spec.arguments[spec.data_name]
        return _interpolant_evaluation(data, points, spec)

    cls.__init__, cls.__call__ = __init__, __call__
    _refuse_other_methods(cls, qualified, ())
    SCIPY_TABLES.setdefault(_MODULE, {})[cls.__name__] = "rule"


def _axis_spec(name, rebuild, arguments, axis, linear=True, derivative=None, call=None):
    """A spec for a 1-D interpolant; ``rebuild(arguments, data)`` constructs it."""
    args, kwargs = arguments.get("_call") or ((), {})

    def build(data, basis=False, axis=axis):
        obj = rebuild({**arguments, "axis": axis}, data, basis)
        return lambda points: obj(points, *args, **kwargs) if call is None else call(obj, points)

    spec = _Spec(name, build, "axis", axis=axis, linear=linear, derivative=derivative)
    spec.arguments = arguments
    spec.with_axis0 = _Spec(
        name,
        functools.partial(build, axis=0),  # data (n, n): the unit vectors
        "axis",
        linear=linear,
        derivative=None if derivative is None else functools.partial(derivative, axis=0),
    )
    spec.with_axis0.arguments = arguments
    return spec


def _ppoly_spec(cls, name, linear):
    def make_spec(obj, arguments):
        call_args, call_kwargs = arguments.get("_call") or ((), {})
        nu0 = call_kwargs.get("nu", call_args[0] if call_args else 0)
        extrapolate = call_kwargs.get("extrapolate", call_args[1] if len(call_args) > 1 else None)

        def rebuild(args, data, basis=False):
            args = {k: v for k, v in args.items() if k != "_call"}
            if basis and isinstance(args.get("bc_type"), tuple | list):
                args["bc_type"] = tuple(_linear_bc(bc, data) for bc in args["bc_type"])
            return cls(**{**args, _data(cls): data})

        def derivative(data, points, nu, basis=False, axis=obj.axis):
            built = rebuild({**arguments, "axis": axis}, data, basis)
            return built(points, nu0 + nu, extrapolate)

        def call(built, points):
            return built(points, nu0, extrapolate)

        return _axis_spec(name, rebuild, arguments, obj.axis, linear, derivative, call)

    return make_spec


def _spec_from_attributes(obj, qualified):
    """The spec of a piecewise polynomial or B-spline SciPy built without its constructor
    (``construct_fast``: ``derivative()``, ``make_interp_spline`` on plain data)."""
    interpolate = sys.modules[_MODULE]
    axis = obj.axis  # the constructors moved the interpolation axis of ``c`` to the front
    if isinstance(obj, interpolate.BSpline):
        c = np.moveaxis(obj.c, 0, axis)
        cls, arguments = interpolate.BSpline, {"t": obj.t, "c": c, "k": obj.k}
    elif isinstance(obj, interpolate.PPoly):
        c = np.moveaxis(np.moveaxis(obj.c, 0, axis + 1), 0, axis + 1)
        cls, arguments = interpolate.PPoly, {"c": c, "x": obj.x}
    else:
        raise not_differentiable(qualified, "no gradient in the points of this object")
    arguments.update(extrapolate=obj.extrapolate, axis=obj.axis)
    make_spec = _ppoly_spec(cls, qualified, True)
    spec = make_spec(obj, arguments)
    spec.make, spec.data_name = make_spec, "c"
    return spec


def _linear_bc(bc, data):
    """A boundary condition ``(order, value)`` with the value 0: the linear part of the map."""
    if isinstance(bc, str):
        return bc
    return (bc[0], np.zeros(data.shape[1:]))


_DATA = {"BSpline": "c", "PPoly": "c"}


def _data(cls):
    return _DATA.get(cls.__name__, "y")


def _interp1d_spec(obj, arguments):
    interpolate = sys.modules[_MODULE]
    cls = type(obj)
    kind = arguments.get("kind", "linear")
    order = {"linear": 1, "slinear": 1, "quadratic": 2, "cubic": 3}.get(kind, kind)
    extrapolate = isinstance(arguments.get("fill_value"), str)  # "extrapolate"

    def rebuild(args, data, basis=False):
        args = {k: v for k, v in args.items() if k != "_call"}
        if basis and not extrapolate:  # out of bounds: filled, independent of the data
            args.update(bounds_error=False, fill_value=0.0)
        return cls(**{**args, "y": data})

    derivative = None
    if isinstance(order, int) and order > 0:

        def derivative(data, points, nu, basis=False, axis=obj.axis):
            built = rebuild({**arguments, "axis": axis}, data, basis)
            spline = interpolate.make_interp_spline(built.x, built.y, k=order, axis=built.axis)
            slope = spline(points, nu)
            if extrapolate:
                return slope
            outside = (points < built.x[0]) | (points > built.x[-1])
            shape = [1] * np.ndim(slope)
            shape[axis : axis + np.ndim(points)] = np.shape(points)
            return np.where(np.reshape(outside, shape), 0.0, slope)

    return _axis_spec("scipy.interpolate.interp1d", rebuild, arguments, obj.axis, True, derivative)


def _polynomial_spec(cls, name):
    """``BarycentricInterpolator``, ``KroghInterpolator``: the polynomial through ``(xi, yi)``,
    linear in ``yi``; its derivatives in the points are SciPy's ``derivative(x, der)``, exact at
    the nodes too (where the barycentric formula is replaced by the node's value)."""

    def make_spec(obj, arguments):
        data_axis = arguments.get("axis", 0)

        def rebuild(args, data, basis=False):
            args = {k: v for k, v in args.items() if k != "_call"}
            return cls(**{**args, "yi": data})

        def derivative(data, points, nu, basis=False, axis=data_axis):
            return rebuild({**arguments, "axis": axis}, data, basis).derivative(points, der=nu)

        return _axis_spec(name, rebuild, arguments, data_axis, True, derivative)

    return make_spec


def _sites_spec(name, cls, data_name, sites):
    def make_spec(obj, arguments):
        call_args, call_kwargs = arguments.get("_call") or ((), {})

        def build(data, basis=False):
            args = {k: v for k, v in arguments.items() if k != "_call"}
            fills = "fill_value" in inspect.signature(cls).parameters
            if basis and fills and args.get("fill_value", 0) is not None:  # filled: no dependence
                args.update(bounds_error=False, fill_value=0.0)
            built = cls(**{**args, data_name: data})
            return lambda points: built(points, *call_args, **call_kwargs)

        spec = _Spec(name, build, "sites", sites=sites(arguments))
        spec.arguments = arguments
        return spec

    return make_spec


def _register(module):
    interpolate = module
    _wrap_interpolant(interpolate.interp1d, f"{_MODULE}.interp1d", "y", _interp1d_spec)
    for name, linear in (
        ("CubicSpline", True),
        ("PchipInterpolator", False),
        ("Akima1DInterpolator", False),
        ("PPoly", True),
        ("BSpline", True),
    ):
        cls = getattr(interpolate, name)
        qualified = f"{_MODULE}.{name}"
        _wrap_interpolant(cls, qualified, _data(cls), _ppoly_spec(cls, qualified, linear))
    for name in ("BarycentricInterpolator", "KroghInterpolator"):
        cls = getattr(interpolate, name)
        qualified = f"{_MODULE}.{name}"
        _wrap_interpolant(cls, qualified, "yi", _polynomial_spec(cls, qualified))
    rgi = interpolate.RegularGridInterpolator
    _wrap_interpolant(
        rgi,
        f"{_MODULE}.RegularGridInterpolator",
        "values",
        _sites_spec(
            f"{_MODULE}.RegularGridInterpolator", rgi, "values", lambda a: len(a["points"])
        ),
    )
    rbf = interpolate.RBFInterpolator
    _wrap_interpolant(
        rbf,
        f"{_MODULE}.RBFInterpolator",
        "d",
        _sites_spec(f"{_MODULE}.RBFInterpolator", rbf, "d", lambda a: 1),
    )

    _wrap_make_interp_spline(interpolate)


def _wrap_make_interp_spline(interpolate):
    """``make_interp_spline(x, y)`` on ``y`` that requires grad: a BSpline that remembers ``y``."""
    original = interpolate.make_interp_spline
    signature = inspect.signature(original)
    qualified = f"{_MODULE}.make_interp_spline"

    @functools.wraps(original)
    def make_interp_spline(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        y = bound.arguments.get("y")
        for name, value in bound.arguments.items():
            if name != "y" and holds_grad(value, requires_grad=True):
                raise not_differentiable(qualified, f"no gradient in {name} (only in y)")
        _check_data(qualified, y)
        if not (_requires_grad(y) and grad_enabled()):
            return original(*args, **kwargs)
        arguments = {k: _plain(v) for k, v in bound.arguments.items()}
        spline = original(**{**arguments, "y": _plain(y)})

        def make_spec(obj, call_arguments):
            call_args, call_kwargs = call_arguments.get("_call") or ((), {})
            nu0 = call_kwargs.get("nu", call_args[0] if call_args else 0)
            extrapolate = call_kwargs.get(
                "extrapolate", call_args[1] if len(call_args) > 1 else None
            )

            def build_at(axis):
                def rebuild_axis(args, data, basis=False):
                    a = {k: v for k, v in args.items() if k not in ("_call", "axis")}
                    if basis and a.get("bc_type") is not None and not isinstance(a["bc_type"], str):
                        a["bc_type"] = tuple(
                            None
                            if side is None
                            else [(o, np.zeros(data.shape[1:])) for o, _ in side]
                            for side in a["bc_type"]
                        )
                    return original(**{**a, "y": data, "axis": axis})

                return rebuild_axis

            def derivative(data, points, nu, basis=False, axis=obj.axis):
                return build_at(axis)(arguments, data, basis)(points, nu0 + nu, extrapolate)

            def call(built, points):
                return built(points, nu0, extrapolate)

            def rebuild_any(args, data, basis=False):
                return build_at(args.get("axis", obj.axis))(args, data, basis)

            merged = {**arguments, **call_arguments}
            spec = _axis_spec(qualified, rebuild_any, merged, obj.axis, True, derivative, call)
            spec.make, spec.data_name = make_spec, "y"
            return spec

        spline._ndgrad_spec = make_spec(spline, {})
        spline._ndgrad_data = y
        return spline

    ORIGINALS_OF.append(original)
    install_wrappers([(original, make_interp_spline)])
    SCIPY_TABLES.setdefault(_MODULE, {})["make_interp_spline"] = "rule"


after_import(_MODULE, _register)


def _griddata_values_vjp(g, ans, points, values, xi, method="linear", fill_value=np.nan, **kw):
    """``B.T @ g``, ``B`` the same interpolation of the unit vectors ('nearest', 'linear')."""
    if method not in ("nearest", "linear"):
        raise not_differentiable(
            "scipy.interpolate.griddata", f"method={method!r} has no rule; use 'linear'"
        )
    griddata = _griddata()
    n = np.shape(values)[0]
    basis = griddata(points, np.eye(n), xi, method=method, fill_value=0.0, **kw)
    p = np.ndim(basis) - 1
    grad = np.tensordot(basis, g, axes=(tuple(range(p)), tuple(range(p))))
    return np.reshape(grad, np.shape(values))


def _griddata():
    return sys.modules[_MODULE].griddata


def _griddata_values_jvp(t, ans, points, values, xi, method="linear", fill_value=np.nan, **kw):
    """Linear in the values, but for the fill value outside the hull: filled with 0 here."""
    if method not in ("nearest", "linear"):
        raise not_differentiable(
            "scipy.interpolate.griddata", f"method={method!r} has no rule; use 'linear'"
        )
    return _griddata()(points, t, xi, method=method, fill_value=0.0, **kw)


def _griddata_refuse(what):
    def rule(g, ans, *args, **kwargs):
        raise not_differentiable("scipy.interpolate.griddata", f"no gradient in {what} yet")

    return rule


defvjp_scipy(
    _MODULE,
    "griddata",
    _griddata_refuse("the points"),
    _griddata_values_vjp,
    _griddata_refuse("xi"),
)


def _griddata_jvp(module):
    prim = next(p for p in VJP_RULES.values() if p.name == f"{_MODULE}.griddata")
    defjvp(prim.func, _griddata_refuse("the points"), _griddata_values_jvp, _griddata_refuse("xi"))


after_import(_MODULE, _griddata_jvp)


# --- FITPACK: splev, splint and splrep on (t, c, k) tuples ----------------------------------------


def _fitpack():
    return sys.modules["scipy.interpolate._fitpack_py"]


def _unit_coefficients(t, k, like):
    """The identity as coefficients: row ``j`` of a spline on ``t`` is the B-spline ``B_j``."""
    n = len(t) - k - 1
    return np.eye(n, len(like) if np.ndim(like) else n)


def _splev(x, t, c, k, der=0, ext=0):
    """``splev(x, (t, c, k), der, ext)`` as one node, differentiable in ``x`` and ``c``."""
    return _fitpack().splev(x, (t, c, k), der, ext)


def _clamps(der, ext):
    """Whether the value is constant outside the base interval: FITPACK's ext=3 holds the
    boundary value of the spline itself, and extrapolates its derivatives (as ext=0)."""
    return ext == 3 and der == 0


def _splev_x_vjp(g, ans, x, t, c, k, der=0, ext=0):
    """``g`` times the next derivative; zero where the value is 0 or held constant outside."""
    if der + 1 > k:  # the k-th derivative is piecewise constant
        return np.zeros(np.shape(x))
    return g * _splev(x, t, c, k, der + 1, 1 if _clamps(der, ext) else ext)


def _splev_c_vjp(g, ans, x, t, c, k, der=0, ext=0):
    """``B.T @ g``, ``B[i, j]`` the ``der``-th derivative of ``B_j`` at ``x[i]`` (ext's rules)."""
    n = len(t) - k - 1
    points = np.clip(x, t[k], t[n]) if _clamps(der, ext) else x  # the value at the nearer end
    if ext == 1:  # outside: 0 whatever c is; evaluated inside, so no NaN meets the mask
        outside = (x < t[k]) | (x > t[n])
        points = np.where(outside, t[k], x)
    basis = sys.modules[_MODULE].BSpline(t, np.eye(n), k)(points, der)
    if ext == 1:
        basis = np.where(np.expand_dims(outside, -1), 0.0, basis)
    cotangent = np.tensordot(g, basis, axes=np.ndim(g))
    return np.concatenate([cotangent, np.zeros(len(c) - n)])


def _splev_c_jvp(t, ans, x, t_knots, c, k, der=0, ext=0):
    """Linear in ``c`` for every ``ext`` (0 outside, or the boundary value: both linear)."""
    return _splev(x, t_knots, t, k, der, ext)


_splev = defvjp(_splev, _splev_x_vjp, None, _splev_c_vjp, name=f"{_MODULE}.splev")
# In x the VJP is elementwise (g times the next derivative): the same product is the JVP.
defjvp(_splev, _splev_x_vjp, None, _splev_c_jvp)


def _spline_tuple(name, tck):
    """``(t, c, k)`` of a tck tuple, refusing knots that require grad."""
    t, c, k = tck
    if holds_grad(t, requires_grad=True):
        raise not_differentiable(name, "no gradient in the knots t (only in c and the points)")
    return t, c, k


def _parametric(c):
    """SciPy's test in ``splev``: the coefficients of a parametric spline (``splprep``'s list
    of arrays, or a 2-D array) are indexable twice; a list of numbers is one spline's."""
    try:
        c[0][0]
    except Exception:
        return False
    return True


def _make_splev(original):
    @functools.wraps(original)
    def splev(x, tck, der=0, ext=0):
        interpolate = sys.modules[_MODULE]
        if isinstance(tck, interpolate.BSpline) or not (
            grad_enabled() and holds_grad((x, tck), requires_grad=True)
        ):
            return original(x, tck, der, ext)  # a BSpline records its own evaluation
        t, c, k = _spline_tuple(f"{_MODULE}.splev", tck)
        if _parametric(c):  # one spline per coordinate, as SciPy does
            return [splev(x, (t, ci, k), der, ext) for ci in c]
        return _splev(x, t, as_array(c), k, der, ext)

    return splev


def _splint(a, b, t, c, k):
    return _fitpack().splint(a, b, (t, c, k))


def _splint_a_vjp(g, ans, a, b, t, c, k):
    """Minus the spline at ``a`` (splint takes the spline as zero outside the base interval)."""
    return -g * _splev(a, t, c, k, 0, 1)


def _splint_b_vjp(g, ans, a, b, t, c, k):
    return g * _splev(b, t, c, k, 0, 1)


def _splint_c_vjp(g, ans, a, b, t, c, k):
    """``g`` times the integral of each B-spline from ``a`` to ``b`` (itself a splint node)."""
    integrals = [_splint(a, b, t, row, k) for row in _unit_coefficients(t, k, c)]
    return g * np.concatenate([np.stack(integrals), np.zeros(len(c) - len(integrals))])


def _splint_c_jvp(t, ans, a, b, t_knots, c, k):
    return _splint(a, b, t_knots, t, k)  # linear in c


_splint = defvjp(
    _splint, _splint_a_vjp, _splint_b_vjp, None, _splint_c_vjp, None, name=f"{_MODULE}.splint"
)
# The limits are scalars: their VJPs (g times the spline there) are their JVPs.
defjvp(_splint, _splint_a_vjp, _splint_b_vjp, None, _splint_c_jvp, None)


def _make_splint(original):
    @functools.wraps(original)
    def splint(a, b, tck, full_output=0):
        interpolate = sys.modules[_MODULE]
        if isinstance(tck, interpolate.BSpline) or not (
            grad_enabled() and holds_grad((a, b, tck), requires_grad=True)
        ):
            return original(a, b, tck, full_output)
        if full_output:
            raise not_differentiable(f"{_MODULE}.splint with full_output", "wk has no rule")
        t, c, k = _spline_tuple(f"{_MODULE}.splint", tck)
        return _splint(a, b, t, c, k)

    return splint


def _splrep_coefficients(y, fit):
    """The coefficients ``c`` that ``fit(y)`` (splrep with everything else fixed) returns."""
    return fit(y)


def _splrep_y_vjp(g, ans, y, fit):
    """``c = M y`` for fixed knots: ``M.T @ g``, ``M``'s columns the fits of the unit vectors."""
    m = np.shape(y)[0]
    columns = np.stack([fit(row) for row in np.eye(m)], axis=-1)
    return np.tensordot(g, columns, axes=1)


_splrep_coefficients = defvjp(_splrep_coefficients, _splrep_y_vjp, None, name=f"{_MODULE}.splrep")
deflinear(_splrep_coefficients)  # c = M y: the knots are fixed (splrep refuses otherwise)


def _make_splrep(original):
    signature = inspect.signature(original)
    qualified = f"{_MODULE}.splrep"

    @functools.wraps(original)
    def splrep(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        if not (grad_enabled() and holds_grad((args, kwargs), requires_grad=True)):
            return original(*args, **kwargs)
        given = bound.arguments
        for name, value in given.items():
            if name != "y" and holds_grad(value, requires_grad=True):
                raise not_differentiable(qualified, f"no gradient in {name} (only in y)")
        s, w = given.get("s"), given.get("w")
        fixed_knots = given.get("t") is not None or s == 0 or (s is None and w is None)
        if not fixed_knots:
            raise not_differentiable(
                qualified,
                "with s > 0 (the default when w is given) FITPACK places the knots by the data, "
                "a piecewise choice; pass s=0 or the knots t=",
            )
        if given.get("task", 0) == 1:
            raise not_differentiable(qualified, "task=1 continues a fit that has no rule")
        if given.get("full_output"):
            raise not_differentiable(
                f"{qualified} with full_output", "the residual fp has no rule; omit full_output"
            )
        y = given["y"]
        rest = {k: _plain(v) for k, v in given.items() if k != "y"}

        def fit(values):
            return original(**rest, y=values)[1]

        t, _, k = original(**rest, y=_plain(y))
        return t, _splrep_coefficients(y, fit), k

    return splrep


wrap_scipy(_MODULE, "splev", _make_splev)
wrap_scipy(_MODULE, "splint", _make_splint)
wrap_scipy(_MODULE, "splrep", _make_splrep)
