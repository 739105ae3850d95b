"""Provider, storage and client together on the in-process bus: a replayed session of 30 symbols
reaches per-symbol subscribers in order with none lost or duplicated, the store keeps every bar
once, history comes back whole from the provider and from storage, and bad requests get clear errors."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tradebrain.data.sources.synthetic import synthetic_intraday
from tradebrain.data.store.parquet import ParquetBarStore
from tradebrain.platform.bus import InProcessBus
from tradebrain.platform.client import PlatformClient, PlatformError
from tradebrain.platform.codec import decode, encode
from tradebrain.platform.provider import DataProvider
from tradebrain.platform.replay import ReplaySource
from tradebrain.platform.storage import StorageService
from tradebrain.platform.subjects import stream_subject

SYMBOLS = [f"S{i:02d}" for i in range(30)]


def session(bars: int = 60) -> pd.DataFrame:
    """The first `bars` one-minute bars of one seeded synthetic session per symbol."""
    frames = [synthetic_intraday(symbol, days=1, seed=i).iloc[:bars] for i, symbol in enumerate(SYMBOLS)]
    return pd.concat(frames, ignore_index=True)


@contextlib.asynccontextmanager
async def platform(
    tmp_path: Path, bars: pd.DataFrame
) -> AsyncIterator[tuple[InProcessBus, StorageService, DataProvider, PlatformClient]]:
    """Storage (into a Parquet store under tmp_path) and a provider replaying `bars`, on one in-process bus."""
    bus = InProcessBus()
    await bus.connect()
    storage = StorageService(bus, ParquetBarStore(tmp_path / "store"), flush_seconds=0.05)
    await storage.start()
    provider = DataProvider(bus, [ReplaySource(bars, speed=np.inf)])
    await provider.start()
    try:
        yield bus, storage, provider, PlatformClient(bus)
    finally:
        await provider.stop()
        await storage.stop()
        await bus.close()


async def _collect(stream, count: int) -> list:  # type: ignore[no-untyped-def]
    out = []
    async for bar in stream:
        out.append(bar)
        if len(out) == count:
            break
    return out


def test_a_replayed_session_reaches_every_subscriber_and_the_store_once(tmp_path: Path) -> None:
    bars = session()

    async def run() -> None:
        async with platform(tmp_path, bars) as (_, storage, provider, client):
            store = storage.store
            streams = [await client.open_stream(symbol) for symbol in SYMBOLS]
            readers = [asyncio.ensure_future(_collect(stream, 60)) for stream in streams]
            assert await client.subscribe(SYMBOLS) == SYMBOLS
            received = await asyncio.wait_for(asyncio.gather(*readers), 20)
            for symbol, got in zip(SYMBOLS, received, strict=True):
                want = bars[bars["symbol"] == symbol]
                assert [bar.timestamp for bar in got] == list(want["timestamp"]), symbol
                assert [bar.close for bar in got] == list(want["close"]), symbol
            await provider.wait()
            await asyncio.wait_for(storage.idle.wait(), 10)
            assert storage.written >= len(bars) and storage.rejected == 0
            assert sorted(store.symbols()) == SYMBOLS
            for symbol in SYMBOLS[:3]:
                kept = store.read(symbol)
                assert len(kept) == 60 and kept["timestamp"].is_unique
            start, end = bars["timestamp"].min(), bars["timestamp"].max() + pd.Timedelta(minutes=1)
            from_storage = await client.history("S05", start, end, source="storage")
            from_provider = await client.history("S05", start, end)
            want = bars[bars["symbol"] == "S05"].reset_index(drop=True)
            for got in (from_storage, from_provider):
                pd.testing.assert_series_equal(got["close"], want["close"], check_names=False)
                assert list(got["timestamp"]) == list(want["timestamp"])
            feeds = await client.feeds()
            assert len(feeds) == 30 and (feeds["bars"] == 60).all()

    asyncio.run(run())


def test_a_gap_in_the_stream_is_filled_from_history(tmp_path: Path) -> None:
    """A subscriber that misses bars (its connection dropped) gets them from history, in order, once."""
    bars = session(30)[lambda f: f["symbol"] == "S00"].reset_index(drop=True)

    async def run() -> None:
        bus = InProcessBus()
        await bus.connect()
        source = ReplaySource(bars, speed=np.inf)
        provider = DataProvider(bus, [source])
        await provider.start()
        client = PlatformClient(bus)
        stream = await client.open_stream("S00")
        for i in (0, 1, 2, 10, 11):  # bars 3..9 never reach this subscriber
            await provider.publish("replay", "S00", bars.iloc[[i]])
        got = await asyncio.wait_for(_collect(stream, 12), 10)
        assert [bar.timestamp for bar in got] == list(bars["timestamp"].iloc[:12])
        await provider.stop()
        await bus.close()

    asyncio.run(run())


def test_bad_requests_get_clear_errors_and_bad_messages_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bars = session(10)

    async def run() -> None:
        async with platform(tmp_path, bars) as (bus, storage, _, client):
            with pytest.raises(PlatformError, match="unknown symbol 'NOPE'"):
                await client.history("NOPE", "2024-01-02T00:00Z", "2024-01-03T00:00Z")
            with pytest.raises(PlatformError, match="unknown provider 'bloomberg'"):
                await client.history("S00", "2024-01-02T00:00Z", "2024-01-03T00:00Z", provider="bloomberg")
            with pytest.raises(PlatformError, match="unknown symbols"):
                await client.subscribe(["NOPE"])
            from tradebrain.core.errors import InputError

            with pytest.raises(InputError, match="start < end"):
                await client.history("S00", "2024-01-03T00:00Z", "2024-01-02T00:00Z")
            with pytest.raises(InputError, match="time zone"):
                await client.history("S00", "2024-01-02", "2024-01-03")
            subject = stream_subject("replay", "bar", "S00")
            with caplog.at_level(logging.WARNING):
                await bus.publish(subject, b"\x93garbage", "bad-1")
                await bus.publish(subject, encode("cmd", v=2), "bad-2")
                await bus.publish(subject, b"\x82\xa1v\x02\xa4type\xa4bars", "bad-3")  # version 2
                for _ in range(50):
                    if storage.rejected == 3:
                        break
                    await asyncio.sleep(0.02)
            assert storage.rejected == 3
            assert subject in caplog.text and "version 2" in caplog.text

    asyncio.run(run())


class ReconnectingReplay(ReplaySource):
    """A replay that, like AlpacaLiveSource, offers an `on_reconnect` hook for the provider."""

    on_reconnect = None


@pytest.mark.parametrize("trigger", ["reconnect", "stale"])
def test_a_reconnect_or_a_stale_feed_backfills_from_the_sources_history(trigger: str) -> None:
    bars = session(20)[lambda f: f["symbol"] == "S00"].reset_index(drop=True)

    async def run() -> None:
        bus = InProcessBus()
        await bus.connect()
        source = ReconnectingReplay(bars, speed=np.inf)
        provider = DataProvider(bus, [source], stale_seconds=0.2 if trigger == "stale" else 3600.0)
        await provider.start()
        assert source.on_reconnect is not None  # wired by the provider
        subscription = await bus.subscribe("dataprovider.stream.replay.bar.S00")
        await provider.publish("replay", "S00", bars.iloc[:6])  # live bars 0..5, then the source goes quiet
        if trigger == "reconnect":
            await source.on_reconnect(None)
        seen: list[int] = []
        while len(seen) < 20:
            message = await subscription.next(5.0)
            seen += [int(t) for t in decode(message.data, message.subject).timestamp]  # type: ignore[union-attr]
        assert seen == list(pd.DatetimeIndex(bars["timestamp"]).as_unit("ns").asi8)
        assert provider.feeds[("replay", "S00")].backfills >= 1
        await provider.stop()
        await bus.close()

    asyncio.run(run())
