"""The execution desk's terminal output and its own command, `tradebrain execution analyze`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from tradebrain.core.cli import ConfigOption, JsonOption, console, fail, interval_cell
from tradebrain.core.errors import TradebrainError

app = typer.Typer(help="Execution desk: liquidate a block before a deadline.", no_args_is_help=True)


def _money(value: float) -> str:
    """Whole dollars with separators; beyond a quadrillion in scientific notation, so the table fits."""
    return f"{value:,.0f}" if abs(value) < 1e15 else f"{value:.4g}"


def _compact(value: float) -> str:
    """$1.28M-style dollars, so a table with intervals fits a terminal."""
    from tradebrain.reports.common import compact_usd

    return compact_usd(value, unit=False)


COMPARISON_COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("shortfall bps", "shortfall_bps", "{:,.1f}".format),
    ("E+λV $", "objective_usd", _compact),
    ("E+λV − AC-optimal $", "objective_minus_AC-optimal", _compact),
    ("savings vs TWAP bps", "savings_bps", "{:,.1f}".format),
    ("win rate vs TWAP", "win_rate", "{:.0%}".format),
    ("IR", "information_ratio", "{:.2f}".format),
    ("5% VaR of savings $", "var5_savings_usd", _compact),
)


def comparison_table(result: Mapping[str, Any]) -> Table:
    """Every policy's metrics on the held-out episodes, each with its 95% bootstrap interval."""
    table = Table(
        title=f"{result['name']}: {result['episodes']:,} held-out episodes (95% bootstrap intervals below)",
        show_lines=True,
    )
    table.add_column("policy")
    for title, _, _ in COMPARISON_COLUMNS:
        table.add_column(title, justify="right")
    for name, metrics in result["policies"].items():
        table.add_row(name, *(interval_cell(metrics.get(key), fmt) for _, key, fmt in COMPARISON_COLUMNS))
    return table


def print_result(result: Mapping[str, Any], out: Console) -> None:
    """The comparison table, then (after a demo) the AC closed form and where the report is."""
    out.print(comparison_table(result))
    analysis = result.get("analysis")
    if analysis is not None:
        out.print(
            f"AC closed form: kappa = {analysis['kappa']:.4f}/day (continuous approximation "
            f"{analysis['kappa_continuous_approximation']:.4f}), E+λV of the optimum = "
            f"${_money(analysis['schedules']['AC-optimal']['objective'])}"
        )
    if "report" in result:
        out.print(f"report: [bold]{result['report']}[/]   model: {result['model']}")


@app.command("analyze")
def analyze(
    config: ConfigOption = None,
    risk_aversion: Annotated[float | None, typer.Option("--lambda", help="risk aversion lambda, 1/$")] = None,
    as_json: JsonOption = False,
) -> None:
    """Closed forms for the AC-optimal schedule at lambda, TWAP and sell-now: kappa, holdings, E, V, E+λV."""
    from tradebrain.desks.execution.desk import DESK
    from tradebrain.desks.execution.study import analyze as closed_forms

    try:
        if risk_aversion is not None and not (math.isfinite(risk_aversion) and risk_aversion >= 0):
            raise TradebrainError(f"--lambda must be a finite number >= 0, got {risk_aversion}")
        result = closed_forms(DESK.config(config), risk_aversion)
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result))
        return
    console.print(
        f"lambda = {result['risk_aversion']:g}/$, tau = {result['tau']:g} day, kappa = {result['kappa']:.6f}/day "
        f"(continuous approximation {result['kappa_continuous_approximation']:.6f})"
    )
    table = Table(title="Almgren-Chriss closed forms")
    for column in ("schedule", "holdings x_0..x_N", "E $", "V $²", "E+λV $"):
        table.add_column(column, justify="left" if column in ("schedule", "holdings x_0..x_N") else "right")
    for name, schedule in result["schedules"].items():
        holdings = ", ".join(_money(x) for x in schedule["holdings"][:8]) + (
            " …" if len(schedule["holdings"]) > 8 else ""
        )
        table.add_row(
            name,
            holdings,
            _money(schedule["expected"]),
            f"{schedule['variance']:.4g}",
            _money(schedule["objective"]),
        )
    console.print(table)
