"""The bar pipeline: session filter, gap handling, resampling and splitting into trading days.

Every step takes and returns a bar table in the schema of `tradebrain.data.schema` (validated on the
way in and out), so steps compose in any order and a bad table is rejected before any work starts.

Stamping convention: a bar is stamped at its START time t and covers [t, t + freq). A 1-minute bar
stamped 14:30 UTC (09:30 New York) is the first bar of a regular XNYS session, and the last one is
stamped 15:59 New York (12:59 on a half day). A bar is inside a session when open <= t < close.

Sessions come from `exchange_calendars` (regular hours, holidays, half days, lunch breaks where the
calendar has them). With `calendar=None` a "day" is the New York calendar date of the bar, for data
without an exchange calendar (FX, crypto) or daily bars stamped at midnight.
"""

from __future__ import annotations

import difflib
import functools
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, field_validator

from tradebrain.core.config import StrictModel, describe_validation_error
from tradebrain.core.errors import ConfigError, InputError
from tradebrain.data.schema import BAR_COLUMNS, validate_bars

NEW_YORK = "America/New_York"
GapMethod = Literal["ffill", "linear", "drop"]


# --------------------------------------------------------------------------------------- sessions


@functools.lru_cache(maxsize=16)
def exchange_calendar(name: str, first_year: int, last_year: int) -> Any:
    """An exchange calendar covering whole years (cached: building one takes ~0.1 s)."""
    import exchange_calendars as xcals

    try:
        with warnings.catch_warnings():  # exchange_calendars 4.x reads Series.values, deprecated in pandas 3.1
            warnings.filterwarnings("ignore", message=r".*\.values returning an ndarray")
            return xcals.get_calendar(name, start=f"{first_year}-01-01", end=f"{last_year}-12-31")
    except xcals.errors.InvalidCalendarName as exc:
        names = xcals.get_calendar_names(include_aliases=False)
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else " (e.g. 'XNYS', 'XLON', 'XHKG')"
        raise InputError(f"unknown exchange calendar {name!r}{hint}") from exc


def session_labels(timestamps: pd.Series, calendar: str | None) -> pd.Series:
    """The trading session (a naive midnight Timestamp, the calendar's session label) of each UTC
    timestamp, or NaT when the timestamp lies outside every regular session (or in a lunch break).

    With `calendar=None` the label is the New York date of the timestamp (never NaT)."""
    stamps = pd.DatetimeIndex(timestamps)
    if calendar is None:
        return pd.Series(stamps.tz_convert(NEW_YORK).normalize().tz_localize(None), index=timestamps.index)
    if len(stamps) == 0:
        return pd.Series(pd.DatetimeIndex([], dtype="datetime64[ns]"), index=timestamps.index)
    years = stamps.tz_convert(NEW_YORK).year
    cal = exchange_calendar(calendar, int(years.min()) - 1, int(years.max()) + 1)
    opens = pd.DatetimeIndex(cal.opens).as_unit("ns")
    closes = pd.DatetimeIndex(cal.closes).as_unit("ns")
    values = stamps.as_unit("ns").asi8
    index = np.searchsorted(opens.asi8, values, side="right") - 1
    safe = np.clip(index, 0, len(opens) - 1)
    inside = (index >= 0) & (values < closes.asi8[safe])
    if cal.break_starts.notna().any():
        starts = pd.DatetimeIndex(cal.break_starts).as_unit("ns")
        ends = pd.DatetimeIndex(cal.break_ends).as_unit("ns")
        has_break = ~starts.isna()[safe]
        in_break = has_break & (values >= starts.asi8[safe]) & (values < ends.asi8[safe])
        inside &= ~in_break
    sessions = pd.DatetimeIndex(cal.sessions).as_unit("ns")
    labels = pd.Series(sessions[safe], index=timestamps.index)
    labels[~inside] = pd.NaT
    return labels


def _sessions_or_fail(bars: pd.DataFrame, calendar: str | None, step: str) -> pd.Series:
    """Session labels of validated bars; an InputError naming the first bar outside every session."""
    labels = session_labels(bars["timestamp"], calendar)
    outside = np.flatnonzero(labels.isna().to_numpy())
    if len(outside):
        row = bars.iloc[outside[0]]
        raise InputError(
            f"{step}: row {outside[0]} (symbol {row['symbol']!r}, timestamp {row['timestamp']}) and "
            f"{len(outside) - 1} more rows lie outside the {calendar} regular sessions; run session_filter "
            "first, or pass calendar=None to group by New York date"
        )
    return labels


def session_filter(bars: pd.DataFrame, calendar: str = "XNYS") -> pd.DataFrame:
    """Only the bars inside the calendar's regular sessions (open <= start stamp < close).

    Holidays vanish, half days end at 13:00 New York, pre- and post-market bars are dropped. Meant
    for intraday bars stamped at their start (see the module docstring); daily bars stamped at
    midnight lie outside every session and would all be dropped."""
    bars = validate_bars(bars)
    keep = session_labels(bars["timestamp"], calendar).notna().to_numpy()
    return bars.loc[keep].reset_index(drop=True)


# --------------------------------------------------------------------------------------- gaps


@dataclass(frozen=True)
class GapReport:
    """What `fill_gaps` found and did. `missing` counts bars absent between two bars of the same
    symbol and session; `filled` the bars created (0 for "drop"). `per_symbol` and `per_day`
    ((symbol, session date) -> count) count the missing bars; `longest_gap` is the longest run of
    missing bars and `longest_gap_after` the (symbol, timestamp) of the bar before it."""

    method: GapMethod
    freq: str
    missing: int = 0
    filled: int = 0
    per_symbol: dict[str, int] = field(default_factory=dict)
    per_day: dict[tuple[str, date], int] = field(default_factory=dict)
    longest_gap: int = 0
    longest_gap_after: tuple[str, pd.Timestamp] | None = None

    def summary(self) -> str:
        """One line for logs and the CLI."""
        action = "left out" if self.method == "drop" else f"filled ({self.method})"
        where = ""
        if self.longest_gap_after is not None:
            symbol, stamp = self.longest_gap_after
            where = f", longest {self.longest_gap} bars after {symbol} {stamp}"
        return (
            f"{self.missing} missing {self.freq} bars {action} over {len(self.per_symbol)} symbols "
            f"and {len(self.per_day)} symbol-days{where}"
        )


def _freq_delta(freq: str, what: str) -> pd.Timedelta:
    try:
        delta = pd.Timedelta(freq)
    except ValueError as exc:
        raise InputError(f"{what} {freq!r} is not a fixed duration; use e.g. '1min', '5min', '1h', '1D'") from exc
    if delta <= pd.Timedelta(0):
        raise InputError(f"{what} {freq!r} must be positive")
    return delta


def fill_gaps(
    bars: pd.DataFrame,
    freq: str = "1min",
    method: GapMethod = "ffill",
    calendar: str | None = "XNYS",
) -> tuple[pd.DataFrame, GapReport]:
    """Bars with the missing `freq` bars inside each session created, and a report of them.

    A bar is missing when two consecutive bars of one symbol in one session are more than `freq`
    apart. "ffill" creates it with open = high = low = close = the previous close, "linear" with all
    four = the close interpolated in time between the bars either side, both with volume 0, vwap NaN
    and 0 trades (NaN when the bar before has no trade count); "drop" creates nothing and only
    reports. Nothing is filled across sessions (overnight, holidays, lunch breaks) nor before a
    symbol's first or after its last bar of a session: there is nothing point-in-time to carry over."""
    if method not in ("ffill", "linear", "drop"):
        raise InputError(f"fill_gaps method {method!r} is not one of 'ffill', 'linear', 'drop'")
    delta = _freq_delta(freq, "fill_gaps freq")
    bars = validate_bars(bars)
    sessions = _sessions_or_fail(bars, calendar, "fill_gaps")
    step = delta.value
    stamps = bars["timestamp"].dt.as_unit("ns").astype("int64").to_numpy()
    same = (bars["symbol"].to_numpy()[1:] == bars["symbol"].to_numpy()[:-1]) & (
        sessions.to_numpy()[1:] == sessions.to_numpy()[:-1]
    )
    gaps = np.diff(stamps)
    counts = np.where(same, -(-gaps // step) - 1, 0)  # ceil(gap / step) - 1 bars fit strictly between
    report_missing = int(counts.sum())
    if report_missing == 0:
        return bars, GapReport(method=method, freq=freq)
    after = np.flatnonzero(counts > 0)  # the gap lies between row `after` and row `after + 1`
    per_gap = counts[after]
    symbols = bars["symbol"].to_numpy()[after]
    days = pd.DatetimeIndex(sessions.iloc[after]).date
    per_symbol: dict[str, int] = {}
    per_day: dict[tuple[str, date], int] = {}
    for symbol, day, count in zip(symbols, days, per_gap, strict=True):
        per_symbol[str(symbol)] = per_symbol.get(str(symbol), 0) + int(count)
        key = (str(symbol), day)
        per_day[key] = per_day.get(key, 0) + int(count)
    longest = int(np.argmax(per_gap))
    report = GapReport(
        method=method,
        freq=freq,
        missing=report_missing,
        filled=0 if method == "drop" else report_missing,
        per_symbol=per_symbol,
        per_day=per_day,
        longest_gap=int(per_gap[longest]),
        longest_gap_after=(str(symbols[longest]), bars["timestamp"].iloc[after[longest]]),
    )
    if method == "drop":
        return bars, report
    source = np.repeat(after, per_gap)  # the bar before each new bar
    starts = np.repeat(np.cumsum(per_gap) - per_gap, per_gap)
    offset = np.arange(1, len(source) + 1) - starts  # the j-th missing bar of its gap, j = 1, 2, ...
    before_close = bars["close"].to_numpy()[source]
    if method == "ffill":
        price = before_close
    else:
        after_close = bars["close"].to_numpy()[source + 1]
        share = offset * step / gaps[source]
        price = before_close + (after_close - before_close) * share
    trades = bars["trades"].to_numpy()[source]
    new = pd.DataFrame(
        {
            "symbol": bars["symbol"].to_numpy()[source],
            "timestamp": pd.to_datetime(stamps[source] + offset * step, utc=True),
            "open": price,
            "high": price,
            "low": price,
            "close": price,
            "volume": 0.0,
            "vwap": np.nan,
            "trades": np.where(np.isnan(trades), np.nan, 0.0),
        }
    )
    new["timestamp"] = new["timestamp"].dt.as_unit(bars["timestamp"].dt.unit)
    filled = pd.concat([bars, new], ignore_index=True)
    filled = filled.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
    return validate_bars(filled), report


# --------------------------------------------------------------------------------------- resampling


def _session_anchor(sessions: pd.Series, calendar: str | None, timestamps: pd.Series) -> pd.Series:
    """The UTC start of each bar's session: the calendar open, or New York midnight without one."""
    if calendar is None:
        midnight = pd.DatetimeIndex(sessions).tz_localize(NEW_YORK).tz_convert("UTC")
        return pd.Series(midnight, index=sessions.index)
    stamps = pd.DatetimeIndex(timestamps)
    years = stamps.tz_convert(NEW_YORK).year
    cal = exchange_calendar(calendar, int(years.min()) - 1, int(years.max()) + 1)
    opens = cal.opens.reindex(pd.DatetimeIndex(sessions))
    return pd.Series(pd.DatetimeIndex(opens).tz_convert("UTC"), index=sessions.index)


def resample_bars(bars: pd.DataFrame, rule: str = "5min", calendar: str | None = "XNYS") -> pd.DataFrame:
    """Bars aggregated into `rule` bins per symbol, never mixing sessions.

    Bins start at the session open (09:30 New York for XNYS: 5-minute bins 09:30, 09:35, ..., hourly
    bins 09:30, 10:30, ..., 15:30 (half an hour long)); with `calendar=None` at New York midnight.
    A rule of one day or more makes one bar per session, stamped at the session open. Each bin is
    labelled with its START. open = first, high = max, low = min, close = last, volume and trades
    summed (trades NaN if a bar in the bin has none), vwap volume-weighted (NaN when a bar with
    volume has no vwap, or the bin has no volume). Empty bins are not created."""
    delta = _freq_delta(rule, "resample rule")
    bars = validate_bars(bars)
    sessions = _sessions_or_fail(bars, calendar, "resample_bars")
    anchor = _session_anchor(sessions, calendar, bars["timestamp"])
    elapsed = (bars["timestamp"] - anchor).dt.as_unit("ns").astype("int64").to_numpy()
    daily = delta >= pd.Timedelta("1D")
    label_ns = np.zeros_like(elapsed) if daily else (elapsed // delta.value) * delta.value
    work = bars.assign(
        _bin=anchor.dt.as_unit("ns").astype("int64").to_numpy() + label_ns,
        _pv=bars["vwap"] * bars["volume"],
        _vwap_missing=(bars["vwap"].isna() & (bars["volume"] > 0)).astype(float),
        _trades_missing=bars["trades"].isna().astype(float),
    )
    grouped = work.groupby(["symbol", "_bin"], sort=True)
    out = grouped.agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
        _pv=("_pv", "sum"),
        _vwap_missing=("_vwap_missing", "max"),
        trades=("trades", "sum"),
        _trades_missing=("_trades_missing", "max"),
    ).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        vwap = out["_pv"] / out["volume"]
    out["vwap"] = vwap.where((out["_vwap_missing"] == 0) & (out["volume"] > 0))
    out["trades"] = out["trades"].where(out["_trades_missing"] == 0)
    out["timestamp"] = pd.to_datetime(out["_bin"], utc=True).dt.as_unit(bars["timestamp"].dt.unit)
    return validate_bars(out[list(BAR_COLUMNS)])


# --------------------------------------------------------------------------------------- days


def split_days(bars: pd.DataFrame, calendar: str | None = "XNYS") -> list[pd.DataFrame]:
    """One bar table per trading session (all symbols of that session), in session order.

    The session of a bar is the calendar's session containing it (bars outside every session are an
    error: filter them first); with `calendar=None` it is the bar's New York date."""
    bars = validate_bars(bars)
    sessions = _sessions_or_fail(bars, calendar, "split_days")
    return [
        group.sort_values(["symbol", "timestamp"], kind="stable").reset_index(drop=True)
        for _, group in bars.groupby(sessions.to_numpy(), sort=True)
    ]


# --------------------------------------------------------------------------------------- pipeline


class SessionFilterStep(StrictModel):
    """Keep only bars inside the calendar's regular sessions (see `session_filter`)."""

    step: Literal["session_filter"] = "session_filter"
    calendar: str = "XNYS"


class FillGapsStep(StrictModel):
    """Fill or report missing bars inside sessions (see `fill_gaps`)."""

    step: Literal["fill_gaps"] = "fill_gaps"
    freq: str = "1min"
    method: GapMethod = "ffill"
    calendar: str | None = "XNYS"


class ResampleStep(StrictModel):
    """Aggregate bars into coarser bins within sessions (see `resample_bars`)."""

    step: Literal["resample"] = "resample"
    rule: str = "5min"
    calendar: str | None = "XNYS"


StepConfig = Annotated[SessionFilterStep | FillGapsStep | ResampleStep, Field(discriminator="step")]
STEP_NAMES = ("session_filter", "fill_gaps", "resample")


@dataclass(frozen=True)
class StepReport:
    """What one pipeline step did: rows in and out, and the gap report of a fill_gaps step."""

    step: str
    rows_in: int
    rows_out: int
    gaps: GapReport | None = None

    def summary(self) -> str:
        """One line for logs and the CLI."""
        detail = f"; {self.gaps.summary()}" if self.gaps is not None else ""
        return f"{self.step}: {self.rows_in} -> {self.rows_out} bars{detail}"


@dataclass(frozen=True)
class PipelineResult:
    """The bars after every step and one report per step, in order."""

    bars: pd.DataFrame
    steps: list[StepReport]


class Pipeline(StrictModel):
    """A configurable sequence of steps, e.g. `Pipeline.from_config({"steps": [{"step":
    "session_filter", "calendar": "XNYS"}, {"step": "fill_gaps", "method": "ffill"}, {"step":
    "resample", "rule": "5min"}]})`. Splitting into days is not a step (it returns many tables):
    call `split_days` on the result."""

    steps: list[StepConfig] = Field(default_factory=list)

    @field_validator("steps", mode="before")
    @classmethod
    def _known_steps(cls, value: Any) -> Any:
        if isinstance(value, list):
            for position, item in enumerate(value):
                name = item.get("step") if isinstance(item, dict) else getattr(item, "step", None)
                if name not in STEP_NAMES:
                    close = difflib.get_close_matches(str(name), STEP_NAMES, n=1, cutoff=0.5)
                    hint = f"did you mean {close[0]!r}? " if close else ""
                    raise ValueError(
                        f"step {position} is {name!r}, not a pipeline step; {hint}(steps: {', '.join(STEP_NAMES)})"
                    )
        return value

    @classmethod
    def from_config(cls, data: dict[str, Any], source: str = "pipeline config") -> Pipeline:
        """A pipeline from a mapping (e.g. a YAML section), or a ConfigError naming the bad key."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(cls, exc, source)) from None

    def run_with_report(self, bars: pd.DataFrame) -> PipelineResult:
        """The bars after every step, with a report per step."""
        current = validate_bars(bars)
        reports: list[StepReport] = []
        for config in self.steps:
            rows_in = len(current)
            gaps: GapReport | None = None
            if isinstance(config, SessionFilterStep):
                current = session_filter(current, config.calendar)
            elif isinstance(config, FillGapsStep):
                current, gaps = fill_gaps(current, config.freq, config.method, config.calendar)
            else:
                current = resample_bars(current, config.rule, config.calendar)
            reports.append(StepReport(config.step, rows_in, len(current), gaps))
        return PipelineResult(current, reports)

    def run(self, bars: pd.DataFrame) -> pd.DataFrame:
        """The bars after every step (see `run_with_report` for what each step did)."""
        return self.run_with_report(bars).bars
