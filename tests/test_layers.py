"""The package's architecture as a test: each folder is a layer, and a module imports only from its
own layer or the layers below it (imports inside functions count too), and no modules import
each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
# lowest first; experiment (the matrix and job costs) sits above every stage
LAYERS = ["core", "physics", "gnn", "distill", "rollout", "report", "experiment"]


def imports() -> dict[str, set[str]]:
    """Module name -> the symdistill modules it imports anywhere in its body."""
    out = {}
    for f in (SRC / "symdistill").rglob("*.py"):
        mod = ".".join(f.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__")
        names = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("symdistill"):
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names |= {a.name for a in node.names if a.name.startswith("symdistill")}
        out[mod] = names
    return out


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 else len(LAYERS)


def test_every_folder_is_a_known_layer():
    folders = {p.stem for p in (SRC / "symdistill").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in (SRC / "symdistill").glob("*.py") if p.stem != "__init__"}
    assert folders | modules == set(LAYERS)


def test_lower_layers_never_import_higher_ones():
    upward = [f"{a} imports {b}" for a, bs in imports().items() for b in bs if layer(b) > layer(a)]
    assert not upward, upward


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk of ``graph`` meets, each as the path that closes it."""
    state: dict[str, int] = {}
    found = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles():
    found = imports()
    assert not circles({a: {b for b in bs if b in found} for a, bs in found.items()})


def test_the_checks_can_fail():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert not circles({"a": {"b"}, "b": {"c"}})
    assert layer("symdistill.core.config") < layer("symdistill.gnn.variants")
    assert layer("symdistill.experiment") > layer("symdistill.report.build")
