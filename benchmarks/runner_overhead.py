"""Overhead of the experiment runner per cell: the same cells in a plain loop (the cell function
called directly, in this process) against `run_experiment` on the local backend with one worker
(same parallelism as the loop: the difference is spawning workers, pickling, the results store and,
in the tracked mode, MLflow logging of params, metrics and artifacts), plus those parts timed alone.

Reported per cell in seconds, as % of the measured cell, and extrapolated to a 30 s cell assuming
the overhead does not grow with the cell's length (true for spawning and the store; MLflow's
artifact copy grows with the model size, which a longer training does not change here).
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import yaml
from rich.table import Table

from tradebrain.experiments.backends import LocalBackend
from tradebrain.experiments.cell import CellTask, execute_cell
from tradebrain.experiments.grid import expand
from tradebrain.experiments.runner import ExperimentRun, run_experiment
from tradebrain.experiments.spec import LoadedSpec, load_spec
from tradebrain.experiments.tracking import Tracker, default_tracking_uri

TARGET_CELL_SECONDS = 30.0
TARGET_PERCENT = 10.0
COLUMNS = ("mode", "cells", "total s", "per cell s", "overhead per cell s", "% of measured cell", "% of a 30 s cell")


@dataclass(frozen=True)
class OverheadRow:
    """One way of running the same cells."""

    mode: str
    cells: int
    total_seconds: float
    overhead_per_cell: float | None
    """Seconds per cell above the plain loop (None for the loop itself)."""
    cell_seconds: float
    """Mean seconds of one cell in the plain loop."""

    @property
    def percent_measured(self) -> float | None:
        """Overhead as % of the measured cell."""
        return None if self.overhead_per_cell is None else 100 * self.overhead_per_cell / self.cell_seconds

    @property
    def percent_30s(self) -> float | None:
        """Overhead as % of a 30 s cell (extrapolated: same overhead per cell)."""
        return None if self.overhead_per_cell is None else 100 * self.overhead_per_cell / TARGET_CELL_SECONDS


def _spec(folder: Path, name: str, cells: int, timesteps: int) -> LoadedSpec:
    """PPO cells over a grid of risk aversions: cells of equal length, so the full budget's cells
    last about 30 s each and the target is measured rather than extrapolated."""
    lambdas = [1e-6 * (1 + i) for i in range(cells)]
    data = {
        "name": name, "desk": "execution", "seeds": [0], "grid": {"task.risk_aversion": lambdas},
        "base": {"train": {"algo": "ppo", "timesteps": timesteps, "n_envs": 8, "hyperparams": {"batch_size": 128}},
                 "evaluate": {"episodes": 100}},
    }  # fmt: skip
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_spec(path)


def _import_worker_modules() -> float:
    """What a fresh worker does before its first cell: import the cell function's dependencies."""
    started = time.perf_counter()
    import stable_baselines3  # noqa: F401

    from tradebrain.experiments import execution_desk  # noqa: F401

    return time.perf_counter() - started


def worker_start_seconds() -> float:
    """Seconds from creating a spawn pool to a worker having imported torch, SB3 and the desk."""
    started = time.perf_counter()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(_import_worker_modules).result()
    return time.perf_counter() - started


def tracking_seconds(run: ExperimentRun, folder: Path) -> float:
    """Mean seconds to log one finished cell (tags, params, metrics, artifacts) to an existing SQLite store."""
    tracker = Tracker(default_tracking_uri(folder / "runs"), "tracking-probe", folder / "runs" / "mlartifacts")
    by_key = {cell.key: cell for cell in run.cells}
    records = [record for record in run.records.values() if record is not None]
    started = time.perf_counter()
    for record in records:
        tracker.log_cell(record, by_key[record.key].config)
    return (time.perf_counter() - started) / len(records)


def run_runner_overhead(
    cells: int = 4, timesteps: int = 6000, on_progress: Callable[[str], None] | None = None
) -> list[OverheadRow]:
    """Time the same cells three ways: plain loop, runner without tracking, runner with MLflow tracking."""
    notify = on_progress or (lambda message: None)
    with tempfile.TemporaryDirectory(prefix="tradebrain-overhead-") as tmp:
        folder = Path(tmp)
        loop_spec = _spec(folder, "loop", cells, timesteps)
        work = expand(loop_spec)[:cells]
        notify("warming up (imports, compiled kernels)")
        execute_cell(CellTask(work[0], str(folder / "warm"), write_report=True, tensorboard=True))
        notify(f"plain loop over {len(work)} cells")
        started = time.perf_counter()
        for index, cell in enumerate(work):
            execute_cell(CellTask(cell, str(folder / "loop" / str(index)), write_report=True, tensorboard=True))
        loop_seconds = time.perf_counter() - started
        per_cell = loop_seconds / len(work)
        rows = [OverheadRow("plain loop (cell function)", len(work), loop_seconds, None, per_cell)]
        for mode, tracking in (("runner, 1 worker, no tracking", None), ("runner, 1 worker, MLflow", "default")):
            notify(mode)
            spec = _spec(folder, "runner-" + ("tracked" if tracking else "plain"), cells, timesteps)
            started = time.perf_counter()
            result = run_experiment(spec, folder / "runs", LocalBackend(1), tracking_uri=tracking)
            seconds = time.perf_counter() - started
            if result.failed or len(result.cells) != len(work):
                raise RuntimeError(f"{mode}: {len(result.failed)} cells failed: {[r.error for r in result.failed]}")
            rows.append(OverheadRow(mode, len(work), seconds, (seconds - loop_seconds) / len(work), per_cell))
        notify("components: worker start, MLflow logging of one cell")
        start = worker_start_seconds()
        rows.append(OverheadRow(f"component: one worker's start (spawn + imports), spread over its {len(work)} cells",
                                1, start, start / len(work), per_cell))  # fmt: skip
        logging = tracking_seconds(result, folder)
        rows.append(OverheadRow("component: MLflow logging of one cell (store exists)", 1, logging, logging,
                                per_cell))  # fmt: skip
    return rows


def _cells(row: OverheadRow, markup: bool) -> list[str]:
    def percent(value: float | None, target: bool) -> str:
        if value is None:
            return "—"
        if not target:
            return f"{value:.1f}%"
        verdict = "met" if value < TARGET_PERCENT else "missed"
        if markup:
            verdict = f"[green]{verdict}[/]" if value < TARGET_PERCENT else f"[red]{verdict}[/]"
        return f"{value:.1f}% (< {TARGET_PERCENT:.0f}%: {verdict})"

    overhead = "—" if row.overhead_per_cell is None else f"{row.overhead_per_cell:.2f}"
    return [row.mode, str(row.cells), f"{row.total_seconds:.1f}", f"{row.total_seconds / row.cells:.2f}", overhead,
            percent(row.percent_measured, False), percent(row.percent_30s, True)]  # fmt: skip


def table(rows: list[OverheadRow]) -> Table:
    """The rich table: each mode's time per cell and overhead against the plain loop."""
    result = Table(title="Experiment runner overhead per cell (same cells, same parallelism)")
    for column in COLUMNS:
        result.add_column(column, justify="left" if column == "mode" else "right")
    for row in rows:
        result.add_row(*_cells(row, markup=True))
    return result


def markdown(rows: list[OverheadRow]) -> str:
    """The same table in markdown, for results.md."""
    lines = ["", "## Experiment runner overhead", ""]
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(row, markup=False)) + " |" for row in rows]
    lines += ["", f"The 30 s column assumes the per-cell overhead stays the same for a {TARGET_CELL_SECONDS:.0f} s "
              "cell; the measured column is at the cell size above. The runner rows include one worker start "
              "(paid once per worker, so spread over the cells it runs) and, with MLflow, the creation of the "
              "SQLite store (once per runs folder, opened while the first cell trains); the component rows "
              "measure those parts alone. On a shared machine the modes' totals also carry run-to-run noise "
              "of several %: a negative overhead means the runner's cost is below what the run resolves, and "
              "the component rows are then the better estimate."]  # fmt: skip
    return "\n".join(lines) + "\n"
