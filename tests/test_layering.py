"""The layering the design card draws, checked on the import graph of the source itself: the core
(`rag/`, then `ingest/` above it) imports nothing from the apps, the evaluation harness nothing
from the app's pages, `rag/` is three floors that import only downward (answering -> search ->
storage), and no module reaches itself through its imports (no circle, lazy imports included)."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("rag", "ingest", "app", "ui", "eval", "bench")
FORBIDDEN = {"rag": {"ingest", "app", "ui", "eval", "bench"}, "ingest": {"app", "ui", "eval", "bench"}, "eval": {"ui"}}
FLOORS = ("rag.storage", "rag.search", "rag.answering")  # bottom to top
SHARED = ("rag.config", "rag.logs", "rag.sentences", "rag.checkpoints", "rag.models")  # the top modules every floor may use


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module `path` imports, at its top or inside a function, as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from rag.search import hit` imports a module
    return names


SOURCES = {module_name(p): p for package in PACKAGES for p in (REPO / package).rglob("*.py")}
GRAPH = {name: {m for m in imports_of(path) if m in SOURCES and m != name} for name, path in SOURCES.items()}


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_core_imports_no_app(package: str):
    offenders = {f"{m} imports {i}" for m, imported in GRAPH.items() if within(m, package) for i in imported if i.split(".")[0] in FORBIDDEN[package]}
    assert not offenders, sorted(offenders)


@pytest.mark.parametrize("floor", FLOORS)
def test_each_floor_of_rag_imports_only_the_floors_below_it(floor: str):
    allowed = FLOORS[: FLOORS.index(floor) + 1] + SHARED
    offenders = {
        f"{m} imports {i}" for m, imported in GRAPH.items() if within(m, floor) for i in imported if within(i, "rag") and not any(within(i, a) for a in allowed)
    }
    assert not offenders, sorted(offenders)


def test_rag_keeps_few_modules_at_its_top():
    top = [p.name for p in (REPO / "rag").glob("*.py") if p.name != "__init__.py"]
    assert len(top) <= 8, top


def test_no_module_reaches_itself_through_its_imports():
    """Strongly connected components of the import graph (Tarjan): each must be one module."""
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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
                circles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    assert not circles, circles
