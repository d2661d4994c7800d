"""Tools to test gradients: for ndgrad's own tests and for the tests of its users.

- :func:`check_grad` compares ndgrad's gradients (and Hessian-vector products) of any function
  with central finite differences, and names the worst element when they disagree.
- :func:`check_jvp` checks forward mode the same way: Jacobian-vector products against finite
  differences and against reverse mode, and their derivatives.
- :func:`assert_grad_close` compares two gradients (or containers of them) with the same kind
  of failure message.
- :mod:`ndgrad.testing.strategies` holds hypothesis strategies (float arrays, broadcastable
  shapes, well-conditioned matrices); it is the only module here that needs hypothesis.
- :mod:`ndgrad.testing.plugin` is a pytest plugin, active whenever ndgrad is installed, with a
  ``gradcheck`` fixture and an ``assert_grad_close`` fixture.
"""

from ndgrad.testing._check import assert_grad_close, check_grad, check_jvp

__all__ = ["assert_grad_close", "check_grad", "check_jvp"]
