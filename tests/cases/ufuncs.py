"""Cases for the ufunc rules (ndgrad/_rules/ufuncs.py)."""

from __future__ import annotations

import numpy as np

import ndgrad

from ._case import A, C, Case, G, P, R, U, binary, calls, unary

CASES = {
    # arithmetic
    np.add: binary(),
    np.subtract: binary(),
    np.multiply: binary(),
    np.divide: binary(R, P),
    np.negative: unary(),
    np.positive: unary(),
    np.reciprocal: unary(P),
    np.square: unary(),
    np.sqrt: unary(P),
    np.cbrt: unary(P),
    np.conjugate: unary(C),
    np.power: binary(P, R),
    np.float_power: binary(P, R),
    np.remainder: binary(A, G),
    np.fmod: binary(A, G),
    np.floor_divide: binary(A, G),
    np.divmod: Case(calls((A(3), G(3)), (A(2, 3), G(3)))),
    np.modf: unary(A),
    # exponents and logarithms
    np.exp: unary(),
    np.exp2: unary(),
    np.expm1: unary(),
    np.log: unary(P),
    np.log2: unary(P),
    np.log10: unary(P),
    np.log1p: unary(P),
    np.logaddexp: binary(),
    np.logaddexp2: binary(),
    np.ldexp: Case(calls((R(3), np.array([1, -2, 3])), (R(2, 3), np.array(2)))),
    np.frexp: unary(A),
    # trigonometric and hyperbolic
    np.sin: unary(),
    np.cos: unary(),
    np.tan: unary(U),
    np.arcsin: unary(U),
    np.arccos: unary(U),
    np.arctan: unary(),
    np.arctan2: binary(P, P),
    np.hypot: binary(P, P),
    np.sinh: unary(),
    np.cosh: unary(),
    np.tanh: unary(),
    np.arcsinh: unary(),
    np.arccosh: unary(G),
    np.arctanh: unary(U),
    np.deg2rad: unary(),
    np.radians: unary(),
    np.rad2deg: unary(),
    np.degrees: unary(),
    # sign, magnitude, extrema (inputs away from kinks and ties)
    np.absolute: Case(calls((A(3),), (A(2, 3),), (C(3),))),
    np.fabs: unary(A),
    np.copysign: binary(A, A),
    np.heaviside: binary(A, R),
    np.maximum: binary(A, A),
    np.minimum: binary(A, A),
    np.fmax: binary(A, A),
    np.fmin: binary(A, A),
    np.sign: unary(A),
    np.floor: unary(A),
    np.ceil: unary(A),
    np.trunc: unary(A),
    np.rint: unary(A),
    np.spacing: unary(A),
    np.nextafter: binary(A, A),
    # linear algebra ufuncs, 1-d operands promoted as matmul promotes them
    np.matmul: Case(
        calls(
            (R(2, 3), R(3, 4)),
            (R(3), R(3, 2)),
            (R(2, 3), R(3)),
            (R(3), R(3)),
            (R(2, 2, 3), R(3, 2)),
            (R(1, 2, 3), R(4, 3, 2)),
            (C(2, 3), C(3, 2)),
        )
    ),
    np.vecdot: Case(calls((R(2, 3), R(3)), (R(3), R(3)), (C(2, 3), C(2, 3)))),
    np.matvec: Case(calls((R(2, 3), R(3)), (R(4, 2, 3), R(1, 3)), (C(2, 3), C(3)))),
    np.vecmat: Case(calls((R(2), R(2, 3)), (R(4, 2), R(2, 3)), (C(2), C(2, 3)))),
    # ufunc methods
    (np.add, "reduce"): Case(
        calls((R(2, 3),), axis=[0, 1, None, (0, 1)], keepdims=[False, True])
        + calls((R(2, 3),), where=[np.array([True, False, True])], initial=[1.0])
    ),
    (np.multiply, "reduce"): Case(
        calls((R(2, 3),), axis=[0, 1, None], keepdims=[False, True])
        + calls((np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]]),), axis=[1, None])
        + calls((R(2, 3),), where=[np.array([True, False, True])], initial=[1.5])
    ),
    (np.maximum, "reduce"): Case(calls((R(2, 3),), axis=[0, 1, None], keepdims=[False, True])),
    (np.minimum, "reduce"): Case(calls((R(2, 3),), axis=[0, 1, None], keepdims=[False, True])),
    (np.logaddexp, "reduce"): Case(
        calls((R(2, 3),), axis=[0, 1], keepdims=[False, True])
        + calls((R(4),), axis=[None], where=[np.array([True, False, True, True])], initial=[0.5])
    ),
    (np.logaddexp2, "reduce"): Case(
        calls((R(2, 3),), axis=[0, 1], keepdims=[False, True]) + calls((R(4),), initial=[0.5])
    ),
    (np.fmax, "reduce"): Case(calls((R(2, 3),), axis=[0, 1])),
    (np.fmin, "reduce"): Case(calls((R(2, 3),), axis=[0, 1])),
    (np.add, "accumulate"): Case(calls((R(2, 3),), axis=[0, 1])),
    # increasing indices, a repeated and a decreasing one (NumPy then takes one element)
    (np.add, "reduceat"): Case(
        calls((R(6), np.array([0, 2, 5])))
        + calls((R(6), np.array([0, 3, 1, 4, 4])))
        + calls((R(3, 4), np.array([0, 2])), axis=[0, 1])
        + calls((C(5), np.array([1, 3])))
    ),
    (np.multiply, "accumulate"): Case(
        calls((R(2, 3),), axis=[0, 1]) + calls((np.array([1.5, 0.0, 2.0, 0.0]),), axis=[0])
    ),
    (np.add, "at"): Case(
        [((R(4), np.array([0, 1, 1, 3]), R(4)), {}), ((R(3, 2), (np.array([0, 2]),), R(2)), {})],
        call=lambda a, indices, b: _add_at(a, indices, b),
    ),
}


def _add_at(a, indices, b):
    out = ndgrad.asarray(a) * 1.0  # a GradArray copy: add.at writes in place
    np.add.at(out, indices, b)
    return out


CASES[np.real] = Case(calls((R(3),), (C(2, 3),)))
CASES[np.imag] = Case(calls((R(3),), (C(2, 3),)))

# ufunc.outer: operands of different ranks, positive so that every ufunc's domain holds
for _f in (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum,
           np.hypot, np.arctan2, np.logaddexp):  # fmt: skip
    CASES[(_f, "outer")] = Case(calls((P(2), P(3)), (P(2, 2), P(3)), (P(), P(2))))

# running extrema, on distinct values (no ties)
for _f in (np.maximum, np.minimum, np.fmax, np.fmin):
    CASES[(_f, "accumulate")] = Case(calls((A(2, 3),), axis=[0, 1]) + calls((A(5),), axis=[0]))

# complex values: forward mode derives the JVP of a HOLOMORPHIC ufunc from its rule; the others
# (absolute, sign, conjugate, real, imag) have their own
_C_UNARY = (np.negative, np.positive, np.reciprocal, np.square, np.sqrt, np.exp, np.exp2,
            np.expm1, np.log, np.log2, np.log10, np.log1p, np.sin, np.cos, np.tan, np.arcsin,
            np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh,
            np.rint, np.sign)  # fmt: skip
for _f in _C_UNARY:
    CASES[_f] = Case(CASES[_f].calls + calls((C(3),), (C(2, 2),)))
for _f in (np.add, np.subtract, np.multiply, np.divide, np.power, np.float_power,
           np.maximum, np.minimum, np.fmax, np.fmin):  # fmt: skip
    CASES[_f] = Case(CASES[_f].calls + calls((C(3), C(3)), (C(2, 3), C(3))))
for _f in (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum):
    CASES[(_f, "outer")].calls += calls((C(2), C(3)))
CASES[(np.add, "reduce")].calls += calls((C(2, 3),), axis=[1])
CASES[(np.multiply, "reduce")].calls += calls((C(2, 3),), axis=[1])
CASES[(np.add, "accumulate")].calls += calls((C(2, 3),), axis=[1])
# running products through one, two and three zeros (the tangent is exact to second order there)
CASES[(np.multiply, "accumulate")].calls += calls(
    (np.array([[0.0, 2.0, 0.0, 3.0, 0.0], [1.5, -2.0, 0.5, 0.0, 1.2]]),), axis=[1]
) + calls((C(2, 3),), axis=[1])
