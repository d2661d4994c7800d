"""A model written for autograd.numpy, ported to ndgrad by changing only the import lines.
=======================================================================================

Run: python examples/port_from_autograd.py

The model is Gaussian-process regression: the negative log marginal likelihood of noisy samples
of a sine, as a function of three log-hyperparameters (signal variance, length scale, noise
variance), with a weak log-normal prior on the hyperparameters. It is written the way autograd
code is written: ``np.array`` of traced scalars, ``np.asarray`` on inputs, ``np.linalg``, and
``grad`` from the library. Between the two ``# --- model ---`` markers nothing refers to ndgrad
except the imports.

The script checks the gradient against central finite differences, and runs the very same
model source with autograd's imports and compares the two gradients: that needs autograd
(``pip install autograd``, or the ``bench`` extra); without it the script says loudly that the
comparison was skipped (``--require-autograd`` makes that an error). It then fits the
hyperparameters by gradient descent and saves the fitted posterior mean to
``port_from_autograd.png`` in the current directory (as the other examples do) when matplotlib
is installed.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

# --- model ------------------------------------------------------------------------------------
import ndgrad.numpy as np  # was: import autograd.numpy as np
from ndgrad import grad  # was: from autograd import grad


def unpack(params):
    """Signal variance, length scale and noise variance from their logarithms."""
    return np.exp(params[0]), np.exp(params[1]), np.exp(params[2])


def rbf_kernel(xa, xb, signal, length):
    sqdist = (xa[:, None] - xb[None, :]) ** 2
    return signal * np.exp(-0.5 * sqdist / length**2)


def neg_log_marginal_likelihood(params, x, y):
    x, y = np.asarray(x), np.asarray(y)
    signal, length, noise = unpack(params)
    n = x.shape[0]
    K = rbf_kernel(x, x, signal, length) + (noise + 1e-6) * np.eye(n)
    L = np.linalg.cholesky(K)
    alpha = np.linalg.solve(L.T, np.linalg.solve(L, y))
    data_fit = 0.5 * np.dot(y, alpha)
    complexity = np.sum(np.log(np.diag(L)))
    # A log-normal prior around signal 1, length 1, noise 0.1: np.array of traced scalars.
    hyper = np.array([signal, length, noise])
    prior = 0.5 * np.sum((np.log(hyper) - np.log(np.array([1.0, 1.0, 0.1]))) ** 2)
    return data_fit + complexity + 0.5 * n * np.log(2 * np.pi) + prior


def posterior_mean(params, x, y, x_new):
    signal, length, noise = unpack(params)
    K = rbf_kernel(x, x, signal, length) + (noise + 1e-6) * np.eye(x.shape[0])
    return np.dot(rbf_kernel(x_new, x, signal, length), np.linalg.solve(K, y))


objective_grad = grad(neg_log_marginal_likelihood)
# --- model ------------------------------------------------------------------------------------


def data(seed=0, n=12):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3.0, 3.0, n))
    return x, np.sin(x) + 0.1 * rng.standard_normal(n)


def finite_differences(f, params, eps=1e-6):
    """Central differences of a scalar function, one coordinate at a time."""
    out = []
    for i in range(len(params)):
        step = np.eye(len(params))[i] * eps
        out.append((float(f(params + step)) - float(f(params - step))) / (2 * eps))
    return np.array(out)


def autograd_version():
    """This file's model section run with autograd's imports (None if autograd is missing)."""
    try:
        import autograd  # noqa: F401
    except ImportError:
        return None
    # this file, found through a code object: sphinx-gallery runs examples without __file__
    source = Path(autograd_version.__code__.co_filename).read_text()
    model = source.split("\n# --- model ---")[1].split("\n", 1)[1]
    model = re.sub(r"import ndgrad\.numpy as np.*", "import autograd.numpy as np", model)
    model = re.sub(r"from ndgrad import grad.*", "from autograd import grad", model)
    module = types.ModuleType("gp_autograd")
    exec(compile(model, "gp_autograd", "exec"), module.__dict__)
    return module


def main(steps=150, lr=0.05, plot=True, plot_path="port_from_autograd.png", require_autograd=False):
    x, y = data()
    params = np.array([0.0, 0.0, -1.0])
    nll = lambda p: neg_log_marginal_likelihood(p, x, y)

    g = objective_grad(params, x, y)
    fd = finite_differences(nll, params)
    print("gradient (ndgrad)        ", np.round(g, 6))
    print("gradient (finite diffs)  ", np.round(fd, 6))
    assert np.allclose(g, fd, rtol=1e-5, atol=1e-6), "ndgrad disagrees with finite differences"
    ag = autograd_version()
    if ag is not None:
        g_ag = np.asarray(ag.objective_grad(params.view(np.ndarray), x.view(np.ndarray), y))
        print("gradient (autograd)      ", np.round(g_ag, 6))
        assert np.allclose(g, g_ag, rtol=1e-10, atol=1e-12), "ndgrad disagrees with autograd"
        print("ndgrad and autograd agree (rtol 1e-10)")
    elif require_autograd:
        raise SystemExit(
            "autograd is not installed, so the comparison with autograd cannot run: "
            "pip install autograd"
        )
    else:
        print(
            "WARNING: autograd is not installed: the comparison with autograd was SKIPPED "
            "(only finite differences checked the gradient). pip install autograd to run it.",
            file=sys.stderr,
        )

    start = float(nll(params))
    for _ in range(steps):
        params = params - lr * objective_grad(params, x, y)
    end = float(nll(params))
    signal, length, noise = (float(v) for v in unpack(params))
    print(f"negative log likelihood {start:.4f} -> {end:.4f}")
    print(f"signal {signal:.3f}  length {length:.3f}  noise {noise:.4f}")
    if plot:
        _plot(params, x, y, Path(plot_path))
    return g, fd, start, end


def _plot(params, x, y, out):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot (pip install matplotlib)", file=sys.stderr)
        return
    grid = np.linspace(-3.5, 3.5, 200)
    signal, length, noise = (float(v) for v in unpack(params))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(x, y, "o", label="noisy samples of sin(x)")
    ax.plot(grid, np.sin(grid), ":", label="sin(x)")
    ax.plot(grid, posterior_mean(params, x, y, grid), label="GP posterior mean (fitted)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(
        "GP regression, hyperparameters fitted with ndgrad (model written for autograd)\n"
        f"signal {signal:.2f}, length {length:.2f}, noise {noise:.3f}",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.savefig(out, dpi=100, bbox_inches="tight")
    print(f"saved {out}")


if __name__ == "__main__":
    main(plot="--no-plot" not in sys.argv, require_autograd="--require-autograd" in sys.argv)
