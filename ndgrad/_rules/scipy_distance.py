"""Gradient rules for ``scipy.spatial.distance``: ``cdist``, ``pdist``, ``squareform`` and more.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument, ``g`` the
cotangent of the output; it is written with NumPy calls (and the wrapped ``squareform``), so it
differentiates again. Registration is lazy (``defvjp_scipy``): importing ndgrad does not import
SciPy, and the rules appear when ``scipy.spatial.distance`` is imported.

``cdist(XA, XB, metric, **kwargs)`` and ``pdist(X, metric, **kwargs)`` differentiate in their
points for the metrics ``euclidean``, ``sqeuclidean``, ``cityblock``, ``minkowski`` (``p >= 1``),
``chebyshev``, ``cosine``, ``correlation``, ``seuclidean``, ``mahalanobis``, ``braycurtis``,
``canberra`` and ``jensenshannon`` (and SciPy's aliases of these names), with the weights ``w``
where SciPy takes them. When ``V`` (``seuclidean``) or ``VI`` (``mahalanobis``) is not given,
SciPy estimates it from the points themselves, and the gradient includes that dependence. The
boolean metrics (``hamming``, ``jaccard``, ``dice``, ...) are piecewise constant in float
points: their gradient is zero. A callable metric, or ``w`` with a metric whose rule does not
take it, raises ``NotDifferentiableError`` when the gradient is asked for. ``V``, ``VI``, ``w``
and ``p`` are keywords and get no gradient (passing one that requires grad raises).

Conventions at non-differentiable points (the subgradients PyTorch's ``cdist`` uses):

- coincident points (distance 0) of ``euclidean``, ``seuclidean``, ``mahalanobis``,
  ``minkowski`` and ``jensenshannon``: gradient 0 (never NaN), so the zero diagonal of
  ``pdist``/``cdist(X, X)`` contributes nothing;
- ``|u_k - v_k|`` at a tie (``cityblock``, ``minkowski`` with ``p = 1``, ``canberra``,
  ``braycurtis``): ``sign(0) = 0``;
- ``chebyshev``: the cotangent goes to the coordinates attaining the maximum, split evenly
  among ties (as ``np.max``);
- ``canberra`` coordinates with ``u_k = v_k = 0`` (SciPy counts them as 0): gradient 0;
- ``jensenshannon`` at a zero entry of a probability vector: the derivative is unbounded there
  (``log 0``) and the gradient is not finite; keep entries positive.

Memory: the metrics without a matrix-product form (``cityblock``, ``minkowski``,
``chebyshev``, ``braycurtis``, ``canberra``, ``jensenshannon``) form an ``(m, n, d)`` array of
coordinate differences in the backward pass. ``pdist`` is differentiated as ``cdist(X, X)``
with half the symmetric cotangent ``squareform(g) / 2``.

``correlation(u, v, w, centered)`` (and ``cosine``, which SciPy computes through it) has a rule
because SciPy calls ``math.sqrt`` on a float there; ``minkowski(u, v, p, w)`` (and ``euclidean``
and ``seuclidean``, which SciPy computes through it) has one because SciPy calls
``scipy.linalg.norm``, and so that coincident points get gradient 0. The other per-pair
functions are NumPy code and are traced (``scipy_functions``). ``directed_hausdorff`` is
Cython returning Python floats: it raises.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from ndgrad._errors import not_differentiable
from ndgrad._rules._scipy import defjvp_scipy, defvjp_scipy

_MODULE = "scipy.spatial.distance"

# Boolean metrics: piecewise constant in float points, so zero gradient.
_BOOLEAN = frozenset(
    ("hamming", "jaccard", "dice", "kulczynski1", "rogerstanimoto", "russellrao",
     "sokalmichener", "sokalsneath", "yule"),
)  # fmt: skip
# Metrics whose rule accepts the weights ``w``.
_WEIGHTED = frozenset(
    ("euclidean", "sqeuclidean", "cityblock", "minkowski", "braycurtis", "canberra", "cosine",
     "correlation"),
)  # fmt: skip


def _distance() -> Any:
    return sys.modules[_MODULE]


def _canonical(func: str, metric: Any, kwargs: dict[str, Any]) -> str:
    """SciPy's canonical name of ``metric``, or an error naming what has no gradient."""
    if callable(metric):
        raise not_differentiable(
            f"{_MODULE}.{func} with a callable metric",
            "SciPy calls it on plain rows; compute the distances with NumPy broadcasting "
            "instead, e.g. metric(XA[:, None, :], XB[None, :, :]), which differentiates",
        )
    info = _distance()._METRIC_ALIAS.get(str(metric).lower())
    if info is None:
        raise not_differentiable(f"{_MODULE}.{func} with metric={metric!r}", "no rule")
    name = str(info.canonical_name)
    if kwargs.get("w") is not None and name not in _WEIGHTED | _BOOLEAN:
        raise not_differentiable(
            f"{_MODULE}.{func} with metric={name!r} and weights w", "no rule for w"
        )
    if name == "minkowski" and not kwargs.get("p", 2) >= 1:
        raise not_differentiable(
            f"{_MODULE}.{func} with metric='minkowski' and p < 1",
            "the distance is not differentiable where a coordinate difference is 0",
        )
    return name


def _safe_div(g, d):
    """``g / d`` and 0 where ``d == 0``: the subgradient at coincident points."""
    zero = d == 0
    return np.where(zero, 0.0, g / np.where(zero, 1.0, d))


def _safe_power(x, p):
    """``x ** p`` for ``x >= 0``, 0 where ``x == 0`` (``p > 0``) with a finite derivative."""
    zero = x == 0
    return np.where(zero, 0.0, np.where(zero, 1.0, x) ** p)


def _bilinear(h, xa, xb):
    """Cotangents of ``xa``, ``xb`` for ``sum_ij h_ij <xa_i - xb_j, xa_i - xb_j> / 2``."""
    ga = np.sum(h, axis=1)[:, None] * xa - h @ xb
    gb = np.sum(h, axis=0)[:, None] * xb - np.swapaxes(h, 0, 1) @ xa
    return ga, gb


def _quadratic_form_grad(h, xa, xb):
    """``sum_ij h_ij (xa_i - xb_j)(xa_i - xb_j)^T``, a ``(d, d)`` matrix, by matrix products."""
    ta = np.swapaxes(xa, 0, 1)
    tb = np.swapaxes(xb, 0, 1)
    cross = ta @ h @ xb
    return (
        (ta * np.sum(h, axis=1)) @ xa
        + (tb * np.sum(h, axis=0)) @ xb
        - cross
        - np.swapaxes(cross, 0, 1)
    )


def _centered_cotangent(gc, w):
    """VJP of ``u - average(u, weights=w)`` along the last axis: subtract ``w~ * sum(gc)``."""
    n = gc.shape[-1]
    share = np.full(n, 1.0 / n) if w is None else w / np.sum(w)
    return gc - share * np.sum(gc, axis=-1, keepdims=True)


def _cosine_pairs(g, d, xa, xb, w, centered):
    """Cotangents for ``1 - <u, v>_w / (|u|_w |v|_w)`` over all pairs (``correlation`` if
    ``centered``): ``d/du = w (c u / |u|^2 - v / (|u| |v|))`` with ``c = 1 - d``."""
    if centered:
        xa = xa - np.average(xa, axis=1, weights=w)[:, None]
        xb = xb - np.average(xb, axis=1, weights=w)[:, None]
    wt = 1.0 if w is None else w
    na = np.sqrt(np.sum(wt * xa * xa, axis=1))
    nb = np.sqrt(np.sum(wt * xb * xb, axis=1))
    ua = xa / na[:, None]
    ub = xb / nb[:, None]
    gc = g * (1 - d)
    ga = wt * ((np.sum(gc, axis=1)[:, None] * ua - g @ ub) / na[:, None])
    gb = wt * ((np.sum(gc, axis=0)[:, None] * ub - np.swapaxes(g, 0, 1) @ ua) / nb[:, None])
    if centered:
        ga, gb = _centered_cotangent(ga, w), _centered_cotangent(gb, w)
    return ga, gb


def _broadcast_pairs(name, g, d, xa, xb, kwargs):
    """``(m, n, d)`` cotangents of ``u = xa[:, None]`` and ``v = xb[None]`` for the metrics
    that are sums over coordinates without a matrix-product form."""
    u = xa[:, None, :]
    v = xb[None, :, :]
    diff = u - v
    gg = g[:, :, None]
    w = kwargs.get("w")
    wt = 1.0 if w is None else w
    if name == "cityblock":
        gu = gg * wt * np.sign(diff)
        return gu, -gu
    if name == "minkowski":
        p = kwargs.get("p", 2)
        if p == np.inf:
            return _broadcast_pairs("chebyshev", g, d, xa, xb, {})
        # d/du_k = w_k sign(u_k - v_k) |u_k - v_k|^(p-1) / d^(p-1); powers of 0 are taken
        # at 1 and masked, so that the second derivative is 0 there, not 0 * inf = NaN
        scale = _safe_div(g, _safe_power(d, p - 1))[:, :, None]
        gu = scale * wt * np.sign(diff) * _safe_power(np.abs(diff), p - 1)
        return gu, -gu
    if name == "chebyshev":
        absdiff = np.abs(diff)
        top = absdiff == d[:, :, None]
        share = top / np.sum(top, axis=2, keepdims=True)
        gu = gg * share * np.sign(diff)
        return gu, -gu
    if name == "braycurtis":
        # d = sum w|u - v| / sum w|u + v|
        s = np.sum(wt * np.abs(u + v), axis=2, keepdims=True)
        gu_diff = gg * wt * np.sign(diff) / s
        gs = gg * d[:, :, None] * wt * np.sign(u + v) / s
        return gu_diff - gs, -gu_diff - gs
    if name == "canberra":
        # d = sum w|u - v| / (|u| + |v|); coordinates with u = v = 0 count 0
        den = np.abs(u) + np.abs(v)
        num = np.abs(diff)
        term = _safe_div(gg * wt, den)
        ratio = _safe_div(num, den)
        gu = term * (np.sign(diff) - ratio * np.sign(u))
        gv = term * (-np.sign(diff) - ratio * np.sign(v))
        return gu, gv
    if name == "jensenshannon":
        # d = sqrt(js / 2), js = sum p log(p/m) + q log(q/m), p = u / sum u, m = (p + q) / 2
        su = np.sum(u, axis=2, keepdims=True)
        sv = np.sum(v, axis=2, keepdims=True)
        p, q = u / su, v / sv
        m = (p + q) / 2
        gjs = _safe_div(g, 4 * d)[:, :, None]  # d(d)/d(js) = 1 / (4 d)
        gp = gjs * np.log(p / m)
        gq = gjs * np.log(q / m)
        gu = (gp - np.sum(gp * p, axis=2, keepdims=True)) / su
        gv = (gq - np.sum(gq * q, axis=2, keepdims=True)) / sv
        return gu, gv
    raise AssertionError(name)


def _cdist_cotangents(func, g, d, xa, xb, metric, kwargs, pooled):
    """Cotangents ``(ga, gb, gz)`` of ``xa``, ``xb`` and of the points ``pooled`` from which
    SciPy estimated a default ``V`` or ``VI`` (``gz`` None when no default was estimated)."""
    name = _canonical(func, metric, kwargs)
    w = kwargs.get("w")
    if name in _BOOLEAN:
        return np.zeros_like(xa), np.zeros_like(xb), None
    if name == "sqeuclidean":
        wt = 1.0 if w is None else w
        ga, gb = _bilinear(2 * g, xa * wt, xb * wt)
        return ga, gb, None
    if name == "euclidean" or (name == "minkowski" and kwargs.get("p", 2) == 2):
        wt = 1.0 if w is None else w
        ga, gb = _bilinear(_safe_div(g, d), xa * wt, xb * wt)
        return ga, gb, None
    if name in ("cosine", "correlation"):
        ga, gb = _cosine_pairs(g, d, xa, xb, w, centered=name == "correlation")
        return ga, gb, None
    if name == "seuclidean":
        v = kwargs.get("V")
        estimated = v is None
        if estimated:
            v = np.var(pooled, axis=0, ddof=1)
        h = _safe_div(g, d)
        ga, gb = _bilinear(h, xa / v, xb / v)
        gz = None
        if estimated:
            # d = sqrt(sum (u - v)^2 / V): dd/dV_k = -(u_k - v_k)^2 / (2 d V_k^2)
            sq = np.sum(h, axis=1) @ (xa * xa) + np.sum(h, axis=0) @ (xb * xb)
            sq = sq - 2 * np.sum(xa * (h @ xb), axis=0)
            gv = -sq / (2 * v * v)
            n = pooled.shape[0]
            gz = gv * 2 * (pooled - np.mean(pooled, axis=0)) / (n - 1)
        return ga, gb, gz
    if name == "mahalanobis":
        vi = kwargs.get("VI")
        estimated = vi is None
        if estimated:
            vi = np.swapaxes(np.linalg.inv(np.cov(np.swapaxes(pooled, 0, 1))), 0, 1)
        vi = np.atleast_2d(vi)
        h = _safe_div(g, d)
        sym = (vi + np.swapaxes(vi, 0, 1)) / 2
        ga, gb = _bilinear(h, xa, xb)
        ga, gb = ga @ sym, gb @ sym
        gz = None
        if estimated:
            # d = sqrt(e^T VI e): dd/dVI = e e^T / (2 d); VI = inv(C)^T, C = cov(Z^T)
            gvi = _quadratic_form_grad(h / 2, xa, xb)
            gc = -(vi @ np.swapaxes(gvi, 0, 1) @ vi)
            n = pooled.shape[0]
            centered = pooled - np.mean(pooled, axis=0)
            gz = centered @ (gc + np.swapaxes(gc, 0, 1)) / (n - 1)
        return ga, gb, gz
    gu, gv = _broadcast_pairs(name, g, d, xa, xb, kwargs)
    return np.sum(gu, axis=1), np.sum(gv, axis=0), None


def _cdist_vjp(which):
    def rule(g, ans, XA, XB, metric="euclidean", **kwargs):
        pooled = None
        if kwargs.get("V") is None or kwargs.get("VI") is None:
            pooled = np.concatenate([XA, XB], axis=0)
        ga, gb, gz = _cdist_cotangents("cdist", g, ans, XA, XB, metric, kwargs, pooled)
        if which == 0:
            return ga if gz is None else ga + gz[: XA.shape[0]]
        return gb if gz is None else gb + gz[XA.shape[0] :]

    rule.__doc__ = f"Cotangent of {('XA', 'XB')[which]}: the metric's pairwise derivative."
    return rule


def _pdist_vjp(g, ans, X, metric="euclidean", **kwargs):
    """``pdist(X)`` is ``cdist(X, X)`` above the diagonal: half the symmetric cotangent."""
    squareform = _distance().squareform
    full = squareform(g, checks=False) / 2
    d = squareform(ans, checks=False)
    ga, gb, gz = _cdist_cotangents("pdist", full, d, X, X, metric, kwargs, X)
    return ga + gb if gz is None else ga + gb + gz


def _squareform_vjp(g, ans, X, force="no", checks=True):
    """A vector goes to both triangles; a matrix gives its upper triangle."""
    squareform = _distance().squareform
    if np.ndim(ans) == 2:  # vector -> matrix: add the two mirrored entries
        return squareform(g + np.swapaxes(g, 0, 1), force="tovector", checks=False)
    return np.triu(squareform(g, force="tomatrix", checks=False), 1)


def _correlation_vjp(which):
    def rule(g, ans, u, v, w=None, centered=True):
        xa = np.reshape(u, (1, -1))
        xb = np.reshape(v, (1, -1))
        ga, gb = _cosine_pairs(np.reshape(g, (1, 1)), np.reshape(ans, (1, 1)), xa, xb, w, centered)
        return np.reshape((ga, gb)[which], np.shape((u, v)[which]))

    rule.__doc__ = f"Cotangent of {('u', 'v')[which]}: the cosine of the centered vectors."
    return rule


def _minkowski_vjp(which):
    def rule(g, ans, u, v, p=2, w=None):
        xa = np.reshape(u, (1, -1))
        xb = np.reshape(v, (1, -1))
        kwargs = {"p": p, "w": w}
        name = "euclidean" if p == 2 else "minkowski"
        ga, gb, _ = _cdist_cotangents(
            "minkowski", np.reshape(g, (1, 1)), np.reshape(ans, (1, 1)), xa, xb, name, kwargs, None
        )
        return np.reshape((ga, gb)[which], np.shape((u, v)[which]))

    rule.__doc__ = f"Cotangent of {('u', 'v')[which]}: as ``cdist`` with one pair."
    return rule


def _raises(what: str) -> Any:
    """A rule for an argument that gets no gradient: asking for one is an error."""

    def rule(g, ans, u=None, v=None, p=None, w=None):  # reads no input: the engine saves none
        raise not_differentiable(f"{_MODULE}.{what}", "no rule for this argument")

    return rule


# --- forward mode ------------------------------------------------------------------------------
# The tangent of each distance d_ij for tangents ta, tb of the points (None: zero), and tz of
# the points SciPy estimated a default V or VI from. Matrix-product forms where the VJP has one;
# the metrics summed over coordinates take the per-pair gradients the VJP forms (its rule at
# g = 1: each pair's cotangent is g_ij times that pair's gradient) against the tangents.


def _pair_bilinear(a, b, ta, tb):
    """``sum_k (a_ik - b_jk)(ta_ik - tb_jk)`` for every pair ``(i, j)``; a None tangent is 0."""
    total = 0.0
    if ta is not None:
        total = total + np.sum(a * ta, axis=1)[:, None] - ta @ np.swapaxes(b, 0, 1)
    if tb is not None:
        total = total + np.sum(b * tb, axis=1)[None, :] - a @ np.swapaxes(tb, 0, 1)
    return total


def _pair_quadratic(a, b, m):
    """``e^T M e`` with ``e = a_i - b_j`` for every pair."""
    am, bm = a @ m, b @ m
    cross = am @ np.swapaxes(b, 0, 1) + a @ np.swapaxes(bm, 0, 1)
    return np.sum(am * a, axis=1)[:, None] + np.sum(bm * b, axis=1)[None, :] - cross


def _cosine_tangent(d, xa, xb, ta, tb, w, centered):
    """Tangent of ``d = 1 - c``, ``c = <ua, ub>_w`` with ``ua = u / |u|_w`` (``correlation``
    if ``centered``, which centres the tangents too): ``dc = (<w du, ub> - c <w du, ua>) / |u|``
    and the same in ``v``, in matrix products over all pairs."""
    if centered:
        xa = xa - np.average(xa, axis=1, weights=w)[:, None]
        xb = xb - np.average(xb, axis=1, weights=w)[:, None]
        ta = None if ta is None else ta - np.average(ta, axis=1, weights=w)[:, None]
        tb = None if tb is None else tb - np.average(tb, axis=1, weights=w)[:, None]
    wt = 1.0 if w is None else w
    na = np.sqrt(np.sum(wt * xa * xa, axis=1))
    nb = np.sqrt(np.sum(wt * xb * xb, axis=1))
    ua = xa / na[:, None]
    ub = xb / nb[:, None]
    c = 1 - d
    dc = 0.0
    if ta is not None:
        wta = wt * ta
        dc = (
            dc + (wta @ np.swapaxes(ub, 0, 1) - c * np.sum(wta * ua, axis=1)[:, None]) / na[:, None]
        )
    if tb is not None:
        wtb = wt * tb
        dc = (
            dc + (ua @ np.swapaxes(wtb, 0, 1) - c * np.sum(wtb * ub, axis=1)[None, :]) / nb[None, :]
        )
    return -dc


def _cdist_tangent(func, d, xa, xb, ta, tb, metric, kwargs, pooled, tz):
    """The tangent of ``cdist(xa, xb)`` (``d``) for tangents ``ta``, ``tb`` (None: zero) and
    ``tz`` of ``pooled``, the points a default ``V`` or ``VI`` was estimated from."""
    name = _canonical(func, metric, kwargs)
    w = kwargs.get("w")
    wt = 1.0 if w is None else w
    if name in _BOOLEAN:
        return np.zeros(np.shape(d))
    if name == "sqeuclidean":
        return 2 * _pair_bilinear(xa * wt, xb * wt, ta, tb)
    if name == "euclidean" or (name == "minkowski" and kwargs.get("p", 2) == 2):
        return _safe_div(_pair_bilinear(xa * wt, xb * wt, ta, tb), d)
    if name in ("cosine", "correlation"):
        return _cosine_tangent(d, xa, xb, ta, tb, w, centered=name == "correlation")
    if name == "seuclidean":
        v = kwargs.get("V")
        estimated = v is None
        if estimated:
            v = np.var(pooled, axis=0, ddof=1)
        out = _safe_div(_pair_bilinear(xa / v, xb / v, ta, tb), d)
        if estimated and tz is not None:
            # dd/dV_k = -(u_k - v_k)^2 / (2 d V_k^2), dV = 2 sum (z - mean) tz / (n - 1)
            n = pooled.shape[0]
            dv = 2 * np.sum((pooled - np.mean(pooled, axis=0)) * tz, axis=0) / (n - 1)
            out = out - _safe_div(_pair_quadratic(xa, xb, np.diag(dv / (v * v))), 2 * d)
        return out
    if name == "mahalanobis":
        vi = kwargs.get("VI")
        estimated = vi is None
        if estimated:
            vi = np.swapaxes(np.linalg.inv(np.cov(np.swapaxes(pooled, 0, 1))), 0, 1)
        vi = np.atleast_2d(vi)
        sym = (vi + np.swapaxes(vi, 0, 1)) / 2
        out = _safe_div(_pair_bilinear(xa @ sym, xb @ sym, ta, tb), d)
        if estimated and tz is not None:
            # VI = inv(C)^T, C = cov(Z^T): dVI = -VI dC VI, dd = e^T dVI e / (2 d)
            n = pooled.shape[0]
            centered = pooled - np.mean(pooled, axis=0)
            tc = tz - np.mean(tz, axis=0)
            dcov = np.swapaxes(centered, 0, 1) @ tc
            dcov = (dcov + np.swapaxes(dcov, 0, 1)) / (n - 1)
            out = out - _safe_div(_pair_quadratic(xa, xb, vi @ dcov @ vi), 2 * d)
        return out
    gu, gv = _broadcast_pairs(name, np.ones(np.shape(d)), d, xa, xb, kwargs)
    out = 0.0
    if ta is not None:
        out = out + np.sum(gu * ta[:, None, :], axis=2)
    if tb is not None:
        out = out + np.sum(gv * tb[None, :, :], axis=2)
    return out


def _cdist_jvp(which):
    def rule(t, ans, XA, XB, metric="euclidean", **kwargs):
        pooled = tz = None
        if kwargs.get("V") is None or kwargs.get("VI") is None:
            pooled = np.concatenate([XA, XB], axis=0)
            tz = np.concatenate(
                [t, np.zeros(np.shape(XB))] if which == 0 else [np.zeros(np.shape(XA)), t], axis=0
            )
        ta, tb = (t, None) if which == 0 else (None, t)
        return _cdist_tangent("cdist", ans, XA, XB, ta, tb, metric, kwargs, pooled, tz)

    return rule


def _pdist_jvp(t, ans, X, metric="euclidean", **kwargs):
    """The upper triangle of ``cdist(X, X)``'s tangent, both points moving."""
    squareform = _distance().squareform
    d = squareform(ans, checks=False)
    full = _cdist_tangent("pdist", d, X, X, t, t, metric, kwargs, X, t)
    return squareform(full, checks=False)


def _squareform_jvp(t, ans, X, force="no", checks=True):
    """squareform is linear; the tangent of a symmetric matrix need not pass its checks, and
    has the shape of ``X``, which tells the direction as ``force`` did."""
    return _distance().squareform(t, checks=False)


def _correlation_jvp(which):
    def rule(t, ans, u, v, w=None, centered=True):
        xa = np.reshape(u, (1, -1))
        xb = np.reshape(v, (1, -1))
        tt = np.reshape(t, (1, -1))
        ta, tb = (tt, None) if which == 0 else (None, tt)
        out = _cosine_tangent(np.reshape(ans, (1, 1)), xa, xb, ta, tb, w, centered)
        return np.reshape(out, np.shape(ans))

    return rule


def _minkowski_jvp(which):
    def rule(t, ans, u, v, p=2, w=None):
        xa = np.reshape(u, (1, -1))
        xb = np.reshape(v, (1, -1))
        tt = np.reshape(t, (1, -1))
        ta, tb = (tt, None) if which == 0 else (None, tt)
        name = "euclidean" if p == 2 else "minkowski"
        d = np.reshape(ans, (1, 1))
        out = _cdist_tangent("minkowski", d, xa, xb, ta, tb, name, {"p": p, "w": w}, None, None)
        return np.reshape(out, np.shape(ans))

    return rule


# ``XA``, ``XB`` and ``X`` are array_like: a list is made one array before the call is recorded
defvjp_scipy(_MODULE, "cdist", _cdist_vjp(0), _cdist_vjp(1), arrays=("XA", "XB"))
defvjp_scipy(_MODULE, "pdist", _pdist_vjp, arrays=("X",))
defvjp_scipy(_MODULE, "squareform", _squareform_vjp)
defvjp_scipy(
    _MODULE,
    "correlation",
    _correlation_vjp(0),
    _correlation_vjp(1),
    _raises("correlation with respect to w"),
)
defvjp_scipy(
    _MODULE,
    "minkowski",
    _minkowski_vjp(0),
    _minkowski_vjp(1),
    _raises("minkowski with respect to p"),
    _raises("minkowski with respect to w"),
)

# Forward mode (same argument order as the rules above).
defjvp_scipy(_MODULE, "cdist", _cdist_jvp(0), _cdist_jvp(1))
defjvp_scipy(_MODULE, "pdist", _pdist_jvp)
defjvp_scipy(_MODULE, "squareform", _squareform_jvp)
defjvp_scipy(
    _MODULE,
    "correlation",
    _correlation_jvp(0),
    _correlation_jvp(1),
    _raises("correlation with respect to w"),
)
defjvp_scipy(
    _MODULE,
    "minkowski",
    _minkowski_jvp(0),
    _minkowski_jvp(1),
    _raises("minkowski with respect to p"),
    _raises("minkowski with respect to w"),
)
