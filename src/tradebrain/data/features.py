"""Point-in-time, scale-invariant features of a bar table, computed per symbol.

Point-in-time: the value at bar t uses bars up to and including t only. Every indicator is a
backward rolling window or a forward recursion (EMA, Wilder smoothing, Parabolic SAR), nothing is
centred, back-filled or normalised over the whole sample, so changing bars after t cannot change a
feature at or before t (tests/unit/data/test_features.py proves it bit for bit).

Scale-invariant: every feature is a ratio, a log ratio, a bounded oscillator or a z-score, so
multiplying all prices by a constant leaves it unchanged (up to rounding). Prices enter as
ratios to the close, never as levels.

Warm-up: the first rows of each symbol, before an indicator's window is full (the longest is the
50-bar EMA: WARMUP_BARS rows), are NaN; `dropna_warmup=True` drops every row with a NaN feature.

EMA, RSI, Bollinger bands and MACD come from the `ta` library. ATR and Parabolic SAR are written
here as vectorised/array code (ta runs them as Python loops over `Series.iloc`, far too slow for
millions of bars, and its PSAR indexes by label, which breaks on a non-range index) and are tested
against `ta` on the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ta.momentum import RSIIndicator
from ta.trend import MACD, EMAIndicator
from ta.volatility import BollingerBands

from tradebrain.data.schema import validate_bars

NEW_YORK = "America/New_York"
EMA_WINDOWS = (9, 21, 50)
RSI_WINDOW = 9
BOLLINGER_WINDOW, BOLLINGER_DEV = 20, 2
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
ATR_WINDOW = 14
VOL_WINDOW = 20
PSAR_STEP, PSAR_MAX_STEP = 0.02, 0.2
WARMUP_BARS = max(EMA_WINDOWS)
L2_COLUMNS = ("bid_size_1", "ask_size_1")

FEATURE_NAMES: tuple[str, ...] = (
    "ret_open",  # log(open / previous close)
    "ret_high",  # log(high / previous close)
    "ret_low",  # log(low / previous close)
    "ret_close",  # log(close / previous close)
    "log_close_open",  # log(close / open)
    "log_high_low",  # log(high / low)
    "ema_9_dist",  # close / EMA(9) - 1
    "ema_21_dist",
    "ema_50_dist",
    "rsi_9",  # RSI(9) / 50 - 1, in [-1, 1]
    "bb_width",  # (upper - lower) / middle of Bollinger(20, 2)
    "bb_upper_dist",  # close / upper - 1
    "psar_dist",  # close / Parabolic SAR(0.02, 0.2) - 1
    "macd",  # MACD(12, 26) line / close
    "macd_signal",  # its EMA(9) / close
    "macd_hist",  # (line - signal) / close
    "atr_14",  # ATR(14) (Wilder) / close
    "realised_vol",  # rolling 20-bar std of log close returns
    "parkinson_vol",  # sqrt(mean over 20 bars of log(high / low)^2 / (4 log 2))
    "vwap_dev",  # close / running New York-day VWAP - 1
    "volume_z",  # (volume - rolling 20 mean) / rolling 20 std (0 when the std is 0)
)
L2_FEATURE_NAMES: tuple[str, ...] = ("book_imbalance",)  # (bid_size_1 - ask_size_1) / their sum


def average_true_range(high: pd.Series, low: pd.Series, close: pd.Series, window: int = ATR_WINDOW) -> pd.Series:
    """Wilder's ATR as `ta.volatility.AverageTrueRange` defines it: the first value (at bar
    window - 1) is the mean true range of the first `window` bars (the first bar's true range is
    high - low), then atr_t = (atr_{t-1} (window - 1) + tr_t) / window. NaN before the window fills."""
    previous = close.shift(1)
    true_range = pd.concat([high - low, (high - previous).abs(), (low - previous).abs()], axis=1).max(axis=1)
    atr = pd.Series(np.nan, index=close.index)
    if len(close) < window:
        return atr
    seeded = true_range.iloc[window - 1 :].copy()
    seeded.iloc[0] = true_range.iloc[:window].mean()
    atr.iloc[window - 1 :] = seeded.ewm(alpha=1 / window, adjust=False).mean().to_numpy()
    return atr


def parabolic_sar(
    high: pd.Series, low: pd.Series, close: pd.Series, step: float = PSAR_STEP, max_step: float = PSAR_MAX_STEP
) -> pd.Series:
    """Wilder's Parabolic SAR, the same recursion as `ta.trend.PSARIndicator` (starting in an
    up-trend at bar 2, with the SAR clamped by the two previous lows/highs). A forward recursion
    over bars up to t only; the first two bars are NaN (ta returns the close there)."""
    highs, lows = high.to_numpy(dtype=float), low.to_numpy(dtype=float)
    psar = close.to_numpy(dtype=float).copy()
    up_trend = True
    factor = step
    extreme_high, extreme_low = (highs[0], lows[0]) if len(highs) else (np.nan, np.nan)
    for i in range(2, len(psar)):
        reversal = False
        if up_trend:
            value = psar[i - 1] + factor * (extreme_high - psar[i - 1])
            if lows[i] < value:
                reversal, value, extreme_low, factor = True, extreme_high, lows[i], step
            else:
                if highs[i] > extreme_high:
                    extreme_high, factor = highs[i], min(factor + step, max_step)
                if lows[i - 2] < value:
                    value = lows[i - 2]
                elif lows[i - 1] < value:
                    value = lows[i - 1]
        else:
            value = psar[i - 1] - factor * (psar[i - 1] - extreme_low)
            if highs[i] > value:
                reversal, value, extreme_high, factor = True, extreme_low, highs[i], step
            else:
                if lows[i] < extreme_low:
                    extreme_low, factor = lows[i], min(factor + step, max_step)
                if highs[i - 2] > value:
                    value = highs[i - 2]
                elif highs[i - 1] > value:
                    value = highs[i - 1]
        psar[i] = value
        up_trend = up_trend != reversal
    psar[:2] = np.nan
    return pd.Series(psar, index=close.index)


def _session_vwap(bars: pd.DataFrame) -> pd.Series:
    """The running VWAP since the New York day began, from bar vwap (typical price when NaN)."""
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3
    price = bars["vwap"].fillna(typical)
    day = bars["timestamp"].dt.tz_convert(NEW_YORK).dt.date
    volume = bars["volume"]
    cum_pv = (price * volume).groupby(day.to_numpy()).cumsum()
    cum_volume = volume.groupby(day.to_numpy()).cumsum()
    with np.errstate(divide="ignore", invalid="ignore"):
        running = cum_pv / cum_volume
    return running.where(cum_volume > 0, price)  # no volume yet today: the bar's own price


def _symbol_features(bars: pd.DataFrame, with_l2: bool) -> pd.DataFrame:
    """The features of one symbol's bars (a RangeIndex frame, sorted by time)."""
    open_, high, low, close, volume = (bars[c] for c in ("open", "high", "low", "close", "volume"))
    previous = close.shift(1)
    log_close = np.log(close)
    out: dict[str, pd.Series] = {
        "ret_open": np.log(open_ / previous),
        "ret_high": np.log(high / previous),
        "ret_low": np.log(low / previous),
        "ret_close": log_close.diff(),
        "log_close_open": np.log(close / open_),
        "log_high_low": np.log(high / low),
    }
    for window in EMA_WINDOWS:
        out[f"ema_{window}_dist"] = close / EMAIndicator(close, window).ema_indicator() - 1
    out["rsi_9"] = RSIIndicator(close, RSI_WINDOW).rsi() / 50 - 1
    bands = BollingerBands(close, BOLLINGER_WINDOW, BOLLINGER_DEV)
    upper, lower, middle = bands.bollinger_hband(), bands.bollinger_lband(), bands.bollinger_mavg()
    out["bb_width"] = (upper - lower) / middle
    out["bb_upper_dist"] = close / upper - 1
    out["psar_dist"] = close / parabolic_sar(high, low, close) - 1
    macd = MACD(close, MACD_SLOW, MACD_FAST, MACD_SIGNAL)
    out["macd"] = macd.macd() / close
    out["macd_signal"] = macd.macd_signal() / close
    out["macd_hist"] = macd.macd_diff() / close
    out["atr_14"] = average_true_range(high, low, close) / close
    out["realised_vol"] = log_close.diff().rolling(VOL_WINDOW).std()
    out["parkinson_vol"] = np.sqrt((np.log(high / low) ** 2).rolling(VOL_WINDOW).mean() / (4 * np.log(2)))
    out["vwap_dev"] = close / _session_vwap(bars) - 1
    mean, std = volume.rolling(VOL_WINDOW).mean(), volume.rolling(VOL_WINDOW).std()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (volume - mean) / std
    out["volume_z"] = z.where(std > 0, 0.0).where(std.notna())
    if with_l2:
        bid, ask = bars["bid_size_1"].astype(float), bars["ask_size_1"].astype(float)
        total = bid + ask
        out["book_imbalance"] = ((bid - ask) / total).where(total > 0, 0.0)
    names = FEATURE_NAMES + (L2_FEATURE_NAMES if with_l2 else ())
    return pd.DataFrame({name: out[name].to_numpy(dtype=float) for name in names})


def compute_features(bars: pd.DataFrame, dropna_warmup: bool = False) -> pd.DataFrame:
    """The features of every bar: columns `symbol`, `timestamp`, then FEATURE_NAMES (plus
    L2_FEATURE_NAMES when `bars` has the columns bid_size_1 and ask_size_1), one row per bar in the
    validated bar order (symbol, timestamp). Each symbol is computed on its own bars only.

    Warm-up rows (the first WARMUP_BARS of each symbol at most) hold NaN; `dropna_warmup=True`
    drops every row with a NaN feature, so no NaN is passed along."""
    with_l2 = all(column in bars.columns for column in L2_COLUMNS)
    valid = validate_bars(bars)
    if with_l2:
        extra = bars[list(L2_COLUMNS)].reset_index(drop=True)
        valid = pd.concat([valid, extra], axis=1)
    parts = []
    for _, group in valid.groupby("symbol", sort=False):
        group = group.reset_index(drop=True)
        features = _symbol_features(group, with_l2)
        features.insert(0, "timestamp", group["timestamp"].array)
        features.insert(0, "symbol", group["symbol"].to_numpy())
        parts.append(features)
    result = pd.concat(parts, ignore_index=True)
    if dropna_warmup:
        result = result.dropna().reset_index(drop=True)
    return result
