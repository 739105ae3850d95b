"""The simulated venue's settings and its per-bar inputs: `VenueConfig` (fill timing, spread,
slippage, impact, participation cap, latency, fees), the half-spread per bar from a fixed quote,
the bar's high-low range (Corwin & Schultz 2012) or quoted bid/ask, and the per-bar volatility
that scales square-root impact. The compiled fill rules that use them are in market/fills.py and
are re-exported here, so `from tradebrain.market.venue import ...` reaches the whole venue.

Point in time: the spread and volatility for bar t are computed from bars up to t - 1 only, i.e.
they are known before bar t trades, whatever the fill timing (a same-bar close fill uses the same,
slightly stale, estimate rather than one that saw its own bar).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from pydantic import Field, field_validator, model_validator

from tradebrain.core.config import StrictModel
from tradebrain.core.errors import ConfigError, InputError
from tradebrain.market.fills import (
    BUY,
    FILL_BAR,
    FILL_COLUMNS,
    FILL_FEE,
    FILL_PRICE,
    FILL_QUANTITY,
    FILL_SYMBOL,
    N_PARAMS,
    ORD_ACTIVE,
    ORD_ID,
    ORD_LIMIT,
    ORD_REMAINING,
    ORD_SUBMIT,
    ORD_SYMBOL,
    ORDER_COLUMNS,
    SELL,
    TIMING_CLOSE,
    TIMING_NEXT_OPEN,
    TIMING_NEXT_TYPICAL,
    TIMING_NEXT_VWAP,
    V_FEE_PER_SHARE,
    V_FEE_RATE,
    V_IMPACT,
    V_LATENCY,
    V_MIN_FEE,
    V_PARTICIPATION,
    V_SLIPPAGE,
    V_TIMING,
    V_WHOLE,
    market_delay,
)

__all__ = [
    "BUY",
    "FILL_BAR",
    "FILL_COLUMNS",
    "FILL_FEE",
    "FILL_OPTIONS",
    "FILL_PRICE",
    "FILL_QUANTITY",
    "FILL_SYMBOL",
    "N_PARAMS",
    "ORDER_COLUMNS",
    "ORD_ACTIVE",
    "ORD_ID",
    "ORD_LIMIT",
    "ORD_REMAINING",
    "ORD_SUBMIT",
    "ORD_SYMBOL",
    "SELL",
    "TIMING_CLOSE",
    "TIMING_CODES",
    "TIMING_NEXT_OPEN",
    "TIMING_NEXT_TYPICAL",
    "TIMING_NEXT_VWAP",
    "V_FEE_PER_SHARE",
    "V_FEE_RATE",
    "V_IMPACT",
    "V_LATENCY",
    "V_MIN_FEE",
    "V_PARTICIPATION",
    "V_SLIPPAGE",
    "V_TIMING",
    "V_WHOLE",
    "FillInputs",
    "FillTiming",
    "ImpactModel",
    "SpreadModel",
    "VenueConfig",
    "bar_volatility",
    "corwin_schultz",
    "fill_inputs",
    "half_spread",
    "limit_price",
    "venue_from_options",
]  # fmt: skip

FillTiming = Literal["close", "next_open", "next_vwap", "next_typical"]
SpreadModel = Literal["none", "fixed", "range", "quoted"]
ImpactModel = Literal["none", "sqrt"]

TIMING_CODES: dict[str, int] = {
    "close": TIMING_CLOSE,
    "next_open": TIMING_NEXT_OPEN,
    "next_vwap": TIMING_NEXT_VWAP,
    "next_typical": TIMING_NEXT_TYPICAL,
}
OPTIMISTIC_LABEL = "optimistic: same-bar close"
_TIMING_LABELS = {"next_open": "next open", "next_vwap": "next VWAP", "next_typical": "next typical price"}
MAX_FEE_RATE = 0.1
BPS = 1e4  # basis points per unit (divided, so 3 bps is exactly the float nearest 0.0003)


class VenueConfig(StrictModel):
    """How the simulated venue fills orders. Defaults: the next bar's open with the spread
    estimated from the bar range, no slippage, impact, cap, latency or fees.

    - `fill`: the fill timing (market/fills.py says exactly which bar and price each one uses);
      "close" is the optimistic same-bar close.
    - `spread`: "none"; "fixed" (`spread_bps`, the full quoted spread); "range" (Corwin-Schultz
      estimate from the high-low range of the two previous bars); "quoted" (bid/ask columns).
    - `slippage_bps`: a fixed extra cost per fill, in basis points of the price.
    - `impact`: "sqrt" charges `impact_coefficient * sigma * sqrt(quantity / bar volume)` as a
      fraction of price, sigma the per-bar volatility of log returns over `volatility_window` bars.
    - `participation`: at most this fraction of each bar's volume fills; the rest keeps working.
    - `latency_bars` or `latency_ms` (mapped onto the bar clock by rounding up): the delay between
      the decision and the venue.
    - fees per ticket: `fee_per_share` * shares + `fee_rate` * traded value, at least `min_fee`
      when something fills.
    """

    fill: FillTiming = "next_open"
    spread: SpreadModel = "range"
    spread_bps: float = Field(0.0, description="full quoted spread for spread='fixed', basis points")
    slippage_bps: float = Field(0.0, description="fixed slippage per fill, basis points of price")
    impact: ImpactModel = "none"
    impact_coefficient: float = Field(0.0, description="square-root impact coefficient (impact='sqrt')")
    volatility_window: int = Field(30, description="bars of log returns behind the impact volatility")
    participation: float | None = Field(None, description="max fraction of each bar's volume filled, in (0, 1]")
    latency_bars: int = Field(0, description="bars between decision and venue")
    latency_ms: float = Field(0.0, description="milliseconds between decision and venue (instead of latency_bars)")
    fee_per_share: float = Field(0.0, description="fee per share traded, $")
    fee_rate: float = Field(0.0, description="fee as a fraction of traded value, in [0, 0.1)")
    min_fee: float = Field(0.0, description="minimum fee per ticket that fills, $")

    @field_validator(
        "spread_bps", "slippage_bps", "impact_coefficient", "latency_bars", "latency_ms", "fee_per_share", "min_fee"
    )
    @classmethod
    def _not_negative(cls, value: float, info: object) -> float:
        if value < 0:
            name = getattr(info, "field_name", "value")
            raise ValueError(f"{name} must be >= 0, got {value:g}; costs and delays cannot be negative")
        return value

    @field_validator("participation")
    @classmethod
    def _participation_in_unit_interval(cls, value: float | None) -> float | None:
        if value is not None and not 0.0 < value <= 1.0:
            raise ValueError(
                f"participation must be in (0, 1] (the largest fraction of a bar's volume that fills), got {value:g}; "
                "use 0.1 for 10%, or leave it unset for no cap"
            )
        return value

    @field_validator("fee_rate")
    @classmethod
    def _fee_rate_range(cls, value: float) -> float:
        if not 0.0 <= value < MAX_FEE_RATE:
            raise ValueError(
                f"fee_rate must be in [0, {MAX_FEE_RATE:g}) as a fraction of traded value, got {value:g}; "
                "did you give a percentage? 10 bps is 0.001"
            )
        return value

    @field_validator("volatility_window")
    @classmethod
    def _window_long_enough(cls, value: int) -> int:
        if value < 2:
            raise ValueError(f"volatility_window must be >= 2 bars to measure a volatility, got {value}")
        return value

    @model_validator(mode="after")
    def _one_latency(self) -> VenueConfig:
        if self.latency_ms > 0 and self.latency_bars > 0:
            raise ValueError(
                f"latency_ms ({self.latency_ms:g}) and latency_bars ({self.latency_bars}) are both set; "
                "give the latency once, in bars or in milliseconds"
            )
        return self

    @property
    def optimistic(self) -> bool:
        """True for same-bar close fills, which trade at the price the decision already saw."""
        return self.fill == "close"

    def label(self) -> str:
        """A short description for tables and plots; close fills always read 'optimistic: same-bar close'."""
        parts = [OPTIMISTIC_LABEL if self.optimistic else _TIMING_LABELS[self.fill]]
        if self.spread == "fixed":
            parts.append(f"spread {self.spread_bps:g} bps")
        elif self.spread == "range":
            parts.append("range spread")
        elif self.spread == "quoted":
            parts.append("quoted spread")
        if self.slippage_bps > 0:
            parts.append(f"slippage {self.slippage_bps:g} bps")
        if self.impact == "sqrt" and self.impact_coefficient > 0:
            parts.append(f"sqrt impact {self.impact_coefficient:g}")
        if self.participation is not None:
            parts.append(f"{self.participation:.0%} participation")
        if self.latency_bars > 0:
            parts.append(f"latency {self.latency_bars} bar" + ("s" if self.latency_bars > 1 else ""))
        elif self.latency_ms > 0:
            parts.append(f"latency {self.latency_ms:g} ms")
        if self.fee_per_share > 0 or self.fee_rate > 0 or self.min_fee > 0:
            parts.append("fees")
        return ", ".join(parts)

    def latency_in_bars(self, bar_duration: pd.Timedelta | None = None, session_bars: int | None = None) -> int:
        """The latency on the bar clock: `latency_bars`, or `latency_ms` rounded up to whole bars of
        `bar_duration` (any delay at all means the decision bar is missed). Raises a ConfigError
        naming the field when the latency is as long as the session (`session_bars`), since no
        order decided in a session could then fill in it."""
        if self.latency_ms > 0:
            if bar_duration is None or not bar_duration > pd.Timedelta(0):
                raise ConfigError(
                    f"latency_ms = {self.latency_ms:g} needs the bar duration to map it onto the bar clock; "
                    "pass bar_duration (e.g. pd.Timedelta('1min')) or give latency_bars instead"
                )
            bar_ms = float(bar_duration / pd.Timedelta(milliseconds=1))
            bars = max(1, math.ceil(self.latency_ms / bar_ms - 1e-9))
            field, given = "latency_ms", f"{self.latency_ms:g} ms = {bars} bars of {bar_duration}"
        else:
            bars = self.latency_bars
            field, given = "latency_bars", f"{bars} bars"
        if session_bars is not None and bars > 0 and bars >= session_bars:
            raise ConfigError(
                f"{field} ({given}) is as long as or longer than the session ({session_bars} bars): no order "
                f"could fill in the session it was decided in; lower {field}"
            )
        return bars

    def params(
        self, bar_duration: pd.Timedelta | None = None, session_bars: int | None = None, whole_shares: bool = False
    ) -> np.ndarray:
        """The numeric settings as a float64 array indexed by the V_* slots, for the compiled fill
        rules (fractions, not basis points; NaN participation means no cap). `bar_duration` and
        `session_bars` map and check the latency (see `latency_in_bars`); `whole_shares` makes
        partial fills whole shares."""
        values = np.zeros(N_PARAMS)
        values[V_TIMING] = TIMING_CODES[self.fill]
        values[V_SLIPPAGE] = self.slippage_bps / BPS
        values[V_IMPACT] = self.impact_coefficient if self.impact == "sqrt" else 0.0
        values[V_PARTICIPATION] = np.nan if self.participation is None else self.participation
        values[V_LATENCY] = self.latency_in_bars(bar_duration, session_bars)
        values[V_FEE_PER_SHARE] = self.fee_per_share
        values[V_FEE_RATE] = self.fee_rate
        values[V_MIN_FEE] = self.min_fee
        values[V_WHOLE] = 1.0 if whole_shares else 0.0
        return values


def _where(index: tuple[int, ...]) -> str:
    """'row 7' or 'row 7, column 2' for an error message."""
    return f"row {index[0]}" + (f", column {index[1]}" if len(index) > 1 else "")


def _as_prices(values: ArrayLike, name: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """`values` as a float64 array of finite positive prices, 1-D or 2-D, of `shape` if given."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise InputError(f"{name} must be 1-D (bars) or 2-D (bars, symbols), got {array.ndim} dimensions")
    if shape is not None and array.shape != shape:
        raise InputError(f"{name} has shape {array.shape} but close has {shape}; pass aligned bars")
    bad = ~(np.isfinite(array) & (array > 0))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{name} at {_where(where)} is {array[where]!r}; prices must be finite and > 0")
    return array


def corwin_schultz(high: ArrayLike, low: ArrayLike, close: ArrayLike) -> np.ndarray:
    """The Corwin & Schultz (2012) spread estimate from each bar and the one before it, as a
    fraction of price (the full spread, not half), for bars 1..n-1; bar 0 has no pair and gets 0.

    For the pair (t-1, t), after the overnight adjustment of the paper (when bar t's low is above
    the previous close, or its high below it, bar t's high and low are shifted by that gap):
        beta  = ln(H[t-1]/L[t-1])^2 + ln(H[t]/L[t])^2
        gamma = ln(max(H[t-1], H[t]) / min(L[t-1], L[t]))^2
        alpha = (sqrt(2 beta) - sqrt(beta)) / (3 - 2 sqrt 2) - sqrt(gamma / (3 - 2 sqrt 2))
        S     = 2 (e^alpha - 1) / (1 + e^alpha)  (= 2 tanh(alpha / 2))
    and, as in the paper, a negative S is set to 0. (Pairing a bar with itself gives alpha = 0
    exactly, so a lone bar carries no spread information.) Why by hand: a few numpy lines, and no
    well-kept library exposes it.
    """
    close_ = _as_prices(close, "close")
    high_ = _as_prices(high, "high", close_.shape)
    low_ = _as_prices(low, "low", close_.shape)
    crossed = high_ < low_
    if crossed.any():
        where = tuple(int(i) for i in np.argwhere(crossed)[0])
        raise InputError(f"high < low at {_where(where)}; fix or drop the bar before estimating spreads")
    spread = np.zeros_like(close_)
    if close_.shape[0] < 2:
        return spread
    previous_close = close_[:-1]
    high_now, low_now = high_[1:], low_[1:]
    gap = np.where(low_now > previous_close, low_now - previous_close, 0.0)
    gap = np.where(high_now < previous_close, high_now - previous_close, gap)
    high_now, low_now = high_now - gap, low_now - gap
    beta = np.log(high_[:-1] / low_[:-1]) ** 2 + np.log(high_now / low_now) ** 2
    gamma = np.log(np.maximum(high_[:-1], high_now) / np.minimum(low_[:-1], low_now)) ** 2
    k = 3.0 - 2.0 * math.sqrt(2.0)
    alpha = (math.sqrt(2.0) - 1.0) * np.sqrt(beta) / k - np.sqrt(gamma / k)
    spread[1:] = np.maximum(2.0 * np.tanh(alpha / 2.0), 0.0)
    return spread


def _known_before(values: np.ndarray) -> np.ndarray:
    """Each bar's value replaced by the previous bar's (bar 0 keeps its own): what is known before the bar trades."""
    shifted = values.copy()
    shifted[1:] = values[:-1]
    return shifted


def half_spread(
    high: ArrayLike,
    low: ArrayLike,
    close: ArrayLike,
    config: VenueConfig,
    bid: ArrayLike | None = None,
    ask: ArrayLike | None = None,
) -> np.ndarray:
    """The half-spread per bar as a fraction of price, shaped like `close` (bars or bars x symbols),
    to be paid by every market fill on that bar (buys above the reference, sells below).

    - "none": 0; "fixed": spread_bps / 2 / 1e4 on every bar.
    - "range": half the Corwin-Schultz estimate (`corwin_schultz`) of bars t-2 and t-1, so the
      value for bar t is known before bar t trades; bars 0 and 1 have no such pair and get 0.
    - "quoted": (ask - bid) / (ask + bid) of bar t-1's quote (bar 0 uses its own): the last quote
      known before bar t trades. Missing columns, NaN or crossed quotes are an error naming the row.
    Never NaN: bad bars are refused rather than passed along.
    """
    close_ = _as_prices(close, "close")
    if config.spread == "none":
        return np.zeros_like(close_)
    if config.spread == "fixed":
        return np.full_like(close_, config.spread_bps / 2.0 / BPS)
    if config.spread == "range":
        return _known_before(corwin_schultz(high, low, close_)) / 2.0
    missing = [name for name, column in (("bid", bid), ("ask", ask)) if column is None]
    if missing:
        raise InputError(
            f"spread 'quoted' needs bid and ask columns but the data has no {' or '.join(missing)}; "
            "add them or use spread 'range' or 'fixed'"
        )
    bid_ = _as_prices(bid, "bid", close_.shape)  # type: ignore[arg-type]  # checked above
    ask_ = _as_prices(ask, "ask", close_.shape)  # type: ignore[arg-type]
    crossed = ask_ < bid_
    if crossed.any():
        where = tuple(int(i) for i in np.argwhere(crossed)[0])
        raise InputError(
            f"crossed quote (ask {ask_[where]:g} < bid {bid_[where]:g}) at {_where(where)}; fix the quotes"
        )
    return _known_before((ask_ - bid_) / (ask_ + bid_))


def bar_volatility(close: ArrayLike, window: int = 30) -> np.ndarray:
    """Per-bar volatility (sample standard deviation of log returns) over the `window` returns
    that end at bar t-1, shaped like `close`: the sigma of square-root impact, known before bar t
    trades. Bars with fewer than two returns behind them get 0 (no impact can be scaled yet)."""
    close_ = _as_prices(close, "close")
    if window < 2:
        raise InputError(f"volatility window must be >= 2 bars, got {window}")
    frame = pd.DataFrame(close_.reshape(close_.shape[0], -1))
    returns = np.log(frame).diff()
    sigma = returns.rolling(window, min_periods=2).std().shift(1).fillna(0.0).to_numpy()
    return np.asarray(sigma.reshape(close_.shape), dtype=np.float64)


def limit_price(kind: Literal["market", "limit"], limit: float | None = None) -> float:
    """The ORD_LIMIT entry of an order row: NaN for a market order, the limit for a limit order.
    Refuses a limit order without a finite positive price, and a market order given one (which
    would silently become a limit order in the compiled book)."""
    if kind == "market":
        if limit is not None:
            raise InputError(f"a market order takes no limit price (got {limit!r}); use kind 'limit' to set one")
        return math.nan
    if kind != "limit":
        raise InputError(f"order kind must be 'market' or 'limit', got {kind!r}")
    if limit is None or not (math.isfinite(limit) and limit > 0):
        raise InputError(f"a limit order needs a limit price > 0, got {limit!r}; pass limit=... or use kind 'market'")
    return float(limit)


@dataclass(frozen=True)
class FillInputs:
    """What a run of bars gives the venue's market orders, computed once before a run:
    `references` (bars, or bars x symbols): the price a delayed market order fills around on each
    bar (the open for close and next_open timing, the VWAP or the typical price otherwise; a fill
    without delay uses the close); `half_spread` likewise, per bar; `latency` the latency in bars
    and `delay` the bars from a decision to its fill (`market_delay`)."""

    references: np.ndarray
    half_spread: np.ndarray
    latency: int
    delay: int


def fill_inputs(
    config: VenueConfig,
    open_: ArrayLike | None,
    high: ArrayLike | None,
    low: ArrayLike | None,
    close: ArrayLike,
    vwap: ArrayLike | None = None,
    timestamps: pd.DatetimeIndex | None = None,
    session_bars: int | None = None,
    bid: ArrayLike | None = None,
    ask: ArrayLike | None = None,
) -> FillInputs:
    """The venue's per-bar inputs for these bars (laid end to end in time order), so the backtest,
    the envs and the paper broker derive them alike. `timestamps` map a `latency_ms` onto the bar
    clock (the median bar step); `session_bars`, the longest session when orders expire with it,
    refuses a delay that could never fill inside a session; `bid` and `ask` serve the quoted
    spread. A column the venue needs but the bars lack is an InputError naming it."""
    close_ = _as_prices(close, "close")
    needs_range = config.spread == "range" or config.fill in ("next_vwap", "next_typical")
    if needs_range and (high is None or low is None):
        what = f"spread {config.spread!r}" if config.spread == "range" else f"fill {config.fill!r}"
        raise InputError(f"{what} needs high and low columns; the bars have none")
    spread = half_spread(close_ if high is None else high, close_ if low is None else low, close_, config, bid, ask)
    bar_duration: pd.Timedelta | None = None
    if config.latency_ms > 0 and timestamps is not None and len(timestamps) > 1:
        bar_duration = pd.Timedelta(int(np.median(np.diff(timestamps.as_unit("ns").asi8))), unit="ns")
    try:
        latency = config.latency_in_bars(bar_duration, session_bars)
    except ConfigError as error:
        raise InputError(str(error)) from None
    delay = int(market_delay(TIMING_CODES[config.fill], latency))
    if session_bars is not None and delay >= session_bars:
        raise InputError(
            f"fills come {delay} bars after each decision ({config.fill} + latency {latency}) but sessions have at "
            f"most {session_bars} bars, and orders expire with the session; lower the latency"
        )
    if config.fill in ("next_vwap", "next_typical"):
        assert high is not None and low is not None  # refused above
        high_ = _as_prices(high, "high", close_.shape)
        low_ = _as_prices(low, "low", close_.shape)
        references = (high_ + low_ + close_) / 3.0
        if config.fill == "next_vwap" and vwap is not None:
            vwap_ = np.asarray(vwap, dtype=np.float64)
            references = np.where(np.isfinite(vwap_), vwap_, references)
    elif delay == 0:
        references = close_
    else:
        if open_ is None:
            raise InputError(f"fill {config.fill!r} with latency {latency} fills at the open; the bars have no open")
        references = _as_prices(open_, "open", close_.shape)
    return FillInputs(np.ascontiguousarray(references), np.ascontiguousarray(spread, dtype=np.float64), latency, delay)


FILL_OPTIONS = {"close": "close", "next-open": "next_open", "next-vwap": "next_vwap", "next-typical": "next_typical"}
"""The command line's names of the fill timings (`--fill`), hyphenated like every option value."""


def venue_from_options(
    base: VenueConfig,
    fill: str | None = None,
    spread: str | None = None,
    spread_bps: float | None = None,
    latency_bars: int | None = None,
) -> VenueConfig:
    """`base` with the command line's venue options applied (None: keep base's): `--fill`,
    `--spread`, `--spread-bps`, `--latency-bars`. An InputError names the option and its fix, so
    every command that takes them refuses the same mistakes with the same words."""
    update: dict[str, object] = {}
    if fill is not None:
        timing = FILL_OPTIONS.get(fill, fill if fill in TIMING_CODES else None)
        if timing is None:
            raise InputError(f"--fill must be one of {', '.join(FILL_OPTIONS)}, got {fill!r}")
        update["fill"] = timing
    if spread is not None:
        if spread not in ("none", "fixed", "range", "quoted"):
            raise InputError(f"--spread must be one of none, fixed, range, quoted; got {spread!r}")
        update["spread"] = spread
    if spread_bps is not None:
        if not (math.isfinite(spread_bps) and spread_bps >= 0):
            raise InputError(f"--spread-bps is a full spread in basis points and must be >= 0, got {spread_bps:g}")
        update["spread_bps"] = spread_bps
    if latency_bars is not None:
        if latency_bars < 0:
            raise InputError(f"--latency-bars is a delay in bars and must be >= 0, got {latency_bars}")
        update["latency_bars"] = latency_bars
    venue = VenueConfig.model_validate(base.model_dump() | update)
    if venue.spread_bps > 0 and venue.spread != "fixed":
        raise InputError(f"--spread-bps {venue.spread_bps:g} applies only with --spread fixed (got {venue.spread})")
    return venue
