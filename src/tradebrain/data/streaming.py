"""The features of `tradebrain.data.features` for the newest bar, in O(1) per bar, for a live node.

`compute_features` recomputes every indicator over a whole table; a live node that did so over a
rolling window on every bar would spend milliseconds per decision. `StreamingFeatures` keeps the
state of every indicator instead (EMA and Wilder recursions, rolling windows as ring buffers,
the session VWAP sums, the Parabolic SAR state) and updates it with one bar in a few
microseconds of plain Python floats (a numba call costs more than the arithmetic here).

Equal to `compute_features`, not merely close: every recursion repeats the floating-point
operations of the code it mirrors, in the same order. On the real 1-minute sample every
indicator is bit for bit identical; the log-ratio features (returns, log_close_open,
log_high_low, parkinson_vol) may differ in the last bit, since `math.log` (libm) and numpy's
vectorised log round differently now and then (tests/unit/data/test_streaming.py checks rtol
1e-9, atol 1e-12 on real and synthetic bars, bar for bar):

- EMA, RSI and ATR smoothing: pandas' `ewm(adjust=False)` kernel, weighted = (old_wt * weighted
  + new_wt * x) / (old_wt + new_wt) with alpha = 1 / (1 + com), skipped when x equals weighted,
  and `min_periods` counted in observations (ta's EMA and RSI pass min_periods=window).
- Rolling means and variances: pandas' `roll_mean` (Kahan sums with separate add and remove
  compensations, the sign clamps and the repeated-value shortcut) and `roll_var` (Welford with
  Kahan compensation); removes run before adds, as pandas does for a fixed window.
- Session VWAP: pandas' Kahan-compensated grouped cumsum of price x volume and of volume, per
  New York date.
- ATR: the seed is the mean of the first 14 true ranges summed in numpy's pairwise order.

Hand-written (not `ta`) because `ta` and pandas only compute whole series (design principle 6:
nothing maintained computes these indicators incrementally with pandas' exact numerics).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from tradebrain.core.errors import InputError
from tradebrain.data.features import (
    ATR_WINDOW,
    BOLLINGER_DEV,
    BOLLINGER_WINDOW,
    EMA_WINDOWS,
    FEATURE_NAMES,
    L2_FEATURE_NAMES,
    MACD_FAST,
    MACD_SIGNAL,
    MACD_SLOW,
    NEW_YORK,
    PSAR_MAX_STEP,
    PSAR_STEP,
    RSI_WINDOW,
    VOL_WINDOW,
)

NAN = math.nan
INF = math.inf
_FOUR_LOG_TWO = float(4 * np.log(2))
STREAMING_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES + L2_FEATURE_NAMES

# The first bar index (0-based) at which compute_features gives a value, per feature.
FIRST_VALID_BAR: dict[str, int] = {
    "ret_open": 1,
    "ret_high": 1,
    "ret_low": 1,
    "ret_close": 1,
    "log_close_open": 0,
    "log_high_low": 0,
    **{f"ema_{window}_dist": window - 1 for window in EMA_WINDOWS},
    "rsi_9": RSI_WINDOW - 1,
    "bb_width": BOLLINGER_WINDOW - 1,
    "bb_upper_dist": BOLLINGER_WINDOW - 1,
    "psar_dist": 2,
    "macd": MACD_SLOW - 1,
    "macd_signal": MACD_SLOW - 1 + MACD_SIGNAL - 1,
    "macd_hist": MACD_SLOW - 1 + MACD_SIGNAL - 1,
    "atr_14": ATR_WINDOW - 1,
    "realised_vol": VOL_WINDOW,
    "parkinson_vol": VOL_WINDOW - 1,
    "vwap_dev": 0,
    "volume_z": VOL_WINDOW - 1,
    "book_imbalance": 0,
}


def ewm_alpha(span: float | None = None, alpha: float | None = None) -> float:
    """The smoothing factor pandas' ewm kernel uses: 1 / (1 + com), com from `span` or `alpha`
    exactly as `pandas.core.window.ewm.get_center_of_mass` computes it (a round trip through the
    centre of mass that can change the last bit of alpha)."""
    if span is not None:
        com = (span - 1) / 2
    elif alpha is not None:
        com = (1 - alpha) / alpha
    else:
        raise InputError("ewm_alpha needs a span or an alpha")
    return 1.0 / (1.0 + float(com))


def pairwise_sum(values: list[float]) -> float:
    """The sum of up to 128 floats in numpy's pairwise order (eight running sums for n >= 8),
    so a mean matches `Series.mean()` to the last bit."""
    n = len(values)
    if n > 128:
        raise InputError("pairwise_sum mirrors numpy's single block only: at most 128 values")
    if n < 8:
        total = -0.0
        for value in values:
            total += value
        return total
    r = values[:8]
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += values[i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += values[i]
        i += 1
    return total


class RollingMean:
    """pandas' `rolling(window).mean()` state, one value at a time (see the module docstring)."""

    __slots__ = ("buffer", "comp_add", "comp_remove", "count", "neg", "nobs", "prev", "same", "total", "window")

    def __init__(self, window: int) -> None:
        self.window = window
        self.buffer = [NAN] * window
        self.count = 0
        self.nobs = 0
        self.neg = 0
        self.total = 0.0
        self.comp_add = 0.0
        self.comp_remove = 0.0
        self.prev = NAN
        self.same = 0

    def update(self, value: float) -> float:
        """Add the newest value (NaN counts as missing); the mean of the last `window` values, or NaN."""
        slot = self.count % self.window
        if self.count >= self.window:
            old = self.buffer[slot]
            if old == old:
                self.nobs -= 1
                y = -old - self.comp_remove
                t = self.total + y
                self.comp_remove = t - self.total - y
                self.total = t
                if math.copysign(1.0, old) < 0:
                    self.neg -= 1
        self.buffer[slot] = value
        self.count += 1
        if value == value:
            self.nobs += 1
            y = value - self.comp_add
            t = self.total + y
            self.comp_add = t - self.total - y
            self.total = t
            if math.copysign(1.0, value) < 0:
                self.neg += 1
            if value == self.prev:
                self.same += 1
            else:
                self.same = 1
            self.prev = value
        nobs = self.nobs
        if nobs < self.window or nobs == 0:
            return NAN
        if self.same >= nobs:
            return self.prev
        result = self.total / nobs
        if self.neg == 0 and result < 0:
            return 0.0
        if self.neg == nobs and result > 0:
            return 0.0
        return result


class RollingVar:
    """pandas' `rolling(window).var(ddof)` state (Welford with Kahan compensation), one value at a time."""

    __slots__ = ("buffer", "comp_add", "comp_remove", "count", "ddof", "mean", "nobs", "prev", "same", "ssq", "window")

    def __init__(self, window: int, ddof: int) -> None:
        self.window = window
        self.ddof = ddof
        self.buffer = [NAN] * window
        self.count = 0
        self.nobs = 0
        self.mean = 0.0
        self.ssq = 0.0
        self.comp_add = 0.0
        self.comp_remove = 0.0
        self.prev = NAN
        self.same = 0

    def update(self, value: float) -> float:
        """Add the newest value (NaN counts as missing); the variance of the last `window` values, or NaN."""
        slot = self.count % self.window
        if self.count >= self.window:
            old = self.buffer[slot]
            if old == old:
                self.nobs -= 1
                if self.nobs:
                    prev_mean = self.mean - self.comp_remove
                    y = old - self.comp_remove
                    t = y - self.mean
                    self.comp_remove = t + self.mean - y
                    self.mean = self.mean - t / self.nobs
                    self.ssq = self.ssq - (old - prev_mean) * (old - self.mean)
                else:
                    self.mean = 0.0
                    self.ssq = 0.0
        self.buffer[slot] = value
        self.count += 1
        if value == value:
            if value == self.prev:
                self.same += 1
            else:
                self.same = 1
            self.prev = value
            self.nobs += 1
            prev_mean = self.mean - self.comp_add
            y = value - self.comp_add
            t = y - self.mean
            self.comp_add = t + self.mean - y
            self.mean = self.mean + t / self.nobs
            self.ssq = self.ssq + (value - prev_mean) * (value - self.mean)
        nobs = self.nobs
        if nobs < self.window or nobs <= self.ddof:
            return NAN
        if nobs == 1 or self.same >= nobs:
            return 0.0
        return self.ssq / (nobs - self.ddof)


class Ewm:
    """pandas' `ewm(alpha, adjust=False, min_periods)` mean, one value at a time."""

    __slots__ = ("alpha", "denominator", "min_periods", "nobs", "old_weight", "value")

    def __init__(self, alpha: float, min_periods: int) -> None:
        self.alpha = alpha
        self.old_weight = 1.0 - alpha
        self.denominator = self.old_weight + alpha
        self.min_periods = max(min_periods, 1)
        self.nobs = 0
        self.value = NAN

    def update(self, x: float) -> float:
        """Smooth in the newest value (NaN counts as missing); the EMA, or NaN before `min_periods` values."""
        weighted = self.value
        if x == x:
            self.nobs += 1
            if weighted != weighted:
                self.value = x
            elif weighted != x:
                self.value = (self.old_weight * weighted + self.alpha * x) / self.denominator
        return self.value if self.nobs >= self.min_periods else NAN


def _nanoseconds(timestamp: Any) -> int:
    """A tz-aware timestamp (pandas, datetime or string), or a UTC one (int nanoseconds since the
    epoch, numpy datetime64), as int nanoseconds."""
    if isinstance(timestamp, pd.Timestamp):
        if timestamp.tzinfo is None:
            raise InputError(f"timestamp {timestamp} has no time zone; localise it (bars are in UTC)")
        return int(timestamp.value)
    if isinstance(timestamp, int | np.integer) and not isinstance(timestamp, bool):
        return int(timestamp)
    if isinstance(timestamp, np.datetime64):  # numpy datetimes carry no zone: UTC by convention
        return int(pd.Timestamp(timestamp).value)
    if isinstance(timestamp, dt.datetime | str):
        return _nanoseconds(pd.Timestamp(timestamp))
    raise InputError(f"timestamp {timestamp!r} is not a timestamp; pass a tz-aware pandas Timestamp or int ns (UTC)")


def _next_new_york_midnight(nanoseconds: int) -> int:
    """The UTC nanoseconds of the New York midnight that ends the New York date of `nanoseconds`."""
    local = pd.Timestamp(nanoseconds, tz="UTC").tz_convert(NEW_YORK)
    following = local.date() + dt.timedelta(days=1)
    return int(pd.Timestamp(following).tz_localize(NEW_YORK).value)


class StreamingFeatures:
    """`compute_features` for one symbol, one bar at a time: `update(...)` returns the newest bar's
    `feature_names` (a float64 array) once every one of them is past its warm-up, None before.

    Bars must come in strictly increasing time; prices finite and > 0 with low <= open, close <=
    high, volume finite and >= 0. A bad bar raises InputError naming the field and leaves the state
    untouched, so the caller may skip it and go on. `vwap` (the bar's own VWAP, NaN or None when
    unknown, as in the bar schema) feeds the session VWAP; `bid_size_1` and `ask_size_1` are needed
    only when "book_imbalance" is requested.
    """

    def __init__(self, feature_names: tuple[str, ...] = FEATURE_NAMES) -> None:
        names = tuple(feature_names)
        unknown = [name for name in names if name not in STREAMING_FEATURE_NAMES]
        if unknown or not names:
            raise InputError(
                f"unknown feature(s) {unknown} (or none requested); choose from {', '.join(STREAMING_FEATURE_NAMES)}"
            )
        self.feature_names = names
        self._all = names == FEATURE_NAMES
        self._index = [STREAMING_FEATURE_NAMES.index(name) for name in names]
        self._needs_book = "book_imbalance" in names
        self._first_ready = max(FIRST_VALID_BAR[name] for name in names)
        self.bars = 0
        self._last_ns: int | None = None
        self._day_end_ns = -1
        self._prev_close = NAN
        self._prev_log_close = NAN
        self._emas = [Ewm(ewm_alpha(span=window), window) for window in EMA_WINDOWS]
        rsi_alpha = ewm_alpha(alpha=1 / RSI_WINDOW)
        self._rsi_up, self._rsi_down = Ewm(rsi_alpha, RSI_WINDOW), Ewm(rsi_alpha, RSI_WINDOW)
        self._bb_mean = RollingMean(BOLLINGER_WINDOW)
        self._bb_var = RollingVar(BOLLINGER_WINDOW, 0)
        self._macd_fast = Ewm(ewm_alpha(span=MACD_FAST), MACD_FAST)
        self._macd_slow = Ewm(ewm_alpha(span=MACD_SLOW), MACD_SLOW)
        self._macd_signal = Ewm(ewm_alpha(span=MACD_SIGNAL), MACD_SIGNAL)
        self._atr_seed: list[float] = []
        self._atr = Ewm(ewm_alpha(alpha=1 / ATR_WINDOW), 0)
        self._ret_var = RollingVar(VOL_WINDOW, 1)
        self._park_mean = RollingMean(VOL_WINDOW)
        self._volume_mean = RollingMean(VOL_WINDOW)
        self._volume_var = RollingVar(VOL_WINDOW, 1)
        self._cum_pv = self._cum_pv_comp = self._cum_volume = self._cum_volume_comp = 0.0
        # Parabolic SAR: previous value, trend, acceleration, extremes, the two previous highs and lows
        self._psar = NAN
        self._up_trend = True
        self._factor = PSAR_STEP
        self._extreme_high = self._extreme_low = NAN
        self._high_1 = self._high_2 = self._low_1 = self._low_2 = NAN

    @property
    def ready(self) -> bool:
        """Whether every requested feature is past its warm-up (the last update returned an array)."""
        return self.bars > self._first_ready

    def _check(self, nanoseconds: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """InputError naming the first bad field of a bar, before any state changes."""
        if self._last_ns is not None and nanoseconds <= self._last_ns:
            last = pd.Timestamp(self._last_ns, tz="UTC")
            raise InputError(
                f"timestamp {pd.Timestamp(nanoseconds, tz='UTC')} is not after the previous bar's {last}; "
                "feed bars in increasing time, one per timestamp"
            )
        for name, value in (("open", o), ("high", h), ("low", lo), ("close", c)):
            if not (0.0 < value < INF):
                raise InputError(f"{name} is {value}: prices must be finite and > 0; fix or drop the bar")
        if not (0.0 <= v < INF):
            raise InputError(f"volume is {v}: volume must be finite and >= 0; fix or drop the bar")
        if h < o or h < c:
            raise InputError(f"high {h} is below open {o} or close {c}; fix the bar")
        if lo > o or lo > c:
            raise InputError(f"low {lo} is above open {o} or close {c}; fix the bar")

    def update(
        self,
        timestamp: Any,
        open: float,  # the bar schema's column name
        high: float,
        low: float,
        close: float,
        volume: float,
        vwap: float | None = None,
        bid_size_1: float | None = None,
        ask_size_1: float | None = None,
    ) -> np.ndarray | None:
        """Add the newest bar; its features (float64, in `feature_names` order), or None in the warm-up."""
        nanoseconds = (
            timestamp.value if type(timestamp) is pd.Timestamp and timestamp.tzinfo else _nanoseconds(timestamp)
        )
        o, h, lo, c, v = float(open), float(high), float(low), float(close), float(volume)
        last = self._last_ns
        if not (
            0.0 < lo <= o <= h < INF and lo <= c <= h and 0.0 <= v < INF and (last is None or nanoseconds > last)
        ):  # one chained test on the fast path; name the bad field otherwise
            self._check(nanoseconds, o, h, lo, c, v)
        if vwap is not None and not (vwap != vwap or 0.0 < vwap < INF):
            raise InputError(f"vwap is {vwap}: it must be > 0 and finite, or NaN / None when unknown")
        imbalance = NAN
        if self._needs_book:
            if bid_size_1 is None or ask_size_1 is None:
                raise InputError("book_imbalance needs bid_size_1 and ask_size_1 at every update")
            bid, ask = float(bid_size_1), float(ask_size_1)
            if not (0.0 <= bid < INF and 0.0 <= ask < INF):
                raise InputError(f"bid_size_1 {bid} / ask_size_1 {ask} must be finite and >= 0")
            total = bid + ask
            imbalance = (bid - ask) / total if total > 0 else 0.0
        self._last_ns = nanoseconds
        index = self.bars
        self.bars = index + 1
        pc = self._prev_close
        log_close = math.log(c)
        ret_close = log_close - self._prev_log_close
        if pc == pc:
            ret_open, ret_high, ret_low = math.log(o / pc), math.log(h / pc), math.log(lo / pc)
        else:
            ret_open = ret_high = ret_low = NAN
        log_high_low = math.log(h / lo)

        ema_9, ema_21, ema_50 = self._emas[0].update(c), self._emas[1].update(c), self._emas[2].update(c)

        diff = c - pc
        up = diff if diff > 0 else 0.0
        down = -(diff if diff < 0 else 0.0)
        ema_up, ema_down = self._rsi_up.update(up), self._rsi_down.update(down)
        rsi = 100.0 if ema_down == 0 else 100 - 100 / (1 + ema_up / ema_down)

        middle = self._bb_mean.update(c)
        variance = self._bb_var.update(c)
        deviation = math.sqrt(variance) if variance > 0 else (0.0 if variance == variance else NAN)
        upper = middle + BOLLINGER_DEV * deviation
        lower = middle - BOLLINGER_DEV * deviation

        psar = self._update_psar(index, h, lo, c)

        macd = self._macd_fast.update(c) - self._macd_slow.update(c)
        signal = self._macd_signal.update(macd)

        true_range = h - lo if pc != pc else max(h - lo, abs(h - pc), abs(lo - pc))
        if index < ATR_WINDOW - 1:
            self._atr_seed.append(true_range)
            atr = NAN
        elif index == ATR_WINDOW - 1:
            self._atr_seed.append(true_range)
            atr = self._atr.update(pairwise_sum(self._atr_seed) / ATR_WINDOW)
        else:
            atr = self._atr.update(true_range)

        ret_variance = self._ret_var.update(ret_close)
        realised = math.sqrt(ret_variance) if ret_variance > 0 else (0.0 if ret_variance == ret_variance else NAN)
        parkinson = math.sqrt(self._park_mean.update(log_high_low * log_high_low) / _FOUR_LOG_TWO)

        price = (h + lo + c) / 3 if vwap is None or vwap != vwap else float(vwap)
        if nanoseconds >= self._day_end_ns:
            self._day_end_ns = _next_new_york_midnight(nanoseconds)
            self._cum_pv = self._cum_pv_comp = self._cum_volume = self._cum_volume_comp = 0.0
        y = price * v - self._cum_pv_comp
        t = self._cum_pv + y
        self._cum_pv_comp = t - self._cum_pv - y
        self._cum_pv = t
        y = v - self._cum_volume_comp
        t = self._cum_volume + y
        self._cum_volume_comp = t - self._cum_volume - y
        self._cum_volume = t
        running = self._cum_pv / self._cum_volume if self._cum_volume > 0 else price

        volume_mean = self._volume_mean.update(v)
        volume_variance = self._volume_var.update(v)
        volume_std = (
            math.sqrt(volume_variance) if volume_variance > 0 else (0.0 if volume_variance == volume_variance else NAN)
        )
        volume_z = (v - volume_mean) / volume_std if volume_std > 0 else (0.0 if volume_std == volume_std else NAN)

        self._prev_close, self._prev_log_close = c, log_close
        if index < self._first_ready:
            return None
        values = [
            ret_open,
            ret_high,
            ret_low,
            ret_close,
            math.log(c / o),
            log_high_low,
            c / ema_9 - 1,
            c / ema_21 - 1,
            c / ema_50 - 1,
            rsi / 50 - 1,
            (upper - lower) / middle,
            c / upper - 1,
            c / psar - 1,
            macd / c,
            signal / c,
            (macd - signal) / c,
            atr / c,
            realised,
            parkinson,
            c / running - 1,
            volume_z,
            imbalance,
        ]
        if self._all:
            del values[-1]
            return np.array(values)
        return np.array([values[i] for i in self._index])

    def _update_psar(self, index: int, h: float, lo: float, c: float) -> float:
        """Wilder's Parabolic SAR at this bar (NaN for the first two), as `features.parabolic_sar`."""
        if index == 0:
            self._extreme_high, self._extreme_low = h, lo
            self._psar = c
            value = NAN
        elif index == 1:
            self._psar = c
            value = NAN
        else:
            previous = self._psar
            reversal = False
            if self._up_trend:
                value = previous + self._factor * (self._extreme_high - previous)
                if lo < value:
                    reversal, value, self._extreme_low, self._factor = True, self._extreme_high, lo, PSAR_STEP
                else:
                    if h > self._extreme_high:
                        self._extreme_high, self._factor = h, min(self._factor + PSAR_STEP, PSAR_MAX_STEP)
                    if self._low_2 < value:
                        value = self._low_2
                    elif self._low_1 < value:
                        value = self._low_1
            else:
                value = previous - self._factor * (previous - self._extreme_low)
                if h > value:
                    reversal, value, self._extreme_high, self._factor = True, self._extreme_low, h, PSAR_STEP
                else:
                    if lo < self._extreme_low:
                        self._extreme_low, self._factor = lo, min(self._factor + PSAR_STEP, PSAR_MAX_STEP)
                    if self._high_2 > value:
                        value = self._high_2
                    elif self._high_1 > value:
                        value = self._high_1
            self._psar = value
            self._up_trend = self._up_trend != reversal
        self._high_2, self._high_1 = self._high_1, h
        self._low_2, self._low_1 = self._low_1, lo
        return value
