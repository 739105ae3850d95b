"""The simulated venue against hand-computed cases: fill timing and latency, the participation cap
and partial fills, limit orders, spread (Corwin-Schultz, fixed, quoted), impact, fees, and the
config's refusals of bad settings, each naming the field."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pydantic
import pytest

from tradebrain.core.errors import ConfigError, InputError
from tradebrain.market.fills import (
    BUY,
    FILL_BAR,
    FILL_FEE,
    FILL_PRICE,
    FILL_QUANTITY,
    FILL_SYMBOL,
    ORD_REMAINING,
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
    add_order,
    cancel_orders,
    limit_fill,
    market_price,
    match_orders,
    participation_fill,
    reference_price,
    sqrt_impact,
    ticket_fee,
    working_quantity,
)
from tradebrain.market.venue import (
    VenueConfig,
    bar_volatility,
    corwin_schultz,
    half_spread,
    limit_price,
)

NAN = math.nan


class Bars:
    """Per-bar arrays of one symbol, (bars, 1), with the matching venue inputs and a book."""

    def __init__(
        self,
        opens: list[float],
        highs: list[float],
        lows: list[float],
        closes: list[float],
        volumes: list[float] | None = None,
        vwaps: list[float] | None = None,
    ) -> None:
        column = lambda values: np.asarray(values, dtype=np.float64).reshape(-1, 1)  # noqa: E731
        self.opens, self.highs, self.lows, self.closes = column(opens), column(highs), column(lows), column(closes)
        n = self.opens.shape[0]
        self.volumes = column(volumes) if volumes is not None else np.full((n, 1), 1e6)
        self.vwaps = column(vwaps) if vwaps is not None else np.full((n, 1), NAN)
        self.half_spreads = np.zeros((n, 1))
        self.sigmas = np.zeros((n, 1))
        self.orders = np.zeros((16, len(ORDER_COLUMNS)))
        self.n_orders = 0
        self.fills = np.zeros((64, 5))
        self.n_fills = 0

    def submit(self, quantity: float, bar: int, latency: int = 0, limit: float = NAN) -> None:
        self.n_orders = add_order(self.orders, self.n_orders, 0, quantity, limit, bar, latency, float(self.n_orders))

    def match(self, t: int, params: np.ndarray) -> np.ndarray:
        """Match bar t; the fill rows it wrote."""
        before = self.n_fills
        self.n_orders, self.n_fills = match_orders(
            self.orders, self.n_orders, t, self.opens, self.highs, self.lows, self.closes, self.vwaps, self.volumes,
            self.half_spreads, self.sigmas, params, self.fills, self.n_fills,
        )  # fmt: skip
        return self.fills[before : self.n_fills].copy()


def flat_bars(n: int, volume: float = 1_000.0) -> Bars:
    """n bars with open 100 + t, high +2, low -2, close +1 (every price distinct, so a fill names its source)."""
    opens = [100.0 + t for t in range(n)]
    return Bars(opens, [o + 2 for o in opens], [o - 2 for o in opens], [o + 1 for o in opens], [volume] * n)


# ----------------------------------------------------------------------------- participation


def test_ten_percent_cap_fills_100_of_1000_and_carries_900_to_later_bars() -> None:
    bars = flat_bars(12)
    params = VenueConfig(participation=0.1, spread="none").params()
    bars.submit(1_000.0, bar=0)
    first = bars.match(1, params)
    assert first[:, FILL_QUANTITY].tolist() == [100.0]
    assert first[0, FILL_PRICE] == 101.0  # bar 1's open
    assert bars.n_orders == 1 and bars.orders[0, ORD_REMAINING] == 900.0
    quantities = [bars.match(t, params)[:, FILL_QUANTITY].tolist() for t in range(2, 12)]
    assert quantities == [[100.0]] * 9 + [[]]  # the 900 carried fill as nine partial fills, then nothing left
    assert bars.n_orders == 0
    assert bars.fills[: bars.n_fills, FILL_QUANTITY].sum() == 1_000.0
    assert bars.fills[: bars.n_fills, FILL_BAR].tolist() == list(range(1, 11))


def test_cancelled_rest_stops_filling() -> None:
    bars = flat_bars(5)
    params = VenueConfig(participation=0.1, spread="none").params()
    bars.submit(-1_000.0, bar=0)
    assert bars.match(1, params)[:, FILL_QUANTITY].tolist() == [-100.0]
    assert working_quantity(bars.orders, bars.n_orders, 0) == -900.0
    bars.n_orders = cancel_orders(bars.orders, bars.n_orders, 0)
    assert bars.n_orders == 0
    assert bars.match(2, params).shape[0] == 0


def test_cap_is_shared_by_a_symbols_orders_in_submission_order() -> None:
    bars = flat_bars(3)
    params = VenueConfig(participation=0.1, spread="none").params()
    bars.submit(80.0, bar=0)
    bars.submit(80.0, bar=0)
    assert bars.match(1, params)[:, FILL_QUANTITY].tolist() == [80.0, 20.0]
    assert bars.orders[: bars.n_orders, ORD_REMAINING].tolist() == [60.0]
    # a second call on the same bar (say, at the close) finds the bar's volume used up
    assert bars.match(1, params).shape[0] == 0
    assert bars.match(2, params)[:, FILL_QUANTITY].tolist() == [60.0]


def test_no_volume_fills_nothing_under_a_cap_and_everything_without() -> None:
    assert participation_fill(500.0, 0.0, 0.1, False) == 0.0
    assert participation_fill(500.0, NAN, 0.1, False) == 0.0
    assert participation_fill(-500.0, 0.0, NAN, False) == -500.0


def test_participation_whole_shares_floor_only_the_capped_amount() -> None:
    assert participation_fill(10.0, 15.0, 0.1, True) == 1.0  # 1.5 shares of room
    assert participation_fill(10.0, 15.0, 0.1, False) == 1.5
    assert participation_fill(-40.0, 100.0, 0.29, True) == -29.0  # 0.29 * 100 is 28.999999999999996 in floats
    assert participation_fill(0.5, 15.0, 0.1, True) == 0.5  # fits: filled as asked
    assert participation_fill(5.0, 100.0, 1.0, False) == 5.0  # cap 1: up to the bar's volume
    assert participation_fill(500.0, 100.0, 1.0, False) == 100.0


# ----------------------------------------------------------------------------- timing and latency


def test_one_bar_of_latency_with_market_orders_equals_a_next_open_fill() -> None:
    """Decided at the close of bar 2: close timing fills at bar 2's close (optimistic); with one bar
    of latency it reaches the venue in bar 3 and fills at bar 3's open, which is exactly where a
    next-open fill without latency goes; a bar of latency on top of next-open moves it one more bar."""
    bar = 2
    rows = {}
    for name, fill, latency in [
        ("close", "close", 0),
        ("close+1", "close", 1),
        ("next_open", "next_open", 0),
        ("next_open+1", "next_open", 1),
        ("next_open+2", "next_open", 2),
    ]:
        bars = flat_bars(8)
        params = VenueConfig(fill=fill, spread="none", latency_bars=latency).params()
        bars.submit(10.0, bar=bar, latency=int(params[V_LATENCY]))
        rows[name] = np.vstack([bars.match(t, params) for t in range(bar, 8)])[:, [FILL_BAR, FILL_PRICE]].tolist()
    assert rows["close"] == [[2.0, 103.0]]  # bar 2's close, 102 + 1
    assert rows["close+1"] == [[3.0, 103.0]]  # bar 3's open
    assert rows["next_open"] == rows["close+1"]
    assert rows["next_open+1"] == [[4.0, 104.0]]  # each bar of latency on top moves the fill one bar
    assert rows["next_open+2"] == [[5.0, 105.0]]


def test_latency_holds_an_order_until_its_active_bar() -> None:
    bars = flat_bars(6)
    params = VenueConfig(fill="next_open", spread="none", latency_bars=3).params()
    bars.submit(5.0, bar=0, latency=3)
    assert [bars.match(t, params).shape[0] for t in range(0, 4)] == [0, 0, 0, 0]
    assert bars.match(4, params)[:, FILL_PRICE].tolist() == [104.0]  # the open one bar after it arrives


def test_next_timings_never_fill_on_the_decision_bar() -> None:
    for fill in ("next_open", "next_vwap", "next_typical"):
        bars = flat_bars(3)
        bars.submit(5.0, bar=1)
        assert bars.match(1, VenueConfig(fill=fill).params()).shape[0] == 0


def test_vwap_and_typical_reference_prices() -> None:
    bars = Bars(
        [100.0, 100.0, 100.0], [105.0, 105.0, 105.0], [96.0, 96.0, 96.0], [102.0, 102.0, 99.0], vwaps=[NAN, 101.5, NAN]
    )
    vwap = VenueConfig(fill="next_vwap", spread="none").params()
    bars.submit(1.0, bar=0)
    bars.submit(1.0, bar=1)
    assert bars.match(1, vwap)[:, FILL_PRICE].tolist() == [101.5]
    assert bars.match(2, vwap)[:, FILL_PRICE].tolist() == [100.0]  # no VWAP: typical (105 + 96 + 99) / 3
    assert reference_price(100.0, 105.0, 96.0, 102.0, NAN, TIMING_NEXT_TYPICAL) == pytest.approx(101.0)
    assert reference_price(100.0, 105.0, 96.0, 102.0, 101.5, TIMING_NEXT_TYPICAL) == pytest.approx(101.0)
    assert reference_price(100.0, 105.0, 96.0, 102.0, 101.5, TIMING_NEXT_VWAP) == 101.5
    assert reference_price(100.0, 105.0, 96.0, 102.0, 101.5, TIMING_NEXT_OPEN) == 100.0
    assert reference_price(100.0, 105.0, 96.0, 102.0, 101.5, TIMING_CLOSE) == 102.0


# ----------------------------------------------------------------------------- prices and costs


def test_market_price_moves_against_the_order() -> None:
    # half-spread 5 bps, slippage 2 bps, impact 3 bps: 10 bps on 100
    assert market_price(100.0, BUY, 5e-4, 2e-4, 3e-4) == pytest.approx(100.10)
    assert market_price(100.0, SELL, 5e-4, 2e-4, 3e-4) == pytest.approx(99.90)


def test_market_fill_pays_spread_slippage_and_impact() -> None:
    bars = flat_bars(3, volume=10_000.0)
    bars.half_spreads[:] = 5e-4
    bars.sigmas[:] = 0.02
    params = VenueConfig(slippage_bps=2.0, impact="sqrt", impact_coefficient=0.5).params()
    bars.submit(-250.0, bar=0)
    row = bars.match(1, params)[0]
    impact = 0.5 * 0.02 * math.sqrt(250.0 / 10_000.0)  # 0.00158113883
    assert impact == pytest.approx(0.00158113883)
    assert row[FILL_PRICE] == pytest.approx(101.0 * (1.0 - 5e-4 - 2e-4 - impact))
    assert row[FILL_QUANTITY] == -250.0 and row[FILL_SYMBOL] == 0.0


def test_sqrt_impact_hand_cases() -> None:
    assert sqrt_impact(250.0, 10_000.0, 0.02, 0.5) == pytest.approx(0.5 * 0.02 * 0.15811388300841897)
    assert sqrt_impact(-10_000.0, 10_000.0, 0.02, 0.5) == pytest.approx(0.01)  # the whole bar: coefficient * sigma
    assert sqrt_impact(100.0, 0.0, 0.02, 0.5) == pytest.approx(0.01)  # an empty bar counts as the whole bar
    assert sqrt_impact(100.0, 1_000.0, NAN, 0.5) == 0.0
    assert sqrt_impact(100.0, 1_000.0, 0.02, 0.0) == 0.0


def test_fees_per_share_rate_and_minimum() -> None:
    assert ticket_fee(100.0, 50.0, 0.005, 0.0, 0.0) == pytest.approx(0.5)  # 100 shares x $0.005
    assert ticket_fee(-100.0, 50.0, 0.0, 0.001, 0.0) == pytest.approx(5.0)  # 10 bps of $5,000
    assert ticket_fee(100.0, 50.0, 0.005, 0.001, 0.0) == pytest.approx(5.5)
    assert ticket_fee(100.0, 50.0, 0.005, 0.0, 1.0) == 1.0  # $0.50 raised to the $1 minimum
    assert ticket_fee(1_000.0, 50.0, 0.005, 0.0, 1.0) == pytest.approx(5.0)  # above the minimum
    assert ticket_fee(0.0, 50.0, 0.005, 0.001, 1.0) == 0.0  # no fill, no minimum


def test_each_partial_fill_is_a_ticket() -> None:
    bars = flat_bars(4)
    params = VenueConfig(participation=0.1, spread="none", fee_per_share=0.005, min_fee=1.0).params()
    bars.submit(150.0, bar=0)
    fees = np.vstack([bars.match(t, params) for t in (1, 2)])[:, FILL_FEE].tolist()
    assert fees == [1.0, 1.0]  # 100 shares = $0.50 and 50 shares = $0.25, each raised to the minimum


# ----------------------------------------------------------------------------- limit orders


def test_limit_fill_hand_cases() -> None:
    # buy limit 99: a bar from 100 down to 98 trades through it: filled at the limit
    assert limit_fill(BUY, 99.0, 100.0, 101.0, 98.0) == 99.0
    # opening below the limit: filled at the better open
    assert limit_fill(BUY, 99.0, 98.5, 99.5, 98.0) == 98.5
    # touching is not trading through
    assert math.isnan(limit_fill(BUY, 98.0, 100.0, 101.0, 98.0))
    assert limit_fill(SELL, 101.0, 100.0, 102.0, 99.0) == 101.0
    assert limit_fill(SELL, 101.0, 101.5, 102.0, 99.0) == 101.5
    assert math.isnan(limit_fill(SELL, 102.0, 100.0, 102.0, 99.0))


def test_limit_order_waits_for_a_later_bar_and_pays_no_spread() -> None:
    bars = Bars([100.0, 100.0, 100.0], [101.0, 100.5, 100.5], [98.0, 99.5, 97.0], [100.0, 100.0, 99.0])
    bars.half_spreads[:] = 0.01
    params = VenueConfig(fill="close", slippage_bps=5.0, fee_rate=0.001).params()
    bars.submit(10.0, bar=0, limit=98.5)
    assert bars.match(0, params).shape[0] == 0  # bar 0 traded through 98.5, but the order was decided at its close
    assert bars.match(1, params).shape[0] == 0  # bar 1's low 99.5 stays above the limit
    row = bars.match(2, params)[0]
    assert row[FILL_PRICE] == 98.5 and row[FILL_QUANTITY] == 10.0
    assert row[FILL_FEE] == pytest.approx(0.001 * 10 * 98.5)
    assert bars.n_orders == 0


def test_limit_price_refuses_a_limit_order_without_a_price() -> None:
    assert math.isnan(limit_price("market"))
    assert limit_price("limit", 101.25) == 101.25
    with pytest.raises(InputError, match="limit order needs a limit price"):
        limit_price("limit")
    with pytest.raises(InputError, match="limit order needs a limit price"):
        limit_price("limit", NAN)
    with pytest.raises(InputError, match="market order takes no limit price"):
        limit_price("market", 100.0)


def test_full_fill_buffer_leaves_orders_working() -> None:
    bars = flat_bars(3)
    bars.fills = np.zeros((1, 5))
    params = VenueConfig(spread="none").params()
    bars.submit(1.0, bar=0)
    bars.submit(2.0, bar=0)
    rows = bars.match(1, params)
    assert rows[:, FILL_QUANTITY].tolist() == [1.0]
    assert bars.n_fills == 1 and bars.orders[: bars.n_orders, ORD_REMAINING].tolist() == [2.0]


def test_add_order_reports_a_full_book() -> None:
    orders = np.zeros((1, len(ORDER_COLUMNS)))
    assert add_order(orders, 0, 0, 0.0, NAN, 0, 0, 0.0) == 0  # nothing to add
    assert add_order(orders, 0, 0, 1.0, NAN, 0, 0, 0.0) == 1
    assert add_order(orders, 1, 0, 1.0, NAN, 0, 0, 1.0) == -1


def test_cancel_keeps_other_symbols_in_order_and_negative_cancels_all() -> None:
    orders = np.zeros((4, len(ORDER_COLUMNS)))
    n = 0
    for symbol, quantity in [(0, 1.0), (1, 2.0), (0, 3.0), (2, 4.0)]:
        n = add_order(orders, n, symbol, quantity, NAN, 0, 0, quantity)
    n = cancel_orders(orders, n, 0)
    assert orders[:n, ORD_REMAINING].tolist() == [2.0, 4.0]
    assert cancel_orders(orders, n, -1) == 0


# ----------------------------------------------------------------------------- spread


def test_corwin_schultz_two_identical_bars_is_their_range() -> None:
    """Two bars of high 101 and low 99: beta = 2 ln(101/99)^2 and gamma = ln(101/99)^2, so
    alpha = ln(101/99) and S = 2 (101/99 - 1) / (1 + 101/99) = 2 (101 - 99) / (101 + 99) = 0.02:
    with no price change between the bars, the whole range is bid-ask bounce."""
    spread = corwin_schultz([101.0, 101.0], [99.0, 99.0], [100.0, 100.0])
    assert spread.tolist() == [0.0, pytest.approx(0.02)]


def test_corwin_schultz_removes_the_gap_between_bars() -> None:
    """Bar 1 (103/101) opens above bar 0's close of 99: shifted down by the gap of 2 it is bar 0
    again (101/99), so S = 0.02. Unadjusted, alpha would be about -0.028 and S would be 0."""
    spread = corwin_schultz([101.0, 103.0], [99.0, 101.0], [99.0, 102.0])
    assert spread[1] == pytest.approx(0.02)
    down = corwin_schultz([101.0, 97.0], [99.0, 95.0], [101.0, 96.0])  # a gap down by 4 from a close at the high
    assert down[1] == pytest.approx(0.02)


def test_corwin_schultz_negative_estimate_is_zero() -> None:
    # a trending pair: alpha = -0.0041 (beta 0.00077663, gamma 0.00087372), set to 0 as in the paper
    assert corwin_schultz([102.0, 103.0], [100.0, 101.0], [101.0, 102.0]).tolist() == [0.0, 0.0]


def test_zero_range_gives_zero_spread() -> None:
    closes = [100.0, 100.0, 100.5, 101.0]
    assert corwin_schultz(closes, closes, closes).tolist() == [0.0] * 4
    assert half_spread(closes, closes, closes, VenueConfig(spread="range")).tolist() == [0.0] * 4


def test_range_half_spread_uses_only_bars_before_the_fill_bar() -> None:
    high = [101.0, 101.0, 130.0, 101.0]
    low = [99.0, 99.0, 70.0, 99.0]
    close = [100.0, 100.0, 100.0, 100.0]
    hs = half_spread(high, low, close, VenueConfig(spread="range"))
    # bars 0 and 1 have no earlier pair; bar 2 uses bars 0-1 (0.02 / 2); bar 3 uses bars 1-2
    assert hs[:3].tolist() == [0.0, 0.0, pytest.approx(0.01)]
    assert hs[3] == pytest.approx(corwin_schultz(high, low, close)[2] / 2)


def test_half_spread_2d_has_the_shape_of_close() -> None:
    high = np.array([[101.0, 50.5], [101.0, 50.5], [101.0, 50.5]])
    low = np.array([[99.0, 49.5], [99.0, 49.5], [99.0, 49.5]])
    close = np.array([[100.0, 50.0]] * 3)
    hs = half_spread(high, low, close, VenueConfig(spread="range"))
    assert hs.shape == (3, 2)
    assert hs[2].tolist() == [pytest.approx(0.01), pytest.approx(0.01)]


def test_fixed_and_none_spread() -> None:
    close = np.full((4, 2), 100.0)
    assert half_spread(close, close, close, VenueConfig(spread="fixed", spread_bps=3.0)).tolist() == [[1.5e-4] * 2] * 4
    assert half_spread(close, close, close, VenueConfig(spread="none")).tolist() == [[0.0] * 2] * 4


def test_quoted_spread_from_bid_ask_known_before_the_bar() -> None:
    close = [100.0, 100.0, 100.0]
    bid = [99.9, 99.95, 99.0]
    ask = [100.1, 100.05, 101.0]
    hs = half_spread(close, close, close, VenueConfig(spread="quoted"), bid=bid, ask=ask)
    # bar t pays bar t-1's quote: (ask - bid) / (ask + bid); bar 0 its own
    assert hs.tolist() == [pytest.approx(0.001), pytest.approx(0.001), pytest.approx(0.0005)]


def test_quoted_spread_without_quotes_names_the_missing_columns() -> None:
    close = [100.0, 100.0]
    with pytest.raises(InputError, match="no bid or ask"):
        half_spread(close, close, close, VenueConfig(spread="quoted"))
    with pytest.raises(InputError, match="no ask"):
        half_spread(close, close, close, VenueConfig(spread="quoted"), bid=close)


def test_quoted_spread_refuses_nan_and_crossed_quotes_naming_the_row() -> None:
    close = [100.0, 100.0, 100.0]
    config = VenueConfig(spread="quoted")
    with pytest.raises(InputError, match="bid at row 1"):
        half_spread(close, close, close, config, bid=[99.0, NAN, 99.0], ask=[101.0] * 3)
    with pytest.raises(InputError, match=r"crossed quote .* at row 2"):
        half_spread(close, close, close, config, bid=[99.0, 99.0, 101.5], ask=[101.0] * 3)


def test_range_refuses_bad_bars_naming_the_row() -> None:
    with pytest.raises(InputError, match="high < low at row 1, column 0"):
        corwin_schultz([[101.0], [98.0]], [[99.0], [99.0]], [[100.0], [100.0]])
    with pytest.raises(InputError, match="low at row 0"):
        corwin_schultz([101.0], [NAN], [100.0])
    with pytest.raises(InputError, match="shape"):
        corwin_schultz([101.0, 101.0], [99.0], [100.0, 100.0])


def test_bar_volatility_uses_returns_before_the_bar() -> None:
    close = 100.0 * np.exp(np.array([0.0, 0.01, -0.01, 0.02, 0.02]).cumsum())
    sigma = bar_volatility(close, window=3)
    # bar 3: the returns into bars 1 and 2 (0.01, -0.01); bar 4: 0.01, -0.01, 0.02
    assert sigma[:3].tolist() == [0.0, 0.0, 0.0]
    assert sigma[3] == pytest.approx(np.std([0.01, -0.01], ddof=1))
    assert sigma[4] == pytest.approx(np.std([0.01, -0.01, 0.02], ddof=1))


# ----------------------------------------------------------------------------- config


def test_defaults_are_next_open_with_range_spread() -> None:
    config = VenueConfig()
    assert (config.fill, config.spread, config.optimistic) == ("next_open", "range", False)
    assert config.label() == "next open, range spread"


def test_close_fills_are_labelled_optimistic() -> None:
    config = VenueConfig(fill="close", spread="fixed", spread_bps=2.0, participation=0.1, latency_bars=1)
    assert config.optimistic
    assert config.label().startswith("optimistic: same-bar close")
    assert config.label() == "optimistic: same-bar close, spread 2 bps, 10% participation, latency 1 bar"


def test_params_pack_fractions_into_their_slots() -> None:
    params = VenueConfig(
        fill="next_vwap", slippage_bps=3.0, impact="sqrt", impact_coefficient=0.7, participation=0.25,
        latency_bars=2, fee_per_share=0.005, fee_rate=0.0002, min_fee=1.0,
    ).params(whole_shares=True)  # fmt: skip
    assert params.dtype == np.float64
    assert params[V_TIMING] == TIMING_NEXT_VWAP
    assert params[V_SLIPPAGE] == pytest.approx(3e-4)
    assert (params[V_IMPACT], params[V_PARTICIPATION], params[V_LATENCY]) == (0.7, 0.25, 2.0)
    assert (params[V_FEE_PER_SHARE], params[V_FEE_RATE], params[V_MIN_FEE], params[V_WHOLE]) == (
        0.005,
        0.0002,
        1.0,
        1.0,
    )
    unset = VenueConfig(impact_coefficient=0.7).params()  # impact "none" ignores the coefficient
    assert unset[V_IMPACT] == 0.0 and math.isnan(unset[V_PARTICIPATION]) and unset[V_WHOLE] == 0.0


@pytest.mark.parametrize(
    ("ms", "bars"), [(1.0, 1), (50.0, 1), (60_000.0, 1), (60_001.0, 2), (150_000.0, 3)]
)  # fmt: skip
def test_latency_ms_rounds_up_to_whole_bars(ms: float, bars: int) -> None:
    config = VenueConfig(latency_ms=ms)
    assert config.latency_in_bars(pd.Timedelta("1min")) == bars
    assert config.params(pd.Timedelta("1min"))[V_LATENCY] == bars


def test_latency_as_long_as_the_session_is_refused_naming_the_field() -> None:
    assert VenueConfig(latency_bars=389).latency_in_bars(session_bars=390) == 389
    with pytest.raises(ConfigError, match=r"latency_bars .* as long as or longer than the session"):
        VenueConfig(latency_bars=390).latency_in_bars(session_bars=390)
    with pytest.raises(ConfigError, match=r"latency_ms .* as long as or longer than the session"):
        VenueConfig(latency_ms=30 * 60_000.0).params(pd.Timedelta("1min"), session_bars=30)
    with pytest.raises(ConfigError, match="latency_ms = 50 needs the bar duration"):
        VenueConfig(latency_ms=50.0).params()


@pytest.mark.parametrize(
    ("settings", "field", "hint"),
    [
        ({"spread_bps": -1.0}, "spread_bps", "must be >= 0"),
        ({"slippage_bps": -0.5}, "slippage_bps", "must be >= 0"),
        ({"impact_coefficient": -0.1}, "impact_coefficient", "must be >= 0"),
        ({"participation": 0.0}, "participation", r"in \(0, 1\]"),
        ({"participation": 1.5}, "participation", r"in \(0, 1\]"),
        ({"participation": -0.1}, "participation", r"in \(0, 1\]"),
        ({"latency_bars": -1}, "latency_bars", "must be >= 0"),
        ({"latency_ms": -5.0}, "latency_ms", "must be >= 0"),
        ({"latency_ms": 50.0, "latency_bars": 1}, "latency_ms", "give the latency once"),
        ({"fee_rate": 0.1}, "fee_rate", r"in \[0, 0.1\)"),
        ({"fee_rate": -0.001}, "fee_rate", r"in \[0, 0.1\)"),
        ({"fee_per_share": -0.01}, "fee_per_share", "must be >= 0"),
        ({"min_fee": -1.0}, "min_fee", "must be >= 0"),
        ({"volatility_window": 1}, "volatility_window", ">= 2"),
        ({"spread_bps": math.nan}, "spread_bps", "finite"),
        ({"fill": "same_bar"}, "fill", "next_open"),
        ({"spred": "fixed"}, "spred", "Extra inputs"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings: dict[str, object], field: str, hint: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        VenueConfig(**settings)  # type: ignore[arg-type]
    message = str(caught.value)
    assert field in message
    assert caught.match(hint)
    assert isinstance(caught.value, ValueError)


def test_accepted_edges() -> None:
    assert VenueConfig(participation=1.0).participation == 1.0
    assert VenueConfig(fee_rate=0.0999).fee_rate == 0.0999
    assert VenueConfig(latency_ms=0.0, latency_bars=3).latency_bars == 3


# ------------------------------------------------------------- per-bar fill inputs and CLI options


def test_fill_inputs_give_each_timing_its_reference_and_delay() -> None:
    from tradebrain.market.venue import fill_inputs

    open_ = np.array([10.0, 11.0, 12.0, 13.0])
    high, low, close = open_ + 1.0, open_ - 1.0, open_ + 0.5
    vwap = np.array([10.2, np.nan, 12.2, 13.2])
    typical = (high + low + close) / 3.0
    cases = {
        VenueConfig(fill="close", spread="none"): (close, 0),
        VenueConfig(fill="close", spread="none", latency_bars=1): (open_, 1),  # one bar late: the open
        VenueConfig(fill="next_open", spread="none"): (open_, 1),
        VenueConfig(fill="next_typical", spread="none", latency_bars=2): (typical, 3),
        VenueConfig(fill="next_vwap", spread="none"): (np.where(np.isnan(vwap), typical, vwap), 1),
    }
    for venue, (references, delay) in cases.items():
        inputs = fill_inputs(venue, open_, high, low, close, vwap)
        np.testing.assert_array_equal(inputs.references, references, err_msg=venue.label())
        assert inputs.delay == delay
        np.testing.assert_array_equal(inputs.half_spread, np.zeros(4))
    fixed = fill_inputs(VenueConfig(spread="fixed", spread_bps=6.0), open_, high, low, close)
    np.testing.assert_allclose(fixed.half_spread, 3e-4)


def test_fill_inputs_map_milliseconds_and_refuse_what_the_bars_cannot_serve() -> None:
    from tradebrain.market.venue import fill_inputs

    stamps = pd.date_range("2024-01-02 14:30", periods=5, freq="1min", tz="UTC")
    close = np.full(5, 10.0)
    late = fill_inputs(VenueConfig(spread="none", latency_ms=90_000), close, None, None, close, None, stamps)
    assert (late.latency, late.delay) == (2, 3)  # 90 s on one-minute bars: two bars late, filled the bar after
    with pytest.raises(InputError, match="high and low"):
        fill_inputs(VenueConfig(spread="range"), close, None, None, close)
    with pytest.raises(InputError, match="latency"):
        fill_inputs(VenueConfig(spread="none", latency_bars=4), close, None, None, close, session_bars=5)


def test_venue_options_of_the_command_line() -> None:
    from tradebrain.market.venue import venue_from_options

    base = VenueConfig()
    venue = venue_from_options(base, "next-vwap", "fixed", 4.0, 2)
    assert (venue.fill, venue.spread, venue.spread_bps, venue.latency_bars) == ("next_vwap", "fixed", 4.0, 2)
    assert venue_from_options(base) == base
    for args, option in (
        (("tomorrow",), "--fill"),
        ((None, "wide"), "--spread"),
        ((None, "fixed", -1.0), "--spread-bps"),
        ((None, None, None, -2), "--latency-bars"),
        ((None, "range", 3.0), "--spread-bps"),  # a fixed width with a range spread
    ):
        with pytest.raises(InputError, match=option):
            venue_from_options(base, *args)
