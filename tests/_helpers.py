"""Helpers several test modules share: finite-difference Jacobians and thread races."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np


def fd_jacobian(fun: Callable[[Any], Any], x: Any, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of ``fun`` (an array function) at ``x``: shape out + in."""
    x = np.asarray(x, dtype=float)
    cols = []
    for e in np.eye(x.size):
        e = e.reshape(x.shape)
        cols.append((np.asarray(fun(x + h * e)) - np.asarray(fun(x - h * e))) / (2 * h))
    return np.stack(cols, axis=-1).reshape(np.shape(fun(x)) + x.shape)


def race(work: Callable[[], None], threads: int = 4) -> None:
    """Run ``work`` in ``threads`` threads at once, switching between them as often as the
    interpreter allows, so that races show up."""
    running = [threading.Thread(target=work) for _ in range(threads)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in running:
            t.start()
        for t in running:
            t.join()
    finally:
        sys.setswitchinterval(interval)
