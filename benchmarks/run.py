"""Time ndgrad against hand-written NumPy and the peers; print a table and write JSON.

Usage (from the repository root)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks           # full, ~10 min
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks --quick   # under a minute

``python benchmarks/run.py`` works the same. Every system runs in this one process, on one
thread, interleaved: each repeat times every system once (in a rotating order) before the next
repeat starts, so that a slow spell of a noisy machine hits all of them alike; the table shows
medians over the repeats and the ratio to hand-written NumPy measured in the same run. Peak
memory is measured in a fresh process per system (``benchmarks/memory.py``). The full run
writes ``benchmarks/results/latest.json``; other runs write ``results/<name>.json``.
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
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks import systems  # noqa: E402
from benchmarks.report import table  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
WORKLOADS = (
    "tiny", "chain", "mlp", "large", "deep", "saddle", "newton", "jacobian",
    "saddle_forward", "hvp", "jacobian_wide", "jacobian_tall",
)  # fmt: skip


# --- timing ----------------------------------------------------------------------------------


# CPU time of this process by default: every system runs on one thread, so it measures the same
# work as wall time on an idle machine, and it does not count the time other processes of a
# shared machine take the core away (wall time does: ``--clock wall``).
CLOCKS = {"process": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["process"]


def _calibrate(step: Callable[[], Any], target: float) -> int:
    """How many calls make one sample last about ``target`` seconds: the fastest of three
    calls decides, so that a collection of the cycle collector in one of them does not."""
    once = min(_sample(step, 1) for _ in range(3))
    return max(1, int(target / max(once, 1e-6)))


def _sample(step: Callable[[], Any], number: int) -> float:
    t = clock()
    for _ in range(number):
        step()
    return (clock() - t) / number


def interleaved(
    steps: dict[str, Callable[[], Any]], repeats: int, target: float
) -> dict[str, list[float]]:
    """Seconds per call of every step, ``repeats`` samples each, the systems taking turns.

    Every step runs once more before the calls are counted: the first call after another
    system's (PyTorch's first call imports some 800 modules) can pay one-time costs, such as
    ndgrad's conversion scope scanning the new modules (tens of ms). Counted from that call, a
    sample was one call long and timed a cold call each time (0.9 against 0.4 ms for (11)).
    And each sample starts with one call that is not counted: the first call after another
    system's gets back the memory the allocator returned to the system meanwhile, page by page
    (about 400 page faults, 1.3 to 1.7 ms, on the first MLP step of NumPy and of ndgrad alike),
    a cost of taking turns in one process that a program running one system never pays.
    """
    for step in steps.values():
        step()
    numbers = {name: _calibrate(step, target) if target else 1 for name, step in steps.items()}
    samples: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            steps[name]()
            samples[name].append(_sample(steps[name], numbers[name]))
    return samples


# --- checking --------------------------------------------------------------------------------


def _to_numpy(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return [_to_numpy(v) for v in x]
    if isinstance(x, np.ndarray):
        return np.asarray(x).view(np.ndarray)
    if hasattr(x, "numpy"):  # torch
        return x.detach().numpy()
    if hasattr(x, "data"):  # mygrad
        return np.asarray(x.data)
    return np.asarray(x)


def _agrees(result: Any, reference: Any, rtol: float) -> bool:
    got, want = _to_numpy(result), _to_numpy(reference)
    if isinstance(want, list):
        return len(got) == len(want) and all(
            _agrees(g, w, rtol) for g, w in zip(got, want, strict=True)
        )
    return bool(np.allclose(got, want, rtol=rtol, atol=rtol * 1e-2))


# --- workloads -------------------------------------------------------------------------------


def _steps(
    objs: dict[str, Any], make: Callable[[Any], Callable[[], Any]], rtol: float
) -> tuple[dict[str, Callable[[], Any]], dict[str, Any]]:
    """Build every system's step, run it once and compare it with NumPy's result."""
    steps: dict[str, Callable[[], Any]] = {}
    notes: dict[str, Any] = {}
    reference = None
    for name, obj in objs.items():
        try:
            step = make(obj)
            result = step()
        except Exception as exc:  # a peer that cannot run a workload is reported, not fatal
            notes[name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            continue
        if name == "numpy":
            reference = result
        elif reference is not None and not _agrees(result, reference, rtol):
            notes[name] = {"error": "gradients differ from hand-written NumPy"}
            continue
        steps[name] = step
    return steps, notes


def run_workload(
    title: str,
    unit: str,
    objs: dict[str, Any],
    make: Callable[[Any], Callable[[], Any]],
    *,
    repeats: int,
    target: float,
    per: int = 1,
    scale: float = 1e6,
    rtol: float = 1e-6,
) -> dict[str, Any]:
    """Time one workload on every system; ``per`` divides the time (microseconds per op)."""
    print(f"  {title} ...", file=sys.stderr, flush=True)
    steps, notes = _steps(objs, make, rtol)
    samples = interleaved(steps, repeats, target)
    results: dict[str, Any] = dict(notes)
    base = statistics.median(samples["numpy"]) if "numpy" in samples else None
    for name, s in samples.items():
        median = statistics.median(s) * scale / per
        results[name] = {
            "median": median,
            "ratio": None if base is None else statistics.median(s) / base,
            "samples": [v * scale / per for v in s],
        }
    gc.collect()
    return {"title": title, "unit": unit, "repeats": repeats, "results": results}


def _having(objs: dict[str, Any], method: str) -> dict[str, Any]:
    """The systems that implement a workload."""
    return {name: obj for name, obj in objs.items() if hasattr(obj, method)}


def run_memory(names: list[str], workload: str, size: int) -> dict[str, Any]:
    """Each system in a fresh process (see benchmarks/memory.py)."""
    print(f"  memory {workload} {size} ...", file=sys.stderr, flush=True)
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"  # freed arrays go back to the system at once
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out: dict[str, Any] = {}
    for name in names:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", name, workload, str(size)],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=600,
        )
        if proc.returncode != 0:
            out[name] = {"error": proc.stderr.strip().splitlines()[-1][:200]}
        else:
            out[name] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


# --- the report ------------------------------------------------------------------------------


def machine_info(versions: dict[str, str]) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    memory = None
    try:
        with open("/proc/meminfo") as f:
            memory = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
            memory = round(memory / 2**20, 1)
    except (OSError, StopIteration):
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
    except OSError:
        commit = None
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_gib": memory,
        "python": platform.python_version(),
        "numpy_blas": f"{blas.get('name')} {blas.get('version')}",
        "versions": versions,
        "ndgrad_commit": commit,
        "gc_enabled": gc.isenabled(),
        "pinning": pinning.describe(),
        "command": " ".join(
            ["python", "-m", "benchmarks", *sys.argv[1:]]
            if sys.argv[0].endswith("__main__.py")
            else ["python", *sys.argv]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="fewer repeats, under a minute")
    parser.add_argument("--systems", help="comma-separated subset (numpy is always included)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory processes")
    parser.add_argument(
        "--workloads",
        help=f"comma-separated subset of {','.join(WORKLOADS)} (default all; memory separately)",
    )
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="process", help="CPU time (default) or wall"
    )
    parser.add_argument("--output", help="JSON path (default results/latest.json or quick.json)")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]

    versions = systems.available()
    if args.systems:
        wanted = {"numpy", *args.systems.split(",")}
        versions = {k: v for k, v in versions.items() if k in wanted}
    objs = {name: systems.make(name) for name in versions}
    for obj in objs.values():
        pinning.pin_library(obj)
    report: dict[str, Any] = {
        "machine": machine_info(versions),
        "quick": args.quick,
        "clock": args.clock,
    }
    if any(report["machine"]["pinning"]["openblas_tuning_env"].values()):
        print(
            "warning: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set and slow NumPy's BLAS; run "
            "with `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE`",
            file=sys.stderr,
        )

    quick = args.quick
    reps = 5 if quick else 15
    target = 0.01 if quick else 0.04
    rng = np.random.default_rng(0)
    x8 = rng.standard_normal(8)
    chosen = set(args.workloads.split(",")) if args.workloads else set(WORKLOADS)
    if chosen - set(WORKLOADS):
        parser.error(f"unknown workloads {sorted(chosen - set(WORKLOADS))}")
    w: dict[str, Any] = {}
    print("timing:", file=sys.stderr)
    if "tiny" in chosen:
        w["tiny"] = run_workload(
            "(1) tiny op: sum(sin(x)*x+1), 8 elements", "us/call", objs,
            lambda s: s.tiny(x8), repeats=reps, target=target,
        )  # fmt: skip
    if "chain" in chosen:
        w["chain"] = run_workload(
            "(2) chain of 100 elementwise ops, 8 elements", "us/op", objs,
            lambda s: s.chain(x8, 100), repeats=reps, target=target, per=100,
        )  # fmt: skip
    for dtype, rtol in ((np.float64, 1e-6), (np.float32, 2e-3)) if "mlp" in chosen else ():
        data = systems.mlp_data(dtype, 128)
        w[f"mlp_{np.dtype(dtype).name}"] = run_workload(
            f"(3) MLP step 784-256-10, batch 128, {np.dtype(dtype).name}", "ms/step", objs,
            lambda s, data=data: s.mlp(data), repeats=reps, target=target * 2, scale=1e3,
            rtol=rtol,
        )  # fmt: skip
    if "large" in chosen:
        big = rng.standard_normal(10**7)
        w["large"] = run_workload(
            "(4) sum(exp(x)*x), 1e7 elements", "ms/call", objs,
            lambda s, big=big: s.large(big), repeats=3 if quick else 7, target=0, scale=1e3,
        )  # fmt: skip
        del big
    for n in ((10**5,) if quick else (10**5, 10**6)) if "deep" in chosen else ():
        w[f"deep_{n}"] = run_workload(
            f"(5) deep graph: {n:.0e} ops then backward", "us/op", objs,
            lambda s, n=n: s.chain(x8, n), repeats=1 if quick or n > 10**5 else 3, target=0,
            per=n,
        )  # fmt: skip
    # Nested transforms: the systems that have them (ndgrad through its transforms, autograd).
    nested = {name: obj for name, obj in objs.items() if hasattr(obj, "saddle")}
    if "saddle" in chosen:
        w["saddle"] = run_workload(
            "(7) saddle point: gradient descent inside gradient descent, 2 elements", "ms/call",
            nested, lambda s: s.saddle(np.array(systems.SADDLE_START)),
            repeats=3 if quick else 7, target=0, scale=1e3,
        )  # fmt: skip
    if "newton" in chosen:
        newton = systems.newton_data()
        w["newton"] = run_workload(
            "(8) Newton: 5 steps of hessian + grad, 20 parameters", "ms/call", nested,
            lambda s: s.newton(newton), repeats=reps, target=target * 2, scale=1e3,
        )  # fmt: skip
    if "jacobian" in chosen:
        jac = systems.jacobian_data()
        w["jacobian"] = run_workload(
            "(9) jacobian of sin(a @ x) * x, 100 -> 100", "ms/call", nested,
            lambda s: s.jacobian(jac), repeats=reps, target=target * 2, scale=1e3,
        )  # fmt: skip
    # Forward mode (issue 17): the systems that have each workload.
    if "saddle_forward" in chosen:
        w["saddle_forward"] = run_workload(
            "(10) saddle point, inner gradient by forward mode (one jvp per coordinate)",
            "ms/call", _having(objs, "saddle_forward"),
            lambda s: s.saddle_forward(np.array(systems.SADDLE_START)),
            repeats=3 if quick else 7, target=0, scale=1e3,
        )  # fmt: skip
    if "hvp" in chosen:
        hvp = systems.hvp_data()
        w["hvp"] = run_workload(
            "(11) Hessian-vector product, logistic loss of 1,000 parameters", "ms/call",
            _having(objs, "hvp"), lambda s: s.hvp(hvp), repeats=reps, target=target * 2,
            scale=1e3,
        )  # fmt: skip
    for key, (n_in, n_out) in (("jacobian_wide", (10, 1000)), ("jacobian_tall", (1000, 10))):
        if key in chosen:
            data = systems.jacobian_shapes_data(n_in, n_out)
            w[key] = run_workload(
                f"(12) jacobian of tanh(a @ x) ** 2, {n_in} -> {n_out}", "ms/call",
                _having(objs, "jacobian_shapes"), lambda s, data=data: s.jacobian_shapes(data),
                repeats=reps, target=target * 2, scale=1e3,
            )  # fmt: skip
    report["workloads"] = w

    if not args.no_memory:
        names = list(versions)
        batch = 1024
        mem = run_memory(names, "mlp", batch)
        base = mem.get("numpy", {}).get("peak_bytes")
        report["memory"] = {
            f"(6) peak memory of MLP step, batch {batch}": {
                "unit": "MiB",
                "results": {
                    k: v
                    if "error" in v
                    else {
                        "median": v["peak_bytes"] / 2**20,
                        "ratio": v["peak_bytes"] / base if base else None,
                    }
                    for k, v in mem.items()
                },
            }
        }
    if not args.no_memory and not quick:  # one more process per system: full runs only
        n = 10**5
        # the graph held between forward and backward: systems with a tape API only
        per_op = run_memory([k for k in names if hasattr(objs[k], "deep_forward")], "deep", n)
        report["memory"][f"(5) memory per recorded op, {n:.0e}-op graph"] = {
            "unit": "bytes/op",
            "results": {
                k: v if "error" in v else {"median": v["bytes_per_op"], "ratio": None}
                for k, v in per_op.items()
            },
        }

    text = table(report)
    print(text)
    m = report["machine"]
    print(
        f"\n{m['cpu']}, {m['cpu_count']} cores, Python {m['python']}, NumPy {np.__version__} "
        f"({m['numpy_blas']}), 1 thread per system, gc enabled: {m['gc_enabled']}, "
        f"{args.clock} time"
    )
    output = (
        Path(args.output) if args.output else RESULTS / ("quick.json" if quick else "latest.json")
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    report["table"] = text
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
