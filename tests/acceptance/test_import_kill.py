"""Kill -9 during `tradebrain data import`, then import again: the store ends exactly equal to the
source, and in between it is never torn and `data list` flags the interrupted import.

Two versions of 100 days of 1-minute bars (same timestamps, different values) are imported in
turn into one Parquet store. Each round starts an import of the other version as a real process
and SIGKILLs it at a seeded random point: usually while it writes (after its journal record
appeared), sometimes before it could begin. Then, with the process gone:

- nothing was lost or torn: the store holds every bar of the previous version once, each row
  exactly that of the previous version or of the new one;
- an import killed after recording itself is flagged "interrupted" by `data list`; one killed
  before wrote nothing;
- importing the same file again completes it: the store equals the new version exactly, the flag
  is gone, and no stray temporary is left.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from tradebrain.cli import app
from tradebrain.data.sources.files import read_bars_csv
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import ParquetBarStore
from tradebrain.data.store.base import VALUE_COLUMNS

ROUNDS = 10
DAYS = 100
SEED = 20240612
CLI = [sys.executable, "-c", "from tradebrain.cli import app; app()"]
runner = CliRunner()


def _import(path: Path, store: Path) -> subprocess.Popen[bytes]:
    """`tradebrain data import` of `path` into `store` as a process of its own."""
    command = [*CLI, "data", "import", str(path), "--symbol", "SPY", "--store", str(store)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _recorded(store: Path) -> bool:
    return any((store / "_journal").glob("*.json"))


def _wait_for_record(process: subprocess.Popen[bytes], store: Path) -> None:
    """Until the import has recorded itself in the journal (or ended)."""
    while process.poll() is None and not _recorded(store):
        time.sleep(0.002)


def _same_rows(stored: pd.DataFrame, version: pd.DataFrame) -> np.ndarray:
    """Per row: whether every value equals `version`'s at the same position (NaN equal to NaN)."""
    a, b = stored[list(VALUE_COLUMNS)].to_numpy(), version[list(VALUE_COLUMNS)].to_numpy()
    return ((a == b) | (np.isnan(a) & np.isnan(b))).all(axis=1)  # type: ignore[no-any-return]


def _listed(store: Path) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["data", "list", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout.strip().splitlines()[-1])["symbols"]
    return row  # type: ignore[no-any-return]


def test_killed_imports_are_flagged_and_completed_by_importing_again(tmp_path: Path) -> None:
    versions = []
    for seed in (1, 2):
        path = tmp_path / f"spy-v{seed}.csv"
        random_walk_bars(DAYS * 1440, "SPY", "2024-01-01", seed=seed).drop(columns="symbol").to_csv(path, index=False)
        versions.append((path, read_bars_csv(path, "SPY")))  # exactly the bars an import stores
    root = tmp_path / "store"

    started = time.monotonic()  # one complete import first, to learn when its writing begins and ends
    process = _import(versions[0][0], root)
    _wait_for_record(process, root)
    begins = time.monotonic() - started
    while process.poll() is None and _recorded(root):  # the record goes when the last bar is in
        time.sleep(0.002)
    writing = time.monotonic() - started - begins
    assert process.wait(timeout=120) == 0
    store = ParquetBarStore(root, create=False)
    previous = versions[0][1]
    pd.testing.assert_frame_equal(store.read("SPY"), previous)

    rng = random.Random(SEED)
    outcomes = []
    for number in range(ROUNDS):
        path, expected = versions[(number + 1) % 2]
        process = _import(path, root)
        if number % 5 == 4:  # now and then before the import could have started writing
            time.sleep(rng.uniform(0.0, 0.8 * begins))
        else:
            _wait_for_record(process, root)
            time.sleep(rng.uniform(0.0, 1.1 * writing))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)

        stored = store.read("SPY")
        assert stored["timestamp"].equals(previous["timestamp"])  # nothing lost, nothing doubled
        old, new = _same_rows(stored, previous), _same_rows(stored, expected)
        assert (old | new).all()  # every row whole: the old bar or the new one
        records = store.journal.records()
        listed = _listed(root)
        if records:
            assert [record.state() for record in records] == ["interrupted"]
            assert listed["interrupted"] and listed["status"] == "interrupted"
            outcomes.append("interrupted" if not new.all() else "interrupted after its last write")
        else:
            assert old.all() or new.all()  # killed before writing anything, or after completing
            assert listed["status"] == "ok"
            outcomes.append("before writing" if old.all() else "after completing")

        again = runner.invoke(app, ["data", "import", str(path), "--symbol", "SPY", "--store", str(root), "--json"])
        assert again.exit_code == 0, again.output
        pd.testing.assert_frame_equal(store.read("SPY"), expected)
        assert store.journal.records() == [] and _listed(root)["status"] == "ok"
        assert not [p for p in root.rglob("*.tmp")]  # every stray temporary swept
        previous = expected
    assert outcomes.count("interrupted") >= 1, outcomes
    print(f"kills: {ROUNDS}, outcomes: {outcomes}")
