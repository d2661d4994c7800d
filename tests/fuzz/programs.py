"""Random NumPy programs built from the rule registry, for the fuzzer.

A program is a list of steps over a pool of arrays: the inputs first, then each step's result.
The same interpreter runs it on plain ndarrays (the reference) and on GradArrays, so forward
values can be compared bit for bit, and gradients checked against finite differences.

Elementwise ufuncs come from ``VJP_RULES`` itself: every ufunc with a rule is drawn, its inputs
mapped into its domain by smooth squashing functions (so programs never leave a domain). Ufuncs
with kinks or steps are drawn too but make the program "forward only".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import ndgrad as nd
from ndgrad import GradArray
from ndgrad._registry import TRACED_THROUGH, VJP_RULES

# Where each ufunc is smooth; unlisted ufuncs take any real input.
POSITIVE = {np.log, np.log2, np.log10, np.sqrt, np.cbrt, np.reciprocal, np.log1p, np.power,
            np.float_power, np.divide, np.arctan2, np.hypot}  # fmt: skip
UNIT = {np.arcsin, np.arccos, np.arctanh, np.tan}
ABOVE_ONE = {np.arccosh}
# Kinks, steps and ties: forward values are compared, gradients only away from the kinks
# (which random programs cannot promise), so programs using these are checked forward only.
KINKED = {np.absolute, np.fabs, np.maximum, np.minimum, np.fmax, np.fmin, np.sign, np.floor,
          np.ceil, np.trunc, np.rint, np.spacing, np.nextafter, np.copysign, np.heaviside,
          np.remainder, np.fmod, np.floor_divide, np.modf, np.frexp, np.divmod,
          np.ldexp}  # fmt: skip
# Need operands the generator does not make (integers, complex-only semantics, core dims).
SKIPPED = {np.ldexp, np.conjugate, np.matvec, np.vecmat, np.vecdot, np.matmul, np.divmod,
           np.modf, np.frexp}  # fmt: skip

UFUNCS = sorted(
    (
        f
        for f in VJP_RULES
        if isinstance(f, np.ufunc)
        and getattr(np, f.__name__, None) is f  # NumPy's own: domains of SciPy's are not known
        and f.nin in (1, 2)
        and f.nout == 1
        and f not in SKIPPED
    ),
    key=lambda f: f.__name__,
)


# Reductions with a rule (or traced through) in the registry.
REDUCTIONS = [
    n
    for n in ("sum", "mean", "max", "min", "prod")
    if getattr(np, n) in VJP_RULES or getattr(np, n) in TRACED_THROUGH
]


def to_domain(func: Any, x: Any) -> Any:
    """Map any real ``x`` smoothly into ``func``'s domain (bounded, so nothing overflows)."""
    if func in POSITIVE:
        return np.exp(np.tanh(x)) + 0.1
    if func in UNIT:
        return 0.7 * np.tanh(x)
    if func in ABOVE_ONE:
        return np.exp(np.tanh(x)) + 1.2
    return np.tanh(x) * 2.0


@dataclass
class Program:
    shapes: list[tuple[int, ...]]
    steps: list[tuple[str, Any]] = field(default_factory=list)
    smooth: bool = True

    def run(self, *inputs: Any) -> Any:
        """Run on plain arrays or GradArrays; return one scalar."""
        pool = list(inputs)
        for kind, arg in self.steps:
            pool.append(_STEP[kind](pool, *arg))
        total = 0.0
        for k, value in enumerate(pool[len(inputs) :]):
            total = total + np.sum(value * (1.0 + 0.1 * k))
        return total

    def has_0d(self) -> bool:
        """Whether an input or an intermediate is 0-d (NumPy turns those into scalars)."""
        pool = [np.zeros(s) for s in self.shapes]
        with np.errstate(all="ignore"):
            for kind, arg in self.steps:
                pool.append(np.asarray(_STEP[kind](pool, *arg)))
        return any(np.ndim(p) == 0 for p in pool) or any(kind == "reduce" for kind, _ in self.steps)

    def __repr__(self) -> str:
        lines = [f"inputs: {self.shapes}"] + [f"  {k} {a}" for k, a in self.steps]
        return "\n".join(lines)


def _unary(pool: list[Any], i: int, func: Any) -> Any:
    return func(to_domain(func, pool[i]))


def _binary(pool: list[Any], i: int, j: int, func: Any) -> Any:
    return func(to_domain(func, pool[i]), to_domain(func, pool[j]))


def _reduce(pool: list[Any], i: int, name: str, axis: Any, keepdims: bool) -> Any:
    x = pool[i]
    if x.ndim == 0:
        axis = None
    elif axis is not None:
        axis = axis % x.ndim
    if name in ("max", "min") and x.size == 0:
        name = "sum"  # max of nothing is an error in NumPy
    if name == "mean" and (x.size == 0 or (axis is not None and x.shape[axis] == 0)):
        name = "sum"  # mean of nothing warns
    return getattr(np, name)(x, axis=axis, keepdims=keepdims)


def _reshape(pool: list[Any], i: int) -> Any:
    x = pool[i]
    return np.reshape(x, (-1,)) if x.ndim != 1 else np.reshape(x, (1, -1) if x.size else (0,))


def _transpose(pool: list[Any], i: int) -> Any:
    return np.transpose(pool[i])


def _getitem(pool: list[Any], i: int, which: int) -> Any:
    x = pool[i]
    if x.ndim == 0 or x.size == 0:
        return x * 1.0
    n = x.shape[0]
    mask = _upper_half(x[..., 0] if x.ndim > 1 else x)
    keys = [slice(None, None, -1), np.array([0, n - 1, 0]), mask, (Ellipsis, None)]
    return x[keys[which % len(keys)]]


def _upper_half(m: Any) -> Any:
    """A boolean mask, made from the data, of the larger half of ``m``'s elements (ties by
    position): where it is True depends on the values, how many are True does not, so the
    shape the generator infers on zeros (``_result_shape``) is the shape the program makes."""
    ranks = np.argsort(np.argsort(np.ravel(m), kind="stable"), kind="stable")
    return np.reshape(ranks >= m.size // 2, np.shape(m))


def _fresh_copy(x: Any, like: Any) -> Any:
    """A copy of ``x`` to write into; a GradArray when ``like`` is one (a plain ndarray cannot
    hold a graph: writing a GradArray into it keeps only the values, as the README says).

    A 0-d copy is what NumPy makes it, a scalar: an in-place operator rebinds it, in NumPy and
    (DESIGN.md, Outputs) on GradArrays alike.
    """
    out = x * 1.0
    if isinstance(like, GradArray) and not isinstance(out, GradArray):
        return nd.asarray(out)
    return out


def _setitem(pool: list[Any], i: int, j: int) -> Any:
    out = _fresh_copy(pool[i], pool[j])
    if out.ndim == 0 or out.shape[0] == 0:
        return out
    value = np.sum(pool[j]) * 0.5
    out[0] = value
    return out


def _inplace(pool: list[Any], i: int, j: int, op: str) -> Any:
    out = _fresh_copy(pool[i], pool[j])
    other = np.sum(pool[j])
    if op == "add":
        out += other
    elif op == "mul":
        out *= np.tanh(other)
    else:
        out -= other
    return out


def _view_write(pool: list[Any], i: int, j: int) -> Any:
    out = _fresh_copy(pool[i], pool[j])
    if out.ndim == 0 or out.shape[0] == 0:
        return out
    view = out[:1]
    view *= 2.0
    view += np.sum(pool[j]) * 0.25
    return out


# --- mutation: views of views, out= aliases, reused buffers, constants, 0-d shadows, .shape ----


def _view_of_view_write(pool: list[Any], i: int, j: int) -> Any:
    out = _fresh_copy(pool[i], pool[j])
    if out.ndim == 0 or out.shape[0] == 0:
        return out
    inner = out[::-1][: max(1, out.shape[0] - 1)]
    inner = inner[..., ::-1] if inner.ndim > 1 else inner
    inner *= np.tanh(np.sum(pool[j]))
    out[0] += 0.5  # a base write after the views were made: they are re-recorded
    return out + inner[:1]


def _out_alias(pool: list[Any], i: int, j: int) -> Any:
    """An input aliased with out= (NumPy buffers the overlap)."""
    out = _fresh_copy(pool[i], pool[j])
    if out.ndim == 0:
        return np.multiply(out, np.tanh(out))
    np.multiply(out, np.tanh(out[::-1]), out=out)
    return out


def _reused_buffer(pool: list[Any], i: int, j: int) -> Any:
    """A buffer saved by one operation, written, and used again."""
    buf = _fresh_copy(pool[i], pool[j])
    first = np.sin(buf) * buf  # saves buf
    if buf.ndim == 0:
        return first
    buf *= 2.0
    np.add(buf, np.sum(pool[j]) * 0.1, out=buf)
    return first + np.cos(buf)


def _constant_modified(pool: list[Any], i: int) -> Any:
    """A constant (no grad) used, then modified: the earlier use keeps the old values."""
    x = pool[i]
    values = np.linspace(0.5, 1.5, max(x.size, 1))[: x.size].reshape(x.shape)
    c = GradArray(values) if isinstance(x, GradArray) else values.copy()
    r = x * c
    if c.ndim == 0:
        return r
    c += 1.0
    c[...] *= 0.5
    return r + c


def _plain_constant_modified(pool: list[Any], i: int) -> Any:
    """A plain ndarray that owns its memory, used as an operand, then modified by NumPy itself
    (ndgrad cannot see the write): the earlier use keeps the old values."""
    x = pool[i]
    c = np.linspace(0.5, 1.5, max(x.size, 1))[: x.size].reshape(x.shape)
    r = x * c
    c += 1.0
    c[...] *= 0.5
    return r + np.sum(c)


def _alias_written_after_save(pool: list[Any], i: int, j: int) -> Any:
    """Plain aliases made before an array is saved, its ``.base``, and a second GradArray over
    its memory, all written after the save (by NumPy, unseen): the saved values stay."""
    h = _fresh_copy(pool[i], pool[j])
    alias = np.asarray(h)
    r = np.sin(h) * h  # saves h
    alias *= 0.5
    base = getattr(h, "base", None)
    if isinstance(h, GradArray) and isinstance(base, np.ndarray):
        base[...] *= 0.5  # the memory owner ndgrad made: plain arrays have no such base here
        other = base.view(GradArray)  # a GradArray ndgrad did not link to h
        other[...] = other * 2.0  # undoes the base write, as the reference run never did it
    return r


def _shadow_0d(pool: list[Any], i: int, j: int) -> Any:
    """NumPy's scalars rebind under +=: what a list holds does not change."""
    s = np.sum(pool[i])
    held = [s]
    s += np.sum(pool[j]) * 0.5
    s *= 1.25
    held.append(s)
    return np.stack(held)


def _shape_assign(pool: list[Any], i: int, j: int) -> Any:
    out = _fresh_copy(pool[i], pool[j])
    if out.ndim == 0:
        return out
    out = np.copy(out, order="C")  # a transposed copy would need a copy to change shape
    out.shape = (-1,)
    out *= 1.5
    out.shape = (1, -1)
    return out * 2.0


def _ufunc_at(pool: list[Any], i: int, j: int) -> Any:
    """ufunc.at with repeated indices, its value a view of the array written."""
    out = _fresh_copy(pool[i], pool[j])
    if out.ndim == 0 or out.shape[0] == 0:
        return out
    n = out.shape[0]
    np.add.at(out, [0, 0, n - 1], out[:1] * np.tanh(np.sum(pool[j])))
    np.add.at(out, [n - 1, n - 1], out[n - 1 :] * 0.75)  # add.at is the one with a rule
    return out


_STEP = {
    "unary": _unary,
    "binary": _binary,
    "reduce": _reduce,
    "reshape": _reshape,
    "transpose": _transpose,
    "getitem": _getitem,
    "setitem": _setitem,
    "inplace": _inplace,
    "view_write": _view_write,
    "view_of_view_write": _view_of_view_write,
    "out_alias": _out_alias,
    "reused_buffer": _reused_buffer,
    "constant_modified": _constant_modified,
    "plain_constant_modified": _plain_constant_modified,
    "alias_written_after_save": _alias_written_after_save,
    "shadow_0d": _shadow_0d,
    "shape_assign": _shape_assign,
    "ufunc_at": _ufunc_at,
}

_shape = st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple)
_nonzero_shape = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)


@st.composite
def programs(draw: Any, max_steps: int = 6, allow_empty: bool = True) -> Program:
    """A random program; inputs broadcast with each other only where binary steps need it."""
    first = draw(_shape if allow_empty else _nonzero_shape)
    n_inputs = draw(st.integers(1, 3))
    shapes = [first]
    for _ in range(n_inputs - 1):
        # a suffix of the first shape, possibly with ones: broadcastable against it
        cut = draw(st.integers(0, len(first)))
        suffix = tuple(draw(st.sampled_from([n, 1])) for n in first[cut:])
        shapes.append(suffix)
    program = Program(shapes)
    size = len(shapes)
    pool_shapes = list(shapes)
    for _ in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(list(_STEP)))
        i = draw(st.integers(0, size - 1))
        if kind == "unary":
            func = draw(st.sampled_from([f for f in UFUNCS if f.nin == 1]))
            arg: tuple[Any, ...] = (i, func)
            program.smooth &= func not in KINKED
        elif kind == "binary":
            func = draw(st.sampled_from([f for f in UFUNCS if f.nin == 2]))
            candidates = [k for k in range(size) if _broadcastable(pool_shapes[i], pool_shapes[k])]
            arg = (i, draw(st.sampled_from(candidates)), func)
            program.smooth &= func not in KINKED
        elif kind == "reduce":
            name = draw(st.sampled_from(REDUCTIONS))
            axis = draw(st.sampled_from([None, 0, -1]))
            arg = (i, name, axis, draw(st.booleans()))
            program.smooth &= name not in ("max", "min")
        elif kind == "getitem":
            arg = (i, draw(st.integers(0, 3)))
            program.smooth &= True
        elif kind in (
            "setitem",
            "view_write",
            "view_of_view_write",
            "out_alias",
            "reused_buffer",
            "shadow_0d",
            "shape_assign",
            "ufunc_at",
            "alias_written_after_save",
        ):
            arg = (i, draw(st.integers(0, size - 1)))
        elif kind == "inplace":
            arg = (i, draw(st.integers(0, size - 1)), draw(st.sampled_from(["add", "mul", "sub"])))
        else:
            arg = (i,)
        program.steps.append((kind, arg))
        pool_shapes.append(_result_shape(program, pool_shapes))
        size += 1
    return program


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _result_shape(program: Program, pool_shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    """Run the steps so far on zeros of the input shapes to learn the new value's shape."""
    pool = [np.zeros(s) for s in pool_shapes[: len(program.shapes)]]
    with np.errstate(all="ignore"):
        for kind, arg in program.steps:
            pool.append(_STEP[kind](pool, *arg))
    return pool[-1].shape
