"""Trading days: one session's closes and point-in-time features, ready for the env or a backtest.

Features are computed on the whole series before it is split, so indicators carry over from one
session to the next exactly as they would live (every feature at bar t sees bars up to t only);
warm-up rows (a NaN in any configured feature) are dropped, so the first session may start late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.features import FEATURE_NAMES, compute_features
from tradebrain.data.pipeline import split_days
from tradebrain.data.schema import validate_bars
from tradebrain.desks.day_trading.config import DEFAULT_CONFIG, DayTradingEnvConfig
from tradebrain.market.venue import FillInputs, VenueConfig, fill_inputs


@dataclass(frozen=True, eq=False)
class TradingDay:
    """One session of one symbol: bar start `timestamps` (UTC), `close` prices and `features`
    (bars, n_features), all finite, with the column names in `feature_names`; and the bars' `open`,
    `high`, `low`, `volume` and `vwap` (NaN where unknown), which the simulated venue fills
    around (next open, range spread, VWAP). `trading_days` sets them all; a day built without them
    trades only through a venue that needs the close alone."""

    timestamps: pd.DatetimeIndex
    close: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...] = FEATURE_NAMES
    open: np.ndarray | None = None
    high: np.ndarray | None = None
    low: np.ndarray | None = None
    volume: np.ndarray | None = None
    vwap: np.ndarray | None = None

    def __post_init__(self) -> None:
        bars = len(self.timestamps)
        if bars < 1:
            raise InputError("a trading day needs at least one bar")
        if self.close.shape != (bars,):
            raise InputError(f"close has shape {self.close.shape}; expected ({bars},), one price per timestamp")
        if self.features.shape != (bars, len(self.feature_names)):
            raise InputError(
                f"features have shape {self.features.shape}; expected ({bars}, {len(self.feature_names)}) "
                f"for the feature names {self.feature_names}"
            )
        if not (np.all(np.isfinite(self.close)) and np.all(self.close > 0)):
            raise InputError(f"close prices of the day starting {self.timestamps[0]} must be finite and > 0")
        bad = np.argwhere(~np.isfinite(self.features))
        if len(bad):
            row, column = (int(i) for i in bad[0])
            raise InputError(
                f"feature {self.feature_names[column]!r} is not finite at {self.timestamps[row]}; "
                "drop warm-up rows (trading_days does) or fix the bars"
            )
        for name in ("open", "high", "low", "volume", "vwap"):
            column = getattr(self, name)
            if column is None:
                continue
            if column.shape != (bars,):
                raise InputError(f"{name} has shape {column.shape}; expected ({bars},), one value per timestamp")
            bad = ~(np.isfinite(column) & (column >= 0)) if name == "volume" else ~(column > 0)
            if name == "vwap":
                bad &= ~np.isnan(column)
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise InputError(f"{name} is {column[row]!r} at {self.timestamps[row]}; validate the bars first")
            column.flags.writeable = False
        for array in (self.close, self.features):
            array.flags.writeable = False

    @property
    def bars(self) -> int:
        """Number of bars (decisions) in the day."""
        return len(self.timestamps)

    @property
    def label(self) -> str:
        """The session's first bar timestamp, for logs and reports."""
        return str(self.timestamps[0])


def check_days(days: Sequence[TradingDay], features: tuple[str, ...], owner: str) -> None:
    """Reject an empty list, non-TradingDay items and days built with other features than `features`."""
    if len(days) == 0:
        raise InputError(f"{owner} needs at least one trading day; build them with trading_days(bars)")
    for index, day in enumerate(days):
        if not isinstance(day, TradingDay):
            raise InputError(f"days[{index}] is a {type(day).__name__}, not a TradingDay; use trading_days(bars)")
        if day.feature_names != features:
            raise InputError(
                f"days[{index}] holds the features {day.feature_names}, the config asks for {features}; "
                "build the days with trading_days(bars, config)"
            )


def _joined(days: Sequence[TradingDay], name: str) -> np.ndarray | None:
    """The column `name` of `days` laid end to end; None when a day lacks it."""
    columns = [getattr(day, name) for day in days]
    if any(column is None for column in columns):
        return None
    return np.concatenate(columns)


def days_fill_inputs(days: Sequence[TradingDay], venue: VenueConfig) -> FillInputs:
    """The venue's per-bar inputs (fill reference, half spread, delay) for `days` laid end to end,
    exactly as the backtest derives them from the same bars (the range spread of a session's
    first bars reads the previous session's last ones); orders expire with the session, so a
    delay as long as the longest session is refused."""
    close = np.concatenate([day.close for day in days])
    stamps = pd.DatetimeIndex(np.concatenate([day.timestamps.as_unit("ns").asi8 for day in days]), tz="UTC")
    try:
        return fill_inputs(
            venue, _joined(days, "open"), _joined(days, "high"), _joined(days, "low"), close, _joined(days, "vwap"),
            stamps, max(day.bars for day in days),
        )  # fmt: skip
    except InputError as error:
        raise InputError(
            f"{error} (the env's venue: {venue.label()}; build the days with trading_days(bars))"
        ) from None


def trading_days(
    bars: pd.DataFrame, config: DayTradingEnvConfig = DEFAULT_CONFIG, calendar: str | None = None
) -> list[TradingDay]:
    """The sessions of one symbol's bars, each with its closes and `config.features`, in time order.

    `calendar`: an exchange calendar name ("XNYS" for US equities; bars outside its regular sessions
    are an error, run `session_filter` first) or None to group bars by New York date (24-hour
    markets, or futures whose sessions run into the evening of one New York date).
    """
    bars = validate_bars(bars)
    symbols = bars["symbol"].unique()
    if len(symbols) != 1:
        raise InputError(f"trading_days takes the bars of one symbol (got {len(symbols)}: {list(symbols)[:5]})")
    names = config.features
    table = compute_features(bars)
    values = table[list(names)].to_numpy(dtype=float)
    keep = np.isfinite(values).all(axis=1)
    if not keep.any():
        raise InputError(
            f"no bar has every feature of {names} (the warm-up takes the first bars); pass a longer series"
        )
    kept = bars.loc[keep].reset_index(drop=True)
    values = values[keep]
    days: list[TradingDay] = []
    start = 0
    for session in split_days(kept, calendar):
        stop = start + len(session)
        stamps = pd.DatetimeIndex(session["timestamp"])
        if not stamps.equals(pd.DatetimeIndex(kept["timestamp"].iloc[start:stop])):  # sessions in time order
            raise InputError("sessions overlap in time; check the calendar")
        columns = {
            name: session[name].to_numpy(dtype=float, copy=True)
            for name in ("open", "high", "low", "volume", "vwap")
            if name in session.columns
        }
        days.append(
            TradingDay(
                stamps,
                session["close"].to_numpy(dtype=float, copy=True),
                values[start:stop].copy(),
                names,
                **columns,
            )
        )
        start = stop
    return days
