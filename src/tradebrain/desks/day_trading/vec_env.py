"""Natively batched twin of `tradebrain/DayTrading-v0`: N sessions in one compiled step, a
stable-baselines3 VecEnv equal to N `DayTradingEnv`s seeded seed + i.

The account arithmetic of `account.DayAccount` (buy sizing, fees, the trade reward) and the env's
orders on their way to the venue are written once more here as a numba kernel over arrays, line
for line in the same order of floating-point operations (the prices and fees are the venue's own
compiled rules, market/fills.py), because a Python object per episode is what made the DummyVecEnv slow; the masks
are the compiled `actions.allowed_actions` itself. tests/unit/desks/day_trading/test_vec_env.py
proves the twin equal to the DummyVecEnv of single envs step for step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from numba import njit
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from tradebrain.core.errors import InputError
from tradebrain.core.numba_cache import refresh_cache
from tradebrain.desks.day_trading import account, actions
from tradebrain.desks.day_trading.account import PERCENT, buy_size
from tradebrain.desks.day_trading.actions import (
    ACTION_NAMES,
    BUY,
    HOLD,
    N_ACTIONS,
    SELL,
    allowed_actions,
    describe_mask,
)
from tradebrain.desks.day_trading.config import DEFAULT_CONFIG, DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay, check_days, days_fill_inputs
from tradebrain.desks.day_trading.env import NO_ORDER, RESET_OPTIONS
from tradebrain.desks.day_trading.observer import observation_size
from tradebrain.market import fills
from tradebrain.market.fills import BUY as BUY_SIDE
from tradebrain.market.fills import SELL as SELL_SIDE
from tradebrain.market.fills import market_price, ticket_fee
from tradebrain.market.venue import BPS
from tradebrain.rl.vec_env import BatchedVecEnv

refresh_cache(__file__, [actions.__file__, account.__file__, fills.__file__])

NO_ERROR = -1
# columns of the float state: one row per episode
_CASH, _QUANTITY, _ENTRY_PRICE, _ENTRY_BALANCE, _ENTRY_COST, _FEES, _REALISED = range(7)
N_STATE = 7
# the costs vector: fee rate, slippage (fraction), fee per share, minimum fee
_COMMISSION, _SLIPPAGE, _PER_SHARE, _MIN_FEE = range(4)


@njit(cache=True)
def _in_flight(pending: np.ndarray, i: int, bar: int, delay: int) -> int:
    """`DayTradingEnv._in_flight` for episode i."""
    slots = pending.shape[1]
    for back in range(1, delay):
        target = int(pending[i, (bar - back) % slots])
        if target != NO_ORDER:
            return target
    return NO_ORDER


@njit(cache=True)
def _seen_long(pending: np.ndarray, i: int, bar: int, delay: int, quantity: float) -> tuple[bool, bool]:
    """(long as the agent sees it, whether an order on its way decides it): `DayTradingEnv._seen`."""
    intended = _in_flight(pending, i, bar, delay)
    if intended != NO_ORDER and (intended == 1) != (quantity > 0):
        return intended == 1, True
    return quantity > 0, False


@njit(cache=True)
def _buy(
    i: int,
    reference: float,
    half_spread: float,
    state: np.ndarray,
    costs: np.ndarray,
    cash_fraction: float,
    whole_shares: bool,
) -> None:
    """`DayAccount.buy` on episode i (the caller has checked that it buys something)."""
    price = market_price(reference, BUY_SIDE, half_spread, costs[_SLIPPAGE], 0.0)
    quantity, cost, fee = buy_size(
        state[i, _CASH], price, costs[_COMMISSION], cash_fraction, whole_shares, costs[_PER_SHARE], costs[_MIN_FEE]
    )
    state[i, _ENTRY_BALANCE] = state[i, _CASH]
    state[i, _ENTRY_PRICE] = price
    state[i, _ENTRY_COST] = cost
    state[i, _QUANTITY] = quantity
    state[i, _CASH] -= cost
    state[i, _FEES] += fee


@njit(cache=True)
def _sell(
    i: int, reference: float, half_spread: float, state: np.ndarray, costs: np.ndarray, trades: np.ndarray
) -> float:
    """`DayAccount.sell` on episode i; returns the trade reward."""
    quantity = state[i, _QUANTITY]
    price = market_price(reference, SELL_SIDE, half_spread, costs[_SLIPPAGE], 0.0)
    fee = ticket_fee(quantity, price, costs[_PER_SHARE], costs[_COMMISSION], costs[_MIN_FEE])
    state[i, _CASH] += quantity * price - fee
    state[i, _FEES] += fee
    state[i, _REALISED] += quantity * (price - state[i, _ENTRY_PRICE])
    trades[i] += 1
    reward = float(PERCENT * (state[i, _CASH] / state[i, _ENTRY_BALANCE] - 1.0))
    state[i, _QUANTITY] = 0.0
    state[i, _ENTRY_PRICE] = 0.0
    state[i, _ENTRY_COST] = 0.0
    return reward


@njit(cache=True)
def _move_to(
    i: int,
    target: int,
    row: int,
    references: np.ndarray,
    half_spread: np.ndarray,
    state: np.ndarray,
    costs: np.ndarray,
    cash_fraction: float,
    whole_shares: bool,
    trades: np.ndarray,
) -> float:
    """`DayTradingEnv._move_to` on episode i; returns the reward of a sell (else 0)."""
    if target == 1 and not state[i, _QUANTITY] > 0:
        _buy(i, references[row], half_spread[row], state, costs, cash_fraction, whole_shares)
        return 0.0
    if target == 0 and state[i, _QUANTITY] > 0:
        return _sell(i, references[row], half_spread[row], state, costs, trades)
    return 0.0


@njit(cache=True)
def _step(
    chosen: np.ndarray,
    invalid: np.ndarray,
    penalty: float,
    close: np.ndarray,
    references: np.ndarray,
    half_spread: np.ndarray,
    delay: int,
    starts: np.ndarray,
    lengths: np.ndarray,
    day: np.ndarray,
    bar: np.ndarray,
    entry_bar: np.ndarray,
    pending: np.ndarray,
    state: np.ndarray,
    trades: np.ndarray,
    costs: np.ndarray,
    cash_fraction: float,
    whole_shares: bool,
    reward: np.ndarray,
    done: np.ndarray,
    forced: np.ndarray,
) -> int:
    """`DayTradingEnv.step` on every episode (actions already checked against the masks; invalid
    ones replaced by HOLD and flagged in `invalid`). Returns the first episode whose buy would get
    no unit (nothing is changed then), else NO_ERROR."""
    n = chosen.shape[0]
    slots = pending.shape[1]
    targets = np.empty(n, dtype=np.int64)
    for i in range(n):  # check first, so a refused buy leaves every episode untouched
        b = bar[i]
        long, _ = _seen_long(pending, i, b, delay, state[i, _QUANTITY])
        target = 1 if chosen[i] == BUY else (0 if chosen[i] == SELL else (1 if long else 0))
        targets[i] = target
        row = starts[day[i]] + b
        if delay == 0:
            buying = target == 1
        elif b == lengths[day[i]] - 1:
            buying = False  # the session ends: nothing arrives
        else:
            buying = (target if delay == 1 else pending[i, (b + 1) % slots]) == 1
            row += 1
        if buying and not state[i, _QUANTITY] > 0:
            price = market_price(references[row], BUY_SIDE, half_spread[row], costs[_SLIPPAGE], 0.0)
            quantity, _, _ = buy_size(
                state[i, _CASH], price, costs[_COMMISSION], cash_fraction, whole_shares, costs[_PER_SHARE],
                costs[_MIN_FEE],
            )  # fmt: skip
            if quantity <= 0:
                return i
    for i in range(n):
        r = 0.0
        if invalid[i]:
            r -= penalty
        b = bar[i]
        row = starts[day[i]] + b
        if delay == 0:
            was_long = state[i, _QUANTITY] > 0
            r += _move_to(
                i, targets[i], row, references, half_spread, state, costs, cash_fraction, whole_shares, trades
            )
            if state[i, _QUANTITY] > 0 and not was_long:
                entry_bar[i] = b
        else:
            pending[i, b % slots] = targets[i]
        last = b == lengths[day[i]] - 1
        forced_exit = last and state[i, _QUANTITY] > 0
        if forced_exit:
            r += _sell(i, close[row], half_spread[row], state, costs, trades)
        if last:
            for k in range(slots):
                pending[i, k] = NO_ORDER
        else:
            bar[i] = b + 1
            if delay > 0:
                slot = (b + 1) % slots
                arriving = pending[i, slot]
                pending[i, slot] = NO_ORDER
                if arriving != NO_ORDER:
                    was_long = state[i, _QUANTITY] > 0
                    r += _move_to(
                        i, arriving, row + 1, references, half_spread, state, costs, cash_fraction, whole_shares, trades
                    )
                    if state[i, _QUANTITY] > 0 and not was_long:
                        entry_bar[i] = b + 1
        reward[i] = r
        done[i] = last
        forced[i] = forced_exit
    return NO_ERROR


@njit(cache=True)
def _observe(
    rows: np.ndarray,
    features: np.ndarray,
    close: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    day: np.ndarray,
    bar: np.ndarray,
    entry_bar: np.ndarray,
    pending: np.ndarray,
    delay: int,
    state: np.ndarray,
    cooldown_bars: int,
    exit_window_bars: int,
    observation: np.ndarray,
    masks: np.ndarray,
    balance: np.ndarray,
) -> None:
    """Observation (`observer.observation`), mask (`actions.allowed_actions`) and balance
    (`DayAccount.mark`) of the episodes in `rows` at their current bar, as the agent sees them
    (`DayTradingEnv._seen`)."""
    width = features.shape[1]
    for i in rows:
        row = starts[day[i]] + bar[i]
        price = close[row]
        quantity = state[i, _QUANTITY]
        in_position, intended = _seen_long(pending, i, bar[i], delay, quantity)
        for k in range(width):
            observation[i, k] = features[row, k]
        observation[i, width] = 1.0 if in_position else 0.0
        held = 0
        if intended:
            observation[i, width + 1] = 0.0
        elif in_position:
            observation[i, width + 1] = quantity * price / state[i, _ENTRY_COST] - 1.0
            held = bar[i] - entry_bar[i]
        else:
            observation[i, width + 1] = 0.0
        masks[i] = allowed_actions(in_position, held, lengths[day[i]] - 1 - bar[i], cooldown_bars, exit_window_bars)
        balance[i] = state[i, _CASH] + quantity * price


class DayTradingCore:
    """The state of `episodes` day-trading sessions as arrays, and their reset and step.

    Each episode holds its own `np.random.Generator`, created and used exactly as a
    `DayTradingEnv` creates and uses its `np_random`, so its order of days is that env's.
    """

    def __init__(
        self, days: Sequence[TradingDay], config: DayTradingEnvConfig, episodes: int, shuffle: bool = True
    ) -> None:
        check_days(days, config.features, "DayTradingVecEnv")
        if episodes < 1:
            raise InputError(f"num_envs must be >= 1 (got {episodes})")
        self.days = tuple(days)
        self.config = config
        self.shuffle = shuffle
        self.episodes = episodes
        self.lengths = np.array([day.bars for day in self.days], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.close = np.ascontiguousarray(np.concatenate([day.close for day in self.days]), dtype=np.float64)
        self.fill_inputs = days_fill_inputs(self.days, config.venue)
        self.delay = self.fill_inputs.delay
        self.pending = np.full((episodes, max(self.delay, 1)), NO_ORDER, dtype=np.int64)
        venue = config.venue
        self.costs = np.array([config.commission, venue.slippage_bps / BPS, venue.fee_per_share, venue.min_fee])
        self.features = np.ascontiguousarray(np.concatenate([day.features for day in self.days]), dtype=np.float64)
        self.all_rows = np.arange(episodes, dtype=np.int64)
        self.rngs: list[np.random.Generator | None] = [None] * episodes
        self.orders: list[np.ndarray | None] = [None] * episodes
        self.cursors = [0] * episodes
        self.day = np.zeros(episodes, dtype=np.int64)
        self.bar = np.zeros(episodes, dtype=np.int64)
        self.entry_bar = np.zeros(episodes, dtype=np.int64)
        self.state = np.zeros((episodes, N_STATE))
        self.state[:, _CASH] = config.cash
        self.trades = np.zeros(episodes, dtype=np.int64)
        self.observation = np.zeros((episodes, observation_size(config)), dtype=np.float32)
        self.masks = np.zeros((episodes, N_ACTIONS), dtype=np.bool_)
        self.balance = np.zeros(episodes)
        self.reward = np.zeros(episodes)
        self.done = np.zeros(episodes, dtype=np.bool_)
        self.forced_exit = np.zeros(episodes, dtype=np.bool_)
        self._invalid = np.zeros(episodes, dtype=np.bool_)
        self._observe(self.all_rows)  # before any reset, as a new DayTradingEnv: day 0, bar 0, flat

    def _rng(self, i: int) -> np.random.Generator:
        rng = self.rngs[i]
        if rng is None:  # as gymnasium.Env.np_random: unseeded on first use
            rng, _ = seeding.np_random()
            self.rngs[i] = rng
        return rng

    def _next_day(self, i: int) -> int:
        """`DayTradingEnv._next_day` for episode i."""
        order = self.orders[i]
        if order is None or self.cursors[i] >= len(order):
            count = len(self.days)
            order = self._rng(i).permutation(count) if self.shuffle else np.arange(count)
            self.orders[i] = order
            self.cursors[i] = 0
        day = int(order[self.cursors[i]])
        self.cursors[i] += 1
        return day

    def _observe(self, rows: np.ndarray) -> None:
        _observe(
            rows, self.features, self.close, self.starts, self.lengths, self.day, self.bar, self.entry_bar,
            self.pending, self.delay, self.state, self.config.cooldown_bars, self.config.exit_window_bars,
            self.observation, self.masks, self.balance,
        )  # fmt: skip

    def info(self, i: int, forced_exit: bool = False) -> dict[str, Any]:
        """`DayTradingEnv._info` of episode i."""
        state = self.state[i]
        return {
            "balance": float(self.balance[i]),
            "cash": float(state[_CASH]),
            "position": float(state[_QUANTITY]),
            "trades": int(self.trades[i]),
            "fees": float(state[_FEES]),
            "day": int(self.day[i]),
            "forced_exit": forced_exit,
        }

    def reset_episode(self, i: int, seed: int | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """`DayTradingEnv.reset(seed=seed, options=options)` for episode i; returns its info (the
        observation and mask are in `observation[i]` and `masks[i]`)."""
        if seed is not None:
            self.rngs[i], _ = seeding.np_random(seed)
            self.orders[i] = None
        unknown = sorted(set(options or {}) - RESET_OPTIONS)
        if unknown:
            raise InputError(
                f"unknown reset options {unknown} for env {i}; DayTradingEnv takes {sorted(RESET_OPTIONS)}"
            )
        if options and "day" in options:
            day = options["day"]
            if not (isinstance(day, int | np.integer) and 0 <= day < len(self.days)):
                raise InputError(
                    f"options['day'] of env {i} must be an index in [0, {len(self.days) - 1}] (got {day!r})"
                )
            self.day[i] = int(day)
        else:
            self.day[i] = self._next_day(i)
        cash = options.get("cash") if options else None
        if cash is not None and not (isinstance(cash, int | float) and np.isfinite(cash) and cash > 0):
            raise InputError(f"options['cash'] of env {i} must be a finite balance > 0 (got {cash!r})")
        self.bar[i] = 0
        self.entry_bar[i] = 0
        self.pending[i] = NO_ORDER
        self.state[i] = 0.0
        self.state[i, _CASH] = self.config.cash if cash is None else float(cash)
        self.trades[i] = 0
        self._observe(np.array([i], dtype=np.int64))
        return self.info(i)

    def reset(self, seeds: Sequence[int | None] | None = None) -> np.ndarray:
        """Reset every episode (episode i with `seeds[i]` when given); returns the observations."""
        for i in range(self.episodes):
            self.reset_episode(i, None if seeds is None else seeds[i])
        return self.observation

    def parse_actions(self, actions: np.ndarray) -> np.ndarray:
        """The actions as int64, one per episode; an InputError naming the first bad one otherwise."""
        values = np.asarray(actions)
        if values.size != self.episodes or values.dtype.kind not in "iubf":
            raise InputError(
                f"expected {self.episodes} actions of Discrete(3) (0 hold, 1 buy, 2 sell), one per env "
                f"(got shape {values.shape}, dtype {values.dtype})"
            )
        values = values.reshape(self.episodes)
        chosen = values.astype(np.int64)
        bad = np.flatnonzero((chosen != values) | (chosen < 0) | (chosen >= N_ACTIONS))
        if len(bad):
            i = int(bad[0])
            raise InputError(f"action {values[i]!r} of env {i} is not one of 0 (hold), 1 (buy), 2 (sell) (Discrete(3))")
        return chosen

    def step(self, actions: np.ndarray) -> bool:
        """Act in every episode at its current bar (fills as `DayTradingEnv.step`), then move to its next bar;
        True if any episode ended (those in `done`, not yet reset)."""
        chosen = self.parse_actions(actions)
        valid = self.masks[self.all_rows, chosen]
        invalid = np.logical_not(valid, out=self._invalid)
        if invalid.any():
            if self.config.invalid_action == "mask":
                i = int(np.flatnonzero(invalid)[0])
                action, mask = int(chosen[i]), self.masks[i]
                raise InputError(
                    f"action {action} ({ACTION_NAMES[action]}) of env {i} is masked at bar {self.bar[i]} of day "
                    f"{self.day[i]}: allowed is {describe_mask(mask)} (mask {mask.tolist()}); act on "
                    "env_method('action_masks'), or set invalid_action='penalty'"
                )
            chosen = np.where(invalid, HOLD, chosen)
        config = self.config
        inputs = self.fill_inputs
        refused = _step(
            chosen, invalid, config.invalid_penalty, self.close, inputs.references, inputs.half_spread, self.delay,
            self.starts, self.lengths, self.day, self.bar, self.entry_bar, self.pending, self.state, self.trades,
            self.costs, config.cash_fraction, config.whole_shares, self.reward, self.done, self.forced_exit,
        )  # fmt: skip
        if refused != NO_ERROR:
            cash = float(self.state[refused, _CASH])
            price = float(inputs.references[self.starts[self.day[refused]] + self.bar[refused] + min(self.delay, 1)])
            raise InputError(
                f"env {refused}: cash {cash:.2f} x cash_fraction {config.cash_fraction} buys no whole unit at price "
                f"{price}; set whole_shares=False or raise cash"
            )
        self._observe(self.all_rows)
        return bool(self.done.any())


class DayTradingVecEnv(BatchedVecEnv):
    """`num_envs` day-trading sessions stepped together; equal to as many `DayTradingEnv`s (in a
    DummyVecEnv, see `vec.make_dummy_vec_env`) seeded `seed + i`, step for step.

    ## Action Space
    `Discrete(3)` per env (0 hold, 1 buy, 2 sell), as `DayTradingEnv`; `step` takes one action per
    env. `env_method("action_masks")` gives each env's mask (what sb3-contrib's `get_action_masks`
    reads, through any VecEnvWrapper); `action_masks()` gives all of them, shape (num_envs, 3). In
    `invalid_action: mask` mode a masked action raises `InputError` naming the env and the action,
    before any env moves; in `penalty` mode it costs `invalid_penalty` and is treated as hold.

    ## Observation Space
    `Box(-inf, inf, (len(features) + 2,), float32)` per env, as `DayTradingEnv`.

    ## Rewards
    As `DayTradingEnv`: the trade's balance change in percent on a sell or forced exit, minus
    `invalid_penalty` for an invalid action in penalty mode.

    ## Episode End
    Each env's episode is one session and ends after the decision at its last bar (sessions differ
    in length, so envs end at different steps). A finished env is reset to its next day at once:
    `infos[i]["terminal_observation"]` holds its last observation and `reset_infos[i]` the new
    day's info, as SB3's DummyVecEnv does. Every step's `infos[i]` has the single env's keys
    (`balance`, `cash`, `position`, `trades`, `fees`, `day`, `forced_exit`) and
    `TimeLimit.truncated` (always False); wrap in `VecMonitor` for the `episode` entry.

    ## Arguments
    `days`: the sessions to trade (`trading_days(...)`). `config`: a `DayTradingEnvConfig`.
    `num_envs`: the number of sessions stepped together. `seed`: env i draws its days with seed
    `seed + i` at the first `reset()` (None: unseeded). `shuffle`: as `DayTradingEnv`. Reset options
    (`set_options`) take the single env's `day` and `cash`.
    """

    def __init__(
        self,
        days: Sequence[TradingDay],
        config: DayTradingEnvConfig = DEFAULT_CONFIG,
        num_envs: int = 8,
        seed: int | None = 0,
        shuffle: bool = True,
    ) -> None:
        self.config = config
        core = DayTradingCore(days, config, num_envs, shuffle)
        observation_space = spaces.Box(-np.inf, np.inf, shape=(observation_size(config),), dtype=np.float32)
        super().__init__(core, num_envs, observation_space, spaces.Discrete(N_ACTIONS))
        self.core: DayTradingCore = core
        self.seed(seed)

    def reset(self) -> VecEnvObs:
        """Reset every env, using the seeds given to `seed()` and options given to `set_options()` once."""
        core = self.core
        self.reset_infos = [
            core.reset_episode(i, self._seeds[i], self._options[i] or None) for i in range(self.num_envs)
        ]
        self._reset_seeds()
        self._reset_options()
        return core.observation.copy()

    def step_wait(self) -> VecEnvStepReturn:
        """Step every env; finished episodes are reset to their next day automatically."""
        if self._actions is None:
            raise RuntimeError("call step_async(actions) before step_wait()")
        core = self.core
        actions, self._actions = self._actions, None
        any_done = core.step(actions)
        rewards = core.reward.astype(np.float32)
        dones = core.done.copy()
        state = core.state
        infos: list[dict[str, Any]] = [
            {
                "balance": balance,
                "cash": cash,
                "position": position,
                "trades": trades,
                "fees": fees,
                "day": day,
                "forced_exit": forced,
                "TimeLimit.truncated": False,
            }
            for balance, cash, position, trades, fees, day, forced in zip(
                core.balance.tolist(),
                state[:, _CASH].tolist(),
                state[:, _QUANTITY].tolist(),
                core.trades.tolist(),
                state[:, _FEES].tolist(),
                core.day.tolist(),
                core.forced_exit.tolist(),
                strict=True,
            )
        ]
        if any_done:
            for i in np.flatnonzero(dones).tolist():
                infos[i]["terminal_observation"] = core.observation[i].copy()
                self.reset_infos[i] = core.reset_episode(i)
        return core.observation.copy(), rewards, dones, infos

    def action_masks(self) -> np.ndarray:
        """The actions allowed now in every env: bool, shape (num_envs, 3)."""
        return self.core.masks.copy()

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        """Call a method once per selected index; `action_masks` gives each selected env its own mask
        (shape (3,)), as a DummyVecEnv of `DayTradingEnv`s does."""
        if method_name == "action_masks":
            masks = self.action_masks(*method_args, **method_kwargs)
            return [masks[i] for i in self._get_indices(indices)]
        return super().env_method(method_name, *method_args, indices=indices, **method_kwargs)
