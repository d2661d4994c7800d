"""Gradient rules for NumPy's ufuncs, grouped as in NumPy's "Mathematical functions" chapter.

A rule is ``rule(g, ans, *inputs) -> cotangent`` for one input: ``g`` is the cotangent of the
output, ``ans`` the output. Rules are written as if nothing was broadcast: the engine sums each
cotangent back to its input's shape. Complex inputs follow PyTorch's convention: the cotangent is
``g * conj(df/dz)`` for a holomorphic ``f``. Piecewise-constant ufuncs have zero gradient.

Ufunc methods are keyed ``(ufunc, method)``: ``(np.add, "reduce")`` is ``np.add.reduce``.

Forward mode: a single-output elementwise ufunc derives its real JVP from its rule (its
Jacobian is diagonal, and every rule here is ``g`` times a factor); the complex one only for
those listed in ``HOLOMORPHIC``. The hot and the non-holomorphic ones, the methods, the
gufuncs and the multi-output ufuncs get their own (``defjvp``, ``deflinear``,
``defmultilinear``), beside their VJP rules.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import definplace, defjvp, deflinear, defmultilinear, defunit, defvjp
from ndgrad._registry import HOLOMORPHIC, VJP_RULES, mark_no_gradient, unbroadcast
from ndgrad._rules._common import conj, expand_reduced, is_complex, ndim, zeros_of
from ndgrad._rules.indexing import scatter_add
from ndgrad._rules.reductions import cumprod_grad, cumprod_tangent, prod_vjp

# --- arithmetic -------------------------------------------------------------------------------
defvjp(np.add, lambda g, ans, x, y: g, lambda g, ans, x, y: g)
defvjp(np.subtract, lambda g, ans, x, y: g, lambda g, ans, x, y: -g)
defvjp(np.multiply, lambda g, ans, x, y: g * conj(y), lambda g, ans, x, y: g * conj(x))
defvjp(np.divide, lambda g, ans, x, y: g / conj(y), lambda g, ans, x, y: -g * conj(ans / y))
defvjp(np.negative, lambda g, ans, x: -g)
defvjp(np.positive, lambda g, ans, x: g)
defvjp(np.reciprocal, lambda g, ans, x: -g * conj(ans * ans))
defvjp(np.square, lambda g, ans, x: 2 * g * conj(x))
defvjp(np.sqrt, lambda g, ans, x: g / (2 * conj(ans)))
defvjp(np.cbrt, lambda g, ans, x: g / (3 * ans * ans))
defvjp(np.conjugate, lambda g, ans, x: conj(g))
# the hottest ones get rules that read nothing they need not and hold for complex values too
defjvp(np.add, lambda t, ans, x, y: t, lambda t, ans, x, y: t)
defjvp(np.subtract, lambda t, ans, x, y: t, lambda t, ans, x, y: -t)
defjvp(np.multiply, lambda t, ans, x, y: t * y, lambda t, ans, x, y: x * t)
defjvp(np.negative, lambda t, ans, x: -t)
defjvp(np.positive, lambda t, ans, x: t)
deflinear(np.conjugate)  # real-linear: the tangent of conj(z) is conj(t)


def _power_vjp_base(g, ans, x, y):
    """d/dx x**y = y * x**(y-1), and 0 where y == 0 (x**0 is constant, even at x = 0).

    Where ``x == 0`` and ``y == 0`` the exponent ``y - 1`` is replaced by 1, so that ``0 ** -1``
    never meets the zero factor (PyTorch and autograd give 0 there too): ``x ** 0`` and
    ``np.power(x, 0.0)`` have gradient 0 at ``x = 0`` as everywhere, to every order. Only those
    points are masked, so that the mixed derivative in ``y`` stays exact wherever ``x != 0``.
    Elsewhere at ``x = 0`` the value is the limit: 0 for ``y > 1``, 1 for ``y == 1``, inf for
    ``0 < y < 1`` and for ``y < 0``.
    """
    return g * conj(y * np.power(x, np.where((y == 0) & (x == 0), 1, y - 1)))


def _power_vjp_exponent(g, ans, x, y):
    """d/dy x**y = x**y * log(x); 0 where x == 0 and Re(y) >= 0 (PyTorch's and autograd's choice).

    At ``x = 0`` the one-sided limit for ``y > 0`` is 0, and ``0 ** y`` is taken as constant
    in ``y`` at ``y == 0``; for ``y < 0`` (``0 ** y`` is inf) the value stays
    ``inf * log(0) = -inf``, as in PyTorch.
    """
    at_zero = (x == 0) & (np.real(y) >= 0)
    return g * conj(np.where(at_zero, 0, ans * np.log(np.where(at_zero, 1, x))))


defvjp(np.power, _power_vjp_base, _power_vjp_exponent)
defvjp(np.float_power, _power_vjp_base, _power_vjp_exponent)

# remainder and fmod are x - k*y with k piecewise constant: floor(x/y) or trunc(x/y).
defvjp(np.remainder, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.floor_divide(x, y))
defvjp(np.fmod, lambda g, ans, x, y: g, lambda g, ans, x, y: -g * np.trunc(np.divide(x, y)))
defvjp(np.floor_divide, lambda g, ans, x, y: zeros_of(g), lambda g, ans, x, y: zeros_of(g))
# divmod's outputs are (floor_divide, remainder): only the remainder carries a gradient.
defvjp(np.divmod, lambda g, ans, x, y: g[1], lambda g, ans, x, y: -g[1] * ans[0])
defjvp(np.divmod, lambda t, ans, x, y: (None, t), lambda t, ans, x, y: (None, -t * ans[0]))
# modf's outputs are (fractional part, integral part): d frac/dx = 1, d int/dx = 0.
defvjp(np.modf, lambda g, ans, x: g[0])
defjvp(np.modf, lambda t, ans, x: (t, None))

# --- exponents and logarithms -----------------------------------------------------------------
defvjp(np.exp, lambda g, ans, x: g * conj(ans))
defvjp(np.exp2, lambda g, ans, x: g * conj(ans) * np.log(2))
defvjp(np.expm1, lambda g, ans, x: g * conj(ans + 1))
defvjp(np.log, lambda g, ans, x: g / conj(x))
defvjp(np.log2, lambda g, ans, x: g / (conj(x) * np.log(2)))
defvjp(np.log10, lambda g, ans, x: g / (conj(x) * np.log(10)))
defvjp(np.log1p, lambda g, ans, x: g / conj(1 + x))
# d/dx log(e^x + e^y) = e^(x - ans): the softmax weight, never overflows.
defvjp(
    np.logaddexp,
    lambda g, ans, x, y: g * np.exp(x - ans),
    lambda g, ans, x, y: g * np.exp(y - ans),
)
defvjp(
    np.logaddexp2,
    lambda g, ans, x, y: g * np.exp2(x - ans),
    lambda g, ans, x, y: g * np.exp2(y - ans),
)
# ldexp(x, n) = x * 2**n with an integer n: the exponent gets no gradient.
defvjp(np.ldexp, lambda g, ans, x, n: g * np.ldexp(1.0, n), None)
# frexp's outputs are (mantissa, exponent) with x = m * 2**e: dm/dx = 2**-e.
defvjp(np.frexp, lambda g, ans, x: g[0] * np.ldexp(1.0, -ans[1]))
defjvp(np.frexp, lambda t, ans, x: (t * np.ldexp(1.0, -ans[1]), None))

# --- trigonometric and hyperbolic -------------------------------------------------------------
defvjp(np.sin, lambda g, ans, x: g * conj(np.cos(x)))
defvjp(np.cos, lambda g, ans, x: -g * conj(np.sin(x)))
defvjp(np.tan, lambda g, ans, x: g * conj(1 + ans * ans))
defvjp(np.arcsin, lambda g, ans, x: g / conj(np.sqrt(1 - x * x)))
defvjp(np.arccos, lambda g, ans, x: -g / conj(np.sqrt(1 - x * x)))
defvjp(np.arctan, lambda g, ans, x: g / conj(1 + x * x))
defvjp(
    np.arctan2,
    lambda g, ans, x1, x2: g * x2 / (x1 * x1 + x2 * x2),
    lambda g, ans, x1, x2: -g * x1 / (x1 * x1 + x2 * x2),
)
defvjp(np.hypot, lambda g, ans, x1, x2: g * x1 / ans, lambda g, ans, x1, x2: g * x2 / ans)
defvjp(np.sinh, lambda g, ans, x: g * conj(np.cosh(x)))
defvjp(np.cosh, lambda g, ans, x: g * conj(np.sinh(x)))
defvjp(np.tanh, lambda g, ans, x: g * conj(1 - ans * ans))
defvjp(np.arcsinh, lambda g, ans, x: g / conj(np.sqrt(x * x + 1)))
# sqrt(x - 1) * sqrt(x + 1), not sqrt(x*x - 1): the latter takes the wrong branch for complex x
# with Re(x) < 0; both agree for real x > 1.
defvjp(np.arccosh, lambda g, ans, x: g / conj(np.sqrt(x - 1) * np.sqrt(x + 1)))
defvjp(np.arctanh, lambda g, ans, x: g / conj(1 - x * x))
defvjp(np.deg2rad, lambda g, ans, x: g * (np.pi / 180))
defvjp(np.radians, lambda g, ans, x: g * (np.pi / 180))
defvjp(np.rad2deg, lambda g, ans, x: g * (180 / np.pi))
defvjp(np.degrees, lambda g, ans, x: g * (180 / np.pi))

# --- sign, magnitude and extrema -----------------------------------------------------------------


def _absolute_vjp(g, ans, x):
    """Real: g * sign(x), so the subgradient at 0 is 0. Complex: g * z / |z| (0 at z = 0)."""
    if is_complex(x):
        return g * x / np.where(ans == 0, 1, ans)
    return g * np.sign(x)


def _absolute_jvp(t, ans, x):
    """Real: t * sign(x). Complex: d|z| = Re(conj(z) t) / |z| (0 at z = 0, as the VJP)."""
    if is_complex(x):
        return np.real(np.conj(x) * t) / np.where(ans == 0, 1, ans)
    return t * np.sign(x)


defvjp(np.absolute, _absolute_vjp)
defjvp(np.absolute, _absolute_jvp)
defvjp(np.fabs, lambda g, ans, x: g * np.sign(x))
# copysign(x, y) = |x| * sign(y): d/dx = sign(x) * sign(ans); y only chooses the sign.
defvjp(
    np.copysign,
    lambda g, ans, x1, x2: g * np.sign(x1) * np.sign(ans),
    lambda g, ans, x1, x2: zeros_of(g),
)
# heaviside(x, h0) is 0, h0 or 1: only h0, used where x == 0, carries a gradient.
defvjp(
    np.heaviside,
    lambda g, ans, x1, x2: zeros_of(g),
    lambda g, ans, x1, x2: g * (x1 == 0),
)


def _tie_share(x, ans, other):
    """Where ``x`` is the extremum: 1, or 1/2 on a tie with ``other`` (ties are split evenly)."""
    return (x == ans) / (1.0 + (x == other))


# maximum/minimum/fmax/fmin send g to the input that was chosen; a tie gives each half, as in
# PyTorch and autograd. fmax/fmin choose the non-NaN input, so it alone gets the gradient.
for _f in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp(
        _f,
        lambda g, ans, x1, x2: g * _tie_share(x1, ans, x2),
        lambda g, ans, x1, x2: g * _tie_share(x2, ans, x1),
    )


def _sign_vjp(g, ans, x):
    """Real: 0 (piecewise constant). Complex: sign(z) = z/|z|, so g - sign * Re(g * conj(sign)),
    divided by |z| (PyTorch's ``sgn`` rule); 0 at z = 0, where z/|z| has no derivative."""
    if not is_complex(x):
        return zeros_of(g)
    r = np.abs(x)
    return np.where(r == 0, 0, (g - ans * np.real(g * np.conj(ans))) / np.where(r == 0, 1, r))


defvjp(np.sign, _sign_vjp)
# The map t -> (t - s Re(conj(s) t)) / |z| is its own real transpose: the JVP is the VJP's
# formula (0 for real x, where sign is piecewise constant).
defjvp(np.sign, _sign_vjp)
for _f in (np.floor, np.ceil, np.trunc, np.rint, np.spacing):
    defvjp(_f, lambda g, ans, x: zeros_of(g))
# nextafter(x, y) moves x by one ulp towards y: a step function of y, identity-like in x.
defvjp(np.nextafter, lambda g, ans, x1, x2: g, lambda g, ans, x1, x2: zeros_of(g))

# --- linear algebra ufuncs --------------------------------------------------------------------


def _mT(a):
    # a plain array's own method: NumPy's function adds three Python calls on the hot path
    return a.swapaxes(-1, -2) if type(a) is np.ndarray else np.swapaxes(a, -1, -2)


def _matmul_vjp_x1(g, ans, x1, x2):
    """g @ x2^H, with 1-d operands promoted as matmul promotes them (single NumPy calls: under
    create_graph and in forward mode each call here is a recorded node; ``ndim`` is np.ndim
    compiled)."""
    x2 = conj(x2)
    n1, n2 = ndim(x1), ndim(x2)
    if n1 == 1 and n2 == 1:
        return g * x2
    if n2 == 1:
        return g[..., None] * x2
    if n1 == 1:
        return np.matvec(x2, g)
    return g @ _mT(x2)


def _matmul_vjp_x2(g, ans, x1, x2):
    """x1^H @ g, with 1-d operands promoted as matmul promotes them."""
    x1 = conj(x1)
    n1, n2 = ndim(x1), ndim(x2)
    if n1 == 1 and n2 == 1:
        return g * x1
    if n1 == 1:
        return x1[:, None] * g[..., None, :]
    if n2 == 1:
        return np.matvec(_mT(x1), g)
    return _mT(x1) @ g


defvjp(np.matmul, _matmul_vjp_x1, _matmul_vjp_x2)

# vecdot(x1, x2) = sum(conj(x1) * x2, axis=-1); matvec(A, v) = A @ v; vecmat(v, A) = conj(v) @ A.
defvjp(
    np.vecdot,
    lambda g, ans, x1, x2: np.expand_dims(conj(g), -1) * x2,
    lambda g, ans, x1, x2: np.expand_dims(g, -1) * x1,
)
defvjp(
    np.matvec,
    lambda g, ans, x1, x2: np.expand_dims(g, -1) * np.expand_dims(conj(x2), -2),
    lambda g, ans, x1, x2: np.matvec(_mT(conj(x1)), g),
)
defvjp(
    np.vecmat,
    lambda g, ans, x1, x2: np.matvec(x2, conj(g)),
    lambda g, ans, x1, x2: np.expand_dims(x1, -1) * np.expand_dims(g, -2),
)
# each is linear in each operand (real-linear in the conjugated one of vecdot and vecmat)
defmultilinear(np.matmul, np.vecdot, np.matvec, np.vecmat)

# --- in place, for large arrays ---------------------------------------------------------------
# The hottest rules again, as the same arithmetic written into ``g``: backward calls them for a
# large cotangent that nobody else holds and only one rule reads (``Primitive.set_inplace``),
# and so allocates no array for them. On large arrays, memory traffic and fresh pages bound
# the time, not arithmetic.


def _into_g(op, g, factor):
    """``op(g, factor)`` written into ``g``; a new array where the result would not have g's
    dtype (a ufunc's ``dtype=`` narrower than an input) or the factor is a list, as the rule's
    own form gives."""
    if isinstance(factor, np.ndarray):
        fits = np.promote_types(g.dtype, factor.dtype) == g.dtype
    else:  # a Python or NumPy scalar; np.result_type would read a list as a dtype
        fits = isinstance(factor, int | float | complex | np.generic)
        fits = fits and np.result_type(g, factor) == g.dtype
    return op(g, factor, out=g) if fits else op(g, factor)


def _negated(g):
    return np.negative(g, out=g)


def _one_minus_square(t):
    """``1 - t * t`` in one new array (the square's, rewritten): tanh's factor without a second
    array as large as the cotangent."""
    square = t * t
    return np.subtract(1, square, out=square)


_INPLACE_RULES = {
    np.negative: {0: lambda g, ans, x: _negated(g)},
    np.multiply: {
        0: lambda g, ans, x, y: _into_g(np.multiply, g, conj(y)),
        1: lambda g, ans, x, y: _into_g(np.multiply, g, conj(x)),
    },
    np.divide: {
        0: lambda g, ans, x, y: _into_g(np.divide, g, conj(y)),
        1: lambda g, ans, x, y: _into_g(np.multiply, _negated(g), conj(ans / y)),
    },
    np.square: {0: lambda g, ans, x: _into_g(np.multiply, np.multiply(g, 2, out=g), conj(x))},
    np.sqrt: {0: lambda g, ans, x: _into_g(np.divide, g, 2 * conj(ans))},
    np.exp: {0: lambda g, ans, x: _into_g(np.multiply, g, conj(ans))},
    np.log: {0: lambda g, ans, x: _into_g(np.divide, g, conj(x))},
    np.log1p: {0: lambda g, ans, x: _into_g(np.divide, g, conj(1 + x))},
    np.sin: {0: lambda g, ans, x: _into_g(np.multiply, g, conj(np.cos(x)))},
    np.cos: {0: lambda g, ans, x: _into_g(np.multiply, _negated(g), conj(np.sin(x)))},
    np.tanh: {0: lambda g, ans, x: _into_g(np.multiply, g, conj(_one_minus_square(ans)))},
}
for _f, _rules in _INPLACE_RULES.items():
    definplace(_f, _rules)

# --- for a spread 1 -----------------------------------------------------------------------------
# ``loss = np.sum(f(x))`` sends ``f`` the cotangent 1 spread over a large ``x`` (zero strides:
# one element). Where the rule is ``g * factor``, that product is the factor itself, exactly, and
# backward calls these forms instead (``Primitive.set_unit``): ``np.sum(np.exp(x) * x)`` then
# copies neither operand. Such a ``g`` is real (float32 or float64), so ``conj`` is the identity.


def _same(g, a):
    """Whether ``a`` is an array of ``g``'s dtype and shape: then ``g * f(a)`` is ``f(a)``."""
    return type(a) is np.ndarray and a.dtype == g.dtype and a.shape == g.shape


def _read_only(a):
    """A read-only view of an array the rule did not make (an operand, the output): the engine
    never adds into it, and copies it before it becomes a ``.grad`` or a transform's result."""
    view = a.view()
    view.flags.writeable = False
    return view


def _negated_sin(x):
    s = np.sin(x)
    return np.negative(s, out=s)


# Each form, where the factor's operands are not of g's dtype and shape, is the rule itself.
_UNIT_RULES = {
    np.multiply: {
        0: lambda g, ans, x, y: _read_only(y) if _same(g, y) else g * conj(y),
        1: lambda g, ans, x, y: _read_only(x) if _same(g, x) else g * conj(x),
    },
    np.exp: {0: lambda g, ans, x: _read_only(ans) if _same(g, ans) else g * conj(ans)},
    np.square: {0: lambda g, ans, x: 2 * x if _same(g, x) else 2 * g * conj(x)},
    np.sin: {0: lambda g, ans, x: np.cos(x) if _same(g, x) else g * conj(np.cos(x))},
    np.cos: {0: lambda g, ans, x: _negated_sin(x) if _same(g, x) else -g * conj(np.sin(x))},
    np.tanh: {
        0: lambda g, ans, x: 1 - ans * ans if _same(g, ans) else g * conj(1 - ans * ans),
    },
}
for _f, _rules in _UNIT_RULES.items():
    defunit(_f, _rules)

# --- complex values in forward mode -----------------------------------------------------------
# Complex-differentiable wherever differentiable, with rules of the form g * conj(f'(x)): the
# complex JVP is conj(rule(conj(t))) = f'(x) t (principal branches, off their cuts). maximum,
# minimum, fmax, fmin (lexicographic on complex values) and rint are locally one argument or a
# constant. Not here: conjugate, real, imag (linear above), absolute, sign (rules above), and
# the real-only ufuncs (complex values never reach them).
HOLOMORPHIC.update(
    {
        np.add, np.subtract, np.multiply, np.divide, np.negative, np.positive, np.reciprocal,
        np.square, np.sqrt, np.power, np.float_power,
        np.exp, np.exp2, np.expm1, np.log, np.log2, np.log10, np.log1p,
        np.sin, np.cos, np.tan, np.arcsin, np.arccos, np.arctan,
        np.sinh, np.cosh, np.tanh, np.arcsinh, np.arccosh, np.arctanh,
        np.maximum, np.minimum, np.fmax, np.fmin, np.rint,
    }
)  # fmt: skip

# --- ufuncs with integer or boolean results ---------------------------------------------------
# They never reach a rule (the engine returns plain arrays for non-float results); listing them
# here classifies them for the coverage report.
mark_no_gradient(
    np.equal, np.not_equal, np.greater, np.greater_equal, np.less, np.less_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isfinite, np.isinf, np.isnan, np.isnat, np.signbit,
    np.bitwise_and, np.bitwise_or, np.bitwise_xor, np.bitwise_not, np.bitwise_count,
    np.left_shift, np.right_shift, np.gcd, np.lcm,
)  # fmt: skip

# --- reductions and accumulations through ufunc methods ---------------------------------------


def _add_reduce_vjp(g, ans, array, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                    where=True):  # fmt: skip
    """Spread ``g`` back over the reduced axes (only where ``where`` selected elements)."""
    g = np.broadcast_to(expand_reduced(g, np.shape(array), axis, keepdims), np.shape(array))
    return g if where is True else g * where


def _extremum_reduce_vjp(g, ans, array, axis=0, dtype=None, out=None, keepdims=False,
                         initial=None, where=True):  # fmt: skip
    """``g`` goes to the elements equal to the extremum, split evenly among ties."""
    shape = np.shape(array)
    ans = expand_reduced(ans, shape, axis, keepdims)
    hit = array == ans
    if where is not True:
        hit = hit & where
    count = np.sum(hit, axis=axis, keepdims=True)  # 0 where ``initial`` won: no element gets g
    return expand_reduced(g, shape, axis, keepdims) * hit / np.maximum(count, 1)


def _multiply_reduce_vjp(g, ans, array, axis=0, dtype=None, out=None, keepdims=False,
                         initial=None, where=True):  # fmt: skip
    """As ``np.prod``: the product of the others, exact (to second order) where x has zeros."""
    return prod_vjp(g, ans, array, axis, dtype, out, keepdims, initial, where)


def _log_sum_weights(power, ans, array, axis, keepdims):
    """``d ans / d x_i`` of ``np.logaddexp.reduce`` (``power`` np.exp) or of
    ``np.logaddexp2.reduce`` (np.exp2): the softmax weights ``power(x_i - ans)``, which never
    overflow."""
    return power(array - expand_reduced(ans, np.shape(array), axis, keepdims))


def _log_sum_reduce_vjp(power):
    def rule(g, ans, array, axis=0, dtype=None, out=None, keepdims=False, initial=None,
             where=True):  # fmt: skip
        weights = _log_sum_weights(power, ans, array, axis, keepdims)
        weights = weights if where is True else weights * where
        return expand_reduced(g, np.shape(array), axis, keepdims) * weights

    rule.__doc__ = "``g`` times the weights of the elements in the sum (``initial`` a constant)."
    return rule


def _log_sum_reduce_jvp(power):
    def rule(t, ans, array, axis=0, dtype=None, out=None, keepdims=False, initial=None,
             where=True):  # fmt: skip
        weights = _log_sum_weights(power, ans, array, axis, keepdims)
        return np.add.reduce(t * weights, axis=axis, keepdims=keepdims, where=where)

    rule.__doc__ = "The weighted sum of the tangents (the VJP's weights)."
    return rule


def _add_accumulate_vjp(g, ans, array, axis=0, dtype=None, out=None):
    """The cotangent of a running sum is the reversed running sum of ``g``."""
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def _multiply_accumulate_vjp(g, ans, array, axis=0, dtype=None, out=None):
    """As ``np.cumprod``: reversed running sums of ``g * ans``, exact where x has zeros."""
    return cumprod_grad(g, ans, array, axis)


def _add_reduceat_vjp(g, ans, array, indices, axis=0, dtype=None, out=None):
    """Each output ``j`` sums the slice ``[s_j, e_j)`` of ``axis``: ``e_j`` the next index, or
    ``s_j + 1`` where that is not larger (NumPy's rule), or the end for the last. Its
    cotangent goes to every element of the slice: marks of ``+g_j`` at ``s_j`` and ``-g_j`` at
    ``e_j`` summed along the axis (slices may overlap when the indices do not increase)."""
    n = np.shape(array)[axis]
    starts = np.asarray(indices, dtype=np.intp)
    nexts = np.append(starts[1:], n)
    ends = np.where(nexts > starts, nexts, starts + 1)
    ends[-1] = n  # the last slice runs to the end
    g = np.moveaxis(g, axis, 0)
    shape = (n + 1, *g.shape[1:])
    marks = scatter_add(g, starts, shape) - scatter_add(g, ends, shape)  # recorded when g is
    return np.moveaxis(np.cumsum(marks[:n], axis=0), 0, axis)


def _add_at_vjp_b(g, ans, a, indices, b=None):
    """``b`` was added at ``indices``: it gets ``g`` read back there."""
    return unbroadcast(g[indices], np.shape(b))


def _add_reduce_jvp(t, ans, array, axis=0, dtype=None, out=None, keepdims=False, initial=None,
                    where=True):  # fmt: skip
    """The sum of the tangents; ``initial`` is a constant term (affine), so it is left out."""
    return np.add.reduce(t, axis=axis, dtype=dtype, keepdims=keepdims, where=where)


def _extremum_reduce_jvp(t, ans, array, axis=0, dtype=None, out=None, keepdims=False,
                         initial=None, where=True):  # fmt: skip
    """The mean of the tangents of the elements equal to the extremum (the VJP's split of ties);
    0 where ``initial`` won."""
    hit = array == expand_reduced(ans, np.shape(array), axis, keepdims)
    if where is not True:
        hit = hit & where
    count = np.add.reduce(hit, axis=axis, keepdims=keepdims, dtype=np.intp)
    # where, not t * hit: a NaN tangent of an element not chosen (fmax skips NaN) stays out
    total = np.add.reduce(np.where(hit, t, 0), axis=axis, keepdims=keepdims)
    return total / np.maximum(count, 1)


def _multiply_reduce_jvp(t, ans, array, axis=0, dtype=None, out=None, keepdims=False,
                         initial=None, where=True):  # fmt: skip
    """sum_i t_i * (product of the others), exact (to second order) where x has zeros."""
    # the VJP of a unit cotangent: the conjugated product of the others (initial included)
    ones = np.ones(ans.shape, dtype=bool)  # bool: no upcast of float32
    others = conj(prod_vjp(ones, None, array, axis, None, None, keepdims, initial, where))
    return np.add.reduce(t * others, axis=axis, keepdims=keepdims, where=where)


def _multiply_accumulate_jvp(t, ans, array, axis=0, dtype=None, out=None):
    """``cumprod``'s tangent (exact at zeros, to second order)."""
    return cumprod_tangent(t, ans, array, axis)


defvjp((np.add, "reduce"), _add_reduce_vjp)
defvjp((np.maximum, "reduce"), _extremum_reduce_vjp)
defvjp((np.minimum, "reduce"), _extremum_reduce_vjp)
defvjp((np.fmax, "reduce"), _extremum_reduce_vjp)
defvjp((np.fmin, "reduce"), _extremum_reduce_vjp)
defvjp((np.multiply, "reduce"), _multiply_reduce_vjp)
defvjp((np.logaddexp, "reduce"), _log_sum_reduce_vjp(np.exp))
defvjp((np.logaddexp2, "reduce"), _log_sum_reduce_vjp(np.exp2))
defvjp((np.add, "accumulate"), _add_accumulate_vjp)
defvjp((np.add, "reduceat"), _add_reduceat_vjp)
defvjp((np.multiply, "accumulate"), _multiply_accumulate_vjp)
defvjp((np.add, "at"), lambda g, ans, a, indices, b=None: g, None, _add_at_vjp_b)

defjvp((np.add, "reduce"), _add_reduce_jvp)
for _f in (np.maximum, np.minimum, np.fmax, np.fmin):
    defjvp((_f, "reduce"), _extremum_reduce_jvp)
defjvp((np.multiply, "reduce"), _multiply_reduce_jvp)
defjvp((np.logaddexp, "reduce"), _log_sum_reduce_jvp(np.exp))
defjvp((np.logaddexp2, "reduce"), _log_sum_reduce_jvp(np.exp2))
deflinear((np.add, "accumulate"))  # no initial value: linear
deflinear((np.add, "reduceat"))  # linear in the array (the indices are integers)
defjvp((np.multiply, "accumulate"), _multiply_accumulate_jvp)
# add.at writes in place: its tangent is a's plus b's scattered (repeated indices add up)
defjvp(
    (np.add, "at"),
    lambda t, ans, a, indices, b=None: t,
    None,
    lambda t, ans, a, indices, b=None: scatter_add(t, indices, np.shape(a)),
)

# --- complex numbers (array functions, grouped with conjugate) -----------------------------------
# For a real loss L of z = x + iy the cotangent is dL/dx + i dL/dy: real() passes g into x,
# imag() passes g into y; on a real input imag() is the constant 0.
defvjp(np.real, lambda g, ans, val: g)
defvjp(np.imag, lambda g, ans, val: g * 1j if is_complex(val) else zeros_of(g))
deflinear(np.real, np.imag)  # real-linear

# --- outer products of binary ufuncs: np.subtract.outer(x, y) is x[..., None, None] - y ---------


def _outer_rule(ufunc, k):
    """Rule ``k`` of ``ufunc.outer``: the ufunc's own rule on the operands spread apart."""
    inner = VJP_RULES[ufunc].rules[k]

    def rule(g, ans, a, b):
        spread_a = np.reshape(a, np.shape(a) + (1,) * np.ndim(b))
        spread_b = np.reshape(b, (1,) * np.ndim(a) + np.shape(b))
        c = inner(g, ans, spread_a, spread_b)
        return unbroadcast(c, np.shape((spread_a, spread_b)[k])).reshape(np.shape((a, b)[k]))

    return rule


OUTER = (np.add, np.subtract, np.multiply, np.divide, np.power, np.maximum, np.minimum,
         np.hypot, np.arctan2, np.logaddexp)  # fmt: skip


def _outer_jvp(ufunc, k):
    """JVP rule ``k`` of ``ufunc.outer``: the ufunc's own VJP rule on the tangent, with the
    operands spread apart (elementwise; ``conj(rule(conj(t)))`` is the JVP of a holomorphic
    ufunc for complex values, and the rule itself for real ones)."""
    inner = VJP_RULES[ufunc].rules[k]

    def rule(t, ans, a, b):
        spread_a = np.reshape(a, np.shape(a) + (1,) * np.ndim(b))
        spread_b = np.reshape(b, (1,) * np.ndim(a) + np.shape(b))
        spread_t = np.reshape(t, np.shape((spread_a, spread_b)[k]))
        return conj(inner(conj(spread_t), ans, spread_a, spread_b))

    return rule


for _f in OUTER:
    defvjp((_f, "outer"), _outer_rule(_f, 0), _outer_rule(_f, 1))
    # the outer products of ufuncs that take complex values need them holomorphic (below)
    assert _f in HOLOMORPHIC or _f in (np.hypot, np.arctan2, np.logaddexp)
    defjvp((_f, "outer"), _outer_jvp(_f, 0), _outer_jvp(_f, 1))

# --- running extrema: np.maximum.accumulate is a cumulative max ---------------------------------


def _running_source(ans, array, axis):
    """For each output, the position along ``axis`` of the element that is the running
    extremum there; on a tie the latest of the equal elements (where ``x == ans`` last)."""
    shape = np.shape(array)
    positions = np.arange(shape[axis]).reshape([-1 if a == axis else 1 for a in range(len(shape))])
    hit = np.where(array == ans, positions, 0)  # where x is the running extremum, its position
    return np.maximum.accumulate(hit, axis=axis)


def _extremum_accumulate_vjp(g, ans, array, axis=0, dtype=None, out=None):
    """Each output's g goes to the element that is the running extremum there."""
    shape = np.shape(array)
    axis = axis % len(shape)
    source = _running_source(ans, array, axis)
    key = tuple(source if a == axis else i for a, i in enumerate(np.indices(shape, sparse=True)))
    # a recorded scatter, so this is differentiable
    return scatter_add(g, key, shape)


def _extremum_accumulate_jvp(t, ans, array, axis=0, dtype=None, out=None):
    """Each output takes the tangent of the element that is the running extremum there."""
    return np.take_along_axis(t, _running_source(ans, array, axis % np.ndim(array)), axis=axis)


for _f in (np.maximum, np.minimum, np.fmax, np.fmin):
    defvjp((_f, "accumulate"), _extremum_accumulate_vjp)
    defjvp((_f, "accumulate"), _extremum_accumulate_jvp)
