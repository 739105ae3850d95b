"""The market-data platform over the machine's NATS (JetStream) and PostgreSQL:
- a replayed session of one-minute bars for 30 symbols reaches per-symbol subscribers in order,
  none lost or duplicated, and lands in PostgreSQL once;
- killing the storage process mid-stream and starting it again loses and duplicates nothing;
- dropping the client's NATS connection mid-stream loses nothing once the backfill has run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.data.sources.synthetic import synthetic_intraday
from tradebrain.data.store.postgres import PostgresBarStore
from tradebrain.platform.buses import make_bus
from tradebrain.platform.client import PlatformClient
from tradebrain.platform.provider import DataProvider
from tradebrain.platform.replay import ReplaySource
from tradebrain.platform.storage import StorageService

pytestmark = pytest.mark.integration
SYMBOLS = [f"T{i:02d}" for i in range(30)]


def session(symbols: list[str], bars: int = 390) -> pd.DataFrame:
    """One seeded synthetic session of one-minute bars per symbol (its first `bars`)."""
    frames = [synthetic_intraday(symbol, days=1, seed=i).iloc[:bars] for i, symbol in enumerate(symbols)]
    return pd.concat(frames, ignore_index=True)


async def stored(storage: StorageService, bars: int, seconds: float = 60.0) -> None:
    """Until the storage component has written `bars` bars (or `seconds` passed: the test's own
    assertions then say what is missing)."""
    deadline = time.monotonic() + seconds
    while storage.written < bars and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def collect(stream, count: int, timeout: float = 60.0) -> list:  # type: ignore[no-untyped-def]
    out = []

    async def run() -> None:
        async for bar in stream:
            out.append(bar)
            if len(out) == count:
                return

    await asyncio.wait_for(run(), timeout)
    return out


def test_a_replayed_session_of_30_symbols_reaches_subscribers_and_postgres_once(
    nats_url: str, postgres_dsn: str
) -> None:
    bars = session(SYMBOLS)
    provider_name = unique("it")
    store = PostgresBarStore(postgres_dsn, table=unique("it_bars_"))

    async def run() -> None:
        bus = make_bus(nats_url)
        await bus.connect()
        storage = StorageService(bus, store, f"{provider_name}-store", flush_seconds=0.1, provider=provider_name)
        await storage.start()
        client = PlatformClient(bus, timeout=30)
        streams = [await client.open_stream(symbol, provider_name) for symbol in SYMBOLS]
        readers = [asyncio.ensure_future(collect(stream, 390)) for stream in streams]
        source = ReplaySource(bars, speed=np.inf, provider=provider_name)
        provider = DataProvider(bus, [source])
        await provider.start()
        await provider.subscribe(SYMBOLS)
        received = await asyncio.gather(*readers)
        for symbol, got in zip(SYMBOLS, received, strict=True):
            want = bars[bars["symbol"] == symbol]
            assert [bar.timestamp for bar in got] == list(want["timestamp"]), symbol
        await stored(storage, len(bars))
        await provider.stop()
        await storage.stop()
        await bus.close()

    try:
        asyncio.run(run())
        assert sorted(store.symbols()) == SYMBOLS
        for symbol in SYMBOLS:
            kept = store.read(symbol)
            assert len(kept) == 390 and kept["timestamp"].is_unique, symbol
    finally:
        store.drop()


def _storage_process(nats_url: str, dsn: str, table_env: dict[str, str], durable: str, log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """`tradebrain platform up --role storage` in its own process, writing to the test's table."""
    code = (
        "import asyncio, sys\n"
        "from tradebrain.data.store.postgres import PostgresBarStore\n"
        "from tradebrain.platform.buses import make_bus\n"
        "from tradebrain.platform.storage import StorageService\n"
        "async def main():\n"
        "    bus = make_bus(sys.argv[1]); await bus.connect()\n"
        "    store = PostgresBarStore(sys.argv[2], table=sys.argv[3])\n"
        "    storage = StorageService(bus, store, sys.argv[4], 500, 0.05, provider=sys.argv[5])\n"
        "    await storage.start()\n"
        "    await asyncio.Event().wait()\n"
        "asyncio.run(main())\n"
    )
    args = [sys.executable, "-c", code, nats_url, dsn, table_env["table"], durable, table_env["provider"]]
    return subprocess.Popen(args, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def test_killing_the_storage_process_mid_stream_loses_and_duplicates_nothing(
    nats_url: str, postgres_dsn: str, tmp_path: Path
) -> None:
    symbols = SYMBOLS[:10]
    bars = session(symbols)
    provider_name = unique("kill")
    table = unique("it_kill_")
    store = PostgresBarStore(postgres_dsn, table=table)
    names = {"table": table, "provider": provider_name}
    durable = f"{provider_name}-store"
    log = tmp_path / "storage.log"

    async def publish() -> None:
        bus = make_bus(nats_url)
        await bus.connect()
        provider = DataProvider(bus, [ReplaySource(bars, speed=600.0, provider=provider_name)])  # 390 min in ~40 s
        await provider.start()
        await provider.subscribe(symbols)
        await provider.wait()
        await provider.stop()
        await bus.close()

    try:
        first = _storage_process(nats_url, postgres_dsn, names, durable, log)
        runner = asyncio.new_event_loop()
        task = runner.create_task(publish())
        runner.run_until_complete(asyncio.sleep(8))  # about a fifth of the session is out and stored
        stored_before = len(store.read(symbols[0])) if symbols[0] in store.symbols() else 0
        first.send_signal(signal.SIGKILL)  # no goodbye: whatever it had not acknowledged comes again
        first.wait()
        runner.run_until_complete(asyncio.sleep(3))  # bars keep coming while no storage runs
        second = _storage_process(nats_url, postgres_dsn, names, durable, log)
        runner.run_until_complete(task)
        runner.close()
        deadline = time.monotonic() + 120  # what the killed process held comes back after JetStream's ack wait (30 s)
        while time.monotonic() < deadline:
            if set(store.symbols()) == set(symbols) and all(len(store.read(s)) == 390 for s in symbols):
                break
            time.sleep(0.5)
        second.terminate()
        second.wait()
        assert 0 < stored_before < 390, f"the kill did not land mid-stream ({stored_before} bars stored)"
        for symbol in symbols:
            kept = store.read(symbol)
            assert len(kept) == 390 and kept["timestamp"].is_unique, (symbol, len(kept), log.read_text()[-2000:])
            want = bars[bars["symbol"] == symbol]
            np.testing.assert_array_equal(kept["close"].to_numpy(), want["close"].to_numpy())
    finally:
        store.drop()


def test_a_dropped_client_connection_loses_nothing_once_the_backfill_has_run(nats_url: str, postgres_dsn: str) -> None:
    bars = session(["DROP"], 120)
    provider_name = unique("drop")
    store = PostgresBarStore(postgres_dsn, table=unique("it_drop_"))

    async def run() -> None:
        server_bus = make_bus(nats_url)
        await server_bus.connect()
        storage = StorageService(server_bus, store, f"{provider_name}-store", 20_000, 0.05, provider=provider_name)
        await storage.start()
        source = ReplaySource(bars, speed=np.inf, provider=provider_name)
        provider = DataProvider(server_bus, [source], store=store)
        await provider.start()

        client_bus = make_bus(nats_url)
        await client_bus.connect()
        client = PlatformClient(client_bus, timeout=30)
        stream = await client.open_stream("DROP", provider_name)
        first_half = bars.iloc[:60]
        await provider.publish(provider_name, "DROP", first_half.iloc[:30])
        got = await collect(stream, 30)
        await client_bus.close()  # the client's connection goes away mid-stream
        await provider.publish(provider_name, "DROP", first_half.iloc[30:])  # 30 bars it never sees live
        await stored(storage, 60)
        client_bus = make_bus(nats_url)  # the client comes back, knowing the last bar it has
        await client_bus.connect()
        client = PlatformClient(client_bus, timeout=30)
        resumed = await client.open_stream("DROP", provider_name, since=got[-1].timestamp)
        reader = asyncio.ensure_future(collect(resumed, 60))
        await provider.publish(provider_name, "DROP", bars.iloc[[29]])  # an old bar again: dropped as a repeat
        await provider.publish(provider_name, "DROP", bars.iloc[60:90])  # the gap 30..59 comes from history
        later = await reader
        await provider.stop()
        await storage.stop()
        await client_bus.close()
        await server_bus.close()
        return got, later

    try:
        got, later = asyncio.run(run())
        seen = [bar.timestamp for bar in got] + [bar.timestamp for bar in later]
        assert seen == list(bars["timestamp"].iloc[:90])  # every bar once, in order
        assert [bar.close for bar in later[:30]] == list(bars["close"].iloc[30:60])
    finally:
        store.drop()


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _nats_server(port: int, folder: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    """A private nats-server with JetStream on `port`, its store in `folder` (kept across restarts)."""
    import shutil
    import socket

    binary = shutil.which("nats-server") or (
        "/usr/sbin/nats-server" if Path("/usr/sbin/nats-server").exists() else None
    )
    if binary is None:
        reason = "nats-server is not installed (Debian: apt install nats-server); this test restarts its own server"
        if os.environ.get("TRADEBRAIN_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    server = subprocess.Popen([binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return server
        time.sleep(0.05)
    server.kill()
    raise AssertionError(f"nats-server did not start on port {port}")


def test_the_components_survive_a_nats_restart_without_losing_stored_data(nats_url: str, tmp_path: Path) -> None:
    """The NATS server is killed mid-stream and started again on the same store: the provider and
    the storage component carry on over their reconnected connections, and every bar is stored once."""
    from tradebrain.data.store.parquet import ParquetBarStore

    port = _free_port()
    url = f"nats://127.0.0.1:{port}"
    folder = tmp_path / "jetstream"
    server = _nats_server(port, folder)
    symbols = SYMBOLS[:5]
    bars = session(symbols, 120)
    store = ParquetBarStore(tmp_path / "store")

    async def run() -> None:
        nonlocal server
        bus = make_bus(url)
        await bus.connect()
        storage = StorageService(bus, store, "restart-store", flush_seconds=0.05, provider="replay")
        await storage.start()
        provider = DataProvider(bus, [ReplaySource(bars, speed=np.inf)])
        await provider.start()
        first = bars[bars["timestamp"] < bars["timestamp"].iloc[0] + pd.Timedelta(minutes=60)]
        await provider.publish_frame("replay", first)
        await stored(storage, len(first))
        server.send_signal(signal.SIGKILL)  # the bus goes away without a word
        server.wait()
        await asyncio.sleep(1.0)
        server = _nats_server(port, folder)  # back on the same JetStream store
        for _ in range(100):  # the connections come back by themselves
            if getattr(bus, "connected", True):
                break
            await asyncio.sleep(0.1)
        await provider.publish_frame("replay", bars.drop(first.index))
        await stored(storage, len(bars))
        await provider.stop()
        await storage.stop()
        await bus.close()

    try:
        asyncio.run(run())
        for symbol in symbols:
            kept = store.read(symbol)
            assert len(kept) == 120 and kept["timestamp"].is_unique, (symbol, len(kept))
    finally:
        server.kill()
        server.wait()
