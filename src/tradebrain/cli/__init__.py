"""The `tradebrain` command line.

Generic over the desk registry: `desks`, `demo`, `train`, `evaluate` and `study` work for every
registered desk (tradebrain's own and any a user's package adds), and each desk gets a group
`tradebrain <desk> ...` with its own commands (closed forms, replications) beside the generic ones.
The data, backtest, experiment and config commands are shared by all desks.

Every error that escapes a command goes through one handler (core/cli.py GuardedGroup): what the
user can fix (bad files, full disks, unreachable servers) exits 2 with one message naming the file,
option or field; a bug exits 1; `tradebrain --debug ...` shows the traceback instead.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from tradebrain.cli.backtest import backtest
from tradebrain.cli.data import data_app
from tradebrain.cli.experiments import run as run_experiment
from tradebrain.cli.experiments import tune as tune_experiment
from tradebrain.cli.platform import platform_app
from tradebrain.core.cli import DEBUG_KEY, ConfigOption, GuardedGroup, JsonOption, OutOption, console, fail
from tradebrain.core.config import parse_yaml
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import TradebrainError
from tradebrain.desks.contract import Desk
from tradebrain.desks.registry import get_desk, load_registry
from tradebrain.desks.runs import write_config

app = typer.Typer(
    cls=GuardedGroup,
    help="Train, backtest and compare RL trading strategies against classical ones.",
    no_args_is_help=True,
)
config_app = typer.Typer(help="Inspect configurations.", no_args_is_help=True)
study_app = typer.Typer(help="Studies of a desk across seeds (and, per desk, symbols and costs).", no_args_is_help=True)
app.add_typer(config_app, name="config")
app.add_typer(data_app, name="data")
app.add_typer(platform_app, name="platform")
app.add_typer(study_app, name="study")
app.command("backtest")(backtest)
app.command("run")(run_experiment)
app.command("tune")(tune_experiment)

DeskArgument = Annotated[str, typer.Argument(help="a registered desk (see `tradebrain desks`)")]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="any config key, as KEY=VALUE (VALUE parsed as YAML); repeat")
]
NameOption = Annotated[str | None, typer.Option(help="run name (folder under --out)")]
AlgoOption = Annotated[str | None, typer.Option(help="algorithm (ppo | sac | dqn | maskable-ppo, as the desk allows)")]
TimestepsOption = Annotated[int | None, typer.Option(help="training budget in env steps")]
EpisodesOption = Annotated[int | None, typer.Option(help="held-out evaluation episodes per policy")]
SeedOption = Annotated[int | None, typer.Option(help="training seed")]


def _settings(pairs: list[str] | None) -> dict[str, Any]:
    """--set KEY=VALUE pairs as dotted-key updates (values parsed as YAML, as TRADEBRAIN_* overrides are)."""
    updates: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise TradebrainError(f"--set {pair!r}: give KEY=VALUE, e.g. --set task.risk_aversion=2e-6")
        updates[key.strip()] = parse_yaml(raw, f"--set {pair!r}: the value")
    return updates


def _writable(run_dir: Path) -> Path:
    """`run_dir`, created before any work starts, so a bad --out fails in a second, not after training."""
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _options(desk: Desk[Any], **values: Any) -> dict[str, Any]:
    """The given generic options as the desk's config updates; an option the desk does not take is an error."""
    updates: dict[str, Any] = {}
    for option, value in values.items():
        if value is None:
            continue
        if option not in desk.options:
            takes = ", ".join(f"--{name}" for name in desk.options)
            raise TradebrainError(f"--{option} does not apply to the {desk.name} desk (it takes {takes}, and --set)")
        updates[desk.options[option]] = value
    return updates


@app.callback()
def main(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="show the full traceback of an error (also TRADEBRAIN_DEBUG=1)")
    ] = False,
) -> None:
    """Train, backtest and compare RL trading strategies against classical ones."""
    ctx.meta[DEBUG_KEY] = debug


@app.command("desks")
def list_desks(as_json: JsonOption = False) -> None:
    """The registered desks, one line each (and any that failed to load, with the reason)."""
    registry = load_registry()
    desks = list(registry.desks.values())
    if as_json:
        rows = [
            {"name": d.name, "aliases": list(d.aliases), "summary": d.summary, "envs": list(d.envs),
             "baselines": list(d.baselines)}
            for d in desks
        ]  # fmt: skip
        broken = [{"name": b.name, "target": b.target, "error": b.error} for b in registry.broken.values()]
        typer.echo(json.dumps({"desks": rows, "broken": broken}))
        return
    width = max((len(d.name) for d in desks), default=0)
    for d in desks:
        aliases = f"  (also: {', '.join(d.aliases)})" if d.aliases else ""
        console.print(f"[bold]{d.name:<{width}}[/]  {d.summary}{aliases}", soft_wrap=True, highlight=False)
    for b in registry.broken.values():
        console.print(f"[red]{b.name:<{width}}[/]  failed to load ({b.target}): {b.error}", soft_wrap=True)


@app.command()
def demo(
    desk: Annotated[str, typer.Argument(help="a registered desk (see `tradebrain desks`)")] = "execution",
    config: ConfigOption = None,
    name: NameOption = None,
    algo: AlgoOption = None,
    timesteps: TimestepsOption = None,
    episodes: EpisodesOption = None,
    seed: SeedOption = None,
    settings: SetOption = None,
    out: OutOption = Path("runs"),
    as_json: JsonOption = False,
) -> None:
    """Run a desk's main job: train an agent and compare it with the desk's baselines on held-out data;
    writes runs/<name>/report.html. `tradebrain desks` lists the desks and what each compares."""
    try:
        chosen = get_desk(desk)
        updates = _options(chosen, name=name, algo=algo, timesteps=timesteps, episodes=episodes, seed=seed)
        resolved = chosen.config(config, {**chosen.demo_updates, **updates, **_settings(settings)})
        _writable(out / resolved.name)
        result = chosen.demo(resolved, out, progress=True).as_dict()
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result, default=float))
        return
    chosen.print_result(result, console)


@app.command()
def train(
    desk: DeskArgument,
    config: ConfigOption = None,
    name: NameOption = None,
    algo: AlgoOption = None,
    timesteps: TimestepsOption = None,
    seed: SeedOption = None,
    settings: SetOption = None,
    out: OutOption = Path("runs"),
    as_json: JsonOption = False,
) -> None:
    """Train the desk's agent and save runs/<name>/model.zip (with its normalisation) and config.yaml."""
    try:
        chosen = get_desk(desk)
        updates = _options(chosen, name=name, algo=algo, timesteps=timesteps, seed=seed)
        resolved = chosen.config(config, {**updates, **_settings(settings)})
        run_dir = _writable(out / resolved.name)
        agent = chosen.train(resolved, run_dir)
        write_config(resolved, run_dir)
    except TradebrainError as error:
        raise fail(error) from None
    result = {"model": str(agent.path), "algo": resolved.train.algo, "timesteps": resolved.train.timesteps}
    typer.echo(json.dumps(result)) if as_json else console.print(f"saved {agent.path}")


@app.command()
def evaluate(
    desk: DeskArgument,
    model: Annotated[
        Path, typer.Option(help="a model.zip saved by `train` or `demo` (vecnormalize.pkl and model.json beside it)")
    ],
    config: ConfigOption = None,
    algo: Annotated[str | None, typer.Option(help="algorithm of the model (default: the model's own)")] = None,
    episodes: EpisodesOption = None,
    settings: SetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate a saved model against the desk's baselines on the same held-out data, with 95% intervals."""
    try:
        chosen = get_desk(desk)
        if algo is None and "algo" in chosen.options:
            from tradebrain.rl.manifest import saved_algorithm

            algo = saved_algorithm(model)  # the model's own algorithm (model.json or the zip); None: the config's
        resolved = chosen.config(config, {**_options(chosen, algo=algo, episodes=episodes), **_settings(settings)})
        result = chosen.evaluate(resolved, model).as_dict()
    except TradebrainError as error:
        raise fail(error) from None
    if as_json:
        typer.echo(json.dumps(result, default=float))
        return
    chosen.print_result(result, console)


def seeds_study(desk_name: str) -> Callable[..., None]:
    """The generic `study <desk>`: the desk's demo trained with seeds 0..N-1, each evaluated against the
    baselines, aggregated across seeds (mean, IQM, 95% intervals, probability of improvement) by the
    experiment runner; runs/<name>/spec.yaml re-runs or resumes it with `tradebrain run`."""

    def study(
        seeds: Annotated[int, typer.Option(min=1, help="training seeds 0..N-1")] = 3,
        config: ConfigOption = None,
        name: NameOption = None,
        algo: AlgoOption = None,
        timesteps: TimestepsOption = None,
        episodes: EpisodesOption = None,
        settings: SetOption = None,
        workers: Annotated[int, typer.Option(min=1, help="parallel worker processes")] = 2,
        tracking_uri: Annotated[str | None, typer.Option(help="also track the cells in MLflow at this URI")] = None,
        out: OutOption = Path("runs"),
        as_json: JsonOption = False,
    ) -> None:
        from tradebrain.cli.experiments import run_and_report
        from tradebrain.experiments.backends import LocalBackend
        from tradebrain.experiments.spec import seeds_spec

        try:
            chosen = get_desk(desk_name)
            updates = _options(chosen, name=name, algo=algo, timesteps=timesteps, episodes=episodes)
            resolved = chosen.config(config, {**updates, **_settings(settings)})
            loaded = seeds_spec(chosen.name, resolved, seeds, out)
        except TradebrainError as error:
            raise fail(error) from None
        run_and_report(loaded, LocalBackend(workers), out, tracking_uri, None, as_json)

    study.__doc__ = f"Train the {desk_name} desk's agent with several seeds and compare it with the baselines " + (
        "across seeds (mean and 95% interval of every metric, probability the agent beats each baseline)."
    )
    return study


@config_app.command("show")
def config_show(
    desk: Annotated[str, typer.Argument(help="a registered desk (see `tradebrain desks`)")] = "execution",
    config: ConfigOption = None,
) -> None:
    """Print a desk's fully resolved config (file + TRADEBRAIN_* overrides + defaults) as YAML."""
    try:
        resolved = get_desk(desk).config(config)
    except TradebrainError as error:
        raise fail(error) from None
    typer.echo(yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False))


def _bound(command: Callable[..., None], desk_name: str) -> Callable[..., None]:
    """`command` with its DESK argument fixed, for `tradebrain <desk> <command>`."""
    signature = inspect.signature(command, eval_str=True)
    parameters = [parameter for parameter in signature.parameters.values() if parameter.name != "desk"]

    def bound(**kwargs: Any) -> None:
        command(desk=desk_name, **kwargs)

    bound.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    bound.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    bound.__doc__ = command.__doc__
    return bound


def _mount_desks() -> None:
    """Per desk (and, hidden, per alias): `tradebrain study <desk>` and the group `tradebrain <desk>`;
    a desk named like a shared command keeps only the generic commands (`tradebrain demo <desk>`)."""
    taken = {info.name for info in app.registered_commands} | {info.name for info in app.registered_groups}
    for desk in load_registry().desks.values():
        try:
            study = desk.study_command() or seeds_study(desk.name)
            own = desk.commands()
        except Exception as error:  # a broken plugin must not take the other desks' commands down
            stderr_console.print(f"[yellow]warning:[/] the {desk.name} desk's commands failed to load: {error}")
            continue
        for index, label in enumerate((desk.name, *desk.aliases)):
            hidden = index > 0
            study_app.command(label, hidden=hidden)(study)
            if label in taken:
                continue
            group = typer.Typer(help=f"The {desk.name} desk: {desk.summary}.", no_args_is_help=True)
            if own is not None:
                group.registered_commands.extend(own.registered_commands)
                group.registered_groups.extend(own.registered_groups)
            for verb, command in (("demo", demo), ("train", train), ("evaluate", evaluate)):
                group.command(verb)(_bound(command, desk.name))
            group.command("study")(study)
            app.add_typer(group, name=label, hidden=hidden)


_mount_desks()

if __name__ == "__main__":
    app()
