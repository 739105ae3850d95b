"""Synthetic intraday bars for demos, tests and benchmarks: seeded, vectorised, calendar-true.

Bars cover only the regular sessions of an exchange calendar (exchange-calendars), so weekends,
holidays and half days are where a real exchange has them. Log returns follow a GARCH(1,1)
process at bar frequency (volatility clusters), scaled by a mild U-shaped intraday volatility
profile, plus compound-Poisson jumps; volume follows a U-shaped intraday profile (heavy at the
open and the close, light at midday) with lognormal noise. Each session opens at the previous
session's close (no overnight gap). Timestamps are bar starts, in UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.pipeline import exchange_calendar
from tradebrain.data.schema import validate_bars

TRADING_DAYS_PER_YEAR = 252
_CHUNK = 512  # steps per block of the GARCH recursion (bounded cumulative products)


def _garch_variance(z: np.ndarray, alpha: float, beta: float, omega: float, start: float) -> np.ndarray:
    """Conditional variances of GARCH(1,1), sigma2[t] = omega + (alpha z[t-1]^2 + beta) sigma2[t-1].

    The recursion is linear in sigma2 with known coefficients a[t], so each block of _CHUNK steps
    is solved in closed form with cumulative products: only len(z) / _CHUNK Python iterations.
    """
    n = len(z)
    a = alpha * z[:-1] ** 2 + beta  # a[t - 1] drives sigma2[t]
    out = np.empty(n)
    out[0] = previous = start
    for lo in range(0, n - 1, _CHUNK):
        products = np.cumprod(a[lo : lo + _CHUNK])
        values = products * (previous + omega * np.cumsum(1.0 / products))
        out[lo + 1 : lo + 1 + len(values)] = values
        previous = values[-1]
    return out


def synthetic_intraday(
    symbol: str = "SYN",
    days: int = 20,
    start: str = "2024-01-02",
    seed: int = 0,
    bars_per_day: int = 390,
    s0: float = 100.0,
    annual_vol: float = 0.25,
    garch: tuple[float, float] = (0.05, 0.93),
    jump_intensity: float = 0.2,
    jump_scale: float = 0.005,
    calendar: str = "XNYS",
) -> pd.DataFrame:
    """`days` sessions of synthetic bars from the first session on or after `start`.

    `bars_per_day` bars divide a full regular session (390 minutes on XNYS: 1-minute bars); half
    days get proportionally fewer bars. `annual_vol` is the long-run volatility (252 sessions a
    year), `garch=(alpha, beta)` the GARCH(1,1) shock and persistence weights (alpha + beta < 1),
    `jump_intensity` the expected number of jumps per session and `jump_scale` the standard
    deviation of a jump's log size. The same arguments give the same bars.
    """
    alpha, beta = garch
    if days < 1 or bars_per_day < 1:
        raise InputError(f"days ({days}) and bars_per_day ({bars_per_day}) must be >= 1")
    if alpha < 0 or beta < 0 or alpha + beta >= 1:
        raise InputError(f"garch=(alpha, beta)={garch}: need alpha, beta >= 0 and alpha + beta < 1")
    if s0 <= 0 or annual_vol <= 0 or jump_intensity < 0 or jump_scale < 0:
        raise InputError("s0 and annual_vol must be > 0, jump_intensity and jump_scale >= 0")
    first = pd.Timestamp(start)
    last = first + pd.Timedelta(days=int(days * 1.6) + 30)
    try:  # the pipeline's cached whole-year calendar: built once per process, not once per call
        cal = exchange_calendar(calendar, first.year - 1, last.year + 1)
    except InputError:  # an unknown name, with a suggestion
        raise
    except Exception as error:  # exchange-calendars raises its own types for out-of-bounds ranges
        raise InputError(f"calendar {calendar!r}: {error}") from error
    sessions = cal.sessions[cal.sessions >= first.normalize()][:days]
    if len(sessions) < days:
        raise InputError(f"calendar {calendar!r} has only {len(sessions)} sessions from {start}; ask for fewer days")
    _not_in_the_future(pd.Timestamp(sessions[-1]), f"days={days} sessions from start={start!r}")
    schedule = cal.schedule.loc[sessions]
    opens = pd.DatetimeIndex(schedule["open"]).as_unit("ns").asi8
    lengths = pd.DatetimeIndex(schedule["close"]).as_unit("ns").asi8 - opens
    full = int(np.median(lengths))
    step, remainder = divmod(full, bars_per_day)
    if remainder or step % 1_000_000_000:
        raise InputError(f"bars_per_day={bars_per_day} does not split a {full / 6e10:g}-minute session into seconds")
    counts = lengths // step
    n = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(n) - starts  # bar index within its session
    timestamps = np.repeat(opens, counts) + position * step
    fraction = (position + 0.5) / np.repeat(counts, counts)  # 0..1 through the session
    u_shape = (2.0 * fraction - 1.0) ** 2  # 1 at the edges, 0 at midday

    rng = np.random.default_rng(seed)
    variance = annual_vol**2 / (TRADING_DAYS_PER_YEAR * bars_per_day)
    vol_profile = 0.75 + 0.75 * u_shape
    vol_profile /= np.sqrt(np.mean(vol_profile**2))
    z = rng.standard_normal(n)
    sigma = np.sqrt(_garch_variance(z, alpha, beta, variance * (1 - alpha - beta), variance)) * vol_profile
    jumps = rng.poisson(jump_intensity / bars_per_day, n) * rng.normal(0.0, jump_scale, n)
    log_close = np.log(s0) + np.cumsum(sigma * z + jumps)
    close = np.exp(log_close)
    open_ = np.concatenate([[s0], close[:-1]])
    spread_up = np.exp(np.abs(rng.standard_normal(n)) * sigma * 0.6)
    spread_down = np.exp(-np.abs(rng.standard_normal(n)) * sigma * 0.6)
    high = np.maximum(open_, close) * spread_up
    low = np.minimum(open_, close) * spread_down
    volume = np.round(2_000.0 * (1.0 + 3.0 * u_shape) * rng.lognormal(0.0, 0.4, n) * (1 + np.abs(z)))
    trades = np.maximum(1.0, np.round(volume / 100.0))
    vwap = np.clip((open_ + high + low + close) / 4.0, low, high)
    bars = pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": pd.to_datetime(timestamps, unit="ns", utc=True),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "vwap": vwap,
            "trades": trades,
        }
    )
    return validate_bars(bars)


def _not_in_the_future(last: pd.Timestamp, asked: str) -> None:
    """Synthetic bars are dated like real ones, and the bar schema refuses future dates: say so here,
    where the fix (an earlier start) is obvious, instead of as a suspicious bar later."""
    naive = last.tz_convert("UTC").tz_localize(None) if last.tzinfo is not None else last
    if naive > pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1):
        raise InputError(f"{asked} run past today (last bar {last.date()}); pass an earlier start, e.g. '2000-01-03'")


def random_walk_bars(
    n: int,
    symbol: str = "TEST",
    start: str = "2024-03-01 22:00",
    freq: str = "min",
    seed: int = 0,
    volatility: float = 1e-3,
    vwap_gaps: int | None = 7,
) -> pd.DataFrame:
    """`n` validated bars of a log random walk every `freq` from `start` (UTC), around the clock:
    the quick, calendar-free series tests and benchmarks need. Every `vwap_gaps`-th vwap is NaN
    (None: none), to exercise the optional column."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    wick = np.abs(rng.normal(0.0, volatility / 2, n)) * close
    high, low = np.maximum(open_, close) + wick, np.minimum(open_, close) - wick
    volume = rng.integers(0, 1000, n).astype(float)
    vwap = (high + low + close) / 3
    if vwap_gaps:
        vwap[::vwap_gaps] = np.nan
    stamps = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    _not_in_the_future(stamps[-1], f"n={n} bars every {freq} from start={start!r}")
    frame = pd.DataFrame(
        {
            "symbol": symbol,
            "timestamp": stamps,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "vwap": vwap,
            "trades": volume // 3,
        }
    )
    return validate_bars(frame)
