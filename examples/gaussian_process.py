"""Fit a Gaussian process's kernel by maximising its marginal likelihood, in plain SciPy.
======================================================================================

Run: python examples/gaussian_process.py

``neg_log_lik`` is the textbook negative log marginal likelihood of Gaussian-process regression
(Rasmussen and Williams, algorithm 2.1), written with NumPy and SciPy only: a squared-exponential
kernel built on ``scipy.spatial.distance.cdist``, factorised with ``scipy.linalg.cho_factor``
and solved with ``scipy.linalg.cho_solve``. ``nd.value_and_grad`` differentiates it in the
three log-hyperparameters (signal scale, length scale, noise), and
``scipy.optimize.minimize(..., jac=True)`` fits them. The gradient is checked once against
central finite differences before the fit. The data, the posterior mean and its two-sigma band
before and after the fit, and the likelihood along the way are saved to
``gaussian_process.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
from scipy.spatial.distance import cdist

import ndgrad as nd

JITTER = 1e-8  # added to the diagonal so that the factorisation never fails


def kernel(theta, a, b):
    """Squared-exponential covariance between the rows of ``a`` and ``b``."""
    signal, length = np.exp(theta[0]), np.exp(theta[1])
    return signal**2 * np.exp(-0.5 * cdist(a / length, b / length, "sqeuclidean"))


def neg_log_lik(theta, x, y):
    """-log p(y | x, theta) for a zero-mean GP with Gaussian noise exp(theta[2])."""
    noise = np.exp(theta[2])
    k = kernel(theta, x, x) + (noise**2 + JITTER) * np.eye(len(x))
    factor = scipy.linalg.cho_factor(k, lower=True)
    alpha = scipy.linalg.cho_solve(factor, y)
    log_det = 2 * np.sum(np.log(np.diag(factor[0])))
    return 0.5 * y @ alpha + 0.5 * log_det + 0.5 * len(x) * np.log(2 * np.pi)


def posterior(theta, x, y, x_new):
    """Posterior mean and standard deviation of the latent function at ``x_new``."""
    noise = np.exp(theta[2])
    factor = scipy.linalg.cho_factor(kernel(theta, x, x) + (noise**2 + JITTER) * np.eye(len(x)))
    k_new = kernel(theta, x_new, x)
    mean = k_new @ scipy.linalg.cho_solve(factor, y)
    var = np.exp(2 * theta[0]) - np.sum(k_new * scipy.linalg.cho_solve(factor, k_new.T).T, axis=1)
    return mean, np.sqrt(np.maximum(var, 0.0))


def finite_difference_error(theta, x, y, h=1e-6):
    """Largest relative difference between ndgrad's gradient and central differences."""
    grad = nd.grad(neg_log_lik)(theta, x, y)
    fd = np.array(
        [
            (neg_log_lik(theta + h * e, x, y) - neg_log_lik(theta - h * e, x, y)) / (2 * h)
            for e in np.eye(len(theta))
        ]
    )
    return float(np.max(np.abs(grad - fd) / np.maximum(np.abs(fd), 1.0)))


def make_data(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Noisy samples of a smooth function on [0, 10], as a column of inputs and targets."""
    x = np.sort(rng.uniform(0.0, 10.0, n))[:, None]
    y = np.sin(x[:, 0]) + 0.3 * np.sin(3 * x[:, 0]) + 0.15 * rng.standard_normal(n)
    return x, y


def main(
    n: int = 40,
    seed: int = 0,
    plot_path: str | Path | None = "gaussian_process.png",
    verbose: bool = True,
) -> dict[str, Any]:
    """Check the gradient, fit the hyperparameters, and report them."""
    rng = np.random.default_rng(seed)
    x, y = make_data(n, rng)
    start = np.log(np.array([0.5, 3.0, 0.5]))  # signal, length scale, noise: a poor guess

    fd_error = finite_difference_error(start, x, y)
    if verbose:
        print(f"gradient vs central differences: max relative error {fd_error:.1e}")

    objective = nd.value_and_grad(neg_log_lik)
    history: list[float] = []

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(theta, x, y)
        history.append(float(value))
        return float(value), grad

    result = scipy.optimize.minimize(fun, start, jac=True, method="L-BFGS-B")
    fitted = np.exp(result.x)
    if verbose:
        print(f"{result.message} after {result.nit} iterations, {result.nfev} evaluations")
        print(f"-log likelihood {history[0]:.3f} -> {result.fun:.3f}")
        print(f"signal {fitted[0]:.3f}, length scale {fitted[1]:.3f}, noise {fitted[2]:.3f}")
    if plot_path is not None:
        _plot(x, y, start, result.x, history, Path(plot_path))
        if verbose:
            print(f"saved {plot_path}")
    return {
        "fd_error": fd_error,
        "fitted": fitted,
        "start_value": history[0],
        "value": float(result.fun),
        "success": bool(result.success),
    }


def _plot(x, y, start, fitted, history, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0.0, 10.0, 300)[:, None]
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8), width_ratios=(2, 1))
    for theta, label, color in ((start, "start", "tab:gray"), (fitted, "fitted", "tab:blue")):
        mean, std = posterior(theta, x, y, grid)
        ax.plot(grid[:, 0], mean, color=color, label=f"posterior mean ({label})")
        ax.fill_between(grid[:, 0], mean - 2 * std, mean + 2 * std, color=color, alpha=0.2)
    ax.plot(x[:, 0], y, "k.", label="data")
    ax.set_xlabel("x")
    ax.set_title("GP regression, two-sigma bands")
    ax.legend(fontsize=8)
    ax_loss.plot(history, "-o", ms=3)
    ax_loss.set_xlabel("function evaluation")
    ax_loss.set_ylabel("-log marginal likelihood")
    ax_loss.set_title("L-BFGS-B, gradient by ndgrad")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    outcome = main()
    if outcome["fd_error"] > 1e-5 or not outcome["success"]:
        sys.exit(1)  # only on failure: the documentation gallery runs this block
