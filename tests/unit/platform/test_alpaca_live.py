"""AlpacaLiveSource against the fake Alpaca server (tests/support/fake_alpaca.py): alpaca-py's own
history client and websocket stream talk to 127.0.0.1, no network, no account. History pages
through to the fake's table; one connection carries 30 symbols in order with none lost or
repeated; a dropped connection comes back (backoff through two refusals), re-subscribes and
reports the last bar it saw; wrong keys and a second connection fail clearly, never hang."""

from __future__ import annotations

import asyncio
import json
import random
import socket
from collections.abc import Iterator, Sequence

import aiohttp
import pandas as pd
import pytest
from tests.support.fake_alpaca import FakeAlpaca

from tradebrain.core.errors import ConfigError
from tradebrain.data.schema import BAR_COLUMNS, validate_bars
from tradebrain.platform.alpaca_live import (
    AlpacaAuthError,
    AlpacaLiveSource,
    AlpacaStreamError,
    backoff_delay,
    stream_url_for,
)

KEY, SECRET = "fake-key", "fake-secret"
START = pd.Timestamp("2024-01-02 14:30", tz="UTC")
MINUTE = pd.Timedelta(minutes=1)


def minute_bars(symbols: Sequence[str], minutes: int, start: pd.Timestamp = START) -> pd.DataFrame:
    """`minutes` one-minute bars per symbol from `start`, each symbol at its own price level."""
    rows = []
    for i, symbol in enumerate(symbols):
        for m in range(minutes):
            price = 100.0 + i + 0.25 * ((m * 7) % 5)
            rows.append(
                {
                    "symbol": symbol,
                    "timestamp": start + m * MINUTE,
                    "open": price,
                    "high": price + 0.5,
                    "low": price - 0.5,
                    "close": price + 0.25,
                    "volume": float(1000 + 10 * m + i),
                    "vwap": price + 0.125,
                    "trades": float(20 + m),
                }
            )
    return validate_bars(pd.DataFrame(rows))


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    server = FakeAlpaca(minute_bars(["AAPL", "MSFT", "SPY"], 250), api_key=KEY, secret_key=SECRET, max_page_size=100)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def source_for(fake: FakeAlpaca, secret: str = SECRET, **options: object) -> AlpacaLiveSource:
    """A source on the fake with short backoff delays."""
    return AlpacaLiveSource(KEY, secret, url_override=fake.url, backoff_initial=0.05, backoff_max=0.5, **options)  # type: ignore[arg-type]


async def collect(source: AlpacaLiveSource, count: int, timeout: float = 5.0) -> pd.DataFrame:
    """The tables `bars()` yields until they hold `count` bars, concatenated in arrival order."""
    tables: list[pd.DataFrame] = []

    async def read() -> None:
        async for table in source.bars():
            tables.append(table)
            if sum(len(t) for t in tables) >= count:
                return

    await asyncio.wait_for(read(), timeout)
    return pd.concat(tables, ignore_index=True)


def by_symbol(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["symbol", "timestamp"]).reset_index(drop=True)


def test_history_pages_through_alpaca_py_to_the_fakes_table(fake: FakeAlpaca) -> None:
    source = source_for(fake)
    start, end = START + 10 * MINUTE, START + 240 * MINUTE
    assert source.history is not None
    bars = source.history("MSFT", start, end)
    table = minute_bars(["AAPL", "MSFT", "SPY"], 250)
    expected = table[(table["symbol"] == "MSFT") & (table["timestamp"] >= start) & (table["timestamp"] < end)]
    pd.testing.assert_frame_equal(bars, expected.reset_index(drop=True))
    requests = [query for path, query, key in fake.requests if path == "/v2/stocks/bars" and key == KEY]
    assert len(requests) == 3  # 231 bars (Alpaca's end is inclusive), 100 a page
    assert "page_token" not in requests[0] and requests[1]["page_token"] and requests[2]["page_token"]
    assert {query["symbols"] for query in requests} == {"MSFT"} and requests[0]["feed"] == "iex"
    quiet = source.history("MSFT", START - 60 * MINUTE, START)  # before the first bar: empty, not an error
    assert quiet.empty and list(quiet.columns) == list(BAR_COLUMNS)


def test_one_connection_carries_thirty_symbols_in_order(fake: FakeAlpaca) -> None:
    symbols = [f"S{i:02d}" for i in range(30)]
    pushed = minute_bars(symbols, 4)
    later = minute_bars(symbols, 1, start=START + 4 * MINUTE)

    async def scenario() -> tuple[pd.DataFrame, pd.DataFrame, AlpacaLiveSource]:
        source = source_for(fake)
        try:
            await source.subscribe(symbols[:10])
            await source.subscribe(symbols[10:])  # the same connection, a second subscribe message
            assert source.connected and source.symbols == set(symbols)
            assert await asyncio.to_thread(fake.push_bars, pushed) == 120
            got = await collect(source, 120)
            await source.unsubscribe(symbols[:10])
            assert await asyncio.to_thread(fake.push_bars, later) == 20  # the fake sends subscribed symbols only
            rest = await collect(source, 20)
        finally:
            await source.close()
        return got, rest, source

    got, rest, source = asyncio.run(scenario())
    assert (fake.connections_opened, fake.authentications, fake.max_active) == (1, 1, 1)
    assert source.reconnects == 0 and source.connection_attempts == 1
    assert not got.duplicated(["symbol", "timestamp"]).any()
    assert got.groupby("symbol")["timestamp"].is_monotonic_increasing.all()  # arrival order per symbol
    pd.testing.assert_frame_equal(by_symbol(got), by_symbol(pushed))
    assert str(got["timestamp"].dt.tz) == "UTC"
    pd.testing.assert_frame_equal(by_symbol(rest), by_symbol(later[later["symbol"].isin(symbols[10:])]))


@pytest.mark.parametrize("abrupt", [False, True], ids=["closed", "cut"])
def test_a_dropped_connection_reconnects_resubscribes_and_reports_the_last_bar(fake: FakeAlpaca, abrupt: bool) -> None:
    symbols = ["AAPL", "MSFT", "SPY"]
    before = minute_bars(symbols, 3)
    after = minute_bars(symbols, 2, start=START + 3 * MINUTE)
    calls: list[pd.Timestamp | None] = []

    async def scenario() -> tuple[pd.DataFrame, pd.DataFrame, AlpacaLiveSource]:
        reconnected = asyncio.Event()

        async def on_reconnect(last: pd.Timestamp | None) -> None:
            calls.append(last)
            reconnected.set()

        source = source_for(fake, on_reconnect=on_reconnect)
        try:
            await source.subscribe(symbols)
            await asyncio.to_thread(fake.push_bars, before)
            first = await collect(source, 9)
            fake.refuse_next(2)  # Alpaca still holds the old connection: two refusals, then back in
            assert await asyncio.to_thread(fake.drop_connections, abrupt) == 1
            await asyncio.wait_for(reconnected.wait(), 5)
            assert await asyncio.to_thread(fake.wait_subscribed, symbols)
            assert await asyncio.to_thread(fake.push_bars, after) == 6
            second = await collect(source, 6)
        finally:
            await source.close()
        return first, second, source

    first, second, source = asyncio.run(scenario())
    assert calls == [START + 2 * MINUTE]  # the last bar seen before the drop
    assert source.reconnects == 1 and source.connection_attempts == 4
    assert (fake.refusals, fake.authentications, fake.max_active) == (2, 2, 1)
    pd.testing.assert_frame_equal(by_symbol(first), by_symbol(before))
    pd.testing.assert_frame_equal(by_symbol(second), by_symbol(after))


def test_wrong_keys_fail_clearly_instead_of_retrying(fake: FakeAlpaca) -> None:
    source = source_for(fake, secret="wrong")

    async def scenario() -> None:
        try:
            with pytest.raises(AlpacaAuthError, match=r"auth failed.*ALPACA_API_KEY / ALPACA_SECRET_KEY"):
                await asyncio.wait_for(source.subscribe(["AAPL"]), 5)
            with pytest.raises(AlpacaAuthError):
                await asyncio.wait_for(collect(source, 1), 5)
            with pytest.raises(AlpacaAuthError):
                await source.subscribe(["MSFT"])
            await asyncio.sleep(0.2)  # no retry follows
        finally:
            await source.close()

    asyncio.run(scenario())
    assert fake.auth_failures == 1 and source.connection_attempts == 1 and not source.connected
    assert source.history is not None
    with pytest.raises(AlpacaAuthError, match=r"HTTP 401.*ALPACA_API_KEY"):
        source.history("AAPL", START, START + 5 * MINUTE)


def test_a_second_connection_with_the_same_key_waits_for_the_slot(fake: FakeAlpaca) -> None:
    async def scenario() -> AlpacaLiveSource:
        first, second = source_for(fake), source_for(fake)
        try:
            await first.subscribe(["AAPL"])
            await asyncio.wait_for(second.subscribe(["MSFT"]), 5)  # returns after the refused attempt
            assert not second.connected and "connection limit exceeded" in (second.last_error or "")
            await first.close()
            for _ in range(100):
                if second.connected:
                    break
                await asyncio.sleep(0.05)
            assert second.connected and second.last_error is None
        finally:
            await first.close()
            await second.close()
        return second

    second = asyncio.run(asyncio.wait_for(scenario(), 60))  # a failure, never a hang
    assert fake.refusals >= 1 and fake.max_active == 1 and second.reconnects == 0


def test_bad_and_repeated_bars_are_dropped_not_fatal(fake: FakeAlpaca, caplog: pytest.LogCaptureFixture) -> None:
    good = minute_bars(["AAPL"], 3)

    async def scenario() -> pd.DataFrame:
        source = source_for(fake)
        try:
            await source.subscribe(["AAPL"])
            broken = good.iloc[1].to_dict() | {"high": 1.0}  # high below open and close
            await asyncio.to_thread(fake.push_bar, "AAPL", good.iloc[0].to_dict())
            await asyncio.to_thread(fake.push_bar, "AAPL", good.iloc[0].to_dict())  # a repeat
            await asyncio.to_thread(fake.push_bar, "AAPL", broken)
            await asyncio.to_thread(fake.push_bar, "AAPL", good.iloc[2].to_dict())
            got = await collect(source, 2)
        finally:
            await source.close()
        return got

    got = asyncio.run(scenario())
    pd.testing.assert_frame_equal(got, good.iloc[[0, 2]].reset_index(drop=True))
    assert "breaks the schema" in caplog.text


def test_the_fake_speaks_json_to_a_client_that_does_not_ask_for_msgpack(fake: FakeAlpaca) -> None:
    async def scenario() -> list[object]:
        received = []
        async with aiohttp.ClientSession() as session, session.ws_connect(fake.stream_url("sip")) as ws:
            received.append(await ws.receive_json())
            await ws.send_json({"action": "subscribe", "bars": ["SPY"]})
            received.append(await ws.receive_json())
            await ws.send_json({"action": "auth", "key": KEY, "secret": SECRET})
            received.append(await ws.receive_json())
            await ws.send_json({"action": "subscribe", "bars": ["SPY"]})
            received.append(await ws.receive_json())
            bar = minute_bars(["SPY"], 1).iloc[0].to_dict()
            await asyncio.to_thread(fake.push_bar, "SPY", bar)
            received.append(json.loads(await ws.receive_str()))
        return received

    connected, early, authenticated, subscription, bars = asyncio.run(scenario())
    assert connected == [{"T": "success", "msg": "connected"}]
    assert early == [{"T": "error", "code": 401, "msg": "not authenticated"}]
    assert authenticated == [{"T": "success", "msg": "authenticated"}]
    assert subscription[0]["T"] == "subscription" and subscription[0]["bars"] == ["SPY"]  # type: ignore[index]
    assert bars == [
        {"T": "b", "S": "SPY", "o": 100.0, "h": 100.5, "l": 99.5, "c": 100.25, "v": 1000,
         "t": "2024-01-02T14:30:00Z", "n": 20, "vw": 100.125}
    ]  # fmt: skip


def test_backoff_grows_to_its_cap_with_jitter() -> None:
    rng = random.Random(0)
    for failures, full in ((1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (50, 30.0)):
        delays = [backoff_delay(failures, 1.0, 30.0, rng) for _ in range(50)]
        assert all(full / 2 <= delay <= full for delay in delays)
        assert max(delays) - min(delays) > full / 10  # jittered, not in step


def test_keys_from_the_environment_and_the_stream_url(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ALPACA_API_KEY", "ALPACA_SECRET_KEY", "APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="ALPACA_API_KEY and ALPACA_SECRET_KEY"):
        AlpacaLiveSource.from_environment()
    monkeypatch.setenv("ALPACA_API_KEY", "k")
    monkeypatch.setenv("ALPACA_SECRET_KEY", "s")
    source = AlpacaLiveSource.from_environment(url_override="http://127.0.0.1:9", feed="sip")
    assert source.stream_url == "ws://127.0.0.1:9/v2/sip" and source.provider == "alpaca"
    assert stream_url_for("iex") == "wss://stream.data.alpaca.markets/v2/iex"
    with pytest.raises(ConfigError, match="feed"):
        AlpacaLiveSource("k", "s", feed="otc")


def test_an_unreachable_server_is_retried_with_backoff_without_blocking_subscribe() -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    async def scenario() -> AlpacaLiveSource:
        source = AlpacaLiveSource(KEY, SECRET, url_override=f"http://127.0.0.1:{port}", backoff_initial=0.02)
        try:
            await asyncio.wait_for(source.subscribe(["AAPL"]), 5)  # returns after the first failed attempt
            assert not source.connected and source.last_error
            await asyncio.sleep(0.5)
        finally:
            await source.close()
        return source

    source = asyncio.run(scenario())
    assert 3 <= source.connection_attempts <= 8  # delays 0.01-0.02, 0.02-0.04, 0.04-0.08, ... s


def test_a_mute_connection_is_replaced_after_data_timeout(fake: FakeAlpaca) -> None:
    calls: list[pd.Timestamp | None] = []

    async def scenario() -> AlpacaLiveSource:
        source = source_for(fake, data_timeout=0.2, on_reconnect=calls.append)
        try:
            await source.subscribe(["AAPL"])
            for _ in range(100):
                if source.reconnects and source.connected:
                    break
                await asyncio.sleep(0.02)
        finally:
            await source.close()
        return source

    source = asyncio.run(scenario())
    assert source.reconnects >= 1 and calls[0] is None  # no bar seen before the stale connection went
    assert fake.max_active == 1


def test_symbols_alpaca_refuses_raise_and_are_forgotten() -> None:
    async def scenario() -> AlpacaLiveSource:
        source = source_for(server)
        try:
            await source.subscribe(["AAPL", "MSFT"])
            with pytest.raises(AlpacaStreamError, match=r"refused to subscribe to \['SPY'\]: symbol limit exceeded"):
                await source.subscribe(["SPY"])
            assert source.symbols == {"AAPL", "MSFT"} and source.connected
        finally:
            await source.close()
        return source

    with FakeAlpaca(api_key=KEY, secret_key=SECRET, symbol_limit=2) as server:
        asyncio.run(scenario())
        assert server.connections_opened == 1
