"""The package's shape: no import cycles (module-level or inside functions), short functions, small modules.

Read from the source with ast, so nothing is imported and a cycle hidden in a function body counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "corenets"
MAX_FUNCTION = 60  # lines, in experiment*, train/ and serve/
MAX_MODULE = 400  # lines, everywhere


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(mod: str, path: Path, known: set[str]) -> set[str]:
    """Every corenets module `mod` imports, anywhere in the file (functions and TYPE_CHECKING blocks too)."""
    out: set[str] = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(mod, is_pkg, node)
            # `from . import x` names a submodule when x is one, else an attribute of the package
            names = [f"{target}.{a.name}" if f"{target}.{a.name}" in known else target for a in node.names]
        for name in names:
            while name and name not in known:  # `corenets.data.bundle.X` -> the module that holds X
                name = name.rpartition(".")[0]
            if name and name != mod and name.startswith("corenets"):
                out.add(name)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    graph = {m: imports_of(m, p, known) for m, p in mods.items()}
    for m in graph:  # importing a package's parent runs its __init__: that edge is implied, never a cycle of ours
        graph[m] = {d for d in graph[m] if not m.startswith(d + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for d in sorted(graph.get(n, ())):
            if colour.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in colour and (found := visit(d)):
                return found
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(graph):
        if n not in colour and (found := visit(n)):
            return found
    return None


def test_the_checker_finds_a_cycle_hidden_in_a_function():
    a = ast.parse("def f():\n    from .b import g\n")
    assert any(isinstance(n, ast.ImportFrom) for n in ast.walk(a))
    assert find_cycle({"corenets.a": {"corenets.b"}, "corenets.b": {"corenets.c"}, "corenets.c": {"corenets.a"}}) == [
        "corenets.a", "corenets.b", "corenets.c", "corenets.a"]
    assert find_cycle({"corenets.a": {"corenets.b"}, "corenets.b": set()}) is None


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "corenets.experiment_scratch" in graph["corenets.experiment"]  # imported inside make_engine
    assert "corenets.train.state" in graph["corenets.train.callbacks"]


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _long_functions(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [f"{path.relative_to(SRC)}:{n.lineno} {n.name} ({n.end_lineno - n.lineno + 1} lines)"
            for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_FUNCTION]


@pytest.mark.parametrize("pattern", ["experiment*.py", "train/*.py", "serve/*.py"])
def test_functions_fit_on_a_screen(pattern):
    long = [f for p in sorted(SRC.glob(pattern)) for f in _long_functions(p)]
    assert not long, f"functions over {MAX_FUNCTION} lines: " + "; ".join(long)


def test_modules_are_small():
    big = [f"{p.relative_to(SRC)} ({n} lines)" for p in sorted(SRC.rglob("*.py"))
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE]
    assert not big, f"modules over {MAX_MODULE} lines: " + ", ".join(big)
