"""Data-parallel gradients on Dask: logistic regression fitted chunk by chunk.
===========================================================================

Run: python examples/dask_logistic.py   (needs ``pip install 'ndgrad[dask,examples]'``)

The loss of a dataset is the sum of the losses of its chunks, so its gradient is the sum of the
chunks' gradients. The data is a ``dask.array`` whose row chunks live on the workers of a
``dask.distributed`` cluster (here a ``LocalCluster`` with two worker processes). At every step
the client sends the current parameters; each worker computes ``nd.value_and_grad`` of its
chunk's loss, a plain NumPy function; Dask sums the results; the client updates the parameters.
Only parameters and gradients travel, never the data.

The script then runs the same gradient descent in one process on the whole array and checks that
both fits agree, and saves the loss curve to ``dask_logistic_loss.png`` in the current directory.
``NDGRAD_EXAMPLES_QUICK=1`` runs a smaller problem.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dask
import dask.array as da
import numpy as np
from dask.distributed import Client, LocalCluster

import ndgrad as nd

# --- the model: plain NumPy -------------------------------------------------------------------


def chunk_loss(params, x, y, n_total):
    """This chunk's share of the mean logistic loss (labels y in {0, 1})."""
    z = x @ params["w"] + params["b"]
    return np.sum(np.logaddexp(0.0, z) - y * z) / n_total


def chunk_value_and_grad(params, x, y, n_total):
    """Runs on a worker: the chunk's loss and its gradient, as plain NumPy values."""
    return nd.value_and_grad(chunk_loss)(params, x, y, n_total)


def add(parts):
    """Sum (loss, gradient) pairs; the gradients are dicts of arrays."""
    loss = sum(p[0] for p in parts)
    grads = {k: sum(p[1][k] for p in parts) for k in parts[0][1]}
    return loss, grads


# --- the data: a dask.array, generated on the workers -----------------------------------------


def make_data(n_samples, n_features, chunk_rows, seed=0):
    """Features and 0/1 labels drawn from a logistic model with known coefficients."""
    rng = da.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_features), chunks=(chunk_rows, n_features))
    true_w = np.linspace(-2.0, 2.0, n_features)
    p = 1.0 / (1.0 + da.exp(-(x @ true_w + 0.5)))
    y = (rng.random(n_samples, chunks=chunk_rows) < p).astype(np.float64)
    return x, y, true_w


# --- the two fits ------------------------------------------------------------------------------


def fit_distributed(x, y, steps, lr):
    """Gradient descent; each step's gradient is summed over the chunks on the workers."""
    n_total = x.shape[0]
    x_chunks = x.to_delayed().ravel()
    y_chunks = y.to_delayed().ravel()
    params = {"w": np.zeros(x.shape[1]), "b": 0.0}
    losses = []
    for _ in range(steps):
        parts = [
            dask.delayed(chunk_value_and_grad)(params, xc, yc, n_total)
            for xc, yc in zip(x_chunks, y_chunks, strict=True)
        ]
        loss, grads = dask.compute(dask.delayed(add)(parts))[0]
        params = {k: params[k] - lr * grads[k] for k in params}  # the update, on the client
        losses.append(float(loss))
    return params, losses


def fit_single_process(x, y, steps, lr):
    """The same gradient descent on the whole array in one process."""
    params = {"w": np.zeros(x.shape[1]), "b": 0.0}
    losses = []
    objective = nd.value_and_grad(chunk_loss)
    for _ in range(steps):
        loss, grads = objective(params, x, y, x.shape[0])
        params = {k: params[k] - lr * grads[k] for k in params}
        losses.append(float(loss))
    return params, losses


def main(
    n_samples: int = 200_000,
    n_features: int = 8,
    chunk_rows: int = 25_000,
    steps: int = 40,
    lr: float = 2.0,
    client: Client | None = None,
    plot_path: str | Path | None = "dask_logistic_loss.png",
) -> dict[str, Any]:
    """Fit on the cluster (a new two-process ``LocalCluster`` unless ``client`` is given)."""
    own = client is None
    if own:
        cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1)
        client = Client(cluster)
    try:
        with client.as_current():
            x, y, true_w = make_data(n_samples, n_features, chunk_rows)
            x, y = dask.persist(x, y)  # the chunks stay in the workers' memory
            print(
                f"{x.numblocks[0]} chunks of {chunk_rows} rows on {len(client.nthreads())} workers"
            )
            params, losses = fit_distributed(x, y, steps, lr)
            x_local, y_local = dask.compute(x, y)
    finally:
        if own:
            client.close()
            cluster.close()

    ref_params, ref_losses = fit_single_process(x_local, y_local, steps, lr)
    max_diff = max(float(np.max(np.abs(params[k] - ref_params[k]))) for k in params)
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    print("fitted w:", np.round(params["w"], 2), " b:", round(float(params["b"]), 2))
    print("true w:  ", np.round(true_w, 2), " b: 0.5")
    print(f"largest difference from the single-process fit: {max_diff:.1e}")
    if plot_path is not None:
        _plot(losses, ref_losses, Path(plot_path))
    return {
        "params": params,
        "losses": losses,
        "single_process_params": ref_params,
        "single_process_losses": ref_losses,
        "max_diff": max_diff,
        "true_w": true_w,
    }


def _plot(losses, ref_losses, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install 'ndgrad[examples]').")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(losses, label="Dask, gradients summed over chunks")
    ax.plot(ref_losses, ":", linewidth=3, label="one process, whole array")
    ax.set_xlabel("step")
    ax.set_ylabel("mean logistic loss")
    ax.set_title("Data-parallel gradient descent with ndgrad on Dask")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"saved the loss curve to {path}")


if __name__ == "__main__":
    if os.environ.get("NDGRAD_EXAMPLES_QUICK"):
        result = main(n_samples=20_000, chunk_rows=5_000, steps=20)
    else:
        result = main()
    if result["max_diff"] > 1e-8:
        sys.exit(1)
