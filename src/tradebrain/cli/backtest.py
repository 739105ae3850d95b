"""`tradebrain backtest`: run a policy over a bar file, print its metrics and write the report."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from tradebrain.backtest.engine import BacktestResult
from tradebrain.core.cli import fail
from tradebrain.core.errors import InputError, TradebrainError

console = Console(width=max(Console().width, 120))
IMPACTS = ("none", "sqrt")
ORDER_KINDS = ("market", "limit")


def backtest(
    policy: Annotated[str, typer.Option(help="buy-and-hold | sma-crossover | random")] = "sma-crossover",
    data: Annotated[Path | None, typer.Option(help="CSV or Parquet bar file")] = None,
    symbol: Annotated[str, typer.Option(help="instrument of the file's bars")] = "ASSET",
    tz: Annotated[str, typer.Option(help="time zone of naive timestamps in the file")] = "UTC",
    fast: Annotated[int, typer.Option(help="fast SMA window (sma-crossover)")] = 10,
    slow: Annotated[int, typer.Option(help="slow SMA window (sma-crossover)")] = 20,
    seed: Annotated[int, typer.Option(help="seed (random)")] = 0,
    cash: Annotated[float, typer.Option(help="initial cash, $")] = 10_000.0,
    commission: Annotated[float, typer.Option(help="fraction of traded value, both sides")] = 0.0,
    fill: Annotated[
        str, typer.Option(help="next-open (default) | close (optimistic) | next-vwap | next-typical")
    ] = "next-open",
    spread: Annotated[
        str, typer.Option(help="none | fixed (--spread-bps) | range (estimated from each bar's high-low range)")
    ] = "range",
    spread_bps: Annotated[float, typer.Option(help="full quoted spread for --spread fixed, basis points")] = 0.0,
    latency_bars: Annotated[int, typer.Option(help="bars between a decision and the venue")] = 0,
    impact: Annotated[
        str, typer.Option(help="none | sqrt (coefficient * sigma * sqrt(quantity / bar volume); needs volume)")
    ] = "none",
    impact_coefficient: Annotated[float, typer.Option(help="square-root impact coefficient for --impact sqrt")] = 0.0,
    orders: Annotated[
        str, typer.Option(help="market | limit (priced at the deciding close, --limit-offset-bps better)")
    ] = "market",
    limit_offset_bps: Annotated[
        float | None, typer.Option(help="--orders limit: basis points below the close to buy, above it to sell")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="output folder (default runs/backtest-<policy>)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the results as one JSON object")] = False,
) -> None:
    """Backtest a policy bar by bar (orders at t fill at t+1's open, paying the half spread), against
    buy-and-hold on the same bars and fills."""
    from tradebrain.backtest.engine import BacktestConfig, run_backtest
    from tradebrain.backtest.metrics import summarize
    from tradebrain.backtest.strategies import make_strategy
    from tradebrain.data.sources.files import read_bars_file
    from tradebrain.market.fills import market_delay
    from tradebrain.market.venue import TIMING_CODES, VenueConfig, venue_from_options
    from tradebrain.reports.backtest import write_backtest_report

    try:
        check_options(policy, fast, slow, cash, commission)
        check_order_options(impact, impact_coefficient, orders, limit_offset_bps)
        impacts = {"impact": impact, "impact_coefficient": impact_coefficient}  # checked above
        venue = venue_from_options(VenueConfig(**impacts), fill, spread, spread_bps, latency_bars)
        if data is None or not data.is_file():
            raise TradebrainError(f"--data {data} is not a file; pass a CSV or Parquet file of bars")
        bars = read_bars_file(data, symbol, tz=tz)
        delay = int(market_delay(TIMING_CODES[venue.fill], latency_bars))
        check_length(policy, slow, fill, len(bars), data, delay)
        params = {"sma-crossover": {"fast": fast, "slow": slow}, "random": {"seed": seed}}.get(policy, {})
        strategy = make_strategy(policy, **params)
        config = BacktestConfig(
            cash=cash,
            commission=commission,
            venue=venue,
            orders="limit" if orders == "limit" else "market",
            limit_offset_bps=limit_offset_bps,
        )
        with console.status("backtesting", spinner="dots") if not as_json else contextlib.nullcontext():
            result = run_backtest(bars, strategy, config)
            benchmark = run_backtest(bars, make_strategy("buy-and-hold"), config)
        trades = result.trades_frame()
        bench_equity = benchmark.equity_frame()["equity"]
        metrics = summarize(
            result.equity_frame()["equity"], trades, positions=_positions(result), benchmark=bench_equity
        )
        bench_metrics = summarize(bench_equity, benchmark.trades_frame(), positions=_positions(benchmark))
        folder = out or Path("runs") / f"backtest-{policy}"
        paths = write_backtest_report(
            result, metrics, bars["close"].to_numpy(), folder, title=f"{policy} on {symbol} ({result.label})",
            benchmark=benchmark, benchmark_metrics=bench_metrics,
        )  # fmt: skip
    except (TradebrainError, ValueError) as error:
        raise fail(error) from None
    summary = {
        "policy": policy, "symbol": symbol, "fills": result.label, "optimistic": config.optimistic,
        "metrics": metrics, "final_equity": result.final_equity,
        "closed_trades": len(trades), "equity_file": str(paths["equity.csv"]), "trades_file": str(paths["trades.csv"]),
        "report": str(paths["report.html"]),
    }  # fmt: skip
    if as_json:
        typer.echo(json.dumps(summary, default=float))
        return
    table = Table(
        title=f"{policy} on {symbol} ({result.label}): {len(bars):,} bars, final equity ${result.final_equity:,.2f}"
    )
    for column in ("metric", policy, "buy-and-hold"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:,.4g}", f"{bench_metrics.get(key, float('nan')):,.4g}")
    console.print(table)
    console.print(f"{len(trades)} closed trades · report: [bold]{paths['report.html']}[/]")


def check_options(policy: str, fast: int, slow: int, cash: float, commission: float) -> None:
    """Reject options that would run but report nothing meaningful (NaN metrics), before the data is read:
    an InputError naming the option, its value and the range that works."""
    if not (math.isfinite(cash) and cash > 0):
        raise InputError(f"--cash must be a positive amount of dollars, got {cash:g}; e.g. --cash 10000")
    if not (math.isfinite(commission) and 0 <= commission < 1):
        raise InputError(
            f"--commission is a fraction of the traded value in [0, 1) (0.001 = 0.1% per side), got {commission:g}"
        )
    if policy != "sma-crossover":
        return
    for option, window in (("--fast", fast), ("--slow", slow)):
        if window < 1:
            raise InputError(f"{option} is an SMA window in bars and must be at least 1, got {window}; e.g. 10 and 20")
    if fast >= slow:
        raise InputError(f"--fast ({fast}) must be shorter than --slow ({slow}); e.g. --fast 10 --slow 20")


def check_order_options(impact: str, impact_coefficient: float, orders: str, limit_offset_bps: float | None) -> None:
    """Reject impact and order-style options that cannot work, before the data is read: an
    InputError naming the option (a limit order needs a price; impact needs a coefficient)."""
    if impact not in IMPACTS:
        raise InputError(f"--impact must be one of {', '.join(IMPACTS)}, got {impact!r}")
    if not (math.isfinite(impact_coefficient) and impact_coefficient >= 0):
        raise InputError(
            f"--impact-coefficient scales square-root impact and must be >= 0, got {impact_coefficient:g}; e.g. 0.5"
        )
    if impact_coefficient > 0 and impact != "sqrt":
        raise InputError(
            f"--impact-coefficient {impact_coefficient:g} applies only with --impact sqrt (got --impact {impact})"
        )
    if impact == "sqrt" and impact_coefficient == 0:
        raise InputError("--impact sqrt needs --impact-coefficient > 0 (e.g. 0.5); with 0 there is no impact")
    if orders not in ORDER_KINDS:
        raise InputError(f"--orders must be one of {', '.join(ORDER_KINDS)}, got {orders!r}")
    if orders == "limit" and limit_offset_bps is None:
        raise InputError(
            "--orders limit needs --limit-offset-bps: a limit order needs a price (the deciding bar's close, "
            "that many basis points better); e.g. --limit-offset-bps 5, or 0 for a limit at the close"
        )
    if limit_offset_bps is not None:
        if orders != "limit":
            raise InputError(f"--limit-offset-bps {limit_offset_bps:g} applies only with --orders limit")
        if not (math.isfinite(limit_offset_bps) and 0 <= limit_offset_bps < 10_000):
            raise InputError(
                f"--limit-offset-bps is basis points in [0, 10000) and must not be negative, got {limit_offset_bps:g}; "
                "e.g. 5 buys 0.05% below the close"
            )


def check_length(policy: str, slow: int, fill: str, n_bars: int, data: Path, delay: int | None = None) -> None:
    """The data must be long enough for the strategy to trade at all, else every metric is NaN: a
    crossover needs `slow` + 1 closes for its first possible cross and `delay` more bars to fill it
    (1 at the next open, 0 at the close, plus latency). Any policy needs a bar after its first
    decision (or two bars filled at the close), and bars to cover the delay."""
    follow = delay if delay is not None else (1 if fill == "next-open" else 0)
    if policy == "sma-crossover":
        needed = slow + 1 + follow
        if n_bars < needed:
            longest = n_bars - 1 - follow  # fast < slow, so the shortest slow window is 2
            fix = f"use --slow {longest} or less" if longest >= 2 else f"a crossover needs at least {3 + follow} bars"
            to_fill = ""
            if follow == 1:
                to_fill = ", + 1 to fill it at the next open"
            elif follow > 1:
                to_fill = f", + {follow} to fill it after the latency (--latency-bars)"
            raise InputError(
                f"--slow {slow} needs at least {needed} bars ({slow} + 1 closes for the first crossing"
                f"{to_fill}), but --data {data} has {n_bars}; {fix}, or pass a longer --data file"
            )
    elif n_bars < 2:
        raise InputError(f"--data {data} has {n_bars} bar{'s' if n_bars != 1 else ''}; a backtest needs at least 2")
    elif follow >= n_bars:
        raise InputError(
            f"--latency-bars delays every fill by {follow} bars but --data {data} has {n_bars}; lower --latency-bars"
        )


def _positions(result: BacktestResult) -> pd.DataFrame:
    """Shares held per bar and symbol, for the exposure metric."""
    return pd.DataFrame(result.positions, index=result.timestamps, columns=result.symbols)
