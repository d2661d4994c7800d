"""Fit a legacy NumPy + SciPy model with gradients from ndgrad, without changing the model.
========================================================================================

Run: python examples/legacy_model.py

``simulate`` and ``negative_log_likelihood`` below stand for code written years ago for plain
arrays: they call ``np.asarray``, preallocate buffers with ``np.zeros`` and fill them in a
Python loop, and score the fit with ``scipy.stats.norm.logpdf``. ``nd.differentiable`` runs
them with those conversions keeping the graph, ``nd.value_and_grad`` gives the exact gradient,
and ``scipy.optimize.minimize(..., jac=True)`` fits the natural frequency, damping ratio,
initial displacement and noise level of a damped oscillator to noisy observations. The data
and the fit are saved to ``legacy_model_fit.png``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import scipy.stats

import ndgrad as nd

# --- the legacy code: plain NumPy and SciPy, untouched ------------------------------------------


def simulate(params, t):
    """Damped oscillator x'' + 2 zeta omega x' + omega^2 x = 0, semi-implicit Euler steps."""
    params = np.asarray(params, dtype=float)
    omega, zeta, x0 = params[0], params[1], params[2]
    t = np.asarray(t)
    dt = t[1] - t[0]
    x = np.zeros(len(t))
    v = np.zeros(len(t))
    x[0] = x0
    for i in range(len(t) - 1):
        a = -2.0 * zeta * omega * v[i] - omega**2 * x[i]
        v[i + 1] = v[i] + dt * a
        x[i + 1] = x[i] + dt * v[i + 1]
    return x


def negative_log_likelihood(theta, t, data):
    """Gaussian noise of unknown scale around the simulated trajectory."""
    theta = np.asarray(theta)
    sigma = np.exp(theta[3])
    return -np.sum(scipy.stats.norm.logpdf(data, loc=simulate(theta[:3], t), scale=sigma))


# --- fitting it with ndgrad ---------------------------------------------------------------------

TRUE = {"omega": 2.0, "zeta": 0.15, "x0": 1.5, "sigma": 0.05}
NAMES = ("omega", "zeta", "x0", "sigma")


def main(
    n_steps: int = 200,
    seed: int = 0,
    plot_path: str | Path | None = "legacy_model_fit.png",
    verbose: bool = True,
) -> dict[str, Any]:
    """Simulate noisy data, fit the model from a wrong start, and report the parameters."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 10.0, n_steps)
    clean = simulate([TRUE["omega"], TRUE["zeta"], TRUE["x0"]], t)
    data = clean + TRUE["sigma"] * rng.standard_normal(n_steps)

    objective = nd.value_and_grad(nd.differentiable(negative_log_likelihood))

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(theta, t, data)
        return float(value), grad

    iteration = [0]

    def progress(theta: np.ndarray) -> None:
        iteration[0] += 1
        if verbose and iteration[0] % 5 == 0:
            value = float(negative_log_likelihood(theta, t, data))
            omega, zeta, x0, sigma = *theta[:3], np.exp(theta[3])
            print(f"iter {iteration[0]:3d}  nll {value:10.3f}  omega {omega:.4f}  "
                  f"zeta {zeta:.4f}  x0 {x0:.4f}  sigma {sigma:.4f}")  # fmt: skip

    start = np.array([1.8, 0.3, 1.0, np.log(0.3)])
    result = scipy.optimize.minimize(fun, start, jac=True, method="L-BFGS-B", callback=progress)
    fitted = dict(zip(NAMES, [*map(float, result.x[:3]), float(np.exp(result.x[3]))], strict=True))
    if verbose:
        print(f"{result.message} after {result.nit} iterations, nll {result.fun:.3f}")
        for name in NAMES:
            print(f"  {name:6s} fitted {fitted[name]:.4f}   true {TRUE[name]:.4f}")
    if plot_path is not None:
        _plot(t, data, clean, simulate(result.x[:3], t), Path(plot_path))
        if verbose:
            print(f"saved {plot_path}")
    return {"fitted": fitted, "true": dict(TRUE), "success": bool(result.success)}


def _plot(t: Any, data: Any, clean: Any, fit: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(t, data, ".", ms=3, color="0.5", label="noisy observations")
    ax.plot(t, clean, "-", lw=1, color="k", label="true trajectory")
    ax.plot(t, fit, "--", lw=2, color="C3", label="fit (L-BFGS-B, gradient from ndgrad)")
    ax.set_xlabel("time")
    ax.set_ylabel("displacement")
    ax.set_title("Damped oscillator fitted by maximum likelihood")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    # NDGRAD_EXAMPLES_QUICK=1 (set by the documentation build): a shorter simulation
    quick = bool(os.environ.get("NDGRAD_EXAMPLES_QUICK"))
    if not main(n_steps=80 if quick else 200)["success"]:
        sys.exit(1)
