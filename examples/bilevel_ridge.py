"""Choose a ridge penalty by differentiating through ``scipy.optimize.minimize``.
===============================================================================

Run: python examples/bilevel_ridge.py

A bilevel problem: the inner problem fits ridge-regression weights to training data with
``scipy.optimize.minimize``, unmodified; the outer problem chooses the penalty that makes the
fitted weights best on held-out data. ndgrad differentiates the validation loss through the
inner ``minimize`` by the implicit function theorem (the fitted weights are the root of the
gradient of the training loss), so plain gradient descent on ``log(penalty)`` finds the best
penalty, without a grid search and without writing the ridge solution in closed form.

The check: ridge has a closed form, ``w = (XᵀX + λI)⁻¹Xᵀy``, so the script compares ndgrad's
hypergradient with the closed form's and the penalty it finds with a dense grid search. The
validation curve and the descent are saved to ``bilevel_ridge.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize

import ndgrad as nd


def make_data(seed: int = 0, n_train: int = 40, n_val: int = 200, n_features: int = 30):
    """A noisy linear model with more features than the training set supports well."""
    rng = np.random.default_rng(seed)
    w_true = rng.standard_normal(n_features) * np.exp(-0.15 * np.arange(n_features))
    X_train = rng.standard_normal((n_train, n_features))
    X_val = rng.standard_normal((n_val, n_features))
    y_train = X_train @ w_true + 0.8 * rng.standard_normal(n_train)
    y_val = X_val @ w_true + 0.8 * rng.standard_normal(n_val)
    return X_train, y_train, X_val, y_val


def fit_ridge(log_penalty, X, y):
    """The inner problem, as plain NumPy and SciPy code: ridge weights by BFGS."""
    penalty = np.exp(log_penalty)

    def training_loss(w):
        r = X @ w - y
        return 0.5 * r @ r + 0.5 * penalty * (w @ w)

    def training_grad(w):
        return X.T @ (X @ w - y) + penalty * w

    result = scipy.optimize.minimize(
        training_loss,
        np.zeros(X.shape[1]),
        jac=training_grad,
        method="BFGS",
        # tighter than this, BFGS stops on rounding: the loss cannot decrease by less than
        # its last bits; an inner solution off by 1e-6 moves the hypergradient by about that
        options={"gtol": 1e-6},
    )
    return result.x


def validation_loss(log_penalty, data):
    """The outer objective: mean squared error of the fitted weights on held-out data."""
    X_train, y_train, X_val, y_val = data
    w = fit_ridge(log_penalty, X_train, y_train)
    return 0.5 * np.mean((X_val @ w - y_val) ** 2)


def closed_form_loss(log_penalty, data):
    """The same objective with ridge's closed form (for the check only)."""
    X_train, y_train, X_val, y_val = data
    gram = X_train.T @ X_train + np.exp(log_penalty) * np.eye(X_train.shape[1])
    w = np.linalg.solve(gram, X_train.T @ y_train)
    return 0.5 * np.mean((X_val @ w - y_val) ** 2)


def main(
    steps: int = 15,
    step_size: float = 1.0,
    start: float = np.log(1e-2),
    seed: int = 0,
    plot_path: str | Path | None = "bilevel_ridge.png",
    verbose: bool = True,
) -> dict[str, Any]:
    """Gradient descent on ``log(penalty)``; checks against the closed form and a grid."""
    data = make_data(seed)
    hypergradient = nd.value_and_grad(validation_loss)
    exact = nd.grad(closed_form_loss)  # the closed form, differentiated the ordinary way

    # Gradient descent on log(penalty) by the sign of the hypergradient, the step halving
    # whenever that sign flips (Rprop): the validation curve is flat for small penalties, where
    # a fixed learning rate would crawl.
    log_penalty, path, losses, last_sign = start, [start], [], 0.0
    for step in range(steps):
        loss, grad = hypergradient(log_penalty, data)
        losses.append(float(loss))
        if verbose:
            print(f"step {step:2d}  penalty {np.exp(log_penalty):9.4f}  val loss {loss:.5f}")
        sign = float(np.sign(grad))
        if sign * last_sign < 0:
            step_size /= 2
        log_penalty, last_sign = log_penalty - step_size * sign, sign
        path.append(log_penalty)

    grid = np.linspace(np.log(1e-3), np.log(1e3), 400)
    curve = np.array([closed_form_loss(g, data) for g in grid])
    best_on_grid = grid[np.argmin(curve)]
    check_at = np.log(0.5)
    ndgrad_grad = float(hypergradient(check_at, data)[1])
    closed_grad = float(exact(check_at, data))
    gradient_error = abs(ndgrad_grad - closed_grad) / abs(closed_grad)
    ok = gradient_error < 1e-4 and abs(log_penalty - best_on_grid) < 0.05
    if verbose:
        print(
            f"hypergradient at penalty 0.5: ndgrad {ndgrad_grad:.8f}, closed form {closed_grad:.8f}"
        )
        print(f"penalty found {np.exp(log_penalty):.4f}, best on a grid {np.exp(best_on_grid):.4f}")
    if plot_path is not None:
        _plot(grid, curve, np.array(path[:-1]), losses, Path(plot_path))
        if verbose:
            print(f"saved {plot_path}")
    return {
        "penalty": float(np.exp(log_penalty)),
        "best_on_grid": float(np.exp(best_on_grid)),
        "gradient_error": gradient_error,
        "losses": losses,
        "success": bool(ok),
    }


def _plot(grid, curve, path, losses, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    ax.semilogx(np.exp(grid), curve, "-", color="C0", label="validation loss (closed form)")
    ax.semilogx(np.exp(path), losses, "o-", ms=4, color="C3", label="gradient descent")
    ax.set_xlabel("ridge penalty λ")
    ax.set_ylabel("validation loss")
    ax.set_title("Hypergradient through scipy.optimize.minimize")
    ax.legend(fontsize=8)
    ax_loss.plot(losses, "-o", ms=3)
    ax_loss.set_xlabel("outer step")
    ax_loss.set_ylabel("validation loss")
    ax_loss.set_title("Outer objective")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    if not main()["success"]:
        sys.exit(1)  # only on failure: the documentation gallery runs this block
