"""Features: agree with `ta`, are scale-invariant, and never look ahead."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ta.momentum import RSIIndicator
from ta.trend import MACD, EMAIndicator, PSARIndicator
from ta.volatility import AverageTrueRange, BollingerBands

from tradebrain.data.features import (
    FEATURE_NAMES,
    L2_FEATURE_NAMES,
    WARMUP_BARS,
    average_true_range,
    compute_features,
    parabolic_sar,
)
from tradebrain.data.pipeline import exchange_calendar
from tradebrain.data.schema import validate_bars

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
NVDA = SHARED_DATA / "nvda-daily-1999-2014.csv"


def _session_minutes(start: str, end: str) -> pd.DatetimeIndex:
    calendar = exchange_calendar("XNYS", 2023, 2025)  # the pipeline's cached calendar
    with warnings.catch_warnings():  # exchange_calendars reads DatetimeIndex.values, deprecated in pandas 3.1
        warnings.filterwarnings("ignore", message=r".*\.values returning an ndarray")
        return pd.DatetimeIndex(calendar.sessions_minutes(start, end)).tz_convert("UTC")


STAMPS = _session_minutes("2024-07-01", "2024-07-05")  # 4 sessions, 1380 minutes (one half day)


def make_bars(stamps: pd.DatetimeIndex, symbol: str, seed: int, start: float = 100.0) -> pd.DataFrame:
    """Seeded 1-minute bars with consistent OHLC, trending regimes (so PSAR reverses) and volume."""
    rng = np.random.default_rng(seed)
    n = len(stamps)
    drift = np.repeat(rng.normal(0, 1e-3, n // 40 + 1), 40)[:n]
    close = start * np.exp(np.cumsum(drift + rng.normal(0, 1.5e-3, n)))
    open_ = np.concatenate([[start], close[:-1]]) * np.exp(rng.normal(0, 3e-4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 8e-4, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 8e-4, n)))
    vwap = low + (high - low) * rng.uniform(0.2, 0.8, n)
    vwap[rng.uniform(size=n) < 0.1] = np.nan  # some bars without a vwap: typical price is used
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": stamps,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.lognormal(7, 0.6, n).round(),
            "vwap": vwap,
            "trades": rng.integers(1, 80, n).astype(float),
        }
    )
    return validate_bars(frame)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return pd.concat([make_bars(STAMPS, "AAA", 1), make_bars(STAMPS[200:], "BBB", 2, 35.0)], ignore_index=True)


@pytest.fixture(scope="module")
def features(bars: pd.DataFrame) -> pd.DataFrame:
    return compute_features(bars)


def _symbol(bars: pd.DataFrame, features: pd.DataFrame, symbol: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    mask = bars["symbol"] == symbol
    return bars[mask].reset_index(drop=True), features[features["symbol"] == symbol].reset_index(drop=True)


def _close(ours: pd.Series, theirs: pd.Series | np.ndarray, start: int) -> None:
    np.testing.assert_allclose(np.asarray(ours)[start:], np.asarray(theirs, dtype=float)[start:], rtol=0, atol=1e-8)
    assert not np.isnan(np.asarray(ours)[start:]).any()


# --------------------------------------------------------------------------------------- vs ta


@pytest.mark.parametrize("symbol", ["AAA", "BBB"])
def test_indicators_match_ta(bars: pd.DataFrame, features: pd.DataFrame, symbol: str) -> None:
    one, feats = _symbol(bars, features, symbol)
    high, low, close = one["high"], one["low"], one["close"]
    for window in (9, 21, 50):
        ema = EMAIndicator(close, window).ema_indicator()
        _close(feats[f"ema_{window}_dist"], close / ema - 1, window - 1)
    _close(feats["rsi_9"], RSIIndicator(close, 9).rsi() / 50 - 1, 9)
    bands = BollingerBands(close, 20, 2)
    _close(feats["bb_width"], bands.bollinger_wband() / 100, 19)  # ta's width is in percent
    _close(feats["bb_upper_dist"], close / bands.bollinger_hband() - 1, 19)
    macd = MACD(close, 26, 12, 9)
    _close(feats["macd"], macd.macd() / close, 25)
    _close(feats["macd_signal"], macd.macd_signal() / close, 33)
    _close(feats["macd_hist"], macd.macd_diff() / close, 33)
    _close(feats["atr_14"], AverageTrueRange(high, low, close, 14).average_true_range() / close, 13)
    _close(feats["psar_dist"], close / PSARIndicator(high, low, close).psar() - 1, 2)


def test_our_atr_and_psar_match_ta_on_raw_values(bars: pd.DataFrame) -> None:
    one = bars[bars["symbol"] == "AAA"].reset_index(drop=True)
    high, low, close = one["high"], one["low"], one["close"]
    ours_atr = average_true_range(high, low, close, 14)
    theirs_atr = AverageTrueRange(high, low, close, 14).average_true_range()
    assert ours_atr.iloc[:13].isna().all()
    np.testing.assert_allclose(ours_atr.iloc[13:], theirs_atr.iloc[13:], rtol=1e-12)
    ours_psar = parabolic_sar(high, low, close)
    theirs = PSARIndicator(high, low, close)
    np.testing.assert_array_equal(ours_psar.iloc[2:], theirs.psar().iloc[2:])
    up = theirs.psar_up().notna().sum()
    assert 10 < up < len(one) - 10  # the data has both trends, so reversals are exercised


def test_volatility_vwap_and_volume_by_hand(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    one, feats = _symbol(bars, features, "AAA")
    t = 700
    window = one.iloc[t - 19 : t + 1]
    log_returns = np.log(one["close"].to_numpy()[t - 19 : t + 1] / one["close"].to_numpy()[t - 20 : t])
    assert feats["realised_vol"].iloc[t] == pytest.approx(np.std(log_returns, ddof=1), rel=1e-9)
    hl = np.log(window["high"] / window["low"]).to_numpy()
    assert feats["parkinson_vol"].iloc[t] == pytest.approx(np.sqrt(np.mean(hl**2) / (4 * np.log(2))), rel=1e-9)
    volume = window["volume"].to_numpy()
    expected_z = (volume[-1] - volume.mean()) / volume.std(ddof=1)
    assert feats["volume_z"].iloc[t] == pytest.approx(expected_z, rel=1e-9)
    day = one["timestamp"].dt.tz_convert("America/New_York").dt.date
    today = one[(day == day.iloc[t]) & (one.index <= t)]
    price = today["vwap"].fillna((today["high"] + today["low"] + today["close"]) / 3)
    running = (price * today["volume"]).sum() / today["volume"].sum()
    assert feats["vwap_dev"].iloc[t] == pytest.approx(one["close"].iloc[t] / running - 1, rel=1e-9)
    first_of_day = int(np.flatnonzero((day == day.iloc[t]).to_numpy())[0])  # the VWAP resets each day
    bar = one.iloc[first_of_day]
    first_price = bar["vwap"] if not np.isnan(bar["vwap"]) else (bar["high"] + bar["low"] + bar["close"]) / 3
    assert feats["vwap_dev"].iloc[first_of_day] == pytest.approx(bar["close"] / first_price - 1, rel=1e-12)
    previous = one["close"].shift(1)
    for name, column in (("ret_open", "open"), ("ret_high", "high"), ("ret_low", "low"), ("ret_close", "close")):
        assert feats[name].iloc[t] == pytest.approx(np.log(one[column].iloc[t] / previous.iloc[t]), rel=1e-12)
    assert (feats["rsi_9"].dropna().abs() <= 1).all()


# --------------------------------------------------------------------------------------- properties


def test_columns_order_and_warmup(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    assert list(features.columns) == ["symbol", "timestamp", *FEATURE_NAMES]
    assert len(features) == len(bars)
    pd.testing.assert_series_equal(features["timestamp"], bars["timestamp"])
    for symbol in ("AAA", "BBB"):
        feats = features[features["symbol"] == symbol].reset_index(drop=True)
        assert feats[list(FEATURE_NAMES)].iloc[: WARMUP_BARS - 1].isna().any(axis=1).all()
        assert not feats[list(FEATURE_NAMES)].iloc[WARMUP_BARS - 1 :].isna().any().any()
    dropped = compute_features(bars, dropna_warmup=True)
    assert len(dropped) == len(bars) - 2 * (WARMUP_BARS - 1)
    assert not dropped.isna().any().any()


def test_scale_invariance(bars: pd.DataFrame, features: pd.DataFrame) -> None:
    scaled = bars.copy()
    for column in ("open", "high", "low", "close", "vwap"):
        scaled[column] = scaled[column] * 7
    again = compute_features(scaled)
    for name in FEATURE_NAMES:
        np.testing.assert_allclose(again[name], features[name], rtol=0, atol=1e-9, err_msg=name)
    pd.testing.assert_series_equal(again["volume_z"], features["volume_z"], check_exact=True)


@pytest.mark.parametrize("cut", [10, 49, 333, 700, 1200])
def test_no_look_ahead(bars: pd.DataFrame, features: pd.DataFrame, cut: int) -> None:
    """Replacing every bar after t by other (valid) bars leaves every feature at or before t bit-identical."""
    t = STAMPS[cut]
    garbage = pd.concat([make_bars(STAMPS, "AAA", 99, 3.0), make_bars(STAMPS[200:], "BBB", 98, 900.0)])
    garbage = garbage.reset_index(drop=True)
    future = (bars["timestamp"] > t).to_numpy()
    changed = bars.copy()
    changed.loc[future] = garbage.loc[future].to_numpy()
    changed = validate_bars(changed)
    assert not changed.loc[future, "close"].equals(bars.loc[future, "close"])
    again = compute_features(changed)
    past = ~future
    pd.testing.assert_frame_equal(again.loc[past], features.loc[past], check_exact=True)
    assert not again.loc[future, "ema_9_dist"].equals(features.loc[future, "ema_9_dist"])


def test_order_book_imbalance_only_with_l2(bars: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    with_book = bars.assign(
        bid_size_1=rng.integers(0, 500, len(bars)).astype(float),
        ask_size_1=rng.integers(1, 500, len(bars)).astype(float),
    )
    feats = compute_features(with_book)
    assert list(feats.columns) == ["symbol", "timestamp", *FEATURE_NAMES, *L2_FEATURE_NAMES]
    bid, ask = with_book["bid_size_1"], with_book["ask_size_1"]
    np.testing.assert_allclose(feats["book_imbalance"], (bid - ask) / (bid + ask), rtol=1e-15)
    assert "book_imbalance" not in compute_features(bars).columns


# --------------------------------------------------------------------------------------- real data


@pytest.mark.skipif(not NVDA.is_file(), reason=f"sample data {NVDA} is not on this machine")
def test_nvda_daily_sample_has_no_nan_after_warmup() -> None:
    raw = pd.read_csv(NVDA)
    stamps = pd.to_datetime(raw["Date"]).dt.tz_localize("America/New_York") + pd.Timedelta(hours=9, minutes=30)
    bars = validate_bars(
        pd.DataFrame(
            {
                "symbol": "NVDA",
                "timestamp": stamps,
                "open": raw["Open"],
                "high": raw["High"],
                "low": raw["Low"],
                "close": raw["Close"],
                "volume": raw["Volume"],
            }
        )
    )
    feats = compute_features(bars)
    assert len(feats) == len(bars) > 3000
    assert not feats[list(FEATURE_NAMES)].iloc[WARMUP_BARS - 1 :].isna().any().any()
    assert np.isfinite(feats[list(FEATURE_NAMES)].iloc[WARMUP_BARS - 1 :].to_numpy()).all()
    psar = PSARIndicator(bars["high"], bars["low"], bars["close"]).psar()
    np.testing.assert_allclose(feats["psar_dist"].iloc[2:], (bars["close"] / psar - 1).iloc[2:], rtol=0, atol=1e-8)
    atr = AverageTrueRange(bars["high"], bars["low"], bars["close"], 14).average_true_range()
    np.testing.assert_allclose(feats["atr_14"].iloc[13:], (atr / bars["close"]).iloc[13:], rtol=0, atol=1e-8)
