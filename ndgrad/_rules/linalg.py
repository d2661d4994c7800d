"""Gradient rules for ``numpy.linalg``: solves, inverses, determinants, factorizations, norms.

A rule is ``rule(g, ans, *inputs, **params) -> cotangent`` for one input, with NumPy's own
parameter names; a function with several outputs (``eigh``, ``svd``, ``qr``, ``slogdet``,
``lstsq``) gets ``g`` and ``ans`` as tuples. Every rule works on stacks of matrices (the last
two axes) wherever NumPy does, and returns a cotangent of its input's exact shape.

Conventions:

* Complex inputs follow PyTorch's convention (``z.grad = dL/dRe z + 1j dL/dIm z``), so the
  rules are the real ones with transposes replaced by conjugate transposes.
* Stable forms: a rule solves linear systems with ``np.linalg.solve`` rather than multiplying by
  an inverse whenever the inverse is not itself the output.
* ``cholesky``, ``eigh``, ``eigvalsh`` and ``svd``/``pinv`` with ``hermitian=True`` read only one
  triangle of their input (LAPACK ignores the other one), and the gradient says so: it is the
  derivative of exactly the function NumPy computes, so the ignored triangle gets zero and each
  off-diagonal element of the triangle that is read gets the contributions of both positions it
  stands for. To treat the input as a symmetric matrix (the PyTorch/JAX convention), symmetrize
  it first: ``np.linalg.eigh((a + a.mT) / 2)``.
* Degenerate spectra. The derivative of eigenvectors (and singular vectors) is undefined where
  two eigenvalues (singular values) are equal: it contains ``1 / (w_j - w_i)``. ndgrad drops the
  terms that couple exactly equal values (takes ``1 / 0`` as ``0``). Gradients of eigenvalues
  and singular values, and of anything that depends on the vectors only through their
  eigenspaces, stay finite and correct there; for any other loss the value returned at a
  degenerate point is one arbitrary choice, and near such a point gradients grow like
  ``1 / (w_j - w_i)``. The same holds for zero singular values in the non-square ``svd`` terms
  and for ``pinv`` and ``lstsq`` at a change of rank.
* Eigenvectors and complex singular vectors are defined up to a phase; gradients are correct for
  losses that do not depend on that phase (as in PyTorch).

Forward mode: each VJP rule has a JVP rule beside it (``rule(t, ans, *inputs, **params)``, the
tangent of the output for the tangent ``t`` of one input), the differential of the same
function with the same conventions: the triangle that is read, the dropped ``1 / 0`` terms,
and the gauge of eigen- and singular vectors that the VJP rule is the adjoint of (stated per
rule). Norms and ``cond`` take ``Re <grad, t>`` from their VJP rule's gradient.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import defjvp, defvjp
from ndgrad._registry import unbroadcast
from ndgrad._rules._common import conj, expand_reduced, is_complex, zeros_of
from ndgrad._rules.indexing import scatter_add

# --- helpers: all NumPy calls, so that the rules can be differentiated again --------------------


def mT(a):
    return np.swapaxes(a, -1, -2)


def mH(a):
    """The conjugate transpose of a stack of matrices."""
    return np.swapaxes(conj(a), -1, -2)


def diagonals(a):
    """The diagonals of a stack of square matrices (a masked sum: it has a rule already)."""
    return np.sum(a * np.eye(a.shape[-1]), axis=-1)


def diag_embed(d):
    """Square matrices with ``d`` on the diagonal."""
    return np.expand_dims(d, -1) * np.eye(d.shape[-1])


def _scaled_eye(c, n):
    """``c[..., None, None] * I``: a stack of scalars times the identity."""
    return np.expand_dims(c, (-1, -2)) * np.eye(n)


def inv_gap(w):
    """``F[..., i, j] = 1 / (w_j - w_i)``, with 0 on the diagonal and between equal values."""
    d = np.expand_dims(w, -2) - np.expand_dims(w, -1)
    return 1 / np.where(d == 0, np.inf, d)


def tri_read(grad, lower):
    """The gradient with respect to a matrix of which NumPy reads only one triangle.

    ``grad`` is a gradient for Hermitian perturbations; the element ``a[i, j]`` of the triangle
    that is read stands for both ``a[i, j]`` and ``a[j, i]`` (conjugated), and the imaginary part
    of the diagonal is ignored.
    """
    n = grad.shape[-1]
    strict = np.tri(n, k=-1, dtype=bool) if lower else np.tri(n, k=-1, dtype=bool).T
    return (grad + mH(grad)) * strict + np.real(grad) * np.eye(n)


def hermitian_from(a, lower):
    """The Hermitian matrix that NumPy builds from one triangle of ``a`` (``UPLO``)."""
    n = a.shape[-1]
    strict = np.tri(n, k=-1, dtype=bool) if lower else np.tri(n, k=-1, dtype=bool).T
    return np.real(a) * np.eye(n) + a * strict + mH(a * strict)


def _trace(a):
    return np.trace(a, axis1=-2, axis2=-1)


def _columns(x, vector):
    """``x`` with a trailing column axis when the right-hand side is a vector."""
    return np.expand_dims(x, -1) if vector else x


def _uncolumns(x, vector):
    return x[..., 0] if vector else x


def right_solve(x, m):
    """``x m^-1`` (a solve with ``m^H``)."""
    return mH(np.linalg.solve(mH(m), mH(x)))


def _sgn(x):
    """``x / |x|``, 0 at 0: the direction in which ``|x|`` grows, real or complex."""
    if is_complex(x):
        ax = np.abs(x)
        return x / np.where(ax == 0, 1, ax)
    return np.sign(x)


# --- inverses and solving -----------------------------------------------------------------------
# inv: d(A^-1) = -A^-1 dA A^-1, so the cotangent is -A^-H g A^-H, from the output alone.
defvjp(np.linalg.inv, lambda g, ans, a: -mH(ans) @ g @ mH(ans))
defjvp(np.linalg.inv, lambda t, ans, a: -ans @ t @ ans)


def _solve_cotangent_b(g, a, vector):
    """``solve(a^H, g)``; a 1-d ``b`` (``vector``) is one column shared by every matrix."""
    if vector:
        return np.linalg.solve(mH(a), np.expand_dims(g, -1))
    return np.linalg.solve(mH(a), g)


def _solve_vjp_a(g, ans, a, b):
    """x = a^-1 b: the cotangent of ``a`` is -(a^-H g) x^H (``b`` itself is not kept)."""
    gb = _solve_cotangent_b(g, a, b.ndim == 1)
    x = np.expand_dims(ans, -1) if b.ndim == 1 else ans
    return unbroadcast(-gb @ mH(x), a.shape)


def _solve_vjp_b(g, ans, a, b):
    """x = a^-1 b: the cotangent of ``b`` is a^-H g, summed over the stacks it was shared by."""
    gb = _solve_cotangent_b(g, a, b.ndim == 1)
    return unbroadcast(gb[..., 0] if b.ndim == 1 else gb, b.shape)


def _solve_jvp_a(t, ans, a, b):
    """dx = -a^-1 da x."""
    vector = b.ndim == 1
    return _uncolumns(-np.linalg.solve(a, t @ _columns(ans, vector)), vector)


defvjp(np.linalg.solve, _solve_vjp_a, _solve_vjp_b)
defjvp(np.linalg.solve, _solve_jvp_a, lambda t, ans, a, b: np.linalg.solve(a, t))


def _tensorsolve_moved(a, axes):
    """``a`` with ``axes`` moved to the end, as ``tensorsolve`` does, and the permutation."""
    order = list(range(a.ndim))
    if axes is not None:
        for k in axes:
            order.remove(k % a.ndim)
            order.append(k % a.ndim)
    return np.transpose(a, order), order


def _tensorsolve_vjp_a(g, ans, a, b, axes=None):
    """As ``solve``, on ``a`` reshaped to the square matrix that ``tensorsolve`` solves with."""
    moved, order = _tensorsolve_moved(a, axes)
    size = ans.size
    gb = np.linalg.solve(mH(np.reshape(moved, (size, size))), np.reshape(g, (size, 1)))
    ga = -gb @ conj(np.reshape(ans, (1, size)))
    return np.transpose(np.reshape(ga, moved.shape), np.argsort(order))


def _tensorsolve_vjp_b(g, ans, a, b, axes=None):
    moved, _ = _tensorsolve_moved(a, axes)
    size = b.size
    gb = np.linalg.solve(mH(np.reshape(moved, (size, size))), np.reshape(g, (size,)))
    return np.reshape(gb, b.shape)


def _tensorsolve_jvp_a(t, ans, a, b, axes=None):
    """tensordot(a', x) = b: dx = tensorsolve(a, -tensordot(da', x)), a' = a with axes moved."""
    moved, _ = _tensorsolve_moved(t, axes)
    return -np.linalg.tensorsolve(a, np.tensordot(moved, ans, ans.ndim), axes)


defvjp(np.linalg.tensorsolve, _tensorsolve_vjp_a, _tensorsolve_vjp_b)
defjvp(
    np.linalg.tensorsolve,
    _tensorsolve_jvp_a,
    lambda t, ans, a, b, axes=None: np.linalg.tensorsolve(a, t, axes),
)


def _tensorinv_vjp(g, ans, a, ind=2):
    """As ``inv``, on the matrices that ``tensorinv`` reshapes ``a`` and its output to."""
    rows = ans.size // int(np.prod(a.shape[:ind]))
    inv2 = np.reshape(ans, (rows, -1))
    return np.reshape(-mH(inv2) @ np.reshape(g, (rows, -1)) @ mH(inv2), a.shape)


def _tensorinv_jvp(t, ans, a, ind=2):
    n = int(np.prod(t.shape[:ind]))
    inv2 = np.reshape(ans, (n, n))
    return np.reshape(-inv2 @ np.reshape(t, (n, n)) @ inv2, ans.shape)


defvjp(np.linalg.tensorinv, _tensorinv_vjp)
defjvp(np.linalg.tensorinv, _tensorinv_jvp)


def pinv_grad(g, x, a):
    """Cotangent of A for X = pinv(A), exact while the rank is constant (Golub and Pereyra).

    dX = -X dA X + X X^H dA^H (I - A X) + (I - X A) dA^H X^H X.
    """
    m, n = a.shape[-2:]
    xh = mH(x)
    gh = mH(g)
    return (
        -xh @ g @ xh + (np.eye(m) - a @ x) @ (gh @ (x @ xh)) + ((xh @ x) @ gh) @ (np.eye(n) - x @ a)
    )


def _pinv_vjp(g, ans, a, rcond=None, hermitian=False, **kwargs):
    """See ``pinv_grad``; with ``hermitian=True`` NumPy reads only the lower triangle."""
    if hermitian:
        return tri_read(pinv_grad(g, ans, hermitian_from(a, True)), True)
    return pinv_grad(g, ans, a)


def pinv_jvp(t, x, a):
    """The differential of X = pinv(A) along dA = ``t`` (the formula of ``pinv_grad``)."""
    m, n = a.shape[-2:]
    th, xh = mH(t), mH(x)
    return -x @ t @ x + (x @ xh) @ th @ (np.eye(m) - a @ x) + (np.eye(n) - x @ a) @ th @ (xh @ x)


def _pinv_jvp(t, ans, a, rcond=None, hermitian=False, **kwargs):
    if hermitian:
        return pinv_jvp(hermitian_from(t, True), ans, hermitian_from(a, True))
    return pinv_jvp(t, ans, a)


defvjp(np.linalg.pinv, _pinv_vjp)
defjvp(np.linalg.pinv, _pinv_jvp)


def lstsq_vjp(g, a, b, rcond, is_b=False):
    """x = pinv(a) b (the minimum-norm solution), residuals |b - a x|^2, s = svdvals(a).

    The residuals are stationary in x, so their gradient is -2 r x^H for ``a`` and 2 r for ``b``.
    ``pinv`` drops the singular values that ``lstsq`` drops (same relative cutoff).
    """
    gx, gres, _, gs = g
    # The residuals are real; SciPy 1.18 returns them as complex numbers for complex ``a``,
    # whose imaginary part is zero whatever ``a`` and ``b`` are: it takes no cotangent.
    gres = np.real(gres)
    # the argument without a gradient may be a list (``lstsq(a, [1.0, 2.0])``)
    a = a if isinstance(a, np.ndarray) else np.asarray(a)
    b = b if isinstance(b, np.ndarray) else np.asarray(b)
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * max(a.shape[-2:])
    pinv = np.linalg.pinv(a, rcond=rcond)
    b2 = np.expand_dims(b, -1) if b.ndim == 1 else b
    gx2 = np.expand_dims(gx, -1) if b.ndim == 1 else gx
    x2 = pinv @ b2
    r = b2 - a @ x2
    if is_b:
        gb = mH(pinv) @ gx2
        if gres.size:
            gb = gb + 2 * r * gres
        return np.reshape(gb, b.shape)
    ga = pinv_grad(gx2 @ mH(b2), pinv, a)
    if gres.size:
        ga = ga - 2 * (r * gres) @ mH(x2)
    return ga + _svdvals_grad(gs, a)


def lstsq_jvp(t, ans, a, b, rcond, is_b=False):
    """The tangents of (x, residuals, rank, s) for the tangent ``t`` of ``a`` or (``is_b``)
    of ``b``: dx = d(pinv) b + pinv db; the residuals are stationary in x (a^H r = 0), so
    d|r|^2 = 2 Re <r, db - da x>; ds as for ``svdvals``. ``s`` may be None (SciPy's gelsy)."""
    x, res, _, s = ans
    a = a if isinstance(a, np.ndarray) else np.asarray(a)
    b = b if isinstance(b, np.ndarray) else np.asarray(b)
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * max(a.shape[-2:])
    vector = b.ndim == 1
    pinv = np.linalg.pinv(a, rcond=rcond)
    x2 = _columns(x, vector)
    if is_b:
        moved = _columns(t, vector)  # d(b - a x) with x held
        dx = pinv @ moved
        ds = None
    else:
        moved = -(t @ x2)
        dx = pinv_jvp(t, pinv, a) @ _columns(b, vector)
        ds = None if s is None else _svdvals_jvp(t, a)
    dres = None
    if np.size(res):
        r = _columns(b, vector) - a @ x2
        dres = np.reshape(2 * np.real(np.sum(conj(r) * moved, axis=-2)), np.shape(res))
    return _uncolumns(dx, vector), dres, None, ds


defvjp(
    np.linalg.lstsq,
    lambda g, ans, a, b, rcond=None: lstsq_vjp(g, a, b, rcond),
    lambda g, ans, a, b, rcond=None: lstsq_vjp(g, a, b, rcond, is_b=True),
)
defjvp(
    np.linalg.lstsq,
    lambda t, ans, a, b, rcond=None: lstsq_jvp(t, ans, a, b, rcond),
    lambda t, ans, a, b, rcond=None: lstsq_jvp(t, ans, a, b, rcond, is_b=True),
)


def _matrix_power_vjp(g, ans, a, n):
    """d(B^k) = sum_j B^j dB B^(k-1-j), with B = a, or B = inv(a) for negative ``n``."""
    if n == 0:
        return zeros_of(g)
    b = a if n > 0 else np.linalg.inv(a)
    bh = mH(b)
    k = abs(n)
    gb = g @ np.linalg.matrix_power(bh, k - 1)
    for j in range(1, k):
        gb = gb + np.linalg.matrix_power(bh, j) @ g @ np.linalg.matrix_power(bh, k - 1 - j)
    return gb if n > 0 else -bh @ gb @ bh


def _matrix_power_jvp(t, ans, a, n):
    """d(B^k) = d(B^(k-1)) B + B^(k-1) dB, from k = 1 up; B = inv(a) for negative ``n``."""
    if n == 0:
        return zeros_of(t)
    if n > 0:
        b, db = a, t
    else:
        b = np.linalg.inv(a)
        db = -b @ t @ b
    d, power = db, b
    for _ in range(abs(n) - 1):
        d = d @ b + power @ db
        power = power @ b
    return d


defvjp(np.linalg.matrix_power, _matrix_power_vjp, None)
defjvp(np.linalg.matrix_power, _matrix_power_jvp, None)

# --- determinants -------------------------------------------------------------------------------


def det_vjp(g, ans, a):
    """d det = det tr(A^-1 dA): the cotangent is g det* A^-H, by a solve with A^H.

    For a singular or nearly singular ``a`` (|det| below 1e-8 times Hadamard's bound, the
    product of the row norms) that solve is inaccurate or fails, but the gradient, the cofactor
    matrix, exists: with A = U S V^H it is conj(det U det V^H) U diag(prod_{j != i} s_j) V^H,
    which the rule uses there (as PyTorch does).
    """
    n = a.shape[-1]
    bound = np.prod(np.sqrt(np.sum(np.abs(a) ** 2, axis=-1)), axis=-1)
    bad = np.expand_dims(np.abs(ans) <= 1e-8 * bound, (-1, -2))
    if not np.any(bad):
        return np.linalg.solve(mH(a), _scaled_eye(g * conj(ans), n))
    # Per matrix of the stack: the solve where it is accurate (identity stands in elsewhere).
    good = np.linalg.solve(mH(np.where(bad, np.eye(n), a)), _scaled_eye(g * conj(ans), n))
    u, s, vh = np.linalg.svd(a)
    others = np.prod(np.where(np.eye(n, dtype=bool), 1, np.expand_dims(s, -2)), axis=-1)
    phase = conj(np.linalg.det(u) * np.linalg.det(vh))
    cofactor = (u * np.expand_dims(others, -2)) @ vh * np.expand_dims(g * phase, (-1, -2))
    return np.where(bad, cofactor, good)


def _slogdet_vjp(g, ans, a):
    """d log det = tr(A^-1 dA); for complex ``a`` the phase (``sign``) adds Im to log det."""
    g_sign, g_log = g
    if is_complex(a):
        g_log = g_log - 1j * np.imag(np.conj(g_sign) * ans[0])
    return np.linalg.solve(mH(a), _scaled_eye(g_log, a.shape[-1]))


def det_jvp(t, ans, a):
    """d det = det tr(A^-1 dA) = sum(cof o dA), cof the cofactor matrix; where ``a`` is (nearly)
    singular, as in ``det_vjp``, cof = det(U) det(V^H) conj(U diag(prod_{j != i} s_j) V^H)."""
    n = a.shape[-1]
    bound = np.prod(np.sqrt(np.sum(np.abs(a) ** 2, axis=-1)), axis=-1)
    bad = np.abs(ans) <= 1e-8 * bound
    if not np.any(bad):
        return ans * _trace(np.linalg.solve(a, t))
    good = ans * _trace(np.linalg.solve(np.where(np.expand_dims(bad, (-1, -2)), np.eye(n), a), t))
    u, s, vh = np.linalg.svd(a)
    others = np.prod(np.where(np.eye(n, dtype=bool), 1, np.expand_dims(s, -2)), axis=-1)
    cofactor = conj((u * np.expand_dims(others, -2)) @ vh) * np.expand_dims(
        np.linalg.det(u) * np.linalg.det(vh), (-1, -2)
    )
    return np.where(bad, np.sum(cofactor * t, axis=(-2, -1)), good)


def _slogdet_jvp(t, ans, a):
    """d log|det| = Re tr(A^-1 dA); the phase turns by i Im tr(A^-1 dA)."""
    tau = _trace(np.linalg.solve(a, t))
    if is_complex(tau):
        return ans[0] * (1j * np.imag(tau)), np.real(tau)
    return None, tau


defvjp(np.linalg.det, det_vjp)
defvjp(np.linalg.slogdet, _slogdet_vjp)
defjvp(np.linalg.det, det_jvp)
defjvp(np.linalg.slogdet, _slogdet_jvp)

# --- factorizations -----------------------------------------------------------------------------


def cholesky_vjp(g, ans, a, upper=False):
    """A = L L^H: the cotangent is L^-H Phi(L^H gL) L^-1 (Murray 2016), Phi = lower triangle
    with the diagonal halved, then read off the triangle that NumPy uses."""
    lo = mH(ans) if upper else ans
    g_lo = mH(g) if upper else g
    n = lo.shape[-1]
    phi = (mH(lo) @ g_lo) * (np.tri(n) - 0.5 * np.eye(n))
    left = np.linalg.solve(mH(lo), phi)  # L^-H Phi
    grad = mH(np.linalg.solve(mH(lo), mH(left)))  # L^-H Phi L^-1
    return tri_read(grad, not upper)


def cholesky_jvp(t, ans, a=None, upper=False):
    """dL = L Phi(L^-1 dA L^-H) (Murray 2016), dA the Hermitian matrix of the triangle read."""
    lo = mH(ans) if upper else ans
    n = lo.shape[-1]
    half = np.linalg.solve(lo, hermitian_from(t, not upper))  # L^-1 dA
    inner = np.linalg.solve(lo, mH(half))  # L^-1 dA L^-H, dA Hermitian
    d = lo @ (inner * (np.tri(n) - 0.5 * np.eye(n)))
    return mH(d) if upper else d


defvjp(np.linalg.cholesky, cholesky_vjp)
defjvp(np.linalg.cholesky, cholesky_jvp)


def _copyltu(m):
    """The Hermitian matrix whose lower triangle is that of ``m``."""
    n = m.shape[-1]
    strict = np.tri(n, k=-1, dtype=bool)
    return m * strict + mH(m * strict) + np.real(m) * np.eye(n)


def _qr_tall_grad(gq, gr, q, r):
    """A = QR with m >= n (Walter and Lehmann; Liao et al. 2019):
    gA = (gQ + Q copyltu(M)) R^-H, M = R gR^H - gQ^H Q.

    A zero cotangent gives a zero gradient without solving with R, which is singular at a
    rank-deficient ``a``; a nonzero one there raises, naming the cause (QR has no derivative
    where R is singular).
    """
    if not (np.any(gq) or np.any(gr)):
        return np.zeros_like(q @ r)
    m = r @ mH(gr) - mH(gq) @ q
    b = gq + q @ _copyltu(m)
    try:
        return mH(np.linalg.solve(r, mH(b)))
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "the gradient of numpy.linalg.qr is not defined at a rank-deficient input (R is "
            "singular); differentiate a full-rank input, or use np.linalg.svd or pinv, whose "
            "gradients are defined where the rank stays constant."
        ) from None


def qr_grad(gq, gr, q, r, a):
    """Tall or square ``a`` directly; wide ``a = [X | Y]`` as X = Q U (square) and Y = Q V."""
    m, n = a.shape[-2:]
    if m >= n:
        return _qr_tall_grad(gq, gr, q, r)
    y = a[..., m:]
    gv = gr[..., m:]
    gx = _qr_tall_grad(gq + y @ mH(gv), gr[..., :m], q, r[..., :m])
    # [gx | Q gV], placed with scatter_add (concatenate is another module's rule)
    shape = (*gx.shape[:-1], n)
    return scatter_add(gx, (Ellipsis, slice(0, m)), shape) + scatter_add(
        q @ gv, (Ellipsis, slice(m, n)), shape
    )


def _qr_vjp(g, ans, a, mode="reduced"):
    """Reduced QR of any shape; 'complete' only when it equals 'reduced' (m <= n)."""
    m, n = a.shape[-2:]
    if mode == "r":
        q, r = np.linalg.qr(a)
        return qr_grad(zeros_of(q), g, q, r, a)
    if mode not in ("reduced", "complete") or (mode == "complete" and m > n):
        raise NotImplementedError(
            f"the gradient of numpy.linalg.qr with mode={mode!r} is not defined for this shape "
            "(the extra columns of a complete Q are not unique); use mode='reduced'."
        )
    return qr_grad(g[0], g[1], ans[0], ans[1], a)


def _qr_tall_jvp(t, q, r):
    """A = QR, m >= n: with C = Q^H dA R^-1 = Q^H dQ + dR R^-1, Q^H dQ = W is skew-Hermitian
    and dR R^-1 upper triangular with a real diagonal (LAPACK's R has one): W is the strictly
    lower part of C minus its conjugate transpose, plus i Im diag(C); dR = (C - W) R and
    dQ = dA R^-1 - Q (C - W)."""
    try:
        ar = right_solve(t, r)
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(
            "the derivative of numpy.linalg.qr is not defined at a rank-deficient input (R is "
            "singular)"
        ) from None
    c = mH(q) @ ar
    n = c.shape[-1]
    low = c * np.tri(n, k=-1, dtype=bool)
    w = low - mH(low)
    if is_complex(c):
        w = w + diag_embed(1j * np.imag(diagonals(c)))
    upper = c - w
    return ar - q @ upper, upper @ r


def qr_jvp(t, q, r):
    """Reduced QR of any shape; wide ``a = [X | Y]`` as X = Q U and Y = Q V, so that
    dV = Q^H (dY - dQ V)."""
    m, n = t.shape[-2:]
    if m >= n:
        return _qr_tall_jvp(t, q, r)
    dq, du = _qr_tall_jvp(t[..., :m], q, r[..., :m])
    dv = mH(q) @ (t[..., m:] - dq @ r[..., m:])
    return dq, np.concatenate([du, dv], axis=-1)


def _qr_jvp(t, ans, a, mode="reduced"):
    m, n = a.shape[-2:]
    if mode == "r":
        q, r = np.linalg.qr(a)
        return qr_jvp(t, q, r)[1]
    if mode not in ("reduced", "complete") or (mode == "complete" and m > n):
        raise NotImplementedError(
            f"the derivative of numpy.linalg.qr with mode={mode!r} is not defined for this shape "
            "(the extra columns of a complete Q are not unique); use mode='reduced'."
        )
    return qr_jvp(t, ans[0], ans[1])


defvjp(np.linalg.qr, _qr_vjp)
defjvp(np.linalg.qr, _qr_jvp)

# --- eigenvalues --------------------------------------------------------------------------------


def _eigh_vjp(g, ans, a, UPLO="L"):
    """A = V diag(w) V^H: gA = V (diag(gw) + F o (V^H gV)) V^H, F_ij = 1 / (w_j - w_i)."""
    gw, gv = g
    w, v = ans
    inner = diag_embed(gw) + (mH(v) @ gv) * inv_gap(w)
    return tri_read(v @ inner @ mH(v), UPLO == "L")


def _eigvalsh_vjp(g, ans, a, UPLO="L"):
    """dw_i = v_i^H dA v_i, with the eigenvectors recomputed (recorded, for second order)."""
    _, v = np.linalg.eigh(a, UPLO)
    return tri_read((v * np.expand_dims(g, -2)) @ mH(v), UPLO == "L")


def _eigh_jvp(t, ans, a, UPLO="L"):
    """P = V^H dA V: dw = diag(P), dV = V (F o P), F_ij = 1 / (w_j - w_i) (0 on the diagonal:
    the gauge V^H dV with a zero diagonal)."""
    w, v = ans
    p = mH(v) @ hermitian_from(t, UPLO == "L") @ v
    return np.real(diagonals(p)), v @ (p * inv_gap(w))


def _eigvalsh_jvp(t, ans, a, UPLO="L"):
    _, v = np.linalg.eigh(a, UPLO)
    return np.real(np.sum(conj(v) * (hermitian_from(t, UPLO == "L") @ v), axis=-2))


defvjp(np.linalg.eigh, _eigh_vjp)
defvjp(np.linalg.eigvalsh, _eigvalsh_vjp)
defjvp(np.linalg.eigh, _eigh_jvp)
defjvp(np.linalg.eigvalsh, _eigvalsh_jvp)


def eig_grad(gw, gv, w, v):
    """A = V diag(w) V^-1 (PyTorch's linalg_eig_backward), for unit-norm eigenvectors:
    gA = V^-H (diag(gw) + (V^H gV - V^H V Re(diag(V^H gV))) / conj(E)) V^H, E_ij = w_j - w_i."""
    vh = mH(v)
    inner = vh @ gv
    inner = inner - (vh @ v) * np.expand_dims(np.real(diagonals(inner)), -2)
    inner = inner * conj(inv_gap(w)) + diag_embed(gw)
    return np.linalg.solve(vh, inner @ vh)


def eig_jvp(t, w, v):
    """PyTorch's linalg_eig_jvp, for unit-norm eigenvectors: P = V^-1 dA V, dw = diag(P),
    dV = V W - V diag(Re diag(V^H V W)), W = P / E off the diagonal (E_ij = w_j - w_i). The
    imaginary part of v_i^H dv_i (the phase) is left at what W gives, as ``eig_grad`` assumes."""
    p = np.linalg.solve(v, t @ v)
    dv = v @ (p * inv_gap(w))
    dv = dv - v * np.real(np.sum(conj(v) * dv, axis=-2, keepdims=True))
    return diagonals(p), dv


defvjp(np.linalg.eig, lambda g, ans, a: eig_grad(g[0], g[1], ans[0], ans[1]))
defjvp(np.linalg.eig, lambda t, ans, a: eig_jvp(t, ans[0], ans[1]))


def _eigvals_vjp(g, ans, a):
    _, v = np.linalg.eig(a)
    return np.linalg.solve(mH(v), np.expand_dims(g, -1) * mH(v))


def _eigvals_jvp(t, ans, a):
    _, v = np.linalg.eig(a)
    return diagonals(np.linalg.solve(v, t @ v))


defvjp(np.linalg.eigvals, _eigvals_vjp)
defjvp(np.linalg.eigvals, _eigvals_jvp)

# --- singular values ----------------------------------------------------------------------------


def _svdvals_grad(gs, a):
    """ds_i = Re(u_i^H dA v_i): gA = U diag(gs) V^H."""
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return (u * np.expand_dims(gs, -2)) @ vh


def _svdvals_jvp(t, a):
    """ds_i = Re(u_i^H dA v_i)."""
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return np.real(np.sum(conj(u) * (t @ mH(vh)), axis=-2))


def _svd_grad(gu, gs, gvh, u, s, vh):
    """A = U S V^H, thin (Townsend 2016; PyTorch's svd_backward for the complex term):

    gA = U [J S + S K + diag(gs)] V^H + (I - U U^H) gU S^-1 V^H + U S^-1 gV^H (I - V V^H),
    J = F o (U^H gU - gU^H U), K = F o (V^H gV - gV^H V), F_ij = 1 / (s_j^2 - s_i^2).
    """
    v, gv = mH(vh), mH(gvh)
    f = inv_gap(s * s)
    uh_gu = mH(u) @ gu
    vh_gv = vh @ gv
    inner = (
        (f * (uh_gu - mH(uh_gu))) * np.expand_dims(s, -2)
        + np.expand_dims(s, -1) * (f * (vh_gv - mH(vh_gv)))
        + diag_embed(gs)
    )
    if is_complex(u):
        inner = inner + diag_embed(1j * np.imag(diagonals(uh_gu)) / s)
    grad = u @ inner @ vh
    m, n = u.shape[-2], vh.shape[-1]
    k = s.shape[-1]
    if m > k:
        grad = grad + ((gu - u @ uh_gu) / np.expand_dims(s, -2)) @ vh
    if n > k:
        grad = grad + u @ (mH(gv - v @ vh_gv) / np.expand_dims(s, -1))
    return grad


def svd_vjp(g, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """Thin SVD; the extra columns of a full U or V are not unique, so they must get no
    cotangent. With ``hermitian=True`` NumPy reads only the lower triangle."""
    if not compute_uv:
        if hermitian:
            return tri_read(_svdvals_grad(g, hermitian_from(a, True)), True)
        return _svdvals_grad(g, a)
    gu, gs, gvh = g
    u, s, vh = ans
    k = s.shape[-1]
    if full_matrices and (u.shape[-1] > k or vh.shape[-2] > k):
        if np.any(gu[..., k:] != 0) or np.any(gvh[..., k:, :] != 0):
            raise NotImplementedError(
                "the gradient of numpy.linalg.svd with full_matrices=True is not defined for "
                "the extra columns of U or rows of Vh (they are not unique); use "
                "full_matrices=False."
            )
        u, gu, vh, gvh = u[..., :k], gu[..., :k], vh[..., :k, :], gvh[..., :k, :]
    grad = _svd_grad(gu, gs, gvh, u, s, vh)
    return tri_read(grad, True) if hermitian else grad


def thin_svd_jvp(t, u, s, vh):
    """Thin A = U S V^H, P = U^H dA V: ds = Re diag(P), dU = U W_U + (I - U U^H) dA V S^-1,
    dV = V W_V + (I - V V^H) dA^H U S^-1, W_U = F o (P S + S P^H), W_V = F o (S P + P^H S),
    F_ij = 1 / (s_j^2 - s_i^2). The gauge of ``_svd_grad``: the phase goes to U,
    diag(W_U) = i Im diag(P) / s, diag(W_V) = 0."""
    v = mH(vh)
    tv = t @ v
    p = mH(u) @ tv
    f = inv_gap(s * s)
    row, col = np.expand_dims(s, -2), np.expand_dims(s, -1)
    wu = f * (p * row + col * mH(p))
    wv = f * (col * p + mH(p) * row)
    if is_complex(p):
        wu = wu + diag_embed(1j * np.imag(diagonals(p)) / s)
    du, dv = u @ wu, v @ wv
    k = s.shape[-1]
    if u.shape[-2] > k:
        du = du + (tv - u @ p) / row
    if v.shape[-2] > k:
        dv = dv + (mH(t) @ u - v @ mH(p)) / row
    return du, np.real(diagonals(p)), mH(dv)


def svd_jvp(t, ans, a, full_matrices=True, compute_uv=True, hermitian=False):
    """Thin SVD (with ``hermitian=True``, of the Hermitian matrix of the lower triangle)."""
    if hermitian:
        t = hermitian_from(t, True)
    if not compute_uv:
        return _svdvals_jvp(t, hermitian_from(a, True) if hermitian else a)
    u, s, vh = ans
    k = s.shape[-1]
    if full_matrices and (u.shape[-1] > k or vh.shape[-2] > k):
        raise NotImplementedError(
            "the derivative of numpy.linalg.svd with full_matrices=True is not defined for the "
            "extra columns of U or rows of Vh (they are not unique); use full_matrices=False."
        )
    return thin_svd_jvp(t, u, s, vh)


defvjp(np.linalg.svd, svd_vjp)
defvjp(np.linalg.svdvals, lambda g, ans, x: _svdvals_grad(g, x))
defjvp(np.linalg.svd, svd_jvp)
defjvp(np.linalg.svdvals, lambda t, ans, x: _svdvals_jvp(t, x))

# --- norms --------------------------------------------------------------------------------------
# Kinks: where several elements (or row/column sums) share the maximum, the cotangent is split
# evenly among them; |x| has subgradient 0 at 0; a zero vector gets gradient 0 for every ord.
# ord=0 counts nonzero elements: piecewise constant, gradient 0.


def _vector_norm_grad(g, ans, x, ord, axes):
    """``g`` and ``ans`` broadcast against ``x`` (reduced axes kept)."""
    if ord == 0:
        return np.zeros(x.shape)
    if ord is None or ord == 2:
        return g * x / np.where(ans == 0, 1, ans)
    if ord in (np.inf, -np.inf):
        hit = np.abs(x) == ans
        return g * _sgn(x) * hit / np.sum(hit, axis=axes, keepdims=True)
    if ord == 1:
        return g * _sgn(x)
    return g * _sgn(x) * (np.abs(x) / np.where(ans == 0, 1, ans)) ** (ord - 1)


def _to_end(x, r, c):
    order = [i for i in range(x.ndim) if i not in (r, c)] + [r, c]
    return np.transpose(x, order), np.argsort(order)


def _matrix_norm_grad(g, ans, x, ord, r, c):
    """``g`` and ``ans`` broadcast against ``x``; the matrices span axes ``r`` (rows), ``c``."""
    if ord in (None, "fro", "f"):
        return _vector_norm_grad(g, ans, x, 2, (r, c))
    if ord in ("nuc", 2, -2):
        xm, back = _to_end(x, r, c)
        gm, _ = _to_end(g, r, c)
        u, _, vh = np.linalg.svd(xm, full_matrices=False)
        if ord == 2:
            u, vh = u[..., :1], vh[..., :1, :]
        elif ord == -2:
            u, vh = u[..., -1:], vh[..., -1:, :]
        return np.transpose(gm * (u @ vh), back)
    if ord in (1, -1, np.inf, -np.inf):
        summed, other = (r, c) if ord in (1, -1) else (c, r)
        sums = np.sum(np.abs(x), axis=summed, keepdims=True)
        hit = sums == ans
        return g * _sgn(x) * hit / np.sum(hit, axis=other, keepdims=True)
    raise ValueError(f"invalid norm order {ord!r} for matrices")


def norm_vjp(g, ans, x, ord=None, axis=None, keepdims=False):
    """Vector or matrix norm, chosen as ``np.linalg.norm`` chooses."""
    ndim = x.ndim
    if axis is None and ord is None:
        return _vector_norm_grad(
            expand_reduced(g, x.shape, None, keepdims),
            expand_reduced(ans, x.shape, None, keepdims),
            x,
            2,
            None,
        )
    axes = tuple(range(ndim)) if axis is None else (axis,) if np.ndim(axis) == 0 else axis
    axes = tuple(int(k) % ndim for k in axes)
    g = expand_reduced(g, x.shape, axes, keepdims)
    ans = expand_reduced(ans, x.shape, axes, keepdims)
    if len(axes) == 1:
        return _vector_norm_grad(g, ans, x, ord, axes)
    return _matrix_norm_grad(g, ans, x, ord, axes[0], axes[1])


def _vector_norm_vjp(g, ans, x, axis=None, keepdims=False, ord=2):
    axes = None if axis is None else (axis,) if np.ndim(axis) == 0 else tuple(axis)
    g = expand_reduced(g, x.shape, axes, keepdims)
    ans = expand_reduced(ans, x.shape, axes, keepdims)
    return _vector_norm_grad(g, ans, x, ord, axes)


def _matrix_norm_vjp(g, ans, x, keepdims=False, ord="fro"):
    axes = (x.ndim - 2, x.ndim - 1)
    g = expand_reduced(g, x.shape, axes, keepdims)
    ans = expand_reduced(ans, x.shape, axes, keepdims)
    return _matrix_norm_grad(g, ans, x, ord, *axes)


defvjp(np.linalg.norm, norm_vjp)
defvjp(np.linalg.vector_norm, _vector_norm_vjp)
defvjp(np.linalg.matrix_norm, _matrix_norm_vjp)

# Forward mode: a norm is real, so its differential is Re <grad, t> (the gradient in the VJP's
# convention, dL/dRe + i dL/dIm), summed over the reduced axes; the gradient is the VJP rule's
# at g = 1, so the kinks are split as reverse mode splits them.


def _along(grad, t, axis, shape):
    return np.reshape(np.sum(np.real(conj(grad) * t), axis=axis), shape)


def norm_jvp(t, ans, x, ord=None, axis=None, keepdims=False):
    grad = norm_vjp(np.ones(ans.shape), ans, x, ord, axis, keepdims)
    return _along(grad, t, axis, ans.shape)


def _vector_norm_jvp(t, ans, x, axis=None, keepdims=False, ord=2):
    grad = _vector_norm_vjp(np.ones(ans.shape), ans, x, axis, keepdims, ord)
    return _along(grad, t, axis, ans.shape)


def _matrix_norm_jvp(t, ans, x, keepdims=False, ord="fro"):
    grad = _matrix_norm_vjp(np.ones(ans.shape), ans, x, keepdims, ord)
    return _along(grad, t, (-2, -1), ans.shape)


defjvp(np.linalg.norm, norm_jvp)
defjvp(np.linalg.vector_norm, _vector_norm_jvp)
defjvp(np.linalg.matrix_norm, _matrix_norm_jvp)


def _cond_vjp(g, ans, x, p=None):
    """s_max / s_min from the SVD for p in (None, 2, -2); else norm(x) * norm(inv(x))."""
    axes = (x.ndim - 2, x.ndim - 1)
    g = expand_reduced(g, x.shape, axes, False)
    if p in (None, 2, -2):
        u, s, vh = np.linalg.svd(x, full_matrices=False)
        hi, lo = u[..., :1] @ vh[..., :1, :], u[..., -1:] @ vh[..., -1:, :]
        s_hi, s_lo = np.expand_dims(s[..., :1], -1), np.expand_dims(s[..., -1:], -1)
        if p == -2:  # s_min / s_max
            return g * (lo / s_hi - hi * s_lo / (s_hi * s_hi))
        return g * (hi / s_lo - lo * s_hi / (s_lo * s_lo))
    inv = np.linalg.inv(x)
    n1 = expand_reduced(np.linalg.matrix_norm(x, ord=p), x.shape, axes, False)
    n2 = expand_reduced(np.linalg.matrix_norm(inv, ord=p), x.shape, axes, False)
    g_inv = _matrix_norm_grad(g * n1, n2, inv, p, *axes)
    return _matrix_norm_grad(g * n2, n1, x, p, *axes) - mH(inv) @ g_inv @ mH(inv)


defvjp(np.linalg.cond, _cond_vjp)
defjvp(
    np.linalg.cond,
    lambda t, ans, x, p=None: _along(
        _cond_vjp(np.ones(ans.shape), ans, x, p), t, (-2, -1), ans.shape
    ),
)
