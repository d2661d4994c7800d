"""How a rule's test case is written: the calls to check, with inputs inside the domain.

``Case(calls, order=2)`` lists ``(args, kwargs)`` pairs; the input builders make fixed-seed
float64 arrays of a shape within a domain:

``R`` any real, ``P`` positive, ``U`` inside (-1, 1), ``G`` greater than 1, ``C`` complex,
``A`` real and away from integers and zero (for functions with kinks at those points).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

_rng = np.random.default_rng(20261127)


def R(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape)


def P(*shape: int) -> np.ndarray:
    return _rng.uniform(0.5, 2.0, shape)


def U(*shape: int) -> np.ndarray:
    return _rng.uniform(-0.8, 0.8, shape)


def G(*shape: int) -> np.ndarray:
    return _rng.uniform(1.5, 3.0, shape)


def C(*shape: int) -> np.ndarray:
    return _rng.standard_normal(shape) + 1j * _rng.standard_normal(shape)


def A(*shape: int) -> np.ndarray:
    """Reals at distance >= 0.2 from every integer (and so from 0): no kinks or ties nearby."""
    base = _rng.integers(-3, 3, shape) + _rng.uniform(0.2, 0.8, shape)
    return np.asarray(base, dtype=float)


UNARY_SHAPES = [(), (3,), (2, 3)]
BINARY_SHAPES = [((), ()), ((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2))]


class Case:
    """The calls that check one rule."""

    def __init__(
        self,
        calls: Iterable[tuple[tuple[Any, ...], dict[str, Any]]],
        *,
        order: int = 2,
        call: Callable[..., Any] | None = None,
        rtol: float = 1e-5,
        atol: float = 1e-6,
    ) -> None:
        self.calls = list(calls)
        self.order = order
        self.call = call
        self.rtol, self.atol = rtol, atol

    def calls_args(self) -> list[tuple[Any, ...]]:
        """The argument tuples of the calls, to extend into another case."""
        return [args for args, _ in self.calls]


def unary(make: Callable[..., np.ndarray] = R, **kw: Any) -> Case:
    return Case((((make(*s),), {}) for s in UNARY_SHAPES), **kw)


def binary(
    make1: Callable[..., np.ndarray] = R, make2: Callable[..., np.ndarray] | None = None, **kw: Any
) -> Case:
    make2 = make2 or make1
    return Case((((make1(*s1), make2(*s2)), {}) for s1, s2 in BINARY_SHAPES), **kw)


def calls(
    *args_list: tuple[Any, ...], **kwarg_options: list[Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Every argument tuple combined with every combination of the keyword options."""
    import itertools

    names = list(kwarg_options)
    combos = list(itertools.product(*kwarg_options.values())) if names else [()]
    return [(args, dict(zip(names, combo, strict=True))) for args in args_list for combo in combos]
