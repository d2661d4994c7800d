"""The cost of an ODE gradient, as a ratio to one forward solve.

Usage (from the repository root)::

    python -m benchmarks.ode            # 2, 20 and 200 parameters, 7 repeats, ~3 min
    python -m benchmarks.ode --quick    # 3 repeats

The model has 4 states and ``P`` parameters, ``dy/dt = -y/2 + M (θ * tanh(C y))`` with fixed
random ``C`` (P x 4) and ``M`` (4 x P), and the loss is a sum of squares of ``solve_ivp``'s
solution at 10 times (RK45, ``rtol=1e-6``, ``atol=1e-8``). For each ``P`` it times, in one
process and interleaved (``benchmarks.run.interleaved``, CPU time, medians):

- ``solve_ivp``: SciPy's own function, unwrapped, with grad off: the unit of the ratios;
- ``solve_ivp, wrapped``: the same call through ndgrad's wrapper with nothing to differentiate;
- ``adjoint``: ``nd.value_and_grad`` of the loss, ndgrad's default adjoint method
  (checkpointed: a state every 32 steps, each segment solved again in the backward pass);
- ``adjoint, all steps``: the same inside ``nd.ode_gradient(checkpoints="all")`` (SciPy's
  interpolant of every step kept, nothing solved again);
- ``forward``: the same inside ``nd.ode_gradient("forward")`` (forward sensitivities);
- ``finite differences``: one-sided, ``P + 1`` calls of SciPy's own ``solve_ivp``;
- ``autograd odeint``: HIPS autograd's ``odeint`` adjoint on the same model (LSODA, the same
  tolerances; autograd's only ODE solver), if autograd is installed.

Every gradient is checked against the others before timing. Writes
``benchmarks/results/ode.json`` (``ode_quick.json`` with ``--quick``).

``python -m benchmarks.ode --memory`` measures instead what the adjoint keeps: a 20-state
linear model whose 400-entry matrix is a closure GradArray, integrated over ``T = 20`` and
``T = 200`` (about 230 and 2300 RK45 steps), the loss a sum of squares at 2 output times
(``t_eval``); for each and each ``checkpoints`` setting (1, 8, 32 (the default), 128, "all"):
the memory held between the solve and ``backward()`` and the peak of the whole
(``tracemalloc``, one run), the nodes of the recorded graph after the solve, and the CPU time of
the solve and the gradient as a ratio to one forward solve of SciPy's own ``solve_ivp`` (medians
of 5 interleaved runs, without tracemalloc). Writes ``benchmarks/results/ode_memory.json``.
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
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.integrate  # noqa: E402

try:  # before ndgrad: autograd's odeint then holds SciPy's own odeint, not ndgrad's wrapper
    import autograd.scipy.integrate  # noqa: F401
except ImportError:
    pass

import ndgrad as nd  # noqa: E402
from benchmarks import run  # noqa: E402
from benchmarks.report import cell  # noqa: E402
from ndgrad._rules._scipy import _wrapped  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
N_STATES = 4
T_EVAL = np.linspace(0.5, 5.0, 10)
TOL = {"rtol": 1e-6, "atol": 1e-8}


def _scipy_solve_ivp() -> Callable[..., Any]:
    """SciPy's own ``solve_ivp``, without ndgrad's wrapper, with grad off (so that SciPy's
    internal calls of its classes, which ndgrad guards, skip the guards)."""
    wrapper = scipy.integrate.solve_ivp
    original = _wrapped[id(wrapper)][1] if id(wrapper) in _wrapped else wrapper

    def solve_ivp(*args: Any, **kwargs: Any) -> Any:
        with nd.no_grad():
            return original(*args, **kwargs)

    return solve_ivp


class Problem:
    """The model and loss for ``n_params`` parameters; every system's gradient step."""

    def __init__(self, n_params: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.C = rng.standard_normal((n_params, N_STATES))
        self.M = rng.standard_normal((N_STATES, n_params)) / np.sqrt(n_params)
        self.theta = 0.5 + 0.1 * rng.standard_normal(n_params)
        self.y0 = np.ones(N_STATES)
        self.data = self.trajectory(self.theta + 0.1, _scipy_solve_ivp())
        self.plain_solve = _scipy_solve_ivp()

    def trajectory(self, theta: Any, solve_ivp: Callable[..., Any]) -> Any:
        C, M = self.C, self.M

        def rhs(t: float, y: Any) -> Any:
            return -0.5 * y + M @ (theta * np.tanh(C @ y))

        return solve_ivp(rhs, (0.0, T_EVAL[-1]), self.y0, t_eval=T_EVAL, **TOL).y

    def loss(self, theta: Any, solve_ivp: Callable[..., Any] | None = None) -> Any:
        y = self.trajectory(theta, solve_ivp or scipy.integrate.solve_ivp)
        return 0.5 * np.sum((y - self.data) ** 2)

    # --- the timed steps: each returns (value, gradient) or a value ---------------------

    def forward_solve(self) -> Any:
        return self.loss(self.theta, self.plain_solve)

    def forward_solve_wrapped(self) -> Any:
        return self.loss(self.theta, scipy.integrate.solve_ivp)

    def adjoint(self) -> tuple[Any, Any]:
        return nd.value_and_grad(self.loss)(self.theta)

    def adjoint_all_steps(self) -> tuple[Any, Any]:
        with nd.ode_gradient(checkpoints="all"):
            return nd.value_and_grad(self.loss)(self.theta)

    def forward_sensitivities(self) -> tuple[Any, Any]:
        with nd.ode_gradient("forward"):
            return nd.value_and_grad(self.loss)(self.theta)

    def finite_differences(self, h: float = 1e-6) -> tuple[Any, Any]:
        base = self.loss(self.theta, self.plain_solve)
        grad = np.empty(self.theta.size)
        for i in range(self.theta.size):
            shifted = self.theta.copy()
            shifted[i] += h
            grad[i] = (self.loss(shifted, self.plain_solve) - base) / h
        return base, grad

    def autograd_step(self) -> Callable[[], tuple[Any, Any]]:
        import autograd
        import autograd.numpy as anp
        from autograd.builtins import tuple as atuple
        from autograd.scipy.integrate import odeint

        C, M, times = self.C, self.M, np.concatenate([[0.0], T_EVAL])

        def rhs(y: Any, t: float, theta: Any) -> Any:
            return -0.5 * y + anp.dot(M, theta * anp.tanh(anp.dot(C, y)))

        def loss(theta: Any) -> Any:
            y = odeint(rhs, self.y0, times, atuple((theta,)), **TOL)[1:]
            return 0.5 * anp.sum((y - self.data.T) ** 2)

        value_and_grad = autograd.value_and_grad(loss)
        return lambda: value_and_grad(self.theta)


def _close(a: Any, b: Any, rtol: float) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return bool(np.allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max()))


def measure(n_params: int, repeats: int) -> dict[str, Any]:
    """Check every system's gradient, then time them; medians in ms and ratios."""
    print(f"  {n_params} parameters ...", file=sys.stderr, flush=True)
    problem = Problem(n_params)
    steps: dict[str, Callable[[], Any]] = {
        "solve_ivp": problem.forward_solve,
        "solve_ivp, wrapped": problem.forward_solve_wrapped,
        "adjoint": problem.adjoint,
        "adjoint, all steps": problem.adjoint_all_steps,
        "forward": problem.forward_sensitivities,
        "finite differences": problem.finite_differences,
    }
    try:
        steps["autograd odeint"] = problem.autograd_step()
    except ImportError:
        pass
    reference = np.asarray(problem.adjoint()[1])
    notes: dict[str, Any] = {}
    for name in ("adjoint, all steps", "forward", "finite differences", "autograd odeint"):
        if name in steps:
            got = steps[name]()[1]
            # finite differences and LSODA agree with the adjoint to about the tolerances
            exact = name in ("forward", "adjoint, all steps")
            if not _close(got, reference, rtol=1e-6 if exact else 1e-2):
                notes[name] = {"error": "the gradient differs from the adjoint's"}
                del steps[name]
    samples = run.interleaved(steps, repeats, target=0)
    base = statistics.median(samples["solve_ivp"])
    results: dict[str, Any] = dict(notes)
    for name, s in samples.items():
        results[name] = {
            "median": statistics.median(s) * 1e3,
            "ratio": statistics.median(s) / base,
            "samples": [v * 1e3 for v in s],
        }
    return results


CHECKPOINTS: list[Any] = [1, 8, 32, 128, "all"]


def _memory_model(n: int = 20) -> tuple[np.ndarray, Callable[..., Any]]:
    rng = np.random.default_rng(0)
    matrix = -np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)

    def rhs_of(theta: Any) -> Callable[..., Any]:
        return lambda t, y: theta @ y + np.sin(t) * np.ones(n)

    return matrix, rhs_of


def _memory_gradient(t_end: float, checkpoints: Any) -> Callable[[], Any]:
    """One solve and gradient of the long-integration model, with ``checkpoints``."""
    matrix, rhs_of = _memory_model()
    n = matrix.shape[0]

    def step() -> Any:
        theta = nd.GradArray(matrix, requires_grad=True)
        with nd.ode_gradient(checkpoints=checkpoints):
            sol = scipy.integrate.solve_ivp(
                rhs_of(theta), (0.0, t_end), np.ones(n), t_eval=[t_end / 2, t_end], **MEMORY_TOL
            )
        np.sum(sol.y**2).backward()
        return theta.grad

    return step


MEMORY_TOL = {"rtol": 1e-8, "atol": 1e-10}


def _memory_forward(t_end: float) -> Callable[[], Any]:
    """One forward solve of the same model by SciPy's own ``solve_ivp``: the unit."""
    matrix, rhs_of = _memory_model()
    plain_solve, rhs, n = _scipy_solve_ivp(), rhs_of(matrix), matrix.shape[0]
    t_eval = [t_end / 2, t_end]
    return lambda: plain_solve(rhs, (0.0, t_end), np.ones(n), t_eval=t_eval, **MEMORY_TOL)


def measure_memory(t_end: float, checkpoints: Any) -> dict[str, Any]:
    """What one adjoint gradient of a long integration with a closure parameter holds."""
    import tracemalloc

    from ndgrad._graph import collect_nodes

    matrix, rhs_of = _memory_model()
    n = matrix.shape[0]
    theta = nd.GradArray(matrix, requires_grad=True)
    tracemalloc.start()
    with nd.ode_gradient(checkpoints=checkpoints):
        sol = scipy.integrate.solve_ivp(
            rhs_of(theta), (0.0, t_end), np.ones(n), t_eval=[t_end / 2, t_end], **MEMORY_TOL
        )
    held = tracemalloc.get_traced_memory()[0]
    nodes = 1 + len(collect_nodes([sol.y._node], set()))
    np.sum(sol.y**2).backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    steps = scipy.integrate.solve_ivp(
        rhs_of(matrix), (0.0, t_end), np.ones(n), **MEMORY_TOL
    ).t.size - 1  # fmt: skip
    return {
        "T": t_end,
        "steps": steps,
        "checkpoints": checkpoints,
        "graph nodes after the solve": nodes,
        "held after the solve (MB)": round(held / 1e6, 2),
        "peak (MB)": round(peak / 1e6, 2),
    }


def memory_main(repeats: int = 5) -> int:
    rows = []
    for t_end in (20.0, 200.0):
        print(f"  T = {t_end:g} ...", file=sys.stderr, flush=True)
        steps: dict[str, Callable[[], Any]] = {"solve_ivp": _memory_forward(t_end)}
        for c in CHECKPOINTS:
            steps[f"checkpoints={c}"] = _memory_gradient(t_end, c)
        reference = steps["checkpoints=all"]()
        for c in CHECKPOINTS:
            if not _close(steps[f"checkpoints={c}"](), reference, rtol=1e-5):
                raise AssertionError(f"checkpoints={c}: the gradient differs from 'all''s")
        samples = run.interleaved(steps, repeats, target=0)
        base = statistics.median(samples["solve_ivp"])
        for c in CHECKPOINTS:
            row = measure_memory(t_end, c)
            median = statistics.median(samples[f"checkpoints={c}"])
            row["solve and gradient (s)"] = round(median, 3)
            row["ratio to one forward solve"] = round(median / base, 1)
            rows.append(row)
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|---" * len(names) + "|"]
    lines += ["| " + " | ".join(str(r[k]) for k in names) + " |" for r in rows]
    text = "\n".join(lines)
    print(text)
    output = RESULTS / "ode_memory.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    report = {"machine": run.machine_info({}), "results": rows, "table": text}
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {output}", file=sys.stderr)
    return 0


def table(report: dict[str, Any]) -> str:
    """A Markdown table: one row per parameter count, ms and the ratio to one forward solve."""
    names: list[str] = []
    for row in report["results"].values():
        names.extend(n for n in row if n not in names)
    lines = ["| parameters | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for n_params, row in report["results"].items():
        cells = [cell(row.get(n)) for n in names]
        lines.append(f"| {n_params} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ode", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 7")
    parser.add_argument("--params", default="2,20,200", help="comma-separated parameter counts")
    parser.add_argument("--output", help="JSON path (default results/ode.json or ode_quick.json)")
    parser.add_argument("--memory", action="store_true", help="what the adjoint keeps, instead")
    args = parser.parse_args(argv)
    if args.memory:
        return memory_main()
    repeats = 3 if args.quick else 7
    versions = run.systems.available()
    report: dict[str, Any] = {
        "machine": run.machine_info({k: versions[k] for k in ("numpy", "ndgrad", "autograd")
                                     if k in versions}),
        "quick": args.quick,
        "unit": "ms per loss and gradient (ratio to one forward solve)",
        "results": {},
    }  # fmt: skip
    print("timing (CPU time, interleaved):", file=sys.stderr)
    for n_params in (int(p) for p in args.params.split(",")):
        report["results"][str(n_params)] = measure(n_params, repeats)
    text = table(report)
    print(text)
    report["table"] = text
    output = (
        Path(args.output)
        if args.output
        else RESULTS / ("ode_quick.json" if args.quick else "ode.json")
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
