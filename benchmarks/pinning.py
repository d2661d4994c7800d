"""One thread for every system, set the same way before any of them is imported.

BLAS and OpenMP read their thread counts from the environment when they load, so the variables
are set before NumPy (or PyTorch) is imported; ``threadpoolctl`` then confirms and enforces the
limit at run time, and PyTorch's own intra-op pool is set with ``torch.set_num_threads(1)``.
"""

from __future__ import annotations

import os
from typing import Any

THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
# Set on some machines to work around old CPUs; they make a current NumPy's OpenBLAS slower.
# The runner reports them and its documented command unsets them for the benchmark only.
OPENBLAS_TUNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_limiter: Any = None


def pin_threads(n: int = 1) -> None:
    """Set the thread variables (before NumPy is imported) and, if present, threadpoolctl."""
    global _limiter
    for var in THREAD_VARS:
        os.environ[var] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _limiter = threadpool_limits(limits=n)


def pin_library(system: Any) -> None:
    """Libraries with a thread pool of their own (PyTorch) are pinned when they are made."""
    torch = getattr(system, "torch", None)
    if torch is not None:
        torch.set_num_threads(1)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # only settable before the first inter-op work: best effort
            pass


def describe() -> dict[str, Any]:
    """What was pinned and how, for the JSON report."""
    info: dict[str, Any] = {
        "threads": 1,
        "environment": {var: os.environ.get(var) for var in THREAD_VARS},
        "openblas_tuning_env": {var: os.environ.get(var) for var in OPENBLAS_TUNING},
    }
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpoolctl"] = None
    else:
        info["threadpoolctl"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version")}
            for p in threadpool_info()
        ]
    return info
