"""`tradebrain backtest` end to end on the real NVDA daily sample."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.data.sources.synthetic import random_walk_bars

NVDA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nvda-daily-1999-2014.csv"


@pytest.mark.skipif(not NVDA.is_file(), reason="../shared/data/nvda-daily-1999-2014.csv is not beside the repository")
def test_sma_crossover_backtest_json_and_files(tmp_path: Path) -> None:
    args = ["backtest", "--policy", "sma-crossover", "--fast", "10", "--slow", "20", "--data", str(NVDA),
            "--symbol", "NVDA", "--cash", "10000", "--commission", "0", "--out", str(tmp_path), "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    trades = pd.read_csv(data["trades_file"])
    equity = pd.read_csv(data["equity_file"])
    assert data["closed_trades"] == len(trades) > 0
    assert data["final_equity"] == pytest.approx(equity["equity"].iloc[-1])
    assert data["metrics"]["number_of_trades"] == len(trades)
    for name in ("report.html", "equity.png", "monthly.png", "trades.png", "metrics.json"):
        assert (tmp_path / name).is_file(), name


def test_bad_input_exits_with_a_message(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["backtest", "--data", str(tmp_path / "none.csv")])
    assert missing.exit_code == 2 and "is not a file" in missing.output
    bars = tmp_path / "bars.csv"  # a bar file of its own: the typo is checked with or without the NVDA sample
    random_walk_bars(60, freq="D").to_csv(bars, index=False)
    typo = CliRunner().invoke(app, ["backtest", "--policy", "sma-crosover", "--data", str(bars)])
    assert typo.exit_code == 2 and "did you mean 'sma-crossover'" in typo.output
