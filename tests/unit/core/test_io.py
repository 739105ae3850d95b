"""Atomic outputs: the target is the old file or the new one, never torn, and no temporary is left."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from tradebrain.core.io import atomic_path, atomic_write_bytes, atomic_write_text, sweep_temporaries


def test_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("old")
    assert atomic_write_text(target, "new ü") == target
    assert target.read_text(encoding="utf-8") == "new ü"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_failure_mid_write_keeps_the_old_file_and_removes_the_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.zip"
    target.write_bytes(b"old model")
    with pytest.raises(OSError, match="No space left"), atomic_path(target) as temporary:
        temporary.write_bytes(b"half a mod")
        raise OSError(errno.ENOSPC, "No space left on device", str(temporary))
    assert target.read_bytes() == b"old model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.zip"]


def test_a_failure_before_the_first_write_creates_no_target(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    with pytest.raises(KeyboardInterrupt), atomic_path(target):
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_bytes_are_written_exactly(tmp_path: Path) -> None:
    payload = bytes(range(256)) * 10
    atomic_write_bytes(tmp_path / "policy.npz", payload, fsync=False)
    assert (tmp_path / "policy.npz").read_bytes() == payload


def test_sweep_removes_only_temporaries(tmp_path: Path) -> None:
    (tmp_path / "report.html").write_text("kept")
    (tmp_path / ".report.html.abc123.tmp").write_text("left by a kill")
    (tmp_path / ".other.json.def.tmp").write_text("another writer's")
    (tmp_path / ".hidden").write_text("not a temporary")
    removed = sweep_temporaries(tmp_path, "report.html")
    assert [p.name for p in removed] == [".report.html.abc123.tmp"]
    assert sorted(p.name for p in sweep_temporaries(tmp_path)) == [".other.json.def.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".hidden", "report.html"]
    assert sweep_temporaries(tmp_path / "missing") == []
