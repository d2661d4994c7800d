"""Gradient rules, one module per chapter of NumPy's reference; importing fills the tables."""

from ndgrad._rules import indexing, no_gradient, reductions, shape, ufuncs

__all__ = ["indexing", "no_gradient", "reductions", "shape", "ufuncs"]
