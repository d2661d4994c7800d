"""ndgrad: gradients for existing NumPy code.

Hand a NumPy function GradArrays instead of ndarrays and every NumPy call it makes is recorded;
``backward()`` or ``grad(f)`` then send gradients back through it.
"""

from ndgrad import _methods, _rules  # noqa: F401  (fills the method and rule tables)
from ndgrad._array import GradArray, array, asarray
from ndgrad._errors import InPlaceError, NotDifferentiableError
from ndgrad._graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from ndgrad._registry import defvjp, defvjp_argnum
from ndgrad.functional import grad, value_and_grad

__version__ = "0.1.0"

__all__ = [
    "GradArray",
    "InPlaceError",
    "NotDifferentiableError",
    "array",
    "asarray",
    "defvjp",
    "defvjp_argnum",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
    "value_and_grad",
]
