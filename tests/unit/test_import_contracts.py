"""The layer contracts (import-linter, `[tool.importlinter]` in pyproject.toml) hold for the package,
and each one fails on a copy of the package with one forbidden import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tradebrain

PACKAGE = Path(tradebrain.__file__).parent
PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = (
    "Layers point down only",
    "Desks never import each other",
    "data, market and risk know nothing of RL",
    "backtest and live are siblings",
)


def _lint(package_root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with the project's contracts on the `tradebrain` package found in `package_root`."""
    env = {**os.environ, "PYTHONPATH": str(package_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(PYPROJECT), "--no-cache"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def _status(output: str) -> dict[str, str]:
    """Contract name -> KEPT or BROKEN, from lint-imports' report."""
    found = {}
    for line in output.splitlines():
        for name in CONTRACTS:
            if line.startswith(f"{name} KEPT") or line.startswith(f"{name} BROKEN"):
                found[name] = "KEPT" if f"{name} KEPT" in line else "BROKEN"
    return found


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """A throwaway copy of the installed package, to plant one forbidden import in."""
    shutil.copytree(PACKAGE, tmp_path / "tradebrain", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(PACKAGE.parent, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert _status(result.stdout) == dict.fromkeys(CONTRACTS, "KEPT")


@pytest.mark.parametrize(
    ("module", "planted", "broken"),
    [
        ("core/errors.py", "import tradebrain.cli", "Layers point down only"),
        ("backtest/metrics.py", "import tradebrain.desks.contract", "Layers point down only"),
        ("desks/execution/baselines.py", "import tradebrain.desks.market_making.glft", "Desks never import each other"),
        ("data/schema.py", "import torch", "data, market and risk know nothing of RL"),
        ("risk/limits.py", "import tradebrain.rl.policy", "data, market and risk know nothing of RL"),
        ("live/__init__.py", "import tradebrain.backtest.engine", "backtest and live are siblings"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(package_copy: Path, module: str, planted: str, broken: str) -> None:
    path = package_copy / "tradebrain" / module
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(f"\n{planted}  # planted by the test\n")
    result = _lint(package_copy, package_copy)
    assert result.returncode != 0
    status = _status(result.stdout)
    assert status[broken] == "BROKEN", result.stdout
    assert planted.split()[-1] in result.stdout  # the report names the offending import
