"""Property tests: for any order sequence and positive price path, the gate keeps its limits.

A simulated book starts with 100,000 cash in three symbols at 100. Each generated step optionally
starts a new UTC day, moves every price by a whole percent in [-30%, +40%], calls `mark` and fills the
orders it returns, then sends random orders (random symbol, signed quantity in eighths of a share)
through `review` and fills whatever is approved at the current price, without fees. Limits are
generated too. Price moves alone may push a book over a limit; the invariants are about what
the gate approves. Examples are derandomized (fixed seed) so every run checks the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebrain.core.types import AccountView, Order
from tradebrain.risk import RiskGate, RiskLimits, historical_var, parametric_var

SYMBOLS = ("A", "B", "C")
START = pd.Timestamp("2024-01-01 15:00", tz="UTC")
REL, ABS = 1e-9, 1e-6  # float tolerance on value limits (shares x price vs fraction x NAV)
VAR_TOL = 1e-9
EXAMPLES_NO_RETURNS = 1500
EXAMPLES_WITH_RETURNS = 1000


@dataclass
class Step:
    new_day: bool
    moves: tuple[float, float, float]
    orders: list[Order]


@dataclass
class Book:
    cash: float = 100_000.0
    positions: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SYMBOLS, 0.0))
    prices: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SYMBOLS, 100.0))
    day_start: float = 100_000.0
    peak: float = 100_000.0

    def view(self) -> AccountView:
        return AccountView(self.cash, dict(self.positions), dict(self.prices), self.day_start, self.peak)

    def fill(self, order: Order) -> None:
        self.cash -= order.quantity * self.prices[order.symbol]
        self.positions[order.symbol] += order.quantity


# Each draw costs hypothesis tens of microseconds, so values are packed into few integer draws:
# an order is one integer (symbol, quantity in eighths of a share: whole and fractional), the
# three price moves of a step are one integer (whole percent in [-30, +40] each), limits are
# integers in tenths of a percent (shrunk examples are less tidy, but generation is fast).
QUANTITY_EIGHTHS = 24_000
MOVES = 71  # -30% .. +40%


def decode_order(code: int) -> Order:
    symbol, eighths = divmod(code, 2 * QUANTITY_EIGHTHS + 1)
    return Order(SYMBOLS[symbol], (eighths - QUANTITY_EIGHTHS) / 8)


def decode_moves(code: int) -> tuple[float, float, float]:
    a, rest = divmod(code, MOVES * MOVES)
    b, c = divmod(rest, MOVES)
    return (1 + (a - 30) / 100, 1 + (b - 30) / 100, 1 + (c - 30) / 100)


orders = st.integers(0, len(SYMBOLS) * (2 * QUANTITY_EIGHTHS + 1) - 1).map(decode_order)
steps = st.builds(
    Step,
    st.booleans(),
    st.integers(0, MOVES**3 - 1).map(decode_moves),
    st.lists(orders, max_size=4),
)


def fraction(low: float, high: float) -> st.SearchStrategy[float]:
    return st.integers(round(low * 1000), round(high * 1000)).map(lambda milli: milli / 1000)


def optional(low: float, high: float) -> st.SearchStrategy[float | None]:
    return st.one_of(st.none(), fraction(low, high))


@st.composite
def limit_sets(draw: st.DrawFn, with_var: bool) -> RiskLimits:
    return RiskLimits(
        max_position_pct=draw(optional(0.01, 0.6)),
        max_gross_leverage=draw(optional(0.05, 2.0)),
        max_daily_loss_pct=draw(optional(0.01, 0.3)),
        max_drawdown_pct=draw(optional(0.02, 0.5)),
        var_limit_pct=draw(fraction(0.002, 0.1)) if with_var else None,
        var_method=draw(st.sampled_from(["historical", "parametric"])),
        var_window=draw(st.integers(10, 60)),
    )


def is_reducing(before: float, after: float) -> bool:
    return abs(after) <= abs(before) and (after == 0.0 or (after > 0) == (before > 0))


def book_var(limits: RiskLimits, book: Book, returns: dict[str, np.ndarray]) -> float:
    nav = book.view().equity
    weights = np.array([book.positions[s] * book.prices[s] / nav for s in SYMBOLS])
    matrix = np.column_stack([returns[s] for s in SYMBOLS])[-limits.var_window :]
    method = historical_var if limits.var_method == "historical" else parametric_var
    return method(weights, matrix, limits.var_level)


def excess(value: float, cap: float) -> float:
    return max(0.0, value - cap * (1 + REL) - ABS)


def run(limits: RiskLimits, plan: list[Step], returns: dict[str, np.ndarray] | None) -> int:
    """Drive the gate through `plan`, asserting the invariants after every step; returns #approvals."""
    gate, book, now = RiskGate(limits), Book(), START
    halted_date: pd.Timestamp | None = None
    stopped = False
    approvals = 0
    for step in plan:
        if step.new_day:
            now = (now + pd.Timedelta(days=1)).normalize() + pd.Timedelta(hours=15)
            book.day_start = book.view().equity  # previous close
        else:
            now += pd.Timedelta(minutes=1)
        for symbol, move in zip(SYMBOLS, step.moves, strict=True):
            book.prices[symbol] *= move
        view = book.view()
        book.peak = max(book.peak, view.equity)
        view = book.view()
        daily = limits.max_daily_loss_pct
        if daily is not None and view.equity <= view.day_start_equity * (1 - daily):
            halted_date = now.normalize()
        dd = limits.max_drawdown_pct
        if dd is not None and view.equity <= view.peak_equity * (1 - dd):
            stopped = True
        for flatten in gate.mark(view, now):
            book.fill(flatten)
        halted = stopped or halted_date == now.normalize()
        if halted:
            # kill switch / stop: the book is flat within the bar that breaches (and stays flat)
            assert all(book.positions[s] == 0.0 for s in SYMBOLS), book.positions
        for order in step.orders:
            view = book.view()
            before = book.positions[order.symbol]
            decision = gate.review(order, view, now, returns)
            if decision.order is None:
                continue
            approvals += 1
            q = decision.order.quantity
            # the gate only shrinks an order: same symbol, same side, never larger
            assert decision.order.symbol == order.symbol
            assert (q > 0) == (order.quantity > 0) and (q < 0) == (order.quantity < 0)
            assert abs(q) <= abs(order.quantity)
            assert decision.rule is None or decision.rule == gate.log[-1].rule
            nav, price = view.equity, view.prices[order.symbol]
            gross_before = view.gross_exposure
            book.fill(decision.order)
            after = book.positions[order.symbol]
            if halted:
                assert is_reducing(before, after), "new risk approved while halted"
            if is_reducing(before, after):
                continue
            # not reducing: the resulting book keeps every limit, measured at the same marks
            gross_after = book.view().gross_exposure
            if limits.max_position_pct is not None:
                assert excess(abs(after) * price, limits.max_position_pct * nav) == 0.0
            if limits.max_gross_leverage is not None:
                cap = limits.max_gross_leverage * nav
                assert excess(gross_after, cap) == 0.0 or excess(gross_after, cap) <= excess(gross_before, cap)
            if returns is not None and limits.var_limit_pct is not None:
                assert book_var(limits, book, returns) <= limits.var_limit_pct + VAR_TOL
    return approvals


@settings(
    max_examples=EXAMPLES_NO_RETURNS, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(limits=limit_sets(with_var=False), plan=st.lists(steps, min_size=1, max_size=12))
def test_position_leverage_and_kill_switch_invariants(limits: RiskLimits, plan: list[Step]) -> None:
    """After every step of any order sequence and positive price path:

    1. every approved order is the requested one or a shrunk copy (same symbol and side);
    2. an approved order that is not risk-reducing (|position| up, or crossing zero) leaves its
       symbol's |position value| <= max_position_pct x NAV and gross exposure <= max_gross_leverage
       x NAV, both at the marks it was approved at (within 1e-9 relative + 1e-6 absolute);
       so an approved order never creates or increases a breach: only price moves can;
    3. in the bar where equity <= day start x (1 - max_daily_loss_pct), the orders returned by
       `mark` make the book flat, and until the UTC date changes no order that increases |position|
       is approved (the book stays flat);
    4. likewise after equity <= peak x (1 - max_drawdown_pct), for the rest of the run (no reset).
    """
    run(limits, plan, None)


@settings(
    max_examples=EXAMPLES_WITH_RETURNS, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    limits=limit_sets(with_var=True),
    plan=st.lists(steps, min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
    vols=st.tuples(*[fraction(0.001, 0.08)] * 3),
    days=st.integers(10, 80),
)
def test_var_invariant(
    limits: RiskLimits, plan: list[Step], seed: int, vols: tuple[float, float, float], days: int
) -> None:
    """With daily returns given (random normal, random volatilities, 10 to 80 days), invariants
    1 to 4 hold and an approved order that is not risk-reducing leaves a book whose VaR (the
    configured method, level and window, same marks) is <= var_limit_pct (within 1e-9)."""
    rng = np.random.default_rng(seed)
    returns = {s: rng.normal(0.0005, vol, days) for s, vol in zip(SYMBOLS, vols, strict=True)}
    run(limits, plan, returns)


def test_the_harness_resizes_halts_and_flattens() -> None:
    """Sanity check of the harness on a scenario that must resize, halt, flatten and resume."""
    limits = RiskLimits(max_position_pct=0.1, max_gross_leverage=0.25, max_daily_loss_pct=0.05)
    plan = [
        # A and B cut to 100 shares (10% of 100k at 100), C to 50 (leverage room 25k - 20k)
        Step(False, (1.0, 1.0, 1.0), [Order("A", 500.0), Order("B", 500.0), Order("C", 500.0)]),
        # prices halve: equity 87.5k, 12.5% below the day start: flattened, the buy is denied
        Step(False, (0.5, 0.5, 0.5), [Order("A", 10.0)]),
        # a new day lifts the halt
        Step(True, (1.0, 1.0, 1.0), [Order("A", 10.0)]),
    ]
    assert run(limits, plan, None) == 4
