"""Cases for the scipy.spatial.distance rules (ndgrad/_rules/scipy_distance.py).

Every metric with a rule, with and without the weights ``w`` where SciPy takes them, for
``cdist`` and ``pdist``; ``seuclidean`` and ``mahalanobis`` both with ``V``/``VI`` given and
estimated from the points (the gradient then flows through the estimate too). ``braycurtis``
and ``jensenshannon`` take positive points (the latter: probability vectors up to scale).
"""

from __future__ import annotations

import numpy as np
import scipy.spatial.distance as sd

from ._case import Case, P, R, calls

_W = P(3)
_V = P(3)
_VI = np.eye(3) * 2 + 0.3 * np.ones((3, 3))

_METRICS = [
    {"metric": "euclidean"},
    {"metric": "euclidean", "w": _W},
    {"metric": "sqeuclidean"},
    {"metric": "sqeuclidean", "w": _W},
    {"metric": "cityblock"},
    {"metric": "cityblock", "w": _W},
    {"metric": "minkowski", "p": 3},
    {"metric": "minkowski", "p": 1.5, "w": _W},
    {"metric": "minkowski", "p": np.inf},
    {"metric": "chebyshev"},
    {"metric": "cosine"},
    {"metric": "cosine", "w": _W},
    {"metric": "correlation"},
    {"metric": "correlation", "w": _W},
    {"metric": "seuclidean"},
    {"metric": "seuclidean", "V": _V},
    {"metric": "mahalanobis"},
    {"metric": "mahalanobis", "VI": _VI},
    {"metric": "canberra"},
    {"metric": "canberra", "w": _W},
    {"metric": "hamming"},
    {"metric": "sqe"},  # SciPy's alias of sqeuclidean
]
_POSITIVE = [
    {"metric": "braycurtis"},
    {"metric": "braycurtis", "w": _W},
    {"metric": "jensenshannon"},
]


def _cdist_calls():
    out = [((R(5, 3), R(4, 3)), kw) for kw in _METRICS]
    out += [((P(5, 3), P(4, 3)), kw) for kw in _POSITIVE]
    return [*out, ((R(1, 3), R(2, 3)), {})]


def _pdist_calls():
    out = [((R(6, 3),), kw) for kw in _METRICS]
    return out + [((P(6, 3),), kw) for kw in _POSITIVE]


CASES = {
    sd.cdist: Case(_cdist_calls()),
    sd.pdist: Case(_pdist_calls()),
    sd.squareform: Case(
        calls((R(6),), (R(1),)) + calls((R(4, 4),), checks=[False]) + [((R(0),), {})]
    ),
    sd.correlation: Case(
        calls((R(4), R(4)))
        + calls((P(4), P(4)), w=[_W[:1].repeat(4)])
        # the cosine distance (fixed points: the shared generator's draws stay as they were)
        + [
            (
                (np.array([0.3, -1.2, 0.8, 0.5]), np.array([1.1, 0.4, -0.7, 0.2])),
                {"centered": False},
            )
        ]
    ),
    sd.minkowski: Case(calls((R(4), R(4)), p=[1, 2, 3]) + calls((R(4), R(4)), w=[P(4)])),
}
