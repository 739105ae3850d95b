"""The `tradebrain` command line: demo, execution, mm, data and config commands."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tradebrain.cli.backtest import backtest
from tradebrain.cli.data import data_app
from tradebrain.cli.experiments import run as run_experiment
from tradebrain.cli.experiments import tune as tune_experiment
from tradebrain.cli.study import run_day_trading_study, study_app
from tradebrain.core.config import load_config, with_updates
from tradebrain.core.errors import TradebrainError

app = typer.Typer(
    help="Train, backtest and compare RL trading strategies against classical ones.", no_args_is_help=True
)
execution_app = typer.Typer(help="Execution desk: liquidate a block before a deadline.", no_args_is_help=True)
config_app = typer.Typer(help="Inspect configurations.", no_args_is_help=True)
app.add_typer(execution_app, name="execution")
app.add_typer(config_app, name="config")
mm_app = typer.Typer(help="Market-making desk: quote a bid and an ask around the mid.", no_args_is_help=True)
app.add_typer(mm_app, name="mm")
app.add_typer(data_app, name="data")
app.add_typer(study_app, name="study")
app.command("backtest")(backtest)
app.command("run")(run_experiment)
app.command("tune")(tune_experiment)
console = Console(width=max(Console().width, 120))

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: embedded defaults, see configs/)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the results as one JSON object on stdout")]


def _fail(error: Exception) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    return typer.Exit(code=2)


def _desk_config(path: Path | None, updates: dict[str, Any]) -> Any:
    from tradebrain.desks.execution import ExecutionDeskConfig

    config = load_config(ExecutionDeskConfig, path)
    return with_updates(config, {key: value for key, value in updates.items() if value is not None})


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _compact(value: float) -> str:
    """$1.28M-style dollars, so a table with intervals fits a terminal."""
    from tradebrain.reports.common import compact_usd

    return compact_usd(value, unit=False)


def _cell(estimate: dict[str, float] | None, fmt: Callable[[float], str]) -> str:
    """The estimate, and its 95% interval dimmed on a second line."""
    if estimate is None:
        return "—"
    return f"{fmt(estimate['value'])}\n[dim][{fmt(estimate['low'])}, {fmt(estimate['high'])}][/dim]"


COMPARISON_COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("shortfall bps", "shortfall_bps", "{:,.1f}".format),
    ("E+λV $", "objective_usd", _compact),
    ("E+λV − AC-optimal $", "objective_minus_AC-optimal", _compact),
    ("savings vs TWAP bps", "savings_bps", "{:,.1f}".format),
    ("win rate vs TWAP", "win_rate", "{:.0%}".format),
    ("IR", "information_ratio", "{:.2f}".format),
    ("5% VaR of savings $", "var5_savings_usd", _compact),
)


def _comparison_table(result: dict[str, Any]) -> Table:
    table = Table(
        title=f"{result['name']}: {result['episodes']:,} held-out episodes (95% bootstrap intervals below)",
        show_lines=True,
    )
    table.add_column("policy")
    for title, _, _ in COMPARISON_COLUMNS:
        table.add_column(title, justify="right")
    for name, metrics in result["policies"].items():
        table.add_row(name, *(_cell(metrics.get(key), fmt) for _, key, fmt in COMPARISON_COLUMNS))
    return table


DESKS = ("execution", "market-making", "daytrading")


@app.command()
def demo(
    desk: Annotated[str, typer.Argument(help="execution | market-making | daytrading")] = "execution",
    config: ConfigOption = None,
    name: Annotated[str | None, typer.Option(help="run name (folder under --out)")] = None,
    algo: Annotated[str | None, typer.Option(help="ppo | sac | dqn")] = None,
    timesteps: Annotated[int | None, typer.Option(help="training budget in env steps")] = None,
    episodes: Annotated[int | None, typer.Option(help="held-out evaluation episodes per policy")] = None,
    seed: Annotated[int | None, typer.Option(help="training seed")] = None,
    out: Annotated[Path, typer.Option(help="root folder of run outputs")] = Path("runs"),
    as_json: JsonOption = False,
) -> None:
    """Train an agent for a desk and compare it with the desk's baselines on held-out episodes.

    execution: vs TWAP, VWAP, sell-now and the Almgren-Chriss optimum; market-making: vs the
    Avellaneda-Stoikov inventory strategy, the symmetric quoter and GLFT; daytrading: MaskablePPO vs
    buy-and-hold on synthetic 1-minute bars and hourly EURUSD at two commissions, two seeds. Writes
    runs/<name>/report.html.
    """
    updates = {
        "name": name, "train.algo": algo, "train.timesteps": timesteps, "train.seed": seed,
        "evaluate.episodes": episodes,
    }  # fmt: skip
    try:
        if desk not in DESKS:
            close = difflib.get_close_matches(desk, DESKS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise TradebrainError(f"unknown desk '{desk}'{hint} (choose from {', '.join(DESKS)})")
        if desk == "market-making":
            _market_making_demo(config, updates, out, as_json)
            return
        if desk == "daytrading":
            _day_trading_demo(config, updates, out, as_json)
            return
        from tradebrain.desks.execution import run_study

        result = run_study(_desk_config(config, updates), out, progress=True).as_dict()
    except TradebrainError as error:
        raise _fail(error) from None
    if as_json:
        typer.echo(json.dumps(result, default=float))
        return
    console.print(_comparison_table(result))
    analysis = result["analysis"]
    console.print(
        f"AC closed form: kappa = {analysis['kappa']:.4f}/day (continuous approximation "
        f"{analysis['kappa_continuous_approximation']:.4f}), E+λV of the optimum = "
        f"${_money(analysis['schedules']['AC-optimal']['objective'])}"
    )
    console.print(f"report: [bold]{result['report']}[/]   model: {result['model']}")


def _day_trading_demo(config: Path | None, updates: dict[str, Any], out: Path, as_json: bool) -> None:
    from tradebrain.data.sources.datasets import load_dataset
    from tradebrain.data.sources.synthetic import synthetic_intraday

    sources = [("SYN", synthetic_intraday("SYN", days=40, seed=0)), ("EURUSD", load_dataset("eurusd-hourly"))]
    demo_updates = {
        "name": updates["name"] or "daytrading-demo", "train.algo": updates["train.algo"],
        "train.timesteps": updates["train.timesteps"] or 30_000, "train_sessions": "30", "test_sessions": "10",
    }  # fmt: skip
    run_day_trading_study(sources, [0.0, 0.0001], 2, demo_updates, config, out, as_json)


MM_COLUMNS: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("utility $", "utility", "{:,.2f}".format),
    ("utility − A-S $", "utility_minus_A-S inventory", "{:,.2f}".format),
    ("utility − symmetric $", "utility_minus_symmetric", "{:,.2f}".format),
    ("PnL mean $", "pnl_mean", "{:,.2f}".format),
    ("PnL std $", "pnl_std", "{:,.2f}".format),
    ("spread $", "mean_spread", "{:,.3f}".format),
    ("final q std", "inventory_std", "{:,.2f}".format),
    ("max |q|", "max_abs_inventory", "{:,.2f}".format),
)


def _market_making_demo(config: Path | None, updates: dict[str, Any], out: Path, as_json: bool) -> None:
    from tradebrain.desks.market_making_study import MarketMakingDeskConfig, run_study

    desk = with_updates(
        load_config(MarketMakingDeskConfig, config), {key: value for key, value in updates.items() if value is not None}
    )
    result = run_study(desk, out, progress=True).as_dict()
    if as_json:
        typer.echo(json.dumps(result, default=float))
        return
    table = Table(title=f"{result['name']}: {result['episodes']:,} held-out episodes (95% bootstrap intervals below)")
    table.add_column("policy")
    for title, _, _ in MM_COLUMNS:
        table.add_column(title, justify="right")
    for policy, metrics in result["policies"].items():
        table.add_row(policy, *(_cell(metrics.get(key), fmt) for _, key, fmt in MM_COLUMNS))
    console.print(table)
    console.print(f"report: [bold]{result['report']}[/]   model: {result['model']}")


@execution_app.command("analyze")
def execution_analyze(
    config: ConfigOption = None,
    risk_aversion: Annotated[float | None, typer.Option("--lambda", help="risk aversion lambda, 1/$")] = None,
    as_json: JsonOption = False,
) -> None:
    """Closed forms for the AC-optimal schedule at lambda, TWAP and sell-now: kappa, holdings, E, V, E+λV."""
    from tradebrain.desks.execution import analyze

    try:
        if risk_aversion is not None and not (math.isfinite(risk_aversion) and risk_aversion >= 0):
            raise TradebrainError(f"--lambda must be a finite number >= 0, got {risk_aversion}")
        result = analyze(_desk_config(config, {}), risk_aversion)
    except TradebrainError as error:
        raise _fail(error) from None
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


@execution_app.command("train")
def execution_train(
    config: ConfigOption = None,
    algo: Annotated[str | None, typer.Option(help="ppo | sac | dqn")] = None,
    timesteps: Annotated[int | None, typer.Option(help="training budget in env steps")] = None,
    seed: Annotated[int | None, typer.Option(help="training seed")] = None,
    out: Annotated[Path, typer.Option(help="root folder of run outputs")] = Path("runs"),
    as_json: JsonOption = False,
) -> None:
    """Train an agent and save runs/<name>/model.zip."""
    from tradebrain.desks.execution import train

    try:
        desk = _desk_config(config, {"train.algo": algo, "train.timesteps": timesteps, "train.seed": seed})
        run_dir = out / desk.name
        agent = train(desk, run_dir)
        (run_dir / "config.yaml").write_text(yaml.safe_dump(desk.model_dump(mode="json"), sort_keys=False))
    except TradebrainError as error:
        raise _fail(error) from None
    result = {"model": str(agent.path), "algo": desk.train.algo, "timesteps": desk.train.timesteps}
    typer.echo(json.dumps(result)) if as_json else console.print(f"saved {agent.path}")


@execution_app.command("evaluate")
def execution_evaluate(
    model: Annotated[Path, typer.Option(help="a model.zip saved by `execution train` or `demo`")],
    config: ConfigOption = None,
    algo: Annotated[str | None, typer.Option(help="algorithm of the model (default: the config's)")] = None,
    episodes: Annotated[int | None, typer.Option(help="held-out evaluation episodes per policy")] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a saved model against the baselines on held-out episodes."""
    from tradebrain.agents.policy import ModelPolicy
    from tradebrain.agents.registry import load_model
    from tradebrain.desks.execution import baseline_policies, evaluate

    try:
        if not model.is_file():
            raise TradebrainError(f"--model {model} does not exist; train one with `tradebrain execution train`")
        desk = _desk_config(config, {"train.algo": algo, "evaluate.episodes": episodes})
        agent = ModelPolicy(load_model(str(model), desk.train.algo), desk.train.algo.upper())
        report = evaluate(desk, [*baseline_policies(desk, desk.evaluate.baselines, desk.evaluate.vwap_profile), agent])
    except TradebrainError as error:
        raise _fail(error) from None
    result = {"name": desk.name, **report.as_dict()}
    typer.echo(json.dumps(result)) if as_json else console.print(_comparison_table(result))


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the fully resolved execution config (file + TRADEBRAIN_* overrides + defaults) as YAML."""
    try:
        desk = _desk_config(config, {})
    except TradebrainError as error:
        raise _fail(error) from None
    typer.echo(yaml.safe_dump(desk.model_dump(mode="json"), sort_keys=False))


REPLICATE_COLUMNS = (("profit mean", "profit_mean"), ("profit std", "profit_std"), ("final q mean", "final_q_mean"),
              ("final q std", "final_q_std"))  # fmt: skip


@mm_app.command("replicate")
def mm_replicate(
    gamma: Annotated[float, typer.Option(help="risk aversion gamma (> 0); the paper uses 0.1, 0.01 and 1")] = 0.1,
    paths: Annotated[int, typer.Option(help="simulated paths (>= 2), the same for both strategies")] = 1000,
    seed: Annotated[int, typer.Option(help="first path's seed; paths use seed..seed+paths-1")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Replicate the Avellaneda-Stoikov (2008) simulation: the inventory strategy against the symmetric one."""
    from tradebrain.desks.market_making import replicate

    try:
        result = replicate(gamma, paths, seed)
    except TradebrainError as error:
        raise _fail(error) from None
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
        table.add_row(name, fmt(metrics["average_spread"]), *(_cell(metrics[key], fmt) for _, key in REPLICATE_COLUMNS))
    console.print(table)
    console.print(f"formula gamma*sigma^2*T/2 + (2/gamma)*ln(1 + gamma/k) = {result['formula_spread']:.4f}")


if __name__ == "__main__":
    app()
