"""The engine's modules import one way, by name, at the top (issue 16: layers).

Checked on the source, so that a new cycle, a function-local import dodging one, or a private
name reached across modules fails here rather than in review.
"""

from __future__ import annotations

import ast
import pathlib

import ndgrad

PACKAGE = pathlib.Path(ndgrad.__file__).parent

# Recording a call refreshes stale views (``_inplace.refresh``) and refreshing a view records a
# node (``_array.record_node``): the two modules recurse into each other by design, so
# ``_array`` imports ``_inplace`` at its end. The only cycle allowed.
ALLOWED_CYCLE = {"ndgrad._array", "ndgrad._inplace"}

# Imports inside functions, each with why it is not a cycle being dodged.
LOCAL_IMPORTS = {
    # a pytest plugin loads with every pytest run: ndgrad (and NumPy) only when a test asks
    "ndgrad.testing.plugin",
}


def _modules() -> dict[str, ast.Module]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = ast.parse(path.read_text(encoding="utf-8"))
    return out


MODULES = _modules()


def _imported(node: ast.AST, module: str) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for one import statement."""
    if isinstance(node, ast.Import):
        return [(a.name, []) for a in node.names if a.name.startswith("ndgrad")]
    if (
        isinstance(node, ast.ImportFrom)
        and node.level == 0
        and (node.module or "").startswith("ndgrad")
    ):
        assert node.module is not None
        found: list[tuple[str, list[str]]] = []
        names = []
        for a in node.names:
            sub = f"{node.module}.{a.name}"
            if sub in MODULES:  # ``from ndgrad import _graph``: the module itself
                found.append((sub, []))
            else:
                names.append(a.name)
        return [(node.module, names), *found] if names else found
    return []


def _top_level_edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in MODULES}
    for module, tree in MODULES.items():
        for node in tree.body:
            for target, _ in _imported(node, module):
                # importing a package runs its __init__; the package itself (``ndgrad``) is the
                # public face, imported by tools above the engine (coverage), not a layer
                if target in MODULES and target != "ndgrad":
                    edges[module].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges[w]))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
    return found


def test_modules_import_one_way():
    cycles = [c for c in _cycles(_top_level_edges()) if set(c) != ALLOWED_CYCLE]
    assert not cycles, f"import cycles between ndgrad modules: {cycles}"


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == [["a", "b", "c"]]


def test_no_function_local_imports_of_ndgrad():
    offenders = []
    for module, tree in MODULES.items():
        if module in LOCAL_IMPORTS:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if _imported(inner, module):
                        offenders.append(f"{module}.{node.name} (line {inner.lineno})")
    assert not offenders, f"function-local imports of ndgrad modules: {sorted(set(offenders))}"


def test_no_private_names_imported_across_modules():
    offenders = []
    for module, tree in MODULES.items():
        for node in ast.walk(tree):
            for target, names in _imported(node, module):
                offenders += [f"{module} imports {target}.{n}" for n in names if n.startswith("_")
                              and not n.startswith("__")]  # fmt: skip
    assert not offenders, "\n".join(offenders)
