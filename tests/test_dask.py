"""examples/dask_logistic.py on a two-process LocalCluster: chunk gradients summed on Dask equal
the single-process gradient, and the fit recovers the model."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dask_logistic.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("dask_logistic", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        client.upload_file(str(EXAMPLE))  # the workers import the example's functions from it
        yield client


def test_distributed_fit_matches_the_single_process_fit(example, client, tmp_path):
    out = tmp_path / "loss.png"
    result = example.main(
        n_samples=4_000, n_features=4, chunk_rows=1_000, steps=8, client=client, plot_path=out
    )
    assert len(result["losses"]) == 8
    np.testing.assert_allclose(result["losses"], result["single_process_losses"], rtol=1e-12)
    for k in ("w", "b"):
        np.testing.assert_allclose(
            result["params"][k], result["single_process_params"][k], rtol=1e-10, atol=1e-12
        )
    assert result["losses"][-1] < result["losses"][0]
    assert np.all(np.sign(result["params"]["w"]) == np.sign(result["true_w"]))
    assert out.stat().st_size > 10_000


def test_chunk_gradients_sum_to_the_whole_gradient(example):
    import ndgrad as nd

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 4)), (rng.random(30) < 0.5).astype(float)
    params = {"w": rng.standard_normal(4), "b": 0.3}
    parts = [
        example.chunk_value_and_grad(params, x[i : i + 10], y[i : i + 10], 30) for i in (0, 10, 20)
    ]
    loss, grads = example.add(parts)
    ref_loss, ref_grads = nd.value_and_grad(example.chunk_loss)(params, x, y, 30)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], ref_grads[k], rtol=1e-12)
