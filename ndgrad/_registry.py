"""The four dispatch tables and ``unbroadcast``: what the engine reads, rules write (through
``ndgrad._define``).

Every NumPy callable lands in exactly one table:

``VJP_RULES``       a primitive with gradient rules: computed on plain arrays, one node recorded.
``TRACED_THROUGH``  NumPy's own Python code calls only recorded primitives: run it on GradArrays.
``NO_GRADIENT``     integer, boolean or shape results, or float results with no derivative
                    (``zeros_like``): computed on plain arrays, no graph.
``UNSUPPORTED``     no rule (yet): raises ``NotDifferentiableError`` when an input requires grad.

Keys are NumPy's own objects; ufunc methods are keyed ``(np.add, "reduce")``.

A rule is ``rule(g, ans, *args, **kwargs) -> cotangent`` for one positional argument, where
``g`` is the cotangent of the output, ``ans`` the output and ``args``/``kwargs`` NumPy's own
arguments. For an argument that is a sequence of arrays (``np.concatenate``) the rule returns a
sequence of cotangents of the same structure.
"""

from __future__ import annotations

import dis
import inspect
import itertools
import math
import sys
import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np

from ndgrad._core import ndim

__all__ = [
    "HOLOMORPHIC",
    "JVP_KINDS",
    "KEYWORD_FORMS",
    "NO_GRADIENT",
    "PERMANENT_PRIMITIVES",
    "TRACED_THROUGH",
    "UNSUPPORTED",
    "VJP_RULES",
    "ArrayMeta",
    "JVPRule",
    "Primitive",
    "VJPRule",
    "mark_no_gradient",
    "mark_traced",
    "mark_unsupported",
    "reads_structure",
    "unbroadcast",
]

VJPRule = Callable[..., Any]
JVPRule = Callable[..., Any]

# How forward mode computes a node's output tangent from its inputs' tangents (``_forward``):
#
# ``rules``        JVP rules, ``rule(t, ans, *args, **kwargs)`` per argument, summed (``defjvp``);
# ``elementwise``  a ufunc acting element by element: its Jacobian is diagonal, so the VJP rule
#                  applied to the tangent is the JVP (for real values; for complex ones only
#                  where the ufunc is holomorphic, as ``conj(vjp(conj(t)))``);
# ``linear``       linear in its differentiable arguments together (``reshape``, ``sum``,
#                  ``concatenate``, ``fft.fft``): the function itself, called on the tangents;
# ``multilinear``  linear in each differentiable argument alone (``matmul``, ``einsum``): the
#                  function with one argument replaced by its tangent, summed over arguments;
# ``transpose``    none of these: the VJP rules transposed, one small reverse pass per node
#                  (correct for every rule, and slow); the coverage report lists who uses it.
JVP_KINDS = ("rules", "elementwise", "linear", "multilinear", "transpose")
# The attributes of a Primitive derived from its rules (``Primitive._derive_reads``), and the
# lock under which they are derived (once, though two threads ask at once).
_DERIVED = ("reads", "structure", "saves", "meta", "saves_ans", "_needs", "by_operands")
_DERIVING = threading.RLock()  # (re-entrant: a bug deriving recurses loudly, never hangs)


class Primitive:
    """What the engine knows about one differentiable function.

    ``saves`` holds the positions of the arguments that some rule reads, ``meta`` those read
    only for their shape or dtype, and ``saves_ans`` whether some rule reads the output: only
    those are kept for ``backward`` and checked for in-place modification, so that
    ``y = x + 1; y += 1`` is not refused. A node runs only the rules of the arguments that
    require grad, so it keeps only what those read: ``needs(slots)``, and ``by_operands`` for
    the ufunc fast path (``x @ w`` with a constant ``x`` keeps ``x``, not ``w``).

    ``structure`` holds the positions in ``meta`` that the rules read only through helpers
    marked ``reads_structure`` (``concatenate``'s arrays: the shape of each, and how they are
    nested): a list or tuple there is kept as the same lists and tuples of ``ArrayMeta``.
    """

    __slots__ = (
        "_needs",
        "argnum_rule",
        "array_method",
        "arrays",
        "by_operands",
        "defaults",
        "forward_common",
        "func",
        "inplace_rules",
        "jvp_argnum",
        "jvp_costly",
        "jvp_kind",
        "jvp_rules",
        "meta",
        "name",
        "paired",
        "positional",
        "reads",
        "rules",
        "saves",
        "saves_ans",
        "structure",
        "unbroadcast",
        "unit_rules",
    )

    def __init__(
        self,
        func: Any,
        rules: tuple[VJPRule | None, ...],
        argnum_rule: VJPRule | None = None,
        *,
        name: str | None = None,
        unbroadcast: bool = False,
        paired: bool = False,
    ) -> None:
        self.func = func
        self.paired = paired  # output i depends on positional argument i alone
        self.rules = rules
        self.argnum_rule = argnum_rule
        self.name = name or qualified_name(func)
        self.unbroadcast = unbroadcast
        self.positional = _positional_names(func, len(rules))
        self.defaults = positional_defaults(func) if self.positional else {}
        elementwise = unbroadcast and isinstance(func, np.ufunc) and func.signature is None
        self.jvp_kind = "elementwise" if elementwise and func.nout == 1 else "transpose"
        self.jvp_rules: tuple[JVPRule | None, ...] = ()
        self.jvp_argnum: JVPRule | None = None
        # a JVP rule far dearer than the VJP (a solver's, made of backward solves): forward
        # mode still works, and ``jacobian(mode="auto")`` does not choose it for that reason
        self.jvp_costly = False
        # The VJP rules again, some in a form that writes into ``g`` (``set_inplace``).
        self.inplace_rules: tuple[VJPRule | None, ...] | None = None
        # And some in the form they take when ``g`` is a spread 1 (``set_unit``).
        self.unit_rules: tuple[VJPRule | None, ...] | None = None
        # NumPy's array method equal to the function on a plain ndarray first argument (NumPy
        # documents it as the "equivalent method": ``ndarray.sum`` for ``np.sum``), which the
        # compiled path calls instead of the function's Python wrapper; or None.
        self.array_method: Any = None
        # Forward mode's rules per edge of a common node, by the call's shape
        # (``_forward._common_rules``): emptied when the forward rules change.
        self.forward_common: dict[Any, Any] = {}
        # Parameters the function reads as arrays whatever it is given (SciPy's ``array_like``):
        # a list or tuple there is made one array before the call is recorded (``as_array``),
        # so that the rules read an array and a GradArray among its entries stays an input.
        self.arrays: frozenset[str] = frozenset()
        # what the nodes keep (``reads`` and what follows from it) is derived on first use
        # (``__getattr__``): scanning the rules' bytecode for every primitive was half of the
        # time ``import ndgrad`` took

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set: one derived from the rules, derived now (the
        # compiled path reads ``by_operands`` through getattr until its slot is set).
        if name in _DERIVED:
            with _DERIVING:
                try:
                    return object.__getattribute__(self, name)  # another thread derived it
                except AttributeError:
                    self._derive_reads()
            return object.__getattribute__(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _forget_reads(self) -> None:
        """The rules changed: what was derived from them is derived again on its next use (under
        the lock: a derivation from the old rules running in another thread ends first)."""
        with _DERIVING:
            for name in _DERIVED:
                try:
                    object.__delattr__(self, name)
                except AttributeError:  # not derived yet
                    pass

    def set_jvp(
        self,
        kind: str,
        rules: tuple[JVPRule | None, ...] = (),
        argnum_rule: JVPRule | None = None,
    ) -> None:
        """Say how forward mode treats this primitive (one of ``JVP_KINDS``)."""
        if kind not in JVP_KINDS:
            raise ValueError(f"unknown JVP kind {kind!r}: one of {JVP_KINDS}")
        self.jvp_kind, self.jvp_rules, self.jvp_argnum = kind, rules, argnum_rule
        self.forward_common.clear()
        self._forget_reads()

    def set_inplace(self, rules: dict[int, VJPRule]) -> None:
        """In-place forms of some VJP rules, by argument position. Backward calls
        ``rules[i](g, ans, *args, **kwargs)`` in place of rule ``i`` when ``g`` is a plain
        array it made itself, that nobody else holds and that no other rule of the node reads
        (one argument requires grad): the rule may then overwrite ``g`` and return it. It must
        give exactly the same values as rule ``i``, and read no argument rule ``i`` does not
        (the node keeps only those)."""
        self.inplace_rules = self._other_forms(rules, "in-place")

    def set_unit(self, rules: dict[int, VJPRule]) -> None:
        """Forms of some VJP rules for a ``g`` that is a spread 1: a plain float array, every
        element the one 1 it shows along zero strides (a sum's cotangent over a large input).
        Backward calls ``rules[i](g, ans, *args, **kwargs)`` in place of rule ``i`` then, where
        the rule is ``g`` times a factor, and the form returns the factor itself, read-only, not
        a copy. It must give exactly the values, dtype and shape of rule ``i`` (falling back to
        it where they would differ), and read no argument rule ``i`` does not."""
        self.unit_rules = self._other_forms(rules, "spread-1")

    def _other_forms(self, rules: dict[int, VJPRule], kind: str) -> tuple[VJPRule | None, ...]:
        """The rules, with ``rules`` (other forms of some, by position) in their places, once
        each is checked to read nothing its rule does not (the node keeps only that)."""
        for i, rule in rules.items():
            if i >= len(self.rules) or self.rules[i] is None:
                raise ValueError(f"{self.name}: no VJP rule {i} to give a {kind} form")
            saves, meta, ans = _rule_reads(rule)
            kept, kept_meta, kept_ans = _rule_reads(self.rules[i])
            if (
                saves is None
                or (ans and not kept_ans)
                or (kept is not None and not (saves <= kept and meta <= kept | kept_meta))
            ):
                raise ValueError(f"{self.name}: {kind} rule {i} reads what rule {i} does not")
        return tuple(rules.get(i, r) for i, r in enumerate(self.rules))

    def _derive_reads(self) -> None:
        """What a node keeps, per argument that requires grad: what its VJP rule reads, and
        what forward mode reads for it (a JVP rule; for a multilinear function, the other
        arguments; for a linear one, the others' shapes, for their zero tangents)."""
        # Computed first and set together, ``by_operands`` (what the compiled path reads) last:
        # a thread that finds one set finds it final.
        reads: Any = None  # a variadic rule, which may read anything
        if self.argnum_rule is None and self.jvp_argnum is None:
            reads = [_rule_reads(r) for r in self.rules]
            n = len(reads)
            for i, rule in enumerate(self.jvp_rules[:n] if self.jvp_kind == "rules" else ()):
                reads[i] = _union([reads[i], _rule_reads(rule, meta_ans=True)])
            if self.jvp_kind in ("linear", "multilinear"):
                # the function is called again: its other parameters (shape, axis, key) too
                live = frozenset(i for i, r in enumerate(self.rules) if r is not None)
                params = _positional_count(self.rules)
                rest = None if params is None else frozenset(range(params)) - live
                for i in live:
                    others = live - {i}
                    extra: Needs = (
                        _ALL
                        if rest is None
                        else (rest | others, frozenset(), False)
                        if self.jvp_kind == "multilinear"
                        else (rest, others, False)
                    )
                    reads[i] = _union([reads[i], extra])
            reads = tuple(reads)
        structure, reads = self._derive_structure(reads)
        needs: dict[tuple[int, ...], Needs] = {}
        self.reads, self.structure, self._needs = reads, structure, needs
        self.saves, self.meta, self.saves_ans = _ALL if reads is None else _union(reads)
        # For a call on one or two operands: what to keep when the first, the second or both
        # require grad (indexed by ``gx | gy << 1``, minus one).
        self.by_operands = tuple(self.needs(s) for s in ((0,), (1,), (0, 1)))

    def _derive_structure(self, reads: Any) -> tuple[frozenset[int], Any]:
        """The positions whose every read is through a ``reads_structure`` helper, and
        ``reads`` with those another rule reads for ``.shape`` too kept whole instead: an
        ``ArrayMeta`` of a list cannot serve both."""
        if reads is None:
            return frozenset(), reads
        rules = [*self.rules, *(self.jvp_rules if self.jvp_kind == "rules" else ())]
        by_rule = [_structure_reads(r) for r in rules]
        structure = frozenset().union(*by_rule)
        if not structure:
            return structure, reads
        shape_reads = frozenset().union(
            *(_rule_reads(r)[1] - s for r, s in zip(rules, by_rule, strict=True))
        )
        both = structure & shape_reads
        if both:
            reads = tuple((s if s is None else s | (m & both), m - both, a) for s, m, a in reads)
        return structure - both, reads

    def needs(self, slots: tuple[int, ...]) -> Needs:
        """``(saves, meta, saves_ans)`` for a node whose arguments ``slots`` require grad: what
        their rules read (``saves`` None: a rule the bytecode scan could not read, keep all)."""
        known = self._needs.get(slots)
        if known is None:
            if self.reads is None:
                known = _ALL
            else:
                known = _union([self.reads[i] for i in slots if i < len(self.reads)])
            self._needs[slots] = known
        return known

    def rule_for(self, slot: int) -> VJPRule | None:
        """The rule for positional argument ``slot`` (``None``: no gradient flows there)."""
        if self.argnum_rule is not None:
            rule = self.argnum_rule
            return lambda g, ans, *args, **kw: rule(slot, g, ans, *args, **kw)
        return self.rules[slot] if slot < len(self.rules) else None

    def __repr__(self) -> str:
        return f"<Primitive {self.name}>"


VJP_RULES: dict[Hashable, Primitive] = {}
# Every primitive ever registered in VJP_RULES, kept for good: a node of one of these may be left
# out of the cyclic GC (``_core.Node``), as no rule's closure can make garbage of its primitive.
PERMANENT_PRIMITIVES: set[Primitive] = set()
# Ufuncs that are complex-differentiable wherever they are differentiable: forward mode derives
# their complex JVP from the VJP rule (``Primitive.jvp_kind == "elementwise"``).
HOLOMORPHIC: set[Hashable] = set()
TRACED_THROUGH: set[Hashable] = set()
NO_GRADIENT: set[Hashable] = set()
UNSUPPORTED: dict[Hashable, str] = {}
# Functions with rules whose keyword-only array arguments have no rule of their own (``np.var``'s
# ``mean=``): when such a keyword requires grad, the engine calls this composition of recorded
# NumPy calls instead of raising, so that the gradient reaches the keyword too.
KEYWORD_FORMS: dict[Hashable, Callable[..., Any]] = {}


def qualified_name(func: Any) -> str:
    """``numpy.sin``, ``numpy.linalg.inv``, ``numpy.add.reduce``: how errors name a function."""
    if isinstance(func, tuple):
        return f"{qualified_name(func[0])}.{func[1]}"
    if isinstance(func, np.ufunc):  # ufuncs do not know their module: find who exports them
        ufunc_name: str = func.__name__ or repr(func)
        if getattr(np, ufunc_name, None) is func:
            return f"numpy.{ufunc_name}"
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, ufunc_name, None) is func:
            return f"scipy.special.{ufunc_name}"
        return ufunc_name
    module = getattr(func, "__module__", None) or ""
    if module.startswith("numpy."):  # numpy._core.fromnumeric -> numpy
        public = module.split(".")  # numpy.linalg._linalg -> numpy.linalg; numpy.lib.scimath stays
        module = ".".join(itertools.takewhile(lambda part: not part.startswith("_"), public))
    name = str(getattr(func, "__qualname__", None) or getattr(func, "__name__", repr(func)))
    return f"{module}.{name}" if module else name


def classify(key: Hashable) -> None:
    """Move ``key`` into ``table``, out of every other: a function lives in one table."""
    VJP_RULES.pop(key, None)
    TRACED_THROUGH.discard(key)
    NO_GRADIENT.discard(key)
    UNSUPPORTED.pop(key, None)


def mark_traced(*funcs: Any) -> None:
    """NumPy's implementation of each of ``funcs`` calls only recorded primitives."""
    for func in funcs:
        classify(func)
        TRACED_THROUGH.add(func)


def mark_no_gradient(*funcs: Any) -> None:
    """Each of ``funcs`` returns integers, booleans, shapes or constants: no graph."""
    for func in funcs:
        classify(func)
        NO_GRADIENT.add(func)


def mark_unsupported(*funcs: Any, why: str = "") -> None:
    """Each of ``funcs`` has no rule: calling it on an array that requires grad raises."""
    for func in funcs:
        classify(func)
        UNSUPPORTED[func] = why


# ``tuple(range(n))`` for the usual numbers of leading axes, made once.
_LEADING = tuple(tuple(range(n)) for n in range(8))


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes along which an input of ``shape`` was broadcast."""
    g_shape = g.shape
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    if 0 < lead < len(_LEADING) and type(g) is np.ndarray and g_shape[lead:] == shape:
        # Only leading axes were added (a bias over a batch, a scalar over an array): one
        # reduction, no keepdims and no reshape. A 0-d result stays an array, as a cotangent
        # must, where ``np.add.reduce`` would give a NumPy scalar.
        if shape:
            return np.add.reduce(g, axis=_LEADING[lead])
        return np.add.reduce(g, axis=_LEADING[lead], keepdims=True).reshape(())
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if type(g) is np.ndarray:  # a plain cotangent: NumPy's reduction directly, no dispatch
        g = np.add.reduce(g, axis=axes, keepdims=True)
        return g.reshape(shape) if lead else g
    g = np.sum(g, axis=axes, keepdims=True)
    return np.reshape(g, shape) if lead else g


# --- which arguments a rule reads -------------------------------------------------------------
# A rule names its inputs as parameters; reading the bytecode once at registration tells which
# ones it loads. A parameter read only for its metadata (``a.shape``, ``np.ndim(a)``) is saved
# as an ``ArrayMeta``: the array itself is not kept alive, and writing to it later is harmless.
# A rule we cannot read (a builtin, a partial, ``*args``) is taken to read everything.

# The instructions that name a local or free variable, whatever this Python calls them (3.12
# adds LOAD_FAST_CHECK, 3.13 fuses pairs such as LOAD_FAST_LOAD_FAST and STORE_FAST_LOAD_FAST,
# 3.14 adds LOAD_FAST_BORROW): a load this scan missed would leave an input unsaved.
_LOCAL_OPS = frozenset(dis.haslocal) | frozenset(dis.hasfree)
_META = {"shape", "ndim", "dtype", "size", "strides"}


class ArrayMeta:
    """What a rule may read of an input it does not otherwise need: shape, ndim, dtype, size,
    and strides (``None`` for a list or scalar: C order)."""

    __slots__ = ("dtype", "ndim", "shape", "size", "strides")

    def __init__(
        self, shape: tuple[int, ...], dtype: Any, strides: tuple[int, ...] | None = None
    ) -> None:
        self.shape, self.dtype, self.strides = shape, dtype, strides
        self.ndim = len(shape)
        self.size = math.prod(shape)  # made on every recorded call: no NumPy round trip

    def __repr__(self) -> str:
        return f"ArrayMeta(shape={self.shape}, dtype={self.dtype})"


def _variables_read(op: dis.Instruction) -> tuple[str, ...]:
    """The local or free variables instruction ``op`` reads: none for a store or a delete, two
    for a fused pair of loads, the second of a fused store and load."""
    if op.opcode not in _LOCAL_OPS:
        return ()
    names = op.argval if isinstance(op.argval, tuple) else (op.argval,)
    verb = op.opname.partition("_")[0]
    if verb in ("STORE", "DELETE", "MAKE"):  # MAKE_CELL, STORE_FAST_MAYBE_NULL, ...
        return names[1:] if "_LOAD_" in op.opname else ()  # STORE_FAST_LOAD_FAST
    return names


def _unfused(ins: Iterable[dis.Instruction]) -> list[dis.Instruction]:
    """The instructions with each fused pair of 3.13 and later split into its two halves, in
    order (``LOAD_FAST_LOAD_FAST (g, a)`` then ``LOAD_ATTR shape`` reads ``a``'s shape, and
    ``g`` for its value), so that each load is judged by its neighbours as on 3.11."""
    out: list[dis.Instruction] = []
    for op in ins:
        parts = op.opname.split("_")
        # where the second half's verb starts: LOAD_FAST_LOAD_FAST, STORE_FAST_LOAD_FAST,
        # LOAD_FAST_BORROW_LOAD_FAST_BORROW (3.14)
        k = next((j for j in range(1, len(parts)) if parts[j] in ("LOAD", "STORE")), None)
        if op.opcode in _LOCAL_OPS and isinstance(op.argval, tuple) and k is not None:
            out.append(op._replace(opname="_".join(parts[:k]), argval=op.argval[0]))
            out.append(op._replace(opname="_".join(parts[k:]), argval=op.argval[1]))
        else:
            out.append(op)
    return out


# Called by name (``ndim(x)``), these read their argument's metadata only, as ``np.ndim(x)``
# does: the compiled ``np.ndim`` that hot rules call.
_META_CALLS = (ndim,)


def _is_meta_use(rule: Any, ins: list[dis.Instruction], i: int) -> bool:
    """Whether the load at ``ins[i]`` reads only metadata: ``x.shape``, ``np.shape(x)``, or
    ``ndim(x)`` for a global in ``_META_CALLS``."""
    after = ins[i + 1] if i + 1 < len(ins) else None
    if after is not None and after.opname == "LOAD_ATTR" and after.argval in _META:
        return True
    before = ins[i - 1] if i > 0 else None
    if before is not None and before.opname == "PUSH_NULL" and i > 1:  # 3.13: np.shape(x)
        before = ins[i - 2]
    if before is None or after is None or after.opname not in ("PRECALL", "CALL"):
        return False
    if before.opname == "LOAD_GLOBAL":
        called = getattr(rule, "__globals__", {}).get(before.argval)
        return after.arg == 1 and any(called is f for f in _META_CALLS)
    return before.opname == "LOAD_ATTR" and before.argval in _META and after.arg == 1


def reads_structure(helper: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a rules' helper that reads its first argument only for its structure: the type and
    nesting of a list or tuple of arrays, and each array's shape and dtype, never values. A
    rule that passes a parameter only to such helpers (``like_sequence(arrays, pieces)``) lets
    a node keep that argument as ``ArrayMeta`` in the same lists and tuples
    (``Primitive.structure``): the arrays are not kept alive, guarded or made read-only."""
    helper.reads_structure = True  # type: ignore[attr-defined]
    return helper


def _is_structure_use(rule: Any, ins: list[dis.Instruction], i: int) -> bool:
    """Whether the load at ``ins[i]`` is the first argument of a ``reads_structure`` helper:
    it comes right after the helper's global name is loaded for the call."""
    before = ins[i - 1] if i > 0 else None
    if before is None or before.opname != "LOAD_GLOBAL":
        return False
    helper = rule.__globals__.get(before.argval)
    return getattr(helper, "reads_structure", False) is True


_Reads = tuple[frozenset[int] | None, frozenset[int], frozenset[int], bool]


# Each rule is read once: a primitive reads its rules again for ``structure`` and for every
# ``set_jvp`` and ``set_inplace``, and the scan is most of the import time. Weak: a rule
# registered again drops the old one.
_READS: weakref.WeakKeyDictionary[Any, dict[bool, _Reads]] = weakref.WeakKeyDictionary()


def _loaded_params(rule: Any, meta_ans: bool = False) -> _Reads:
    try:
        known = _READS.setdefault(rule, {})
    except TypeError:  # a callable that cannot be weakly referenced or hashed
        return _scan_params(rule, meta_ans)
    reads = known.get(meta_ans)
    if reads is None:
        reads = known[meta_ans] = _scan_params(rule, meta_ans)
    return reads


def _scan_params(rule: Any, meta_ans: bool) -> _Reads:
    """Inputs ``rule`` reads (as positions after ``g, ans``), those it reads only for metadata,
    those of the latter it reads only through ``reads_structure`` helpers, and whether it reads
    ``ans`` (``meta_ans``: other than for its metadata, which forward mode knows without
    keeping the output); ``None`` when the rule cannot be read."""
    code = getattr(rule, "__code__", None)
    if code is None or code.co_flags & inspect.CO_VARARGS:
        return None, frozenset(), frozenset(), True
    params = code.co_varnames[: code.co_argcount]
    values = set(code.co_cellvars) & set(params)
    meta: set[str] = set()
    structure: set[str] = set()
    ins = _unfused(dis.get_instructions(code))
    for i, op in enumerate(ins):
        read = _variables_read(op)
        if len(read) == 1 and op.opname.startswith("LOAD_"):  # one load: how it is used
            if _is_structure_use(rule, ins, i):
                structure.add(read[0])
            else:
                (meta if _is_meta_use(rule, ins, i) else values).add(read[0])
        else:  # a store, or an instruction we did not split: its reads are values
            values.update(read)
    position = {p: i - 2 for i, p in enumerate(params) if i >= 2}
    structure -= values | meta  # read for values or .shape too: kept as such
    return (
        frozenset(position[p] for p in values if p in position),
        frozenset(position[p] for p in (meta | structure) - values if p in position),
        frozenset(position[p] for p in structure if p in position),
        len(params) > 1 and params[1] in (values if meta_ans else values | meta),
    )


# (saves, meta, saves_ans): what a set of rules reads (see ``Primitive``).
Needs = tuple[frozenset[int] | None, frozenset[int], bool]
_NO_RULE: Needs = (frozenset(), frozenset(), False)
_ALL: Needs = (None, frozenset(), True)  # keep every argument and the output


def _rule_reads(rule: VJPRule | None, meta_ans: bool = False) -> Needs:
    if rule is None:
        return _NO_RULE
    used, used_meta, _, ans = _loaded_params(rule, meta_ans)
    return _ALL if used is None else (used, used_meta, ans)


def _structure_reads(rule: VJPRule | None) -> frozenset[int]:
    return frozenset() if rule is None else _loaded_params(rule)[2]


def _positional_count(rules: tuple[VJPRule | None, ...]) -> int | None:
    """How many positional parameters (after ``g, ans``) the rules name; None: unknown."""
    count = 0
    for rule in rules:
        code = getattr(rule, "__code__", None)
        if rule is not None and (code is None or code.co_flags & inspect.CO_VARARGS):
            return None
        if code is not None:
            count = max(count, code.co_argcount - 2)
    return count


def _union(reads: Iterable[Needs]) -> Needs:
    saves: set[int] = set()
    meta: set[int] = set()
    saves_ans = False
    for used, used_meta, ans in reads:
        if used is None:
            return _ALL
        saves |= used
        meta |= used_meta
        saves_ans |= ans
    return frozenset(saves), frozenset(meta - saves), saves_ans


def _positional_names(func: Any, count: int) -> tuple[str, ...]:
    """NumPy's names for the first ``count`` parameters: lets ``weights=w`` find its rule."""
    target = getattr(func, "_implementation", func)
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):  # ufuncs and builtins: arguments are positional
        return ()
    names = []
    for p in params[:count]:
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            break
        names.append(p.name)
    return tuple(names)


def positional_defaults(func: Any) -> dict[str, Any]:
    """Default values of ``func``'s parameters, to fill gaps when a kwarg becomes positional."""
    target = getattr(func, "_implementation", func)
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in params if p.default is not p.empty}
