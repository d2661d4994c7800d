"""A corpus of real third-party code, called unmodified and differentiated with ``nd.grad``.

Issue 11: on code nobody here wrote, ``nd.grad`` must either agree with central finite
differences or raise a clear ndgrad error naming the cause; a silently wrong gradient fails the
suite. One module per source (``special``, ``stats``, ``sklearn_metrics``, ...), each with a
list ``CASES``; ``test_corpus.py`` runs them all.

A case is a function ``f(x)`` of one float array, written exactly as a user would call the
library; the test differentiates ``sum(w * f(x))`` for fixed random weights ``w`` (so every
output element counts) and compares with central differences of the same function on plain
NumPy arrays. The expectation of each case is what is *right*: a differentiable function
expects agreement; a function that converts to a Python number (``float(...)``) or computes
in compiled code expects the error that says so. Where ndgrad is not right yet, the case is
marked ``xfail`` (strict) with the root cause.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    """One call of real code: ``f(x)`` and what ``nd.grad`` must do with it."""

    id: str
    f: Callable[[Any], Any]
    x: np.ndarray
    # None: agree with finite differences; else the error (or a tuple of acceptable errors)
    raises: type[BaseException] | tuple[type[BaseException], ...] | None = None
    match: str = ""  # regex the error message must contain (names the cause)
    xfail: str = ""  # strict xfail: the root cause of a known failure
    rtol: float = 1e-5
    atol: float = 1e-6
    eps: float = 1e-6


def fd(id: str, f: Callable[[Any], Any], x: Any, **kw: Any) -> Case:
    """A case whose gradient must agree with central finite differences."""
    return Case(id, f, np.asarray(x, dtype=float), **kw)


def err(id: str, f: Callable[[Any], Any], x: Any,
        raises: type[BaseException] | tuple[type[BaseException], ...], match: str,
        **kw: Any) -> Case:  # fmt: skip
    """A case that must raise ``raises`` with a message matching ``match``."""
    return Case(id, f, np.asarray(x, dtype=float), raises=raises, match=match, **kw)


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for info in pkgutil.iter_modules(__path__):
        if not info.name.startswith(("_", "test_")):
            cases.extend(importlib.import_module(f"{__name__}.{info.name}").CASES)
    return cases
