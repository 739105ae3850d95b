"""Run an experiment: expand the grid, skip the cells a previous run completed, run the rest on a
backend, record every finished cell atomically and track it in MLflow as it finishes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from tradebrain.core.console import stderr_console
from tradebrain.core.extras import check
from tradebrain.experiments.cell import CellTask
from tradebrain.experiments.grid import Cell, expand
from tradebrain.experiments.spec import LoadedSpec
from tradebrain.experiments.store import CellRecord, ResultStore
from tradebrain.experiments.tracking import TRACKING, Tracker, default_tracking_uri


class Backend(Protocol):
    """Runs tasks and calls `on_done` for each finished one in this process; True when interrupted."""

    def run(self, tasks: list[CellTask], on_done: Callable[[CellRecord], None]) -> bool: ...


@dataclass(frozen=True)
class ExperimentRun:
    """The outcome of `run_experiment`: every cell of the spec with its record (None if it never ran)."""

    name: str
    root: Path
    cells: list[Cell]
    records: dict[str, CellRecord | None]
    skipped: int
    """Cells a previous run had completed, not run again."""
    interrupted: bool
    tracking_uri: str | None

    @property
    def failed(self) -> list[CellRecord]:
        """Records of the cells that failed in this run or an earlier one and have not completed since."""
        return [record for record in self.records.values() if record is not None and not record.completed]

    @property
    def missing(self) -> list[Cell]:
        """Cells with no record at all (cancelled by Ctrl-C before they ran)."""
        return [cell for cell in self.cells if self.records.get(cell.key) is None]


def unique_cells(cells: list[Cell]) -> list[Cell]:
    """Cells with distinct keys, first occurrence kept (two grid values may resolve to one config)."""
    seen: dict[str, Cell] = {}
    for cell in cells:
        seen.setdefault(cell.key, cell)
    return list(seen.values())


def check_extras(loaded: LoadedSpec, tracking_uri: str | None) -> None:
    """Stop before any cell runs when tracking or TensorBoard curves are asked for without their extra."""
    if tracking_uri is not None:
        check("mlflow", TRACKING)
    if loaded.spec.tensorboard:
        check("tensorboard", "TensorBoard training curves (set 'tensorboard: false' in the spec to skip them)")


def run_experiment(
    loaded: LoadedSpec,
    runs_root: Path,
    backend: Backend,
    tracking_uri: str | None = "default",
    extra: Mapping[str, Any] | None = None,
    on_record: Callable[[CellRecord], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> ExperimentRun:
    """Run the spec's missing cells on `backend`; cells completed before are skipped, failed ones retried.

    `tracking_uri`: "default" for SQLite under `runs_root`, any MLflow URI, or None for no tracking.
    `extra`: config updates applied before the grid (the best tuned parameters with --use-best);
    `on_start(to_run, skipped)` is called once the completed cells are known, `on_record` per finished cell."""
    spec = loaded.spec
    check_extras(loaded, tracking_uri)
    root = (runs_root / spec.name).resolve()
    store = ResultStore(root)
    cells = unique_cells(expand(loaded, extra))
    completed = store.completed_keys(cell.key for cell in cells)
    todo = [cell for cell in cells if cell.key not in completed]
    if on_start is not None:
        on_start(len(todo), len(completed))
    uri = default_tracking_uri(runs_root) if tracking_uri == "default" else tracking_uri
    by_key = {cell.key: cell for cell in cells}
    # opened in a thread: importing MLflow and creating its store overlap with the first cells
    opener = ThreadPoolExecutor(1, thread_name_prefix="mlflow-open")
    tracker = opener.submit(Tracker, uri, spec.name, runs_root / "mlartifacts") if uri is not None and todo else None
    opener.shutdown(wait=False)

    def finish(record: CellRecord) -> None:
        if tracker is not None:
            try:
                record = replace(record, mlflow_run_id=tracker.result().log_cell(record, by_key[record.key].config))
            except Exception as error:  # a tracking outage must not lose the result itself
                stderr_console.print(f"[yellow]warning:[/] MLflow logging of {record.key} failed: {error}")
        store.save(record)
        if on_record is not None:
            on_record(record)

    tasks = [
        CellTask(cell, str(store.out_dir(cell.key)), write_report=spec.write_report, tensorboard=spec.tensorboard)
        for cell in todo
    ]
    interrupted = backend.run(tasks, finish) if tasks else False
    records = {cell.key: store.load(cell.key) for cell in cells}
    return ExperimentRun(spec.name, root, cells, records, len(completed), interrupted, uri)
