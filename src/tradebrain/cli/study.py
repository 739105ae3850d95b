"""`tradebrain study daytrading`: train and backtest a day-trading agent per (symbol, commission,
seed) and compare it with buy-and-hold, per symbol and for an equal-weight portfolio."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradebrain.core.errors import TradebrainError

console = Console(width=max(Console().width, 120), stderr=True)
study_app = typer.Typer(help="Studies across symbols, costs and seeds.", no_args_is_help=True)


def _fail(error: Exception) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    return typer.Exit(code=2)


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TradebrainError(f"--{what} takes comma-separated numbers, e.g. 0,0.0001 (got {text!r})") from None
    if not values:
        raise TradebrainError(f"--{what} is empty; give e.g. 0,0.0001")
    return values


def load_symbols(
    symbols: list[str], data: list[Path], datasets: list[str], synthetic: list[str], tz: str
) -> list[tuple[str, Any]]:
    """(symbol, bars) for every source: files (named by --symbols in order, else by file stem),
    built-in datasets, and synthetic intraday symbols (40 seeded sessions each)."""
    from tradebrain.data.sources.datasets import load_dataset
    from tradebrain.data.sources.files import read_bars_csv, read_bars_parquet
    from tradebrain.data.sources.synthetic import synthetic_intraday

    if symbols and len(symbols) != len(data):
        raise TradebrainError(f"--symbols names {len(symbols)} symbols for {len(data)} --data files; give one per file")
    out: list[tuple[str, Any]] = []
    for i, path in enumerate(data):
        if not path.is_file():
            raise TradebrainError(f"--data {path} is not a file; pass a CSV or Parquet file of bars")
        name = symbols[i] if symbols else path.stem
        reader = read_bars_parquet if path.suffix.lower() in (".parquet", ".pq") else read_bars_csv
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out.append((name, reader(path, name, tz=tz)))
    out += [(name, load_dataset(name)) for name in datasets]
    out += [(name, synthetic_intraday(name, days=40, seed=i)) for i, name in enumerate(synthetic)]
    if not out:
        raise TradebrainError("no data: pass --data FILE (with --symbols), --dataset NAME or --synthetic SYMBOL")
    return out


def _table(records: list[dict[str, Any]]) -> Table:
    table = Table(title="Agent vs buy-and-hold on the test sessions (mean over seeds [95% interval])")
    for column in ("symbol", "commission", "agent return", "B&H return", "agent Sharpe", "B&H Sharpe",
                   "agent max DD", "trades", "win rate"):  # fmt: skip
        table.add_column(column, justify="left" if column == "symbol" else "right")

    def cell(record: dict[str, Any], key: str, percent: bool = True) -> str:
        scale, unit = (100.0, "%") if percent else (1.0, "")
        mean, lo, hi = record[key], record.get(f"{key}_lo"), record.get(f"{key}_hi")
        text = "n/a" if mean != mean else f"{scale * mean:.2f}{unit}"
        if lo == lo and hi == hi and lo is not None and hi is not None and lo != hi:
            text += f" [{scale * lo:.2f}, {scale * hi:.2f}]"
        return text

    for r in records:
        table.add_row(
            r["symbol"], f"{r['commission']:g}", cell(r, "agent_total_return"), cell(r, "bh_total_return"),
            cell(r, "agent_sharpe", False), cell(r, "bh_sharpe", False), cell(r, "agent_max_drawdown"),
            cell(r, "agent_number_of_trades", False), cell(r, "agent_win_rate"),
        )  # fmt: skip
    return table


def run_day_trading_study(
    sources: list[tuple[str, Any]], commissions: list[float], seeds: int, updates: dict[str, Any],
    config_path: Path | None, out: Path, as_json: bool,
) -> None:  # fmt: skip
    """Run the study and print its table (or JSON): shared by `study daytrading` and `demo daytrading`."""
    from tradebrain.core.config import load_config, with_updates
    from tradebrain.desks.day_trading import DayTradingDeskConfig, run_study, symbol_data, write_report
    from tradebrain.desks.runs import start_run
    from tradebrain.reports.common import finite_json

    if seeds < 1:
        raise TradebrainError(f"--seeds must be >= 1, got {seeds}")
    config = with_updates(
        load_config(DayTradingDeskConfig, config_path), {k: v for k, v in updates.items() if v is not None}
    )
    run_dir = start_run(config, config.name, out)
    data = [symbol_data(symbol, bars, config) for symbol, bars in sources]
    cells = len(data) * len(commissions) * seeds
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, disable=as_json, transient=True) as progress:
        task = progress.add_task("study", total=cells)

        started = [0]

        def on_cell(label: str) -> None:
            progress.update(task, description=f"training + backtesting {label}", completed=started[0])
            started[0] += 1

        study = run_study(data, commissions, list(range(seeds)), config, run_dir, on_cell=on_cell)
    report = write_report(study, config, list(range(seeds)))
    records = study.table.to_dict("records")
    if as_json:
        payload = {"name": config.name, "run_dir": str(run_dir), "report": str(report), "summary": records,
                   "cells": [cell.row() for cell in study.cells]}  # fmt: skip
        typer.echo(json.dumps(finite_json(payload), default=float))
        return
    Console(width=max(Console().width, 140)).print(_table(records))
    Console().print(f"report: [bold]{report}[/]   cells: {run_dir / 'cells.csv'}")


@study_app.command("daytrading")
def study_daytrading(
    symbols: Annotated[str, typer.Option(help="names of the --data files' symbols, comma-separated, in order")] = "",
    data: Annotated[list[Path] | None, typer.Option(help="CSV or Parquet bar file of one symbol (repeat)")] = None,
    dataset: Annotated[list[str] | None, typer.Option(help="built-in dataset, e.g. eurusd-hourly (repeat)")] = None,
    synthetic: Annotated[list[str] | None, typer.Option(help="a synthetic intraday symbol (repeat)")] = None,
    train: Annotated[str, typer.Option(help="first N sessions, or START:END dates")] = "30",
    test: Annotated[str, typer.Option(help="last N sessions, or START:END dates")] = "11",
    commissions: Annotated[str, typer.Option(help="fractions of traded value per side")] = "0,0.0001,0.0002,0.0003",
    seeds: Annotated[int, typer.Option(help="training seeds per cell (0..N-1)")] = 4,
    algo: Annotated[str | None, typer.Option(help="maskable-ppo | ppo (with the invalid-action penalty)")] = None,
    timesteps: Annotated[int | None, typer.Option(help="training budget per cell, env steps")] = None,
    calendar: Annotated[str | None, typer.Option(help="exchange calendar of the sessions (default: NY dates)")] = None,
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in the files")] = "UTC",
    config: Annotated[Path | None, typer.Option(help="YAML day-trading desk config")] = None,
    name: Annotated[str | None, typer.Option(help="run name (folder under --out)")] = None,
    out: Annotated[Path, typer.Option(help="root folder of run outputs")] = Path("runs"),
    as_json: Annotated[bool, typer.Option("--json", help="print the results as one JSON object")] = False,
) -> None:
    """Train (MaskablePPO by default) and backtest out of sample per symbol, commission and seed; compare
    with buy-and-hold per symbol and for an equal-weight portfolio; write runs/<name>/report.html."""
    try:
        names = [part.strip() for part in symbols.split(",") if part.strip()]
        sources = load_symbols(names, data or [], dataset or [], synthetic or [], tz)
        updates = {"name": name, "train.algo": algo, "train.timesteps": timesteps, "calendar": calendar,
                   "train_sessions": train, "test_sessions": test}  # fmt: skip
        run_day_trading_study(sources, _floats(commissions, "commissions"), seeds, updates, config, out, as_json)
    except TradebrainError as error:
        raise _fail(error) from None
