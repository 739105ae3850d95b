"""Live bars from Alpaca: one alpaca-py `StockDataStream` websocket for every symbol, and Alpaca's
historical bars (data/sources/alpaca.py) as the `history` the provider backfills gaps from.

Running the stream inside the provider's asyncio loop. alpaca-py's `run()` blocks in an
`asyncio.run` of its own. Its `_run_forever()` coroutine could be awaited in a task, but it does
not fit a provider: it spins (`await asyncio.sleep(0)` in a loop) until a symbol is subscribed,
retries rejected keys forever, has no hook for a reconnect, and `subscribe_bars` on a running
stream waits on `run_coroutine_threadsafe(...).result()`, which deadlocks when called from the
stream's own loop. So this source drives the connection itself, in one task of the caller's loop,
with the steps of the same `StockDataStream` that speak Alpaca's protocol: `_start_ws()` (connect,
then authenticate with the keys), `_send_subscribe_msg()` / `_send_unsubscribe_msg()` and
`_consume()` (read msgpack frames and dispatch each bar to the handler registered through the
public `subscribe_bars`). The stream's `_running` flag stays False, so `subscribe_bars` and
`unsubscribe_bars` only edit its handler table, and this source sends the subscription messages.
Bars reach `bars()` through an asyncio.Queue, in arrival order, as validated bar tables.

Reconnects. When the websocket drops (a close, a cut connection, a ping timeout, a stale feed with
`data_timeout`) or a connection attempt fails, the task waits an exponentially growing delay with
equal jitter (`backoff_delay`: `backoff_initial` doubling up to `backoff_max`, then between half
and all of it), reconnects, re-subscribes every symbol, counts the reconnect in `reconnects`, and
calls `on_reconnect(last)` with the time of the last bar seen before the drop (None if none) so
the provider can backfill the gap from `history`; only then does it read the new connection, so
the backfill comes before the live bars that follow it. The delay starts over after a connection
that delivered bars or stayed up `backoff_max` seconds. Rejected keys or a feed the account may not
use ("auth failed", "insufficient subscription") are never retried: `subscribe` and `bars()`
raise AlpacaAuthError. Alpaca's "connection limit exceeded" (another connection holds the key's
single slot, or Alpaca has not reaped the previous one) is retried with the backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgpack
import pandas as pd

from tradebrain.core.errors import ConfigError, InputError, TradebrainError
from tradebrain.core.extras import require
from tradebrain.data.schema import BAR_COLUMNS, DataValidationError, validate_bars
from tradebrain.data.sources.alpaca import AlpacaBarSource
from tradebrain.platform.sources import HistoryFetch

log = logging.getLogger(__name__)
CLOSE_TIMEOUT = 5.0  # seconds a websocket close may take before it is abandoned (a peer that never answers)

KEY_VARIABLE = "ALPACA_API_KEY"
SECRET_VARIABLE = "ALPACA_SECRET_KEY"
LEGACY_VARIABLES = ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY")
"""Alpaca's own names for the same keys (its CLI and older SDKs), read when ours are unset."""
STREAM_URL = "wss://stream.data.alpaca.markets/v2/{feed}"
FEEDS = ("iex", "sip")
"""The feeds alpaca-py's StockDataStream streams ("iex" for free accounts, "sip" with a subscription)."""
FATAL_ERRORS = ("auth failed", "insufficient subscription")
"""Alpaca's answers to the auth message that no retry can change."""
WEBSOCKET_PARAMS = {"ping_interval": 10, "ping_timeout": 30, "close_timeout": 5, "max_queue": 1024}
"""alpaca-py's websocket settings with a 30 s ping timeout (alpaca-py: 180 s), so a dead TCP
connection is noticed and replaced within about 40 s, and a 5 s close handshake."""

_STREAM_STEPS = ("_start_ws", "_consume", "_dispatch", "_send_subscribe_msg", "_send_unsubscribe_msg", "close")
"""The StockDataStream methods this source drives (alpaca-py internals, present in 0.30 to 0.44)."""

ReconnectHook = Callable[[pd.Timestamp | None], Awaitable[None] | None]
"""`on_reconnect(last)`: called (and awaited if it returns an awaitable) after each reconnect."""


class AlpacaStreamError(TradebrainError):
    """Alpaca refused the stream or a subscription; the message quotes Alpaca's answer."""


class AlpacaAuthError(AlpacaStreamError, ConfigError):
    """Alpaca rejected the keys, or the account may not use the feed: fatal, never retried."""


class _End:
    """The queue's last item: the stream was closed (error None) or failed for good."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def backoff_delay(failures: int, initial: float, cap: float, rng: random.Random | None = None) -> float:
    """Seconds to wait before the next connection attempt after `failures` (>= 1) in a row:
    `initial` doubled per failure up to `cap`, with equal jitter (between half and all of it) so
    many clients dropped together do not reconnect in step."""
    delay = min(cap, initial * 2.0 ** min(max(failures - 1, 0), 60))
    return delay / 2 + (rng or random).uniform(0, delay / 2)


def environment_keys() -> tuple[str, str] | None:
    """(key id, secret key) from ALPACA_API_KEY / ALPACA_SECRET_KEY (or Alpaca's own
    APCA_API_KEY_ID / APCA_API_SECRET_KEY), or None when either is unset."""
    key = os.environ.get(KEY_VARIABLE) or os.environ.get(LEGACY_VARIABLES[0])
    secret = os.environ.get(SECRET_VARIABLE) or os.environ.get(LEGACY_VARIABLES[1])
    return (key, secret) if key and secret else None


def stream_url_for(feed: str, url_override: str | None = None) -> str:
    """The websocket URL of `feed`: Alpaca's (wss://stream.data.alpaca.markets/v2/FEED), or with
    `url_override` (a REST base URL such as http://127.0.0.1:8080) the same host under /v2/FEED
    with ws:// or wss:// (a proxy or a test server that serves both on one port)."""
    if url_override is None:
        return STREAM_URL.format(feed=feed)
    parts = urlsplit(url_override)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/v2/{feed}"


def _symbol_list(symbols: Sequence[str]) -> list[str]:
    """The symbols, stripped and without repeats; a bare string is one symbol."""
    chosen: list[str] = []
    for symbol in [symbols] if isinstance(symbols, str) else symbols:
        if not isinstance(symbol, str) or not symbol.strip():
            raise InputError(f"symbol {symbol!r} is not a ticker; pass symbols such as ['AAPL', 'SPY']")
        if symbol.strip() not in chosen:
            chosen.append(symbol.strip())
    return chosen


def _utc(moment: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _optional(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _row(message: dict[str, Any]) -> dict[str, Any]:
    """A bar message ({"T":"b","S","o","h","l","c","v","t","n","vw"}) as a row of the bar schema;
    `t` is a msgpack Timestamp (alpaca-py's msgpack frames) or RFC-3339 text (JSON). The time goes
    through a datetime (microseconds; bars start on the minute) so the column gets pandas' default
    resolution, the same as the historical bars a backfill brings."""
    moment = message["t"]
    if isinstance(moment, msgpack.Timestamp):
        stamp = _utc(pd.Timestamp(moment.to_datetime()))
    else:
        stamp = _utc(pd.Timestamp(moment))
    return {
        "symbol": str(message["S"]),
        "timestamp": stamp,
        "open": float(message["o"]),
        "high": float(message["h"]),
        "low": float(message["l"]),
        "close": float(message["c"]),
        "volume": float(message["v"]),
        "vwap": _optional(message.get("vw")),
        "trades": _optional(message.get("n")),
    }


def _empty_bars() -> pd.DataFrame:
    """A bar table with no rows (the schema's columns and dtypes)."""
    frame = pd.DataFrame({column: pd.Series(dtype=float) for column in BAR_COLUMNS})
    frame["symbol"] = frame["symbol"].astype(object)
    frame["timestamp"] = pd.Series(dtype="datetime64[ns, UTC]")
    return frame


@functools.cache
def _stream_class() -> type[Any]:
    """alpaca-py's StockDataStream that hands control messages (subscription acknowledgements and
    errors) to the source instead of only logging them."""
    from alpaca.data.live.stock import StockDataStream

    missing = [name for name in _STREAM_STEPS if not callable(getattr(StockDataStream, name, None))]
    if missing:  # these are alpaca-py internals: say so plainly if a release renames them
        raise AlpacaStreamError(
            f"this alpaca-py release lacks StockDataStream.{', .'.join(missing)}, which AlpacaLiveSource drives; "
            "install the alpaca-py version tradebrain pins (pip install 'tradebrain[live]')"
        )

    class _BarStream(StockDataStream):
        def __init__(self, *args: Any, on_control: Callable[[dict[str, Any]], None], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._on_control = on_control

        async def _dispatch(self, msg: dict[str, Any]) -> None:
            if msg.get("T") in ("subscription", "error"):
                self._on_control(msg)
                return
            await super()._dispatch(msg)

    return _BarStream


class AlpacaLiveSource:
    """Alpaca's live minute bars for every symbol over one websocket (see the module docstring).

    `api_key` / `secret_key`: the account's keys (`from_environment()` reads them). `feed`: "iex"
    (free accounts) or "sip". `url_override`: another base URL of the REST API (historical bars);
    the stream is then looked for on the same host under /v2/FEED unless `stream_url` names it.
    `on_reconnect(last)`: called after every reconnect (also settable as an attribute).
    `backoff_initial` / `backoff_max`: the reconnect delays (seconds). `connect_timeout`: the most a
    connection attempt (connect and auth) may take. `ack_timeout`: how long `subscribe` waits for
    Alpaca to confirm. `data_timeout`: reconnect after this many seconds without a bar (alpaca-py >= 0.44; None: never,
    the default, since quiet symbols and closed markets send nothing).

    Use it from one asyncio loop (the provider's): the connection opens on the first `subscribe`.
    """

    provider = "alpaca"

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        *,
        feed: str = "iex",
        url_override: str | None = None,
        stream_url: str | None = None,
        on_reconnect: ReconnectHook | None = None,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        connect_timeout: float = 15.0,
        ack_timeout: float = 10.0,
        data_timeout: float | None = None,
    ) -> None:
        require("alpaca", "Alpaca live market data")
        from alpaca.data.enums import DataFeed

        if not api_key or not secret_key:
            raise ConfigError(
                f"Alpaca needs an API key and a secret key; pass them, or set {KEY_VARIABLE} and {SECRET_VARIABLE} "
                "and use AlpacaLiveSource.from_environment()"
            )
        if feed not in FEEDS:
            raise ConfigError(f"feed {feed!r} cannot be streamed; use one of {list(FEEDS)}")
        if not 0 < backoff_initial <= backoff_max:
            raise ConfigError(f"backoff needs 0 < backoff_initial <= backoff_max, got {backoff_initial}, {backoff_max}")
        self.feed = feed
        self.stream_url = stream_url or stream_url_for(feed, url_override)
        self.on_reconnect = on_reconnect
        self.reconnects = 0
        """Successful reconnections (the first connection is not one)."""
        self.connection_attempts = 0
        self.last_error: str | None = None
        """What went wrong last (a refusal, a drop), for status pages; None after a good connect."""
        self._stream: Any = _stream_class()(
            api_key,
            secret_key,
            raw_data=True,
            feed=DataFeed(feed),
            websocket_params=dict(WEBSOCKET_PARAMS),
            url_override=self.stream_url,
            on_control=self._on_control,
            **({} if data_timeout is None else {"data_timeout": data_timeout}),  # alpaca-py >= 0.44 only
        )
        self._bar_source = AlpacaBarSource(api_key, secret_key, url_override=url_override, feed=feed)
        self.history: HistoryFetch | None = self._history
        self._backoff = (backoff_initial, backoff_max)
        self._connect_timeout = connect_timeout
        self._ack_timeout = ack_timeout
        self._symbols: set[str] = set()
        self._acked: set[str] = set()
        self._last_seen: dict[str, pd.Timestamp] = {}
        self._queue: asyncio.Queue[dict[str, Any] | _End] = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self._connected = False
        self._connected_at: float | None = None
        self._ever_connected = False
        self._delivered = False
        self._task: asyncio.Task[None] | None = None
        self._first_attempt: asyncio.Future[None] | None = None
        self._fatal: AlpacaAuthError | None = None
        self._closed = False
        self._error_count = 0
        self._last_server_error: tuple[Any, str] = (None, "")

    @classmethod
    def from_environment(cls, **options: Any) -> AlpacaLiveSource:
        """A source with the keys in ALPACA_API_KEY / ALPACA_SECRET_KEY (or APCA_API_KEY_ID /
        APCA_API_SECRET_KEY); a ConfigError naming the variables when they are unset. `options` go
        to the constructor (feed, url_override, ...)."""
        keys = environment_keys()
        if keys is None:
            raise ConfigError(
                f"Alpaca keys are not in the environment: set {KEY_VARIABLE} and {SECRET_VARIABLE} (Alpaca's "
                f"{LEGACY_VARIABLES[0]} / {LEGACY_VARIABLES[1]} are read too) to the key id and secret of your "
                "account (https://app.alpaca.markets, API keys)"
            )
        return cls(keys[0], keys[1], **options)

    # ------------------------------------------------------------------ state

    @property
    def connected(self) -> bool:
        """Whether the websocket is open, authenticated and subscribed."""
        return self._connected

    @property
    def symbols(self) -> frozenset[str]:
        """The symbols subscribed (kept across reconnects)."""
        return frozenset(self._symbols)

    @property
    def last_seen(self) -> dict[str, pd.Timestamp]:
        """The time of the last bar received per symbol (what a backfill starts after)."""
        return dict(self._last_seen)

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until `condition()` holds (re-checked whenever the state changes); False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return True

    def _check_open(self) -> None:
        if self._fatal is not None:
            raise self._fatal
        if self._closed:
            raise AlpacaStreamError("the Alpaca source is closed; make a new one")

    # ------------------------------------------------------------------ LiveSource

    async def subscribe(self, symbols: Sequence[str]) -> None:
        """Add symbols to the one connection (opening it on the first call). Returns once Alpaca
        confirmed them, or the first connection attempt failed for a reason worth retrying (the
        symbols are then sent on every reconnect). Raises AlpacaAuthError when Alpaca rejects the
        keys or the feed, AlpacaStreamError when it refuses the symbols (e.g. too many)."""
        self._check_open()
        new = [symbol for symbol in _symbol_list(symbols) if symbol not in self._symbols]
        errors = self._error_count
        async with self._lock:
            if new:
                self._stream.subscribe_bars(self._on_bar, *new)
                self._symbols.update(new)
                if self._connected:
                    await self._send_quietly(self._stream._send_subscribe_msg())
        self._start()
        await self._settled()
        if new and self._connected:
            await self._confirm(lambda: set(new) <= self._acked, "subscribe to", new, errors)

    async def unsubscribe(self, symbols: Sequence[str]) -> None:
        """Remove symbols from the connection; bars of them still in flight are dropped."""
        gone = [symbol for symbol in _symbol_list(symbols) if symbol in self._symbols]
        if not gone or self._closed:
            return
        errors = self._error_count
        async with self._lock:
            self._stream.unsubscribe_bars(*gone)
            self._symbols.difference_update(gone)
            for symbol in gone:
                self._last_seen.pop(symbol, None)
            if self._connected:
                await self._send_quietly(self._stream._send_unsubscribe_msg("bars", gone))
        if self._connected:
            await self._confirm(lambda: not set(gone) & self._acked, "unsubscribe from", gone, errors)

    async def bars(self) -> AsyncIterator[pd.DataFrame]:
        """Validated bar tables (data/schema.py, UTC) of the subscribed symbols as they arrive:
        each holds every bar received since the last one, in time order per symbol, none twice.
        Ends after `close()`; raises AlpacaAuthError if Alpaca rejects the keys. One consumer."""
        while True:
            item = await self._queue.get()
            rows: list[dict[str, Any]] = []
            end: _End | None = None
            while True:
                if isinstance(item, _End):
                    end = item
                    break
                rows.append(item)
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
            table = self._table(rows) if rows else None
            if table is not None:
                yield table
            if end is not None:
                self._queue.put_nowait(end)  # a later bars() ends too
                if end.error is not None:
                    raise end.error
                return

    async def close(self) -> None:
        """Close the connection and end `bars()` (after the bars already received)."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=CLOSE_TIMEOUT)  # never wait on a close handshake forever
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stream.close(), CLOSE_TIMEOUT)
        self._connected = False
        self._resolve_first_attempt()
        self._notify()
        self._queue.put_nowait(_End(None))

    # ------------------------------------------------------------------ history

    def _history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Minute bars of `symbol` with start <= timestamp < end from Alpaca's historical API
        (an empty table when there are none). Blocking HTTP: call it in a thread."""
        from alpaca.common.exceptions import APIError

        begin, finish = _utc(start), _utc(end)
        if finish <= begin:
            return _empty_bars()
        try:
            bars = self._bar_source.fetch(symbol, begin, finish, timeframe="1Min")
        except DataValidationError as error:
            if str(error).startswith("alpaca returned no bars"):  # a quiet gap is not an error here
                return _empty_bars()
            raise
        except APIError as error:
            if error.status_code in (401, 403):
                raise AlpacaAuthError(
                    f"Alpaca refused the historical bars request (HTTP {error.status_code}: {error}); check "
                    f"{KEY_VARIABLE} / {SECRET_VARIABLE} and that the account may use feed {self.feed!r}"
                ) from error
            raise
        return bars[bars["timestamp"] < finish].reset_index(drop=True)

    # ------------------------------------------------------------------ the connection task

    def _start(self) -> None:
        if self._task is None and not self._closed:
            loop = asyncio.get_running_loop()
            self._first_attempt = loop.create_future()
            self._task = loop.create_task(self._run(), name="alpaca-live-stream")

    def _resolve_first_attempt(self) -> None:
        if self._first_attempt is not None and not self._first_attempt.done():
            self._first_attempt.set_result(None)

    async def _settled(self) -> None:
        """Wait for the first connection attempt's outcome; raise if it was fatal."""
        if self._first_attempt is not None:
            await asyncio.shield(self._first_attempt)
        self._check_open()

    async def _confirm(self, done: Callable[[], bool], action: str, symbols: list[str], errors: int) -> None:
        """Wait for Alpaca's subscription message to show the change; raise if Alpaca answered with
        an error (one more than the `errors` counted before the request was sent)."""
        finished = await self._wait_for(
            lambda: done() or not self._connected or self._fatal is not None or self._error_count > errors,
            self._ack_timeout,
        )
        self._check_open()
        if self._error_count > errors and not done():
            code, text = self._last_server_error
            if action == "subscribe to":  # refused: forget them, or every reconnect is refused again
                async with self._lock:
                    refused = [symbol for symbol in symbols if symbol in self._symbols and symbol not in self._acked]
                    self._stream.unsubscribe_bars(*refused)
                    self._symbols.difference_update(refused)
            raise AlpacaStreamError(f"Alpaca refused to {action} {symbols}: {text} (code {code})")
        if not finished:
            log.warning("Alpaca did not confirm the request to %s %s within %.0f s", action, symbols, self._ack_timeout)

    async def _send_quietly(self, sending: Awaitable[None]) -> None:
        """Send on the connection; a failure means it broke, and the reconnect re-sends everything."""
        try:
            await sending
        except Exception as error:
            log.info("Alpaca stream: sending failed (%s); the reconnect re-subscribes", error)

    async def _run(self) -> None:
        """Connect, read, and after every drop reconnect with backoff, until closed or fatal."""
        loop = asyncio.get_running_loop()
        failures = 0
        while not self._closed:
            self._delivered = False
            self._connected_at = None
            try:
                await self._session()
            except AlpacaAuthError as error:
                self._fail(error)
                return
            except Exception as error:  # a refusal, a cut connection, a timeout: all retried
                self.last_error = f"{type(error).__name__}: {error}".rstrip(": ")
                log.warning("Alpaca stream to %s: %s; reconnecting", self.stream_url, self.last_error)
            finally:
                self._connected = False
                self._notify()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._stream.close(), CLOSE_TIMEOUT)
                self._resolve_first_attempt()
            up = None if self._connected_at is None else loop.time() - self._connected_at
            healthy = self._delivered or (up is not None and up >= self._backoff[1])
            failures = 1 if healthy else failures + 1
            await asyncio.sleep(backoff_delay(failures, *self._backoff))

    async def _session(self) -> None:
        """One connection: connect and authenticate, subscribe every symbol, call on_reconnect
        after a reconnect, then read until it drops (an exception says how)."""
        self.connection_attempts += 1
        try:
            await asyncio.wait_for(self._stream._start_ws(), self._connect_timeout)
        except ValueError as error:  # alpaca-py's report of Alpaca's answer to connect or auth
            text = str(error)
            if any(fatal in text for fatal in FATAL_ERRORS):
                raise AlpacaAuthError(
                    f"Alpaca rejected the stream's authentication ({text}): check {KEY_VARIABLE} / "
                    f"{SECRET_VARIABLE} and that the account may use feed {self.feed!r}"
                ) from error
            raise AlpacaStreamError(f"Alpaca refused the connection ({text})") from error
        except TimeoutError as error:
            limit = self._connect_timeout
            raise AlpacaStreamError(f"no answer to connect and authenticate within {limit} s") from error
        async with self._lock:
            self._acked = set()
            if self._symbols:
                await self._stream._send_subscribe_msg()
            self._connected = True
            self.last_error = None
            self._notify()
        self._connected_at = asyncio.get_running_loop().time()
        self._resolve_first_attempt()
        if self._ever_connected:
            self.reconnects += 1
            await self._reconnected()
        self._ever_connected = True
        stale = await self._stream._consume()
        if stale:
            raise AlpacaStreamError("no bars within data_timeout; the connection looks stale")
        raise AlpacaStreamError("the stream stopped reading")

    async def _reconnected(self) -> None:
        hook = self.on_reconnect
        if hook is None:
            return
        last = max(self._last_seen.values(), default=None)
        try:
            result = hook(last)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("Alpaca stream: on_reconnect(%s) failed", last)

    def _fail(self, error: AlpacaAuthError) -> None:
        self._fatal = error
        self.last_error = str(error)
        log.error("%s", error)
        self._resolve_first_attempt()
        self._notify()
        self._queue.put_nowait(_End(error))

    # ------------------------------------------------------------------ messages

    def _on_control(self, message: dict[str, Any]) -> None:
        """A subscription acknowledgement (the connection's whole subscription) or an error."""
        if message.get("T") == "subscription":
            self._acked = {str(symbol) for symbol in message.get("bars") or []}
        else:
            code, text = message.get("code"), str(message.get("msg"))
            self._error_count += 1
            self._last_server_error = (code, text)
            self.last_error = f"{text} (code {code})"
            log.warning("Alpaca stream error: %s (code %s)", text, code)
        self._notify()

    async def _on_bar(self, message: dict[str, Any]) -> None:
        """alpaca-py's handler for each bar: queue it unless it repeats or precedes the last bar of
        its symbol (a resend after a reconnect) or its symbol was just unsubscribed."""
        try:
            row = _row(message)
        except (KeyError, TypeError, ValueError) as error:
            log.warning("Alpaca stream: ignored a malformed bar %r (%s)", message, error)
            return
        symbol = row["symbol"]
        if symbol not in self._symbols and "*" not in self._symbols:
            return
        last = self._last_seen.get(symbol)
        if last is not None and row["timestamp"] <= last:
            log.info("Alpaca stream: ignored a bar of %s at %s (already have %s)", symbol, row["timestamp"], last)
            return
        self._last_seen[symbol] = row["timestamp"]
        self._delivered = True
        self._queue.put_nowait(row)

    @staticmethod
    def _table(rows: list[dict[str, Any]]) -> pd.DataFrame | None:
        """The rows as a validated bar table; rows that break the schema are dropped with a warning."""
        frame = pd.DataFrame(rows, columns=list(BAR_COLUMNS))
        frame = frame.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
        try:
            return validate_bars(frame)
        except DataValidationError:
            pass
        good = []
        for position in range(len(frame)):
            try:
                good.append(validate_bars(frame.iloc[[position]]))
            except DataValidationError as error:
                log.warning("Alpaca stream: dropped a bar that breaks the schema: %s", error)
        return validate_bars(pd.concat(good, ignore_index=True)) if good else None
