"""Type stub of the compiled core (ndgrad/_core.c)."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

class ArrayBase(np.ndarray):  # type: ignore[type-arg]
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any: ...
    def __array_function__(
        self, func: Callable[..., Any], types: Any, args: Iterable[Any], kwargs: Mapping[str, Any]
    ) -> Any: ...
    def __array_finalize__(self, obj: Any) -> None: ...
    def __getitem__(self, key: Any) -> Any: ...

class Scope:
    def __enter__(self) -> None: ...
    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None: ...

def configure_scope(
    numpy: Any, raised_in_scope_var: Any, prepare: Callable[[], None], reraise_hidden: Any
) -> None: ...
def scope_plan(modules: int, plain: type, swapped: type) -> None: ...
def forget_scope_plan() -> bool: ...
def open_scopes() -> int: ...
def writeable(a: Any) -> bool: ...
def zero_filled(a: Any) -> bool | None: ...

class AliasEntry:
    table: dict[int, Any]
    key: int
    def __call__(self) -> Any: ...

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
    serial: int  # the order nodes were made in
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
def node_serial() -> int: ...
def recorded_since(roots: list[Any], since: int, own: AbstractSet[Any]) -> bool: ...
def backward_pass(
    roots: Sequence[tuple[Any, int]],
    root_grads: Sequence[Any],
    inputs: Sequence[tuple[Any, int]] | None,
    retain_graph: bool,
    create_graph: bool,
    lift: Callable[[Any, Any, int], Any] | None,
    since: int,
    check_saved: bool,
    inline_common: bool,
    inplace_bytes: int,
) -> list[Any] | None: ...
def forward_order(
    roots: list[Any], stop: AbstractSet[Any], since: int, meta: dict[Any, Any]
) -> tuple[list[Any], dict[Any, int], set[Any]]: ...
def forward_plan_steps(
    order: list[Any],
    stop: AbstractSet[Any],
    meta: dict[Any, Any],
    keep: AbstractSet[Any],
    common_rules: Callable[..., Any],
    ans_meta: Callable[..., Any],
) -> list[tuple[Any, ...]]: ...
def fingerprint_bytes(b: Any, rows: int, max_row: int) -> Any: ...
def fingerprint(a: np.ndarray) -> np.ndarray | None: ...  # type: ignore[type-arg]

FINGERPRINT_ROWS: int
FINGERPRINT_MAX_ROW: int

class Guard:
    saved: Any
    fp: Any
    more: list[tuple[str, Any]] | None
    snapshot: dict[int, Any] | None
    owner: int | None
    users: int
    first: bool
    born_locked: bool
    def __call__(self) -> Any: ...
    def holds(self, a: Any) -> bool: ...
    def adopt(self, a: Any) -> None: ...

class Hold:
    guard: Guard
    raw: Any
    fp: Any
    @property
    def snapshot(self) -> dict[int, Any] | None: ...

def guard_saved(x: Any, raw: Any, fresh: bool = False) -> Hold: ...
def guard_plain(raw: Any) -> Hold: ...
def restore_guard(guard: Guard, snapshot: dict[int, Any] | None = None) -> None: ...
def memory_owner(a: Any) -> Any: ...
def configure_guards(
    locks: dict[int, list[Any]],
    guarded: dict[int, int],
    stuck: list[Any],
    lock: Any,
    released: dict[int, Any],
    graph_globals: dict[str, Any],
    sealed_mark: Any,
    check_saved: bool,
) -> None: ...
def forward_steps(
    steps: list[tuple[Any, ...]],
    tan: dict[Any, Any],
    left: dict[Any, int],
    inline: bool,
    node_tangents: Callable[..., Any],
    lift: Callable[[Any, Any, int], Any] | None,
    meta: dict[Any, Any],
    free: AbstractSet[Any] | None,
) -> None: ...
def function_fast(
    prim: Any, impl: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any] | None
) -> Any: ...
def array_meta(a: np.ndarray) -> Any: ...  # type: ignore[type-arg]
def conj(x: Any) -> Any: ...
def ndim(x: Any) -> int: ...
def spread_small(
    g: Any, shape: tuple[int, ...], axis: Any, keepdims: Any, divisor: Any, limit: int
) -> Any: ...
def configure_array(
    grad_array: type,
    vjp_rules: dict[Any, Any],
    grad_enabled_var: Any,
    copy_bytes: int,
    constant_state: list[Any],
    scalar_tag: str,
    refuse_aliases: Callable[..., Any],
    array_meta: Callable[..., Any],
    finish_call: Callable[..., Any],
    edge: type,
    ufunc_general: Callable[..., Any],
    object_cast: Callable[[], Exception],
    function_general: Callable[..., Any],
    call_primitive: Callable[..., Any],
    errstate_var: Any,
    user_errstate: Callable[[], Any],
    getitem_impl: Callable[[Any, Any], Any],
    track_views: Callable[..., None],
    out_ellipsis: bool,
    power_shortcuts: dict[tuple[type, Any], Any],
    buffer_export: Callable[[Any], Exception | None],
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
    grad_enabled_var: Any,
    scope_depth_var: Any,
    inert_types: tuple[type, ...],
    permanent_prims: set[Any],
    primitive: type,
) -> None: ...
def alias_entry(obj: Any, table: dict[int, Any], key: int) -> AliasEntry: ...
def register_alias(a: Any) -> None: ...
def alias_table_size() -> int: ...
def arrays_over(owner: np.ndarray) -> list[Any]: ...  # type: ignore[type-arg]
