"""Where the benchmarks find the project's configs, wherever they are run from."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def shown(path: Path) -> str:
    """`path` relative to the project root when inside it, for tables and results.json."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)
