"""``scipy.stats``: densities and cdfs of distributions, in ``x`` and in their parameters."""

from __future__ import annotations

import numpy as np
import scipy.stats as st

import ndgrad as nd

from . import err, fd

# distribution, shape parameters, points x inside the support (loc 0.2, scale 1.3 throughout)
LOC, SCALE = 0.2, 1.3
DISTRIBUTIONS = {
    "norm": (st.norm, (), [-1.1, 0.3, 0.9, 2.4]),
    "t": (st.t, (4.5,), [-1.1, 0.3, 0.9, 2.4]),
    "laplace": (st.laplace, (), [-1.1, 0.35, 0.9, 2.4]),
    "logistic": (st.logistic, (), [-1.1, 0.3, 0.9, 2.4]),
    "cauchy": (st.cauchy, (), [-1.1, 0.3, 0.9, 2.4]),
    "gumbel_r": (st.gumbel_r, (), [-1.1, 0.3, 0.9, 2.4]),
    "expon": (st.expon, (), [0.4, 0.9, 1.7, 3.1]),
    "gamma": (st.gamma, (2.3,), [0.4, 0.9, 1.7, 3.1]),
    "lognorm": (st.lognorm, (0.6,), [0.4, 0.9, 1.7, 3.1]),
    "weibull_min": (st.weibull_min, (1.7,), [0.4, 0.9, 1.7, 3.1]),
    "chi2": (st.chi2, (3.5,), [0.4, 0.9, 1.7, 3.1]),
    "invgamma": (st.invgamma, (2.6,), [0.4, 0.9, 1.7, 3.1]),
    "rayleigh": (st.rayleigh, (), [0.4, 0.9, 1.7, 3.1]),
    "halfnorm": (st.halfnorm, (), [0.4, 0.9, 1.7, 3.1]),
    "beta": (st.beta, (2.2, 3.1), [0.35, 0.6, 0.9, 1.3]),
    "pareto": (st.pareto, (2.7,), [1.6, 1.9, 2.7, 3.1]),
    "skewnorm": (st.skewnorm, (1.8,), [-1.1, 0.3, 0.9, 2.4]),
    "genextreme": (st.genextreme, (0.25,), [-1.1, 0.3, 0.9, 2.4]),
    "loggamma": (st.loggamma, (1.9,), [-1.1, 0.3, 0.9, 2.4]),
}


def _in_x(dist, shapes, method):
    return lambda x: getattr(dist, method)(x, *shapes, loc=LOC, scale=SCALE)


def _in_params(dist, x, method):
    # p = (shape parameters..., loc, scale), all differentiated at once
    return lambda p: getattr(dist, method)(x, *p[:-2], p[-2], p[-1])


def _in_loc_scale(dist, shapes, x, method):
    return lambda p: getattr(dist, method)(x, *shapes, p[0], p[1])


def _in_shapes(dist, x, method):
    return lambda s: getattr(dist, method)(x, *s, LOC, SCALE)


# The cdfs of these distributions are regularized incomplete functions of their shape
# parameters, which have no closed-form derivative: ndgrad's rules refuse them by name.
NO_SHAPE_DERIVATIVE = {
    "t": r"scipy\.special\.stdtr with respect to df",
    "gamma": r"scipy\.special\.gammainc with respect to a",
    "chi2": r"scipy\.special\.chdtr with respect to v",
    "invgamma": r"scipy\.special\.gammaincc with respect to a",
    "beta": r"scipy\.special\.betainc with respect to a",
    "loggamma": r"scipy\.special\.gammainc with respect to a",
}
CASES = []
for _name, (_dist, _shapes, _x) in DISTRIBUTIONS.items():
    _x = np.array(_x)
    _params = np.array([*_shapes, LOC, SCALE])
    for _method in ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"):
        _id, _f = f"{_name}.{_method}-x", _in_x(_dist, _shapes, _method)
        CASES.append(fd(_id, _f, _x))
    CASES.append(fd(f"{_name}.logpdf-params", _in_params(_dist, _x, "logpdf"), _params))
    _f = _in_loc_scale(_dist, _shapes, _x, "cdf")
    CASES.append(fd(f"{_name}.cdf-loc-scale", _f, [LOC, SCALE]))
    if _shapes:
        _id, _f = f"{_name}.cdf-shapes", _in_shapes(_dist, _x, "cdf")
        if _name in NO_SHAPE_DERIVATIVE:
            CASES.append(
                err(_id, _f, _shapes, nd.NotDifferentiableError, NO_SHAPE_DERIVATIVE[_name])
            )
        else:
            CASES.append(fd(_id, _f, _shapes))

X = np.array([0.3, -1.2, 0.8, 2.1, -0.4, 1.5])
PROBS = np.array([0.1, 0.25, 0.4, 0.25])

CASES += [
    fd("poisson.logpmf-mu", lambda mu: st.poisson.logpmf([0, 2, 5, 3], mu), [0.7, 1.9, 4.2, 2.5]),
    fd("binom.logpmf-p", lambda p: st.binom.logpmf([0, 2, 5, 3], 6, p), [0.2, 0.4, 0.6, 0.5]),
    fd("nbinom.logpmf-p", lambda p: st.nbinom.logpmf([0, 2, 5], 3.5, p), [0.3, 0.5, 0.7]),
    fd("norm.ppf-q", lambda q: st.norm.ppf(q, 0.3, 2.0), [0.1, 0.35, 0.6, 0.85]),
    fd("norm-frozen-logpdf", lambda m: st.norm(m, 1.7).logpdf(X), [0.4]),
    fd("dirichlet.logpdf-alpha", lambda a: st.dirichlet.logpdf(PROBS, a), [1.2, 2.3, 0.8, 3.1]),
    fd(
        "multivariate_normal.logpdf-x",
        lambda x: st.multivariate_normal.logpdf(x, [0.1, -0.2, 0.3], np.diag([1.0, 2.0, 0.5])),
        [0.4, 0.1, -0.6],
    ),
    fd(
        "multivariate_normal.logpdf-cov",
        lambda c: st.multivariate_normal.logpdf([0.4, 0.1], [0.0, 0.0], np.diag(c)),
        [1.3, 0.7],
    ),
    fd("entropy-p", lambda p: st.entropy(p), PROBS),
    fd("entropy-kl", lambda q: st.entropy(PROBS, q), [0.3, 0.2, 0.2, 0.3]),
    fd(
        "zscore",
        st.zscore,
        X,
    ),
    fd("gmean", st.gmean, np.abs(X) + 0.5),
    fd("hmean", st.hmean, np.abs(X) + 0.5),
    fd("pmean", lambda x: st.pmean(x, 2.5), np.abs(X) + 0.5),
    fd("moment-3", lambda x: st.moment(x, order=3), X),
    fd("skew", st.skew, X),
    fd("kurtosis", st.kurtosis, X),
    fd("variation", st.variation, np.abs(X) + 0.5),
    fd("tmean", lambda x: st.tmean(x, (-1.0, 2.0)), X),
    fd("sem", st.sem, X),
]
