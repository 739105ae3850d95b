"""`tradebrain/DayTrading-v0`: trade one symbol long-only through one session, flat by the close."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.account import DayAccount
from tradebrain.desks.day_trading.actions import (
    ACTION_NAMES,
    BUY,
    HOLD,
    N_ACTIONS,
    SELL,
    action_mask,
    describe_mask,
    parse_action,
)
from tradebrain.desks.day_trading.config import DEFAULT_CONFIG, DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, check_days, days_fill_inputs
from tradebrain.desks.day_trading.observer import observation, observation_names, observation_size
from tradebrain.market.venue import BPS

RESET_OPTIONS = frozenset({"day", "cash"})
NO_ORDER = -1  # a slot of the in-flight order ring with no order


class DayTradingEnv(gym.Env[np.ndarray, Any]):
    """Day trading of one symbol: buy, hold or sell at each bar, all-in and long-only, flat by the close.

    ## Action Space
    `Discrete(3)`: 0 hold, 1 buy (spend `cash_fraction` of the cash, fee included), 2 sell (the whole
    position). Orders fill through `config.venue` (market/venue.py), as in the desk's backtests: by
    default an action decided at bar t fills at the open of bar t + 1 plus half the range-estimated
    spread; with `fill: close` at the close of bar t (optimistic); a latency of L bars delays the
    fill by L bars. An order that would fill after the session's last bar expires. While an order
    is on its way (latency), the agent observes the position it is moving to (its return 0 until
    filled), as the backtest's policy does. `action_masks()` gives the
    actions allowed now (see `actions.action_mask`): a new position is held for `cooldown_bars`
    bars, and in the last `exit_window_bars` bars of the session a position may only be sold and
    none opened. `invalid_action: mask` (default): an invalid action raises `InputError`, so a
    policy must read the masks (sb3-contrib's MaskablePPO does). `invalid_action: penalty`: an
    invalid action costs `invalid_penalty` and is treated as hold, for algorithms without masks.

    ## Observation Space
    `Box(-inf, inf, (len(features) + 2,), float32)`: the bar's scale-invariant features
    (`config.features`, point-in-time), then 1.0 when long (else 0.0), then the open position's
    return quantity * close / entry cost - 1, net of the entry's spread, slippage and fee (0 when flat).

    ## Rewards
    Zero until a position closes. When a sell fills (and on the forced exit): the percentage change
    of the balance from before the entry to after the exit, every cost of both fills included,
    100 * (cash after / cash before - 1), paid on the step whose move to the next bar filled it.
    In penalty mode an invalid action adds -`invalid_penalty`. The sum over an episode is thus the
    sum of the day's trade returns in percent.

    ## Episode End
    An episode is one session; `terminated` after the decision at its last bar, where a position
    still open is sold at the close, paying the half spread (forced exit: the session end is part
    of the env, not of the policy), so every episode ends flat. Never `truncated`. `info` carries
    the `balance` (cash plus position at the close), `cash`, `position` (units held), `trades`
    (round trips), `fees`, `day` (index into `days`) and `forced_exit`.

    ## Arguments
    `days`: the sessions to trade (`trading_days(...)`), each with the features of `config`.
    `config`: a `DayTradingEnvConfig`. `shuffle`: draw days in random order without replacement
    (seeded through `reset(seed=)`) until every day has been seen, then a new order; else in order.
    `reset(options={"day": i})` trades day i without touching that order. The balance restarts at
    `config.cash` every episode, or at `options["cash"]`: a backtest over consecutive days carries
    the balance by passing each day's closing cash to the next reset.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self, days: Sequence[TradingDay], config: DayTradingEnvConfig = DEFAULT_CONFIG, shuffle: bool = True
    ) -> None:
        check_days(days, config.features, "DayTradingEnv")
        self.days: tuple[TradingDay, ...] = tuple(days)
        self.config = config
        self.shuffle = shuffle
        self.names = observation_names(config)
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(observation_size(config),), dtype=np.float32)
        self.action_space = spaces.Discrete(N_ACTIONS)
        self._order: np.ndarray | None = None
        self._cursor = 0
        self._day_index = 0
        self._bar = 0
        self._entry_bar = 0
        self.fill_inputs = days_fill_inputs(self.days, config.venue)
        self._starts = np.concatenate([[0], np.cumsum([day.bars for day in self.days])[:-1]]).astype(np.int64)
        self._delay = self.fill_inputs.delay
        self._pending = np.full(max(self._delay, 1), NO_ORDER, dtype=np.int64)  # slot bar % delay: bar's target
        self.account = self._new_account()

    @property
    def day(self) -> TradingDay:
        """The session being traded."""
        return self.days[self._day_index]

    @property
    def bar(self) -> int:
        """The index of the current bar in the session."""
        return self._bar

    def _new_account(self, cash: float | None = None) -> DayAccount:
        config = self.config
        venue = config.venue
        return DayAccount(
            config.cash if cash is None else cash, config.commission, config.cash_fraction, config.whole_shares,
            venue.slippage_bps / BPS, venue.fee_per_share, venue.min_fee,
        )  # fmt: skip

    def _next_day(self) -> int:
        """The next day of the current order; a fresh order once every day has been drawn."""
        if self._order is None or self._cursor >= len(self._order):
            count = len(self.days)
            self._order = self.np_random.permutation(count) if self.shuffle else np.arange(count)
            self._cursor = 0
        day = int(self._order[self._cursor])
        self._cursor += 1
        return day

    def _in_flight(self) -> int:
        """The latest target still on its way to the venue (latency > 0), else NO_ORDER."""
        slots = len(self._pending)
        for back in range(1, self._delay):
            target = int(self._pending[(self._bar - back) % slots])
            if target != NO_ORDER:
                return target
        return NO_ORDER

    def _seen(self) -> tuple[bool, float, int]:
        """(long, position return, bars held) as the agent sees them: the position its orders are
        taking it to when one is on its way (return 0, held 0), else the filled one."""
        account = self.account
        intended = self._in_flight()
        if intended != NO_ORDER and (intended == 1) != account.in_position:
            return intended == 1, 0.0, 0
        held = self._bar - self._entry_bar if account.in_position else 0
        return account.in_position, account.position_pnl(float(self.day.close[self._bar])), held

    def action_masks(self) -> np.ndarray:
        """The actions allowed at the current bar (bool, shape (3,)), as sb3-contrib expects."""
        in_position, _, held = self._seen()
        return action_mask(
            in_position, held, self.day.bars - 1 - self._bar, self.config.cooldown_bars, self.config.exit_window_bars
        )

    def _observe(self) -> np.ndarray:
        in_position, pnl, _ = self._seen()
        return observation(self.day.features[self._bar], in_position, pnl, self.names[:-2])

    def _move_to(self, target: int, row: int) -> float:
        """Fill the order that takes the account to `target` (1 long, 0 flat) at the venue's price for
        row `row` of the days laid end to end; returns the trade reward of a sell (else 0)."""
        account, inputs = self.account, self.fill_inputs
        if target == 1 and not account.in_position:
            account.buy(float(inputs.references[row]), float(inputs.half_spread[row]))
            self._entry_bar = self._bar
        elif target == 0 and account.in_position:
            return account.sell(float(inputs.references[row]), float(inputs.half_spread[row]))[1]
        return 0.0

    def _info(self, forced_exit: bool = False) -> dict[str, Any]:
        account = self.account
        return {
            "balance": account.mark(float(self.day.close[self._bar])),
            "cash": account.cash,
            "position": account.quantity,
            "trades": account.trades,
            "fees": account.fees,
            "day": self._day_index,
            "forced_exit": forced_exit,
        }

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start the next day (or `options["day"]`) with a fresh balance (`config.cash` or `options["cash"]`);
        `seed` restarts the order of days (reproducibly)."""
        super().reset(seed=seed)
        unknown = sorted(set(options or {}) - RESET_OPTIONS)
        if unknown:
            raise InputError(f"unknown reset options {unknown}; DayTradingEnv takes {sorted(RESET_OPTIONS)}")
        if seed is not None:
            self._order = None
        if options and "day" in options:
            day = options["day"]
            if not (isinstance(day, int | np.integer) and 0 <= day < len(self.days)):
                raise InputError(f"options['day'] must be an index in [0, {len(self.days) - 1}] (got {day!r})")
            self._day_index = int(day)
        else:
            self._day_index = self._next_day()
        cash = options.get("cash") if options else None
        if cash is not None and not (isinstance(cash, int | float) and np.isfinite(cash) and cash > 0):
            raise InputError(f"options['cash'] must be a finite balance > 0 (got {cash!r})")
        self._bar = 0
        self._entry_bar = 0
        self._pending[:] = NO_ORDER
        self.account = self._new_account(None if cash is None else float(cash))
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Act at the current bar, then move to the next bar; the order fills when the venue says
        (at this bar's close, or at a later bar as the clock moves on)."""
        chosen = parse_action(action)
        mask = self.action_masks()
        reward = 0.0
        if not mask[chosen]:
            if self.config.invalid_action == "mask":
                raise InputError(
                    f"action {chosen} ({ACTION_NAMES[chosen]}) is masked at bar {self._bar} of day {self._day_index}: "
                    f"allowed is {describe_mask(mask)} (mask {mask.tolist()}); act on env.action_masks(), "
                    "or set invalid_action='penalty'"
                )
            reward -= self.config.invalid_penalty
            chosen = HOLD
        in_position, _, _ = self._seen()
        target = 1 if chosen == BUY else 0 if chosen == SELL else int(in_position)
        row = int(self._starts[self._day_index]) + self._bar
        if self._delay == 0:
            reward += self._move_to(target, row)
        else:
            self._pending[self._bar % len(self._pending)] = target
        account = self.account
        last = self._bar == self.day.bars - 1
        forced_exit = last and account.in_position
        if forced_exit:  # at the close, paying the half spread
            reward += account.sell(float(self.day.close[self._bar]), float(self.fill_inputs.half_spread[row]))[1]
        if last:
            self._pending[:] = NO_ORDER  # orders still on their way expire with the session
        else:
            self._bar += 1
            if self._delay > 0:
                slot = self._bar % len(self._pending)
                arriving, self._pending[slot] = int(self._pending[slot]), NO_ORDER
                if arriving != NO_ORDER:
                    reward += self._move_to(arriving, row + 1)
        return self._observe(), reward, last, False, self._info(forced_exit)
