"""bnnzoo's modules import each other without a cycle: data flows one way, layers -> zoo ->
training -> converters, with analysis readable by all and reproduce/cli on top.

The graph is read from the source (``ast``), so it holds every import: at module level and
inside functions (a deferred import that closes a cycle is still a cycle). A package's own
``__init__`` running first when a submodule is imported is Python's mechanics, not an edge.
"""

import ast
from pathlib import Path

import bnnzoo

ROOT = Path(bnnzoo.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_graph_reader_sees_real_edges():
    graph = import_graph()
    assert "bnnzoo.zoo.registry" in graph["bnnzoo.zoo"]
    assert "bnnzoo._environment" in graph["bnnzoo"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_bnnzoo():
    found = cycles(import_graph())
    assert not found, "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


# bottom to top: a module imports only from its own layer or the layers below it
LAYERS = (
    (
        "bnnzoo._environment",
        "bnnzoo._autograph",
        "bnnzoo._io",
        "bnnzoo._text",
        "bnnzoo._host",
        "bnnzoo._checks",
    ),
    ("bnnzoo.layers",),
    ("bnnzoo.analysis",),
    ("bnnzoo.zoo",),
    ("bnnzoo.training",),
    ("bnnzoo.converters",),
    ("bnnzoo.reproduce", "bnnzoo.quickstart"),
    ("bnnzoo.cli",),
)


def layer_of(module: str) -> int:
    for rank, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return -1  # the package's own __init__: exposes the layers, imported by none of them


def test_data_flows_one_way():
    graph = import_graph()
    assert all(layer_of(m) >= 0 for m in graph if m != "bnnzoo"), "a module outside LAYERS"
    upward = sorted(
        f"{source} -> {target}"
        for source, targets in graph.items()
        if source != "bnnzoo"
        for target in targets
        if target != "bnnzoo" and layer_of(target) > layer_of(source)
    )
    assert not upward, "imports against the flow: " + "; ".join(upward)
