"""Grad mode: no_grad / enable_grad, as context managers and decorators, per thread and task."""

from __future__ import annotations

import asyncio
import threading

import numpy as np

import ndgrad as nd
from ndgrad import GradArray


def test_no_grad_stops_recording():
    x = GradArray([1.0, 2.0], requires_grad=True)
    with nd.no_grad():
        y = x * 2
    assert not y.requires_grad and isinstance(y, GradArray)
    assert nd.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = GradArray([1.0], requires_grad=True)
    with nd.no_grad():
        with nd.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_decorators():
    x = GradArray([1.0], requires_grad=True)

    @nd.no_grad()
    def off(a):
        return a * 2

    @nd.enable_grad()
    def on(a):
        return a * 2

    assert not off(x).requires_grad
    with nd.no_grad():
        assert on(x).requires_grad


def test_mode_restored_after_exception():
    try:
        with nd.no_grad():
            raise KeyError
    except KeyError:
        pass
    assert nd.is_grad_enabled()


def test_set_grad_enabled():
    with nd.set_grad_enabled(False):
        assert not nd.is_grad_enabled()
    assert nd.is_grad_enabled()


def test_no_grad_in_one_thread_does_not_affect_another():
    x = GradArray(np.arange(3.0), requires_grad=True)
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def quiet():
        with nd.no_grad():
            inside.set()
            checked.wait(10)
            seen["quiet"] = (x * 2).requires_grad

    t = threading.Thread(target=quiet)
    t.start()
    inside.wait(10)
    seen["main"] = (x * 2).requires_grad
    checked.set()
    t.join(10)
    assert seen == {"main": True, "quiet": False}


def test_threads_build_independent_graphs():
    results = {}

    def work(k):
        x = GradArray(np.full(4, float(k)), requires_grad=True)
        for _ in range(50):
            np.sum(np.sin(x) * x).backward()
        results[k] = x.grad

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for k in range(4):
        x = np.full(4, float(k))
        np.testing.assert_allclose(results[k], 50 * (np.cos(x) * x + np.sin(x)))


def test_grad_mode_is_per_async_task():
    async def quiet(evt_in, evt_out):
        with nd.no_grad():
            evt_in.set()
            await evt_out.wait()
            return nd.is_grad_enabled()

    async def loud(evt_in, evt_out):
        await evt_in.wait()
        enabled = nd.is_grad_enabled()
        evt_out.set()
        return enabled

    async def main():
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(quiet(a, b), loud(a, b))

    assert asyncio.run(main()) == [False, True]
