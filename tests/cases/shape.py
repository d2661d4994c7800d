"""Cases for the array manipulation rules (ndgrad/_rules/shape.py)."""

from __future__ import annotations

import numpy as np

import ndgrad.numpy

from ._case import Case, R, calls


def _join(func):
    """Call ``func`` on a list of the positional arrays: lets check_grad see each array.

    With ``whole=True`` the one array is passed itself: NumPy joins its rows.
    """
    return lambda *arrays, whole=False, **kw: func(arrays[0] if whole else list(arrays), **kw)


def _concatenate(*arrays, nested=False, **kw):
    if nested:  # a list of a number and a 0-d array among the arrays joined
        # NumPy dispatches on the top-level arrays only: one is a GradArray, so that the
        # nested one is differentiated even when it alone requires grad.
        rest = [ndgrad.numpy.asarray(a) for a in arrays[1:]]
        return np.concatenate(([1.0, arrays[0]], *rest), **kw)
    return _join(np.concatenate)(*arrays, **kw)


# Memory layouts for order='A'/'K', which read the array in its memory order.
_LAYOUTS = {
    "F": lambda a: np.copy(a, order="F"),
    "reversed": lambda a: a[::-1],
    "permuted": lambda a: np.transpose(a, (2, 0, 1))[:, ::-1],
    "strided": lambda a: a[:, :, ::2],
}


def _laid_out(func):
    return lambda a, *args, layout=None, **kw: func(
        a if layout is None else _LAYOUTS[layout](a), *args, **kw
    )


def _pieces(func):
    """The pieces of a split as one tuple (check_grad projects every float output)."""
    return lambda *a, **kw: tuple(func(*a, **kw))


CASES = {
    # changing array shape
    np.reshape: Case(
        calls((R(2, 3), (3, 2)), (R(2, 3), (-1,)), (R(6), (2, 3)), (R(), (1, 1)))
        + calls((R(2, 3), (3, 2)), (R(2, 3, 2), (4, 3)), order=["F"])
        + calls((R(2, 3), (3, 2)), copy=[True])
        + calls((R(2, 3, 4), (-1,)), order=["A"], layout=list(_LAYOUTS)),
        call=_laid_out(np.reshape),
    ),
    np.ravel: Case(
        calls((R(2, 3),), order=["C", "F"])
        + calls((R(),))
        + calls((R(2, 3, 4),), order=["A", "K"], layout=list(_LAYOUTS)),
        call=_laid_out(np.ravel),
    ),
    np.resize: Case(calls((R(2, 3), (4, 3)), (R(3), (2, 2)), (R(2, 2), (5,)), (R(4), (2,)))),
    # transpose-like operations
    np.transpose: Case(calls((R(2, 3),), (R(2, 3, 4), (2, 0, 1)), (R(2, 3, 4), (-1, 0, 1)))),
    np.matrix_transpose: Case(calls((R(2, 3),), (R(4, 2, 3),))),
    np.swapaxes: Case(calls((R(2, 3, 4), 0, 2), (R(2, 3), -1, 0))),
    np.moveaxis: Case(calls((R(2, 3, 2), 0, -1), (R(2, 3, 2), (0, 1), (2, 0)), (R(3), 0, 0))),
    np.rollaxis: Case(
        calls((R(2, 3, 2), 2), (R(2, 3, 2), 0, 2), (R(2, 3, 2), -1, 1), (R(2, 3, 2), 1, -1))
    ),
    # changing number of dimensions
    np.expand_dims: Case(calls((R(2, 3), 0), (R(2, 3), (0, -1)), (R(), 0))),
    np.squeeze: Case(calls((R(1, 3, 1),), (R(1, 3, 1), 0), (R(1, 1),))),
    np.broadcast_to: Case(calls((R(3), (2, 3)), (R(2, 1), (2, 2, 3)), (R(), (2,)))),
    np.broadcast_arrays: Case(
        calls((R(3), R(2, 1)), (R(), R(2, 2)), (R(2, 3),)),
        call=lambda *a: tuple(np.broadcast_arrays(*a)),
    ),
    np.atleast_1d: Case(calls((R(),), (R(3),), (R(), R(2, 2)))),
    np.atleast_2d: Case(calls((R(),), (R(3),), (R(3), R(2, 2, 1)))),
    np.atleast_3d: Case(calls((R(),), (R(3),), (R(2, 2),), (R(3), R(2, 1, 2, 1)))),
    np.copy: Case(calls((R(2, 3),), (R(),))),
    np.astype: Case(calls((R(2, 3), np.float64), (R(3), np.complex128))),
    # joining arrays
    np.concatenate: Case(
        calls((R(2, 3), R(1, 3)), axis=[0])
        + calls((R(2, 3), R(2, 1), R(2, 2)), axis=[1, -1])
        + calls((R(2, 2), R(3)), axis=[None])
        + calls((R(3, 2),), whole=[True], axis=[0, None])
        + calls((R(), R(2)), nested=[True]),
        call=_concatenate,
    ),
    np.stack: Case(
        calls((R(3), R(3)), axis=[0, 1, -1])
        + calls((R(2, 2), R(2, 2), R(2, 2)), axis=[1])
        + calls((R(3, 2),), whole=[True], axis=[0, 1]),
        call=_join(np.stack),
    ),
    np.hstack: Case(
        calls((R(3), R(2)), (R(2, 1), R(2, 3)), (R(), R())) + calls((R(2, 3),), whole=[True]),
        call=_join(np.hstack),
    ),
    np.vstack: Case(
        calls((R(3), R(3)), (R(2, 3), R(3)), (R(1, 2, 2), R(2, 2, 2))), call=_join(np.vstack)
    ),
    np.dstack: Case(calls((R(3), R(3)), (R(2, 2), R(2, 2, 2)), (R(), R())), call=_join(np.dstack)),
    np.column_stack: Case(calls((R(3), R(3, 2)), (R(2), R(2))), call=_join(np.column_stack)),
    np.block: Case(
        calls((R(2, 2), R(2, 1), R(1, 3))),
        call=lambda a, b, c: np.block([[a, b], [c]]),
    ),
    np.unstack: Case(calls((R(2, 3),), axis=[0, 1, -1]), call=_pieces(np.unstack)),
    # splitting arrays
    np.split: Case(
        calls((R(6), 3), (R(6), [1, 4]), (R(2, 4), 2, 1), (R(3, 2), [1], 0)), call=_pieces(np.split)
    ),
    np.array_split: Case(calls((R(5), 3), (R(2, 5), 2, 1)), call=_pieces(np.array_split)),
    np.hsplit: Case(calls((R(4), 2), (R(2, 4), [1, 3])), call=_pieces(np.hsplit)),
    np.vsplit: Case(calls((R(4, 2), 2), (R(3, 2), [1])), call=_pieces(np.vsplit)),
    np.dsplit: Case(
        calls(
            (R(1, 2, 4), 2),
        ),
        call=_pieces(np.dsplit),
    ),
    # tiling arrays
    np.tile: Case(calls((R(3), 2), (R(2, 3), (2, 1)), (R(3), (2, 2)), (R(2, 1, 2), 2), (R(), 3))),
    np.repeat: Case(
        calls((R(3), 2), (R(2, 3), 2, 1), (R(2, 3), [1, 0, 3], -1), (R(2, 2), [2, 1], 0), (R(), 3))
    ),
    # adding and removing elements
    np.pad: Case(
        calls((R(3), 2), (R(2, 3), ((1, 0), (2, 1))), (R(3), (1, 2)), mode=["constant", "edge"])
        + calls((R(3), 2), (R(2, 3), ((1, 2), (2, 1))), mode=["reflect", "symmetric", "wrap"])
        + calls((R(3), 1), mode=["constant"], constant_values=[2.5])
        + calls((R(2, 2), 1), constant_values=[((1.5, -2.0), (0.5, 3.0))])
    ),
    np.insert: Case(
        calls(
            (R(4), 1, R()),
            (R(4), [0, 2, 2], R(3)),
            (R(2, 3), 1, R(2), 1),
            (R(2, 3), [1], R(2, 1), 1),
            (R(2, 3), slice(0, 2), R(3), 0),
            (R(2, 2), 3, R(2)),
        )
    ),
    np.append: Case(
        calls((R(3), R(2)), (R(2, 2), R()), (R(2, 2), R(1, 2), 0), (R(2, 2), R(2, 3), 1))
    ),
    np.delete: Case(
        calls((R(5), 1), (R(5), [0, 2]), (R(2, 3), 1, 1), (R(3, 2), slice(0, 2), 0), (R(2, 2), [3]))
    ),
    # rearranging elements
    np.flip: Case(calls((R(3),), (R(2, 3),), (R(2, 3), 1), (R(2, 2, 2), (0, 2)))),
    np.fliplr: Case(calls((R(2, 3),))),
    np.flipud: Case(calls((R(2, 3),), (R(3),))),
    np.rot90: Case(calls((R(2, 3),), (R(2, 3), 2), (R(2, 3), -1), (R(2, 2, 2), 1, (1, 2)))),
    np.roll: Case(
        calls(
            (R(4), 1),
            (R(2, 3), -1, 1),
            (R(2, 3), 2),
            (R(2, 3), (1, 2), (0, 1)),
            (R(2, 3), (1, 1), 1),
        )
    ),
    # building matrices
    np.diag: Case(calls((R(3),), (R(3), 1), (R(3), -2), (R(3, 3),), (R(2, 3), 1), (R(3, 2), -1))),
    np.diagonal: Case(
        calls((R(3, 3),), (R(2, 3), 1), (R(2, 3, 2), -1, 0, 2), (R(3, 2, 2), 0, 1, 2))
    ),
    np.diagflat: Case(calls((R(3),), (R(2, 2), 1), (R(2), -1))),
    np.tril: Case(calls((R(3, 3),), (R(2, 3), 1), (R(2, 3, 3), -1), (R(3),))),
    np.triu: Case(calls((R(3, 3),), (R(2, 3), 1), (R(2, 3, 3), -1), (R(3),))),
    np.meshgrid: Case(
        calls(
            (R(3), R(2)), (R(3), R(2), R(2)), (R(2),), indexing=["xy", "ij"], sparse=[False, True]
        )
        + calls((R(3), R(2)), copy=[False]),
        call=lambda *a, **kw: tuple(np.meshgrid(*a, **kw)),
    ),
}
