"""The examples run (shortened) and their claims hold: accuracy, recovered parameters, plots."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import ndgrad as nd
from ndgrad.testing import check_grad

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def legacy():
    return _load("legacy_model")


@pytest.fixture(scope="module")
def mlp():
    return _load("mlp_digits")


def test_mlp_digits_reaches_95_percent_and_saves_a_plot(mlp, tmp_path):
    out = tmp_path / "mlp.png"
    result = mlp.main(epochs=10, plot_path=out, progress=False)
    assert result["test_accuracy"] > 0.95
    assert result["losses"][-1] < result["losses"][0] / 5
    assert out.stat().st_size > 10_000


def test_mlp_gradient_matches_finite_differences(mlp):
    rng = np.random.default_rng(1)
    params = [p.values.copy() for p in mlp.init_params(rng, sizes=(4, 3, 3, 3))]
    x, labels = rng.standard_normal((5, 4)), np.array([0, 2, 1, 1, 0])
    check_grad(lambda *p: mlp.cross_entropy(mlp.forward(p, x), labels), *params, order=2)


def test_legacy_model_recovers_the_parameters_and_saves_a_plot(legacy, tmp_path):
    out = tmp_path / "fit.png"
    result = legacy.main(n_steps=80, plot_path=out, verbose=False)
    assert result["success"]
    fitted, true = result["fitted"], result["true"]
    for name in ("omega", "zeta", "x0"):
        assert fitted[name] == pytest.approx(true[name], rel=0.05), name
    assert fitted["sigma"] == pytest.approx(true["sigma"], rel=0.3)
    assert out.stat().st_size > 10_000


def test_legacy_likelihood_gradient_matches_finite_differences(legacy):
    t = np.linspace(0.0, 3.0, 12)
    data = np.cos(2 * t)
    theta = np.array([1.8, 0.3, 1.0, np.log(0.3)])
    check_grad(nd.differentiable(legacy.negative_log_likelihood), theta, t, data, argnums=0)


def test_legacy_likelihood_is_disconnected_without_the_scope(legacy):
    t = np.linspace(0.0, 3.0, 12)
    with pytest.raises(ValueError, match="does not depend on the input"):
        nd.grad(legacy.negative_log_likelihood, scope=False)(
            np.array([1.8, 0.3, 1.0, -1.0]), t, np.cos(t)
        )


@pytest.fixture(scope="module")
def deblur():
    return _load("deblur")


def test_deblur_recovers_a_sharper_image_and_saves_a_plot(deblur, tmp_path):
    out = tmp_path / "deblur.png"
    result = deblur.main(size=32, n_steps=80, plot_path=out, verbose=False)
    assert result["errors"]["recovered"] < 0.6 * result["errors"]["blurred"]
    assert result["losses"][-1] < result["losses"][0] / 3
    assert out.stat().st_size > 10_000


def test_deblur_loss_gradient_matches_finite_differences(deblur):
    rng = np.random.default_rng(3)
    estimate, observed = rng.uniform(size=(6, 7)), rng.uniform(size=(6, 7))
    check_grad(deblur.loss, estimate, observed, argnums=0)


@pytest.fixture(scope="module")
def lotka():
    return _load("lotka_volterra_fit")


def test_lotka_volterra_fit_through_solve_ivp_decreases_the_loss_and_plots(lotka, tmp_path):
    out = tmp_path / "lv.png"
    result = lotka.main(n_obs=8, maxiter=3, rtol=1e-4, plot_path=out, verbose=False)
    assert min(result["losses"]) < result["losses"][0] / 3
    assert out.stat().st_size > 10_000


def test_lotka_volterra_gradient_matches_finite_differences(lotka):
    t_obs = np.linspace(1.0, 4.0, 3)
    data = lotka.simulate(np.log(lotka.TRUE), t_obs, 1e-9) + 0.1
    theta = np.log(np.array([0.9, 0.5, 0.7, 0.35]))
    g = nd.grad(lotka.loss)(theta, t_obs, data, 1e-9)
    h = 1e-6
    fd = [
        (
            lotka.loss(theta + h * e, t_obs, data, 1e-9)
            - lotka.loss(theta - h * e, t_obs, data, 1e-9)
        )
        / (2 * h)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def gp():
    return _load("gaussian_process")


def test_gaussian_process_fit_raises_the_likelihood_and_plots(gp, tmp_path):
    out = tmp_path / "gp.png"
    result = gp.main(n=25, plot_path=out, verbose=False)
    assert result["success"]
    assert result["fd_error"] < 1e-6
    assert result["value"] < result["start_value"] - 5
    assert out.stat().st_size > 10_000


def test_gaussian_process_likelihood_gradient_matches_finite_differences(gp):
    x, y = gp.make_data(8, np.random.default_rng(5))
    check_grad(gp.neg_log_lik, np.log(np.array([0.8, 1.5, 0.3])), x, y, argnums=0, order=2)


def test_gaussian_process_likelihood_and_gradient_match_scikit_learn(gp):
    # scikit-learn's own likelihood and analytic gradient, in its parametrisation:
    # log(signal^2), log(length scale), log(noise^2)
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    x, y = gp.make_data(20, np.random.default_rng(6))
    theta = np.log(np.array([0.8, 1.5, 0.3]))
    kernel = ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(1.0)
    model = GaussianProcessRegressor(kernel, alpha=gp.JITTER, optimizer=None).fit(x, y)
    sk_value, sk_grad = model.log_marginal_likelihood(theta * [2, 1, 2], eval_gradient=True)
    value, grad = nd.value_and_grad(gp.neg_log_lik)(theta, x, y)
    np.testing.assert_allclose(value, -sk_value, rtol=1e-10)
    np.testing.assert_allclose(grad, -sk_grad * [2, 1, 2], rtol=1e-8)


@pytest.fixture(scope="module")
def bilevel():
    return _load("bilevel_ridge")


def test_bilevel_ridge_finds_the_best_penalty_and_plots(bilevel, tmp_path):
    out = tmp_path / "ridge.png"
    result = bilevel.main(steps=12, plot_path=out, verbose=False)
    assert result["success"] and result["gradient_error"] < 1e-4
    assert result["penalty"] == pytest.approx(result["best_on_grid"], rel=0.1)
    assert result["losses"][-1] < result["losses"][0] * 0.7
    assert out.stat().st_size > 10_000


def test_bilevel_ridge_hypergradient_matches_finite_differences_of_the_same_solver(bilevel):
    data = bilevel.make_data(1)
    g = nd.grad(bilevel.validation_loss)(0.3, data)
    h = 1e-3  # the inner BFGS stops at gtol 1e-6: a smaller step would difference its noise
    fd = (bilevel.validation_loss(0.3 + h, data) - bilevel.validation_loss(0.3 - h, data)) / (2 * h)
    assert g == pytest.approx(fd, rel=1e-4)
