"""A fake Alpaca market-data server on 127.0.0.1: the historical bars endpoint and the real-time
websocket stream on one port, for tests that run alpaca-py (and tradebrain's Alpaca sources)
without a network or an account.

What it serves, as alpaca-py 0.4x speaks it:

- `GET /v2/stocks/bars` (what `StockHistoricalDataClient(url_override=base).get_stock_bars` calls:
  base + "/v2" + "/stocks/bars"): query `symbols` (comma-separated), `timeframe`, `start`, `end`
  (RFC-3339; both inclusive, as Alpaca's), `limit` (1..10000; alpaca-py sends 10000), `page_token`,
  `sort` (asc/desc); `feed`, `adjustment`, `asof`, `currency` are accepted and ignored. The answer
  is `{"bars": {SYMBOL: [{"t","o","h","l","c","v","n","vw"}, ...]}, "next_page_token": token|null}`,
  symbols in order, at most min(limit, max_page_size) bars a page (a small `max_page_size` makes
  alpaca-py page). The bars come from the table given to the constructor, whatever the timeframe
  (no aggregation). Missing or wrong APCA-API-KEY-ID / APCA-API-SECRET-KEY headers: 401
  `{"message": "unauthorized."}`, as Alpaca answers.
- the stream at `/v2/{feed}` (feed "iex", "sip", "delayed_sip" or "test"). alpaca-py's
  `StockDataStream(url_override=URL)` connects to URL itself (without adding the feed), so point it
  at `stream_url(feed)`. Messages are msgpack (binary frames) when the handshake carries
  `Content-Type: application/msgpack`, as alpaca-py's does, and JSON (text frames) otherwise, as on
  Alpaca. The server greets with `[{"T":"success","msg":"connected"}]`; `{"action":"auth","key",
  "secret"}` answers `[{"T":"success","msg":"authenticated"}]`, or an error and a close: 402 "auth
  failed", 406 "connection limit exceeded" (a key already holds `connection_limit` connections, or
  `refuse_next` asked for it). `subscribe` / `unsubscribe` answer the connection's whole
  subscription (`{"T":"subscription","trades":[...],"bars":[...],...}`); 401 "not authenticated"
  before auth, 405 "symbol limit exceeded" past `symbol_limit` (channel, symbol) pairs, 403
  "already authenticated", 404 "auth timeout" after `auth_timeout` seconds without auth, 400
  "invalid syntax". Bars go out as `{"T":"b","S","o","h","l","c","v","t","n","vw"}`
  (`t` a msgpack Timestamp, or RFC-3339 text in JSON) to connections subscribed to the symbol
  (or "*"), one frame per timestamp as Alpaca batches a minute's bars.

The server runs in a background thread with its own event loop; its methods are thread-safe and
block until done. From inside an event loop call them through `asyncio.to_thread` (a graceful
`drop_connections` waits for the client to answer the close, which a blocked loop never does).
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import concurrent.futures
import json
import math
import threading
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgpack
import pandas as pd
from aiohttp import WSCloseCode, WSMsgType, web

from tradebrain.data.schema import BAR_COLUMNS

T = TypeVar("T")

FEEDS = ("iex", "sip", "delayed_sip", "test")
CHANNELS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds")
"""The channels a client subscribes; Alpaca's `corrections` and `cancelErrors` follow `trades`."""
MAX_LIMIT = 10_000
UNAUTHORIZED = {"message": "unauthorized."}


@dataclass(eq=False)
class _Client:
    """One websocket connection: its encoding, its key once authenticated, its subscription."""

    ws: web.WebSocketResponse
    request: web.Request
    binary: bool
    key: str | None = None
    channels: dict[str, set[str]] = field(default_factory=lambda: {channel: set() for channel in CHANNELS})

    def wants(self, channel: str, symbol: str) -> bool:
        chosen = self.channels[channel]
        return symbol in chosen or "*" in chosen

    def subscription(self) -> dict[str, Any]:
        message: dict[str, Any] = {"T": "subscription"}
        message.update({channel: sorted(self.channels[channel]) for channel in CHANNELS})
        message["corrections"] = sorted(self.channels["trades"])
        message["cancelErrors"] = sorted(self.channels["trades"])
        return message


def _error(code: int, text: str) -> dict[str, Any]:
    return {"T": "error", "code": code, "msg": text}


def _utc(value: str | None, name: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        stamp = pd.Timestamp(value)
    except ValueError as error:
        raise _BadRequestError(f"invalid {name}: {value!r}") from error
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _rfc3339(stamp: pd.Timestamp) -> str:
    return str(stamp.tz_convert("UTC").isoformat()).replace("+00:00", "Z")


def _number(value: Any) -> int | float | None:
    """A JSON/msgpack number: integral volumes and counts as ints (as Alpaca sends), NaN as None."""
    number = float(value)
    if math.isnan(number):
        return None
    return int(number) if number.is_integer() else number


class _BadRequestError(Exception):
    """A query parameter the real endpoint would refuse (422 with Alpaca's message)."""


class FakeAlpaca:
    """The fake server (see the module docstring). `start()` returns the base URL; `stop()` ends it.

    Counters for tests: `connections_opened` (websocket handshakes), `authentications` (successful
    auths), `refusals` (406 answers), `auth_failures` (402 answers), `max_active` (most
    authenticated connections at once), `active` (now); `requests` records every REST request as
    (path, query, key id).
    """

    def __init__(
        self,
        bars: pd.DataFrame | None = None,
        *,
        api_key: str = "fake-key",
        secret_key: str = "fake-secret",
        max_page_size: int = MAX_LIMIT,
        connection_limit: int = 1,
        symbol_limit: int | None = None,
        auth_timeout: float = 10.0,
    ) -> None:
        self.api_key = api_key
        self.secret_key = secret_key
        self.max_page_size = max_page_size
        self.connection_limit = connection_limit
        self.symbol_limit = symbol_limit
        self.auth_timeout = auth_timeout
        self._bars = self._table(bars)
        self.requests: list[tuple[str, dict[str, str], str | None]] = []
        self.connections_opened = 0
        self.authentications = 0
        self.refusals = 0
        self.auth_failures = 0
        self.max_active = 0
        self._refuse = 0
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> str:
        """Start serving on a free loopback port; returns the base URL (http://127.0.0.1:PORT)."""
        if self._thread is not None:
            return self.url
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._startup())
            except BaseException as error:  # reported by start()
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=serve, name="fake-alpaca", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread = None
            raise RuntimeError(f"the fake Alpaca server did not start: {failure[0]}") from failure[0]
        return self.url

    def stop(self) -> None:
        """Close every connection and stop the server thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(15)
        self._thread = None

    def __enter__(self) -> FakeAlpaca:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL of the REST API (alpaca-py's `url_override` for historical data)."""
        return f"http://127.0.0.1:{self._port}"

    def stream_url(self, feed: str = "iex") -> str:
        """The websocket URL of a feed (alpaca-py's `url_override` for StockDataStream)."""
        return f"ws://127.0.0.1:{self._port}/v2/{feed}"

    async def _startup(self) -> None:
        app = web.Application()
        app.router.add_get("/v2/stocks/bars", self._rest_bars)
        app.router.add_get("/v2/{feed}", self._stream)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self._port = int(sockets[0].getsockname()[1])

    async def _shutdown(self) -> None:
        await self._drop(abrupt=True)  # a graceful close would wait for clients that may be gone
        if self._runner is not None:
            await self._runner.cleanup()

    def _run(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 15.0) -> T:
        """Run a coroutine in the server's loop from any other thread and wait for its result."""
        if self._loop is None or self._thread is None:
            raise RuntimeError("the fake Alpaca server is not running: call start() first")
        return asyncio.run_coroutine_threadsafe(make(), self._loop).result(timeout)

    # ------------------------------------------------------------------ test controls

    @property
    def active(self) -> int:
        """Authenticated websocket connections open now."""
        return sum(1 for client in list(self._clients) if client.key is not None and not client.ws.closed)

    def subscriptions(self, channel: str = "bars") -> list[set[str]]:
        """Each authenticated connection's symbols on `channel`."""

        async def snapshot() -> list[set[str]]:
            return [set(c.channels[channel]) for c in self._clients if c.key is not None and not c.ws.closed]

        return self._run(snapshot)

    def wait_subscribed(self, symbols: Iterable[str], timeout: float = 5.0, channel: str = "bars") -> bool:
        """True once one authenticated connection is subscribed to every symbol (False after `timeout`)."""
        wanted = set(symbols)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(wanted <= chosen for chosen in self.subscriptions(channel)):
                return True
            time.sleep(0.01)
        return False

    def wait_active(self, count: int, timeout: float = 5.0) -> bool:
        """True once exactly `count` authenticated connections are open (False after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.active == count:
                return True
            time.sleep(0.01)
        return False

    def refuse_next(self, count: int) -> None:
        """Answer the next `count` authentications with 406 "connection limit exceeded" (what
        Alpaca sends while it has not yet reaped a client's previous connection)."""
        self._refuse = count

    def push_bar(self, symbol: str, bar: Mapping[str, Any] | pd.Series) -> int:
        """Send one bar (fields of the bar schema: timestamp, open, high, low, close, volume and
        optionally vwap, trades) to every connection subscribed to `symbol`; returns how many got it."""
        row = dict(bar)
        row["symbol"] = symbol
        return self._run(lambda: self._broadcast([row]))

    def push_bars(self, frame: pd.DataFrame) -> int:
        """Send a bar table: one frame per timestamp (that minute's bars of every symbol, as Alpaca
        batches them), in time order; returns the number of bar messages delivered."""
        return self._run(lambda: self._play(self._table(frame), 0.0))

    def play(self, frame: pd.DataFrame, interval_s: float) -> concurrent.futures.Future[int]:
        """Play a bar table in the background, one timestamp every `interval_s` seconds; the
        future holds the number of bar messages delivered when the script ends."""
        if self._loop is None:
            raise RuntimeError("the fake Alpaca server is not running: call start() first")
        return asyncio.run_coroutine_threadsafe(self._play(self._table(frame), interval_s), self._loop)

    def drop_connections(self, abrupt: bool = False) -> int:
        """Drop every websocket connection: a close frame (1001, going away), or with `abrupt`
        the TCP connection cut without one (a network failure). Returns how many were dropped."""
        return self._run(lambda: self._drop(abrupt))

    # ------------------------------------------------------------------ REST

    @staticmethod
    def _table(bars: pd.DataFrame | None) -> pd.DataFrame:
        if bars is None:
            return pd.DataFrame({column: [] for column in BAR_COLUMNS})
        table = bars.reindex(columns=list(BAR_COLUMNS)).copy()
        table["timestamp"] = pd.to_datetime(table["timestamp"], utc=True)
        return table.sort_values(["timestamp", "symbol"], kind="stable").reset_index(drop=True)

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        return headers.get("APCA-API-KEY-ID") == self.api_key and headers.get("APCA-API-SECRET-KEY") == self.secret_key

    async def _rest_bars(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.requests.append((request.path, query, request.headers.get("APCA-API-KEY-ID")))
        if not self._authorized(request.headers):
            return web.json_response(UNAUTHORIZED, status=401)
        try:
            body = self._page(query)
        except _BadRequestError as error:
            return web.json_response({"code": 42210000, "message": str(error)}, status=422)
        return web.json_response(body)

    def _page(self, query: dict[str, str]) -> dict[str, Any]:
        symbols = [symbol for symbol in query.get("symbols", "").split(",") if symbol]
        if not symbols:
            raise _BadRequestError("missing symbols")
        if not query.get("timeframe"):
            raise _BadRequestError("missing timeframe")
        start, end = _utc(query.get("start"), "start"), _utc(query.get("end"), "end")
        try:
            limit = int(query.get("limit") or 1000)
        except ValueError as error:
            raise _BadRequestError(f"invalid limit: {query['limit']!r}") from error
        if not 1 <= limit <= MAX_LIMIT:
            raise _BadRequestError(f"invalid limit: value must be between 1 and {MAX_LIMIT}")
        descending = query.get("sort", "asc") == "desc"
        table = self._bars
        chosen = table[table["symbol"].isin(symbols)]
        if start is not None:
            chosen = chosen[chosen["timestamp"] >= start]
        if end is not None:
            chosen = chosen[chosen["timestamp"] <= end]
        nanos = chosen["timestamp"].astype("int64").to_numpy()
        keys = sorted(
            zip(chosen["symbol"].tolist(), (-nanos if descending else nanos).tolist(), range(len(chosen)), strict=True)
        )
        begin = 0
        token = query.get("page_token")
        if token:
            try:
                symbol, nano = json.loads(base64.b64decode(token))
            except (ValueError, TypeError) as error:
                raise _BadRequestError(f"invalid page_token: {token!r}") from error
            begin = bisect.bisect_right(keys, (symbol, nano, len(keys)))
        size = min(limit, self.max_page_size)
        page = keys[begin : begin + size]
        bars: dict[str, list[dict[str, Any]]] = {}
        for symbol, _, position in page:
            bars.setdefault(symbol, []).append(self._rest_bar(chosen.iloc[position]))
        following = None
        if begin + size < len(keys):
            symbol, nano, _ = page[-1]
            following = base64.b64encode(json.dumps([symbol, nano]).encode()).decode()
        return {"bars": bars, "next_page_token": following}

    @staticmethod
    def _rest_bar(row: pd.Series) -> dict[str, Any]:
        return {
            "t": _rfc3339(row["timestamp"]),
            "o": float(row["open"]),
            "h": float(row["high"]),
            "l": float(row["low"]),
            "c": float(row["close"]),
            "v": _number(row["volume"]),
            "n": _number(row["trades"]),
            "vw": _number(row["vwap"]),
        }

    # ------------------------------------------------------------------ websocket

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["feed"] not in FEEDS:
            return web.json_response({"message": "not found"}, status=404)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        binary = "msgpack" in request.headers.get("Content-Type", "")
        client = _Client(ws, request, binary)
        self._clients.add(client)
        self.connections_opened += 1
        try:
            await self._send(client, [{"T": "success", "msg": "connected"}])
            deadline = asyncio.get_running_loop().time() + self.auth_timeout
            while not ws.closed:
                remaining = None if client.key else deadline - asyncio.get_running_loop().time()
                try:
                    message = await ws.receive(timeout=remaining)
                except TimeoutError:
                    await self._send(client, [_error(404, "auth timeout")])
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION)
                    break
                if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
                try:
                    if message.type == WSMsgType.BINARY:
                        payload = msgpack.unpackb(message.data)
                    elif message.type == WSMsgType.TEXT:
                        payload = json.loads(message.data)
                    else:
                        continue
                except ValueError:
                    await self._send(client, [_error(400, "invalid syntax")])
                    continue
                await self._handle(client, payload)
        except (ConnectionError, RuntimeError):
            pass  # the connection was cut (drop_connections(abrupt=True)) while answering
        finally:
            self._clients.discard(client)
        return ws

    async def _handle(self, client: _Client, payload: Any) -> None:
        action = payload.get("action") if isinstance(payload, dict) else None
        if action == "auth":
            await self._auth(client, payload)
        elif action in ("subscribe", "unsubscribe"):
            if client.key is None:
                await self._send(client, [_error(401, "not authenticated")])
                return
            changes: dict[str, list[str]] = {}
            for channel in CHANNELS:
                symbols = payload.get(channel, [])
                if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
                    await self._send(client, [_error(400, "invalid syntax")])
                    return
                changes[channel] = symbols
            if action == "subscribe" and self.symbol_limit is not None:
                wanted = {(c, s) for c in CHANNELS for s in client.channels[c]} | {
                    (c, s) for c, symbols in changes.items() for s in symbols
                }
                if len(wanted) > self.symbol_limit:
                    await self._send(client, [_error(405, "symbol limit exceeded")])
                    return
            for channel, symbols in changes.items():
                if action == "subscribe":
                    client.channels[channel].update(symbols)
                else:
                    client.channels[channel].difference_update(symbols)
            await self._send(client, [client.subscription()])
        else:
            await self._send(client, [_error(400, "invalid syntax")])

    async def _auth(self, client: _Client, payload: dict[str, Any]) -> None:
        if client.key is not None:
            await self._send(client, [_error(403, "already authenticated")])
            return
        if payload.get("key") != self.api_key or payload.get("secret") != self.secret_key:
            self.auth_failures += 1
            await self._send(client, [_error(402, "auth failed")])
            await client.ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return
        holding = sum(1 for c in self._clients if c.key == self.api_key and not c.ws.closed)
        if self._refuse > 0 or holding >= self.connection_limit:
            self._refuse = max(0, self._refuse - 1)
            self.refusals += 1
            await self._send(client, [_error(406, "connection limit exceeded")])
            await client.ws.close(code=WSCloseCode.POLICY_VIOLATION)
            return
        client.key = self.api_key
        self.authentications += 1
        self.max_active = max(self.max_active, self.active)
        await self._send(client, [{"T": "success", "msg": "authenticated"}])

    async def _send(self, client: _Client, messages: list[dict[str, Any]]) -> None:
        if client.ws.closed:
            return
        if client.binary:
            await client.ws.send_bytes(msgpack.packb(messages))
        else:
            await client.ws.send_str(json.dumps(messages, default=_json_default))

    @staticmethod
    def _stream_bar(row: Mapping[str, Any]) -> dict[str, Any]:
        stamp = pd.Timestamp(row["timestamp"])
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return {
            "T": "b",
            "S": str(row["symbol"]),
            "o": float(row["open"]),
            "h": float(row["high"]),
            "l": float(row["low"]),
            "c": float(row["close"]),
            "v": _number(row["volume"]),
            "t": msgpack.Timestamp.from_unix_nano(int(stamp.value)),
            "n": _number(row.get("trades", math.nan)),
            "vw": _number(row.get("vwap", math.nan)),
        }

    async def _broadcast(self, rows: list[Mapping[str, Any]]) -> int:
        messages = [self._stream_bar(row) for row in rows]
        delivered = 0
        for client in list(self._clients):
            if client.key is None or client.ws.closed:
                continue
            chosen = [message for message in messages if client.wants("bars", message["S"])]
            if not chosen:
                continue
            try:
                await self._send(client, chosen)
            except (ConnectionError, RuntimeError):
                continue
            delivered += len(chosen)
        return delivered

    async def _play(self, table: pd.DataFrame, interval_s: float) -> int:
        delivered = 0
        for number, (_, minute) in enumerate(table.groupby("timestamp", sort=True)):
            if number and interval_s > 0:
                await asyncio.sleep(interval_s)
            delivered += await self._broadcast(minute.to_dict("records"))
        return delivered

    async def _drop(self, abrupt: bool) -> int:
        clients = list(self._clients)
        self._clients.clear()
        for client in clients:
            if abrupt:
                transport = client.request.transport
                if transport is not None:
                    transport.abort()
            else:
                await client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server going away")
        return len(clients)


def _json_default(value: Any) -> Any:
    if isinstance(value, msgpack.Timestamp):
        return _rfc3339(pd.Timestamp(value.to_unix_nano(), unit="ns", tz="UTC"))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
