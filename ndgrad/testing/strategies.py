"""Hypothesis strategies for testing gradients: float arrays, shapes, well-conditioned matrices.

This module needs hypothesis (``pip install hypothesis``); nothing else in ndgrad imports it.

Examples
--------
>>> from hypothesis import given, settings
>>> import numpy as np
>>> import ndgrad as nd
>>> from ndgrad.testing import strategies as nds
>>> @settings(max_examples=20, deadline=None)
... @given(nds.float_arrays(max_dims=2))
... def test_square_gradient(x):
...     np.testing.assert_allclose(nd.grad(lambda x: np.sum(x**2))(x), 2 * x)
>>> test_square_gradient()
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "ndgrad.testing.strategies needs hypothesis: pip install hypothesis "
        "(or pip install 'ndgrad[test]')"
    ) from exc

__all__ = [
    "array_shapes",
    "broadcastable_arrays",
    "broadcastable_shapes",
    "float_arrays",
    "well_conditioned_matrices",
]

Shape = tuple[int, ...]


def array_shapes(
    *, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4
) -> st.SearchStrategy[Shape]:
    """Shapes with ``min_dims..max_dims`` axes of ``min_side..max_side`` elements (0-d too)."""
    return hnp.array_shapes(
        min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    )


def float_arrays(
    shape: Shape | st.SearchStrategy[Shape] | None = None,
    *,
    dtype: Any = np.float64,
    min_value: float = -10.0,
    max_value: float = 10.0,
    min_dims: int = 0,
    max_dims: int = 3,
    max_side: int = 4,
) -> st.SearchStrategy[np.ndarray]:
    """Finite float (or complex) arrays with elements in ``[min_value, max_value]``.

    Parameters
    ----------
    shape : tuple of int or strategy, optional
        Fixed shape, or a strategy of shapes; by default :func:`array_shapes` with
        ``min_dims``, ``max_dims`` and ``max_side``.
    dtype : data-type, default float64
        A float or complex dtype. For complex arrays the bounds hold for both parts.
    min_value, max_value : float
        Keep the elements in a domain, e.g. ``min_value=0.1`` for ``np.log``.
    """
    dtype = np.dtype(dtype)
    if dtype.kind not in "fc":
        raise ValueError(f"float_arrays makes float or complex arrays, not {dtype}")
    if shape is None:
        shape = array_shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)
    width = 8 * dtype.itemsize // (2 if dtype.kind == "c" else 1)
    # No subnormals: finite differences and rules such as 1/x would be dominated by them.
    part = st.floats(
        min_value, max_value, allow_nan=False, allow_infinity=False, allow_subnormal=False,
        width=width,
    )  # fmt: skip
    elements = st.builds(complex, part, part) if dtype.kind == "c" else part
    return hnp.arrays(dtype, shape, elements=elements)


def broadcastable_shapes(
    num_shapes: int = 2, *, min_dims: int = 0, max_dims: int = 3, max_side: int = 4
) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together (NumPy's rules)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda result: tuple(result.input_shapes))


@st.composite
def broadcastable_arrays(
    draw: Any, num_arrays: int = 2, *, min_value: float = -10.0, max_value: float = 10.0
) -> tuple[np.ndarray, ...]:
    """Tuples of float64 arrays whose shapes broadcast together."""
    shapes = draw(broadcastable_shapes(num_arrays))
    return tuple(draw(float_arrays(s, min_value=min_value, max_value=max_value)) for s in shapes)


@st.composite
def well_conditioned_matrices(
    draw: Any,
    n: int | None = None,
    *,
    min_n: int = 1,
    max_n: int = 4,
    batch_shape: Shape = (),
    symmetric: bool = False,
    positive_definite: bool = False,
) -> np.ndarray:
    """Square float64 matrices far from singular, for ``inv``, ``solve``, ``det``...

    The matrix is ``M + (n + 1) * I`` (``(M + M.T) / 2 + (n + 1) * I`` when symmetric) with
    the entries of ``M`` in ``[-1, 1]``: strictly diagonally dominant by a margin of at least
    1, so its condition number in the infinity norm is at most ``2 * n + 1``; a symmetric one is
    positive definite with eigenvalues in ``[1, 2 * n + 1]``.

    Parameters
    ----------
    n : int, optional
        Fixed size; by default drawn from ``min_n..max_n``.
    batch_shape : tuple of int
        Leading axes for a stack of matrices.
    symmetric, positive_definite : bool
        Make the matrix symmetric (then it is also positive definite).
    """
    size = n if n is not None else draw(st.integers(min_n, max_n))
    m = draw(float_arrays((*batch_shape, size, size), min_value=-1.0, max_value=1.0))
    if symmetric or positive_definite:
        m = (m + np.swapaxes(m, -1, -2)) / 2
    # Off-diagonal row sums are at most size - 1, diagonal entries at least size: the margin
    # of diagonal dominance is at least 1, which bounds the inverse's norm by 1.
    return m + (size + 1) * np.eye(size)
