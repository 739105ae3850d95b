"""The results store a re-run checks: one JSON file per finished cell under runs/<spec>/cells/,
written atomically (temporary file + os.replace), so a kill leaves a cell recorded whole or not at all."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Status = Literal["completed", "failed"]


@dataclass(frozen=True)
class CellRecord:
    """What is kept of one finished (or failed) cell."""

    key: str
    config_hash: str
    seed: int
    values: dict[str, Any]
    status: Status
    metrics: dict[str, float] = field(default_factory=dict)
    improvements: dict[str, list[float]] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    out_dir: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    mlflow_run_id: str | None = None

    @property
    def completed(self) -> bool:
        """True when the cell ran to the end and its metrics are valid."""
        return self.status == "completed"


class ResultStore:
    """Cell records of one experiment, one JSON file each."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cells_dir = root / "cells"

    def path(self, key: str) -> Path:
        """The record file of a cell."""
        return self.cells_dir / f"{key}.json"

    def out_dir(self, key: str) -> Path:
        """The artifact folder of a cell."""
        return self.cells_dir / key

    def load(self, key: str) -> CellRecord | None:
        """The record of a cell, or None when it never finished (an unreadable file counts as never)."""
        path = self.path(key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return CellRecord(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, record: CellRecord) -> Path:
        """Write the record atomically: readers see the old file or the new one, never half of one."""
        self.cells_dir.mkdir(parents=True, exist_ok=True)
        path = self.path(record.key)
        handle, temporary = tempfile.mkstemp(dir=self.cells_dir, prefix=f".{record.key}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(asdict(record), stream)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def completed_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` whose cells completed (failed cells are retried)."""
        return {key for key in keys if (record := self.load(key)) is not None and record.completed}
