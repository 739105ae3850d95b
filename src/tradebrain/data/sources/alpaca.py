"""Historical bars from Alpaca's market-data API (v2 stock bars), through alpaca-py.

alpaca-py does the HTTP, the authentication headers, retries and the pagination
(`next_page_token`); this adapter turns a request into validated bars in the schema, with
Alpaca's `vw` as `vwap` and `n` (trade count) as `trades`. Alpaca stamps a bar with its start,
in UTC.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.core.extras import require
from tradebrain.data.schema import BAR_COLUMNS, DataValidationError, validate_bars

_TIMEFRAME = re.compile(r"^(\d+)\s*(min|minute|t|h|hour|d|day|w|week|m|mo|month)s?$", re.IGNORECASE)
_UNITS = {
    "min": "Minute",
    "minute": "Minute",
    "t": "Minute",
    "h": "Hour",
    "hour": "Hour",
    "d": "Day",
    "day": "Day",
    "w": "Week",
    "week": "Week",
    "m": "Month",
    "mo": "Month",
    "month": "Month",
}


def parse_timeframe(timeframe: str) -> tuple[int, str]:
    """(amount, unit name of alpaca's TimeFrameUnit) for strings like "1Min", "15Min", "1Hour", "1Day"."""
    match = _TIMEFRAME.match(timeframe.strip())
    if match is None:
        raise InputError(f"timeframe {timeframe!r} is not understood; use e.g. '1Min', '5Min', '1Hour', '1Day'")
    return int(match.group(1)), _UNITS[match.group(2).lower()]


def _utc(moment: str | datetime | pd.Timestamp, name: str) -> datetime:
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    if pd.isna(stamp):
        raise InputError(f"{name} {moment!r} is not a date")
    result: datetime = stamp.to_pydatetime()
    return result


class AlpacaBarSource:
    """Bars from Alpaca's historical stock-bars endpoint.

    `url_override` points the client at another base URL (a proxy, or a local server in tests);
    `feed` selects the data feed ("iex" for free accounts, "sip" for paid; None: Alpaca's default).
    """

    def __init__(self, api_key: str, secret_key: str, url_override: str | None = None, feed: str | None = None) -> None:
        require("alpaca", "Alpaca market data")
        from alpaca.data.historical import StockHistoricalDataClient

        self._client = StockHistoricalDataClient(api_key=api_key, secret_key=secret_key, url_override=url_override)
        self._feed = feed

    def fetch(
        self,
        symbol: str,
        start: str | datetime | pd.Timestamp,
        end: str | datetime | pd.Timestamp,
        timeframe: str = "1Min",
    ) -> pd.DataFrame:
        """Validated bars of `symbol` from `start` to `end` (naive times are UTC), all pages."""
        from alpaca.data.requests import StockBarsRequest
        from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

        amount, unit = parse_timeframe(timeframe)
        begin, finish = _utc(start, "start"), _utc(end, "end")
        if finish <= begin:
            raise InputError(f"end {end} is not after start {start}")
        request = StockBarsRequest(
            symbol_or_symbols=symbol,
            start=begin,
            end=finish,
            timeframe=TimeFrame(amount, TimeFrameUnit[unit]),
            **({"feed": self._feed} if self._feed else {}),
        )
        barset = self._client.get_stock_bars(request)
        if isinstance(barset, dict):  # only with raw_data=True, which this adapter never sets
            raise TypeError("alpaca-py returned raw data; expected a BarSet")
        frame = barset.df
        if frame.empty:
            raise DataValidationError(f"alpaca returned no bars for {symbol!r} from {begin} to {finish} ({timeframe})")
        frame = frame.reset_index().rename(columns={"trade_count": "trades"})
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        return validate_bars(frame[[column for column in BAR_COLUMNS if column in frame.columns]])
