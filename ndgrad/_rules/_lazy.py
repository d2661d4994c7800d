"""Run a registration right after a module is imported, without importing it ourselves.

``import ndgrad`` must not import SciPy. :func:`after_import` calls ``callback(module)`` at once
if the module is already imported; otherwise a finder on ``sys.meta_path`` waits for it, lets
the normal machinery load it, and calls the callback right after the module has executed. That
runs under the import lock, before ``import scipy.linalg`` returns, so no code can call a SciPy
function before its wrapper or rule is in place, whatever thread or module imports SciPy first.
"""

from __future__ import annotations

import importlib.abc
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["after_import", "pending_modules"]

_pending: dict[str, list[Callable[[Any], None]]] = {}


def after_import(module_name: str, callback: Callable[[Any], None]) -> None:
    """Call ``callback(module)`` once ``module_name`` is imported (now, if it already is)."""
    module = sys.modules.get(module_name)
    if module is not None:
        callback(module)
        return
    _pending.setdefault(module_name, []).append(callback)
    if not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())


def pending_modules() -> list[str]:
    """The modules whose registrations still wait for their import."""
    return list(_pending)


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: wraps the loader of a pending module to run its callbacks."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in _pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_register(module: Any) -> None:
            exec_module(module)
            for callback in _pending.pop(fullname, []):
                callback(module)
            if not _pending and self in sys.meta_path:
                sys.meta_path.remove(self)

        # An attribute of this loader instance only (one per found spec): the module keeps its
        # real loader, so get_source, reload and pickling behave as without ndgrad.
        loader.exec_module = exec_then_register
        return spec
