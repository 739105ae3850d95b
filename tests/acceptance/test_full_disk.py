"""A full disk never leaves a torn output: a report, a trained model and the Parquet bar store each keep
what they held (byte for byte) or hold nothing, no temporary is left behind, and the command exits 2
with one paragraph that says the disk is full and names the file.

Two disks, the same assertions: a real 8 MB tmpfs filled to the last byte (needs root and mount, as in
the CI container; skipped elsewhere), and a simulated one where every write into the folder fails with
ENOSPC after a few bytes, part way through (Python file writes through `io.open`, Parquet files through
the store's `write_part`), so the test runs on any machine.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner, Result

import tradebrain.data.store.parquet as parquet_store
from tradebrain.cli import app
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store.parquet import ParquetBarStore

runner = CliRunner()
NO_SPACE = "No space left on device"
SIMULATED_BUDGET = 100
"""Bytes the simulated disk still takes once full: a write lands part way, then fails."""


class FullFileIO(io.FileIO):
    """A raw file on the simulated disk: writes succeed until the shared budget runs out, then the
    part that fits is written and ENOSPC raised, as a real full device does."""

    budget: ClassVar[list[int]] = [0]

    def write(self, data: Any) -> int:
        """Write within the budget; ENOSPC for the rest."""
        view = memoryview(data).cast("B")
        room = self.budget[0]
        if len(view) <= room:
            self.budget[0] -= len(view)
            return super().write(view)
        if room:
            super().write(view[:room])
            self.budget[0] = 0
        raise OSError(errno.ENOSPC, NO_SPACE)


class Disk:
    """A folder that can be filled: a real tmpfs (mode "tmpfs") or a simulated device ("simulated")."""

    def __init__(self, folder: Path, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.folder = folder
        self.mode = mode
        self.monkeypatch = monkeypatch

    def fill(self) -> None:
        """From now on nothing more fits."""
        if self.mode == "tmpfs":
            self._fill_tmpfs()
        else:
            self._simulate()

    def _fill_tmpfs(self) -> None:
        with open(self.folder / "filler", "wb", buffering=0) as filler:
            for size in (1 << 16, 1 << 12, 1):
                chunk = b"\0" * size
                with contextlib.suppress(OSError):
                    while True:
                        filler.write(chunk)

    def _simulate(self) -> None:
        real_open = io.open
        folder = str(self.folder.resolve())
        FullFileIO.budget[0] = SIMULATED_BUDGET

        def full_open(file: Any, mode: str = "r", buffering: int = -1, encoding: str | None = None,
                      errors: str | None = None, newline: str | None = None, closefd: bool = True,
                      opener: Any = None) -> Any:  # fmt: skip
            writes = any(flag in mode for flag in "wax+")
            if not (writes and isinstance(file, str | os.PathLike)):
                return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            if not os.path.abspath(os.fsdecode(file)).startswith(folder):
                return real_open(file, mode, buffering, encoding, errors, newline, closefd, opener)
            raw = FullFileIO(file, mode.replace("b", "").replace("t", ""), closefd=closefd, opener=opener)
            buffered = io.BufferedRandom(raw) if "+" in mode else io.BufferedWriter(raw)
            if "b" in mode:
                return buffered
            return io.TextIOWrapper(buffered, encoding=io.text_encoding(encoding), errors=errors, newline=newline)

        def torn_part(table: Any, path: Path) -> None:  # pyarrow writes in C++, past io.open
            pq.write_table(table, path, compression="none", use_dictionary=False)
            with open(path, "r+b") as handle:
                handle.truncate(os.path.getsize(path) // 2)
            raise OSError(errno.ENOSPC, NO_SPACE)

        self.monkeypatch.setattr(io, "open", full_open)
        self.monkeypatch.setattr("builtins.open", full_open)
        self.monkeypatch.setattr(parquet_store, "write_part", torn_part)


def _mount(folder: Path) -> bool:
    """Mount an 8 MB tmpfs on `folder`; False where that is not permitted (not root, no mount)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], capture_output=True)
    return done.returncode == 0


@pytest.fixture(params=["tmpfs", "simulated"])
def disk(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Disk]:
    """A disk with room, to be filled by the test."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if request.param == "tmpfs" and not _mount(folder):
        pytest.skip("cannot mount a tmpfs here (needs root); the simulated disk runs the same checks")
    try:
        yield Disk(folder, request.param, monkeypatch)
    finally:
        monkeypatch.undo()  # the simulated open must not outlive the test
        if request.param == "tmpfs":
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def _store_data(root: Path) -> dict[str, bytes]:
    """The month files of a bar store (its lock and journal files are bookkeeping, not data)."""
    return {name: content for name, content in _snapshot(root).items() if name.startswith("symbol=")}


def _temporaries(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.name.startswith(".") and path.name.endswith(".tmp")]


def _assert_clean_full_disk_exit(result: Result, folder: Path) -> None:
    """Exit 2, one paragraph saying the disk is full and naming a file in `folder`, no traceback."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output and "no space left" in output.lower(), output
    assert str(folder) in output.replace("\n", ""), output
    assert "\n\n" not in output.strip(), output


def test_a_backtest_report_is_kept_whole_when_the_disk_fills(disk: Disk, tmp_path: Path) -> None:
    data = tmp_path / "bars.csv"
    random_walk_bars(400, freq="D", seed=3).to_csv(data, index=False)
    out = disk.folder / "backtest"
    args = ["backtest", "--data", str(data), "--out", str(out), "--json"]
    first = runner.invoke(app, [*args, "--fast", "10", "--slow", "20"])
    assert first.exit_code == 0, first.output
    before = _snapshot(out)
    assert {"report.html", "metrics.json", "equity.csv", "trades.csv", "equity.png"} <= set(before)
    disk.fill()
    second = runner.invoke(app, [*args, "--fast", "5", "--slow", "30"])  # different numbers, same files
    _assert_clean_full_disk_exit(second, out)
    assert _snapshot(out) == before  # every old file byte for byte
    assert _temporaries(out) == []


def test_a_trained_model_is_kept_whole_when_the_disk_fills(disk: Disk) -> None:
    torch.set_num_threads(1)
    tiny = ["--timesteps", "256", "--set", "train.n_envs=4", "--set", "train.hyperparams={n_steps: 64, batch_size: 64}",
            "--set", "train.net_arch=[8]", "--name", "tiny", "--out", str(disk.folder)]  # fmt: skip
    first = runner.invoke(app, ["train", "execution", *tiny, "--seed", "0", "--json"])
    assert first.exit_code == 0, first.output
    run_dir = disk.folder / "tiny"
    before = _snapshot(run_dir)
    assert "model.zip" in before
    disk.fill()
    second = runner.invoke(app, ["train", "execution", *tiny, "--seed", "1", "--json"])
    _assert_clean_full_disk_exit(second, run_dir)
    after = _snapshot(run_dir)
    for name, content in after.items():  # each file old byte for byte (a file may only be gone, never torn)
        assert before.get(name) == content, f"{name} was changed by a failed write"
    assert _temporaries(run_dir) == []


def test_the_bar_store_keeps_what_it_held_when_the_disk_fills(disk: Disk) -> None:
    bars = random_walk_bars(3 * 24 * 60, freq="min", start="2024-03-30 00:00", seed=5)  # March and April
    store = ParquetBarStore(disk.folder / "store", threads=1)
    store.write(bars.iloc[: len(bars) // 2])
    held = store.read("TEST")
    files = _store_data(disk.folder / "store")
    assert files
    disk.fill()
    with pytest.raises(OSError) as raised:  # updates March's file, creates April's
        store.write(bars)
    assert raised.value.errno == errno.ENOSPC or NO_SPACE in str(raised.value)
    pd.testing.assert_frame_equal(store.read("TEST"), held)
    assert _store_data(disk.folder / "store") == files
    assert _temporaries(disk.folder / "store") == []
