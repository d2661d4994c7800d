"""NumPy's floating-point warnings, reported at the user's line rather than at ndgrad's.

NumPy emits ``RuntimeWarning: invalid value encountered in sqrt`` from C with a stack level of
1: the innermost Python frame, which for a GradArray is ndgrad's dispatch code. So a warning
would point at ``ndgrad/_array.py`` (and, shown once per location by default, appear once for a
whole program). Two mechanisms move it to the first frame outside ndgrad and NumPy:

- ``user_errstate()`` is the error state that ``__array_function__``, the general
  ``__array_ufunc__`` path and ``backward()`` compute under: the user's own, with each category
  the user set to ``'warn'`` routed to a handler that warns NumPy's message at the user's line.
  ``'ignore'``, ``'raise'``, ``'print'`` and ``'log'`` keep NumPy's behaviour, and a user's
  ``'call'`` categories still reach the user's callback. It uses NumPy 2's error-state context
  variable, private but what ``np.errstate`` itself sets.
- The common ufunc call is compiled (``GradArray.__array_ufunc__``, ``_core.ArrayBase``) and
  must not pay for that on every call. It adds no Python frame, so NumPy's warning points at
  the caller's line by itself. Where the caller is ``ndgrad._array`` (its in-place operators),
  a warnings filter (installed at import, for NumPy's floating-point messages attributed to
  that module) turns the warning into an exception; the compiled call then hands the call to
  the general path, which computes it again under ``user_errstate()``. A filter of the user's
  that comes first (``warnings.simplefilter("ignore")``) still decides, as for any warning.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import numpy as np
from numpy._core.umath import _extobj_contextvar as ERRSTATE
from numpy._core.umath import _get_extobj_dict, _make_extobj

__all__ = ["ERRSTATE", "user_errstate"]

_CATEGORIES = ("divide", "over", "under", "invalid")
# NumPy's names of the categories in its messages and callbacks
_KINDS = {
    "divide by zero": "divide",
    "overflow": "over",
    "underflow": "under",
    "invalid value": "invalid",
}
_MESSAGE = r"(divide by zero|overflow|underflow|invalid value) encountered in "
_SKIP = (
    os.path.dirname(os.path.abspath(__file__)) + os.sep,
    os.path.dirname(os.path.abspath(np.__file__)) + os.sep,
)
# The last error state seen and ours for it (None: nothing to change). Error states are new
# objects at every ``with np.errstate(...)``, so one entry, replaced as a whole, is enough.
_LAST: tuple[Any, Any] = (None, None)


def _user_level() -> int:
    """``stacklevel`` for a ``warnings.warn`` here: the first frame outside ndgrad and NumPy."""
    frame: Any = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_code.co_filename.startswith(_SKIP):
        frame, level = frame.f_back, level + 1
    return level


# The compiled path calls NumPy's array methods for some functions (``np.prod`` as
# ``ndarray.prod``, ``Primitive.array_method``): their Python frames are NumPy's ``_prod``,
# ``_amax``, ..., named here as the functions the user called.
_METHODS = "numpy._core._methods"
_METHOD_NAMES = {"_sum": "sum", "_prod": "prod", "_mean": "mean", "_amax": "max", "_amin": "min"}


def _operation(frame: Any) -> str:
    """The NumPy function or ufunc that ndgrad was dispatching when NumPy warned: named by
    ndgrad's Python dispatch frame, or, for a call the compiled ``__array_function__``
    dispatched (no Python frame of its own), by the outermost NumPy frame below the caller."""
    numpy_call = None  # the outermost NumPy function of the NumPy frames walked through
    while frame is not None:
        local = frame.f_locals
        if "self" in local:
            for key in ("ufunc", "func"):
                op = local.get(key)
                if op is not None and hasattr(op, "__name__"):
                    return str(op.__name__)
            if frame.f_code.co_name == "backward":
                return "backward (a gradient rule)"
        module = frame.f_globals.get("__name__", "")
        if module == _METHODS:  # an array method (ndarray.prod for np.prod): its own name
            numpy_call = _METHOD_NAMES.get(frame.f_code.co_name, frame.f_code.co_name)
        elif module == "numpy" or module.startswith("numpy."):
            numpy_call = frame.f_code.co_name
        elif numpy_call is not None and not module.startswith("ndgrad"):
            return numpy_call  # the caller's frame: the function it called
        frame = frame.f_back
    return numpy_call or "a NumPy call"


def _handler(user_call: Any, user_modes: dict[str, str]) -> Any:
    def warn_at_user(kind: str, flag: int) -> None:
        if user_modes.get(_KINDS.get(kind, ""), "warn") == "call":
            user_call(kind, flag)  # a category the user routed to their own callback
            return
        name = _operation(sys._getframe(1))
        warnings.warn(f"{kind} encountered in {name}", RuntimeWarning, stacklevel=_user_level())

    return warn_at_user


def user_errstate() -> Any:
    """The error state to compute under, or None when no category is set to ``'warn'``."""
    global _LAST
    current = ERRSTATE.get()
    last, ours = _LAST
    if current is last:
        return ours
    settings: dict[str, Any] = dict(_get_extobj_dict())
    modes = {c: settings[c] for c in _CATEGORIES}
    if "warn" not in modes.values():
        ours = None
    else:
        routed = {c: ("call" if m == "warn" else m) for c, m in modes.items()}
        ours = _make_extobj(call=_handler(settings["call"], modes), **routed)  # type: ignore[arg-type]
    _LAST = (current, ours)
    return ours


warnings.filterwarnings("error", _MESSAGE, RuntimeWarning, r"ndgrad\._array\Z")
