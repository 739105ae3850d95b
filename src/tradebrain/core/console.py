"""Where human-facing output goes: progress bars and tables on stderr when stdout carries JSON."""

from __future__ import annotations

from rich.console import Console

stderr_console = Console(stderr=True)
"""Progress bars always go here, so `--json` output on stdout stays machine-readable."""
