"""The Alpaca adapter against recorded v2 bar responses served on 127.0.0.1 (no network)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.schema import BAR_COLUMNS, DataValidationError
from tradebrain.data.sources.alpaca import AlpacaBarSource, parse_timeframe

PAGE_1 = {
    "bars": {
        "AAPL": [
            {
                "t": "2024-01-02T14:30:00Z",
                "o": 187.15,
                "h": 187.5,
                "l": 186.9,
                "c": 187.3,
                "v": 120345,
                "n": 1502,
                "vw": 187.21,
            },
            {
                "t": "2024-01-02T14:31:00Z",
                "o": 187.3,
                "h": 187.42,
                "l": 187.0,
                "c": 187.05,
                "v": 80211,
                "n": 977,
                "vw": 187.2,
            },
        ]
    },
    "next_page_token": "QUFQTHxNfDIwMjQtMDEtMDJUMTQ6MzE6MDAuMDAwMDAwMDAwWg==",
}
PAGE_2 = {
    "bars": {
        "AAPL": [
            {
                "t": "2024-01-02T14:32:00Z",
                "o": 187.05,
                "h": 187.1,
                "l": 186.6,
                "c": 186.7,
                "v": 65432,
                "n": 801,
                "vw": 186.85,
            },
        ]
    },
    "next_page_token": None,
}


class _Recorded(BaseHTTPRequestHandler):
    requests: ClassVar[list[tuple[str, dict[str, list[str]], str | None]]] = []
    pages: ClassVar[dict[str | None, dict[str, object]]] = {}

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).requests.append((url.path, query, self.headers.get("APCA-API-KEY-ID")))
        token = query.get("page_token", [None])[0]
        body = json.dumps(type(self).pages.get(token, {"bars": {}, "next_page_token": None})).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # keep test output quiet
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Recorded]]]:
    handler = type(
        "Handler", (_Recorded,), {"requests": [], "pages": {None: PAGE_1, PAGE_1["next_page_token"]: PAGE_2}}
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_fetch_reads_two_pages_into_the_bar_schema(server: tuple[str, type[_Recorded]]) -> None:
    url, handler = server
    bars = AlpacaBarSource("key-id", "secret", url_override=url).fetch(
        "AAPL", "2024-01-02 14:30", "2024-01-02 14:33", timeframe="1Min"
    )
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert len(bars) == 3
    assert str(bars["timestamp"].dt.tz) == "UTC"
    assert bars["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    assert bars["symbol"].tolist() == ["AAPL"] * 3
    assert bars["vwap"].tolist() == [187.21, 187.2, 186.85]
    assert bars["trades"].tolist() == [1502.0, 977.0, 801.0]
    assert bars["volume"].iloc[2] == 65432.0
    paths = [path for path, _, _ in handler.requests]
    assert paths == ["/v2/stocks/bars", "/v2/stocks/bars"]
    first, second = handler.requests[0][1], handler.requests[1][1]
    assert first["symbols"] == ["AAPL"] and first["timeframe"] == ["1Min"]
    assert "page_token" not in first and second["page_token"] == [PAGE_1["next_page_token"]]
    assert handler.requests[0][2] == "key-id"


def test_no_bars_is_a_clear_error(server: tuple[str, type[_Recorded]]) -> None:
    url, handler = server
    handler.pages = {None: {"bars": {}, "next_page_token": None}}
    with pytest.raises(DataValidationError, match="no bars for 'AAPL'"):
        AlpacaBarSource("k", "s", url_override=url).fetch("AAPL", "2024-01-06", "2024-01-07", timeframe="1Day")


def test_timeframes_and_bad_arguments() -> None:
    assert parse_timeframe("1Min") == (1, "Minute")
    assert parse_timeframe("15min") == (15, "Minute")
    assert parse_timeframe("1Hour") == (1, "Hour")
    assert parse_timeframe("1Day") == (1, "Day")
    with pytest.raises(InputError, match="timeframe"):
        parse_timeframe("fortnightly")
    with pytest.raises(InputError, match="not after start"):
        AlpacaBarSource("k", "s", url_override="http://127.0.0.1:9").fetch("AAPL", "2024-01-03", "2024-01-02")
