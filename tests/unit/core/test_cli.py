"""The top-level error handler: what the user can fix exits 2 with one message, a bug exits 1, and
`--debug` shows the traceback instead."""

from __future__ import annotations

import errno

import pytest
import typer
import yaml
from typer.testing import CliRunner

from tradebrain.core.cli import INTERNAL_ERROR, USAGE_ERROR, GuardedGroup, describe_error
from tradebrain.core.errors import ConfigError

runner = CliRunner()


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ConfigError("'train.seed': must be >= 0"), "'train.seed'"),
        (OSError(errno.ENOSPC, "No space left on device", "/full/report.html"), "no space left on the device"),
        (OSError(errno.ENOSPC, "No space left on device", "/full/report.html"), "/full/report.html"),
        (OSError("Error writing bytes to file. Detail: [errno 28] No space left on device"), "no space left"),
        (PermissionError(errno.EACCES, "Permission denied", "/ro/runs"), "permission denied on /ro/runs"),
        (OSError(errno.EROFS, "Read-only file system", "/ro"), "permission denied on /ro"),
        (FileNotFoundError(errno.ENOENT, "No such file", "/nope.csv"), "/nope.csv does not exist"),
        (NotADirectoryError(errno.ENOTDIR, "Not a directory", "/a/file/x"), "a file where a folder is expected"),
        (IsADirectoryError(errno.EISDIR, "Is a directory", "/a/folder"), "is a folder where a file is expected"),
        (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte"), "--encoding"),
        (yaml.YAMLError("mapping values are not allowed here"), "invalid YAML"),
        (MemoryError(), "out of memory"),
    ],
)
def test_errors_the_user_can_fix_get_a_message_naming_what_to_do(error: BaseException, expected: str) -> None:
    message = describe_error(error)
    assert message is not None and expected in message
    assert "\n\n" not in message  # one paragraph


def test_a_database_error_names_the_dsn_option_without_importing_the_driver() -> None:
    error_type = type("OperationalError", (Exception,), {"__module__": "psycopg"})
    message = describe_error(error_type("connection refused\nIs the server running?"))
    assert message is not None and "connection refused" in message and "--postgres" in message
    assert "Is the server running" not in message  # the first line only


@pytest.mark.parametrize("error", [KeyError("x"), ZeroDivisionError(), TypeError("bad operand")])
def test_a_bug_is_not_disguised_as_a_user_error(error: Exception) -> None:
    assert describe_error(error) is None


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer(cls=GuardedGroup)

    @app.callback()
    def main(ctx: typer.Context, debug: bool = typer.Option(False, "--debug")) -> None:
        ctx.meta["tradebrain.debug"] = debug

    @app.command()
    def run() -> None:
        raise error

    @app.command()
    def ok() -> None:
        typer.echo("fine")

    return app


def test_the_handler_turns_a_full_disk_into_exit_2_without_a_traceback() -> None:
    result = runner.invoke(_app(OSError(errno.ENOSPC, "No space left on device", "/x/model.zip")), ["run"])
    assert result.exit_code == USAGE_ERROR
    assert "no space left on the device while writing /x/model.zip" in result.output
    assert "Traceback" not in result.output


def test_a_bug_exits_1_and_says_how_to_see_the_traceback() -> None:
    result = runner.invoke(_app(KeyError("window")), ["run"])
    assert result.exit_code == INTERNAL_ERROR
    assert "internal error (KeyError" in result.output and "--debug" in result.output
    assert "Traceback" not in result.output


def test_debug_lets_the_exception_through(monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(_app(KeyError("window")), ["--debug", "run"])
    assert isinstance(result.exception, KeyError)
    monkeypatch.setenv("TRADEBRAIN_DEBUG", "1")
    result = runner.invoke(_app(OSError(errno.ENOSPC, "full", "/x")), ["run"])
    assert isinstance(result.exception, OSError)


def test_commands_that_succeed_or_exit_on_purpose_are_untouched() -> None:
    assert runner.invoke(_app(KeyError("x")), ["ok"]).output == "fine\n"
    result = runner.invoke(_app(typer.Exit(code=3)), ["run"])
    assert result.exit_code == 3 and result.output == ""
