"""The synthetic intraday generator: calendar-true sessions, consistent OHLC, seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tradebrain.core.errors import InputError
from tradebrain.data.schema import BAR_COLUMNS
from tradebrain.data.sources.synthetic import _garch_variance, random_walk_bars, synthetic_intraday


def test_sessions_follow_xnys_with_holiday_and_half_day() -> None:
    bars = synthetic_intraday(start="2024-11-25", days=5)
    local = bars["timestamp"].dt.tz_convert("America/New_York")
    per_day = local.groupby(local.dt.date).agg(["min", "max", "count"])
    days = [str(day) for day in per_day.index]
    assert days == ["2024-11-25", "2024-11-26", "2024-11-27", "2024-11-29", "2024-12-02"]  # 28th: Thanksgiving
    assert per_day["count"].tolist() == [390, 390, 390, 210, 390]  # 29th: 13:00 close
    assert (per_day["min"].dt.strftime("%H:%M") == "09:30").all()
    assert per_day["max"].dt.strftime("%H:%M").tolist() == ["15:59", "15:59", "15:59", "12:59", "15:59"]


def test_schema_ohlc_and_reproducibility() -> None:
    bars = synthetic_intraday(days=10, seed=7)
    assert list(bars.columns) == list(BAR_COLUMNS)
    assert (bars["high"] >= bars[["open", "close"]].max(axis=1)).all()
    assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all()
    assert bars["vwap"].between(bars["low"], bars["high"]).all()
    assert bars["open"].iloc[0] == 100.0
    pd.testing.assert_frame_equal(bars, synthetic_intraday(days=10, seed=7))
    assert not np.allclose(bars["close"], synthetic_intraday(days=10, seed=8)["close"])


def test_u_shaped_volume_and_realised_vol() -> None:
    bars = synthetic_intraday(days=60, seed=1, annual_vol=0.2, jump_intensity=0.0)
    minute = bars.groupby(bars["timestamp"].dt.date).cumcount()
    edges = bars["volume"][(minute < 30) | (minute >= 360)].mean()
    midday = bars["volume"][(minute >= 165) & (minute < 225)].mean()
    assert edges > 1.5 * midday
    returns = np.diff(np.log(bars["close"].to_numpy()))
    realised = returns.std() * np.sqrt(252 * 390)
    assert 0.14 < realised < 0.28


def test_garch_block_solution_matches_the_recursion() -> None:
    z = np.random.default_rng(3).standard_normal(3_000)
    expected = np.empty_like(z)
    expected[0] = 1e-6
    for t in range(1, len(z)):
        expected[t] = 2e-8 + (0.06 * z[t - 1] ** 2 + 0.92) * expected[t - 1]
    np.testing.assert_allclose(_garch_variance(z, 0.06, 0.92, 2e-8, 1e-6), expected, rtol=1e-10)


def test_bad_parameters() -> None:
    with pytest.raises(InputError, match="alpha \\+ beta < 1"):
        synthetic_intraday(garch=(0.2, 0.8))
    with pytest.raises(InputError, match="bars_per_day=7"):
        synthetic_intraday(bars_per_day=7)
    with pytest.raises(InputError, match="calendar 'XXXX'"):
        synthetic_intraday(calendar="XXXX")


def test_a_series_that_would_run_past_today_is_refused_with_the_fix() -> None:
    with pytest.raises(InputError, match=r"run past today.*earlier start"):
        synthetic_intraday("AAA", days=5, start=str(pd.Timestamp.now().year + 1) + "-01-02")
    with pytest.raises(InputError, match=r"run past today.*earlier start"):
        random_walk_bars(10, freq="D", start=str(pd.Timestamp.now(tz="UTC").date()))
