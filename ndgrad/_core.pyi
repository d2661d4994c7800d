"""Type stub of the compiled core (ndgrad/_core.c)."""

from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

class Node:
    prim: Any
    edges: tuple[Any, ...]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    ans: Any
    versions: tuple[Any, ...]
    out_meta: tuple[tuple[tuple[int, ...], Any], ...] | None
    where: Any
    n_out: int
    freed: bool
    @property
    def name(self) -> str: ...
    def __init__(
        self,
        prim: Any,
        edges: tuple[Any, ...],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        ans: Any,
        versions: tuple[Any, ...],
        out_meta: tuple[tuple[tuple[int, ...], Any], ...] | None,
        where: Any = None,
    ) -> None: ...

def collect_nodes(roots: Sequence[Any], stop: AbstractSet[Any]) -> dict[Any, int]: ...
def store(
    grads: dict[Any, Any], owned: set[int], node: Any, out: int, c: Any, inplace: bool, fresh: bool
) -> None: ...
def run_backward(
    ready: list[Any],
    left: dict[Any, int],
    grads: dict[Any, Any],
    owned: set[int],
    targets: AbstractSet[Any],
    needed: AbstractSet[Any] | None,
    results: dict[Any, Any],
    lift: Callable[[Any, Any, int], Any] | None,
    accumulate: bool,
    retain_graph: bool,
    inplace: bool,
    inline_common: bool,
    check_saved: bool,
) -> None: ...
def configure(
    leaf_node: type,
    no_kwargs: dict[str, Any],
    accumulate_leaf: Callable[..., Any],
    check_live: Callable[..., Any],
    check_versions: Callable[..., Any],
    cotangents: Callable[..., Any],
    fit: Callable[..., Any],
    take: Callable[..., Any],
) -> None: ...
