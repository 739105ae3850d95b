"""The runner: resume skips completed cells and retries failed ones, a crashed worker is reported,
an interrupt leaves completed cells recorded. Cells here are fake (no training) but run in real
spawned worker processes, from a module written to a temporary folder that the workers import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tradebrain.experiments.backends import LocalBackend
from tradebrain.experiments.runner import run_experiment
from tradebrain.experiments.spec import load_spec
from tradebrain.experiments.store import CellRecord

FAKE_CELLS = """
import os
from pathlib import Path

from tradebrain.experiments.store import CellRecord


def _log(task):
    with Path(os.environ["FAKE_CELL_LOG"]).open("a") as handle:
        handle.write(task.cell.key + "\\n")


def ok(task):
    _log(task)
    cell = task.cell
    return CellRecord(key=cell.key, config_hash=cell.config_hash, seed=cell.seed, values=cell.values,
                      status="completed", metrics={"agent/objective_usd": 100.0 + cell.seed},
                      improvements={"TWAP": [1.0, -1.0, 0.0]}, out_dir=task.out_dir)


def fail_sac(task):
    if task.cell.values["train.algo"] == "sac":
        _log(task)
        cell = task.cell
        return CellRecord(key=cell.key, config_hash=cell.config_hash, seed=cell.seed, values=cell.values,
                          status="failed", error="ValueError: boom", out_dir=task.out_dir)
    return ok(task)


def crash_sac(task):
    if task.cell.values["train.algo"] == "sac":
        os._exit(13)
    return ok(task)
"""


@pytest.fixture
def fake_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The fake cell functions, importable by spawned workers (they inherit sys.path and the env)."""
    folder = tmp_path / "fake"
    folder.mkdir()
    (folder / "fake_cells.py").write_text(textwrap.dedent(FAKE_CELLS))
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv("FAKE_CELL_LOG", str(tmp_path / "calls.log"))
    import fake_cells

    return fake_cells


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / "calls.log"
    return log.read_text().split() if log.exists() else []


def test_a_rerun_skips_completed_cells_and_retries_failed_ones(
    make_spec: Callable[..., Path], fake_cells: Any, tmp_path: Path
) -> None:
    loaded = load_spec(make_spec(grid={"train.algo": ["ppo", "sac"], "task.risk_aversion": [1e-6, 2e-6]}))
    first = run_experiment(loaded, tmp_path / "runs", LocalBackend(2, fake_cells.fail_sac), tracking_uri=None)
    assert len(first.cells) == 4 and first.skipped == 0
    assert sorted(r.values["train.algo"] for r in first.failed) == ["sac", "sac"]
    assert all(r is not None and r.error == "ValueError: boom" for r in first.failed)
    sac_keys = sorted(c.key for c in first.cells if c.values["train.algo"] == "sac")
    (tmp_path / "calls.log").unlink()
    second = run_experiment(loaded, tmp_path / "runs", LocalBackend(2, fake_cells.ok), tracking_uri=None)
    assert second.skipped == 2
    assert sorted(_calls(tmp_path)) == sac_keys  # only the failed cells ran again
    assert not second.failed and all(r is not None and r.completed for r in second.records.values())
    (tmp_path / "calls.log").unlink()
    third = run_experiment(loaded, tmp_path / "runs", LocalBackend(2, fake_cells.ok), tracking_uri=None)
    assert third.skipped == 4 and _calls(tmp_path) == []


def test_a_crashed_worker_is_reported_as_a_failed_cell(
    make_spec: Callable[..., Path], fake_cells: Any, tmp_path: Path
) -> None:
    loaded = load_spec(make_spec(grid={"train.algo": ["sac", "ppo"]}, seeds=[0, 1]))
    result = run_experiment(loaded, tmp_path / "runs", LocalBackend(1, fake_cells.crash_sac), tracking_uri=None)
    records = [result.records[c.key] for c in result.cells]
    assert [r.status if r else None for r in records] == ["failed", "failed", "completed", "completed"]
    assert all("worker process crashed" in (r.error or "") for r in records[:2] if r)
    assert not result.missing and not result.interrupted


def test_an_interrupt_keeps_completed_cells_and_a_rerun_finishes_the_rest(
    make_spec: Callable[..., Path], fake_cells: Any, tmp_path: Path
) -> None:
    loaded = load_spec(make_spec(grid={"train.algo": ["ppo", "sac"]}, seeds=[0, 1, 2]))
    seen: list[CellRecord] = []

    def interrupt_after_two(record: CellRecord) -> None:
        seen.append(record)
        if len(seen) == 2:
            raise KeyboardInterrupt  # as Ctrl-C arriving while the runner waits for cells

    first = run_experiment(loaded, tmp_path / "runs", LocalBackend(1, fake_cells.ok), None,
                           on_record=interrupt_after_two)  # fmt: skip
    assert first.interrupted
    done = [key for key, record in first.records.items() if record is not None]
    assert len(done) == 2 and len(first.missing) == 4
    second = run_experiment(loaded, tmp_path / "runs", LocalBackend(2, fake_cells.ok), tracking_uri=None)
    assert second.skipped == 2 and not second.missing and not second.interrupted
    assert not set(done) & set(_calls(tmp_path)[2:])  # the re-run did not repeat the recorded cells


@pytest.mark.slow
def test_a_crashed_ray_worker_is_reported_as_a_failed_cell(
    make_spec: Callable[..., Path], fake_cells: Any, tmp_path: Path
) -> None:
    import ray.cloudpickle

    from tradebrain.experiments.backends import RayBackend

    ray.cloudpickle.register_pickle_by_value(fake_cells)  # Ray workers do not see the temporary module
    loaded = load_spec(make_spec(grid={"train.algo": ["sac", "ppo"]}))
    result = run_experiment(loaded, tmp_path / "runs", RayBackend(None, 2, fake_cells.crash_sac), tracking_uri=None)
    sac, ppo = (result.records[cell.key] for cell in result.cells)
    assert sac is not None and sac.status == "failed" and "WorkerCrashedError" in (sac.error or "")
    assert ppo is not None and ppo.completed


PARENT_DIES = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from tradebrain.experiments.backends import exit_with_parent

if __name__ == "__main__":
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=exit_with_parent)
    print(pool.submit(os.getpid).result(), flush=True)
    os._exit(0)  # as after SIGKILL: no cleanup, the worker is left waiting for work
"""


def test_workers_exit_when_the_coordinator_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT_DIES)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True)
    worker = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.2)
    assert not _alive(worker)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
