"""The day-trading desk's study command (`tradebrain study daytrading`), its demo's sources, and its
terminal output: train and backtest an agent per (symbol, commission, seed) and compare it with
buy-and-hold, per symbol and for an equal-weight portfolio."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradebrain.core.cli import JsonOption, OutOption, fail
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import TradebrainError

if TYPE_CHECKING:
    from tradebrain.desks.day_trading.study import DayTradingDeskConfig, Study


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
    from tradebrain.data.sources.files import read_bars_file
    from tradebrain.data.sources.synthetic import synthetic_intraday

    if symbols and len(symbols) != len(data):
        raise TradebrainError(f"--symbols names {len(symbols)} symbols for {len(data)} --data files; give one per file")
    out: list[tuple[str, Any]] = []
    for i, path in enumerate(data):
        if not path.is_file():
            raise TradebrainError(f"--data {path} is not a file; pass a CSV or Parquet file of bars")
        name = symbols[i] if symbols else path.stem
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            out.append((name, read_bars_file(path, name, tz=tz)))
    out += [(name, load_dataset(name)) for name in datasets]
    out += [(name, synthetic_intraday(name, days=40, seed=i)) for i, name in enumerate(synthetic)]
    if not out:
        raise TradebrainError("no data: pass --data FILE (with --symbols), --dataset NAME or --synthetic SYMBOL")
    return out


def demo_sources() -> list[tuple[str, Any]]:
    """The demo's symbols: 40 seeded synthetic sessions of 1-minute bars, and hourly EURUSD."""
    from tradebrain.data.sources.datasets import load_dataset
    from tradebrain.data.sources.synthetic import synthetic_intraday

    return [("SYN", synthetic_intraday("SYN", days=40, seed=0)), ("EURUSD", load_dataset("eurusd-hourly"))]


@dataclass(frozen=True)
class StudyRun:
    """A finished study and where it was written."""

    name: str
    run_dir: Path
    report: Path
    study: Study
    ladder: Any = None
    """The realism ladder's summary table (a DataFrame), when the study ran it."""
    fills: str = ""
    """The label of the fills the cells trained and were tested under."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the per-(symbol, commission) summary across seeds and every cell."""
        from tradebrain.reports.common import finite_json

        payload = {
            "name": self.name, "run_dir": str(self.run_dir), "report": str(self.report), "fills": self.fills,
            "summary": self.study.table.to_dict("records"), "cells": [cell.row() for cell in self.study.cells],
        }  # fmt: skip
        if self.ladder is not None:
            payload["ladder"] = self.ladder.to_dict("records")
        result: dict[str, Any] = finite_json(payload)
        return result


def run_day_trading_study(
    sources: Sequence[tuple[str, Any]],
    commissions: Sequence[float],
    seeds: int,
    config: DayTradingDeskConfig,
    out: Path,
    progress: bool = True,
    ladder: bool = False,
    ladder_train: bool = False,
) -> StudyRun:
    """Train and backtest every (symbol, commission, seed) cell with a progress bar, write the report:
    shared by `study daytrading` and the desk's demo. With `ladder`, also re-run every trained cell at
    each rung of the realism ladder (desks/day_trading/ladder.py); with `ladder_train`, train and
    test every cell afresh at each rung: ladder.csv, ladder_cells.csv and ladder.png."""
    from tradebrain.desks.day_trading.study import run_study, symbol_data, write_report
    from tradebrain.desks.runs import start_run

    if seeds < 1:
        raise TradebrainError(f"--seeds must be >= 1, got {seeds}")
    run_dir = start_run(config, config.name, out)
    data = [symbol_data(symbol, bars, config) for symbol, bars in sources]
    import pandas as pd

    from tradebrain.desks.day_trading.ladder import RUNGS

    cells = len(data) * len(commissions) * seeds
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=stderr_console, disable=not progress, transient=True) as bar:
        task = bar.add_task("study", total=cells * (1 + len(RUNGS) * ladder_train))
        started = [0]

        def on_cell(label: str) -> None:
            bar.update(task, description=f"training + backtesting {label}", completed=started[0])
            started[0] += 1

        study = run_study(data, commissions, list(range(seeds)), config, run_dir, on_cell=on_cell)
        report = write_report(study, config, list(range(seeds)))
        summary = None
        if ladder or ladder_train:
            from tradebrain.desks.day_trading.ladder import (
                run_ladder,
                run_trained_ladder,
                summarise_ladder,
                write_ladder,
            )

            parts = []
            if ladder:
                bar.update(task, description="realism ladder: re-running every trained cell at each rung")
                parts.append(run_ladder(study.cells, data, config))
            if ladder_train:
                parts.append(
                    run_trained_ladder(data, commissions, list(range(seeds)), config, run_dir, on_cell=on_cell)
                )
            rows = pd.concat(parts, ignore_index=True)
            summary = summarise_ladder(rows)
            write_ladder(rows, summary, run_dir)
    return StudyRun(config.name, run_dir, report, study, summary, config.env.venue.label())


def _interval(record: Mapping[str, Any], key: str, percent: bool = True) -> str:
    scale, unit = (100.0, "%") if percent else (1.0, "")
    mean, lo, hi = record[key], record.get(f"{key}_lo"), record.get(f"{key}_hi")
    text = "n/a" if mean is None else f"{scale * mean:.2f}{unit}"
    if lo is not None and hi is not None and lo != hi:
        text += f" [{scale * lo:.2f}, {scale * hi:.2f}]"
    return text


def study_table(records: Sequence[Mapping[str, Any]], fills: str = "") -> Table:
    """Agent vs buy-and-hold per symbol and commission: means over seeds with 95% intervals."""
    under = f", fills: {fills}" if fills else ""
    table = Table(title=f"Agent vs buy-and-hold on the test sessions{under} (mean over seeds [95% interval])")
    for column in ("symbol", "commission", "agent return", "B&H return", "agent Sharpe", "B&H Sharpe",
                   "agent max DD", "trades", "win rate"):  # fmt: skip
        table.add_column(column, justify="left" if column == "symbol" else "right")
    for r in records:
        table.add_row(
            r["symbol"], f"{r['commission']:g}", _interval(r, "agent_total_return"), _interval(r, "bh_total_return"),
            _interval(r, "agent_sharpe", False), _interval(r, "bh_sharpe", False),
            _interval(r, "agent_max_drawdown"), _interval(r, "agent_number_of_trades", False),
            _interval(r, "agent_win_rate"),
        )  # fmt: skip
    return table


def ladder_table(records: Sequence[Mapping[str, Any]]) -> Table:
    """The realism ladder: the same trained cells as fills become realistic, against buy-and-hold."""
    table = Table(title="Realism ladder on the test sessions (mean over seeds [95% CI])")
    for column in ("symbol", "commission", "trained", "fills", "agent return", "B&H return", "agent - B&H",
                   "agent Sharpe", "trades/session"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("symbol", "trained", "fills") else "right")
    for r in records:
        table.add_row(
            r["symbol"], f"{r['commission']:g}", r["trained"], r["rung"], _interval(r, "total_return"),
            _interval(r, "bh_total_return"), _interval(r, "excess_return"), _interval(r, "sharpe", False),
            _interval(r, "trades_per_session", False),
        )  # fmt: skip
    return table


def evaluation_table(result: Mapping[str, Any]) -> Table:
    """A saved agent and buy-and-hold on the same test sessions."""
    fills = f", fills: {result['fills']}" if result.get("fills") else ""
    table = Table(title=f"{result['name']}: {result['symbol']}, {result['sessions']} test sessions{fills}")
    for column in ("policy", "return", "Sharpe", "max drawdown", "trades", "win rate"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for policy, m in result["policies"].items():
        table.add_row(
            policy, _interval(m, "total_return"), _interval(m, "sharpe", False), _interval(m, "max_drawdown"),
            _interval(m, "number_of_trades", False), _interval(m, "win_rate"),
        )  # fmt: skip
    return table


def print_result(result: Mapping[str, Any], out: Console) -> None:
    """A study's table (and where its report is), or a saved model's evaluation."""
    if "summary" in result:
        wide = Console(width=max(out.width, 140))
        wide.print(study_table(result["summary"], result.get("fills", "")))
        if result.get("ladder"):
            wide.print(ladder_table(result["ladder"]))
            out.print(f"ladder: [bold]{Path(result['run_dir']) / 'ladder.png'}[/] and ladder.csv")
        out.print(f"report: [bold]{result['report']}[/]   cells: {Path(result['run_dir']) / 'cells.csv'}")
    else:
        out.print(evaluation_table(result))


def study(
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
    fill: Annotated[
        str | None, typer.Option(help="next-open (default) | close (optimistic) | next-vwap | next-typical")
    ] = None,
    spread: Annotated[
        str | None, typer.Option(help="range (default: from each bar's high-low range) | fixed | none")
    ] = None,
    spread_bps: Annotated[
        float | None, typer.Option(help="full quoted spread for --spread fixed, basis points")
    ] = None,
    latency_bars: Annotated[int | None, typer.Option(help="bars between a decision and the venue (default 0)")] = None,
    ladder: Annotated[
        bool,
        typer.Option(
            help="also re-run every trained cell as fills get realistic: close, next open, + spread, + latency, + cap"
        ),
    ] = False,
    ladder_train: Annotated[
        bool, typer.Option(help="also train and test every cell afresh under each rung's fills (5x the training)")
    ] = False,
    out: OutOption = Path("runs"),
    as_json: JsonOption = False,
) -> None:
    """Train (MaskablePPO by default) and backtest out of sample per symbol, commission and seed; compare
    with buy-and-hold per symbol and for an equal-weight portfolio; write runs/<name>/report.html.
    Fills: the next bar's open plus half the range-estimated spread, unless --fill/--spread/--latency-bars
    say otherwise (the env trains under them too). `--ladder` re-runs the trained cells at each rung of
    the realism ladder, `--ladder-train` trains and tests each cell at each rung (ladder.csv, ladder.png)."""
    from tradebrain.core.cli import console
    from tradebrain.core.config import load_config, with_updates
    from tradebrain.desks.day_trading.study import DayTradingDeskConfig
    from tradebrain.market.venue import venue_from_options

    try:
        names = [part.strip() for part in symbols.split(",") if part.strip()]
        sources = load_symbols(names, data or [], dataset or [], synthetic or [], tz)
        updates = {"name": name, "train.algo": algo, "train.timesteps": timesteps, "calendar": calendar,
                   "train_sessions": train, "test_sessions": test}  # fmt: skip
        desk_config = with_updates(
            load_config(DayTradingDeskConfig, config), {k: v for k, v in updates.items() if v is not None}
        )
        venue = venue_from_options(desk_config.env.venue, fill, spread, spread_bps, latency_bars)
        desk_config = with_updates(desk_config, {"env.venue": venue.model_dump()})
        result = run_day_trading_study(
            sources,
            _floats(commissions, "commissions"),
            seeds,
            desk_config,
            out,
            progress=not as_json,
            ladder=ladder,
            ladder_train=ladder_train,
        ).as_dict()
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result, default=float))
        return
    print_result(result, console)
