"""Named built-in datasets: the real bars that gym-anytrading ships, in the bar schema.

Time zones: `googl-daily` bars are labelled with their session date at 00:00 UTC (the same
convention as a date-only CSV read with the default `tz="UTC"`), so `timestamp.date()` in UTC is
the trading day. `eurusd-hourly` is Dukascopy-style hourly ask bars stamped in UTC (GMT); each
timestamp is the start of its hour.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.schema import validate_bars


def _bars(symbol: str, raw: pd.DataFrame, timestamps: pd.Series) -> pd.DataFrame:
    """gym-anytrading's Open/High/Low/Close/Volume columns in the bar schema, validated."""
    columns = {name.lower(): raw[name] for name in ("Open", "High", "Low", "Close", "Volume")}
    return validate_bars(pd.DataFrame({"symbol": symbol, "timestamp": timestamps, **columns}))


def _googl_daily() -> pd.DataFrame:
    from gym_anytrading.datasets import STOCKS_GOOGL

    raw = STOCKS_GOOGL.reset_index()
    return _bars("GOOGL", raw, pd.to_datetime(raw["Date"]).dt.tz_localize("UTC"))


def _eurusd_hourly() -> pd.DataFrame:
    from gym_anytrading.datasets import FOREX_EURUSD_1H_ASK

    raw = FOREX_EURUSD_1H_ASK.reset_index()
    stamps = pd.to_datetime(raw["Time"], format="%d.%m.%Y %H:%M:%S.%f").dt.tz_localize("UTC")
    return _bars("EURUSD", raw, stamps)


_LOADERS: dict[str, tuple[str, Callable[[], pd.DataFrame]]] = {
    "googl-daily": (
        "GOOGL daily bars 2009-05-22 .. 2018-08-29 (2,335 days; timestamps 00:00 UTC of the session date)",
        _googl_daily,
    ),
    "eurusd-hourly": (
        "EURUSD hourly ask bars 2017-01-01 .. 2017-12-29 (6,225 hours; timestamps UTC, start of the hour)",
        _eurusd_hourly,
    ),
}

DATASETS: dict[str, str] = {name: description for name, (description, _) in _LOADERS.items()}
"""Name -> one-line description of every built-in dataset."""


def load_dataset(name: str) -> pd.DataFrame:
    """The named built-in dataset as validated bars (see DATASETS); an unknown name is an
    InputError that lists the names and suggests the closest one."""
    entry = _LOADERS.get(name)
    if entry is None:
        close = difflib.get_close_matches(name, list(_LOADERS), n=1, cutoff=0.4)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"unknown dataset {name!r}{hint} (known: {', '.join(_LOADERS)})")
    return entry[1]()
