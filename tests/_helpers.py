"""Helpers several test modules share: finite-difference Jacobians, thread races, and the
mark of the tests that hold only while small saved arrays are copied."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from ndgrad._graph import COPY_BYTES

# ``NDGRAD_COPY_BYTES=0`` guards every saved array instead of copying the small ones (a run of the
# suite with it exercises the guards on the small arrays tests use). A test of the copies
# themselves (a write after the save leaves the saved values alone; how many fingerprints are
# taken) describes the other configuration: marked with this, it is left out of such a run.
needs_small_copies = pytest.mark.skipif(
    COPY_BYTES == 0,
    reason="tests the copies of small saved arrays; NDGRAD_COPY_BYTES=0 guards them",
)


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
