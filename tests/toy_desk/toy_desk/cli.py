"""The toy desk's terminal output and its own command, `tradebrain toy kelly` (imported when the CLI
starts, so it stays light: the game is imported inside the command)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tradebrain.core.cli import JsonOption, console, interval_cell

app = typer.Typer(help="Coin betting: stake a fraction of wealth on a biased coin.", no_args_is_help=True)

COLUMNS = (
    ("log growth", "growth"),
    ("regret vs Kelly", "regret"),
    ("median wealth ×", "median_wealth"),
    ("ruin rate", "ruin_rate"),
)


def print_result(result: Mapping[str, Any], out: Console) -> None:
    """Every policy's metrics with 95% intervals, the agent's paired difference against each, and
    (after a demo) where the report is."""
    table = Table(
        title=f"{result['name']}: {result['episodes']:,} held-out episodes of {result['rounds']} bets "
        "(95% bootstrap intervals below)",
        show_lines=True,
    )
    table.add_column("policy")
    for title, _ in COLUMNS:
        table.add_column(title, justify="right")
    table.add_column(f"{result['agent']} − policy log growth", justify="right")
    for name, metrics in result["policies"].items():
        difference = result["agent_minus"].get(name, {}).get("growth")
        cells = [interval_cell(metrics.get(key), "{:.3f}".format) for _, key in COLUMNS]
        table.add_row(name, *cells, interval_cell(difference, "{:+.3f}".format))
    out.print(table)
    if "report" in result:
        out.print(f"report: [bold]{result['report']}[/]   model: {result['model']}")


@app.command("kelly")
def kelly(
    p: Annotated[float, typer.Option(min=0.0, max=1.0, help="the coin's win probability")] = 0.6,
    as_json: JsonOption = False,
) -> None:
    """Closed form: the expected log growth per bet of the Kelly stake 2p - 1, half-Kelly and all-in."""
    from toy_desk.coin import GameConfig, expected_log_growth, kelly_fraction

    max_bet = GameConfig().max_bet
    best = float(kelly_fraction(p, max_bet))
    stakes = {"Kelly": best, "half-Kelly": best / 2, "all-in": max_bet}
    rows = {name: {"stake": f, "growth_per_bet": float(expected_log_growth(f, p))} for name, f in stakes.items()}
    if as_json:
        typer.echo(json.dumps({"p": p, "policies": rows}))
        return
    table = Table(title=f"expected log growth per bet at p = {p:g}")
    for column in ("policy", "stake", "E log growth"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    for name, row in rows.items():
        table.add_row(name, f"{row['stake']:.3f}", f"{row['growth_per_bet']:+.4f}")
    console.print(table)
