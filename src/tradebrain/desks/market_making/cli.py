"""The market-making desk's terminal output and its own command, `tradebrain market-making replicate`
(also `tradebrain mm replicate`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tradebrain.core.cli import JsonOption, console, fail, interval_cell
from tradebrain.core.errors import TradebrainError

app = typer.Typer(help="Market-making desk: quote a bid and an ask around the mid.", no_args_is_help=True)

COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("utility $", "utility", "{:,.2f}".format),
    ("utility − A-S $", "utility_minus_A-S inventory", "{:,.2f}".format),
    ("utility − symmetric $", "utility_minus_symmetric", "{:,.2f}".format),
    ("PnL mean $", "pnl_mean", "{:,.2f}".format),
    ("PnL std $", "pnl_std", "{:,.2f}".format),
    ("spread $", "mean_spread", "{:,.3f}".format),
    ("final q std", "inventory_std", "{:,.2f}".format),
    ("max |q|", "max_abs_inventory", "{:,.2f}".format),
)


def print_result(result: Mapping[str, Any], out: Console) -> None:
    """Every policy's utility, PnL, spread and inventory on the held-out episodes, with intervals."""
    table = Table(title=f"{result['name']}: {result['episodes']:,} held-out episodes (95% bootstrap intervals below)")
    table.add_column("policy")
    for title, _, _ in COLUMNS:
        table.add_column(title, justify="right")
    for policy, metrics in result["policies"].items():
        table.add_row(policy, *(interval_cell(metrics.get(key), fmt) for _, key, fmt in COLUMNS))
    out.print(table)
    if "report" in result:
        out.print(f"report: [bold]{result['report']}[/]   model: {result['model']}")


REPLICATE_COLUMNS = (("profit mean", "profit_mean"), ("profit std", "profit_std"), ("final q mean", "final_q_mean"),
              ("final q std", "final_q_std"))  # fmt: skip


@app.command("replicate")
def replicate(
    gamma: Annotated[float, typer.Option(help="risk aversion gamma (> 0); the paper uses 0.1, 0.01 and 1")] = 0.1,
    paths: Annotated[int, typer.Option(help="simulated paths (>= 2), the same for both strategies")] = 1000,
    seed: Annotated[int, typer.Option(help="first path's seed; paths use seed..seed+paths-1")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Replicate the Avellaneda-Stoikov (2008) simulation: the inventory strategy against the symmetric one."""
    from tradebrain.desks.market_making.replication import replicate as run_replication

    try:
        result = run_replication(gamma, paths, seed)
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    table = Table(
        title=f"Avellaneda-Stoikov simulation, gamma = {gamma:g}: {paths:,} paths (95% bootstrap intervals below)",
        show_lines=True,
    )
    table.add_column("strategy")
    table.add_column("average spread", justify="right")
    for title, _ in REPLICATE_COLUMNS:
        table.add_column(title, justify="right")
    fmt = "{:,.2f}".format
    for name, metrics in result["strategies"].items():
        table.add_row(
            name, fmt(metrics["average_spread"]), *(interval_cell(metrics[key], fmt) for _, key in REPLICATE_COLUMNS)
        )
    console.print(table)
    console.print(f"formula gamma*sigma^2*T/2 + (2/gamma)*ln(1 + gamma/k) = {result['formula_spread']:.4f}")
