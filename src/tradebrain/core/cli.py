"""What every command shares, the generic ones in cli/ and a desk's own: the common options, the
clean error exit (code 2, the message names the field to fix), and a value with its interval."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config (default: embedded defaults, see configs/)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print the results as one JSON object on stdout")]
OutOption = Annotated[Path, typer.Option(help="root folder of run outputs")]

console = Console(width=max(Console().width, 120))
"""Tables go to stdout, wide enough for a column with intervals."""


def fail(error: Exception) -> typer.Exit:
    """Print the error (no traceback: it names what to fix) and exit with code 2."""
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(str(error))}", highlight=False)
    return typer.Exit(code=2)


def interval_cell(estimate: Mapping[str, float] | None, fmt: Callable[[float], str]) -> str:
    """The estimate, and its 95% interval dimmed on a second line ("—" when the metric is absent)."""
    if estimate is None:
        return "—"
    return f"{fmt(estimate['value'])}\n[dim][{fmt(estimate['low'])}, {fmt(estimate['high'])}][/dim]"
