"""The real Alpaca path of AlpacaLiveSource: a few minute bars of SPY from Alpaca's historical API,
and a connection to Alpaca's always-on test stream (wss://stream.data.alpaca.markets/v2/test,
symbol FAKEPACA) that authenticates and subscribes. Runs only with an account's keys in
ALPACA_API_KEY / ALPACA_SECRET_KEY (or APCA_API_KEY_ID / APCA_API_SECRET_KEY); free (IEX) keys do."""

from __future__ import annotations

import asyncio

import pandas as pd
import pytest

from tradebrain.data.schema import BAR_COLUMNS
from tradebrain.platform.alpaca_live import AlpacaLiveSource, environment_keys

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        environment_keys() is None,
        reason="no Alpaca keys: set ALPACA_API_KEY and ALPACA_SECRET_KEY to run against Alpaca's API",
    ),
]

TEST_STREAM = "wss://stream.data.alpaca.markets/v2/test"


def test_history_of_spy_comes_back_in_the_bar_schema() -> None:
    source = AlpacaLiveSource.from_environment()
    start = pd.Timestamp("2024-01-03 14:30", tz="UTC")  # a regular session's first minutes (09:30 New York)
    end = start + pd.Timedelta(minutes=10)
    assert source.history is not None
    bars = source.history("SPY", start, end)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert 1 <= len(bars) <= 10
    assert set(bars["symbol"]) == {"SPY"}
    assert bars["timestamp"].between(start, end, inclusive="left").all()
    assert bars["close"].between(400, 550).all()  # SPY traded near 470 that day


def test_the_stream_authenticates_and_subscribes_on_alpacas_test_feed() -> None:
    async def scenario() -> AlpacaLiveSource:
        source = AlpacaLiveSource.from_environment(stream_url=TEST_STREAM)
        try:
            await asyncio.wait_for(source.subscribe(["FAKEPACA"]), 30)
            assert source.connected, source.last_error
        finally:
            await source.close()
        return source

    source = asyncio.run(scenario())
    assert source.connection_attempts == 1 and source.reconnects == 0
