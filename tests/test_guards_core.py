"""The compiled memory guards (``_core``: ``Guard``, ``Hold``, ``guard_saved``, ``guard_plain``):
references, the state they share with ``_graph``, their failure paths and their arguments. What
the guards protect against (writes by every route) is tested in test_mutation and
test_saved_fingerprint."""

import subprocess
import sys

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import _core, _graph

N = 4096  # float64: 32 kB, above COPY_BYTES, so saved as is and guarded


def _free(*arrays):
    """Whether no guard counts any of ``arrays`` or the owners of their memory (other tests'
    live graphs may hold entries of their own)."""
    keys = {id(a) for a in arrays} | {id(_core.memory_owner(np.asarray(a))) for a in arrays}
    keys |= {id(_core.memory_owner(a)) for a in arrays}
    return not keys & (_graph.LOCKS.keys() | _graph.GUARDED.keys())


def test_saving_and_freeing_gives_back_every_reference_and_flag():
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    c = np.linspace(1.0, 2.0, N)
    base = (sys.getrefcount(x), sys.getrefcount(c))
    y = np.sum(np.exp(x) * c * x)  # x guarded (GradArray), c guarded (plain), exp(x) fresh
    assert not x.flags.writeable and not c.flags.writeable
    assert not _free(x) and not _free(c)
    y.backward()
    np.testing.assert_allclose(x.grad, np.exp(x.values) * c.copy() * (1 + x.values))
    del y
    assert x.flags.writeable and c.flags.writeable
    assert _free(x, c)
    assert (sys.getrefcount(x), sys.getrefcount(c)) == base


def test_a_hold_dropped_while_an_exception_is_handled_keeps_it():
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    c = np.linspace(1.0, 2.0, N)
    y = np.sum(x * c)
    try:
        raise KeyError("kept")
    except KeyError:
        del y  # the holds go here, and take the lock
        assert sys.exc_info()[0] is KeyError
    assert c.flags.writeable and _free(x, c)


@pytest.mark.parametrize("operand", ["plain", "gradarray"])
def test_a_failed_fingerprint_leaves_nothing_locked(monkeypatch, operand):
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    other = np.linspace(1.0, 2.0, N)
    if operand == "gradarray":  # saved by the multiply, not made by it: fingerprinted
        other = nd.GradArray(other)

    def broken(a):
        raise RuntimeError("fingerprint failed")

    monkeypatch.setattr(_graph, "fingerprint", broken)
    with pytest.raises(RuntimeError, match="fingerprint failed"):
        x * other
    monkeypatch.undo()
    assert other.flags.writeable and x.flags.writeable
    assert _free(x, other)
    y = np.sum(x * other)  # and the next save works
    y.backward()
    np.testing.assert_allclose(x.grad, np.asarray(other).copy())


def test_the_guard_of_a_gradarray_is_shared_by_its_saves_and_answers_for_its_arrays():
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    y1, y2 = np.sin(x), x * x  # sin saves x, the multiply saves it twice: one guard
    guard = x._version[1]()
    assert isinstance(guard, _core.Guard)
    assert guard() is x and guard.holds(x) and guard.first
    assert guard.users == 3 and guard.snapshot is None
    view = x[:10]  # made while x is guarded: read-only, and adopted so that it comes back
    assert not view.flags.writeable and guard.holds(view)
    assert not guard.holds(nd.GradArray(np.ones(3)))
    del y1
    assert guard.users == 2 and not x.flags.writeable
    del y2
    assert guard.snapshot is not None and _free(x)
    assert x.flags.writeable and view.flags.writeable


def test_a_write_ndgrad_sees_keeps_the_old_values_and_releases_the_guard():
    x = nd.GradArray(np.linspace(0.1, 1.0, N), requires_grad=True)
    h = x * 1.0
    y = np.sum(np.sin(h))  # sin saves h
    guard = h._version[1]()
    old = h.values.copy()
    h += 1.0  # recorded: the node gets a copy of the old h, the memory is writable again
    assert guard.snapshot and h.flags.writeable and _free(h)
    y.backward()
    np.testing.assert_allclose(x.grad, np.cos(old))


@pytest.mark.parametrize(
    "call",
    [
        lambda: _core.guard_saved(np.ones(3), np.ones(3)),
        lambda: _core.guard_saved(nd.GradArray(np.ones(3)), [1.0]),
        lambda: _core.guard_saved(nd.GradArray(np.ones(3))),
        lambda: _core.guard_plain([1.0, 2.0]),
        lambda: _core.restore_guard(object()),
        lambda: _core.restore_guard(_core.guard_plain(np.ones(3)).guard, [1]),
        lambda: _core.memory_owner([1.0]),
        lambda: _core.guard_plain(np.ones(3)).guard(1),
        lambda: _core.guard_plain(np.ones(3)).guard.adopt([1.0]),
        lambda: _core.Guard(),
        lambda: _core.Hold(),
    ],
)
def test_wrong_arguments_are_refused(call):
    with pytest.raises(TypeError):
        call()


def test_memory_owner_follows_the_chain_of_bases():
    a = np.arange(24.0)
    v = a.reshape(4, 6)[1:, ::2].T
    assert _core.memory_owner(v) is a and _graph.memory_owner(a) is a


def _of_bytes(flat):
    return _core.fingerprint_bytes(
        flat.view(np.uint8), _core.FINGERPRINT_ROWS, _core.FINGERPRINT_MAX_ROW
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.complex128])
def test_fingerprint_reads_an_arrays_bytes_in_memory_order_broadcast_axes_once(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((60, 70)) * 100).astype(dtype)
    same = np.testing.assert_array_equal
    same(_core.fingerprint(a), _of_bytes(a.reshape(-1)))  # C order
    same(_core.fingerprint(a.T), _of_bytes(a.reshape(-1)))  # Fortran order: the same bytes
    same(_core.fingerprint(a[:, ::3]), _of_bytes(a[:, ::3].copy().reshape(-1)))  # a C copy
    row = a[0].copy()
    same(_core.fingerprint(np.broadcast_to(row, (40, 70))), _core.fingerprint(row))
    same(_core.fingerprint(np.broadcast_to(a[:, :1], (60, 9))), _of_bytes(a[:, 0].copy()))
    same(_core.fingerprint(nd.GradArray(a)), _core.fingerprint(a))
    same(_core.fingerprint(nd.GradArray(a)[:, ::3]), _core.fingerprint(a[:, ::3]))
    assert _core.fingerprint(a[:0]) is None
    assert _core.fingerprint(np.array([1, None], dtype=object)) is None
    assert _graph.fingerprint is _core.fingerprint
    with pytest.raises(TypeError):
        _core.fingerprint([1.0, 2.0])


def test_the_guards_refuse_use_before_they_are_configured():
    # The compiled module loaded alone, in a process that never imports ndgrad (whose import
    # registers the lock and tables): its guards raise rather than read a NULL table.
    code = """
import importlib.machinery, importlib.util, sys
import numpy as np
loader = importlib.machinery.ExtensionFileLoader("_core", sys.argv[1])
core = importlib.util.module_from_spec(importlib.util.spec_from_loader("_core", loader))
loader.exec_module(core)
assert "ndgrad" not in sys.modules
a = np.ones(3)
for call in (lambda: core.guard_plain(a), lambda: core.guard_saved(a, a)):
    try:
        call()
    except RuntimeError as error:
        print(error)
"""
    done = subprocess.run(
        [sys.executable, "-c", code, _core.__file__], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["the guards are used before configure_guards()"] * 2
