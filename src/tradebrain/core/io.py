"""Atomic file outputs: a report, model, metrics file or policy is either the old one or the new one.

Why: a killed process or a full disk in the middle of `write_text` leaves a truncated file that
looks like a result. Every output is written to a temporary in the same folder (so the rename never
crosses a file system), flushed, and renamed over the target with `os.replace`, which is atomic on
POSIX and Windows. On any error the temporary is removed and the old file is left as it was.
Temporaries are named `.<name>.<random>.tmp`, so a sweep can recognise what a killed writer left.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(path: Path) -> str:
    """The prefix of the temporaries of `path` (`.<name>.`), for writers and sweeps alike."""
    return f".{path.name}."


@contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed onto `path` when the block succeeds.

    Use it for writers that want a file name (`model.save(tmp)`, `fig.savefig(tmp)`). The parent
    folder must exist. `fsync=True` flushes the data to disk before the rename, so even a power cut
    leaves the old or the new file.
    """
    target = Path(path)
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=temporary_name(target), suffix=TEMPORARY_SUFFIX)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        if fsync:
            with open(temporary, "rb+") as written:
                os.fsync(written.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target, fsync=fsync) as temporary:
        temporary.write_bytes(data)
    return target


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = True) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"), fsync=fsync)


def sweep_temporaries(folder: str | Path, name: str | None = None) -> list[Path]:
    """Remove the temporaries a killed writer left in `folder` (of `name` only, when given);
    returns what was removed. Only call it where no other writer is active (under a lock)."""
    directory = Path(folder)
    if not directory.is_dir():
        return []
    prefix = temporary_name(Path(name)) if name else "."
    removed = []
    for entry in directory.iterdir():
        if entry.name.startswith(prefix) and entry.name.endswith(TEMPORARY_SUFFIX) and entry.is_file():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed
