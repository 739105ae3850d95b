"""Property tests of the simulated venue over generated bars, orders and settings.

A scenario is 2-10 bars of 1-3 symbols (low in [50, 150], high up to 8% above, open, close and
VWAP inside the range, the VWAP sometimes missing, volume 0-5,000 shares), per-bar half-spreads
and volatilities, a venue setting (any timing, slippage, impact, participation cap or none, whole
shares or not, fees) and a list of market and limit orders with their decision bars and latencies.
The book is run as a loop would: at each bar, match (orders decided earlier), add the orders decided
at the bar, and match again (close fills of the bar's own decisions). Fill rows are tied back to
their orders through the book before and after each call (fills are written in submission order).
Examples are derandomized (fixed seed) so every run checks the same cases.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebrain.market.fills import (
    FILL_BAR,
    FILL_FEE,
    FILL_PRICE,
    FILL_QUANTITY,
    FILL_SYMBOL,
    ORD_ACTIVE,
    ORD_ID,
    ORD_REMAINING,
    ORD_SUBMIT,
    ORDER_COLUMNS,
    TIMING_CLOSE,
    V_FEE_PER_SHARE,
    V_FEE_RATE,
    V_IMPACT,
    V_MIN_FEE,
    V_PARTICIPATION,
    V_SLIPPAGE,
    V_TIMING,
    add_order,
    limit_fill,
    match_orders,
    sqrt_impact,
    ticket_fee,
)
from tradebrain.market.venue import VenueConfig, bar_volatility, corwin_schultz, half_spread

EXAMPLES = 600
REL = 1e-9
PROPERTY = settings(
    max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

unit = st.floats(0.0, 1.0)


@st.composite
def bar_arrays(draw: st.DrawFn, n_bars: int, n_symbols: int) -> dict[str, np.ndarray]:
    """Consistent OHLC, VWAP (NaN about a fifth of the time) and volume arrays of shape (bars, symbols)."""
    shape = (n_bars, n_symbols)
    size = n_bars * n_symbols
    fractions = np.array(draw(st.lists(unit, min_size=5 * size, max_size=5 * size))).reshape(5, *shape)
    low = 50.0 + 100.0 * fractions[0]
    high = low * (1.0 + 0.08 * fractions[1])
    inside = lambda f: low + f * (high - low)  # noqa: E731
    vwap = inside(fractions[4])
    missing = np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size))).reshape(shape)
    vwap[missing & (fractions[4] < 0.6)] = math.nan
    volume = np.array(draw(st.lists(st.integers(0, 5_000), min_size=size, max_size=size)), dtype=float)
    return {
        "opens": inside(fractions[2]),
        "highs": high,
        "lows": low,
        "closes": inside(fractions[3]),
        "vwaps": vwap,
        "volumes": volume.reshape(shape),
        "half_spreads": 0.01 * np.array(draw(st.lists(unit, min_size=size, max_size=size))).reshape(shape),
        "sigmas": 0.05 * np.array(draw(st.lists(unit, min_size=size, max_size=size))).reshape(shape),
    }


@st.composite
def venues(draw: st.DrawFn) -> tuple[VenueConfig, bool]:
    config = VenueConfig(
        fill=draw(st.sampled_from(["close", "next_open", "next_vwap", "next_typical"])),
        spread="none",  # the half-spreads are drawn per bar
        slippage_bps=draw(st.sampled_from([0.0, 1.0, 20.0])),
        impact=draw(st.sampled_from(["none", "sqrt"])),
        impact_coefficient=draw(st.sampled_from([0.0, 0.3, 1.0])),
        participation=draw(st.sampled_from([None, 0.01, 0.1, 0.29, 1.0])),
        fee_per_share=draw(st.sampled_from([0.0, 0.005])),
        fee_rate=draw(st.sampled_from([0.0, 0.001])),
        min_fee=draw(st.sampled_from([0.0, 1.0])),
    )
    return config, draw(st.booleans())


@dataclass(frozen=True)
class Plan:
    bars: dict[str, np.ndarray]
    config: VenueConfig
    whole: bool
    orders: list[tuple[int, int, float, float, int]]  # decision bar, symbol, quantity, limit (NaN market), latency


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    n_bars = draw(st.integers(2, 10))
    n_symbols = draw(st.integers(1, 3))
    bars = draw(bar_arrays(n_bars, n_symbols))
    config, whole = draw(venues())
    orders = []
    for _ in range(draw(st.integers(0, 8))):
        bar = draw(st.integers(0, n_bars - 1))
        symbol = draw(st.integers(0, n_symbols - 1))
        shares = draw(st.integers(1, 3_000)) * draw(st.sampled_from([1.0, -1.0]))
        quantity = shares if whole else shares / 7.0
        limit = math.nan
        if draw(st.booleans()):
            limit = 50.0 + 110.0 * draw(unit)
        orders.append((bar, symbol, quantity, limit, draw(st.integers(0, 3))))
    return Plan(bars, config, whole, orders)


@dataclass
class Record:
    """What one fill row was: its bar, symbol, quantity, price, fee and the order it came from."""

    row: np.ndarray
    submitted: np.ndarray  # the order row (before the call) that this fill reduced


def run(plan: Plan) -> tuple[list[Record], np.ndarray, dict[float, float]]:
    """Run the book over every bar; (fill records, params, remaining quantity per order id)."""
    b = plan.bars
    params = plan.config.params(whole_shares=plan.whole)
    n_bars = b["opens"].shape[0]
    orders = np.zeros((len(plan.orders) + 1, len(ORDER_COLUMNS)))
    fills = np.zeros((8 * len(plan.orders) * n_bars + 1, 5))
    n_orders = n_fills = 0
    records: list[Record] = []

    def match(t: int) -> None:
        nonlocal n_orders, n_fills
        before = orders[:n_orders].copy()
        first = n_fills
        n_orders, n_fills = match_orders(
            orders, n_orders, t, b["opens"], b["highs"], b["lows"], b["closes"], b["vwaps"], b["volumes"],
            b["half_spreads"], b["sigmas"], params, fills, n_fills,
        )  # fmt: skip
        after = {row[ORD_ID]: row[ORD_REMAINING] for row in orders[:n_orders]}
        changed = [row for row in before if after.get(row[ORD_ID], 0.0) != row[ORD_REMAINING]]
        assert len(changed) == n_fills - first
        for row, fill in zip(changed, fills[first:n_fills], strict=True):
            assert math.isclose(fill[FILL_QUANTITY], row[ORD_REMAINING] - after.get(row[ORD_ID], 0.0), rel_tol=1e-12)
            records.append(Record(fill.copy(), row))

    for t in range(n_bars):
        match(t)
        for number, (bar, symbol, quantity, limit, latency) in enumerate(plan.orders):
            if bar == t:
                n_orders = add_order(orders, n_orders, symbol, quantity, limit, bar, latency, float(number))
        match(t)
    remaining = {row[ORD_ID]: row[ORD_REMAINING] for row in orders[:n_orders]}
    return records, params, remaining


@PROPERTY
@given(plan=plans())
def test_market_fills_stay_in_the_bar_range_widened_by_costs(plan: Plan) -> None:
    records, params, _ = run(plan)
    b = plan.bars
    for record in records:
        if not math.isnan(record.submitted[2]):  # limit order: see the next test
            continue
        t, j = int(record.row[FILL_BAR]), int(record.row[FILL_SYMBOL])
        impact = sqrt_impact(record.row[FILL_QUANTITY], b["volumes"][t, j], b["sigmas"][t, j], params[V_IMPACT])
        cost = b["half_spreads"][t, j] + params[V_SLIPPAGE] + impact
        price = record.row[FILL_PRICE]
        assert b["lows"][t, j] * (1.0 - cost) * (1.0 - REL) <= price <= b["highs"][t, j] * (1.0 + cost) * (1.0 + REL)
        # and on the right side of its reference: buys never below the low, sells never above the high
        if record.row[FILL_QUANTITY] > 0:
            assert price >= b["lows"][t, j] * (1.0 - REL)
        else:
            assert price <= b["highs"][t, j] * (1.0 + REL)


@PROPERTY
@given(plan=plans())
def test_limit_orders_never_fill_worse_than_their_limit(plan: Plan) -> None:
    records, _, _ = run(plan)
    b = plan.bars
    for record in records:
        limit = record.submitted[2]
        if math.isnan(limit):
            continue
        t, j = int(record.row[FILL_BAR]), int(record.row[FILL_SYMBOL])
        price = record.row[FILL_PRICE]
        if record.row[FILL_QUANTITY] > 0:
            assert price <= limit and b["lows"][t, j] < limit
        else:
            assert price >= limit and b["highs"][t, j] > limit
        assert b["lows"][t, j] <= price <= b["highs"][t, j]
        assert t > record.submitted[ORD_SUBMIT]  # only a later bar can trade through it


@PROPERTY
@given(plan=plans())
def test_fills_respect_timing_latency_cap_sign_and_fees(plan: Plan) -> None:
    records, params, remaining = run(plan)
    b = plan.bars
    cap = params[V_PARTICIPATION]
    taken: dict[tuple[int, int], float] = {}
    filled: dict[float, float] = {}
    for record in records:
        row, order = record.row, record.submitted
        t, j = int(row[FILL_BAR]), int(row[FILL_SYMBOL])
        quantity = row[FILL_QUANTITY]
        assert t >= order[ORD_ACTIVE]
        if params[V_TIMING] != TIMING_CLOSE:
            assert t > order[ORD_SUBMIT]
        assert quantity != 0.0 and (quantity > 0) == (order[ORD_REMAINING] > 0)
        assert abs(quantity) <= abs(order[ORD_REMAINING])
        fee = ticket_fee(quantity, row[FILL_PRICE], params[V_FEE_PER_SHARE], params[V_FEE_RATE], params[V_MIN_FEE])
        assert row[FILL_FEE] == fee and fee >= params[V_MIN_FEE]
        taken[(t, j)] = taken.get((t, j), 0.0) + abs(quantity)
        filled[order[ORD_ID]] = filled.get(order[ORD_ID], 0.0) + quantity
    if not math.isnan(cap):
        for (t, j), shares in taken.items():
            assert shares <= cap * b["volumes"][t, j] * (1.0 + REL)
    # nothing is created or lost: each order's fills plus what still works is what was asked
    for number, (_, _, quantity, _, _) in enumerate(plan.orders):
        left = remaining.get(float(number), 0.0)
        assert math.isclose(filled.get(float(number), 0.0) + left, quantity, rel_tol=1e-12, abs_tol=1e-9)


@PROPERTY
@given(plan=plans())
def test_uncapped_market_orders_fill_whole_on_their_first_eligible_bar(plan: Plan) -> None:
    if plan.config.participation is not None:
        return
    records, params, remaining = run(plan)
    n_bars = plan.bars["opens"].shape[0]
    close = params[V_TIMING] == TIMING_CLOSE
    for number, (bar, _, quantity, limit, latency) in enumerate(plan.orders):
        if not math.isnan(limit):
            continue
        first = bar + latency + (0 if close else 1)
        rows = [r.row for r in records if r.submitted[ORD_ID] == number]
        if first < n_bars:
            assert len(rows) == 1 and rows[0][FILL_BAR] == first and rows[0][FILL_QUANTITY] == quantity
        else:
            assert rows == [] and remaining[float(number)] == quantity


@settings(max_examples=2_000, derandomize=True, deadline=None)
@given(
    side=st.sampled_from([1, -1]),
    fractions=st.tuples(unit, unit, unit),
    low=st.floats(1.0, 1_000.0),
    width=st.floats(0.0, 0.2),
    limit_at=st.floats(-0.2, 1.2),
)
def test_limit_fill_is_never_worse_than_the_limit(
    side: int, fractions: tuple[float, float, float], low: float, width: float, limit_at: float
) -> None:
    high = low * (1.0 + width)
    open_ = low + fractions[0] * (high - low)
    limit = low + limit_at * (high - low)
    price = limit_fill(side, limit, open_, high, low)
    if math.isnan(price):
        assert (low >= limit) if side > 0 else (high <= limit)
        return
    assert price <= limit if side > 0 else price >= limit
    assert low <= price <= high


@st.composite
def ohlc(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    k = draw(st.integers(1, 3))
    size = n * k
    level = np.exp(
        np.array(draw(st.lists(st.floats(-0.05, 0.05), min_size=size, max_size=size))).reshape(n, k).cumsum(0)
    )
    low = 100.0 * level
    high = low * (1.0 + np.array(draw(st.lists(st.floats(0.0, 0.1), min_size=size, max_size=size))).reshape(n, k))
    close = low + np.array(draw(st.lists(unit, min_size=size, max_size=size))).reshape(n, k) * (high - low)
    return high, low, close


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None)
@given(bars=ohlc(), cut=st.integers(0, 29), seed=st.integers(0, 2**16))
def test_range_spread_is_finite_non_negative_and_point_in_time(
    bars: tuple[np.ndarray, np.ndarray, np.ndarray], cut: int, seed: int
) -> None:
    high, low, close = bars
    spread = corwin_schultz(high, low, close)
    assert spread.shape == close.shape
    assert np.isfinite(spread).all() and (spread >= 0).all() and (spread < 2).all()
    config = VenueConfig(spread="range")
    hs = half_spread(high, low, close, config)
    assert np.isfinite(hs).all() and (hs >= 0).all()
    sigma = bar_volatility(close, window=5)
    # replacing bar `cut` and everything after it changes nothing that bar `cut` pays
    t = min(cut, close.shape[0] - 1)
    rng = np.random.default_rng(seed)
    new_low = low.copy()
    new_low[t:] = low[t:] * rng.uniform(0.5, 1.5, size=low[t:].shape)
    new_high = new_low * (1.0 + rng.uniform(0.0, 0.2, size=low.shape))
    new_close = new_low + rng.uniform(0.0, 1.0, size=low.shape) * (new_high - new_low)
    new_high[:t], new_close[:t] = high[:t], close[:t]
    np.testing.assert_array_equal(half_spread(new_high, new_low, new_close, config)[: t + 1], hs[: t + 1])
    np.testing.assert_array_equal(bar_volatility(new_close, window=5)[: t + 1], sigma[: t + 1])
