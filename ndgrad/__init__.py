"""ndgrad: gradients for existing NumPy code.

Hand a NumPy function GradArrays instead of ndarrays and every NumPy call it makes is recorded;
``backward()`` or ``grad(f)`` then send gradients back through it.
"""

from ndgrad import _methods, _rules  # noqa: F401  (fills the method and rule tables)
from ndgrad._array import GradArray
from ndgrad._define import defjvp, defjvp_argnum, defvjp, defvjp_argnum
from ndgrad._errors import GraphBreakError, InPlaceError, NotDifferentiableError
from ndgrad._graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ndgrad._rules._solve import ode_gradient
from ndgrad.custom import custom_vjp
from ndgrad.functional import (
    checkpoint,
    elementwise_grad,
    grad,
    hessian,
    hvp,
    jacfwd,
    jacobian,
    jacrev,
    jvp,
    value_and_grad,
    vjp,
)
from ndgrad.numpy import array, asarray  # recorded copies, graph-keeping conversion
from ndgrad.tracing import differentiable, is_tracing, tracing

__version__ = "0.1.0"

__all__ = [
    "GradArray",
    "GraphBreakError",
    "InPlaceError",
    "NotDifferentiableError",
    "array",
    "asarray",
    "checkpoint",
    "custom_vjp",
    "defjvp",
    "defjvp_argnum",
    "defvjp",
    "defvjp_argnum",
    "differentiable",
    "elementwise_grad",
    "enable_grad",
    "grad",
    "hessian",
    "hvp",
    "is_grad_enabled",
    "is_tracing",
    "jacfwd",
    "jacobian",
    "jacrev",
    "jvp",
    "no_grad",
    "ode_gradient",
    "set_grad_enabled",
    "tracing",
    "value_and_grad",
    "vjp",
]
