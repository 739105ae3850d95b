"""Run one cell in whatever process the backend gives it: one torch thread, the config rebuilt and
re-validated from plain data, errors caught into a failed record (a crash is the runner's business)."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradebrain.experiments.grid import Cell
from tradebrain.experiments.provenance import provenance
from tradebrain.experiments.store import CellRecord


@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs, as plain picklable data."""

    cell: Cell
    out_dir: str
    write_report: bool = True
    tensorboard: bool = True


def execute_cell(task: CellTask) -> CellRecord:
    """Train and evaluate one cell; a failure becomes a `failed` record carrying the error."""
    import torch

    from tradebrain.desks.registry import get_desk

    torch.set_num_threads(1)  # bit-identical results, and workers do not fight over cores
    cell = task.cell
    started = time.perf_counter()
    head: dict[str, Any] = {
        "key": cell.key, "config_hash": cell.config_hash, "seed": cell.seed, "values": cell.values,
        "out_dir": task.out_dir, "provenance": provenance(),
    }  # fmt: skip
    try:
        desk = get_desk(cell.desk)
        config = desk.config_cls.model_validate(cell.config)
        out_dir = Path(task.out_dir)
        if task.tensorboard:
            config = desk.with_tensorboard(config, out_dir / "tensorboard")
        output = desk.run_cell(config, out_dir, task.write_report)
    except Exception as error:  # reported in the results table; the cell is retried on the next run
        detail = "".join(traceback.format_exception_only(error)).strip()
        return CellRecord(**head, status="failed", error=detail, seconds=time.perf_counter() - started)
    return CellRecord(
        **head, status="completed", metrics=output.metrics, improvements=output.improvements,
        seconds=time.perf_counter() - started,
    )  # fmt: skip
