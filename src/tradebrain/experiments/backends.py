"""Where cells run: local worker processes (spawned, so each starts clean) or a Ray cluster.

Both call `on_done` in this process for every finished cell, as it finishes, so results are recorded
(and tracked) one by one; both report a crashed worker as a failed cell and stop cleanly on Ctrl-C.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext

from tradebrain.core.extras import require
from tradebrain.experiments.cell import CellTask, execute_cell
from tradebrain.experiments.store import CellRecord

CellFunction = Callable[[CellTask], CellRecord]
OnDone = Callable[[CellRecord], None]


def failed_record(task: CellTask, error: str) -> CellRecord:
    """A failed record for a cell whose worker did not return one (it crashed or was lost)."""
    cell = task.cell
    return CellRecord(
        key=cell.key, config_hash=cell.config_hash, seed=cell.seed, values=cell.values, status="failed", error=error,
        out_dir=task.out_dir,
    )  # fmt: skip


def exit_with_parent(poll_seconds: float = 1.0) -> None:
    """Worker initializer: end this worker when the coordinating process dies (even by SIGKILL, which
    runs no cleanup), instead of leaving it blocked on the task queue forever."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != parent:  # re-parented: the coordinator is gone
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


@dataclass(frozen=True)
class LocalBackend:
    """`workers` spawned processes; at most `workers` cells in flight, so a crash takes down only the
    cells that were running (reported failed) and the rest go on in a fresh pool."""

    workers: int = 2
    cell_function: CellFunction = execute_cell

    def _pool(self, context: BaseContext) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=exit_with_parent)

    def run(self, tasks: Sequence[CellTask], on_done: OnDone) -> bool:
        """Run every task; True when interrupted by Ctrl-C (pending cells cancelled)."""
        pending = deque(tasks)
        context = multiprocessing.get_context("spawn")
        executor = self._pool(context)
        running: dict[Future[CellRecord], CellTask] = {}
        try:
            while pending or running:
                while pending and len(running) < self.workers:
                    task = pending.popleft()
                    running[executor.submit(self.cell_function, task)] = task
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                broken = False
                for future in finished:
                    task = running.pop(future)
                    try:
                        on_done(future.result())
                    except BrokenProcessPool as error:
                        broken = True
                        on_done(failed_record(task, f"worker process crashed while running this cell ({error})"))
                    except Exception as error:  # the cell function raised instead of returning a record
                        on_done(failed_record(task, f"{type(error).__name__}: {error}"))
                if broken:  # the pool is unusable: the cells still in it died with it
                    for task in running.values():
                        on_done(failed_record(task, "worker pool broke (another cell's worker crashed)"))
                    running.clear()
                    executor.shutdown(wait=True)
                    executor = self._pool(context)
        except KeyboardInterrupt:
            executor.shutdown(wait=False, cancel_futures=True)
            return True
        executor.shutdown(wait=True)
        return False


@dataclass(frozen=True)
class RayBackend:
    """Cells as Ray tasks (one CPU each, no automatic retries: a lost worker is reported).

    `address` joins a running cluster ("auto" or "ray://host:port"); None starts a local one with
    `num_cpus` CPUs. The artifact folders must be on a filesystem every node shares."""

    address: str | None = None
    num_cpus: int = 2
    cell_function: CellFunction = execute_cell

    def __post_init__(self) -> None:
        require("ray", "--backend ray")

    def run(self, tasks: Sequence[CellTask], on_done: OnDone) -> bool:
        """Run every task; True when interrupted by Ctrl-C (running tasks cancelled)."""
        import ray
        from ray.exceptions import RayError

        started_here = not ray.is_initialized()
        if started_here:
            ray.init(
                address=self.address, num_cpus=self.num_cpus if self.address is None else None,
                include_dashboard=False, log_to_driver=False,
            )  # fmt: skip
        try:
            remote = ray.remote(num_cpus=1, max_retries=0)(self.cell_function)
            refs = {remote.remote(task): task for task in tasks}
            try:
                while refs:
                    ready, _ = ray.wait(list(refs), num_returns=1)
                    for ref in ready:
                        task = refs.pop(ref)
                        try:
                            record = ray.get(ref)
                        except RayError as error:
                            record = failed_record(task, f"Ray task failed: {type(error).__name__}: {error}")
                        on_done(record)
            except KeyboardInterrupt:
                for ref in refs:
                    ray.cancel(ref, force=True)
                return True
            return False
        finally:
            if started_here:
                ray.shutdown()
