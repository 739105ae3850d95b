"""What every command shares, the generic ones in cli/ and a desk's own: the common options, the
clean error exit (code 2, the message names the field to fix), the top-level error handler that
turns what the user can fix (bad files, full disks, unreachable servers) into that exit, and a
value with its interval."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from tradebrain.core.errors import TradebrainError

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: embedded defaults, see configs/)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the results as one JSON object on stdout")]
OutOption = Annotated[Path, typer.Option(help="root folder of run outputs")]

console = Console(width=max(Console().width, 120))
"""Tables go to stdout, wide enough for a column with intervals."""


USAGE_ERROR = 2
"""Exit code of every error the user can fix (click's own for a bad option)."""
INTERNAL_ERROR = 1
"""Exit code of a bug in tradebrain (reported without a traceback unless --debug)."""
DEBUG_KEY = "tradebrain.debug"


def fail(error: Exception | str) -> typer.Exit:
    """Print the error (no traceback: it names what to fix) and exit with code 2."""
    _print_error(str(error))
    return typer.Exit(code=USAGE_ERROR)


def _print_error(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def _where(error: OSError) -> str:
    names = [str(name) for name in (error.filename, error.filename2) if name is not None]
    return " -> ".join(names) if names else "a file"


def _os_message(error: OSError) -> str:
    """What went wrong with a file or folder, and what the user can do about it."""
    where = _where(error)
    code = error.errno
    text = str(error)
    if code in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in text:
        return (
            f"no space left on the device while writing {where}; free some space or write elsewhere "
            "(--out, --store). Nothing partial was kept: outputs are written to a temporary and renamed."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"permission denied on {where}; choose a path you can write to (--out, --store) or fix its permissions"
    if code == errno.ENOENT:
        return f"{where} does not exist; check the path"
    if code == errno.ENOTDIR:
        return f"{where}: part of this path is a file where a folder is expected; choose another path"
    if code == errno.EISDIR:
        return f"{where} is a folder where a file is expected; name a file"
    if code == errno.EEXIST:
        return f"{where} already exists and is in the way; remove it or choose another path"
    reason = error.strerror or text
    return f"{reason} ({where}); check the path and the device"


def describe_error(error: BaseException) -> str | None:
    """A one-paragraph message for an error the user can fix (a bad file, a full disk, a server
    that does not answer), or None for what can only be a bug in tradebrain."""
    module = type(error).__module__.split(".")[0]
    if isinstance(error, TradebrainError):
        return str(error)
    if isinstance(error, UnicodeDecodeError):
        return (
            f"a file is not {error.encoding} text ({error.reason} at byte {error.start}); pass the file's "
            "--encoding where the command takes one, or save the file as UTF-8"
        )
    if module == "yaml":
        return f"invalid YAML: {error}"
    if module in ("psycopg", "psycopg2"):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return (
            f"the PostgreSQL server did not accept the request ({first}); check the DSN (--postgres) and that "
            "the server is running (README: services)"
        )
    if module in ("sqlalchemy", "optuna", "mlflow"):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"{module} failed ({type(error).__name__}: {first}); check the storage or tracking URI you passed"
    if isinstance(error, OSError):
        return _os_message(error)
    if isinstance(error, MemoryError):
        return "out of memory; use a smaller budget (fewer episodes, timesteps or rows) or a bigger machine"
    return None


def debug_enabled(ctx: Any) -> bool:
    """True when `--debug` was given or TRADEBRAIN_DEBUG=1: errors then show their traceback."""
    if os.environ.get("TRADEBRAIN_DEBUG") == "1":
        return True
    while ctx is not None:
        if ctx.meta.get(DEBUG_KEY):
            return True
        ctx = ctx.parent
    return False


class GuardedGroup(TyperGroup):
    """The top-level command group: any error escaping a command becomes one message and exit code
    2 (the user's to fix) or 1 (a bug), with the traceback only under `--debug`."""

    def invoke(self, ctx: Any) -> Any:
        """Run the command; translate what escapes it (the parser's own errors and deliberate exits
        pass through: they already print their message and carry their exit code)."""
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):
            raise
        except Exception as error:
            if debug_enabled(ctx):
                raise
            message = describe_error(error)
            if message is not None:
                _print_error(message)
                raise typer.Exit(code=USAGE_ERROR) from None
            _print_error(
                f"internal error ({type(error).__name__}: {error}); this is a bug in tradebrain: rerun with "
                "--debug (tradebrain --debug <command> ...) for the traceback and report it"
            )
            raise typer.Exit(code=INTERNAL_ERROR) from None


def interval_cell(estimate: Mapping[str, float] | None, fmt: Callable[[float], str]) -> str:
    """The estimate, and its 95% interval dimmed on a second line ("—" when the metric is absent)."""
    if estimate is None:
        return "—"
    return f"{fmt(estimate['value'])}\n[dim][{fmt(estimate['low'])}, {fmt(estimate['high'])}][/dim]"
