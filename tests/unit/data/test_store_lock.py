"""The store's month locks: taken in sorted order, exclusive between holders, released when the
holder dies (even by SIGKILL), and a timeout that names the lock file; plus concurrent writers of
one month through the Parquet store keeping every row."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pytest

from tradebrain.core.errors import TradebrainError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import ParquetBarStore
from tradebrain.data.store import lock as lock_module
from tradebrain.data.store.lock import hold, try_hold

HOLDER = """
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_hold_takes_every_lock_in_sorted_order_and_releases_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [tmp_path / "locks" / name for name in ("c.lock", "a.lock", "b.lock", "a.lock")]
    taken: list[str] = []
    real = lock_module.new_lock

    def recording(path: Path):  # type: ignore[no-untyped-def]
        taken.append(path.name)
        return real(path)

    monkeypatch.setattr(lock_module, "new_lock", recording)
    with hold(paths):
        assert taken == ["a.lock", "b.lock", "c.lock"]  # sorted, each once
        assert all(try_hold(path) is None for path in paths)  # another holder cannot get them
    for path in paths:
        other = try_hold(path)
        assert other is not None
        other.release()


def test_a_lock_that_stays_busy_times_out_naming_the_file_and_releasing_the_others(tmp_path: Path) -> None:
    first, busy = tmp_path / "a.lock", tmp_path / "b.lock"
    holder = try_hold(busy)
    assert holder is not None
    try:
        with (
            pytest.raises(TradebrainError, match=r"could not lock .*b\.lock within 0\.2 s.*wait for it"),
            hold([first, busy], timeout=0.2),
        ):
            pass
        again = try_hold(first)  # released although the block never ran
        assert again is not None
        again.release()
    finally:
        holder.release()


def test_a_killed_holder_releases_its_lock(tmp_path: Path) -> None:
    path = tmp_path / "month.lock"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        assert try_hold(path) is None
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        with hold([path], timeout=10):
            assert path.exists()
    finally:
        process.kill()
        process.wait()


def test_concurrent_writers_of_one_month_keep_every_row(tmp_path: Path) -> None:
    """Eight threads each upsert a different day of the same month at the same moment, with their
    own store objects (as separate processes would): the month file ends with every row once."""
    days = [random_walk_bars(1440, "SPY", f"2024-03-{day:02d}", seed=day) for day in range(1, 9)]
    barrier = threading.Barrier(len(days))
    errors: list[BaseException] = []

    def upsert(bars: pd.DataFrame) -> None:
        try:
            store = ParquetBarStore(tmp_path / "store", threads=1)  # opened (and created) concurrently too
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            barrier.abort()  # the others must not wait forever for this thread
            return
        try:
            barrier.wait(timeout=60)
            store.write(bars)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    for _ in range(3):  # several rounds of the same race, each on fresh months of the same store
        threads = [threading.Thread(target=upsert, args=(bars,)) for bars in days]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        days = [bars.assign(timestamp=bars["timestamp"] + pd.DateOffset(months=1)) for bars in days]
    assert errors == []
    stored = ParquetBarStore(tmp_path / "store").read("SPY")
    assert len(stored) == 3 * 8 * 1440
    assert stored["timestamp"].is_unique and stored["timestamp"].is_monotonic_increasing
