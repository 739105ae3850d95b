"""The results store: atomic JSON records, unreadable files count as not run, failed cells are retried."""

from __future__ import annotations

from pathlib import Path

from tradebrain.experiments.store import CellRecord, ResultStore


def _record(key: str, status: str = "completed") -> CellRecord:
    return CellRecord(key=key, config_hash=key.split("-")[0], seed=0, values={"train.algo": "ppo"},
                      status=status, metrics={"agent/objective_usd": 1.5})  # type: ignore[arg-type]  # fmt: skip


def test_a_saved_record_reads_back_equal_and_leaves_no_temporary(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    record = _record("abc-seed0")
    path = store.save(record)
    assert path == tmp_path / "cells" / "abc-seed0.json"
    assert store.load("abc-seed0") == record
    assert [p.name for p in (tmp_path / "cells").iterdir()] == ["abc-seed0.json"]


def test_only_completed_cells_count_as_done(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save(_record("a-seed0"))
    store.save(_record("b-seed0", "failed"))
    (tmp_path / "cells" / "c-seed0.json").write_text('{"key": "c-seed0", "trunc')  # a torn write from elsewhere
    assert store.completed_keys(["a-seed0", "b-seed0", "c-seed0", "d-seed0"]) == {"a-seed0"}
    assert store.load("c-seed0") is None


def test_a_rewrite_replaces_the_record(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    store.save(_record("a-seed0", "failed"))
    store.save(_record("a-seed0"))
    loaded = store.load("a-seed0")
    assert loaded is not None and loaded.completed
