"""The bus's wire format: msgpack maps with a version, a type and, for bars, one little-endian
byte string per column (so a batch of a million bars decodes without a Python object per bar).

Why msgpack with columns: JSON costs a float parse per value and doubles the bytes; a bar message
here is about 120 bytes and a 1.5M-bar history decodes at memory speed (np.frombuffer). Every
message carries `v` (VERSION); a reader refuses other versions, unknown types, missing fields,
ragged columns and impossible bars with a `MessageError` naming the subject, so one bad message is
logged and skipped and never crashes a component.

Types: "bars" (one symbol's bars: columns t [int64 ns UTC], o, h, l, c, vol, vw [float64; vw NaN
when unknown]); "news"; "cmd" (a command or a request, fields by name); "feeds"; "end" (the last
message of a chunked reply, with the record count `n`); "error" (a refused request, `message`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError

VERSION = 1
TYPES = ("bars", "news", "cmd", "feeds", "end", "error")
BAR_FIELDS = ("t", "o", "h", "l", "c", "vol", "vw")
_COLUMN_NAMES = {"o": "open", "h": "high", "l": "low", "c": "close", "vol": "volume", "vw": "vwap"}


class MessageError(InputError):
    """A message that cannot be read: malformed, of another version, or carrying impossible data."""


@dataclass(frozen=True)
class Bars:
    """One symbol's bars as columns: `timestamp` int64 nanoseconds UTC, increasing; prices float64."""

    symbol: str
    provider: str
    timestamp: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    vwap: np.ndarray

    def __len__(self) -> int:
        return len(self.timestamp)

    def rows(self, start: int, stop: int) -> Bars:
        """Bars start..stop-1 (views, no copy)."""
        return Bars(
            self.symbol, self.provider, self.timestamp[start:stop], self.open[start:stop], self.high[start:stop],
            self.low[start:stop], self.close[start:stop], self.volume[start:stop], self.vwap[start:stop],
        )  # fmt: skip

    def message_ids(self) -> list[str]:
        """The dedup id of each bar: provider, symbol and timestamp (JetStream drops a repeat)."""
        return [f"{self.provider}:{self.symbol}:{int(t)}" for t in self.timestamp]


@dataclass(frozen=True)
class Payload:
    """A decoded message other than bars: its type and fields."""

    type: str
    fields: dict[str, Any] = field(default_factory=dict)


def bars_from_frame(frame: pd.DataFrame, provider: str) -> Bars:
    """One symbol's bar table (the schema's columns) as columns for the wire."""
    per_symbol = split_by_symbol(frame, provider)
    if len(per_symbol) > 1:
        symbols = [bars.symbol for bars in per_symbol]
        raise InputError(f"a bar message holds one symbol's bars (got {len(symbols)}: {symbols[:5]})")
    if per_symbol:
        return per_symbol[0]
    empty = np.empty(0)
    return Bars("", provider, np.empty(0, dtype=np.int64), empty, empty, empty, empty, empty, empty)


def encode_bars(bars: Bars) -> bytes:
    """A "bars" message."""
    body: dict[str, Any] = {"v": VERSION, "type": "bars", "symbol": bars.symbol, "provider": bars.provider}
    body["n"] = len(bars)
    body["t"] = np.ascontiguousarray(bars.timestamp, dtype="<i8").tobytes()
    for key, name in _COLUMN_NAMES.items():
        body[key] = np.ascontiguousarray(getattr(bars, name), dtype="<f8").tobytes()
    return bytes(msgpack.packb(body, use_bin_type=True))


def encode(type_: str, **fields: Any) -> bytes:
    """A message of `type_` ("cmd", "feeds", "end", "error", "news") with JSON-like fields."""
    if type_ not in TYPES or type_ == "bars":
        raise InputError(f"message type {type_!r} is not one of {TYPES} (bars: encode_bars)")
    return bytes(msgpack.packb({"v": VERSION, "type": type_, **fields}, use_bin_type=True))


def decode(data: bytes, subject: str = "?") -> Bars | Payload:
    """Read a message; a MessageError naming `subject` and what is wrong otherwise."""
    try:
        body = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as error:  # msgpack raises several unrelated types for garbage
        raise MessageError(f"message on {subject!r} is not msgpack ({type(error).__name__}: {error})") from None
    if not isinstance(body, dict):
        raise MessageError(f"message on {subject!r} is a {type(body).__name__}, not a map")
    version = body.get("v")
    if version != VERSION:
        raise MessageError(f"message on {subject!r} has version {version!r}; this reader speaks version {VERSION}")
    type_ = body.get("type")
    if type_ not in TYPES:
        raise MessageError(f"message on {subject!r} has type {type_!r}, not one of {TYPES}")
    if type_ != "bars":
        return Payload(str(type_), {k: v for k, v in body.items() if k not in ("v", "type")})
    return _bars(body, subject)


def _bars(body: dict[str, Any], subject: str) -> Bars:
    missing = [key for key in ("symbol", "provider", "n", *BAR_FIELDS) if key not in body]
    if missing:
        raise MessageError(f"bar message on {subject!r} lacks {missing}")
    n = body["n"]
    if not isinstance(n, int) or n < 0:
        raise MessageError(f"bar message on {subject!r} has a bad count n={n!r}")
    columns: dict[str, np.ndarray] = {}
    for key in BAR_FIELDS:
        raw = body[key]
        if not isinstance(raw, bytes) or len(raw) != 8 * n:
            size = len(raw) if isinstance(raw, bytes) else type(raw).__name__
            raise MessageError(f"bar message on {subject!r}: column {key!r} holds {size} bytes, expected {8 * n}")
        columns[key] = np.frombuffer(raw, dtype="<i8" if key == "t" else "<f8")
    if n == 1:  # one live bar: Python floats check it several times faster than numpy calls
        open_, high, low, close, volume = (float(columns[key][0]) for key in ("o", "h", "l", "c", "vol"))
        _check_bar(open_, high, low, close, volume, subject)
    elif n:
        _check_bars(columns, subject)
    return Bars(
        str(body["symbol"]), str(body["provider"]), columns["t"], columns["o"], columns["h"], columns["l"],
        columns["c"], columns["vol"], columns["vw"],
    )  # fmt: skip


def _check_bar(open_: float, high: float, low: float, close: float, volume: float, subject: str) -> None:
    """One bar's prices and volume, refused with a MessageError naming `subject`."""
    for price in (open_, high, low, close):
        if not (math.isfinite(price) and price > 0):
            raise MessageError(f"bar message on {subject!r} carries a price that is not finite and > 0")
    if high < max(open_, close) or low > min(open_, close):
        raise MessageError(f"bar message on {subject!r} carries a bar whose high/low do not contain open and close")
    if not (math.isfinite(volume) and volume >= 0):
        raise MessageError(f"bar message on {subject!r} carries a volume that is not finite and >= 0")


def _check_bars(columns: dict[str, np.ndarray], subject: str) -> None:
    """`_check_bar` on every bar of a batch, and timestamps increasing."""
    prices = np.stack([columns[key] for key in ("o", "h", "l", "c")])
    if not (np.isfinite(prices).all() and (prices > 0).all()):
        raise MessageError(f"bar message on {subject!r} carries a price that is not finite and > 0")
    outside = (columns["h"] < np.maximum(columns["o"], columns["c"])) | (
        columns["l"] > np.minimum(columns["o"], columns["c"])
    )
    if outside.any():
        raise MessageError(f"bar message on {subject!r} carries a bar whose high/low do not contain open and close")
    if not (np.isfinite(columns["vol"]).all() and (columns["vol"] >= 0).all()):
        raise MessageError(f"bar message on {subject!r} carries a volume that is not finite and >= 0")
    if not (np.diff(columns["t"]) > 0).all():
        raise MessageError(f"bar message on {subject!r} has timestamps that are not increasing")


def bars_table(parts: Sequence[Bars]) -> pd.DataFrame:
    """Many messages' bars (any symbols) as one bar table: one allocation per column, no frame per message."""
    if not parts:
        raise InputError("no bars to lay out")
    lengths = np.fromiter((len(part) for part in parts), dtype=np.int64, count=len(parts))
    symbols = np.repeat(np.array([part.symbol for part in parts], dtype=object), lengths)
    columns = {name: np.concatenate([getattr(part, name) for part in parts])
               for name in ("timestamp", "open", "high", "low", "close", "volume", "vwap")}  # fmt: skip
    return pd.DataFrame(
        {
            "symbol": symbols,
            "timestamp": pd.to_datetime(columns.pop("timestamp"), utc=True).as_unit("us"),
            **columns,
            "trades": np.nan,
        }
    )


def split_by_symbol(frame: pd.DataFrame, provider: str) -> list[Bars]:
    """A bar table of any symbols as one `Bars` per symbol (rows kept in order), without a pandas
    group per symbol: the provider's hot path."""
    if not len(frame):
        return []
    symbols = frame["symbol"].to_numpy()
    stamps = pd.DatetimeIndex(frame["timestamp"])
    if stamps.tz is None:
        raise InputError("bar timestamps must be time-zone aware (UTC); validate the bars first")
    columns = {
        "timestamp": stamps.tz_convert("UTC").as_unit("ns").asi8.astype(np.int64),
        **{name: frame[name].to_numpy(dtype=np.float64) for name in ("open", "high", "low", "close", "volume")},
        "vwap": frame["vwap"].to_numpy(dtype=np.float64) if "vwap" in frame.columns else np.full(len(frame), np.nan),
    }
    names, codes = np.unique(symbols, return_inverse=True)
    if len(names) == 1:
        return [Bars(str(names[0]), provider, **columns)]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
    out = []
    for k, name in enumerate(names):
        rows = order[bounds[k] : bounds[k + 1]]
        out.append(Bars(str(name), provider, **{key: values[rows] for key, values in columns.items()}))
    return out
