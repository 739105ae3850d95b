"""Inter-process locks for the Parquet store: one lock file per symbol and month, taken in sorted order.

Why: a month file is rewritten by read-merge-replace. Two imports into the same month that both read
the old file and both replace it keep only one import's rows (a user lost 5,760 of 11,520 rows that
way, every process exiting 0). Holding the month's lock from the read to the replace serialises them.

Why these choices:
- `filelock` (flock on POSIX, msvcrt on Windows): the operating system releases a lock when its
  process dies, even by SIGKILL, so a killed import never leaves a lock that blocks the next one.
- Lock files live in their own tree (`<root>/_locks/...`), never inside the data folders: a data
  folder may be renamed aside (delete) or quarantined, and a lock file that moves stops excluding.
  Lock files are left in place after release (unlinking them would split waiters across inodes).
- Several locks are always taken in one global (sorted) order, so two writers can never each hold
  one lock the other waits for (no deadlock).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from tradebrain.core.errors import TradebrainError

DEFAULT_TIMEOUT = 600.0
"""Seconds a writer waits for a lock before giving up: far longer than any one month's rewrite."""


def new_lock(path: Path) -> FileLock:
    """A fresh, non-thread-local lock object on `path` (its folder is created when missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(path, thread_local=False)


@contextmanager
def hold(paths: Iterable[Path], timeout: float = DEFAULT_TIMEOUT) -> Iterator[None]:
    """Hold the locks on every path in `paths` (sorted, duplicates ignored) for the block.

    Raises a TradebrainError naming the lock file when one cannot be taken within `timeout` seconds
    (another writer is stuck or very slow), after releasing every lock taken so far.
    """
    with ExitStack() as stack:
        for path in sorted(set(paths), key=os.fspath):
            lock = new_lock(path)
            try:
                lock.acquire(timeout=timeout)
            except Timeout:
                raise TradebrainError(
                    f"could not lock {path} within {timeout:g} s: another import or repair of the same month is "
                    "still running; wait for it to finish (or stop it), then retry"
                ) from None
            stack.callback(lock.release)
        yield


def try_hold(path: Path) -> FileLock | None:
    """The lock on `path`, acquired without waiting, or None when another process holds it."""
    lock = new_lock(path)
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return None
    return lock
