"""The day-trading study end to end on the real 1-minute sample: first 30 sessions train, last 11
test, commissions 0 and 0.0001, two seeds, a tiny budget; and the desk's demo-style sources."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tradebrain.cli import app

runner = CliRunner()


def test_study_on_the_minute_sample(tmp_path: Path, future_bars: pd.DataFrame) -> None:
    from tests.conftest import ONE_MINUTE

    args = [
        "study", "daytrading", "--data", str(ONE_MINUTE), "--symbols", "FUT", "--train", "30", "--test", "11",
        "--commissions", "0,0.0001", "--seeds", "2", "--timesteps", "2048", "--name", "tiny", "--out",
        str(tmp_path), "--json",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    summary = {row["commission"]: row for row in data["summary"]}
    assert set(summary) == {0.0, 0.0001} and all(row["seeds"] == 2 for row in summary.values())
    cells = data["cells"]
    assert len(cells) == 4 and {(c["commission"], c["seed"]) for c in cells} == {
        (0.0, 0),
        (0.0, 1),
        (0.0001, 0),
        (0.0001, 1),
    }
    for row in summary.values():
        for key in ("agent_total_return", "agent_sharpe", "agent_max_drawdown", "agent_number_of_trades"):
            assert row[f"{key}_lo"] <= row[key] <= row[f"{key}_hi"], key
        assert row["bh_number_of_trades"] == 0 and row["bh_total_return"] == pytest.approx(
            summary[0.0]["bh_total_return"], abs=1e-3
        )
    # buy-and-hold pays the entry commission once: a hair less at 1 bp
    assert summary[0.0001]["bh_total_return"] < summary[0.0]["bh_total_return"]
    run_dir = tmp_path / "tiny"
    for name in ("report.html", "cells.csv", "summary.csv", "config.yaml", "return_by_commission.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "FUT" / "commission-0" / "seed-1" / "policy.npz").is_file()
    assert (run_dir / "FUT" / "commission-0" / "seed-1" / "vecnormalize.pkl").is_file()


def test_study_rejects_bad_input_with_a_hint(tmp_path: Path) -> None:
    base = ["study", "daytrading", "--synthetic", "SYN", "--out", str(tmp_path)]
    result = runner.invoke(app, [*base, "--commissions", "zero"])
    assert result.exit_code == 2 and "comma-separated" in result.output
    result = runner.invoke(app, [*base, "--train", "35", "--test", "10"])
    assert result.exit_code == 2 and "out of sample" in result.output
