"""`tradebrain mm replicate`: JSON output and rejection of bad values."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tradebrain.cli import app

runner = CliRunner()


def test_replicate_json_has_the_papers_columns() -> None:
    result = runner.invoke(app, ["mm", "replicate", "--gamma", "0.1", "--paths", "40", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["gamma"], data["paths"], data["seed"]) == (0.1, 40, 3)
    assert data["formula_spread"] == pytest.approx(1.4907704, abs=1e-6)
    assert set(data["strategies"]) == {"inventory", "symmetric"}
    for metrics in data["strategies"].values():
        assert set(metrics) == {"average_spread", "profit_mean", "profit_std", "final_q_mean", "final_q_std"}
        assert set(metrics["profit_mean"]) == {"value", "low", "high"}
        assert metrics["profit_mean"]["low"] <= metrics["profit_mean"]["value"] <= metrics["profit_mean"]["high"]


def test_replicate_prints_a_table() -> None:
    result = runner.invoke(app, ["mm", "replicate", "--paths", "20"])
    assert result.exit_code == 0, result.output
    assert "inventory" in result.stdout and "symmetric" in result.stdout and "final q std" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--gamma", "0"], "gamma"), (["--gamma", "-1"], "gamma"), (["--paths", "1"], "paths must be >= 2")],
)
def test_bad_values_exit_with_code_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["mm", "replicate", *args])
    assert result.exit_code == 2
    assert message in result.output
