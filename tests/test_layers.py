"""The layers of DESIGN §1 hold: nothing imports upward, the core never sees the web framework."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "src" / "hestia"

FORBIDDEN = {
    "core": {"hestia.api", "fastapi", "starlette", "sse_starlette", "uvicorn", "hestia.cli"},
    "store": {"hestia.api", "hestia.core", "hestia.providers", "fastapi", "starlette"},
    "providers": {"hestia.api", "hestia.core", "hestia.store", "fastapi", "starlette"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
    return found


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_nothing_above_it(layer):
    offenders = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for module in imports_of(path):
            if any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN[layer]):
                offenders.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert offenders == []
