"""Linear regression by gradient descent: plain NumPy code, gradients from ndgrad.
===============================================================================

Run: python examples/linear_regression.py
Fits y = x * coef - 3 with a 3x3 weight matrix and a bias, printing the loss every 10 epochs,
and saves the loss curve to linear_regression_loss.png when matplotlib is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import ndgrad as nd


def main(epochs: int = 101, lr: float = 3e-4, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    coef = np.array([2, -1, 3])  # integer coefficients, one per output column
    x = rng.standard_normal((100, 3))
    y = x * coef - 3

    w = nd.GradArray(rng.standard_normal((3, 3)), requires_grad=True)
    b = nd.GradArray(np.zeros(3), requires_grad=True)

    losses = []
    for epoch in range(epochs):
        loss = np.sum((x @ w + b - y) ** 2)  # plain NumPy calls, recorded by ndgrad
        loss.backward()
        with nd.no_grad():  # the update itself is not part of the model
            w -= lr * w.grad
            b -= lr * b.grad
        w.zero_grad()
        b.zero_grad()
        losses.append(float(loss))
        if epoch % 10 == 0:
            print(f"epoch {epoch:3d}  loss {float(loss):10.4f}")

    drop = 1 - losses[-1] / losses[0]
    print(f"loss fell by {100 * drop:.1f}% (from {losses[0]:.2f} to {losses[-1]:.2f})")
    print("learned bias:", np.round(b.values, 3), " true bias: [-3. -3. -3.]")
    _plot(losses)
    return losses


def _plot(losses: list[float]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'ndgrad[examples]').")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(losses)
    ax.set_xlabel("epoch")
    ax.set_ylabel("sum of squared errors")
    ax.set_title("Linear regression with ndgrad")
    fig.tight_layout()
    path = Path("linear_regression_loss.png")
    fig.savefig(path, dpi=100)
    print(f"saved the loss curve to {path}")


if __name__ == "__main__":
    losses = main()
    if losses[-1] >= 0.05 * losses[0]:
        sys.exit(1)
