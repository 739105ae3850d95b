"""Optional features fail up front, naming the extra to install; the core never imports an extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.core.extras import EXTRAS, MissingExtraError, check, require

runner = CliRunner()


def _block(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make `import module` fail as it does when the package is not installed."""
    for name in [name for name in sys.modules if name == module or name.startswith(f"{module}.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


def test_a_present_extra_is_imported() -> None:
    assert require("optuna", "tuning").__name__ == "optuna"
    check("mlflow", "tracking")


@pytest.mark.parametrize("module", sorted(EXTRAS))
def test_a_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    _block(monkeypatch, module)
    with pytest.raises(MissingExtraError, match=rf"pip install 'tradebrain\[{EXTRAS[module]}\]'"):
        require(module, "a feature")
    with pytest.raises(MissingExtraError, match=rf"a feature needs {module}"):
        check(module, "a feature")


def test_ray_backend_without_the_extra(monkeypatch: pytest.MonkeyPatch, make_spec: object, tmp_path: Path) -> None:
    spec = make_spec()  # type: ignore[operator]
    _block(monkeypatch, "ray")
    result = runner.invoke(app, ["run", str(spec), "--backend", "ray", "--runs-root", str(tmp_path)])
    assert result.exit_code == 2
    assert "--backend ray needs ray" in result.output and "pip install 'tradebrain[ray]'" in result.output


def test_tracking_without_the_extra_says_how_to_run_without_it(
    monkeypatch: pytest.MonkeyPatch, make_spec: object, tmp_path: Path
) -> None:
    spec = make_spec()  # type: ignore[operator]
    _block(monkeypatch, "mlflow")
    result = runner.invoke(app, ["run", str(spec), "--runs-root", str(tmp_path)])
    assert result.exit_code == 2
    assert "pip install 'tradebrain[tracking]'" in result.output and "--no-tracking" in result.output
    assert not (tmp_path / "tiny" / "cells").exists()  # failed before any cell ran


def test_the_core_commands_import_no_extra() -> None:
    # tensorboard is left out: stable-baselines3's logger imports it by itself whenever it is installed
    extras = sorted(set(EXTRAS) - {"tensorboard"})
    code = (
        "import sys, tradebrain.cli\n"
        "from tradebrain.desks.registry import all_desks\n"
        "for desk in all_desks().values(): desk.config_cls\n"
        f"print(sorted(m for m in {extras!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
