"""numpy.fft gradients against closed forms (Parseval, inverse pairs, shifts).

The systematic test (test_rules.py) checks every rule against finite differences for every
``norm=`` mode, padding and truncation; this file checks identities that pin the scale factors.
"""

from __future__ import annotations

import numpy as np
import pytest

import ndgrad as nd
from ndgrad._registry import VJP_RULES
from ndgrad.testing import check_grad

rng = np.random.default_rng(11)


@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
def test_fft_energy_gradient_follows_parseval(norm):
    # sum |fft(x)|^2 = c * sum |x|^2 with c = n, 1, 1/n for backward, ortho, forward.
    x = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    c = {None: 6.0, "backward": 6.0, "ortho": 1.0, "forward": 1 / 6}[norm]
    g = nd.grad(lambda z: np.sum(np.abs(np.fft.fft(z, norm=norm)) ** 2))(x)
    np.testing.assert_allclose(g, 2 * c * x, rtol=1e-10)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
def test_ifftn_energy_gradient_follows_parseval(norm):
    x = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    c = {None: 1 / 6, "ortho": 1.0, "forward": 6.0}[norm]
    g = nd.grad(lambda z: np.sum(np.abs(np.fft.ifftn(z, norm=norm)) ** 2))(x)
    np.testing.assert_allclose(g, 2 * c * x, rtol=1e-10)


@pytest.mark.parametrize("n", [5, 6])
def test_rfft_gradient_equals_fft_half_spectrum_gradient(n):
    x = rng.standard_normal(n)
    w = rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1)

    def via_rfft(v):
        return np.sum(np.real(np.conj(w) * np.fft.rfft(v)))

    def via_fft(v):
        return np.sum(np.real(np.conj(w) * np.fft.fft(v)[: n // 2 + 1]))

    np.testing.assert_allclose(nd.grad(via_rfft)(x), nd.grad(via_fft)(x), rtol=1e-10)


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("n", [5, 6])
def test_irfft_of_rfft_is_identity_for_gradients(norm, n):
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    g = nd.grad(lambda v: np.sum(w * np.fft.irfft(np.fft.rfft(v, norm=norm), n, norm=norm)))(x)
    np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_irfftn_of_rfftn_is_identity_for_gradients():
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g = nd.grad(lambda v: np.sum(w * np.fft.irfftn(np.fft.rfftn(v), v.shape, axes=(0, 1))))(x)
    np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_hfft_matches_irfft_of_conjugate():
    a = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    w = rng.standard_normal(6)
    g1 = nd.grad(lambda z: np.sum(w * np.fft.hfft(z)))(a)
    g2 = nd.grad(lambda z: np.sum(w * np.fft.irfft(np.conj(z), norm="forward")))(a)
    np.testing.assert_allclose(g1, g2, rtol=1e-10)


def test_fftshift_gradient_is_inverse_shift():
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g = nd.grad(lambda v: np.sum(w * np.fft.fftshift(v)))(x)
    np.testing.assert_allclose(g, np.fft.ifftshift(w))


def test_padding_and_truncation_gradients():
    x = rng.standard_normal(4)
    # zero-padding: the padded tail gets no gradient; truncation: dropped entries get zero
    g_pad = nd.grad(lambda v: np.sum(np.abs(np.fft.fft(v, n=8)) ** 2))(x)
    np.testing.assert_allclose(g_pad, 2 * 8 * x, rtol=1e-10)
    g_cut = nd.grad(lambda v: np.sum(np.abs(np.fft.fft(v, n=2)) ** 2))(x)
    np.testing.assert_allclose(g_cut, np.r_[2 * 2 * x[:2], 0, 0], rtol=1e-10, atol=1e-14)


def test_real_input_gets_real_float32_gradient():
    x = nd.GradArray(rng.standard_normal(8).astype(np.float32), requires_grad=True)
    np.sum(np.abs(np.fft.rfft(x))).backward()
    assert x.grad.dtype == np.float32


def test_fft_rules_keep_only_the_input_shape():
    for f in (np.fft.fft, np.fft.rfft, np.fft.irfftn, np.fft.hfft, np.fft.fft2):
        prim = VJP_RULES[f]
        assert 0 not in prim.saves and 0 in prim.meta and not prim.saves_ans


def test_third_order_through_fft():
    check_grad(lambda v: nd.grad(lambda u: np.sum(np.abs(np.fft.rfft(u)) ** 3))(v),
               rng.standard_normal(5), order=2)  # fmt: skip


def test_jvp_of_a_transform_is_the_transform_of_the_tangent():
    x, dx = rng.standard_normal(6), rng.standard_normal(6)
    _, t = nd.jvp(np.fft.rfft, (x,), (dx,))
    np.testing.assert_allclose(t, np.fft.rfft(dx), rtol=1e-10, atol=1e-12)
    z, dz = rng.standard_normal((2, 3)) + 0j, rng.standard_normal((2, 3)) + 1j
    _, t = nd.jvp(lambda v: np.fft.ifft2(v, norm="ortho"), (z,), (dz,))
    np.testing.assert_allclose(t, np.fft.ifft2(dz, norm="ortho"), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["fft", "rfft", "ihfft", "fftshift", "fftn"])
def test_scipy_fft_takes_a_list_holding_gradarrays(name):
    # scipy.fft reads x as array_like: a list of parameters and numbers raised AttributeError
    # ('list' has no 'shape') in the rule; it is now one stacked array before the call
    sf = pytest.importorskip("scipy.fft")

    def f(p):
        return np.abs(getattr(sf, name)([p[0], p[1], p[2], 0.5])) ** 2

    check_grad(f, np.array([0.7, 1.3, 0.4]), order=2)
