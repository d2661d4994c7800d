"""The workloads, written once per system: hand-written NumPy (the reference), ndgrad and peers.

Each ``make_*`` function returns a zero-argument callable that runs one forward and backward
pass and returns ``(value, gradients)``, so that the runner can time it and check that every
system computes the same gradients as the reference. Data is made once, outside the callable:
only forward + backward is timed, as a training loop would run it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from collections.abc import Callable
from typing import Any

import numpy as np

Step = Callable[[], tuple[Any, Any]]

# The chain and deep-graph workloads repeat this cycle of elementwise operations.
CYCLE = ("multiply", "sin", "add", "tanh")
MUL, ADD = 1.0001, 0.01


def _chain(y: Any, n: int, sin: Any, tanh: Any, keep: bool = False) -> Any:
    """``n`` elementwise operations cycling through ``CYCLE``; ``keep`` lists what NumPy saves."""
    saved = []
    for i in range(n):
        op = CYCLE[i % 4]
        if op == "multiply":
            y = y * MUL
        elif op == "sin":
            if keep:
                saved.append(y)
            y = sin(y)
        elif op == "add":
            y = y + ADD
        else:
            y = tanh(y)
            if keep:
                saved.append(y)
    return (y, saved) if keep else y


# --- nested transforms ------------------------------------------------------------------------
# The saddle workload is gradbench's "saddle" evaluation (Pearlmutter and Siskind): a saddle point
# of f(p1, p2) = |p1|^2 - |p2|^2 by gradient descent inside gradient descent, each gradient by
# reverse mode, so that the outer gradient differentiates through the inner solver's gradient
# calls. gradbench starts the solver at step 1e-5 with tolerance 1e-5 (about 48,000 gradient
# calls); here the step starts at 0.1 and the tolerance is 1e-2 (about 480): the same nesting,
# short enough to repeat.
SADDLE_START = (1.0, 1.0)
SADDLE_ETA, SADDLE_TOL = 0.1, 1e-2


def _argmin(xp: Any, f: Callable[[Any], Any], g: Callable[[Any], Any], x: Any) -> Any:
    """gradbench's gradient-descent solver: step doubles after 10 successes, halves on a miss."""
    fx, gx = f(x), g(x)
    eta, i = SADDLE_ETA, 0
    while True:
        if xp.sqrt(xp.dot(gx, gx)) <= SADDLE_TOL:
            return x
        if i == 10:
            eta, i = 2.0 * eta, 0
            continue
        step = x - eta * gx
        d = step - x
        if xp.sqrt(xp.dot(d, d)) <= SADDLE_TOL:
            return x
        f_step = f(step)
        if f_step < fx:
            x, fx, gx, i = step, f_step, g(step), i + 1
            continue
        eta, i = eta / 2.0, 0


def _saddle_f(p1: Any, p2: Any) -> Any:
    return (p1[0] ** 2 + p1[1] ** 2) - (p2[0] ** 2 + p2[1] ** 2)


def _saddle(
    xp: Any, grad: Callable[[Any], Any], start: Any, inner: Callable[[Any], Any] | None = None
) -> tuple[Any, Any]:
    """``(r1, r2)``: r1 minimises max over p2 of f(p1, p2), r2 maximises f(r1, p2). ``inner``
    makes the gradient of the inner solver (``grad`` by default)."""
    inner = inner or grad

    def r1_cost(p1: Any) -> Any:
        def neg(p2: Any) -> Any:
            return -_saddle_f(p1, p2)

        return _saddle_f(p1, _argmin(xp, neg, inner(neg), start))

    r1 = _argmin(xp, r1_cost, grad(r1_cost), start)

    def r2_cost(p2: Any) -> Any:
        return -_saddle_f(r1, p2)

    return r1, _argmin(xp, r2_cost, grad(r2_cost), start)


def newton_data(n_params: int = 20, n_samples: int = 100, seed: int = 0) -> dict[str, Any]:
    """A ridge-regularised logistic regression: the Newton workload's loss."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n_samples, n_params))
    y = np.sign(x @ rng.standard_normal(n_params) + 0.5 * rng.standard_normal(n_samples))
    return {"x": x, "y": y, "lam": 1.0, "steps": 5}


def _logistic_loss(xp: Any, d: dict[str, Any]) -> Callable[[Any], Any]:
    x, y, lam = d["x"], d["y"], d["lam"]
    return lambda w: xp.sum(xp.log1p(xp.exp(-y * (x @ w)))) + 0.5 * lam * xp.dot(w, w)


def _newton(d: dict[str, Any], grad: Any, hessian: Any) -> Any:
    """``steps`` Newton steps from zero: a Hessian and a gradient per step."""
    w = np.zeros(d["x"].shape[1])
    for _ in range(d["steps"]):
        w = w - np.linalg.solve(np.asarray(hessian(w)), np.asarray(grad(w)))
    return w


def forward_grad(xp: Any, jvp: Callable[[Any, Any, Any], Any]) -> Callable[[Any], Any]:
    """The saddle's inner gradient by forward mode, gradbench's way: one JVP per coordinate
    (``jvp(f, x, v)`` gives the directional derivative of ``f`` at ``x`` along ``v``)."""

    def grad(f: Any) -> Any:
        def g(p: Any) -> Any:
            eye = np.eye(len(p))
            return xp.stack([jvp(f, p, eye[i]) for i in range(len(p))])

        return g

    return grad


def jacobian_shapes_data(n_in: int, n_out: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The forward-mode Jacobian workloads, ``f(x) = tanh(a @ x) ** 2`` from n_in to n_out."""
    rng = np.random.default_rng(seed)
    return {"a": rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), "x": rng.standard_normal(n_in)}


def hvp_data(n_params: int = 1000) -> dict[str, Any]:
    """The hvp workload: the Newton workload's loss with 1,000 parameters, and a direction."""
    d = newton_data(n_params=n_params)
    d["v"] = np.random.default_rng(1).standard_normal(n_params)
    d["w"] = 0.01 * np.random.default_rng(2).standard_normal(n_params)
    return d


def jacobian_data(n: int = 100, seed: int = 0) -> dict[str, np.ndarray]:
    """The point and matrix of the Jacobian workload, ``f(x) = sin(a @ x) * x`` (100 -> 100)."""
    rng = np.random.default_rng(seed)
    return {"a": rng.standard_normal((n, n)) / np.sqrt(n), "x": rng.standard_normal(n)}


def available() -> dict[str, str]:
    """The systems that can run here, with their versions (NumPy and ndgrad always)."""
    found = {
        "numpy": np.__version__,
        "ndgrad": importlib.metadata.version("ndgrad"),
    }
    found["ndgrad-vg"] = found["ndgrad-vg-noscope"] = found["ndgrad"]
    for name in ("autograd", "mygrad", "torch"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        found[name] = importlib.metadata.version(name)
    return found


def mlp_data(dtype: Any, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """MNIST-shaped data and a 784-256-10 network, small weights (so logits never overflow)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, batch)
    return {
        "x": rng.standard_normal((batch, 784)).astype(dtype),
        "y": np.eye(10, dtype=dtype)[labels],
        "w1": (rng.standard_normal((784, 256)) * 0.03).astype(dtype),
        "b1": np.zeros(256, dtype),
        "w2": (rng.standard_normal((256, 10)) * 0.06).astype(dtype),
        "b2": np.zeros(10, dtype),
    }


# --- hand-written NumPy: the reference ---------------------------------------------------------


class NumPy:
    name = "numpy"

    def tiny(self, x: np.ndarray) -> Step:
        def step() -> tuple[Any, Any]:
            s = np.sin(x)
            value = np.sum(s * x + 1.0)
            return value, np.cos(x) * x + s

        return step

    def chain(self, x: np.ndarray, n: int) -> Step:
        def step() -> tuple[Any, Any]:
            y, saved = _chain(x, n, np.sin, np.tanh, keep=True)
            value = np.sum(y)
            g = np.ones_like(x)
            for i in reversed(range(n)):
                op = CYCLE[i % 4]
                if op == "multiply":
                    g = g * MUL
                elif op == "sin":
                    g = g * np.cos(saved.pop())
                elif op == "tanh":
                    t = saved.pop()
                    g = g * (1.0 - t * t)
            return value, g

        return step

    def deep_forward(self, x: np.ndarray, n: int) -> Callable[[], Any]:
        """The forward pass of ``chain``, returning what a backward pass would need."""
        return lambda: _chain(x, n, np.sin, np.tanh, keep=True)

    def mlp(self, d: dict[str, np.ndarray]) -> Step:
        x, y, w1, b1, w2, b2 = d["x"], d["y"], d["w1"], d["b1"], d["w2"], d["b2"]
        batch = x.shape[0]

        def step() -> tuple[Any, Any]:
            h = np.tanh(x @ w1 + b1)
            z = h @ w2 + b2
            e = np.exp(z)
            s = np.sum(e, axis=1)
            value = np.mean(np.log(s) - np.sum(y * z, axis=1))
            dz = (e / s[:, None] - y) / batch
            dh = dz @ w2.T
            da = dh * (1 - h * h)
            return value, (x.T @ da, np.sum(da, axis=0), h.T @ dz, np.sum(dz, axis=0))

        return step

    def large(self, x: np.ndarray) -> Step:
        def step() -> tuple[Any, Any]:
            e = np.exp(x)
            value = np.sum(e * x)
            return value, e * (x + 1.0)

        return step

    def saddle(self, start: np.ndarray) -> Callable[[], Any]:
        # The gradients by hand. The inner solver's iterates do not depend on p1, so the
        # gradient of r1_cost is the partial derivative of f in p1, 2 * p1: what reverse mode
        # through the inner solver computes too.
        def grad(f: Any) -> Any:
            return lambda p: 2.0 * p

        return lambda: _saddle(np, grad, start)

    def newton(self, d: dict[str, Any]) -> Callable[[], Any]:
        x, y, lam = d["x"], d["y"], d["lam"]
        eye = np.eye(x.shape[1])

        def s(w: Any) -> Any:  # sigmoid(-y x w)
            return 1.0 / (1.0 + np.exp(y * (x @ w)))

        def grad(w: Any) -> Any:
            return x.T @ (-y * s(w)) + lam * w

        def hessian(w: Any) -> Any:
            p = s(w)
            return (x.T * (p * (1.0 - p))) @ x + lam * eye

        return lambda: _newton(d, grad, hessian)

    def jacobian(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        a, x = d["a"], d["x"]

        def step() -> Any:
            ax = a @ x
            return (np.cos(ax) * x)[:, None] * a + np.diag(np.sin(ax))

        return step

    def saddle_forward(self, start: np.ndarray) -> Callable[[], Any]:
        return self.saddle(start)

    def hvp(self, d: dict[str, Any]) -> Callable[[], Any]:
        x, y, lam, w, v = d["x"], d["y"], d["lam"], d["w"], d["v"]

        def step() -> Any:
            p = 1.0 / (1.0 + np.exp(y * (x @ w)))
            return x.T @ (p * (1.0 - p) * (x @ v)) + lam * v

        return step

    def jacobian_shapes(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        a, x = d["a"], d["x"]

        def step() -> Any:
            t = np.tanh(a @ x)
            return (2.0 * t * (1.0 - t * t))[:, None] * a

        return step


# --- ndgrad ----------------------------------------------------------------------------------


class Ndgrad:
    name = "ndgrad"

    def __init__(self) -> None:
        import ndgrad

        self.nd = ndgrad

    def tiny(self, x: np.ndarray) -> Step:
        xg = self.nd.GradArray(x, requires_grad=True)

        def step() -> tuple[Any, Any]:
            xg.grad = None
            value = np.sum(np.sin(xg) * xg + 1.0)
            value.backward()
            return value, xg.grad

        return step

    def chain(self, x: np.ndarray, n: int) -> Step:
        xg = self.nd.GradArray(x, requires_grad=True)

        def step() -> tuple[Any, Any]:
            xg.grad = None
            value = np.sum(_chain(xg, n, np.sin, np.tanh))
            value.backward()
            return value, xg.grad

        return step

    def deep_forward(self, x: np.ndarray, n: int) -> Callable[[], Any]:
        xg = self.nd.GradArray(x, requires_grad=True)
        return lambda: _chain(xg, n, np.sin, np.tanh)

    def mlp(self, d: dict[str, np.ndarray]) -> Step:
        ga = self.nd.GradArray
        x, y = d["x"], d["y"]
        params = [ga(d[k], requires_grad=True) for k in ("w1", "b1", "w2", "b2")]
        w1, b1, w2, b2 = params

        def step() -> tuple[Any, Any]:
            for p in params:
                p.grad = None
            h = np.tanh(x @ w1 + b1)
            z = h @ w2 + b2
            value = np.mean(np.log(np.sum(np.exp(z), axis=1)) - np.sum(y * z, axis=1))
            value.backward()
            return value, tuple(p.grad for p in params)

        return step

    def large(self, x: np.ndarray) -> Step:
        xg = self.nd.GradArray(x, requires_grad=True)

        def step() -> tuple[Any, Any]:
            xg.grad = None
            value = np.sum(np.exp(xg) * xg)
            value.backward()
            return value, xg.grad

        return step


class NdgradFunctional:
    """ndgrad through ``nd.value_and_grad``, with the conversion scope (the default) or without.

    The two differ only by the scope each call opens: their ratio is what the scope costs on
    code that converts nothing.
    """

    name = "ndgrad-vg"
    scope = True

    def __init__(self) -> None:
        import ndgrad

        self.nd = ndgrad

    def _step(self, f: Callable[..., Any], *args: Any) -> Step:
        vg = self.nd.value_and_grad(f, argnums=tuple(range(len(args))), scope=self.scope)

        def step() -> tuple[Any, Any]:
            value, grads = vg(*args)
            return value, grads if len(args) > 1 else grads[0]

        return step

    def tiny(self, x: np.ndarray) -> Step:
        return self._step(lambda x: np.sum(np.sin(x) * x + 1.0), x)

    def chain(self, x: np.ndarray, n: int) -> Step:
        return self._step(lambda x: np.sum(_chain(x, n, np.sin, np.tanh)), x)

    def mlp(self, d: dict[str, np.ndarray]) -> Step:
        x, y = d["x"], d["y"]

        def loss(w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
            h = np.tanh(x @ w1 + b1)
            z = h @ w2 + b2
            return np.mean(np.log(np.sum(np.exp(z), axis=1)) - np.sum(y * z, axis=1))

        return self._step(loss, d["w1"], d["b1"], d["w2"], d["b2"])

    def large(self, x: np.ndarray) -> Step:
        return self._step(lambda x: np.sum(np.exp(x) * x), x)

    def saddle(self, start: np.ndarray) -> Callable[[], Any]:
        grad = functools.partial(self.nd.grad, scope=self.scope)
        return lambda: _saddle(np, grad, start)

    def newton(self, d: dict[str, Any]) -> Callable[[], Any]:
        f = _logistic_loss(np, d)
        grad = self.nd.grad(f, scope=self.scope)
        hessian = self.nd.hessian(f, scope=self.scope)
        return lambda: _newton(d, grad, hessian)

    def jacobian(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        a, x = d["a"], d["x"]
        jac = self.nd.jacobian(lambda x: np.sin(a @ x) * x, scope=self.scope)
        return lambda: jac(x)

    def saddle_forward(self, start: np.ndarray) -> Callable[[], Any]:
        nd = self.nd

        def jvp(f: Any, x: Any, v: Any) -> Any:
            return nd.jvp(f, (x,), (v,), scope=self.scope)[1]

        grad = functools.partial(nd.grad, scope=self.scope)
        return lambda: _saddle(np, grad, start, forward_grad(np, jvp))

    def hvp(self, d: dict[str, Any]) -> Callable[[], Any]:
        f = _logistic_loss(np, d)
        w, v = d["w"], d["v"]
        return lambda: self.nd.hvp(f, w, v, scope=self.scope)

    def jacobian_shapes(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        a, x = d["a"], d["x"]
        jac = self.nd.jacobian(lambda x: np.tanh(a @ x) ** 2, scope=self.scope)
        return lambda: jac(x)


class NdgradFunctionalNoScope(NdgradFunctional):
    name = "ndgrad-vg-noscope"
    scope = False


# --- HIPS autograd ---------------------------------------------------------------------------


class Autograd:
    name = "autograd"

    def __init__(self) -> None:
        import autograd
        import autograd.numpy as anp

        self.ag, self.np = autograd, anp

    def tiny(self, x: np.ndarray) -> Step:
        anp = self.np
        f = self.ag.value_and_grad(lambda x: anp.sum(anp.sin(x) * x + 1.0))
        return lambda: f(x)

    def chain(self, x: np.ndarray, n: int) -> Step:
        anp = self.np

        def f(y: Any) -> Any:
            return anp.sum(_chain(y, n, anp.sin, anp.tanh))

        vg = self.ag.value_and_grad(f)
        return lambda: vg(x)

    def deep_forward(self, x: np.ndarray, n: int) -> Callable[[], Any]:
        from autograd.core import make_vjp

        anp = self.np
        return lambda: make_vjp(lambda y: _chain(y, n, anp.sin, anp.tanh), x)

    def mlp(self, d: dict[str, np.ndarray]) -> Step:
        anp = self.np
        x, y = d["x"], d["y"]

        def loss(params: tuple[Any, ...]) -> Any:
            w1, b1, w2, b2 = params
            h = anp.tanh(anp.dot(x, w1) + b1)
            z = anp.dot(h, w2) + b2
            return anp.mean(anp.log(anp.sum(anp.exp(z), axis=1)) - anp.sum(y * z, axis=1))

        vg = self.ag.value_and_grad(loss)
        params = (d["w1"], d["b1"], d["w2"], d["b2"])
        return lambda: vg(params)

    def large(self, x: np.ndarray) -> Step:
        anp = self.np
        f = self.ag.value_and_grad(lambda x: anp.sum(anp.exp(x) * x))
        return lambda: f(x)

    def saddle(self, start: np.ndarray) -> Callable[[], Any]:
        return lambda: _saddle(self.np, self.ag.grad, start)

    def newton(self, d: dict[str, Any]) -> Callable[[], Any]:
        f = _logistic_loss(self.np, d)
        grad, hessian = self.ag.grad(f), self.ag.hessian(f)
        return lambda: _newton(d, grad, hessian)

    def jacobian(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        anp, a, x = self.np, d["a"], d["x"]
        jac = self.ag.jacobian(lambda x: anp.sin(anp.dot(a, x)) * x)
        return lambda: jac(x)

    def saddle_forward(self, start: np.ndarray) -> Callable[[], Any]:
        make_jvp = self.ag.make_jvp

        def jvp(f: Any, x: Any, v: Any) -> Any:
            return make_jvp(f)(x)(v)[1]

        return lambda: _saddle(self.np, self.ag.grad, start, forward_grad(self.np, jvp))

    def hvp(self, d: dict[str, Any]) -> Callable[[], Any]:
        # autograd's Hessian-vector product: reverse over reverse (it has no other)
        hvp = self.ag.hessian_tensor_product(_logistic_loss(self.np, d))
        w, v = d["w"], d["v"]
        return lambda: hvp(w, v)

    def jacobian_shapes(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        anp, a, x = self.np, d["a"], d["x"]
        jac = self.ag.jacobian(lambda x: anp.tanh(anp.dot(a, x)) ** 2)  # reverse mode only
        return lambda: jac(x)


# --- MyGrad ----------------------------------------------------------------------------------


class MyGrad:
    name = "mygrad"

    def __init__(self) -> None:
        import mygrad

        self.mg = mygrad

    def tiny(self, x: np.ndarray) -> Step:
        mg = self.mg
        xt = mg.tensor(x)

        def step() -> tuple[Any, Any]:
            value = mg.sum(mg.sin(xt) * xt + 1.0)
            value.backward()
            return value.data, xt.grad

        return step

    def chain(self, x: np.ndarray, n: int) -> Step:
        mg = self.mg
        xt = mg.tensor(x)

        def step() -> tuple[Any, Any]:
            value = mg.sum(_chain(xt, n, mg.sin, mg.tanh))
            value.backward()
            return value.data, xt.grad

        return step

    def deep_forward(self, x: np.ndarray, n: int) -> Callable[[], Any]:
        xt = self.mg.tensor(x)
        return lambda: _chain(xt, n, self.mg.sin, self.mg.tanh)

    def mlp(self, d: dict[str, np.ndarray]) -> Step:
        mg = self.mg
        x, y = d["x"], d["y"]
        params = [mg.tensor(d[k]) for k in ("w1", "b1", "w2", "b2")]
        w1, b1, w2, b2 = params

        def step() -> tuple[Any, Any]:
            h = mg.tanh(mg.matmul(x, w1) + b1)
            z = mg.matmul(h, w2) + b2
            value = mg.mean(mg.log(mg.sum(mg.exp(z), axis=1)) - mg.sum(y * z, axis=1))
            value.backward()
            return value.data, tuple(p.grad for p in params)

        return step

    def large(self, x: np.ndarray) -> Step:
        mg = self.mg
        xt = mg.tensor(x)

        def step() -> tuple[Any, Any]:
            value = mg.sum(mg.exp(xt) * xt)
            value.backward()
            return value.data, xt.grad

        return step


# --- PyTorch (CPU) ---------------------------------------------------------------------------


class Torch:
    name = "torch"

    def __init__(self) -> None:
        import torch

        torch.set_num_threads(1)
        self.torch = torch

    def _leaf(self, x: np.ndarray) -> Any:
        return self.torch.tensor(x, requires_grad=True)

    def tiny(self, x: np.ndarray) -> Step:
        torch = self.torch
        xt = self._leaf(x)

        def step() -> tuple[Any, Any]:
            xt.grad = None
            value = torch.sum(torch.sin(xt) * xt + 1.0)
            value.backward()
            return value.item(), xt.grad.numpy()

        return step

    def chain(self, x: np.ndarray, n: int) -> Step:
        torch = self.torch
        xt = self._leaf(x)

        def step() -> tuple[Any, Any]:
            xt.grad = None
            value = torch.sum(_chain(xt, n, torch.sin, torch.tanh))
            value.backward()
            return value.item(), xt.grad.numpy()

        return step

    def deep_forward(self, x: np.ndarray, n: int) -> Callable[[], Any]:
        xt = self._leaf(x)
        return lambda: _chain(xt, n, self.torch.sin, self.torch.tanh)

    def mlp(self, d: dict[str, np.ndarray]) -> Step:
        torch = self.torch
        x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
        params = [self._leaf(d[k]) for k in ("w1", "b1", "w2", "b2")]
        w1, b1, w2, b2 = params

        def step() -> tuple[Any, Any]:
            for p in params:
                p.grad = None
            h = torch.tanh(x @ w1 + b1)
            z = h @ w2 + b2
            value = torch.mean(torch.log(torch.sum(torch.exp(z), 1)) - torch.sum(y * z, 1))
            value.backward()
            return value.item(), tuple(p.grad.numpy() for p in params)

        return step

    def large(self, x: np.ndarray) -> Step:
        torch = self.torch
        xt = self._leaf(x)

        def step() -> tuple[Any, Any]:
            xt.grad = None
            value = torch.sum(torch.exp(xt) * xt)
            value.backward()
            return value.item(), xt.grad.numpy()

        return step

    def hvp(self, d: dict[str, Any]) -> Callable[[], Any]:
        torch = self.torch
        from torch.func import grad, jvp

        x, y = torch.from_numpy(d["x"]), torch.from_numpy(d["y"])
        w, v, lam = torch.from_numpy(d["w"]), torch.from_numpy(d["v"]), d["lam"]

        def f(w: Any) -> Any:
            return torch.sum(torch.log1p(torch.exp(-y * (x @ w)))) + 0.5 * lam * torch.dot(w, w)

        return lambda: jvp(grad(f), (w,), (v,))[1]  # forward over reverse

    def jacobian_shapes(self, d: dict[str, np.ndarray]) -> Callable[[], Any]:
        torch = self.torch
        from torch.func import jacfwd, jacrev

        a, x = torch.from_numpy(d["a"]), torch.from_numpy(d["x"])
        jac = jacfwd if a.shape[1] < a.shape[0] else jacrev  # the cheaper direction
        f = jac(lambda x: torch.tanh(a @ x) ** 2)
        return lambda: f(x)


SYSTEMS = {
    "numpy": NumPy,
    "ndgrad": Ndgrad,
    "ndgrad-vg": NdgradFunctional,
    "ndgrad-vg-noscope": NdgradFunctionalNoScope,
    "autograd": Autograd,
    "mygrad": MyGrad,
    "torch": Torch,
}


def make(name: str) -> Any:
    """An instance of the system called ``name``."""
    return SYSTEMS[name]()
