"""The fuzzer: random NumPy programs, forward bit for bit, gradients against finite differences.

Profiles: the normal suite runs a few dozen programs; ``HYPOTHESIS_PROFILE=thorough pytest
tests/fuzz`` runs thousands. Every failure found becomes a named test in test_regressions.py.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ndgrad as nd
from ndgrad import GradArray, functional
from ndgrad.testing import check_grad

from .programs import Program, programs

_SETTINGS = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _inputs(program, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in program.shapes]


@_SETTINGS
@given(programs(), st.integers(0, 2**16), st.sampled_from([np.float64, np.float32, np.complex128]))
def test_forward_matches_numpy_bit_for_bit(program, seed, dtype):
    inputs = _inputs(program, seed, np.float64)
    if dtype is np.complex128:
        inputs = [x + 0.5j * x[::-1] if x.ndim else x + 0.5j for x in inputs]
    inputs = [np.asarray(x, dtype=dtype) for x in inputs]
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            expected = program.run(*[x.copy() for x in inputs])
        except (TypeError, ValueError) as exc:  # NumPy itself refuses (e.g. complex max)
            expected = exc
        traced = [GradArray(x, requires_grad=True) for x in inputs]
        try:
            got = program.run(*traced)
        except (TypeError, ValueError) as exc:
            assert isinstance(expected, Exception), f"{program}\nndgrad raised {exc!r}"
            return
    assert not isinstance(expected, Exception), f"{program}\nNumPy raised {expected!r}"
    got_values = got.values if isinstance(got, GradArray) else np.asarray(got)
    expected = np.asarray(expected)
    assert got_values.dtype == expected.dtype, repr(program)
    if program.has_0d():
        # NumPy computes 0-d intermediates with its scalar math, which can differ from its own
        # array loops by an ulp a step; ndgrad keeps 0-d arrays (DESIGN.md). Through a chain of
        # complex tanh the ulps compound (30 eps after 4 steps, test_regressions.py), so the
        # bound grows with the steps. Bit for bit otherwise.
        eps = np.finfo(expected.dtype).eps
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        steps = max(1, len(program.steps))
        np.testing.assert_allclose(got_values, expected, rtol=0, atol=8 * steps * eps * scale)
    else:
        np.testing.assert_array_equal(got_values, expected, err_msg=repr(program))


def _check_grad_at_two_steps(program, inputs):
    """Finite differences at the default step, then at 1e-4 and 1e-2 if that disagrees: a large
    output (a product of many terms) loses the digits of a small difference to cancellation,
    while a wrong gradient disagrees at every step (test_regressions.py keeps such programs).
    At the widest step the tolerance includes what central differences can resolve at all: a
    value of size ``|f|`` is known to its last bits, so the quotient carries an error of about
    ``eps * |f| / h`` (an output of 1e13 hides a gradient of 1.2 at any step)."""
    for step in (1e-6, 1e-4):
        try:
            check_grad(program.run, *inputs, order=1, rtol=1e-4, atol=1e-6, eps=step)
            return
        except AssertionError:
            pass
    scale = float(np.max(np.abs(program.run(*inputs)), initial=0.0))
    resolved = 16 * np.finfo(np.float64).eps * scale / 1e-2
    check_grad(program.run, *inputs, order=1, rtol=1e-4, atol=max(1e-6, resolved), eps=1e-2)


@_SETTINGS
@given(programs(allow_empty=True), st.integers(0, 2**16))
def test_gradients_match_finite_differences(program, seed):
    inputs = _inputs(program, seed)
    if program.smooth:
        _check_grad_at_two_steps(program, inputs)
    else:  # kinks: gradients exist and have the inputs' shapes (steps may divide by zero)
        with np.errstate(all="ignore"):
            grads = nd.grad(program.run, argnums=tuple(range(len(inputs))), allow_unused=True)(
                *inputs
            )
        for g, x in zip(grads, inputs, strict=True):
            assert g.shape == x.shape


def test_a_step_function_at_its_jumps_is_not_taken_for_a_cut_graph():
    """Found by the long profile: ``floor_divide`` by an input near 0 is a dense staircase, so at
    the default step both one-sided differences looked like a slope and the zero gradient (right
    almost everywhere) was refused as a cut graph. A slope shrinks with the step; a jump does not.
    """
    program = Program(
        shapes=[(1, 1, 3), (1, 1, 3), (1, 3)],
        steps=[
            ("reduce", (1, "sum", None, False)),
            ("unary", (1, np.absolute)),
            ("binary", (3, 0, np.floor_divide)),
        ],
        smooth=False,
    )
    inputs = _inputs(program, 484)
    with np.errstate(all="ignore"):
        grads = nd.grad(program.run, argnums=(0, 1, 2), allow_unused=True)(*inputs)
    assert not np.any(grads[0])


@settings(_SETTINGS, max_examples=max(10, settings().max_examples // 3))
@given(programs(max_steps=3, allow_empty=False), st.integers(0, 2**16))
def test_second_derivatives_match_finite_differences(program, seed):
    if not program.smooth:
        return
    inputs = _inputs(program, seed)
    check_grad(program.run, *inputs, order=2, rtol=1e-4, atol=1e-6)


@settings(_SETTINGS, max_examples=max(10, settings().max_examples // 3))
@given(programs(max_steps=3, allow_empty=False), st.integers(0, 2**16))
def test_hvp_is_the_derivative_of_the_gradient_along_v(program, seed):
    """``nd.hvp`` (reverse over forward, one graph) against central differences of the
    gradient along ``v``, and against forward over reverse (``jvp(grad(f))``), for every
    input at once (a tuple)."""
    if not program.smooth:
        return
    inputs = tuple(_inputs(program, seed))
    rng = np.random.default_rng(seed + 2)
    v = tuple(rng.standard_normal(np.shape(x)) for x in inputs)
    f = lambda xs: program.run(*xs)
    with np.errstate(all="ignore"):
        leaves = [GradArray(x, requires_grad=True) for x in inputs]
        out = program.run(*leaves)
        if not (isinstance(out, GradArray) and out.requires_grad):
            return  # the output does not depend on the inputs
        out.backward()
        if any(leaf.grad is None for leaf in leaves):
            return  # an input it does not read: hvp, as grad, refuses it
        hv = nd.hvp(f, inputs, v)
        g = nd.grad(f, allow_unused=True)
        h = 1e-5
        plus = g(tuple(x + h * d for x, d in zip(inputs, v, strict=True)))
        minus = g(tuple(x - h * d for x, d in zip(inputs, v, strict=True)))
        _, other = nd.jvp(g, (inputs,), (v,), allow_unused=True)
    for a, p, m, o in zip(hv, plus, minus, other, strict=True):
        fd = (np.asarray(p) - np.asarray(m)) / (2 * h)
        if not (np.all(np.isfinite(fd)) and np.all(np.isfinite(a))):
            return  # a pole or an overflow on the way: nothing to compare
        np.testing.assert_allclose(a, fd, rtol=1e-4, atol=1e-5, err_msg=repr(program))
        np.testing.assert_allclose(a, o, rtol=1e-9, atol=1e-11, err_msg=repr(program))


@_SETTINGS
@given(programs(), st.integers(0, 2**16))
def test_leaf_gradients_never_alias_each_other_or_the_inputs(program, seed):
    inputs = _inputs(program, seed)
    leaves = [GradArray(x, requires_grad=True) for x in inputs]
    with np.errstate(all="ignore"):
        out = program.run(*leaves)
        if not (isinstance(out, GradArray) and out.requires_grad):
            return
        out.backward()
    grads = [leaf.grad for leaf in leaves if leaf.grad is not None]
    for i, g in enumerate(grads):
        assert g.flags.writeable, repr(program)
        for other in grads[i + 1 :] + inputs + [leaf.values for leaf in leaves]:
            assert not np.shares_memory(g, other), repr(program)


@_SETTINGS
@given(programs(), st.integers(0, 2**16))
def test_forward_mode_is_the_transpose_of_reverse_mode(program, seed):
    """``jvp`` of a random program along random tangents is ``<grad, v>`` of reverse mode: every
    forward rule on the way (in-place writes, views, buffers and all) is the transpose of its
    VJP rule, at kinks too. No finite differences: the two must agree to rounding."""
    inputs = _inputs(program, seed)
    rng = np.random.default_rng(seed + 1)
    tangents = [rng.standard_normal(np.shape(x)) for x in inputs]
    with np.errstate(all="ignore"):
        out = program.run(*[GradArray(x, requires_grad=True) for x in inputs])
        if not (isinstance(out, GradArray) and out.requires_grad):
            return  # the output does not depend on the inputs
        argnums = tuple(range(len(inputs)))
        grads = nd.grad(program.run, argnums=argnums, allow_unused=True)(*inputs)
        _, forward = nd.jvp(program.run, inputs, tangents, allow_unused=True)
    terms = [np.asarray(g) * v for g, v in zip(grads, tangents, strict=True)]
    if not all(np.all(np.isfinite(t)) for t in terms) or not np.isfinite(forward):
        return  # a pole or an overflow on the way: nothing to compare
    reverse = sum(float(np.sum(t)) for t in terms)
    scale = sum(float(np.sum(np.abs(t))) for t in terms)
    assert abs(forward - reverse) <= 1e-9 * scale + 1e-12, (
        f"{program}\nforward mode {forward!r}, reverse mode <grad, v> {reverse!r}"
    )


@_SETTINGS
@given(programs(), st.integers(0, 2**16))
def test_batched_jacobians_equal_one_direction_at_a_time(program, seed):
    """``jacfwd`` pushes all input directions through the program in one batched pass, and
    ``jacrev`` pulls three output rows back at once (the program's value times three weights):
    every node on the way (in-place writes, views, buffers: those one direction at a time
    within the pass) must give what one direction per pass gives, to rounding."""
    inputs = _inputs(program, seed)
    weights = np.array([1.0, -0.5, 2.0])
    argnums = tuple(range(len(inputs)))

    def rows(*xs):
        return program.run(*xs) * weights

    results = {}
    with np.errstate(all="ignore"):
        try:
            program.run(*[x.copy() for x in inputs])
        except (TypeError, ValueError):
            return  # NumPy itself refuses the program for these shapes
        out = program.run(*[GradArray(x, requires_grad=True) for x in inputs])
        if not (isinstance(out, GradArray) and out.requires_grad):
            return  # the output does not depend on the inputs
        for batched in (True, False):
            functional.BATCH_COLUMNS = functional.BATCH_ROWS = batched
            try:
                results[batched] = (
                    nd.jacfwd(program.run, argnums, allow_unused=True)(*inputs),
                    nd.jacrev(rows, argnums, allow_unused=True)(*inputs),
                )
            finally:
                functional.BATCH_COLUMNS = functional.BATCH_ROWS = True
    for got, expected in zip(results[True], results[False], strict=True):
        for g, e in zip(got, expected, strict=True):
            g, e = np.asarray(g), np.asarray(e)
            scale = float(np.max(np.abs(e[np.isfinite(e)]), initial=1.0))
            np.testing.assert_allclose(
                g, e, rtol=1e-9, atol=1e-12 * scale, equal_nan=True, err_msg=repr(program)
            )
