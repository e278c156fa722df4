"""The layering the design card draws: the core (`rag/`, then `ingest/` above it) imports nothing
from the apps (`app/`, `ui/`, `eval/`, `bench/`), and `rag/` nothing from `ingest/`."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = {"rag": {"ingest", "app", "ui", "eval", "bench"}, "ingest": {"app", "ui", "eval", "bench"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_the_core_imports_no_app(package: str):
    offenders = {f"{path.relative_to(REPO)} imports {bad}" for path in (REPO / package).rglob("*.py") for bad in imported_packages(path) & FORBIDDEN[package]}
    assert not offenders, sorted(offenders)
