"""Peak memory of one workload for one system, measured in a process of its own.

Run by ``benchmarks.run`` as ``python -m benchmarks.memory SYSTEM WORKLOAD SIZE``; prints one
line of JSON. The peak is the resident set size (``VmHWM`` in ``/proc/self/status``) reached
during the step, minus the resident size just before it: what the step itself adds on top of
the data and parameters. ``clear_refs`` resets the high-water mark after a warm-up step, and the
runner sets ``MALLOC_MMAP_THRESHOLD_`` so that glibc returns freed arrays to the system at once
(its adaptive threshold would otherwise keep them in the heap and hide the next peak).
"""

from __future__ import annotations

import gc
import json
import sys

from benchmarks import pinning

pinning.pin_threads()

import numpy as np  # noqa: E402  (after the thread pinning)

from benchmarks import systems  # noqa: E402


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def measure(system: str, workload: str, size: int) -> dict[str, float]:
    """Peak extra bytes of one ``workload`` step (``mlp``: batch ``size``; ``deep``: ops)."""
    sysobj = systems.make(system)
    pinning.pin_library(sysobj)
    if workload == "mlp":
        run = sysobj.mlp(systems.mlp_data(np.float64, size))
        run()  # warm-up: lazy initialisation, first allocation of .grad
        gc.collect()
        before = _status("VmRSS")
        _reset_peak()
        out = run()
        peak = _status("VmHWM")
        del out
        return {"peak_bytes": peak - before}
    if workload == "deep":
        x = np.random.default_rng(0).standard_normal(8)
        forward = sysobj.deep_forward(x, 1000)
        forward()
        gc.collect()
        before = _status("VmRSS")
        graph = sysobj.deep_forward(x, size)()  # held, so that the graph stays alive
        after = _status("VmRSS")
        del graph
        return {"bytes_per_op": (after - before) / size}
    raise ValueError(workload)


if __name__ == "__main__":
    name, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    print(json.dumps(measure(name, kind, n)))
