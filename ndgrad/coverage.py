"""How much of NumPy ndgrad covers: ``python -m ndgrad.coverage``.

The surface is enumerated from NumPy itself, so that a NumPy upgrade which adds a function shows
up as *unclassified* instead of silently losing gradients:

- every function that dispatches through ``__array_function__``
  (``numpy.testing.overrides.get_overridable_numpy_array_functions()``, after importing the
  submodules that register such functions: ``numpy.fft``, ``numpy.linalg``, ``numpy.strings``,
  ``numpy.char``, ``numpy.polynomial``, ``numpy.lib.recfunctions``, ...);
- every ``np.ufunc`` in the ``numpy`` namespace, and the ufunc methods that have rules
  (``numpy.add.reduce``);
- the public functions of ``numpy.fft`` and ``numpy.linalg``;
- every public method and property of ``np.ndarray`` (names without a leading underscore), and
  indexing (``ndarray.__getitem__``, ``ndarray.__setitem__``).

Each callable is counted once (``np.abs`` is ``np.absolute``; the private ``like=`` twin of
``np.ones`` is counted with ``np.ones``) and lands in one class, read from the dispatch tables
in ``ndgrad._registry`` and, for ndarray methods, the tables in ``ndgrad._methods``:

``differentiable``  a registered rule (``VJP_RULES``), or NumPy's code traced (``TRACED_THROUGH``);
``no gradient``     integer, boolean, shape or constant results (``NO_GRADIENT``): plain values;
``raises``          ``NotDifferentiableError`` on an input that requires grad (``UNSUPPORTED``);
``unclassified``    in no table: a bug, and the command exits with status 1.

Forward mode: every function with rules (NumPy's and SciPy's) is listed by how forward mode
treats it (``Primitive.jvp_kind``): a JVP rule, derived from the VJP rule (elementwise), linear,
multilinear, or ``transpose`` (no JVP of its own: its VJP rules are transposed by a small
reverse pass per call, correct and slower). The report names the ``transpose`` ones.

Batched Jacobians: how ``jacfwd`` and ``jacrev`` compute each function with rules for a batch of
directions (``ndgrad._batching.batching``): a batching row, its elementwise rules, or one
direction at a time (always right; slower for many directions). The report counts them.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import textwrap
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import ndgrad
from ndgrad import _methods
from ndgrad._batching import BATCH_KINDS, batching
from ndgrad._registry import JVP_KINDS, NO_GRADIENT, TRACED_THROUGH, UNSUPPORTED, VJP_RULES
from ndgrad._rules import _scipy
from ndgrad._rules.scipy_special import scipy_special_coverage  # empty without SciPy

__all__ = [
    "CLASSES",
    "Entry",
    "Report",
    "batch_coverage",
    "classify",
    "forward_coverage",
    "main",
    "report",
]

CLASSES = ("differentiable", "no gradient", "raises", "unclassified")

# Submodules whose import registers ``__array_function__`` dispatchers, in the order in which
# their public names are preferred when a callable is reachable from several.
_MODULES = (
    "numpy",
    "numpy.linalg",
    "numpy.fft",
    "numpy.emath",
    "numpy.strings",
    "numpy.char",
    "numpy.lib.stride_tricks",
    "numpy.lib.recfunctions",
    "numpy.polynomial.polynomial",
)
# How the report groups callables: by the namespace of their public name.
_GROUPS = {"numpy.emath": "numpy.lib.scimath", "numpy.char": "numpy.strings"}


@dataclass(frozen=True)
class Entry:
    """One NumPy callable and how ndgrad treats it.

    Attributes
    ----------
    name : str
        Its public name, e.g. ``numpy.linalg.inv``, ``numpy.add.reduce``, ``ndarray.sum``.
    module : str
        The group it is counted in: ``numpy``, ``numpy.linalg``, ``numpy.fft``, ``ufunc``,
        ``ufunc method``, ``ndarray``, ...
    status : str
        One of ``CLASSES``.
    how : str
        Detail: ``rule``, ``traced``, ``method``, the reason it raises, ...
    """

    name: str
    module: str
    status: str
    how: str = ""


def _import_surface() -> None:
    for name in _MODULES[1:]:
        importlib.import_module(name.replace("numpy.emath", "numpy.lib.scimath"))


def _public_names() -> dict[int, str]:
    """``id(callable) -> public name``, preferring the name NumPy itself gives (not an alias)."""
    names: dict[int, str] = {}
    for modname in _MODULES:
        module = np if modname == "numpy" else _resolve(modname)
        items = sorted(vars(module).items(), key=lambda kv: kv[0] != getattr(kv[1], "__name__", 0))
        for attr, obj in items:
            if not attr.startswith("_") and callable(obj):
                names.setdefault(id(obj), f"{modname}.{attr}")
    return names


def _resolve(dotted: str) -> Any:
    obj: Any = np
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part)
    return obj


def classify(key: Hashable) -> tuple[str, str]:
    """The class of a NumPy function, ufunc or ``(ufunc, method)`` and a detail.

    Parameters
    ----------
    key : callable or tuple
        As the dispatch tables key it: ``np.sum``, ``np.add``, ``(np.add, "reduce")``.

    Returns
    -------
    status : str
        One of ``CLASSES``.
    how : str
        ``rule`` or ``traced`` for differentiable ones, the reason for ones that raise.

    Examples
    --------
    >>> import numpy as np
    >>> from ndgrad.coverage import classify
    >>> classify(np.exp)
    ('differentiable', 'rule')
    >>> classify(np.argmax)
    ('no gradient', '')
    >>> classify(np.unique)
    ('raises', 'set operation')
    """
    if key in VJP_RULES:
        return "differentiable", "rule"
    if key in TRACED_THROUGH:
        return "differentiable", "traced"
    if key in NO_GRADIENT:
        return "no gradient", ""
    if key in UNSUPPORTED:
        return "raises", UNSUPPORTED[key]
    return "unclassified", ""


def _method_tables() -> dict[str, tuple[str, str]]:
    """``ndarray`` method or property name -> (status, how), from ``ndgrad._methods``."""
    out: dict[str, tuple[str, str]] = {}
    for attr, table in vars(_methods).items():
        if not attr.isupper() or not isinstance(table, (Mapping, tuple, list, set, frozenset)):
            continue
        if "NO_GRADIENT" in attr:
            status: tuple[str, str] = ("no gradient", "")
        elif "CONVERSIONS" in attr:  # Python values; GraphBreakError inside a transform
            status = ("no gradient", "")
        elif "UNSUPPORTED" in attr:
            status = ("raises", "refused while recording")
        elif attr == "AS_FUNCTION":
            continue  # classified like the function it calls, below
        else:
            status = ("differentiable", "method")
        for name in table:
            if isinstance(name, str):
                why = table[name] if isinstance(table, Mapping) else None
                detail = why if status[0] == "raises" and isinstance(why, str) else status[1]
                out.setdefault(name, (status[0], detail))
    for name, func in getattr(_methods, "AS_FUNCTION", {}).items():
        status = classify(func)
        out[name] = status if status[0] == "unclassified" else (status[0], f"as {func.__name__}")
    for name in getattr(_methods, "SPECIAL", {}):
        out.setdefault(name, ("differentiable", "method"))
    return out


def _entries() -> list[Entry]:
    from numpy.testing.overrides import get_overridable_numpy_array_functions

    _import_surface()
    names = _public_names()
    seen: dict[str, Entry] = {}

    def add(key: Any, name: str, module: str) -> None:
        status, how = classify(key)
        if name in seen and status != "unclassified":
            return  # a like= twin: one callable, counted once (unclassified if either is)
        seen[name] = Entry(name, module, status, how)

    for func in get_overridable_numpy_array_functions():
        name = names.get(id(func)) or f"{func.__module__}.{func.__name__}"
        add(func, name, _GROUPS.get(name.rpartition(".")[0], name.rpartition(".")[0]))
    for module in (np.linalg, np.fft):
        for attr, obj in vars(module).items():
            if attr.startswith("_") or isinstance(obj, type) or not callable(obj):
                continue
            if obj is getattr(module, "test", None):
                continue  # numpy's PytestTester
            add(obj, names.get(id(obj), f"{module.__name__}.{attr}"), module.__name__)
    ufuncs = {id(u): u for u in vars(np).values() if isinstance(u, np.ufunc)}
    for ufunc in ufuncs.values():
        add(ufunc, names[id(ufunc)], "ufunc")
    for key in VJP_RULES:
        if isinstance(key, tuple) and id(key[0]) in ufuncs:
            add(key, f"{names[id(key[0])]}.{key[1]}", "ufunc method")
    methods = _method_tables()
    for attr in dir(np.ndarray):
        if not attr.startswith("_"):
            status, how = methods.get(attr, ("unclassified", ""))
            seen[f"ndarray.{attr}"] = Entry(f"ndarray.{attr}", "ndarray", status, how)
    for attr in ("__getitem__", "__setitem__"):  # indexing: x[i] and x[i] = v are recorded
        status, how = classify(getattr(np.ndarray, attr))
        seen[f"ndarray.{attr}"] = Entry(f"ndarray.{attr}", "ndarray", status, how)
    return sorted(seen.values(), key=lambda e: (e.module, e.name.rpartition(".")[2], e.name))


@dataclass(frozen=True)
class Report:
    """The classified surface, with the versions it was made on."""

    ndgrad: str
    numpy: str
    entries: tuple[Entry, ...]
    scipy: dict[str, list[str]] = field(default_factory=dict)  # scipy.special's ufuncs
    # SciPy's other public callables, per submodule and kind (rule, traced, no_gradient,
    # unsupported): see ndgrad/_rules/scipy_functions.py.
    scipy_functions: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # every function with rules, by forward-mode kind (see ``forward_coverage``)
    forward: dict[str, list[str]] = field(default_factory=dict)
    # every function with rules, by how batched Jacobians compute it (``batch_coverage``)
    batched: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def counts(self, entries: Iterable[Entry] | None = None) -> dict[str, int]:
        """How many entries fall in each class."""
        counts = dict.fromkeys(CLASSES, 0)
        for e in self.entries if entries is None else entries:
            counts[e.status] += 1
        return counts

    def modules(self) -> dict[str, list[Entry]]:
        """Entries grouped by module: NumPy's main namespace first."""
        groups: dict[str, list[Entry]] = {}
        for e in self.entries:
            groups.setdefault(e.module, []).append(e)
        order = [m for m in _ORDER if m in groups] + sorted(set(groups) - set(_ORDER))
        return {m: groups[m] for m in order}

    def function_counts(self) -> dict[str, int]:
        """Counts of NumPy's functions, ufuncs and ufunc methods, without ndarray methods.

        This is how peers are compared: HIPS autograd differentiates 139 and MyGrad 67 of them
        on NumPy 2.4.
        """
        return self.counts(e for e in self.entries if e.module != "ndarray")

    @property
    def unclassified(self) -> list[str]:
        """Names that are in no table."""
        return [e.name for e in self.entries if e.status == "unclassified"]

    def summary(self) -> str:
        """The one-line summary the README shows."""
        c = self.counts()
        return (
            f"ndgrad {self.ndgrad} on NumPy {self.numpy}: {c['differentiable']} differentiable, "
            f"{c['no gradient']} no gradient, {c['raises']} raise, "
            f"{c['unclassified']} unclassified"
        )

    def to_json(self) -> dict[str, Any]:
        """Everything, as plain JSON data."""
        return {
            "ndgrad": self.ndgrad,
            "numpy": self.numpy,
            "summary": self.summary(),
            "counts": self.counts(),
            "function_counts": self.function_counts(),
            "modules": {
                m: {"counts": self.counts(es), "entries": [asdict(e) for e in es]}
                for m, es in self.modules().items()
            },
            "scipy.special": self.scipy,
            "scipy": self.scipy_functions,
            "forward mode": self.forward,
            "batched jacobians": self.batched,
        }

    def to_text(self, names: bool = True) -> str:
        """Counts per module, then (with ``names``) the names in each class, then the summary."""
        lines = []
        width = max(len(m) for m in self.modules())
        head = "  ".join(f"{c:>14}" for c in CLASSES)
        lines.append(f"{'module':<{width}}  {head}")
        for m, es in self.modules().items():
            c = self.counts(es)
            lines.append(f"{m:<{width}}  " + "  ".join(f"{c[k]:>14}" for k in CLASSES))
        if not names and any(self.scipy.values()):
            # One row in the same columns (the listing below is for the names).
            c = dict.fromkeys(CLASSES, 0)
            for status, label in _SCIPY_CLASSES.items():
                c[label.split(" (")[0]] += len(self.scipy.get(status, []))
            lines.append(f"{'scipy.special ufuncs':<{width}}  " + "  ".join(
                f"{c[k]:>14}" for k in CLASSES) + "  (not counted in the summary)")  # fmt: skip
        if names:
            for m, es in self.modules().items():
                lines.append("")
                lines.append(f"== {m} ==")
                if m == "ufunc method":
                    lines.append("(listed: those with rules; the others raise on float inputs)")
                for status in CLASSES:
                    chosen = [e for e in es if e.status == status]
                    if chosen:
                        lines.append(f"{status} ({len(chosen)}):")
                        lines.extend(_describe(chosen, by_reason=status == "raises"))
        if names and any(self.scipy.values()):
            lines.append("")
            lines.append("== scipy.special (its ufuncs; not counted in the summary) ==")
            for status, label in _SCIPY_CLASSES.items():
                listed = self.scipy.get(status, [])
                if not listed:  # no empty headers
                    continue
                lines.append(f"{label} ({len(listed)}):")
                if listed:
                    lines.extend(textwrap.wrap(", ".join(listed), 96, initial_indent="  ",
                                               subsequent_indent="    "))  # fmt: skip
        if self.scipy_functions:
            lines.append("")
            if names:
                lines.append("== SciPy's other callables (not counted in the summary) ==")
            kinds = ("rule", "traced", "no_gradient", "unsupported")
            for module, table in self.scipy_functions.items():
                counts = ", ".join(f"{len(table.get(k, []))} {_SCIPY_KINDS[k]}" for k in kinds)
                lines.append(f"{module} (functions and classes): {counts}")
                for kind in kinds if names else ():
                    if table.get(kind):
                        lines.extend(textwrap.wrap(
                            f"{_SCIPY_KINDS[kind]}: " + ", ".join(table[kind]), 96,
                            initial_indent="  ", subsequent_indent="    "))  # fmt: skip
        if self.forward:
            lines.append("")
            if names:
                lines.append("== forward mode (every function with rules, NumPy's and SciPy's) ==")
            lines.append("forward mode: " + ", ".join(
                f"{len(self.forward.get(k, []))} {k}" for k in JVP_KINDS))  # fmt: skip
            transposed = self.forward.get("transpose", [])
            if names and transposed:
                lines.extend(textwrap.wrap(
                    "transposed VJP rules (no JVP of their own): " + ", ".join(transposed), 96,
                    initial_indent="  ", subsequent_indent="    "))  # fmt: skip
        for direction, by_kind in self.batched.items():
            lines.append(f"batched {direction}: " + ", ".join(
                f"{len(by_kind.get(k, []))} {k}" for k in BATCH_KINDS))  # fmt: skip
        f = self.function_counts()
        lines.append("")
        lines.append(
            f"functions and ufuncs alone: {f['differentiable']} differentiable, "
            f"{f['no gradient']} no gradient, {f['raises']} raise"
        )
        lines.append(self.summary())
        return "\n".join(lines)


_SCIPY_KINDS = {
    "rule": "with rules",
    "traced": "traced (NumPy code)",
    "no_gradient": "no gradient",
    "unsupported": "raise",
}

_SCIPY_CLASSES = {
    "rules": "differentiable",
    "no_gradient": "no gradient",
    "raises": "raises (no rule: NotDifferentiableError on an input that requires grad)",
}

_ORDER = (
    "numpy",
    "ufunc",
    "ufunc method",
    "numpy.linalg",
    "numpy.fft",
    "ndarray",
    "numpy.lib.scimath",
    "numpy.strings",
    "numpy.lib.stride_tricks",
    "numpy.lib.recfunctions",
    "numpy.polynomial.polynomial",
)


def _describe(entries: list[Entry], by_reason: bool) -> list[str]:
    """Short names wrapped into indented lines; those that raise grouped by their reason."""
    groups: dict[str, list[str]] = {}
    for e in entries:
        short = e.name if e.module == "ufunc method" else e.name.rpartition(".")[2]
        if not by_reason and e.how == "traced":
            short += " (traced)"
        groups.setdefault(e.how if by_reason else "", []).append(short)
    lines = []
    for why, shorts in groups.items():
        text = ", ".join(shorts)
        if why:
            text = f"[{why}] {text}"
        lines.extend(textwrap.wrap(text, 96, initial_indent="  ", subsequent_indent="    "))
    return lines


def report() -> Report:
    """Classify NumPy's whole surface as it is installed.

    Returns
    -------
    Report
        Its ``summary()`` is the one-line summary, ``unclassified`` the names in no table.

    Examples
    --------
    >>> from ndgrad.coverage import report
    >>> rep = report()
    >>> rep.counts()["differentiable"] > 200
    True
    >>> print(rep.summary())  # doctest: +ELLIPSIS
    ndgrad ... on NumPy ...: ... differentiable, ... no gradient, ... raise, ... unclassified
    """
    scipy_functions = _scipy_functions()  # imports SciPy's modules: their rules register
    return Report(
        ndgrad.__version__,
        np.__version__,
        tuple(_entries()),
        scipy_special_coverage(),
        scipy_functions,
        forward_coverage(),
        batch_coverage(),
    )


def forward_coverage() -> dict[str, list[str]]:
    """The names of the functions with rules (those registered so far), by forward-mode kind.

    Examples
    --------
    >>> from ndgrad.coverage import forward_coverage
    >>> "numpy.sin" in forward_coverage()["elementwise"]
    True
    """
    kinds: dict[str, list[str]] = {k: [] for k in JVP_KINDS}
    for prim in VJP_RULES.values():
        kinds[prim.jvp_kind].append(prim.name)
    return {k: sorted(names) for k, names in kinds.items()}


def batch_coverage() -> dict[str, dict[str, list[str]]]:
    """The names of the functions with rules (those registered so far), by how a batched
    ``jacfwd`` and ``jacrev`` compute them (``ndgrad._batching.BATCH_KINDS``).

    Examples
    --------
    >>> from ndgrad.coverage import batch_coverage
    >>> "numpy.sum" in batch_coverage()["jacrev"]["row"]
    True
    """
    table: dict[str, dict[str, list[str]]] = {}
    for direction, reverse in (("jacfwd", False), ("jacrev", True)):
        kinds: dict[str, list[str]] = {k: [] for k in BATCH_KINDS}
        for prim in VJP_RULES.values():
            kinds[batching(prim, reverse)].append(prim.name)
        table[direction] = {k: sorted(names) for k, names in kinds.items()}
    return table


def _scipy_functions() -> dict[str, dict[str, list[str]]]:
    """Import each SciPy submodule ndgrad classifies (if SciPy is installed) and report it."""
    for module in _scipy.COVERED:
        try:
            importlib.import_module(module)
        except ImportError:
            return {}
    return _scipy.scipy_coverage()


def main(argv: list[str] | None = None) -> int:
    """Print the coverage report; return 1 if anything is unclassified, else 0."""
    parser = argparse.ArgumentParser(
        prog="python -m ndgrad.coverage",
        description="Classify every NumPy function, ufunc and ndarray method for ndgrad.",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--summary", action="store_true", help="print only the summary line")
    parser.add_argument("--counts", action="store_true", help="print counts, not names")
    args = parser.parse_args(argv)
    rep = report()
    if args.json:
        print(json.dumps(rep.to_json(), indent=1))
    elif args.summary:
        print(rep.summary())
    else:
        print(rep.to_text(names=not args.counts))
    if rep.unclassified:
        print(f"unclassified: {', '.join(rep.unclassified)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
