"""The exceptions ndgrad raises, each a subclass of the builtin it refines."""

from __future__ import annotations

__all__ = ["InPlaceError", "NotDifferentiableError"]


class NotDifferentiableError(TypeError):
    """A NumPy function without a gradient rule was called on an array that requires grad.

    ndgrad refuses rather than return a result that silently lost its graph. Register a rule
    with :func:`ndgrad.defvjp`, or call the function on ``x.detach()`` / under
    :func:`ndgrad.no_grad` when no gradient is wanted.
    """


class InPlaceError(RuntimeError):
    """An in-place operation would make a gradient wrong.

    Raised when a leaf that requires grad is modified in place while grad mode is on, and by
    ``backward()`` when an array that a rule saved was modified in place after it was saved.
    """


def not_differentiable(name: str, why: str = "") -> NotDifferentiableError:
    """Build the error for ``name``, with the fix spelled out."""
    reason = f" ({why})" if why else ""
    return NotDifferentiableError(
        f"{name} is not differentiable in ndgrad{reason}, and it was called on an array that "
        f"requires grad. Register a rule with ndgrad.defvjp({name}, rule, ...), or call it on "
        "x.detach() or inside `with ndgrad.no_grad():` if no gradient is needed."
    )
