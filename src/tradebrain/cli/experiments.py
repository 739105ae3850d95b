"""`tradebrain run` and `tradebrain tune`: experiments declared in a YAML spec (see experiments/).

`run` expands the grid x seeds, runs the missing cells on local worker processes or Ray, tracks each
in MLflow and prints the per-configuration results across seeds; `tune` searches the spec's space
with Optuna and saves the best parameters next to the spec for `run --use-best`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradebrain.core.cli import JsonOption, fail
from tradebrain.core.console import stderr_console
from tradebrain.core.errors import TradebrainError

console = Console(width=max(Console().width, 120))
RunsRootOption = Annotated[Path, typer.Option("--runs-root", help="root folder of results, MLflow store, studies")]
TrackingOption = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow tracking URI (default: sqlite under --runs-root)")
]
NoTrackingOption = Annotated[bool, typer.Option("--no-tracking", help="do not log to MLflow")]
BACKENDS = ("local", "ray")


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[last]}"),
        TimeElapsedColumn(), console=stderr_console,
    )  # fmt: skip


def _table(title: str, first: str, columns: list[str], rows: list[Any]) -> Table:
    table = Table(title=title, show_lines=True)
    table.add_column(first)
    for column in columns:
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(escape(row.name), *(f"{c.value}\n[dim]{c.interval}[/dim]" if c.interval else c.value
                                          for c in row.cells))  # fmt: skip
    return table


def run(
    spec: Annotated[Path, typer.Argument(help="experiment spec YAML (see experiments/)")],
    workers: Annotated[int, typer.Option("--workers", min=1, help="parallel worker processes / Ray CPUs")] = 2,
    backend: Annotated[str, typer.Option("--backend", help="local | ray")] = "local",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help="join this Ray cluster")] = None,
    runs_root: RunsRootOption = Path("runs"),
    use_best: Annotated[bool, typer.Option("--use-best", help="apply the parameters `tune` saved")] = False,
    tracking_uri: TrackingOption = None,
    no_tracking: NoTrackingOption = False,
    as_json: JsonOption = False,
) -> None:
    """Run every cell of a spec's grid x seeds (skipping completed ones), then aggregate across seeds.

    Writes runs/<name>/results.json, results.csv and summary.html; one MLflow run per cell."""
    from tradebrain.experiments.backends import LocalBackend, RayBackend
    from tradebrain.experiments.spec import load_spec
    from tradebrain.experiments.tuning import load_best

    try:
        if backend not in BACKENDS:
            raise TradebrainError(f"--backend must be one of {', '.join(BACKENDS)}, got '{backend}'")
        loaded = load_spec(spec)
        extra = load_best(loaded) if use_best else None
        chosen = LocalBackend(workers) if backend == "local" else RayBackend(ray_address, num_cpus=workers)
    except TradebrainError as error:
        raise fail(error) from None
    run_and_report(loaded, chosen, runs_root, None if no_tracking else (tracking_uri or "default"), extra, as_json)


def run_and_report(
    loaded: Any, backend: Any, runs_root: Path, tracking_uri: str | None, extra: Any, as_json: bool
) -> None:
    """Run a loaded spec's missing cells with a progress bar, aggregate across seeds, write the result
    files and print the tables (or JSON): shared by `run` and the generic `study <desk>`."""
    from tradebrain.experiments.aggregate import aggregate
    from tradebrain.experiments.results import build_tables, results_data, write_results
    from tradebrain.experiments.runner import check_extras, run_experiment
    from tradebrain.experiments.tracking import check_tracking_uri

    try:
        check_extras(loaded, tracking_uri)  # before the progress bar: a missing extra is the whole message
        if tracking_uri is not None and tracking_uri != "default":
            check_tracking_uri(tracking_uri)  # a URI MLflow cannot reach fails now, not as a warning per cell
        with _progress() as progress:
            task = progress.add_task(f"{loaded.spec.name} cells", total=None, last="")

            def advance(record: Any) -> None:
                status = "[green]ok[/]" if record.completed else "[red]failed[/]"
                progress.update(task, advance=1, last=f"{record.key} {status} {record.seconds:.1f} s")

            def start(todo: int, skipped: int) -> None:
                progress.update(task, total=todo, last=f"{skipped} done before, skipped" if skipped else "")

            result = run_experiment(loaded, runs_root, backend, tracking_uri, extra, on_record=advance, on_start=start)
        summaries = aggregate(result.cells, result.records)
        paths = write_results(result, summaries, loaded.desk.headline, loaded.desk.comparison, loaded.desk.colors)
    except TradebrainError as error:
        raise fail(error) from None
    data = results_data(result, summaries) | {"files": {kind: str(path) for kind, path in paths.items()}}
    if as_json:
        typer.echo(json.dumps(data))
    else:
        tables = build_tables(summaries, loaded.desk.headline, loaded.desk.comparison)
        console.print(_table(f"{result.name}: mean over seeds, 95% bootstrap interval below", "configuration",
                             tables.columns, tables.rows))  # fmt: skip
        console.print(_table("agent vs baselines", "configuration vs baseline", tables.baseline_columns,
                             tables.baseline_rows))  # fmt: skip
        console.print(
            f"{data['completed']}/{len(result.cells)} cells completed ({result.skipped} skipped as done before), "
            f"{data['failed']} failed; summary: [bold]{paths['html']}[/]"
        )
        for failure in result.failed:
            console.print(f"[red]failed[/] {failure.key} {failure.values}: {escape(failure.error or '')}")
    if result.interrupted:
        stderr_console.print("[yellow]interrupted:[/] completed cells are recorded; re-run to finish the rest")
        raise typer.Exit(code=130)
    if result.failed:
        raise typer.Exit(code=1)


def tune(
    spec: Annotated[Path, typer.Argument(help="experiment spec YAML with a 'tune' section")],
    trials: Annotated[int | None, typer.Option("--trials", min=1, help="trials to run (default: the spec's)")] = None,
    storage: Annotated[
        str | None, typer.Option("--storage", help="Optuna storage URL, e.g. postgresql://... (default: sqlite)")
    ] = None,
    study: Annotated[str | None, typer.Option("--study", help="study name (default: the spec's name)")] = None,
    runs_root: RunsRootOption = Path("runs"),
    tracking_uri: TrackingOption = None,
    no_tracking: NoTrackingOption = False,
    as_json: JsonOption = False,
) -> None:
    """Tune the spec's search space with Optuna (TPE + median pruning); save <spec>.best.yaml next to it."""
    from tradebrain.experiments.spec import load_spec
    from tradebrain.experiments.tuning import tune as run_tuning

    try:
        loaded = load_spec(spec)
        total = trials or (loaded.spec.tune.trials if loaded.spec.tune else None)
        with _progress() as progress:
            task = progress.add_task(f"tuning {loaded.spec.name}", total=total, last="")

            def advance(outcome: Any) -> None:
                value = "" if outcome.value is None else f" {outcome.value:,.0f}"
                progress.update(task, advance=1, last=f"trial {outcome.number} {outcome.state.lower()}{value}")

            result = run_tuning(
                loaded, runs_root, trials, storage, study, None if no_tracking else (tracking_uri or "default"),
                on_trial=advance,
            )  # fmt: skip
    except TradebrainError as error:
        raise fail(error) from None
    data = result.as_dict()
    if as_json:
        typer.echo(json.dumps(data))
        return
    table = Table(title=f"study {result.study_name}: trials of this run")
    space = list(loaded.spec.tune.space) if loaded.spec.tune else []
    for column in ("trial", "state", "objective", *space):
        table.add_column(column, justify="right")
    for trial in result.trials:
        value = "—" if trial.value is None else f"{trial.value:,.0f}"
        table.add_row(str(trial.number), trial.state.lower(), value, *(f"{v:.4g}" if isinstance(v, float) else str(v)
                                                                        for v in trial.params.values()))  # fmt: skip
    console.print(table)
    console.print(
        f"{data['complete']} complete, {data['pruned']} pruned, {data['failed']} failed; best {result.best_value:,.0f}"
        f" with {result.best_params}; saved to [bold]{result.best_path}[/] (use: tradebrain run {spec} --use-best)"
    )
