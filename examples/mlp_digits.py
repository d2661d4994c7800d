"""Train a small MLP on scikit-learn's bundled digits with plain NumPy code and ndgrad.
====================================================================================

Run: python examples/mlp_digits.py

The 8x8 digit images ship with scikit-learn (no download). The model, the loss and the Adam
update are ordinary NumPy code; the parameters are GradArrays, ``loss.backward()`` fills their
``.grad``. A tqdm bar shows the training; the script prints the test accuracy (above 95%) and
saves ``mlp_digits.png`` with the loss curve and a few misclassified test digits.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from tqdm import tqdm

import ndgrad as nd

# --- the model: plain NumPy ---------------------------------------------------------------------


def forward(params, x):
    """Two hidden tanh layers, then class scores."""
    w1, b1, w2, b2, w3, b3 = params
    h = np.tanh(x @ w1 + b1)
    h = np.tanh(h @ w2 + b2)
    return h @ w3 + b3


def cross_entropy(scores, labels):
    """Mean softmax cross-entropy, with the usual max shift for stability."""
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(labels)), labels])


def init_params(rng, sizes=(64, 64, 32, 10)):
    """Weights scaled by 1/sqrt(fan-in), zero biases: leaves that require grad."""
    params = []
    for n_in, n_out in itertools.pairwise(sizes):
        w = rng.normal(0, 1 / np.sqrt(n_in), (n_in, n_out))
        params.append(nd.GradArray(w, requires_grad=True))
        params.append(nd.GradArray(np.zeros(n_out), requires_grad=True))
    return params


# --- training -----------------------------------------------------------------------------------


def main(
    epochs: int = 30,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
    plot_path: str | Path | None = "mlp_digits.png",
    progress: bool = True,
) -> dict[str, Any]:
    """Train, evaluate on a held-out quarter of the data, and plot."""
    digits = load_digits()
    x = digits.data / 16.0  # pixel intensities 0..16
    x_train, x_test, y_train, y_test, _, img_test = train_test_split(
        x, digits.target, digits.images, test_size=0.25, stratify=digits.target, random_state=seed
    )
    rng = np.random.default_rng(seed)
    params = init_params(rng)
    # Adam state, plain arrays
    m = [np.zeros(p.shape) for p in params]
    v = [np.zeros(p.shape) for p in params]
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0

    losses = []
    n_batches = int(np.ceil(len(x_train) / batch_size))
    bar = tqdm(range(epochs), desc="training", unit="epoch", disable=not progress)
    for _ in bar:
        order = rng.permutation(len(x_train))
        epoch_loss = 0.0
        for k in range(n_batches):
            idx = order[k * batch_size : (k + 1) * batch_size]
            loss = cross_entropy(forward(params, x_train[idx]), y_train[idx])
            loss.backward()
            step += 1
            with nd.no_grad():
                for i, p in enumerate(params):
                    m[i] = beta1 * m[i] + (1 - beta1) * p.grad
                    v[i] = beta2 * v[i] + (1 - beta2) * p.grad**2
                    m_hat = m[i] / (1 - beta1**step)
                    v_hat = v[i] / (1 - beta2**step)
                    p -= lr * m_hat / (np.sqrt(v_hat) + eps)
                    p.zero_grad()
            epoch_loss += float(loss) * len(idx)
        losses.append(epoch_loss / len(x_train))
        bar.set_postfix(loss=f"{losses[-1]:.4f}")

    with nd.no_grad():
        predicted = np.argmax(forward(params, x_test), axis=1)
    accuracy = float(np.mean(predicted == y_test))
    wrong = np.flatnonzero(predicted != y_test)
    print(f"test accuracy {100 * accuracy:.2f}% ({len(wrong)} of {len(y_test)} misclassified)")
    if plot_path is not None:
        _plot(losses, img_test[wrong], y_test[wrong], predicted[wrong], Path(plot_path))
        print(f"saved {plot_path}")
    return {"test_accuracy": accuracy, "losses": losses}


def _plot(losses: list[float], images: Any, truth: Any, guess: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = min(len(images), 8)
    fig = plt.figure(figsize=(10, 4))
    ax = fig.add_subplot(1, 2, 1)
    ax.plot(np.arange(1, len(losses) + 1), losses, "o-", ms=3)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cross-entropy")
    ax.set_title("Loss")
    for j in range(shown):
        sub = fig.add_subplot(2, 8, 5 + (j // 4) * 8 + j % 4)
        sub.imshow(images[j], cmap="gray_r")
        sub.set_title(f"{truth[j]} as {guess[j]}", fontsize=9)
        sub.axis("off")
    fig.suptitle("MLP on scikit-learn digits: loss, and misclassified test digits (true as guess)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    # NDGRAD_EXAMPLES_QUICK=1 (set by the documentation build): fewer epochs, no progress bar
    quick = bool(os.environ.get("NDGRAD_EXAMPLES_QUICK"))
    result = main(epochs=10, progress=False) if quick else main()
    if result["test_accuracy"] <= 0.95:
        sys.exit(1)
