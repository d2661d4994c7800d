"""The exceptions ndgrad raises, each a subclass of the builtin it refines."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = [
    "GraphBreakError",
    "InPlaceError",
    "NotDifferentiableError",
    "graph_break",
    "hidden_errors_reraised",
    "not_differentiable",
    "noted",
    "plain_target",
    "raised_in_scope",
    "reraise_hidden",
]

# The errors ndgrad built while a conversion-keeping scope was open (``None`` outside). Library
# code often catches exceptions around a user's function (``scipy.optimize.minimize`` catches
# ``TypeError``) and raises one that no longer names the cause: the scope reads this list on the
# way out and re-raises ndgrad's own error instead. Only the first few are kept.
raised_in_scope: ContextVar[list[Exception] | None] = ContextVar(
    "ndgrad_raised_in_scope", default=None
)


E = TypeVar("E", bound=Exception)


def noted(exc: E) -> E:
    """``exc``, kept so that a scope can re-raise it if library code hides it."""
    raised = raised_in_scope.get()
    if raised is not None and len(raised) < 8:
        raised.append(exc)
    return exc


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


class GraphBreakError(Exception):
    """Inside a transform or :func:`ndgrad.tracing`, an array that requires grad was converted
    to something that cannot carry a gradient: a Python number or list (``float(x)``,
    ``int(x)``, ``x.item()``, ``x.tolist()``, and so every ``math.*`` function), or its bytes
    (``x.tobytes()``, ``x.dumps()``, ``x.__dlpack__()``, the buffer protocol: ``memoryview(x)``,
    ``np.frombuffer(x)``, a compiled function's typed memoryview).

    Deliberately not a ``TypeError`` or ``ValueError``: libraries catch those around user code
    (``try: float(x) except TypeError: ...``) and would hide the cause. Outside any transform
    or scope, ``float(loss)`` for logging is allowed.
    """


def graph_break(conversion: str) -> GraphBreakError:
    """Build the error for a conversion that would drop the graph, with the fixes spelled out."""
    return noted(
        GraphBreakError(
            f"{conversion} converts an array that requires grad to a Python value, which "
            "cannot carry a gradient: the result would silently be a constant. Use the NumPy "
            "function instead (np.sqrt(x) rather than math.sqrt(x); keep 0-d arrays rather than "
            "float(x)); or, if the value really is a constant, convert x.detach(). A NumPy call "
            "on a Python list of 0-d arrays (np.abs([x[0], x[1]])) converts each element this "
            "way: make the list one array first, np.stack([x[0], x[1]]). So does a write into "
            "a plain array made outside the function (buf[0] = x): make the buffer inside it "
            "(np.empty and np.zeros give GradArrays in a transform), or build the result with "
            "np.stack. Outside ndgrad's transforms and nd.tracing(), float(x) is allowed (e.g. "
            "for logging)."
        )
    )


def not_differentiable(name: str, why: str = "") -> NotDifferentiableError:
    """Build the error for ``name``, with the fix spelled out."""
    reason = f" ({why})" if why else ""
    return noted(
        NotDifferentiableError(
            f"{name} is not differentiable in ndgrad{reason}, and it was called on an array that "
            f"requires grad. Register a rule with ndgrad.defvjp({name}, rule, ...), or call it on "
            "x.detach() or inside `with ndgrad.no_grad():` if no gradient is needed."
        )
    )


def plain_target(name: str) -> NotDifferentiableError:
    """The error for ``name`` writing a value that requires grad into a plain ndarray (its
    first argument), where the write cannot be recorded and the gradient would be lost."""
    return not_differentiable(
        name,
        "the target is a plain ndarray, which cannot hold a graph; allocate it inside "
        "nd.tracing() so that it is a GradArray",
    )


class hidden_errors_reraised:
    """Re-raise an error ndgrad raised inside the block that the code in between hid.

    Library code often catches exceptions around a user's function and raises its own
    (``scipy.optimize.minimize`` turns a TypeError into an unrelated message) or carries on
    (``except Exception: fall back``). Either way the graph was cut: on leaving the block,
    ndgrad's first error in it, with its traceback, is raised instead. Blocks nest; the
    outermost one collects. A class rather than a generator: transforms enter it on every call.
    """

    __slots__ = ("_token",)

    def __enter__(self) -> None:
        self._token = raised_in_scope.set([]) if raised_in_scope.get() is None else None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        reraise_hidden(kind, exc, self._token)


def reraise_hidden(kind: Any, exc: Any, token: Any) -> None:
    """The exit of a block that collects ndgrad's errors (``hidden_errors_reraised``, and
    ``tracing``'s compiled exit when one was raised): raise the first one if the code in
    between hid it; the outermost block (``token``, else None) stops collecting."""
    try:
        if kind is None or issubclass(kind, Exception):
            hidden = _hidden(exc)
            if hidden is not None:
                raise hidden from None
    finally:
        if token is not None:
            raised_in_scope.reset(token)


def _hidden(exc: Exception | None) -> Exception | None:
    raised = raised_in_scope.get()
    if not raised or isinstance(exc, NotDifferentiableError | GraphBreakError):
        return None
    first = raised[0]
    raised.clear()  # an outer block must not raise it again
    how = f"replaced it with {type(exc).__name__}: {exc}" if exc else "caught it and carried on"
    first.add_note(f"ndgrad raised this inside a call, and the code that called it {how}")
    return first
