"""Gradient rules for NumPy's products: dot, inner, outer, tensordot, einsum, kron, cross, ...

A rule is ``rule(g, ans, a, b, ...) -> cotangent`` for one operand, with NumPy's parameter names,
and returns a cotangent of that operand's exact shape. Complex operands follow PyTorch's
convention: the cotangent of ``a`` in ``a * b`` is ``g * conj(b)``. ``matmul``, ``vecdot``,
``matvec`` and ``vecmat`` are ufuncs; their rules live in ``ufuncs``.

Forward mode: every product here is linear in each operand (real-linear in the conjugated ones
of ``vdot`` and ``correlate``), so its tangent is the product with one operand replaced by its
tangent, summed (``defmultilinear``); ``trace`` is linear; ``multi_dot``, whose factors come in
one sequence, has its own rule.
"""

from __future__ import annotations

import string

import numpy as np

from ndgrad._define import defjvp, deflinear, defmultilinear, defvjp, defvjp_argnum
from ndgrad._registry import mark_traced, unbroadcast
from ndgrad._rules._common import conj
from ndgrad._rules.indexing import scatter_add

# --- dot, vdot, inner, outer ------------------------------------------------------------------


def _dot_vjp_a(g, ans, a, b, out=None):
    """``g`` contracted with ``b`` over ``b``'s non-summed axes."""
    b = conj(b)
    na, nb = np.ndim(a), np.ndim(b)  # once: on recorded arguments each is a dispatched call
    if na == 0 or nb == 0:
        return np.sum(g * b) if na == 0 else g * b
    if nb == 1:
        return g[..., None] * b
    k = nb - 1  # b's axes other than the summed one, in order, end g
    b_axes = [*range(nb - 2), nb - 1]
    return np.tensordot(g, b, axes=(list(range(np.ndim(g) - k, np.ndim(g))), b_axes))


def _dot_vjp_b(g, ans, a, b, out=None):
    """``a`` contracted with ``g`` over ``a``'s leading axes, the summed axis moved back."""
    a = conj(a)
    na, nb = np.ndim(a), np.ndim(b)
    if na == 0 or nb == 0:
        return np.sum(g * a) if nb == 0 else g * a
    if nb == 1 and na <= 2:  # one NumPy call, not tensordot's layers (each a recorded node
        return g * a if na == 1 else g @ a  # under create_graph and in forward mode)
    lead = na - 1
    c = np.tensordot(a, g, axes=(list(range(lead)), list(range(lead))))  # (n, *batch, k)
    if nb == 1:
        return c
    return np.transpose(c, [*range(1, nb - 1), 0, nb - 1])


def _inner_vjp_a(g, ans, a, b):
    """``inner`` sums over the last axes: ``g`` contracted with ``b``'s leading axes."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.sum(g * conj(b)) if np.ndim(a) == 0 else g * conj(b)
    k = np.ndim(b) - 1
    g_axes = list(range(np.ndim(g) - k, np.ndim(g)))
    return np.tensordot(g, conj(b), axes=(g_axes, list(range(k))))


def _inner_vjp_b(g, ans, a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return np.sum(g * conj(a)) if np.ndim(b) == 0 else g * conj(a)
    k = np.ndim(a) - 1
    return np.tensordot(g, conj(a), axes=(list(range(k)), list(range(k))))


defvjp(np.dot, _dot_vjp_a, _dot_vjp_b)
# vdot(a, b) = sum(conj(a) * b) over the flattened arrays.
defvjp(
    np.vdot,
    lambda g, ans, a, b: np.reshape(conj(g) * b, np.shape(a)),
    lambda g, ans, a, b: np.reshape(g * a, np.shape(b)),
)
defvjp(np.inner, _inner_vjp_a, _inner_vjp_b)
defvjp(
    np.outer,
    lambda g, ans, a, b, out=None: np.reshape(g @ conj(np.ravel(b)), np.shape(a)),
    lambda g, ans, a, b, out=None: np.reshape(conj(np.ravel(a)) @ g, np.shape(b)),
)

# --- tensordot --------------------------------------------------------------------------------


def _tensordot_axes(axes, ndim_a):
    """``axes`` as two lists of non-negative axes (of ``a`` and of ``b``)."""
    if np.ndim(axes) == 0:
        return list(range(ndim_a - axes, ndim_a)), list(range(axes))
    axes_a, axes_b = axes
    return (
        [axes_a] if np.ndim(axes_a) == 0 else list(axes_a),
        [axes_b] if np.ndim(axes_b) == 0 else list(axes_b),
    )


def _tensordot_vjp(g, a, b, axes, which):
    """Contract ``g`` with the other operand over its free axes, then put the axes back."""
    nda, ndb = np.ndim(a), np.ndim(b)
    axes_a, axes_b = _tensordot_axes(axes, nda)
    axes_a = [x % nda for x in axes_a]
    axes_b = [x % ndb for x in axes_b]
    free_a = [i for i in range(nda) if i not in axes_a]
    free_b = [i for i in range(ndb) if i not in axes_b]
    if which == 0:  # result: a's free axes, then b's summed axes in b's order
        g_axes = list(range(len(free_a), np.ndim(g)))
        c = np.tensordot(g, conj(b), axes=(g_axes, free_b))
        order = free_a + [axes_a[axes_b.index(i)] for i in sorted(axes_b)]
    else:  # result: a's summed axes in a's order, then b's free axes
        g_axes = list(range(len(free_a)))
        c = np.tensordot(conj(a), g, axes=(free_a, g_axes))
        order = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b
    return np.transpose(c, np.argsort(order))


defvjp(
    np.tensordot,
    lambda g, ans, a, b, axes=2: _tensordot_vjp(g, a, b, axes, 0),
    lambda g, ans, a, b, axes=2: _tensordot_vjp(g, a, b, axes, 1),
)

# --- einsum -----------------------------------------------------------------------------------


def _einsum_spec(subscripts, operands):
    """Explicit subscripts, one string per operand and the output, ellipses spelled out."""
    subscripts = subscripts.replace(" ", "")
    inputs, arrow, output = subscripts.partition("->")
    terms = inputs.split(",")
    used = set(subscripts)
    spare = [c for c in string.ascii_letters if c not in used]
    n_ell = max(
        [
            np.ndim(op) - len(t.replace("...", ""))
            for t, op in zip(terms, operands, strict=True)
            if "..." in t
        ]
        or [0]
    )
    ell = "".join(spare[:n_ell])
    terms = [
        t.replace("...", ell[n_ell - (np.ndim(op) - len(t.replace("...", ""))) :])
        for t, op in zip(terms, operands, strict=True)
    ]
    if arrow:
        output = output.replace("...", ell)
    else:  # implicit: the broadcast axes, then the labels used once, alphabetically
        counts = "".join(terms)
        output = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c
                                      not in ell))  # fmt: skip
    return terms, output, spare[n_ell:]


def _from_sublists(args):
    """``einsum(op0, sublist0, op1, sublist1, ..., [out])`` as subscripts and operands."""

    def letters(sublist):
        return "".join("..." if s is Ellipsis else string.ascii_letters[s] for s in sublist)

    pairs = len(args) // 2
    spec = ",".join(letters(s) for s in args[1 : 2 * pairs : 2])
    if len(args) % 2:
        spec += "->" + letters(args[-1])
    return spec, args[0 : 2 * pairs : 2]


def _einsum_vjp(argnum, g, ans, subscripts, *operands, out=None, optimize=False, **kwargs):
    """Contract ``g`` with the other operands into operand ``argnum``'s labels.

    A label that operand repeats (``'ii->i'``) is computed once and put back on the diagonal
    with identity matrices; a label only it carries is broadcast back with ones, and axes it
    broadcast (size 1) are summed.
    """
    if isinstance(subscripts, str):
        k = argnum - 1
    else:  # einsum(op0, sublist0, op1, sublist1, ..., [sublistout])
        if argnum % 2:
            return None  # a sublist of integers
        subscripts, operands = _from_sublists((subscripts, *operands))
        k = argnum // 2
    if k < 0:
        return None
    terms, output, spare = _einsum_spec(subscripts, operands)
    target = terms[k]
    sizes = {}
    for t, op in zip(terms, operands, strict=True):
        for c, n in zip(t, np.shape(op), strict=True):
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]  # 1 broadcasts, 0 too
    unique = "".join(dict.fromkeys(target))
    specs, ops = [output], [g]
    for i, (t, op) in enumerate(zip(terms, operands, strict=True)):
        if i != k:
            specs.append(t)
            ops.append(conj(op))
    present = set("".join(specs))
    for c in unique:
        if c not in present:
            specs.append(c)
            ops.append(np.ones(sizes[c]))
    full = target
    if len(unique) < len(target):  # repeated labels: put the values on the diagonal
        seen = set()
        renamed = []
        for c in target:
            if c in seen:
                new = spare.pop()
                specs.append(c + new)
                ops.append(np.eye(sizes[c]))
                renamed.append(new)
            else:
                renamed.append(c)
                seen.add(c)
        full = "".join(renamed)
    # more than two operands: contract pairwise (NumPy's greedy order), not in one nested loop
    optimize = optimize or ("greedy" if len(ops) > 2 else False)
    c = np.einsum(",".join(specs) + "->" + full, *ops, optimize=optimize)
    # a label of size 1 elsewhere was broadcast against this operand: spread c back along it
    shape = tuple(sizes[label] for label in target)
    c = c if np.shape(c) == shape else np.broadcast_to(c, shape)
    return unbroadcast(c, np.shape(operands[k]))


defvjp_argnum(np.einsum, _einsum_vjp)

# --- kron, cross, trace -----------------------------------------------------------------------


def _kron_blocks(g, a, b):
    """``g`` of shape ``a.shape * b.shape`` as ``(a0, b0, a1, b1, ...)``, padded as kron pads."""
    nd = max(np.ndim(a), np.ndim(b))
    sa = (1,) * (nd - np.ndim(a)) + np.shape(a)
    sb = (1,) * (nd - np.ndim(b)) + np.shape(b)
    return np.reshape(g, tuple(n for pair in zip(sa, sb, strict=True) for n in pair)), nd, sa, sb


def _kron_vjp_a(g, ans, a, b):
    """``kron(a, b)[i*n + j] = a[i] * b[j]``: sum ``g * conj(b)`` over ``b``'s axes."""
    blocks, nd, _, sb = _kron_blocks(g, a, b)
    bb = np.reshape(conj(b), tuple(n for s in sb for n in (1, s)))
    return np.reshape(np.sum(blocks * bb, axis=tuple(range(1, 2 * nd, 2))), np.shape(a))


def _kron_vjp_b(g, ans, a, b):
    blocks, nd, sa, _ = _kron_blocks(g, a, b)
    aa = np.reshape(conj(a), tuple(n for s in sa for n in (s, 1)))
    return np.reshape(np.sum(blocks * aa, axis=tuple(range(0, 2 * nd, 2))), np.shape(b))


defvjp(np.kron, _kron_vjp_a, _kron_vjp_b)


def _to_last(x, axis):
    """``x`` with ``axis`` moved to the end (a transpose, which has a rule)."""
    axis = axis % np.ndim(x)
    return np.transpose(x, [i for i in range(np.ndim(x)) if i != axis] + [axis])


def _from_last(x, axis):
    axis = axis % np.ndim(x)
    order = [i for i in range(np.ndim(x) - 1)]
    order.insert(axis, np.ndim(x) - 1)
    return np.transpose(x, order)


def _as_3_vectors(x):
    """2-vectors along the last axis padded with a zero z component, as cross treats them."""
    if np.shape(x)[-1] == 3:
        return x
    return scatter_add(x, (Ellipsis, slice(0, 2)), (*np.shape(x)[:-1], 3))


def _cross_vjp(g, a, b, axisa, axisb, axisc, axis, which):
    """``d(a x b) = da x b + a x db``: ``a`` gets ``b x g``, ``b`` gets ``g x a`` (conjugated)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a_, b_ = _to_last(a, axisa), _to_last(b, axisb)
    if np.shape(a_)[-1] == 2 and np.shape(b_)[-1] == 2:  # the result is the z component
        g3 = scatter_add(np.expand_dims(g, -1), (Ellipsis, slice(2, 3)), (*np.shape(g), 3))
    else:
        g3 = _to_last(g, axisc)
    if which == 0:
        c = np.cross(conj(_as_3_vectors(b_)), g3)
        x_ = a_
    else:
        c = np.cross(g3, conj(_as_3_vectors(a_)))
        x_ = b_
    c = unbroadcast(c[..., : np.shape(x_)[-1]], np.shape(x_))
    return _from_last(c, axisa if which == 0 else axisb)


defvjp(
    np.cross,
    lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None: _cross_vjp(
        g, a, b, axisa, axisb, axisc, axis, 0
    ),
    lambda g, ans, a, b, axisa=-1, axisb=-1, axisc=-1, axis=None: _cross_vjp(
        g, a, b, axisa, axisb, axisc, axis, 1
    ),
)


def _trace_vjp(g, ans, a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """``g`` on the ``offset`` diagonal of the ``(axis1, axis2)`` planes, zeros elsewhere."""
    shape = np.shape(a)
    ax1, ax2 = axis1 % len(shape), axis2 % len(shape)
    eye = np.eye(shape[ax1], shape[ax2], k=offset, dtype=bool)
    if ax1 > ax2:
        eye = eye.T
    eye = np.reshape(eye, tuple(n if i in (ax1, ax2) else 1 for i, n in enumerate(shape)))
    return np.expand_dims(g, (min(ax1, ax2), max(ax1, ax2))) * eye


defvjp(np.trace, _trace_vjp)

# --- multi_dot --------------------------------------------------------------------------------


def _multi_dot_vjp(g, ans, arrays, *, out=None):
    """For ``A_0 ... A_k``: the cotangent of ``A_i`` is ``(A_0..A_{i-1})^H G (A_{i+1}..A_k)^H``.

    1-d first/last arrays are a row/column vector, as multi_dot treats them.
    """
    mats = list(arrays)
    first_1d, last_1d = np.ndim(mats[0]) == 1, np.ndim(mats[-1]) == 1
    if first_1d:
        mats[0] = np.reshape(mats[0], (1, -1))
    if last_1d:
        mats[-1] = np.reshape(mats[-1], (-1, 1))
    g = np.reshape(g, (np.shape(mats[0])[0], np.shape(mats[-1])[1]))
    left = [None] * len(mats)  # left[i] = (A_0 .. A_{i-1})^H G
    acc = g
    for i in range(len(mats)):
        left[i] = acc
        acc = np.conj(np.transpose(mats[i])) @ acc
    grads = [None] * len(mats)
    acc = None  # (A_{i+1} .. A_k)^H
    for i in range(len(mats) - 1, -1, -1):
        grads[i] = left[i] if acc is None else left[i] @ acc
        h = np.conj(np.transpose(mats[i]))
        acc = h if acc is None else acc @ h
    return [np.reshape(c, np.shape(x)) for c, x in zip(grads, arrays, strict=True)]


def _multi_dot_jvp(t, ans, arrays, *, out=None):
    """The sum over factors of the product with that factor replaced by its tangent (``t`` holds
    zeros for the factors without one; each product in multi_dot's own order)."""
    total = None
    for i, ti in enumerate(t):
        part = np.linalg.multi_dot([*arrays[:i], ti, *arrays[i + 1 :]])
        total = part if total is None else total + part
    return total


defvjp(np.linalg.multi_dot, _multi_dot_vjp)
defjvp(np.linalg.multi_dot, _multi_dot_jvp)

# --- convolution and correlation ------------------------------------------------------------


def _full_offset(n, m, length, mode, correlate):
    """Where the ``mode`` result sits inside the full one (NumPy's convention, measured)."""
    if mode == "full":
        return 0
    short = min(n, m)
    if mode == "valid":
        return short - 1
    if correlate and n < m:
        return n + m - 1 - length - (short - 1) // 2
    return (short - 1) // 2


def _full_cotangent(g, n, m, mode, correlate):
    """``g`` of a ``mode`` result, as the cotangent of the full result (zeros outside)."""
    start = _full_offset(n, m, np.shape(g)[0], mode, correlate)
    return scatter_add(g, slice(start, start + np.shape(g)[0]), (n + m - 1,))


def _convolve_vjp_a(g, ans, a, v, mode="full"):
    """``a[i]`` meets ``v[k - i]`` in output ``k``: correlate ``g`` with ``v``."""
    full = _full_cotangent(g, np.size(a), np.size(v), mode, False)
    return np.correlate(full, v, "valid")


def _convolve_vjp_v(g, ans, a, v, mode="full"):
    full = _full_cotangent(g, np.size(a), np.size(v), mode, False)
    return np.correlate(full, a, "valid")


def _correlate_vjp_a(g, ans, a, v, mode="valid"):
    """``correlate(a, v)`` is ``convolve(a, conj(v[::-1]))``."""
    full = _full_cotangent(g, np.size(a), np.size(v), mode, True)
    return np.correlate(full, conj(v[::-1]), "valid")


def _correlate_vjp_v(g, ans, a, v, mode="valid"):
    full = _full_cotangent(g, np.size(a), np.size(v), mode, True)
    return conj(np.correlate(full, a, "valid")[::-1])


defvjp(np.convolve, _convolve_vjp_a, _convolve_vjp_v)
defvjp(np.correlate, _correlate_vjp_a, _correlate_vjp_v)

# every mode is a slice of the full result, which is bilinear
defmultilinear(
    np.dot, np.vdot, np.inner, np.outer, np.tensordot, np.einsum, np.kron, np.cross,
    np.convolve, np.correlate,
)  # fmt: skip
deflinear(np.trace)

# --- numpy.linalg's array-API spellings: thin wrappers that call the functions above ----------
# (np.linalg.outer -> np.outer, np.linalg.trace -> np.trace on the last two axes, ...), which
# dispatch on GradArray again; np.linalg.matmul and vecdot call the ufuncs.
mark_traced(
    np.linalg.cross, np.linalg.outer, np.linalg.tensordot, np.linalg.trace, np.linalg.vecdot,
    np.linalg.matmul, np.linalg.diagonal, np.linalg.matrix_transpose,
)  # fmt: skip
