"""The test cases of every registered rule, one module per rules module, merged here."""

from __future__ import annotations

import importlib
import pkgutil

from ._case import Case

CASES: dict[object, Case] = {}
for _info in pkgutil.iter_modules(__path__):
    if not _info.name.startswith("_"):
        CASES.update(importlib.import_module(f"{__name__}.{_info.name}").CASES)
