"""The import graph of srlib (built from the source with ast): no circle, ground floors import no model package, and
every torch.load in srlib is weights_only=True."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

import srlib

ROOT = Path(srlib.__file__).parent


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """srlib modules that ``name`` imports anywhere in its file (top level or inside functions).

    ``from pkg import x`` counts as importing ``pkg.x`` when that is a module, else ``pkg``; a submodule's implicit
    import of its parent package is not an edge (Python's normal package layout).
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            out.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return {m for m in out if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path ``[a, b, ..., a]``, or None (depth-first search, colours white/grey/black).

    >>> find_cycle({"a": {"b"}, "b": {"a"}})
    ['a', 'b', 'a']
    >>> find_cycle({"a": {"b"}, "b": set()}) is None
    True
    """
    state, stack = {}, []

    def visit(node):
        state[node] = "grey"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "grey":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "black"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"x": {"y"}, "y": {"z"}, "z": {"x"}, "w": {"x"}}) == ["x", "y", "z", "x"]


def test_graph_is_real():
    assert "srlib.checkpoints" in GRAPH["srlib.dasr.official"] and "srlib.inference" in GRAPH["srlib.models"]


def test_no_import_circle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import circle: " + " -> ".join(cycle)


@pytest.mark.parametrize("floor", ["srlib.errors", "srlib.config", "srlib.runs", "srlib.checkpoints", "srlib.checks"])
def test_ground_floor_imports_no_model_package(floor):
    if floor not in GRAPH:
        pytest.skip(f"{floor} does not exist")
    reach, todo = set(), [floor]
    while todo:  # everything the floor pulls in, transitively
        for nxt in GRAPH[todo.pop()] - reach:
            reach.add(nxt)
            todo.append(nxt)
    assert not {m for m in reach if m.startswith(("srlib.dasr", "srlib.usrdu", "srlib.models"))}


def test_every_torch_load_is_weights_only():
    offenders = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"):
                kw = {k.arg: k.value for k in node.keywords}
                if not (isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
                    offenders.append(f"{name}:{node.lineno}")
    assert not offenders, f"torch.load without weights_only=True: {offenders}"
