from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app

runner = CliRunner()


def test_analyze_json_reproduces_the_classic_example() -> None:
    result = runner.invoke(app, ["execution", "analyze", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["risk_aversion"] == 1e-6
    assert data["kappa"] == pytest.approx(0.6070761, rel=1e-6)
    twap = data["schedules"]["TWAP"]
    assert twap["expected"] == pytest.approx(662_500.0)
    assert twap["variance"] == pytest.approx(0.9025 * (8e5**2 + 6e5**2 + 4e5**2 + 2e5**2))
    ac = data["schedules"]["AC-optimal"]
    assert ac["holdings"][0] == 1e6 and ac["holdings"][-1] == 0
    assert ac["objective"] < twap["objective"]
    assert set(data["schedules"]) == {"AC-optimal", "TWAP", "sell-now"}


def test_analyze_lambda_option_and_config_file() -> None:
    result = runner.invoke(
        app, ["execution", "analyze", "--config", "configs/execution-fine.yaml", "--lambda", "2e-6", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["risk_aversion"] == 2e-6
    assert len(data["schedules"]["TWAP"]["holdings"]) == 51


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--lambda", "nan"], "--lambda must be a finite number"),
        (["--lambda", "-1"], "--lambda must be a finite number"),
        (["--config", "does-not-exist.yaml"], "does not exist"),
    ],
)
def test_analyze_rejects_bad_input(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["execution", "analyze", *args])
    assert result.exit_code == 2
    assert message in result.output


def test_config_errors_name_the_key_and_suggest_a_fix(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("task:\n  stpes: 10\n")
    result = runner.invoke(app, ["execution", "analyze", "--config", str(bad)])
    assert result.exit_code == 2
    assert "task.stpes" in result.output and "did you mean 'steps'" in result.output


def test_zero_shares_and_non_convex_impact_are_rejected_before_any_work(tmp_path: Path) -> None:
    for text, message in [
        ("task:\n  shares: 0\n", "task.shares"),
        ("task:\n  steps: 0\n", "task.steps"),
        ("market:\n  gamma: 1.0e-5\n", "eta_tilde"),
        ("market:\n  sigma: .nan\n", "finite"),
    ]:
        path = tmp_path / "c.yaml"
        path.write_text(text)
        result = runner.invoke(app, ["execution", "analyze", "--config", str(path)])
        assert result.exit_code == 2, text
        assert message in result.output, (text, result.output)


def test_environment_overrides_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBRAIN_TASK__STEPS", "10")
    result = runner.invoke(app, ["config", "show"])
    assert result.exit_code == 0, result.output
    assert "steps: 10" in result.stdout


def test_evaluate_needs_an_existing_model() -> None:
    result = runner.invoke(app, ["execution", "evaluate", "--model", "nope.zip"])
    assert result.exit_code == 2
    assert "does not exist" in result.output
