"""``sklearn.gaussian_process.kernels``: ``kernel(X)`` with respect to X and to ``theta``."""

from __future__ import annotations

import numpy as np
import pytest

from . import fd

k = pytest.importorskip("sklearn.gaussian_process.kernels")

X = np.random.default_rng(5).standard_normal((4, 2))
Y = np.random.default_rng(6).standard_normal((3, 2))

KERNELS = {
    "RBF": k.RBF(length_scale=1.3),
    "RBF-ard": k.RBF(length_scale=[0.8, 1.7]),
    "Matern-0.5": k.Matern(length_scale=1.1, nu=0.5),
    "Matern-1.5": k.Matern(length_scale=1.1, nu=1.5),
    "Matern-2.5": k.Matern(length_scale=1.1, nu=2.5),
    "RationalQuadratic": k.RationalQuadratic(length_scale=1.2, alpha=0.7),
    "ExpSineSquared": k.ExpSineSquared(length_scale=1.2, periodicity=2.5),
    "DotProduct": k.DotProduct(sigma_0=0.6),
    "Constant*RBF": k.ConstantKernel(1.7) * k.RBF(0.9),
    "RBF+White": k.RBF(0.9) + k.WhiteKernel(0.3),
    "Exponentiation": k.Exponentiation(k.DotProduct(sigma_0=0.5), 2),
    "Constant": k.ConstantKernel(1.7),
    "Constant*DotProduct": k.ConstantKernel(1.7) * k.DotProduct(sigma_0=0.5),
    "DotProduct+White": k.DotProduct(sigma_0=0.5) + k.WhiteKernel(0.3),
}
# Stationary kernels compute distances with scipy.spatial.distance's cdist (k(X, Y)) and pdist
# (k(X)), which have rules; k(X) then writes its diagonal with np.fill_diagonal (recorded).


def _wrt_x(kernel):
    return lambda x: kernel(np.reshape(x, X.shape), Y)


def _wrt_theta(kernel):
    return lambda theta: kernel.clone_with_theta(theta)(X)


CASES = []
for _name, _kernel in KERNELS.items():
    _id, _f = f"gp.{_name}-X", _wrt_x(_kernel)
    if _name != "Constant":  # a constant kernel does not depend on X
        CASES.append(fd(_id, _f, X))
    _id, _f = f"gp.{_name}-theta", _wrt_theta(_kernel)
    CASES.append(fd(_id, _f, _kernel.theta))
CASES.append(fd("gp.RBF-diag", lambda x: k.RBF(1.3).diag(np.reshape(x, X.shape)) * np.sum(x), X))
