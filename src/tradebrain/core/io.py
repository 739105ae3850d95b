"""Atomic file outputs: a report, model, metrics file or policy is either the old one or the new one.

Why: a killed process or a full disk in the middle of `write_text` leaves a truncated file that
looks like a result. Every output is written to a temporary in the same folder (so the rename never
crosses a file system), flushed, and renamed over the target with `os.replace`, which is atomic on
POSIX and Windows. On any error the temporary is removed and the old file is left as it was.
Temporaries are named `.<name>.<random>.tmp`, so a sweep can recognise what a killed writer left.

Two details make the result indistinguishable from a plain write: the file gets the permissions a
plain write gives (an existing file's, else 0666 less the umask), not the temporary's 0600; and an
OSError raised while writing names the target (a write that fails for lack of space names no file,
or only the temporary), so the command line can say which output could not be written.
"""

from __future__ import annotations

import functools
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

TEMPORARY_SUFFIX = ".tmp"


def temporary_name(path: Path) -> str:
    """The prefix of the temporaries of `path` (`.<name>.`), for writers and sweeps alike."""
    return f".{path.name}."


@functools.cache
def _umask() -> int:
    """The process's umask, read once (by setting and restoring it: there is no other portable way)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(target: Path) -> int:
    """The permission bits `target` keeps (if it exists) or a newly created file would get."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _naming_target(error: OSError, target: Path) -> OSError:
    """`error`, or the same error naming `target` when it names no file or only the temporary."""
    named = error.filename
    if named is not None and not Path(os.fsdecode(named)).name.startswith(temporary_name(target)):
        return error
    return OSError(error.errno, error.strerror or str(error), str(target))


@contextmanager
def atomic_path(path: str | Path, *, fsync: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` to write to; renamed onto `path` when the block succeeds.

    Use it for writers that want a file name (`model.save(tmp)`, `fig.savefig(tmp)`). The parent
    folder must exist. `fsync=True` flushes the data to disk before the rename, so even a power cut
    leaves the old or the new file. An OSError names `path`.
    """
    target = Path(path)
    try:
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=temporary_name(target), suffix=TEMPORARY_SUFFIX)
    except OSError as error:
        raise _naming_target(error, target) from error
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _mode_for(target))
        if fsync:
            with open(temporary, "rb+") as written:
                os.fsync(written.fileno())
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        renamed = _naming_target(error, target)
        if renamed is error:
            raise
        raise renamed from error
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | Path, *, fsync: bool = True) -> Iterator[IO[str]]:
    """A UTF-8 text handle (newline="" for the csv module) whose file replaces `path` on success."""
    with atomic_path(path, fsync=fsync) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        yield handle


def atomic_write_bytes(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """Write `data` to `path` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target, fsync=fsync) as temporary:
        temporary.write_bytes(data)
    return target


def atomic_write_text(path: str | Path, text: str, *, fsync: bool = True) -> Path:
    """Write `text` (UTF-8) to `path` atomically; returns the path."""
    target = Path(path)
    with atomic_path(target, fsync=fsync) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target


def atomic_write_csv(frame: Any, path: str | Path, **options: Any) -> Path:
    """`frame.to_csv(path, **options)` (a pandas DataFrame or Series), atomically; returns the path."""
    with atomic_open(path) as handle:
        frame.to_csv(handle, **options)
    return Path(path)


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
