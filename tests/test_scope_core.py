"""The compiled entry and exit of nd.tracing (``_core.Scope``): the count of open scopes, the
swap of numpy's class, the plan of rebound names, and their use from several threads."""

from __future__ import annotations

import contextvars
import sys
import threading
import types

import numpy as np
import pytest

import ndgrad as nd
from ndgrad import GradArray
from ndgrad._core import open_scopes
from ndgrad.tracing import _ORIGINALS, restore_numpy

from ._helpers import race

T = sys.modules["ndgrad.tracing"]  # the module (ndgrad.tracing is also the class's name)


def _fresh_library(name: str) -> types.ModuleType:
    """A module, as a library imported after the last scope would be: it binds NumPy's
    ``asarray`` as a global (``from numpy import asarray``)."""
    module = types.ModuleType(name)
    module.asarray = _ORIGINALS["asarray"]  # type: ignore[attr-defined]
    sys.modules[name] = module
    return module


@pytest.fixture
def library():
    made: list[str] = []

    def make() -> types.ModuleType:
        name = f"_ndgrad_test_library_{len(made)}_{id(made)}"
        made.append(name)
        return _fresh_library(name)

    yield make
    for name in made:
        sys.modules.pop(name, None)


def test_the_count_and_the_class_follow_the_scopes():
    assert open_scopes() == 0 and type(np) is types.ModuleType
    with nd.tracing():
        assert open_scopes() == 1 and type(np) is not types.ModuleType
        with nd.tracing():
            assert open_scopes() == 2 and nd.is_tracing()
        assert open_scopes() == 1 and type(np) is not types.ModuleType
    assert open_scopes() == 0 and type(np) is types.ModuleType and not nd.is_tracing()


def test_a_scope_object_cannot_be_opened_twice_or_closed_unopened():
    scope = nd.tracing()
    with pytest.raises(RuntimeError, match="not open"):
        scope.__exit__(None, None, None)
    with scope:
        with pytest.raises(RuntimeError, match="already open"):
            scope.__enter__()
        assert open_scopes() == 1
    assert open_scopes() == 0 and type(np) is types.ModuleType
    with scope:  # once closed, it may be used again
        assert nd.is_tracing()
    assert not nd.is_tracing()


def test_a_scope_left_in_another_context_raises_and_is_still_closed():
    scope = nd.tracing()
    contextvars.copy_context().run(scope.__enter__)
    assert open_scopes() == 1 and not nd.is_tracing()  # the depth is the other context's
    with pytest.raises(ValueError, match=r"[Cc]ontext"):
        scope.__exit__(None, None, None)
    assert open_scopes() == 0 and type(np) is types.ModuleType


def test_a_library_imported_between_scopes_is_rebound_by_the_next(library):
    x = GradArray([1.0, 2.0], requires_grad=True)
    with nd.tracing():
        pass
    module = library()  # len(sys.modules) changed: the plan is stale
    with nd.tracing():
        assert type(module.asarray(x)) is GradArray
    assert type(module.asarray(x)) is np.ndarray  # outside a scope: NumPy's behaviour


def test_numpys_class_changed_by_someone_else_is_the_one_a_scope_extends():
    class LazyModule(types.ModuleType):  # as a lazy loader may make numpy's class
        pass

    x = GradArray([1.0, 2.0], requires_grad=True)
    np.__class__ = LazyModule
    try:
        with nd.tracing():
            assert isinstance(np, LazyModule) and type(np) is not LazyModule
            assert type(np.asarray(x)) is GradArray
        assert type(np) is LazyModule
    finally:
        np.__class__ = types.ModuleType
    with nd.tracing():
        assert type(np.asarray(x)) is GradArray
    assert type(np) is types.ModuleType


def test_restore_numpy_while_scopes_open_in_other_threads_never_breaks_them(library):
    """restore_numpy puts NumPy's functions back into the libraries; a scope that opens while
    it runs must rebind them (the plan is forgotten in the same step that finds no scope open),
    and it must never run while one is open."""
    module = library()
    x = GradArray([1.0, 2.0], requires_grad=True)
    failures: list[str] = []
    refused = [0]
    stop = threading.Event()

    def restorer():
        while not stop.is_set():
            try:
                restore_numpy()
            except RuntimeError:
                refused[0] += 1

    def opener():
        for _ in range(1500):
            with nd.tracing():
                if type(module.asarray(x)) is not GradArray:
                    failures.append("a library's converter was NumPy's inside a scope")
                if type(np.asarray(x)) is not GradArray:
                    failures.append("numpy's converter was NumPy's inside a scope")

    thread = threading.Thread(target=restorer)
    thread.start()
    try:
        race(opener, threads=3)
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:3]
    assert open_scopes() == 0 and type(np) is types.ModuleType
    assert T._numpy_swap[0] is types.ModuleType  # never a subclass of the scoped class


def test_the_first_scopes_of_many_threads_prepare_once_and_all_see_theirs(library):
    """Every round makes the plan stale (a library imported), then four threads open their
    first scope at once: one prepares, the others wait for it or find its plan."""
    x = GradArray([1.0, 2.0], requires_grad=True)
    failures: list[str] = []
    rounds = 120
    barrier = threading.Barrier(4)
    modules = [library() for _ in range(rounds)]

    first: list[threading.Thread] = []
    lock = threading.Lock()

    def work():
        with lock:
            first.append(threading.current_thread())
        for k in range(rounds):
            barrier.wait()
            with nd.tracing():
                if type(modules[k].asarray(x)) is not GradArray:
                    failures.append(f"round {k}: the new library was not rebound")
                if type(np.asarray(x)) is not GradArray:
                    failures.append(f"round {k}: numpy not swapped")
            barrier.wait()
            if threading.current_thread() is first[0]:  # stale again, between rounds
                _fresh_library(f"{modules[k].__name__}_more")

    race(work)  # (switching as often as it can, so that the preparation is interrupted)
    for k in range(rounds):
        sys.modules.pop(f"{modules[k].__name__}_more", None)
    assert not failures, failures[:3]
    assert open_scopes() == 0 and type(np) is types.ModuleType
    assert T._numpy_swap[0] is types.ModuleType


def test_an_error_the_block_hides_is_raised_by_the_compiled_exit():
    x = GradArray([1.0, 2.0], requires_grad=True)

    def hides():
        try:
            float(np.sum(x))
        except Exception:
            return None

    with pytest.raises(nd.GraphBreakError, match="float"):
        with nd.tracing():
            hides()
    assert open_scopes() == 0 and not nd.is_tracing()
    with nd.tracing():  # raised once: the next scope starts with nothing collected
        pass
    # an error that replaces it is replaced by it, with a note that says so
    with pytest.raises(nd.GraphBreakError) as info:
        with nd.tracing():
            try:
                float(np.sum(x))
            except nd.GraphBreakError:
                raise KeyError("a library's own error") from None
    assert "KeyError" in "".join(getattr(info.value, "__notes__", []))
    assert open_scopes() == 0


# --- ArraysFirst: np.sum and its kind in scopes --------------------------------------------------


def test_a_list_given_by_keyword_or_in_a_later_parameter_is_recorded():
    v = np.array([0.3, -1.2])

    def by_keyword(x):
        return np.sum(a=[x[0] * x[1], x[1]])  # the array parameter, by keyword

    def second(x):
        return np.dot(x, [x[1], x[0]])  # the list in dot's second array parameter: 2 x0 x1

    g = nd.grad(by_keyword)(v)
    np.testing.assert_allclose(g, [v[1], v[0] + 1.0], rtol=1e-12)
    g = nd.grad(second)(v)
    np.testing.assert_allclose(g, [2 * v[1], 2 * v[0]], rtol=1e-12)


def test_the_replacement_looks_and_binds_like_numpys_function():
    import inspect

    with nd.tracing():
        replaced = np.sum
    assert replaced is not _ORIGINALS["sum"]
    assert replaced.__ndgrad_original__ is _ORIGINALS["sum"]
    assert replaced.__wrapped__ is _ORIGINALS["sum"]
    assert replaced.__name__ == "sum" and replaced.__doc__ == _ORIGINALS["sum"].__doc__
    assert inspect.signature(replaced) == inspect.signature(_ORIGINALS["sum"])

    class Holder:
        total = replaced  # bound as a method, as a Python function (and NumPy's) is

    holder = Holder()
    bound = holder.total
    assert bound.__func__ is replaced and bound.__self__ is holder
    assert Holder.total is replaced
    # outside a scope, a list of GradArrays goes to NumPy, which converts it (as NumPy does)
    x = GradArray([1.0, 2.0], requires_grad=True)
    assert type(replaced([x, x])) is np.float64
    assert replaced(np.arange(4.0)) == 6.0


def test_the_compiled_scope_and_replacement_keep_no_references():
    import gc

    from ndgrad._core import zero_filled

    x = GradArray([1.0, 2.0], requires_grad=True)
    plain = np.zeros(3)
    original = _ORIGINALS["sum"]

    def rounds(n):
        for _ in range(n):
            with nd.tracing():
                np.sum([x, x])  # the general route
                np.sum(a=[x, x])
                np.sum(plain)  # straight to NumPy
                np.dot(plain, b=plain)
            with pytest.raises(ZeroDivisionError), nd.tracing():
                1 / 0  # noqa: B018
            with pytest.raises(nd.GraphBreakError), nd.tracing():
                try:
                    float(np.sum(x))
                except nd.GraphBreakError:
                    raise KeyError("hidden") from None
            zero_filled(plain)
            zero_filled(plain[::2])

    rounds(50)
    gc.collect()
    before = [sys.getrefcount(o) for o in (x, plain, original)]
    tracked = len(gc.get_objects())
    rounds(500)
    gc.collect()
    assert [sys.getrefcount(o) for o in (x, plain, original)] == before
    assert len(gc.get_objects()) - tracked <= 10


def test_a_scope_never_left_in_a_reference_cycle_is_collected():
    # A scope's tokens hold the context, which holds the errors it collected, whose tracebacks
    # hold the frame that holds the scope. Run apart: the scope stays counted as open.
    import subprocess
    import textwrap

    code = textwrap.dedent(
        """
        import contextvars, gc, weakref
        import numpy as np
        import ndgrad as nd

        class Sentinel:
            pass

        refs = []

        def never_left():
            scope = nd.tracing()
            scope.__enter__()
            sentinel = Sentinel()
            refs.append(weakref.ref(sentinel))
            try:
                float(np.sum(nd.GradArray([1.0], requires_grad=True)))
            except nd.GraphBreakError:
                pass  # noted in the scope's list, its traceback holding this frame

        for _ in range(3):
            contextvars.copy_context().run(never_left)  # a context dropped afterwards
        gc.collect()
        print(sum(r() is not None for r in refs))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "0", out.stdout + out.stderr
