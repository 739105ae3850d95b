"""Trading days: the 41 sessions of the real sample, warm-up dropped, features point-in-time."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.features import FEATURE_NAMES, WARMUP_BARS, compute_features
from tradebrain.data.sources.synthetic import synthetic_intraday
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, trading_days


def test_the_sample_splits_into_41_sessions_in_time_order(
    future_bars: pd.DataFrame, future_days: list[TradingDay]
) -> None:
    assert len(future_days) == 41
    first_bar = future_bars["timestamp"].iloc[WARMUP_BARS - 1]  # the 50-bar EMA fills at bar 49
    assert future_days[0].timestamps[0] == first_bar == pd.Timestamp("2006-01-02 09:50", tz="UTC")
    assert future_days[-1].timestamps[-1] == pd.Timestamp("2006-02-27 22:00", tz="UTC")
    assert sum(day.bars for day in future_days) == len(future_bars) - (WARMUP_BARS - 1)
    for before, after in itertools.pairwise(future_days):
        assert before.timestamps[-1] < after.timestamps[0]
        assert before.timestamps[0].date() < after.timestamps[0].date()  # one session per date
    train, test = future_days[:30], future_days[30:]
    assert len(test) == 11
    assert train[-1].timestamps[-1] < test[0].timestamps[0]


def test_days_carry_the_whole_series_features_and_closes(
    future_bars: pd.DataFrame, future_days: list[TradingDay]
) -> None:
    features = compute_features(future_bars).set_index("timestamp")
    closes = future_bars.set_index("timestamp")["close"]
    day = future_days[7]
    np.testing.assert_array_equal(day.features, features.loc[day.timestamps, list(FEATURE_NAMES)].to_numpy())
    np.testing.assert_array_equal(day.close, closes.loc[day.timestamps].to_numpy())
    assert all(np.isfinite(d.features).all() for d in future_days)
    assert not day.features.flags.writeable


def test_cutting_the_future_leaves_earlier_days_unchanged(
    future_bars: pd.DataFrame, future_days: list[TradingDay]
) -> None:
    cut = future_days[3].timestamps[-1]
    early = trading_days(future_bars[future_bars["timestamp"] <= cut])
    assert len(early) == 4
    for mine, full in zip(early, future_days, strict=False):
        np.testing.assert_array_equal(mine.features, full.features)
        assert mine.timestamps.equals(full.timestamps)


def test_a_feature_subset_keeps_its_order(future_bars: pd.DataFrame) -> None:
    config = DayTradingEnvConfig(features=("rsi_9", "ret_close"))
    days = trading_days(future_bars.iloc[:2_000], config)
    assert days[0].feature_names == ("rsi_9", "ret_close")
    assert days[0].features.shape == (days[0].bars, 2)
    # ret_close needs one bar, rsi_9 nine: the warm-up is shorter than with every feature
    assert days[0].timestamps[0] < pd.Timestamp("2006-01-02 09:50", tz="UTC")


@pytest.mark.filterwarnings("ignore:.*Series.values returning")  # exchange_calendars under pandas 3.1
def test_us_equity_sessions_with_the_xnys_calendar() -> None:
    bars = synthetic_intraday(days=3, seed=1)
    days = trading_days(bars, calendar="XNYS")
    assert [day.bars for day in days] == [390 - (WARMUP_BARS - 1), 390, 390]
    assert days[1].timestamps[0].tz_convert("America/New_York").strftime("%H:%M") == "09:30"


def test_bad_inputs_are_rejected(future_bars: pd.DataFrame) -> None:
    two = pd.concat([future_bars.iloc[:100], future_bars.iloc[:100].assign(symbol="OTHER")])
    with pytest.raises(InputError, match="one symbol"):
        trading_days(two)
    with pytest.raises(InputError, match="warm-up"):
        trading_days(future_bars.iloc[:30])
    stamps = pd.DatetimeIndex(future_bars["timestamp"].iloc[:3])
    with pytest.raises(InputError, match="close has shape"):
        TradingDay(stamps, np.ones(2), np.zeros((3, len(FEATURE_NAMES))))
    with pytest.raises(InputError, match="'ema_9_dist' is not finite"):
        features = np.zeros((3, len(FEATURE_NAMES)))
        features[1, FEATURE_NAMES.index("ema_9_dist")] = np.nan
        TradingDay(stamps, np.ones(3), features)
    with pytest.raises(InputError, match="finite and > 0"):
        TradingDay(stamps, np.array([1.0, 0.0, 1.0]), np.zeros((3, len(FEATURE_NAMES))))


def test_config_rejects_unknown_features_with_a_hint() -> None:
    with pytest.raises(ValueError, match="did you mean 'rsi_9'"):
        DayTradingEnvConfig(features=("rsi9",))
    with pytest.raises(ValueError, match="more than once"):
        DayTradingEnvConfig(features=("rsi_9", "rsi_9"))
    with pytest.raises(ValueError, match="commission"):
        DayTradingEnvConfig(commission=0.2)
    with pytest.raises(ValueError, match="exit_window_bars"):
        DayTradingEnvConfig(exit_window_bars=0)
