"""ARCHITECTURE.md: dependencies point one way, messaging ← recipients ← campaigns ← callbacks.
A lower app never imports a higher one, not even lazily inside a function."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["messaging", "recipients", "campaigns", "callbacks"]


def imported_apps(path: Path) -> set[str]:
    apps = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            apps.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            apps.add(node.module.split(".")[0])
    return apps


@pytest.mark.parametrize("app", LAYERS[:-1])
def test_a_lower_app_never_imports_a_higher_one(app):
    higher = set(LAYERS[LAYERS.index(app) + 1:])
    offenders = {str(path.relative_to(ROOT)): sorted(imported_apps(path) & higher)
                 for path in (ROOT / app).rglob("*.py")}
    assert {path: apps for path, apps in offenders.items() if apps} == {}
