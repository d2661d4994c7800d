"""What the conversion scope costs on code that converts nothing, and the hot paths near it.

Usage (from the repository root)::

    python -m benchmarks.scope                 # about 30 s; --repeats to change
    python -m benchmarks.scope --json out.json

Every transform runs the user's function inside ``nd.tracing()`` (issue 11), which must stay
within a few percent of ``scope=False`` on a function that converts nothing. This times, in one
process on one thread:

- W1, the tiny function ``sum(sin(x) * x + 1)`` on 8 elements, through ``nd.value_and_grad``
  with the scope (the default) and with ``scope=False``: their ratio is the scope's cost;
- an empty ``with nd.tracing(): pass`` (entry and exit alone);
- ``np.asarray`` of a plain array outside any scope (what plain NumPy code pays);
- a recorded 8-element ufunc (``x * x``) and ``np.sum`` of 8 elements with ``x`` requiring
  grad (what the alias registry costs on every recorded operation).

The two W1 variants are timed in pairs, alternating which goes first, each sample a batch of
calls; the table shows the median time per call over the samples and the median of the paired
ratios with its quartiles, so that a slow spell of a shared machine hits both sides of a pair.
Times are the process's CPU time (``--clock wall`` for wall time).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(ROOT))

from benchmarks import pinning  # noqa: E402

pinning.pin_threads()  # before NumPy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

CLOCKS = {"process": time.process_time, "wall": time.perf_counter}


def _per_call(clock: Callable[[], float], step: Callable[[], Any], number: int) -> float:
    t = clock()
    for _ in range(number):
        step()
    return (clock() - t) / number


def _quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def measure(repeats: int, clock: Callable[[], float]) -> dict[str, Any]:
    """Time every item; return medians (microseconds per call) and the W1 ratio."""
    import ndgrad as nd

    x = np.random.default_rng(0).standard_normal(8)

    def w1(x: Any) -> Any:
        return np.sum(np.sin(x) * x + 1.0)

    with_scope = nd.value_and_grad(w1)
    without = nd.value_and_grad(w1, scope=False)
    expected = without(x)
    got = with_scope(x)
    assert np.array_equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])

    def empty_scope() -> None:
        with nd.tracing():
            pass

    plain = np.ones(8)
    g = nd.GradArray(x, requires_grad=True)
    singles: dict[str, tuple[Callable[[], Any], int]] = {
        "empty scope (enter + exit)": (empty_scope, 2000),
        "np.asarray(plain) outside a scope": (lambda: np.asarray(plain), 20000),
        "recorded x * x, 8 elements": (lambda: g * g, 2000),
        "recorded np.sum(x), 8 elements": (lambda: np.sum(g), 2000),
    }
    pair = {"W1 with scope": lambda: with_scope(x), "W1 scope=False": lambda: without(x)}
    for step in (*pair.values(), *(s for s, _ in singles.values())):
        for _ in range(200):  # warm up (caches, adaptive bytecode)
            step()

    samples: dict[str, list[float]] = {name: [] for name in (*pair, *singles)}
    ratios: list[float] = []
    names = list(pair)
    for r in range(repeats):
        order = names if r % 2 == 0 else names[::-1]
        got_pair = {name: _per_call(clock, pair[name], 300) for name in order}
        for name, t in got_pair.items():
            samples[name].append(t)
        ratios.append(got_pair["W1 with scope"] / got_pair["W1 scope=False"])
        if r % 4 == 0:
            for name, (step, number) in singles.items():
                samples[name].append(_per_call(clock, step, number))
    us = {name: 1e6 * statistics.median(v) for name, v in samples.items()}
    low, mid, high = _quartiles(ratios)
    return {
        "us_per_call": us,
        "w1_ratio": {"median": mid, "q1": low, "q3": high, "pairs": len(ratios)},
        "numpy_names_untouched_outside": np.asarray is vars(np)["asarray"]
        and type(np) is type(sys),
    }


def main(argv: list[str] | None = None) -> int:
    """Run, print a table, optionally write JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scope", description=__doc__)
    parser.add_argument("--repeats", type=int, default=200, help="W1 pairs (default 200)")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="process")
    parser.add_argument("--json", help="write the numbers to this path")
    args = parser.parse_args(argv)
    result = measure(args.repeats, CLOCKS[args.clock])
    print("| item | us/call (median) |\n|---|---|")
    for name, t in result["us_per_call"].items():
        print(f"| {name} | {t:.3f} |")
    r = result["w1_ratio"]
    print(
        f"\nW1 with scope / scope=False: {r['median']:.4f} (quartiles {r['q1']:.4f} to "
        f"{r['q3']:.4f}, {r['pairs']} pairs, {args.clock} time)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
