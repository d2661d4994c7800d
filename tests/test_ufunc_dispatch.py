"""How ufunc calls are dispatched: operand mixing, broadcasting, dtypes and ufunc methods."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

import ndgrad as nd
from ndgrad import GradArray
from ndgrad.testing import check_grad


def leaf(values, dtype=float):
    return GradArray(np.asarray(values, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize(
    ("f", "df"),
    [
        (lambda x: 3 - x, lambda x: -np.ones_like(x)),
        (lambda x: x**2, lambda x: 2 * x),
        (lambda x: 2**x, lambda x: np.log(2) * 2**x),
        (lambda x: 1 / x, lambda x: -1 / x**2),
        (lambda x: x / 4, lambda x: np.full_like(x, 0.25)),
        (lambda x: x**0.5, lambda x: 0.5 / np.sqrt(x)),
        (lambda x: -x + 1.5, lambda x: -np.ones_like(x)),
        (lambda x: abs(x), lambda x: np.sign(x)),
    ],
)
def test_python_scalars_on_either_side(f, df):
    values = np.array([0.5, 1.5, 2.5])
    x = leaf(values)
    np.sum(f(x)).backward()
    np.testing.assert_allclose(x.grad, df(values))


def test_plain_ndarray_on_the_left():
    a = np.arange(6.0).reshape(2, 3)
    x = leaf(np.ones((3, 2)))
    np.sum(a @ x).backward()
    np.testing.assert_allclose(x.grad, a.T @ np.ones((2, 2)))


def test_gradients_reduced_over_broadcast_axes():
    x, b = leaf(np.ones((4, 3))), leaf(np.ones(3))
    c = leaf(np.ones((4, 1)))
    np.sum((x + b) * c).backward()
    assert b.grad.shape == (3,) and c.grad.shape == (4, 1)
    np.testing.assert_allclose(b.grad, [4.0, 4.0, 4.0])
    np.testing.assert_allclose(c.grad, [[6.0]] * 4)


def test_0d_broadcast_against_matrix():
    s = leaf(2.0)
    m = np.arange(4.0).reshape(2, 2)
    np.sum(s * m).backward()
    assert s.grad.shape == () and s.grad == 6.0


def test_float32_stays_float32():
    x = leaf([1.0, 2.0], dtype=np.float32)
    y = np.sum(np.exp(x) * 2.0)
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32


def test_mixed_integer_array_in_float_graph():
    x = leaf([1.0, 2.0])
    n = np.array([3, 4])
    np.sum(x * n + n).backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])


def test_ufunc_without_rule_raises_naming_it():
    x = leaf([1.0, 2.0])
    with pytest.raises(nd.NotDifferentiableError, match=r"numpy\.maximum\.reduceat"):
        np.maximum.reduceat(x, [0, 1])


def test_ufunc_without_rule_is_fine_without_grad():
    x = GradArray([1.0, 2.0])
    out = np.maximum.reduceat(x, [0, 1])
    assert isinstance(out, GradArray) and out.shape == (2,)


def test_reduce_with_keyword_arguments():
    x = leaf(np.arange(6.0).reshape(2, 3))
    y = np.add.reduce(x, axis=1, keepdims=True, initial=1.0)
    assert y.shape == (2, 1)
    np.sum(y * y).backward()
    np.testing.assert_allclose(x.grad, 2 * np.repeat(y.values, 3, axis=1))


def test_ndarray_sum_method_records():
    x = leaf(np.arange(6.0).reshape(2, 3))
    x.sum(axis=0).sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((2, 3)))


def test_matmul_operator_and_vectors():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x @ y).backward()
    np.testing.assert_allclose(x.grad, [3.0, 4.0])
    np.testing.assert_allclose(y.grad, [1.0, 2.0])


def test_multiple_output_ufunc():
    x = leaf([1.5, -2.25])
    frac, whole = np.modf(x)
    np.sum(frac * 3 + whole).backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_forward_values_equal_numpy_bit_for_bit():
    values = np.linspace(-2, 2, 7)
    x = leaf(values)
    for f in (np.sin, np.exp, np.tanh, np.cbrt, np.arctan):
        np.testing.assert_array_equal(f(x).values, f(values))


_SAFE = st.floats(-3, 3, allow_nan=False).filter(lambda v: abs(v) > 0.1)
_BINARY = [np.add, np.subtract, np.multiply, np.divide, np.maximum, np.hypot, np.arctan2]


@given(
    st.sampled_from(_BINARY),
    mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    st.data(),
)
def test_binary_ufunc_gradients_on_broadcast_shapes(func, shapes, data):
    a = data.draw(arrays(np.float64, shapes.input_shapes[0], elements=_SAFE))
    b = data.draw(arrays(np.float64, shapes.input_shapes[1], elements=_SAFE))
    if func is np.maximum:
        b = b + 0.05  # keep away from ties, where maximum has a kink
    check_grad(func, a, b, order=1)


def test_maximum_reduce_where_initial_wins_gives_zero_gradient():
    x = leaf([[1.0, 5.0], [-3.0, -2.0]])
    y = np.maximum.reduce(x, axis=1, initial=0.0)  # row 1: initial wins
    np.sum(y).backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0], [0.0, 0.0]])


def test_running_maximum_sends_gradient_to_the_latest_tied_maximum():
    x = leaf([1.0, 3.0, 3.0, 2.0])
    np.sum(np.maximum.accumulate(x)).backward()  # [1, 3, 3, 3]
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 2.0, 0.0])


def test_gufunc_core_dimension_keywords_are_refused_clearly():
    x, y = leaf(np.ones((3, 2))), np.ones((3, 2))
    with pytest.raises(nd.NotDifferentiableError, match="axis="):
        np.vecdot(x, y, axis=0)
    with pytest.raises(nd.NotDifferentiableError, match="axes="):
        np.matmul(x.T, y, axes=[(0, 1), (0, 1), (0, 1)])
    with nd.no_grad():
        np.testing.assert_allclose(np.vecdot(x, y, axis=0).values, [3.0, 3.0])


# --- power at a zero base: the conventions PyTorch and autograd share ---------------------------


@pytest.mark.parametrize(
    "f", [lambda x: x**0, lambda x: np.power(x, 0.0), lambda x: np.float_power(x, 0)]
)
def test_constant_power_of_zero_has_zero_gradient_to_every_order(f):
    """``x ** 0`` is 1 everywhere, so its derivatives at 0 are 0 (not ``0 * 0 ** -1 = NaN``)."""
    assert nd.grad(f)(0.0) == 0.0
    assert nd.grad(nd.grad(f))(0.0) == 0.0
    assert np.array_equal(nd.grad(lambda x: np.sum(f(x)))(np.zeros(3)), np.zeros(3))


@pytest.mark.parametrize(
    ("y", "dx", "dy"),
    [
        # d/dx x**y = y * x**(y-1) at x = 0: its limit from the right, as in PyTorch
        (2.0, 0.0, 0.0),
        (1.0, 1.0, 0.0),
        (3.0, 0.0, 0.0),
        (0.5, np.inf, 0.0),
        # d/dy x**y = x**y * log(x): 0 at x = 0 for y >= 0; for y < 0 inf * log(0) = -inf
        (0.0, 0.0, 0.0),
        (-1.0, -np.inf, -np.inf),
    ],
)
def test_power_at_a_zero_base(y, dx, dy):
    with np.errstate(divide="ignore", invalid="ignore"):
        assert nd.grad(lambda x: np.power(x, y))(0.0) == dx
        assert nd.grad(lambda y: np.power(0.0, y))(y) == dy


def test_power_away_from_zero_matches_finite_differences_to_second_order():
    """The masked exponent touches only x == 0 == y: the mixed derivative at y == 0 stays 1/x."""
    x, y = np.array([0.5, 1.5, 2.0, 0.7]), np.array([0.0, 2.0, -1.5, 0.0])
    check_grad(np.power, x, y, order=2)
    check_grad(np.float_power, x, y, order=2)
    # d/dy d/dx x**y = x**(y-1) * (1 + y log x), which is 1/x at y == 0
    mixed = nd.grad(lambda y: nd.grad(lambda x: np.power(x, y))(2.0))(0.0)
    assert mixed == pytest.approx(0.5)


def test_the_double_where_documented_in_the_readme():
    """``np.where`` does not stop the NaN of the branch not taken; a safe input does."""
    x = np.array([0.0, 4.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        trap = nd.grad(lambda x: np.sum(np.where(x > 0, np.sqrt(x), 0.0)))(x)
    assert np.isnan(trap[0]) and trap[1] == 0.25

    def fixed(x):
        safe = np.where(x > 0, x, 1.0)
        return np.sum(np.where(x > 0, np.sqrt(safe), 0.0))

    np.testing.assert_array_equal(nd.grad(fixed)(x), [0.0, 1 / (2 * np.sqrt(4.0))])


_ZERO_D_OPERANDS = {
    "0-d array": lambda v: np.array(v),
    "NumPy scalar": np.float64,
    "Python float": float,
    "float32 0-d": lambda v: np.array(v, np.float32),
}


@pytest.mark.parametrize("other", sorted(_ZERO_D_OPERANDS))
@pytest.mark.parametrize("ufunc", [np.add, np.multiply, np.arctan2, np.hypot, np.greater])
def test_a_ufunc_of_0d_operands_gives_what_numpy_gives_for_scalars(ufunc, other):
    """All operands 0-d: NumPy returns a scalar. The compiled call asks for the 0-d array
    (``out=...``, NumPy 2.3 on): the same value bit for bit, a 0-d GradArray that in-place
    operators rebind as they rebind a scalar, NumPy's scalar where the result is not float,
    and the gradient of the closed form."""
    x = leaf(0.7)
    y = _ZERO_D_OPERANDS[other](1.3)
    want = ufunc(np.float64(0.7), y)
    got = ufunc(x, y)
    if ufunc is np.greater:
        assert type(got) is type(want) and got == want
        return
    assert type(got) is GradArray and got.shape == () and got.dtype == np.result_type(want)
    assert got.tobytes() == np.asarray(want).tobytes()
    kept = got
    got += 1.0  # rebinds, as on the scalar NumPy gave
    assert kept is not got and kept.tobytes() == np.asarray(want).tobytes()
    kept.backward()
    b = float(y)
    dx = {
        np.add: 1.0,
        np.multiply: b,
        np.arctan2: b / (0.7**2 + b**2),
        np.hypot: 0.7 / np.hypot(0.7, b),
    }[ufunc]
    np.testing.assert_allclose(x.grad, dx, rtol=1e-6 if other == "float32 0-d" else 1e-12)


_OPERATORS = {
    "+": (lambda a, b: a + b, np.add, lambda a, b: (1.0, 1.0)),
    "-": (lambda a, b: a - b, np.subtract, lambda a, b: (1.0, -1.0)),
    "*": (lambda a, b: a * b, np.multiply, lambda a, b: (b, a)),
    "/": (lambda a, b: a / b, np.true_divide, lambda a, b: (1 / b, -a / b**2)),
}
_OTHER_OPERANDS = {
    "GradArray": lambda v: leaf(v),
    "ndarray": lambda v: np.array(v),
    "Python float": lambda v: float(v[0]),
    "Python int": lambda v: 3,
    "Python complex": lambda v: complex(v[0], 0.5),
    "NumPy scalar": lambda v: np.float32(v[0]),
    "list": lambda v: [float(e) for e in v],
    "bool": lambda v: True,
}


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("other", sorted(_OTHER_OPERANDS))
@pytest.mark.parametrize("op", sorted(_OPERATORS))
def test_arithmetic_operators_are_numpys_ufuncs(op, other, side):
    """``x + y`` and the other operators (compiled number slots for the common operands,
    ndarray's own operators for the rest) give the ufunc's value bit for bit, its dtype, and
    the closed-form gradient, whichever side the GradArray is on."""
    operator, ufunc, partials = _OPERATORS[op]
    x = leaf([0.7, 1.9])
    y = _OTHER_OPERANDS[other]([1.3, 0.4])
    plain = lambda a: a.detach() if isinstance(a, GradArray) else a
    a, b = (x, y) if side == "left" else (y, x)
    got = operator(a, b)
    want = ufunc(plain(a), plain(b))
    assert type(got) is GradArray and got.dtype == want.dtype
    assert got.tobytes() == np.asarray(want).tobytes()
    np.sum(np.real(got)).backward()
    da, db = partials(np.asarray(plain(a)) * 1.0, np.asarray(plain(b)) * 1.0)
    expected = np.real(np.broadcast_to(da if side == "left" else db, (2,)))
    if other == "GradArray":  # y is a leaf too
        np.testing.assert_allclose(
            y.grad, np.real(np.broadcast_to(db if side == "left" else da, (2,)))
        )
    np.testing.assert_allclose(x.grad, expected, rtol=1e-6 if other == "NumPy scalar" else 1e-12)


def test_matmul_and_negation_operators_are_numpys_ufuncs():
    x, m = leaf([0.7, 1.9]), np.array([[1.0, 2.0], [3.0, -1.0]])
    for got, want in [(m @ x, m @ x.detach()), (x @ m, x.detach() @ m), (-x, -x.detach())]:
        assert type(got) is GradArray and got.tobytes() == want.tobytes()
    np.sum(m @ x + x @ m - x).backward()
    np.testing.assert_allclose(x.grad, m.sum(axis=0) + m.sum(axis=1) - 1.0)


def test_operators_still_defer_to_operands_that_ask_for_it():
    """An operand with ``__array_ufunc__ = None`` gets its reflected operator (NumPy defers to
    it); a subclass of GradArray takes the general route and keeps its type."""

    class Deferring:
        __array_ufunc__ = None

        def __radd__(self, other):
            return "deferred"

        def __rmul__(self, other):
            return "deferred"

    x = leaf([0.7, 1.9])
    assert x + Deferring() == "deferred" and x * Deferring() == "deferred"

    class Tagged(GradArray):
        pass

    t = np.asarray([1.0, 2.0]).view(Tagged)
    assert type(x + t) in (GradArray, Tagged) and np.array_equal(x + t, [1.7, 3.9])


_RECORDED: list = []


class _Recorder(np.ndarray):
    """Records the ufunc NumPy's operator asks for, then declines."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _RECORDED.append(ufunc)
        return NotImplemented


def _numpys_call(values, exponent):
    _RECORDED.clear()
    try:
        np.asarray(values).view(_Recorder) ** exponent
    except TypeError:
        pass
    return _RECORDED[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
@pytest.mark.parametrize(
    "exponent", [2, 3, -1, 0.5, 2.0, -0.5, 1, 0, 3.7, np.float64(2.0), True, 7], ids=repr
)
@pytest.mark.parametrize("shape", [(3,), ()])
def test_the_power_operator_calls_what_numpys_operator_calls(dtype, exponent, shape):
    """``x ** e`` (a compiled slot for the exponents NumPy's operator computes with another
    ufunc or ``np.power``, read off NumPy; its operator for the rest) records the ufunc that
    NumPy's operator calls, gives its value bit for bit and the closed-form gradient."""
    values = np.array([0.5, 1.5, 2.5] if shape else 1.5, dtype)
    x = GradArray(np.array(values), requires_grad=True)
    got = x**exponent
    want = np.asarray(values) ** exponent
    assert got.tobytes() == np.asarray(want).tobytes() and got.dtype == want.dtype
    assert got._node.name == f"numpy.{_numpys_call(values, exponent).__name__}"
    np.sum(np.real(got)).backward()
    e = float(exponent)
    expected = np.real(e * np.asarray(values, complex) ** (e - 1)) if e else np.zeros(shape)
    np.testing.assert_allclose(x.grad, expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("call", ["operator", "ufunc"])
def test_an_object_array_operand_runs_each_elements_method_once(call):
    """dtype=object goes to the general route before anything is computed: the elements'
    Python methods run once per element (they ran two or three times, once per route tried),
    under no_grad as in NumPy, and with grad mode on ndgrad refuses the object result."""
    calls = []

    class Element:
        def __radd__(self, other):
            calls.append(other)
            return 1.0

    objects = np.array([Element(), Element()], dtype=object)
    x = leaf([1.0, 2.0])
    add = (lambda a, b: a + b) if call == "operator" else np.add
    with nd.no_grad():
        got = add(x, objects)
    assert list(got) == [1.0, 1.0] and calls == [1.0, 2.0]
    calls.clear()
    with pytest.raises(nd.NotDifferentiableError, match="dtype=object"):
        add(x, objects)
    assert len(calls) == 2
