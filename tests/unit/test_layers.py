"""Layers depend only on layers below them (DESIGN.md): checked on every import in the package."""

from __future__ import annotations

import ast
from pathlib import Path

import tradebrain

LAYERS = ("core", "data", "market", "risk", "envs", "agents", "backtest", "reports", "desks", "experiments", "cli")
PACKAGE = Path(tradebrain.__file__).parent


def _layer(module: str) -> int:
    top = module.split(".")[1] if module.startswith("tradebrain.") else ""
    return LAYERS.index(top) if top in LAYERS else -1


def test_no_module_imports_from_a_higher_layer() -> None:
    violations = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        own = _layer(".".join(relative.parts))
        for node in ast.walk(ast.parse(path.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and module.startswith("tradebrain.") and _layer(module) > own:
                violations.append(f"{relative} imports {module}")
    assert not violations, violations
