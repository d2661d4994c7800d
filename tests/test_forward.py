"""Forward mode (issue 17): the transforms, and the semantics it shares with reverse mode
(in-place writes, views, guarded arrays, the conversion scope, nesting).

Every JVP rule is checked by tests/test_forward_rules.py; here the checks are of whole
functions, against finite differences or closed forms.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import _forward, functional
from ndgrad._registry import VJP_RULES
from ndgrad.testing import check_jvp

RNG = np.random.default_rng(17)


def _fd(f, x, v, eps=1e-6):
    return (f(x + eps * v) - f(x - eps * v)) / (2 * eps)


# --- the transforms -------------------------------------------------------------------------


def test_jvp_is_forward_mode_no_backward_pass(monkeypatch):
    """nd.jvp pushes tangents forward: it never runs a backward pass (it used to be the VJP
    of the VJP, two of them)."""
    calls = []
    real = nd._graph.backward
    monkeypatch.setattr(nd._graph, "backward", lambda *a, **k: calls.append(1) or real(*a, **k))
    x, v = RNG.standard_normal(5), RNG.standard_normal(5)
    f = lambda x: np.tanh(x) * np.sin(x[::-1]) @ np.ones(5)
    _, t = nd.jvp(f, (x,), (v,))
    assert not calls
    np.testing.assert_allclose(t, _fd(f, x, v), rtol=1e-7)


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
def test_jacobian_modes_agree_with_the_closed_form(mode):
    a = RNG.standard_normal((7, 3))
    x = RNG.standard_normal(3)
    jac = nd.jacobian(lambda x: np.tanh(a @ x) ** 2, mode=mode)(x)
    t = np.tanh(a @ x)
    np.testing.assert_allclose(jac, (2 * t * (1 - t * t))[:, None] * a, rtol=1e-12)


def test_jacobian_auto_takes_the_cheaper_direction(monkeypatch):
    pushes, pulls = [], []
    push, pull = functional.push_batched, functional.pull_batched
    monkeypatch.setattr(functional, "push_batched", lambda *a: pushes.append(1) or push(*a))
    monkeypatch.setattr(functional, "pull_batched", lambda *a: pulls.append(1) or pull(*a))
    wide = RNG.standard_normal((20, 2))
    nd.jacobian(lambda x: np.sin(wide @ x))(np.ones(2))  # 2 -> 20: both directions in one
    assert (len(pushes), len(pulls)) == (1, 0)  # forward pass (batched)
    pushes.clear()
    tall = RNG.standard_normal((2, 20))
    nd.jacobian(lambda x: np.sin(tall @ x))(np.ones(20))  # 20 -> 2: both rows in one
    assert (len(pushes), len(pulls)) == (0, 1)  # backward pass (batched)


def test_jacfwd_and_jacrev_of_containers_and_argnums():
    def f(x, y):
        return {"a": x * y[0], "b": np.stack([np.sum(x), y[1] ** 2])}

    x, y = RNG.standard_normal(3), RNG.standard_normal(2)
    fwd = nd.jacfwd(f, argnums=(0, 1))(x, y)
    rev = nd.jacrev(f, argnums=(0, 1))(x, y)
    for key in ("a", "b"):
        for i in range(2):
            np.testing.assert_allclose(fwd[key][i], rev[key][i], rtol=1e-12)
    np.testing.assert_allclose(fwd["a"][0], y[0] * np.eye(3))


def test_jacfwd_of_a_holomorphic_function_and_the_checks():
    z = np.array([1.0 + 0.5j, -0.3 + 2j])
    jac = nd.jacfwd(lambda z: z**3, holomorphic=True)(z)
    np.testing.assert_allclose(jac, np.diag(3 * z**2))
    with pytest.raises(ValueError, match="holomorphic"):
        nd.jacfwd(lambda z: z**3)(z)
    with pytest.raises(ValueError, match="not holomorphic"):
        nd.jacfwd(np.conj, holomorphic=True)(z)
    with pytest.raises(ValueError, match="mode='reverse'"):
        nd.jacfwd(lambda z: np.abs(z), holomorphic=True)(z)


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_hessian_both_ways_is_right(mode):
    a = RNG.standard_normal((4, 4))
    a = a @ a.T

    def f(x):
        return 0.5 * x @ a @ x + np.sum(np.sin(x))

    x = RNG.standard_normal(4)
    np.testing.assert_allclose(nd.hessian(f, mode=mode)(x), a - np.diag(np.sin(x)), rtol=1e-10)


def test_hvp_forward_over_reverse_matches_finite_differences_of_the_gradient():
    def f(x):
        return np.sum(np.log1p(np.exp(np.tanh(x) * x[::-1]))) + np.prod(x[:3])

    x, v = RNG.standard_normal(6), RNG.standard_normal(6)
    np.testing.assert_allclose(nd.hvp(f, x, v), _fd(nd.grad(f), x, v), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    "key", [np.sin, np.multiply, np.add, np.divide, np.sum, np.tanh, np.reshape, np.matmul, np.dot]
)
def test_the_inlined_common_node_gives_what_the_general_route_gives(key, monkeypatch):
    """``push`` computes the common node itself: bit for bit what ``_node_tangents`` gives."""
    from .cases import CASES
    from .test_rules import _callable

    func = _callable(key, CASES[key])
    for args, kwargs in CASES[key].calls:
        floats = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        tangents = [RNG.standard_normal(np.shape(args[i])) for i in floats]

        def along(*xs, args=args, kwargs=kwargs, floats=floats):
            call = list(args)
            for i, x in zip(floats, xs, strict=True):
                call[i] = x
            return func(*call, **kwargs)

        primals = [args[i] for i in floats]
        inlined = nd.jvp(along, primals, tangents)[1]
        monkeypatch.setattr(_forward, "INLINE_COMMON_NODES", False)
        general = nd.jvp(along, primals, tangents)[1]
        monkeypatch.setattr(_forward, "INLINE_COMMON_NODES", True)
        np.testing.assert_array_equal(inlined, general)


@pytest.mark.parametrize("nested", [False, True])
def test_an_index_tangent_keeps_the_next_node_on_the_compiled_route(nested, monkeypatch):
    # t[0] of a plain tangent is a NumPy scalar: the loop takes it as the 0-d array the
    # general route would make of it, plain or recorded (jvp inside grad)
    general = []
    original = _forward.node_tangents
    monkeypatch.setattr(
        _forward, "node_tangents", lambda *a: (general.append(a[0].prim.name), original(*a))[1]
    )

    def f(x):
        return np.square(x[0]) * 3.0 - np.sin(x[1])

    x, v = np.array([0.7, -0.4]), np.array([1.0, 2.0])
    if nested:
        # d/dx of <grad f, v> = H v: f's Hessian is diag(6, sin(x1))
        got = nd.grad(lambda x: nd.jvp(f, (x,), (v,))[1])(x)
        np.testing.assert_allclose(got, [6.0 * v[0], np.sin(x[1]) * v[1]], rtol=1e-14)
    else:
        got = nd.jvp(f, (x,), (v,))[1]
        np.testing.assert_allclose(got, 6.0 * x[0] * v[0] - np.cos(x[1]) * v[1], rtol=1e-14)
    assert general == []


# --- errors that name the cause -------------------------------------------------------------


def test_jvp_refuses_bad_tangents():
    x = np.ones(3)
    with pytest.raises(ValueError, match="shape"):
        nd.jvp(np.sin, (x,), (np.ones(2),))
    with pytest.raises(TypeError, match="complex tangent for a real primal"):
        nd.jvp(np.sin, (x,), (np.ones(3) * 1j,))


def test_jvp_of_a_cut_graph_raises_instead_of_returning_zeros():
    x = np.array([0.5, 1.5])
    with pytest.raises(ValueError, match="does not depend"):
        nd.jvp(lambda x: np.asarray(x) * 2.0, (x,), (np.ones(2),), scope=False)
    _, t = nd.jvp(lambda x: np.ones(2), (x,), (np.ones(2),), allow_unused=True)
    np.testing.assert_array_equal(t, np.zeros(2))


def test_vjp_of_a_primal_no_output_depends_on_raises_instead_of_returning_zeros():
    x, y = np.array([0.5, 1.5]), np.array([2.0, 3.0])
    f = lambda x, y: x * 2.0 + np.array(y)  # the copy (scope=False) cuts y off
    _, pull = nd.vjp(f, x, y, scope=False)
    with pytest.raises(ValueError, match="does not depend"):
        pull(np.ones(2))
    _, pull = nd.vjp(f, x, y, scope=False, allow_unused=True)
    np.testing.assert_array_equal(pull(np.ones(2))[1], np.zeros(2))


def test_jvp_of_a_link_that_carries_only_zeros_raises():
    def f(x):
        kept = np.array(x.view(np.ndarray))  # a copy made behind ndgrad's back
        return np.where(x > 100.0, x, 0.0) + kept * 2.0

    with pytest.raises(nd.GraphBreakError, match="exactly zero"):
        nd.jvp(f, (np.array([1.0, 2.0]),), (np.ones(2),), scope=False)


# --- the semantics forward mode shares with reverse mode -------------------------------------


def test_tangents_follow_in_place_writes_and_views():
    def f(x):
        y = x * 1.0
        y[1:3] *= np.sin(x[:2])  # a write through a view of y
        y += x[::-1]
        z = y.reshape(2, 2).T  # a view, then a write through it
        z[0] = np.exp(z[1])
        return y**2

    check_jvp(f, RNG.standard_normal(4), order=2)


def test_tangents_follow_buffers_filled_in_a_loop():
    def f(x):
        out = np.empty_like(x)  # a buffer allocated inside the scope
        for i in range(len(x)):
            out[i] = x[i] * x[(i + 1) % len(x)]
        return out

    check_jvp(f, RNG.standard_normal(5), order=2)


def test_a_saved_array_changed_behind_ndgrads_back_is_refused_in_forward_mode_too():
    big = RNG.standard_normal(4096)  # above the copy threshold: guarded, not copied

    def f(x):
        y = x * big
        big_alias[0] = 7.0  # a view made before: NumPy cannot make it read-only
        return y

    big_alias = big.view()
    with pytest.raises(nd.InPlaceError, match="changed after"):
        nd.jvp(f, (np.ones(4096),), (np.ones(4096),))


def test_conversions_inside_the_scope_keep_the_tangent():
    def f(x):
        y = np.asarray(x)  # kept by the conversion scope
        return np.array(y) ** 2  # a recorded copy

    x, v = np.array([1.0, 2.0]), np.array([1.0, -1.0])
    np.testing.assert_allclose(nd.jvp(f, (x,), (v,))[1], 2 * x * v)
    with pytest.raises(nd.GraphBreakError):
        nd.jvp(lambda x: float(x[0]) * x, (x,), (v,))


def test_forward_inside_reverse_and_reverse_inside_forward():
    x, v = np.array([0.3, -0.7]), np.array([1.0, 2.0])

    def directional(x):  # d/dx of <grad f, v> through a jvp
        return np.sum(nd.jvp(lambda y: np.sin(y) * y[::-1], (x,), (v,))[1])

    g = nd.grad(directional)(x)
    plain = lambda y: np.asarray(directional(y))
    numeric = np.array([_fd(plain, x, e) for e in np.eye(2)])  # central differences per axis
    np.testing.assert_allclose(g, numeric, rtol=1e-6)
    second = nd.jvp(nd.grad(lambda y: np.sum(np.sin(y) * y[::-1])), (x,), (v,))[1]
    np.testing.assert_allclose(second, nd.hessian(lambda y: np.sum(np.sin(y) * y[::-1]))(x) @ v)


def test_checkpoint_and_custom_vjp_in_forward_mode():
    block = nd.checkpoint(lambda x: np.tanh(np.sin(x) * 2.0))
    check_jvp(lambda x: block(block(x)), RNG.standard_normal(3), order=2)

    @nd.custom_vjp
    def cube(x):
        return x**3

    cube.defvjp(lambda x: (x**3, x), lambda x, g: (3 * x**2 * g,))
    check_jvp(lambda x: cube(x) * 2.0, RNG.standard_normal(3), order=2)


def test_defjvp_for_a_function_of_the_users():
    def softclip(x):
        return np.log1p(np.exp(x.view(np.ndarray)))

    softclip = nd.defvjp(softclip, lambda g, ans, x: g / (1 + np.exp(-x)))
    softclip = nd.defjvp(softclip, lambda t, ans, x: t / (1 + np.exp(-x)))
    assert VJP_RULES[softclip].jvp_kind == "rules"
    check_jvp(softclip, RNG.standard_normal(4), order=2)
    with pytest.raises(ValueError, match="no VJP rules"):
        nd.defjvp(lambda x: x, lambda t, ans, x: t)


def test_a_function_without_jvp_rules_transposes_its_vjp_rules():
    def twice(x):
        return 2.0 * x.view(np.ndarray)

    twice = nd.defvjp(twice, lambda g, ans, x: 2.0 * g)
    assert VJP_RULES[twice].jvp_kind == "transpose"
    check_jvp(lambda x: twice(x) ** 2, RNG.standard_normal(3), order=2)


def test_scipy_solvers_in_forward_mode():
    integrate = pytest.importorskip("scipy.integrate")
    optimize = pytest.importorskip("scipy.optimize")

    def final(k):
        sol = integrate.solve_ivp(lambda t, y: -k * y, (0.0, 1.0), np.ones(2), rtol=1e-10,
                                  atol=1e-12)  # fmt: skip
        return sol.y[:, -1]

    k, v = np.array([0.5, 1.5]), np.array([1.0, -2.0])
    _, t = nd.jvp(final, (k,), (v,))
    np.testing.assert_allclose(t, -np.exp(-k) * v, rtol=1e-6)
    # one derivative only through an ODE solver, in forward mode as in reverse mode
    with pytest.raises(nd.NotDifferentiableError, match="only first derivatives"):
        nd.jvp(lambda k: nd.jvp(final, (k,), (v,))[1], (k,), (v,))

    def odeint(k):
        ts = np.linspace(0.0, 1.0, 5)
        return integrate.odeint(lambda y, t: -k * y, np.ones(2), ts, rtol=1e-10, atol=1e-12)

    check_jvp(odeint, k, rtol=1e-5, atol=1e-6)

    def argmin(p):
        fun = lambda x: np.sum((x - p) ** 2) + np.sum(x**4)
        return optimize.minimize(fun, np.zeros(2), method="BFGS", tol=1e-9).x

    check_jvp(argmin, np.array([0.3, -0.2]), rtol=1e-4, atol=1e-5)
    root = lambda p: optimize.root(lambda x: x**3 + x - p, np.zeros(2), tol=1e-13).x
    check_jvp(root, np.array([0.3, -0.2]), order=2, rtol=1e-4, atol=1e-5)
    quad = lambda a: np.asarray(integrate.quad(lambda x: np.sin(a * x), 0, 1)[0])
    check_jvp(quad, np.array(0.7), order=2)


# --- hvp: reverse over forward at the outermost level ------------------------------------------

_BIG = RNG.standard_normal((40, 60))  # 19 kB: guarded and fingerprinted, not copied, when saved


def _hvp_cases():
    def inplace(x):
        y = np.exp(x) * 0.5
        y[1:3] = y[1:3] * x[:2]  # a recorded write into an intermediate
        return np.sum(y * x[::-1])

    def views(x):
        return np.sum(np.tanh(x[::2]) ** 2) + x[1:] @ x[:-1] * np.cos(x[0])

    def big_constant(x):  # the benchmark's shape: a logistic loss over a saved data matrix
        return np.sum(np.log1p(np.exp(-(_BIG @ x)))) + 0.5 * np.dot(x, x)

    def float32(x):
        return np.sum(np.sin(x) * x**2)

    return [
        ("inplace", inplace, RNG.standard_normal(6)),
        ("views", views, RNG.standard_normal(7)),
        ("big_constant", big_constant, 0.1 * RNG.standard_normal(60)),
        ("float32", float32, RNG.standard_normal(5).astype(np.float32)),
    ]


@pytest.mark.parametrize("name,f,x", _hvp_cases(), ids=[c[0] for c in _hvp_cases()])
def test_hvp_runs_the_function_once_and_matches_finite_differences_of_the_gradient(name, f, x):
    calls = []

    def counted(x):
        calls.append(1)
        return f(x)

    v = RNG.standard_normal(x.shape).astype(x.dtype)
    hv = nd.hvp(counted, x, v)
    assert calls == [1]  # reverse over forward, no fallback to forward over reverse
    assert hv.dtype == x.dtype and hv.shape == x.shape
    x64, v64 = x.astype(np.float64), v.astype(np.float64)
    expected = _fd(nd.grad(f), x64, v64)
    tol = 1e-3 if x.dtype == np.float32 else 1e-6
    np.testing.assert_allclose(hv, expected, rtol=tol, atol=tol)


def test_hvp_of_containers_and_python_floats_runs_the_function_once():
    calls = []

    def f(p):
        calls.append(1)
        return np.sum(np.sin(p["a"]) * p["b"] ** 2) * p["c"] ** 3

    p = {"a": RNG.standard_normal(3), "b": RNG.standard_normal(3), "c": 1.3}
    v = {"a": RNG.standard_normal(3), "b": RNG.standard_normal(3), "c": 0.7}
    hv = nd.hvp(f, p, v)
    assert calls == [1]
    flat = lambda q: np.concatenate([q["a"], q["b"], [q["c"]]])
    unflat = lambda z: {"a": z[:3], "b": z[3:6], "c": z[6]}
    expected = _fd(lambda z: flat(nd.grad(f)(unflat(z))), flat(p), flat(v))
    assert isinstance(hv["c"], float)
    np.testing.assert_allclose(flat(hv), expected, rtol=1e-6, atol=1e-8)


def test_hvp_with_a_zero_part_goes_forward_over_reverse_which_checks_it():
    """A leaf whose product is exactly zero may be a graph cut: forward over reverse decides
    (it runs ``fun`` again and, for a cut, compares nearby values)."""
    calls = []

    def f(p):
        calls.append(1)
        return np.sum(np.sin(p[0])) + np.sum(3.0 * p[1])  # linear in p[1]: zero there

    p = (RNG.standard_normal(3), RNG.standard_normal(3))
    v = (np.ones(3), np.ones(3))
    hv = nd.hvp(f, p, v)
    assert len(calls) > 1
    np.testing.assert_allclose(hv[0], -np.sin(p[0]), rtol=1e-12)
    np.testing.assert_array_equal(hv[1], np.zeros(3))


def test_hvp_refuses_a_write_through_an_earlier_view_of_a_saved_constant():
    """One fingerprint comparison per node for the push and the backward pass together: a
    write behind ndgrad's back inside ``fun``, after the save, is still found."""
    data = RNG.standard_normal((40, 60))
    alias = data[:]  # a writable view made before ndgrad makes ``data`` read-only

    def f(x):
        y = data @ x
        alias[0, 0] += 1.0  # the saved matrix changes after matmul saved it
        return np.sum(np.sin(y))

    with pytest.raises(nd.InPlaceError, match="was changed after"):
        nd.hvp(f, RNG.standard_normal(60), RNG.standard_normal(60))


def test_hvp_of_a_non_scalar_output_is_refused_as_grad_refuses_it():
    with pytest.raises(ValueError, match="exactly one element"):
        nd.hvp(lambda x: np.sin(x), RNG.standard_normal(3), np.ones(3))


def test_hvp_inside_another_transform_stays_differentiable():
    """Nested, hvp is forward over reverse (recorded): d/dx <u, H(x) v> for f = sum(x**4)."""
    u, v = RNG.standard_normal(3), RNG.standard_normal(3)
    x = RNG.standard_normal(3)
    g = nd.grad(lambda x: np.dot(u, nd.hvp(lambda z: np.sum(z**4), x, v)))(x)
    np.testing.assert_allclose(g, 24 * x * u * v, rtol=1e-10)
