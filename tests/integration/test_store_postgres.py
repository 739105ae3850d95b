"""PostgresBarStore against the machine's PostgreSQL: round trip, idempotent upsert, ranges, a crash
inside the write transaction that leaves the old data, schemas and table prefixes, connection errors
that name the DSN (password masked), retried deadlocks, the journal table, the doctor and the CLI.
Each test uses its own table or schema and drops it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest

from tradebrain.data.schema import BAR_COLUMNS, DataValidationError
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import BarStore, PostgresBarStore
from tradebrain.data.store import postgres as postgres_module

pytestmark = pytest.mark.integration


def make_bars(n: int, symbol: str = "TEST", start: str = "2024-03-01 22:00", seed: int = 0) -> pd.DataFrame:
    """`n` validated bars of `symbol` every min from `start` (UTC); every 7th vwap is NaN."""
    return random_walk_bars(n, symbol, start, freq="min", seed=seed)


@pytest.fixture
def store(postgres_dsn: str) -> Iterator[PostgresBarStore]:
    created = PostgresBarStore(postgres_dsn, table=f"bars_test_{uuid.uuid4().hex[:12]}")
    try:
        yield created
    finally:
        created.drop()


def _table_state(store: PostgresBarStore) -> list[tuple[object, ...]]:
    with psycopg.connect(store.dsn) as connection:
        query = psycopg.sql.SQL("SELECT xmin::text, * FROM {} ORDER BY symbol, ts").format(
            psycopg.sql.Identifier(store.table)
        )
        return list(connection.execute(query).fetchall())


def test_round_trip_is_unchanged_including_nan_vwap(store: PostgresBarStore) -> None:
    assert isinstance(store, BarStore)
    bars = make_bars(3000)
    assert store.write(bars) == 3000
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_reingest_changes_no_row(store: PostgresBarStore) -> None:
    bars = make_bars(500)
    store.write(bars)
    before = _table_state(store)  # xmin changes whenever a row is rewritten
    store.write(bars)
    assert _table_state(store) == before
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_upsert_replaces_values_and_adds_new_rows(store: PostgresBarStore) -> None:
    bars = make_bars(1000)
    store.write(bars.iloc[:600])
    changed = bars.iloc[400:].copy()
    changed[["open", "high", "low", "close"]] *= 2.0
    changed["vwap"] = np.nan
    store.write(changed)
    expected = pd.concat([bars.iloc[:400], changed], ignore_index=True)
    pd.testing.assert_frame_equal(store.read("TEST"), expected)


def test_ranges_symbols_coverage_and_delete(store: PostgresBarStore) -> None:
    spy, odd = make_bars(300, "SPY"), make_bars(20, 'weird "name"', seed=1)
    store.write(pd.concat([spy, odd], ignore_index=True))
    assert store.symbols() == ["SPY", 'weird "name"']
    start, end = spy["timestamp"].iloc[50], spy["timestamp"].iloc[250]
    pd.testing.assert_frame_equal(store.read("SPY", start, end), spy.iloc[50:250].reset_index(drop=True))
    assert store.coverage("SPY") == (spy["timestamp"].iloc[0], spy["timestamp"].iloc[-1], 300)
    empty = store.read("NOPE")
    assert empty.empty and tuple(empty.columns) == BAR_COLUMNS
    assert store.coverage("NOPE") is None
    assert store.delete("SPY") == 300
    assert store.symbols() == ['weird "name"']


def test_crash_inside_the_transaction_leaves_the_old_data(
    store: PostgresBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    bars = make_bars(1000)
    store.write(bars)
    real = postgres_module.copy_payload

    def crashing(frame: pd.DataFrame) -> Iterator[bytes]:
        chunks = real(frame)
        yield next(chunks)
        yield next(chunks)
        raise OSError("connection lost (simulated)")

    monkeypatch.setattr(postgres_module, "copy_payload", crashing)
    changed = make_bars(2000, seed=5)
    with pytest.raises(OSError, match="simulated"):
        store.write(changed)
    pd.testing.assert_frame_equal(store.read("TEST"), bars)


def test_invalid_bars_write_nothing(store: PostgresBarStore) -> None:
    bars = make_bars(100)
    store.write(bars.iloc[:50])
    bad = bars.copy()
    bad.loc[80, "high"] = bad.loc[80, "low"] / 2
    with pytest.raises(DataValidationError, match="row 80"):
        store.write(bad)
    assert store.coverage("TEST") == (bars["timestamp"].iloc[0], bars["timestamp"].iloc[49], 50)


def test_table_names_are_quoted_safely(postgres_dsn: str) -> None:
    created = PostgresBarStore(postgres_dsn, table=f"bars; drop table x {uuid.uuid4().hex[:8]}")
    try:
        created.write(make_bars(10))
        assert created.coverage("TEST") is not None
    finally:
        created.drop()


# ------------------------------------------------------------------ schema, prefix, errors, retry, journal


@pytest.fixture
def schema(postgres_dsn: str) -> Iterator[str]:
    """A fresh schema name, dropped (with everything in it) after the test."""
    name = f"tb_test_{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        with psycopg.connect(postgres_dsn) as connection:
            connection.execute(psycopg.sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(psycopg.sql.Identifier(name)))


def test_schema_and_prefix_keep_stores_apart(postgres_dsn: str, schema: str) -> None:
    alice = PostgresBarStore(postgres_dsn, schema=schema, prefix="alice_")
    bob = PostgresBarStore(postgres_dsn, schema=schema, prefix="bob_")
    elsewhere = PostgresBarStore(postgres_dsn, schema=f"{schema}_2", prefix="alice_")
    try:
        alice.write(make_bars(100, "SPY"))
        bob.write(make_bars(50, "QQQ"))
        assert alice.symbols() == ["SPY"] and bob.symbols() == ["QQQ"] and elsewhere.symbols() == []
        with psycopg.connect(postgres_dsn) as connection:
            tables = connection.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1", (schema,)
            ).fetchall()
        assert [row[0] for row in tables] == ["alice_bars", "alice_bars_imports", "bob_bars", "bob_bars_imports"]
        assert alice.qualified == f"{schema}.alice_bars"
    finally:
        elsewhere.drop(schema=True)
    bob.drop()
    assert alice.symbols() == ["SPY"]


def test_stores_created_at_once_by_many_threads_do_not_collide(postgres_dsn: str, schema: str) -> None:
    import threading

    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def create() -> None:
        barrier.wait()
        try:
            PostgresBarStore(postgres_dsn, schema=schema, prefix="same_")
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_connection_failures_name_the_dsn_with_the_password_masked() -> None:
    from tradebrain.core.errors import ConfigError, TradebrainError

    with pytest.raises(
        TradebrainError, match=r"cannot connect to PostgreSQL at postgresql://me:\*\*\*@127\.0\.0\.1:1/x"
    ) as down:
        PostgresBarStore("postgresql://me:hunter2@127.0.0.1:1/x", connect_timeout=2)
    assert "hunter2" not in str(down.value) and "pg_isready" in str(down.value)
    with pytest.raises(TradebrainError, match=r"host=127\.0\.0\.1 port=1 password=\*\*\*") as keywords:
        PostgresBarStore("host=127.0.0.1 port=1 password=hunter2 connect_timeout=2")
    assert "hunter2" not in str(keywords.value)
    with pytest.raises(ConfigError, match="not a valid DSN"):
        PostgresBarStore("no equals sign here")
    with pytest.raises(ConfigError, match="longer than PostgreSQL's 63 bytes; shorten --table-prefix"):
        PostgresBarStore("postgresql://127.0.0.1:1/x", prefix="p" * 60)


def test_a_missing_database_is_a_clean_error(postgres_dsn: str) -> None:
    from tradebrain.core.errors import TradebrainError

    missing = postgres_dsn.rsplit("/", 1)[0] + f"/no_such_db_{uuid.uuid4().hex[:6]}"
    with pytest.raises(TradebrainError, match=r"does not exist.*check that the server runs"):
        PostgresBarStore(missing)


def test_deadlocks_are_retried_and_give_up_with_a_named_error(
    store: PostgresBarStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradebrain.core.errors import TradebrainError

    real = postgres_module.copy_payload
    failures = {"left": 2}

    def deadlocking(frame: pd.DataFrame) -> Iterator[bytes]:
        if failures["left"]:
            failures["left"] -= 1
            raise psycopg.errors.DeadlockDetected("deadlock detected (simulated)")
        yield from real(frame)

    monkeypatch.setattr(postgres_module, "copy_payload", deadlocking)
    monkeypatch.setattr(postgres_module.time, "sleep", lambda seconds: None)
    bars = make_bars(300)
    assert store.write(bars) == 300 and failures["left"] == 0
    pd.testing.assert_frame_equal(store.read("TEST"), bars)
    failures["left"] = store.retries + 1
    with pytest.raises(
        TradebrainError, match=rf"failed {store.retries + 1} times on conflicts with concurrent writers"
    ):
        store.write(make_bars(10, seed=3))


def test_the_journal_lives_in_its_own_table(store: PostgresBarStore) -> None:
    import dataclasses
    import subprocess
    import sys
    from datetime import timedelta

    from tradebrain.data.store.doctor import PROBLEM, healthy
    from tradebrain.data.store.journal import begin_import

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    bars = make_bars(500)
    interrupted = dataclasses.replace(begin_import("/data/a.csv", bars), pid=dead.pid)
    store.journal.begin(interrupted)
    assert store.journal.records() == [interrupted] and interrupted.state() == "interrupted"
    assert healthy(store.doctor()) is False
    assert [f.check for f in store.doctor() if f.status == PROBLEM] == ["imports"]
    redo = dataclasses.replace(begin_import("/data/a.csv", bars), started=interrupted.started + timedelta(seconds=1))
    store.journal.begin(redo)
    assert store.journal.complete(redo) == [interrupted]
    assert store.journal.records() == [] and healthy(store.doctor())
    running = begin_import("/data/b.csv", bars)
    store.journal.begin(running)
    assert [record.state() for record in store.journal.records()] == ["importing"]
    store.journal.abandon(running, "OSError: disk full")
    [stopped] = store.journal.records()
    assert stopped.state() == "interrupted" and "stopped by an error: OSError: disk full" in stopped.describe()


def test_cli_with_schema_and_prefix(postgres_dsn: str, schema: str, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from tradebrain.cli import app

    bars = make_bars(3000, "SPY")
    source = tmp_path / "spy.csv"
    bars.drop(columns="symbol").to_csv(source, index=False)
    where = ["--postgres", postgres_dsn, "--schema", schema, "--table-prefix", "cli_"]
    runner = CliRunner()

    def run(*args: str) -> dict:  # type: ignore[type-arg]
        result = runner.invoke(app, ["data", *args, *where, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    assert run("import", str(source), "--symbol", "SPY")["written"] == 3000
    [listed] = run("list")["symbols"]
    assert listed["bars"] == 3000 and listed["status"] == "ok"
    assert run("show", "SPY", "--rows", "1")["bars"] == 3000
    assert run("doctor")["healthy"]
    unknown = runner.invoke(app, ["data", "show", "SPX", *where])
    assert unknown.exit_code == 2 and "did you mean SPY?" in unknown.output
    pd.testing.assert_frame_equal(PostgresBarStore(postgres_dsn, schema=schema, prefix="cli_").read("SPY"), bars)
    typo = runner.invoke(app, ["data", "list", "--postgres", postgres_dsn, "--schema", f"{schema}x"])
    assert typo.exit_code == 2 and "there is no bar table" in typo.output and "--schema" in typo.output
    with psycopg.connect(postgres_dsn) as connection:  # and the mistyped schema was not created
        assert connection.execute("SELECT to_regnamespace(%s)", (f"{schema}x",)).fetchone() == (None,)
