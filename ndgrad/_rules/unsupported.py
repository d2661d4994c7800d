"""NumPy functions ndgrad cannot differentiate: called on an array that requires grad, they raise.

Each entry says why (the reason appears in the coverage report and in the error). A function
lands here when its result depends on the input in a way no rule describes yet, or when NumPy's
own implementation would silently drop the graph: it converts with ``np.asarray``, writes into
a plain ``ndarray`` it created, or writes in place into an argument. Called on arrays that do
not require grad (or under ``nd.no_grad()``) they behave exactly as in NumPy.

A rule registered later with ``defvjp`` replaces an entry here: this module is imported first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.lib.recfunctions as rfn

from ndgrad._registry import mark_unsupported


def with_like_twins(*funcs: Any) -> list[Any]:
    """Each of ``funcs`` and its ``like=`` twin.

    For a creation function written in Python (``np.ones``, ``np.eye``), NumPy keeps a private
    dispatcher ``_<name>_with_like`` beside it that serves ``like=``; ``numpy.testing.overrides``
    lists both, so both are classified.
    """
    twins = (f.__globals__.get(f"_{f.__name__}_with_like") for f in funcs)
    return [*funcs, *(t for t in twins if t is not None)]


# --- conversion from data: the result is a fresh array, cut from the graph ----------------------
# These dispatch only through ``like=``; a GradArray that requires grad passed as the data or as
# ``like`` would come back as a constant. ``nd.asarray`` keeps the graph.
mark_unsupported(
    np.array, np.asarray, np.asanyarray, np.ascontiguousarray, np.asfortranarray, np.frombuffer,
    np.fromiter,
    why="copies data out of the graph; use ndgrad.asarray or x.copy()",
)  # fmt: skip
mark_unsupported(
    *with_like_twins(np.require),
    why="converts through np.array, which copies data out of the graph",
)

# --- writes in place into an argument --------------------------------------------------------
mark_unsupported(
    np.copyto, np.place, np.put, np.putmask,
    why="writes in place without recording; use x[idx] = value (recorded) instead",
)  # fmt: skip

# --- NumPy's implementation converts with np.asarray or fills a plain ndarray -------------------
mark_unsupported(np.unwrap, why="NumPy's implementation converts its input with np.asarray")
mark_unsupported(
    np.polyder, np.polyint, np.polymul, np.polydiv, np.polyfit, np.poly, np.roots,
    why="polynomial helper whose NumPy implementation drops the graph (np.asarray or poly1d)",
)  # fmt: skip
mark_unsupported(
    np.apply_along_axis, np.apply_over_axes,
    why="collects results in a plain ndarray; loop over np.moveaxis(x, axis, -1) instead",
)  # fmt: skip
mark_unsupported(
    np.polynomial.polynomial.polyval2d, np.polynomial.polynomial.polygrid2d,
    # NumPy 2.5's polyvalnd is polyval2d for any number of axes (the same pu._valnd)
    *[f for f in [getattr(np.polynomial.polynomial, "polyvalnd", None)] if f is not None],
    why="numpy.polynomial converts its coefficients with np.array",
)  # fmt: skip
mark_unsupported(np.sort_complex, why="sorts a copy made with np.array")
mark_unsupported(
    np.geomspace, why="NumPy's implementation overwrites the output of np.power in place"
)
mark_unsupported(
    np.lib.stride_tricks.sliding_window_view, why="a strided view that no rule describes yet"
)
mark_unsupported(
    np.emath.sqrt, np.emath.log, np.emath.log2, np.emath.log10, np.emath.logn, np.emath.power,
    np.emath.arccos, np.emath.arcsin, np.emath.arctanh,
    why="np.emath converts with np.asarray; use np.sqrt etc. on a complex array instead",
)  # fmt: skip

# --- set operations: which value survives is piecewise, the values themselves are not ----------
mark_unsupported(
    np.unique, np.unique_all, np.unique_counts, np.unique_inverse, np.unique_values,
    np.union1d, np.intersect1d, np.setdiff1d, np.setxor1d,
    why="set operation",
)  # fmt: skip

# --- histograms: counts are piecewise constant, but the bin edges and weighted counts are not --
mark_unsupported(
    np.histogram, np.histogram2d, np.histogramdd, np.histogram_bin_edges,
    why="histogram: no rule for the bin edges (they follow the data range) or the weights",
)  # fmt: skip
mark_unsupported(np.bincount, why="no rule for the weights")

# --- structured arrays: their fields cannot require grad -------------------------------------
mark_unsupported(
    rfn.append_fields, rfn.apply_along_fields, rfn.assign_fields_by_name, rfn.drop_fields,
    rfn.find_duplicates, rfn.join_by, rfn.merge_arrays, rfn.rec_append_fields,
    rfn.rec_drop_fields, rfn.rec_join, rfn.recursive_fill_fields, rfn.rename_fields,
    rfn.repack_fields, rfn.require_fields, rfn.stack_arrays, rfn.structured_to_unstructured,
    rfn.unstructured_to_structured,
    why="structured arrays",
)  # fmt: skip
