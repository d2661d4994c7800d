"""Rules for ``scipy.fft``'s transforms that ``numpy.fft`` also has: the same rules.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument. SciPy
computes the forward pass (its values, not NumPy's); the backward pass is the adjoint that
``ndgrad/_rules/fft.py`` gives the NumPy transform of the same name, which takes the same
leading arguments (``x``, ``n``/``s``, ``axis``/``axes``, ``norm``). SciPy's own keywords
``overwrite_x``, ``workers`` and ``plan`` do not change the result, so the rules ignore them.
The other transforms (``dct``, ``dst``, ``fht``, ...) raise ``NotDifferentiableError``.
"""

from __future__ import annotations

import numpy as np

from ndgrad._define import defjvp
from ndgrad._registry import VJP_RULES
from ndgrad._rules._lazy import after_import
from ndgrad._rules._scipy import defvjp_scipy

# Keywords of scipy.fft that NumPy's functions lack and that do not change the values.
_SCIPY_ONLY = ("overwrite_x", "workers", "plan")

_SAME_AS_NUMPY = (
    "fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
    "rfftn", "irfftn", "hfft", "ihfft", "fftshift", "ifftshift",
)  # fmt: skip


def _numpy_rule(name: str):
    """NumPy's rule for ``numpy.fft.<name>``, called without SciPy's extra keywords."""
    rule = VJP_RULES[getattr(np.fft, name)].rules[0]
    positional = 4 if name not in ("fftshift", "ifftshift") else 2  # x, n/s, axis/axes, norm

    def scipy_rule(g, ans, *args, **kwargs):
        for key in _SCIPY_ONLY:
            kwargs.pop(key, None)
        return rule(g, ans, *args[:positional], **kwargs)

    scipy_rule.__doc__ = f"numpy.fft.{name}'s rule."
    return scipy_rule


for _name in _SAME_AS_NUMPY:  # ``x`` array_like: a list is made one array (Primitive.arrays)
    defvjp_scipy("scipy.fft", _name, _numpy_rule(_name), arrays=("x",))


# Forward mode: the same transform of the tangent (linear, see ``fft.py``), without
# ``overwrite_x``, which would let SciPy destroy the tangent that other nodes still read.
def _scipy_jvp(name: str):
    def register(module):
        transform = getattr(module, name)  # the wrapper that records a node
        positional = 2 if name.endswith("shift") else 4  # x, n/s, axis/axes, norm

        def rule(t, ans, *args, **kwargs):
            kwargs.pop("overwrite_x", None)
            return transform(t, *args[1:positional], **kwargs)

        rule.__doc__ = f"scipy.fft.{name} of the tangent."
        defjvp(transform, rule)

    return register


for _name in _SAME_AS_NUMPY:
    after_import("scipy.fft", _scipy_jvp(_name))
