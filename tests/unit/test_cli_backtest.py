"""`tradebrain backtest` end to end on the real NVDA daily sample."""

from __future__ import annotations

import json
import math
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


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--slow", "500"], ["--slow 500", "502 bars", "has 300", "--slow 298"]),  # window longer than the data
        (["--slow", "299"], ["--slow 299", "has 300"]),  # no bar left to fill the first crossing
        (["--slow", "300", "--fill", "close"], ["--slow 300", "301 bars", "has 300", "--slow 299"]),
        (["--fast", "20", "--slow", "20"], ["--fast (20)", "--slow (20)"]),
        (["--fast", "30", "--slow", "20"], ["--fast (30)", "--slow (20)"]),
        (["--fast", "0"], ["--fast", "at least 1"]),
        (["--fast", "-3", "--slow", "5"], ["--fast", "got -3"]),
        (["--slow", "0"], ["--slow", "at least 1"]),
        (["--cash", "0"], ["--cash", "positive"]),
        (["--cash", "-5"], ["--cash", "positive"]),
        (["--cash", "nan"], ["--cash", "positive"]),
        (["--commission", "-0.1"], ["--commission", "[0, 1)"]),
        (["--commission", "1"], ["--commission", "[0, 1)"]),
        (["--commission", "inf"], ["--commission", "[0, 1)"]),
        (["--spread", "wide"], ["--spread", "none, fixed, range", "'wide'"]),
        (["--spread", "fixed", "--spread-bps", "-1"], ["--spread-bps", ">= 0", "got -1"]),
        (["--spread-bps", "5"], ["--spread-bps 5", "--spread fixed"]),
        (["--latency-bars", "-1"], ["--latency-bars", ">= 0", "got -1"]),
        (["--latency-bars", "299", "--policy", "buy-and-hold"], ["--latency-bars", "300 bars", "has 300"]),
        (["--latency-bars", "5", "--slow", "295"], ["--slow 295", "302 bars", "--latency-bars"]),
    ],
)
def test_options_that_would_give_nan_metrics_exit_2_naming_the_option(
    tmp_path: Path, args: list[str], names: list[str]
) -> None:
    bars = tmp_path / "bars.csv"
    random_walk_bars(300, freq="D").to_csv(bars, index=False)
    result = CliRunner().invoke(app, ["backtest", "--data", str(bars), "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2, result.output
    output = result.output.replace("\n", "")
    assert "Traceback" not in output
    for name in names:
        assert name in output, (name, output)
    assert not (tmp_path / "out").exists()  # rejected before any work


def test_the_longest_window_the_data_allows_runs(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    random_walk_bars(300, freq="D").to_csv(bars, index=False)
    result = CliRunner().invoke(
        app, ["backtest", "--data", str(bars), "--fast", "5", "--slow", "298", "--out", str(tmp_path), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert math.isfinite(data["metrics"]["total_return"]) and data["final_equity"] > 0


@pytest.mark.parametrize(
    ("args", "label", "optimistic"),
    [
        (["--fill", "close", "--spread", "none"], "optimistic: same-bar close", True),
        (
            ["--fill", "close", "--latency-bars", "1"],
            "close timing + latency (next open), range spread, latency 1 bar",
            False,
        ),
        (["--spread", "fixed", "--spread-bps", "10"], "next open, spread 10 bps", False),
        ([], "next open, range spread", False),
    ],
)
def test_fills_are_labelled_in_the_output_and_the_report(
    tmp_path: Path, args: list[str], label: str, optimistic: bool
) -> None:
    bars = tmp_path / "bars.csv"
    random_walk_bars(300, freq="D").to_csv(bars, index=False)
    command = ["backtest", "--data", str(bars), "--fast", "5", "--slow", "20", "--out", str(tmp_path / "out")]
    result = CliRunner().invoke(app, [*command, *args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["fills"] == label and data["optimistic"] is optimistic
    assert label in (tmp_path / "out" / "report.html").read_text()
    table = CliRunner().invoke(app, [*command, *args], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert label.split(",")[0] in " ".join(table.output.split())  # the table title names the fills


def test_one_bar_of_latency_with_close_timing_equals_next_open_in_the_cli(tmp_path: Path) -> None:
    bars = tmp_path / "bars.csv"
    random_walk_bars(300, freq="D").to_csv(bars, index=False)
    command = ["backtest", "--data", str(bars), "--fast", "5", "--slow", "20", "--json"]
    runs = [
        CliRunner().invoke(app, [*command, *extra, "--out", str(tmp_path / str(i))])
        for i, extra in enumerate((["--fill", "close", "--latency-bars", "1"], ["--fill", "next-open"]))
    ]
    delayed, next_open = (json.loads(run.stdout) for run in runs)
    assert delayed["final_equity"] == next_open["final_equity"]
    assert delayed["closed_trades"] == next_open["closed_trades"] > 0
