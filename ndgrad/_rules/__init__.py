"""Gradient rules, one module per chapter of NumPy's reference; importing fills the tables.

Every module here is imported. The classification modules (``no_gradient``, ``traced``,
``unsupported``) come first, so that a rule registered by a chapter module wins over a
classification of the same function; ``scipy_functions``, which classifies the SciPy callables
that no ``scipy_*`` module gave a rule, comes last for the same reason.
"""

import importlib
import pkgutil

_FIRST = ("unsupported", "no_gradient", "traced")

_names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
_LAST = "scipy_functions"
for _name in sorted(
    _names,
    key=lambda n: (n == _LAST, n not in _FIRST, _FIRST.index(n) if n in _FIRST else 0, n),
):
    importlib.import_module(f"{__name__}.{_name}")
