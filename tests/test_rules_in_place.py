"""The in-place forms of the hot VJP rules (``Primitive.set_inplace``).

Backward calls a rule's in-place form, which writes into the cotangent ``g``, only when ``g``
is a large plain array that nobody but the pass holds and that no other rule of the node
reads. Each form must give exactly the array its rule gives, and read nothing its rule does not
read; the engine must choose it only in that case. ``NDGRAD_INPLACE_BYTES=0`` runs the whole
suite with the forms on small arrays too (docs/development.rst).

The forms for a spread 1 (``Primitive.set_unit``): where a rule is ``g * factor`` and ``g`` is a
sum's cotangent spread over a large input, the form returns the factor itself, exactly the
rule's array, and read-only when the rule did not make it (an operand, the output).
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import _graph
from ndgrad._define import definplace, defunit
from ndgrad._registry import VJP_RULES
from ndgrad._rules import reductions
from ndgrad._rules.ufuncs import _into_g
from ndgrad.testing import check_grad


def _other_forms(kind):
    """``(name, func, slot)`` of every rule that has a form of ``kind`` ("inplace_rules",
    "unit_rules") other than itself, sorted by name and slot."""
    return sorted(
        (
            (prim.name, func, slot)
            for func, prim in VJP_RULES.items()
            if getattr(prim, kind) is not None
            for slot, rule in enumerate(getattr(prim, kind))
            if rule is not prim.rules[slot]
        ),
        key=lambda case: (case[0], case[2]),
    )


IN_PLACE = _other_forms("inplace_rules")
# operand shapes: equal, the second broadcast, a Python float second (no rule of its own)
SHAPES = {"same": ((3, 4), (3, 4)), "broadcast": ((3, 4), (4,)), "scalar": ((3, 4), None)}
CASES = [
    (*case, shapes)
    for case in IN_PLACE
    for shapes in SHAPES
    if not (shapes == "scalar" and case[2] == 1)
]


def _operands(func, dtype, shapes, rng):
    def one(shape):
        if shape is None:
            return 1.25
        a = rng.uniform(0.5, 2.0, shape)  # inside every function's domain (log, sqrt)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.uniform(0.1, 0.5, shape)
        return a.astype(dtype)

    return [one(shapes[0])] if func.nin == 1 else [one(shapes[0]), one(shapes[1])]


def test_the_hot_rules_have_in_place_forms():
    names = {func.__name__ for _, func, _ in IN_PLACE}
    assert {"exp", "log", "sin", "cos", "tanh", "multiply", "divide", "negative"} <= names


@pytest.mark.parametrize(
    "name, func, slot, shapes", CASES, ids=[f"{n}-{s}-{shapes}" for n, _, s, shapes in CASES]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_an_in_place_form_gives_exactly_its_rules_array(name, func, slot, shapes, dtype):
    rng = np.random.default_rng(slot)
    args = _operands(func, dtype, SHAPES[shapes], rng)
    ans = func(*args)
    g = rng.standard_normal(ans.shape).astype(ans.dtype)
    prim = VJP_RULES[func]
    kept = [np.copy(a) for a in args], np.copy(ans)
    expected = prim.rules[slot](g.copy(), ans, *args)
    free = g.copy()
    got = prim.inplace_rules[slot](free, ans, *args)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # the same arithmetic: equal, not close
    assert got is free  # written into g: no new array
    for a, before in zip(args, kept[0], strict=True):
        np.testing.assert_array_equal(a, before)
    np.testing.assert_array_equal(ans, kept[1])


def test_into_g_makes_a_new_array_for_a_wider_result_or_a_list():
    g = np.ones(4, np.float32)
    factor = np.full(4, 1.0 + 2.0**-40)  # float64: rounds away in float32
    got = _into_g(np.multiply, g, factor)
    assert got.dtype == np.float64 and got is not g
    np.testing.assert_array_equal(got, g * factor)
    np.testing.assert_array_equal(g, np.ones(4, np.float32))
    # a list (an operand NumPy converts): a new array too
    g = np.ones(2)
    got = _into_g(np.multiply, g, [1.0, 4.0])
    assert got is not g
    np.testing.assert_array_equal(got, [1.0, 4.0])


def test_an_in_place_form_must_not_read_what_its_rule_does_not():
    def square(x, y):
        return x * x

    square = nd.defvjp(square, lambda g, ans, x, y: 2 * g * x)
    with pytest.raises(ValueError, match="reads what rule 0 does not"):
        definplace(square, {0: lambda g, ans, x, y: np.multiply(g, 2 * x * y, out=g)})
    with pytest.raises(ValueError, match="reads what rule 0 does not"):
        definplace(square, {0: lambda g, ans, x, y: np.multiply(g, 2 * ans, out=g)})
    with pytest.raises(ValueError, match="no VJP rule 1"):
        definplace(square, {1: lambda g, ans, x, y: g})


# --- the engine's choice ------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch):
    """Record each call of exp's and multiply's in-place forms, on arrays of any size: the
    name and the id of ``g`` (a reference would be a holder, and stop the engine's choice)."""
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 0)
    made = []
    for func in (np.exp, np.multiply):
        prim = VJP_RULES[func]
        wrapped = []
        for slot, rule in enumerate(prim.inplace_rules):
            if rule is prim.rules[slot]:
                wrapped.append(rule)
                continue

            def spy(g, ans, *args, _rule=rule, _name=f"{func.__name__}-{slot}"):
                made.append((_name, id(g), type(g)))
                return _rule(g, ans, *args)

            wrapped.append(spy)
        monkeypatch.setattr(prim, "inplace_rules", tuple(wrapped))
    return made


def test_a_free_cotangent_read_by_one_rule_is_written_in_place(calls):
    a = np.linspace(-1.0, 1.0, 7)
    x = nd.GradArray(a, requires_grad=True)
    np.sum(np.exp(x) * 3.0).backward()  # the sum's cotangent is spread into a fresh array
    assert [name for name, _, _ in calls] == ["multiply-0", "exp-0"]
    np.testing.assert_allclose(x.grad, 3.0 * np.exp(a), rtol=1e-15)
    # one buffer all the way: the sum's spread cotangent, written by both, became the gradient
    assert calls[0][1] == calls[1][1] == id(x.grad)


def test_a_cotangent_someone_holds_is_never_written(calls):
    x = nd.GradArray(np.linspace(-1.0, 1.0, 7), requires_grad=True)
    user = np.full(7, 2.0)
    np.exp(x).backward(user)  # the user's array: held by the caller
    np.testing.assert_array_equal(user, np.full(7, 2.0))
    assert calls == []


def test_a_node_with_two_grad_inputs_runs_its_rules_as_they_are(calls):
    a, b = np.linspace(0.5, 1.5, 5), np.linspace(-1.0, 1.0, 5)
    x = nd.GradArray(a, requires_grad=True)
    y = nd.GradArray(b, requires_grad=True)
    np.sum(np.exp(x) * np.exp(y) * 2.0).backward()
    # the product of the two exps has two grad inputs, both rules read its cotangent: only
    # the product with the constant 2.0 may write in place
    assert [name for name, _, _ in calls].count("multiply-0") == 1
    assert "multiply-1" not in [name for name, _, _ in calls]
    np.testing.assert_allclose(x.grad, 2.0 * np.exp(a) * np.exp(b), rtol=1e-14)
    np.testing.assert_allclose(y.grad, 2.0 * np.exp(a) * np.exp(b), rtol=1e-14)


def test_no_in_place_form_under_create_graph(calls):
    a = np.linspace(-1.0, 1.0, 5)
    h = nd.hessian(lambda x: np.sum(np.exp(x) * 3.0))(a)
    np.testing.assert_allclose(h, np.diag(3.0 * np.exp(a)), rtol=1e-14)
    # only the outermost backward may write in place; the recorded inner one never does
    assert all(kind is np.ndarray for _, _, kind in calls)


def test_small_cotangents_keep_the_rules_as_they_are(monkeypatch):
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 1 << 16)
    seen = []
    prim = VJP_RULES[np.exp]
    spy = (lambda g, ans, x: seen.append(g.nbytes) or prim.rules[0](g, ans, x),)
    monkeypatch.setattr(prim, "inplace_rules", spy)
    for n in (100, 20_000):  # 800 bytes, 160 kB
        x = nd.GradArray(np.linspace(-1.0, 1.0, n), requires_grad=True)
        np.sum(np.exp(x) * 3.0).backward()
    assert seen == [160_000]


@pytest.mark.parametrize("inplace_bytes", [0, 1 << 62])
def test_gradients_through_the_in_place_forms_match_finite_differences(monkeypatch, inplace_bytes):
    monkeypatch.setattr(_graph, "INPLACE_BYTES", inplace_bytes)

    def f(x):
        y = np.tanh(np.sin(x) * 1.5) / 2.0 + np.log1p(np.square(x))
        z = np.sqrt(np.exp(-y) + 1.0) - np.cos(y) / (np.log(np.exp(x) + 2.0))
        return np.sum(z * 0.5 - np.negative(z) * 3.0)

    check_grad(f, np.linspace(-1.0, 1.0, 9))


def test_the_in_place_forms_change_no_gradient(monkeypatch):
    def f(x):
        y = np.tanh(np.sin(x) * 1.5) / 2.0 + np.log1p(np.square(x))
        return np.sum(np.sqrt(np.exp(-y) + 1.0) - np.cos(y) / np.log(np.exp(x) + 2.0))

    a = np.linspace(-1.0, 1.0, 9)
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 1 << 62)
    plain = nd.grad(f)(a)
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 0)
    np.testing.assert_array_equal(nd.grad(f)(a), plain)


# --- forms for a spread 1 -------------------------------------------------------------------------

UNIT = _other_forms("unit_rules")
# the operands in the output's dtype, or one in the other float dtype (the form is the rule then)
UNIT_CASES = [
    (*case, shapes, mixed)
    for case in UNIT
    for shapes in SHAPES
    for mixed in (False, True)
    if not (shapes == "scalar" and case[2] == 1)
]


def _spread_one(shape, dtype):
    return np.broadcast_to(np.ones((), dtype), shape)


def test_the_hot_product_rules_have_forms_for_a_spread_one():
    names = {func.__name__ for _, func, _ in UNIT}
    assert {"multiply", "exp", "sin", "cos", "tanh", "square"} <= names


@pytest.mark.parametrize(
    "name, func, slot, shapes, mixed",
    UNIT_CASES,
    ids=[f"{n}-{s}-{shapes}-{'mixed' if m else 'same'}" for n, _, s, shapes, m in UNIT_CASES],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_spread_one_form_gives_exactly_its_rules_array(name, func, slot, shapes, mixed, dtype):
    rng = np.random.default_rng(slot)
    args = _operands(func, dtype, SHAPES[shapes], rng)
    if mixed:  # the other float dtype: the output is float64, the factor's operand may not be
        args[-1] = np.asarray(args[-1]).astype(np.float32 if dtype == np.float64 else np.float64)
    ans = func(*args)
    g = _spread_one(ans.shape, ans.dtype)
    prim = VJP_RULES[func]
    kept = [np.copy(a) for a in args], np.copy(ans)
    expected = prim.rules[slot](g, ans, *args)
    got = prim.unit_rules[slot](g, ans, *args)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)  # the same values: equal, not close
    held = [a for a in (*args, ans) if isinstance(a, np.ndarray)]
    if any(np.shares_memory(got, a) for a in held):
        assert not got.flags.writeable  # an operand or the output, handed on: read-only
    for a, before in zip(args, kept[0], strict=True):
        np.testing.assert_array_equal(a, before)
    np.testing.assert_array_equal(ans, kept[1])


def test_a_spread_one_form_must_not_read_what_its_rule_does_not():
    def scale(x, y):
        return x * 2.0

    scale = nd.defvjp(scale, lambda g, ans, x, y: 2.0 * g)
    with pytest.raises(ValueError, match="spread-1 rule 0 reads what rule 0 does not"):
        defunit(scale, {0: lambda g, ans, x, y: 2.0 * x})


@pytest.fixture
def unit_calls(monkeypatch):
    """Record each call of exp's and multiply's forms for a spread 1, on arrays of any size."""
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 0)
    monkeypatch.setattr(reductions, "_SPREAD_COPY_MAX", 0)  # every sum's cotangent a view
    made = []
    for func in (np.exp, np.multiply):
        prim = VJP_RULES[func]

        def spy(rule, label):
            return lambda g, ans, *args: made.append(label) or rule(g, ans, *args)

        forms = tuple(
            spy(rule, f"{func.__name__}-{slot}") if rule is not prim.rules[slot] else rule
            for slot, rule in enumerate(prim.unit_rules)
        )
        monkeypatch.setattr(prim, "unit_rules", forms)
    return made


def test_a_sum_of_a_product_copies_neither_operand_and_the_gradient_is_owned(unit_calls):
    a = np.linspace(-1.0, 1.0, 7)
    c = np.linspace(2.0, 3.0, 7)
    x = nd.GradArray(a, requires_grad=True)
    np.sum(np.exp(x) * x).backward()
    assert sorted(unit_calls) == ["multiply-0", "multiply-1"]  # exp's g is x: not a spread 1
    np.testing.assert_allclose(x.grad, np.exp(a) * (a + 1.0), rtol=1e-15)
    # d/dw sum(w * c) is c: handed on read-only, then copied into a gradient the caller owns
    for grad in (nd.grad(lambda w: np.sum(w * c))(a), nd.grad(lambda w: np.sum(c * w))(a)):
        np.testing.assert_array_equal(grad, c)
        assert grad.flags.writeable and not np.shares_memory(grad, c)
        grad[:] = 0.0
        np.testing.assert_array_equal(c, np.linspace(2.0, 3.0, 7))
    w = nd.GradArray(a, requires_grad=True)
    np.sum(w * c).backward()
    assert w.grad.flags.writeable and not np.shares_memory(w.grad, c)
    np.testing.assert_array_equal(w.grad, c)
    # x * x: both cotangents are x, read-only; their sum is a new array
    x = nd.GradArray(a, requires_grad=True)
    np.sum(x * x).backward()
    np.testing.assert_array_equal(x.grad, 2 * a)
    assert not np.shares_memory(x.grad, a)


def test_the_spread_one_forms_are_chosen_only_for_a_spread_one(unit_calls):
    a = np.linspace(-1.0, 1.0, 7)
    x = nd.GradArray(a, requires_grad=True)
    np.sum(np.exp(x) * 3.0).backward(np.float64(2.0))  # a spread 2: the rules as they are
    np.sum(np.mean(np.exp(x) * 3.0)).backward()  # a mean's spread 1/7
    assert unit_calls == []
    np.testing.assert_allclose(x.grad, 6.0 * np.exp(a) + 3.0 * np.exp(a) / 7, rtol=1e-15)
    h = nd.hessian(lambda x: np.sum(np.exp(x) * 3.0))(a)  # the recorded inner pass: never
    np.testing.assert_allclose(h, np.diag(3.0 * np.exp(a)), rtol=1e-14)
    assert unit_calls == []


def test_the_spread_one_forms_are_kept_for_large_arrays(monkeypatch):
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 1 << 16)
    seen = []
    prim = VJP_RULES[np.exp]
    monkeypatch.setattr(
        prim, "unit_rules", (lambda g, ans, x: seen.append(g.nbytes) or prim.rules[0](g, ans, x),)
    )
    for n in (100, 20_000):  # 800 bytes, 160 kB
        x = nd.GradArray(np.linspace(-1.0, 1.0, n), requires_grad=True)
        np.sum(np.exp(x)).backward()
        np.testing.assert_allclose(x.grad, np.exp(np.linspace(-1.0, 1.0, n)), rtol=1e-15)
    assert seen == [160_000]


def test_gradients_through_the_spread_one_forms_match_finite_differences(monkeypatch):
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 0)
    monkeypatch.setattr(reductions, "_SPREAD_COPY_MAX", 0)
    c = np.linspace(0.5, 1.5, 9)
    forms = [
        lambda x: np.sum(np.exp(x) * x),
        lambda x: np.sum(c * np.sin(x)),
        lambda x: np.sum(np.cos(x)) + np.sum(np.tanh(x)) + np.sum(np.square(x)),
        lambda x: np.sum(np.sin(x) * np.exp(x)) + np.sum(x * c),
    ]
    for f in forms:
        check_grad(f, np.linspace(-1.0, 1.0, 9))


def test_float32_gradients_through_the_spread_one_forms_match_the_closed_form(monkeypatch):
    monkeypatch.setattr(_graph, "INPLACE_BYTES", 0)
    monkeypatch.setattr(reductions, "_SPREAD_COPY_MAX", 0)
    a = np.linspace(-1.0, 1.0, 9).astype(np.float32)
    g = nd.grad(lambda x: np.sum(np.exp(x) * x) + np.sum(np.cos(x)) + np.sum(np.tanh(x)))(a)
    assert g.dtype == np.float32
    expected = np.exp(a) * (a + 1) - np.sin(a) + (1 - np.tanh(a) ** 2)
    np.testing.assert_allclose(g, expected, rtol=1e-6)
