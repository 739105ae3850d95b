"""Market-data platform speed: fan-out from the provider to 1, 10 and 30 subscribers, a 1.5M-bar
history served end to end from the local store through the bus and the client (with a small
request timed while it runs), and ingest into PostgreSQL, on the in-process bus and over NATS.

Why: the issue's targets. The seed measured 80 s to pull the 1.5M one-minute bars of AAPL from
the broker; served from the store the same history must take under 2 s, a small request beside
it under 100 ms, and the storage component must ingest at least 200,000 bars/s into PostgreSQL.
Each figure is one run (best of none): the machine is shared and noisy, so read ratios and orders
of magnitude, not the last digit.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.table import Table

from benchmarks.report import verdict
from benchmarks.store_speed import POSTGRES_DSN, make_bars, postgres_reachable
from tradebrain.data.sources.synthetic import random_walk_bars
from tradebrain.data.store import ParquetBarStore, PostgresBarStore
from tradebrain.platform.buses import make_bus
from tradebrain.platform.client import PlatformClient
from tradebrain.platform.codec import decode
from tradebrain.platform.provider import DataProvider
from tradebrain.platform.replay import ReplaySource
from tradebrain.platform.storage import StorageService
from tradebrain.platform.subjects import stream_filter

NATS_URL = "nats://127.0.0.1:4222"
HISTORY_TARGET_S = 2.0
SMALL_TARGET_S = 0.1
INGEST_TARGET = 200_000.0
SEED_BROKER_SECONDS = 80.0
LIVE_SPEED = 1e9  # a replay this fast still plays one timestamp at a time (one message per bar)


@dataclass(frozen=True)
class PlatformRow:
    """One measurement: what, on which bus, its value and unit, and the target it is held to."""

    measure: str
    bus: str
    value: float
    unit: str
    target: str = ""
    passed: bool | None = None


def nats_reachable(url: str = NATS_URL) -> bool:
    """Whether a NATS server answers at `url` (the NATS rows are skipped otherwise)."""

    async def probe() -> bool:
        try:
            bus = make_bus(url)
            await asyncio.wait_for(bus.connect(), 3)
            await bus.close()
            return True
        except Exception:
            return False

    return asyncio.run(probe())


def _session(symbols: int, bars_per_symbol: int) -> pd.DataFrame:
    frames = [random_walk_bars(bars_per_symbol, f"F{i:02d}", "2024-01-02", seed=i, vwap_gaps=None)
              for i in range(symbols)]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


async def _fanout(url: str, subscribers: int, bars: pd.DataFrame) -> float:
    """Bars/s from the first publish until every subscriber has decoded every bar."""
    bus = make_bus(url)
    await bus.connect()
    name = f"bench{uuid.uuid4().hex[:8]}"
    try:
        subscriptions = [await bus.subscribe(stream_filter("bar", name)) for _ in range(subscribers)]
        total = len(bars)

        async def drain(subscription) -> None:  # type: ignore[no-untyped-def]
            seen = 0
            while seen < total:
                message = await subscription.next(30.0)
                seen += len(decode(message.data, message.subject))  # type: ignore[arg-type]

        source = ReplaySource(bars, speed=LIVE_SPEED, provider=name)  # one bar per symbol per table: live messages
        provider = DataProvider(bus, [source])
        readers = [asyncio.ensure_future(drain(s)) for s in subscriptions]
        started = time.perf_counter()
        await provider.start()
        await provider.subscribe(source.symbols)
        await asyncio.gather(*readers)
        elapsed = time.perf_counter() - started
        await provider.stop()
        for subscription in subscriptions:
            await subscription.close()
        return total / elapsed
    finally:
        await bus.close()


async def _history(
    url: str, store: ParquetBarStore, symbol: str, start: pd.Timestamp, end: pd.Timestamp
) -> tuple[float, float, int]:
    """(seconds for the whole history, seconds of a 100-bar request sent while it runs, bars)."""
    bus = make_bus(url)
    await bus.connect()
    try:
        storage = StorageService(bus, store)
        await storage.start(consume=False)
        client = PlatformClient(bus, timeout=60.0)
        await client.history("SMALL", start, start + pd.Timedelta(minutes=100), source="storage")  # warm
        started = time.perf_counter()
        big = asyncio.ensure_future(client.history(symbol, start, end, source="storage"))
        await asyncio.sleep(0.2)  # the big request is being read and sent
        small_started = time.perf_counter()
        small = await client.history("SMALL", start, start + pd.Timedelta(minutes=100), source="storage")
        small_seconds = time.perf_counter() - small_started
        frame = await big
        seconds = time.perf_counter() - started
        assert len(small) == 100
        return seconds, small_seconds, len(frame)
    finally:
        await bus.close()


async def _ingest(url: str, dsn: str, bars: pd.DataFrame) -> float:
    """Bars/s from the provider's first publish until the storage component has written every bar to PostgreSQL."""
    bus = make_bus(url)
    await bus.connect()
    store = PostgresBarStore(dsn, table=f"bench_ingest_{uuid.uuid4().hex[:12]}")
    name = f"bench{uuid.uuid4().hex[:8]}"
    try:
        storage = StorageService(bus, store, f"{name}-store", batch_bars=100_000, provider=name)
        await storage.start()
        source = ReplaySource(bars, speed=np.inf, provider=name)
        provider = DataProvider(bus, [source])
        started = time.perf_counter()
        await provider.start()
        await provider.subscribe(source.symbols)
        while storage.written < len(bars):
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        await provider.stop()
        await storage.stop()
        return len(bars) / elapsed
    finally:
        store.drop()
        await bus.close()


def _store_write(dsn: str, bars: pd.DataFrame) -> float:
    """Bars/s of one `PostgresBarStore.write` of `bars` into a fresh table."""
    store = PostgresBarStore(dsn, table=f"bench_write_{uuid.uuid4().hex[:12]}")
    try:
        started = time.perf_counter()
        store.write(bars)
        return len(bars) / (time.perf_counter() - started)
    finally:
        store.drop()


def run_platform_speed(history_bars: int = 1_500_000, fanout_bars: int = 30_000, ingest_bars: int = 300_000,
                       on_progress: Callable[[str], None] | None = None) -> list[PlatformRow]:  # fmt: skip
    """Every measurement on the in-process bus, then over NATS when a server answers."""
    notify = on_progress or (lambda _message: None)
    buses = ["inprocess"] + ([NATS_URL] if nats_reachable() else [])
    rows: list[PlatformRow] = []
    session = _session(30, max(fanout_bars // 30, 1))
    with tempfile.TemporaryDirectory() as folder:
        store = ParquetBarStore(Path(folder) / "store", create=True)
        notify(f"writing {history_bars:,} bars to a Parquet store")
        big = make_bars(history_bars)
        store.write(big)
        store.write(make_bars(1_000, "SMALL"))
        start, end = big["timestamp"].iloc[0], big["timestamp"].iloc[-1] + pd.Timedelta(minutes=1)
        for url in buses:
            label = "in-process" if url == "inprocess" else "NATS"
            for subscribers in (1, 10, 30):
                notify(f"fan-out to {subscribers} subscribers ({label})")
                rate = asyncio.run(_fanout(url, subscribers, session))
                rows.append(PlatformRow(f"fan-out to {subscribers} subscriber{'s' if subscribers > 1 else ''}",
                                        label, rate, "bars/s"))  # fmt: skip
            notify(f"{history_bars:,}-bar history ({label})")
            seconds, small, count = asyncio.run(_history(url, store, "SYN", start, end))
            rows.append(PlatformRow(f"history of {count:,} bars, store -> bus -> client", label, seconds, "s",
                                    f"< {HISTORY_TARGET_S:g} s ({SEED_BROKER_SECONDS / seconds:.0f}x the seed's 80 s)",
                                    seconds < HISTORY_TARGET_S))  # fmt: skip
            rows.append(PlatformRow("100-bar request during that history", label, small, "s",
                                    f"< {SMALL_TARGET_S:g} s", small < SMALL_TARGET_S))  # fmt: skip
            if postgres_reachable() and url == buses[0]:
                notify(f"{ingest_bars:,} bars written straight into the PostgreSQL store")
                rate = _store_write(POSTGRES_DSN, _session(30, max(ingest_bars // 30, 1)))
                rows.append(PlatformRow("PostgreSQL store write (no bus), the reference", "none", rate, "bars/s",
                                        f">= {INGEST_TARGET:,.0f} bars/s", rate >= INGEST_TARGET))  # fmt: skip
            if postgres_reachable():
                notify(f"ingest of {ingest_bars:,} bars into PostgreSQL ({label})")
                rate = asyncio.run(_ingest(url, POSTGRES_DSN, _session(30, max(ingest_bars // 30, 1))))
                rows.append(PlatformRow("ingest into PostgreSQL (provider -> bus -> storage)", label, rate, "bars/s",
                                        f">= {INGEST_TARGET:,.0f} bars/s", rate >= INGEST_TARGET))  # fmt: skip
    return rows


def _value(row: PlatformRow) -> str:
    return f"{row.value:,.0f}" if row.unit == "bars/s" else f"{row.value:.3f}"


def table(rows: list[PlatformRow]) -> Table:
    """The measurements side by side, bus by bus."""
    result = Table(title="Market-data platform: fan-out, history from the store, ingest")
    for column in ("measure", "bus", "value", "unit", "target", "result"):
        result.add_column(column, justify="right" if column == "value" else "left")
    for row in rows:
        result.add_row(row.measure, row.bus, _value(row), row.unit, row.target,
                       "" if row.passed is None else verdict(row.passed))  # fmt: skip
    return result


def markdown(rows: list[PlatformRow]) -> str:
    """The same, in markdown, for results.md."""
    lines = ["", "## Market-data platform", "", "| measure | bus | value | unit | target | result |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    lines += [f"| {r.measure} | {r.bus} | {_value(r)} | {r.unit} | {r.target} | "
              f"{'' if r.passed is None else verdict(r.passed, False)} |" for r in rows]  # fmt: skip
    return "\n".join(lines) + "\n"
