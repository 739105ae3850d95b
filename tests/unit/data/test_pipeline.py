"""The bar pipeline: session filter (holidays, half days), gap filling, resampling, day splitting."""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pandas as pd
import pytest

from tradebrain.core.errors import ConfigError, InputError
from tradebrain.data.pipeline import (
    FillGapsStep,
    Pipeline,
    SessionFilterStep,
    exchange_calendar,
    fill_gaps,
    resample_bars,
    session_filter,
    split_days,
)
from tradebrain.data.schema import BAR_COLUMNS, validate_bars

UTC = "UTC"


def minute_bars(stamps: pd.DatetimeIndex, symbol: str = "AAA", seed: int = 0, with_vwap: bool = True) -> pd.DataFrame:
    """Validated 1-minute bars at `stamps` (UTC): a seeded random walk with consistent OHLC."""
    rng = np.random.default_rng(seed)
    n = len(stamps)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 2e-4, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 5e-4, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 5e-4, n)))
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": stamps,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.integers(100, 1000, n).astype(float),
            "vwap": (high + low + close) / 3 if with_vwap else np.nan,
            "trades": rng.integers(1, 50, n).astype(float),
        }
    )
    return validate_bars(frame)


def session_minutes(start: str, end: str) -> pd.DatetimeIndex:
    """Every regular XNYS minute (bar start stamps, UTC) of the sessions from start to end."""
    calendar = exchange_calendar("XNYS", 2023, 2025)  # the pipeline's cached calendar
    with warnings.catch_warnings():  # exchange_calendars reads DatetimeIndex.values, deprecated in pandas 3.1
        warnings.filterwarnings("ignore", message=r".*\.values returning an ndarray")
        return pd.DatetimeIndex(calendar.sessions_minutes(start, end)).tz_convert("UTC")


def utc(*stamps: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex([pd.Timestamp(s, tz="America/New_York") for s in stamps]).tz_convert(UTC)


# --------------------------------------------------------------------------------------- session_filter


def test_session_filter_drops_holiday_and_half_day_afternoon() -> None:
    # 24 hours a day of minute bars from 2024-07-02 to 2024-07-05 (Tuesday to Friday)
    every_minute = pd.date_range("2024-07-02 00:00", "2024-07-05 23:59", freq="1min", tz=UTC)
    bars = minute_bars(every_minute)
    kept = session_filter(bars, "XNYS")
    new_york = kept["timestamp"].dt.tz_convert("America/New_York")
    per_day = new_york.dt.date.value_counts().sort_index()
    assert per_day.to_dict() == {date(2024, 7, 2): 390, date(2024, 7, 3): 210, date(2024, 7, 5): 390}
    half_day = new_york[new_york.dt.date == date(2024, 7, 3)]
    assert half_day.min().strftime("%H:%M") == "09:30" and half_day.max().strftime("%H:%M") == "12:59"
    assert new_york.max().strftime("%H:%M") == "15:59"
    assert list(kept.columns) == list(BAR_COLUMNS)


def test_session_filter_boundaries_open_inclusive_close_exclusive() -> None:
    stamps = utc("2024-07-02 09:29", "2024-07-02 09:30", "2024-07-02 15:59", "2024-07-02 16:00")
    kept = session_filter(minute_bars(stamps))
    assert list(kept["timestamp"]) == list(stamps[1:3])


def test_unknown_calendar_suggests_a_name() -> None:
    with pytest.raises(InputError, match="did you mean 'XNYS'"):
        session_filter(minute_bars(utc("2024-07-02 10:00")), "XNYSS")


# --------------------------------------------------------------------------------------- fill_gaps


def _with_gaps() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two sessions of one symbol with three holes: 2 bars and 1 bar on day one, 4 bars on day two."""
    full = minute_bars(session_minutes("2024-07-01", "2024-07-02"))
    new_york = full["timestamp"].dt.tz_convert("America/New_York").dt.strftime("%Y-%m-%d %H:%M")
    holes = ["2024-07-01 10:01", "2024-07-01 10:02", "2024-07-01 11:00"]
    holes += [f"2024-07-02 12:0{i}" for i in range(4)]
    return full, full[~new_york.isin(holes)].reset_index(drop=True)


def test_fill_gaps_ffill_counts_and_values() -> None:
    full, holed = _with_gaps()
    filled, report = fill_gaps(holed, "1min", "ffill")
    assert len(filled) == len(full) and list(filled["timestamp"]) == list(full["timestamp"])
    assert report.missing == report.filled == 7
    assert report.per_symbol == {"AAA": 7}
    assert report.per_day == {("AAA", date(2024, 7, 1)): 3, ("AAA", date(2024, 7, 2)): 4}
    assert report.longest_gap == 4
    assert report.longest_gap_after == ("AAA", utc("2024-07-02 11:59")[0])
    before = holed.set_index("timestamp").loc[utc("2024-07-01 10:00")[0]]
    for stamp in utc("2024-07-01 10:01", "2024-07-01 10:02"):
        row = filled.set_index("timestamp").loc[stamp]
        assert row[["open", "high", "low", "close"]].tolist() == [before["close"]] * 4
        assert row["volume"] == 0 and np.isnan(row["vwap"]) and row["trades"] == 0
    assert filled["volume"].sum() == holed["volume"].sum()
    assert "7 missing 1min bars filled (ffill)" in report.summary()


def test_fill_gaps_linear_interpolates_the_close_in_time() -> None:
    _, holed = _with_gaps()
    filled, report = fill_gaps(holed, "1min", "linear")
    indexed = filled.set_index("timestamp")
    before = indexed.loc[utc("2024-07-02 11:59")[0], "close"]
    after = indexed.loc[utc("2024-07-02 12:04")[0], "close"]
    for k in range(1, 5):
        row = indexed.loc[utc(f"2024-07-02 12:0{k - 1}")[0]]
        expected = before + (after - before) * k / 5
        assert row["close"] == pytest.approx(expected, rel=1e-14)
        assert row["open"] == row["high"] == row["low"] == row["close"] and row["volume"] == 0
    assert report.filled == 7


def test_fill_gaps_drop_reports_but_creates_nothing() -> None:
    _, holed = _with_gaps()
    out, report = fill_gaps(holed, "1min", "drop")
    pd.testing.assert_frame_equal(out, holed)
    assert report.missing == 7 and report.filled == 0 and report.longest_gap == 4
    assert "left out" in report.summary()


def test_fill_gaps_never_fills_across_sessions_or_symbols() -> None:
    # two full sessions (with the holiday 07-04 between) and a second symbol: nothing is missing
    stamps = session_minutes("2024-07-03", "2024-07-05")
    bars = pd.concat([minute_bars(stamps, "AAA", 1), minute_bars(stamps[:100], "BBB", 2)], ignore_index=True)
    filled, report = fill_gaps(bars, "1min", "ffill")
    assert report.missing == 0 and len(filled) == len(bars)
    # a symbol that starts late and stops early in a session is not padded at either end
    late = minute_bars(stamps[30:60], "CCC", 3)
    assert fill_gaps(late, "1min", "ffill")[1].missing == 0


def test_fill_gaps_rejects_bars_outside_sessions_and_accepts_no_calendar() -> None:
    stamps = utc("2024-07-02 08:00", "2024-07-02 08:03")
    with pytest.raises(InputError, match="outside the XNYS regular sessions; run session_filter"):
        fill_gaps(minute_bars(stamps))
    filled, report = fill_gaps(minute_bars(stamps), calendar=None)
    assert report.filled == 2 and len(filled) == 4


def test_fill_gaps_rejects_unknown_method() -> None:
    with pytest.raises(InputError, match="not one of"):
        fill_gaps(minute_bars(utc("2024-07-02 10:00")), method="spline")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- resample


def _ten_minutes() -> pd.DataFrame:
    """Ten 1-minute bars from 09:30 by hand, with round numbers."""
    stamps = utc(*[f"2024-07-02 09:{30 + i}" for i in range(10)])
    opens = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    closes = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
    frame = pd.DataFrame(
        {
            "symbol": "AAA",
            "timestamp": stamps,
            "open": opens,
            "high": [c + 1 for c in closes],
            "low": [o - 1 for o in opens],
            "close": closes,
            "volume": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "vwap": [c - 0.5 for c in closes],
            "trades": [1] * 10,
        }
    )
    return validate_bars(frame)


def test_resample_five_minutes_by_hand() -> None:
    out = resample_bars(_ten_minutes(), "5min")
    assert list(out["timestamp"]) == list(utc("2024-07-02 09:30", "2024-07-02 09:35"))
    assert out["open"].tolist() == [10, 15]
    assert out["high"].tolist() == [16, 21]
    assert out["low"].tolist() == [9, 14]
    assert out["close"].tolist() == [15, 20]
    assert out["volume"].tolist() == [15, 40]
    assert out["trades"].tolist() == [5, 5]
    first = sum(v * (c - 0.5) for v, c in zip([1, 2, 3, 4, 5], [11, 12, 13, 14, 15], strict=True)) / 15
    assert out["vwap"].iloc[0] == pytest.approx(first, rel=1e-15)


def test_resample_vwap_unknown_when_a_traded_bar_has_none() -> None:
    bars = _ten_minutes()
    bars.loc[7, "vwap"] = np.nan
    out = resample_bars(bars, "5min")
    assert not np.isnan(out["vwap"].iloc[0]) and np.isnan(out["vwap"].iloc[1])


def test_resample_hourly_and_daily_never_mix_sessions() -> None:
    stamps = session_minutes("2024-07-02", "2024-07-05")  # 07-03 half day, 07-04 holiday
    bars = pd.concat([minute_bars(stamps, "AAA", 1), minute_bars(stamps, "BBB", 2)], ignore_index=True)
    hourly = resample_bars(bars, "1h")
    starts = hourly[hourly["symbol"] == "AAA"]["timestamp"].dt.tz_convert("America/New_York")
    per_day = starts.dt.date.value_counts().sort_index().to_dict()
    assert per_day == {date(2024, 7, 2): 7, date(2024, 7, 3): 4, date(2024, 7, 5): 7}  # 09:30 .. 15:30
    assert starts.dt.strftime("%H:%M").iloc[:7].tolist() == [f"{h:02d}:30" for h in range(9, 16)]
    daily = resample_bars(bars, "1D")
    assert len(daily) == 6
    for (symbol, _), group in bars.groupby(["symbol", bars["timestamp"].dt.tz_convert("America/New_York").dt.date]):
        row = daily[(daily["symbol"] == symbol) & (daily["timestamp"] == group["timestamp"].iloc[0])].iloc[0]
        assert row["open"] == group["open"].iloc[0] and row["close"] == group["close"].iloc[-1]
        assert row["high"] == group["high"].max() and row["low"] == group["low"].min()
        assert row["volume"] == group["volume"].sum()
    for rule in ("5min", "1h", "1D"):
        out = resample_bars(bars, rule)
        assert out.groupby("symbol")["volume"].sum().to_dict() == bars.groupby("symbol")["volume"].sum().to_dict()


def test_resample_drops_empty_bins() -> None:
    bars = _ten_minutes().iloc[[0, 1, 9]]
    out = resample_bars(bars, "1min")
    assert len(out) == 3
    assert len(resample_bars(bars, "5min")) == 2


def test_resample_rejects_a_rule_that_is_not_a_duration() -> None:
    with pytest.raises(InputError, match="not a fixed duration"):
        resample_bars(_ten_minutes(), "1M")


# --------------------------------------------------------------------------------------- split_days


def test_split_days_one_frame_per_session() -> None:
    stamps = session_minutes("2024-07-01", "2024-07-05")
    bars = pd.concat([minute_bars(stamps, "AAA", 1), minute_bars(stamps[::7], "BBB", 2)], ignore_index=True)
    days = split_days(bars)
    assert len(days) == 4  # 07-01, 07-02, 07-03 (half), 07-05; 07-04 is a holiday
    assert sum(len(day) for day in days) == len(bars)
    new_york = [day["timestamp"].dt.tz_convert("America/New_York") for day in days]
    assert [ts.dt.date.unique().tolist() for ts in new_york] == [[date(2024, 7, d)] for d in (1, 2, 3, 5)]
    assert new_york[2].min().strftime("%H:%M") == "09:30" and new_york[2].max().strftime("%H:%M") == "12:59"
    assert set(days[0]["symbol"]) == {"AAA", "BBB"}


def test_split_days_without_calendar_uses_new_york_date() -> None:
    stamps = utc("2024-07-06 10:00", "2024-07-06 23:30", "2024-07-07 00:30")  # a weekend, late evening
    days = split_days(minute_bars(stamps), calendar=None)
    assert [len(day) for day in days] == [2, 1]


# --------------------------------------------------------------------------------------- Pipeline


def test_pipeline_runs_steps_and_reports() -> None:
    every_minute = pd.date_range("2024-07-03 13:00", "2024-07-05 21:00", freq="1min", tz=UTC)
    bars = minute_bars(every_minute)
    bars = bars.drop(index=[200, 201, 202]).reset_index(drop=True)  # 07-03 12:50-12:52 New York
    pipeline = Pipeline.from_config(
        {
            "steps": [
                {"step": "session_filter", "calendar": "XNYS"},
                {"step": "fill_gaps", "method": "ffill"},
                {"step": "resample", "rule": "5min"},
            ]
        }
    )
    assert isinstance(pipeline.steps[0], SessionFilterStep) and isinstance(pipeline.steps[1], FillGapsStep)
    result = pipeline.run_with_report(bars)
    assert [r.step for r in result.steps] == ["session_filter", "fill_gaps", "resample"]
    assert result.steps[0].rows_out == 210 - 3 + 390
    assert result.steps[1].gaps is not None and result.steps[1].gaps.filled == 3
    assert result.steps[2].rows_out == 42 + 78
    pd.testing.assert_frame_equal(pipeline.run(bars), result.bars)
    assert "fill_gaps: 597 -> 600 bars; 3 missing" in result.steps[1].summary()


def test_pipeline_unknown_step_says_did_you_mean() -> None:
    with pytest.raises(ConfigError, match="did you mean 'session_filter'"):
        Pipeline.from_config({"steps": [{"step": "sesion_filter"}]})
    with pytest.raises(ConfigError, match="steps"):
        Pipeline.from_config({"steps": [{"step": "resample", "rull": "5min"}]})
