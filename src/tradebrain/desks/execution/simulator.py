"""Batched Almgren-Chriss liquidation simulator: N episodes step together in one compiled loop.

Per interval k (length tau) the trader trades n_k shares out of holdings x_{k-1}:
    execution price  S~_k = S_{k-1} - side * (epsilon * sign(n_k) + eta * n_k / tau)
    mid after        S_k  = F_k - side * gamma * (X - x_k)        (F: the unaffected path)
Whatever is left at the last interval is traded there, with its impact.
The step is a numba kernel so that one episode steps in about a microsecond and a batch of 1,024
in a few: the single env and its batched twin run this same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.core.records import record
from tradebrain.desks.execution.market import LiquidationTask, MarketConfig, check_liquidation
from tradebrain.market.noise import NoiseBank
from tradebrain.market.prices import fill_paths, price_params

SHARES_TOLERANCE = 1e-9
BAD_SHARES = 1
"""Kernel status: some episode was asked to trade NaN, a negative amount or more than it holds."""


LIQUIDATION_PARAMS = np.dtype(
    [("side", "f8"), ("epsilon", "f8"), ("eta", "f8"), ("gamma", "f8"), ("tau", "f8"), ("shares", "f8"),
     ("steps", "i8"), ("lookback", "i8")]
)  # fmt: skip
"""Scalars the kernel needs, in Almgren-Chriss units (a one-row record, see core.records)."""


LEDGER_ROWS = ("inventory", "mid", "cash", "traded", "price", "shortfall")
INVENTORY, MID, CASH, TRADED, PRICE, SHORTFALL = range(len(LEDGER_ROWS))
"""Rows of the simulator's ledger (rows x episodes): one array argument for the kernels instead of six."""


@njit(cache=True)
def liquidation_step(
    records: np.ndarray, step: int, path: np.ndarray, mids: np.ndarray, ledger: np.ndarray, shares: np.ndarray
) -> int:
    """Advance every episode by one interval in place; returns 0, or BAD_SHARES (nothing changed)."""
    params = records[0]
    inventory, mid, cash = ledger[INVENTORY], ledger[MID], ledger[CASH]
    for i in range(inventory.shape[0]):
        amount = shares[i]
        if not (amount >= 0.0) or amount > inventory[i] * (1 + SHARES_TOLERANCE) + SHARES_TOLERANCE:
            return BAD_SHARES
    last = step + 1 == params.steps
    column = params.lookback + step + 1
    side = params.side
    for i in range(inventory.shape[0]):
        amount = inventory[i] if last else min(shares[i], inventory[i])
        temporary = params.eta * amount / params.tau + (params.epsilon if amount > 0.0 else 0.0)
        fill = mid[i] - side * temporary
        carried = inventory[i] - amount
        new_mid = path[i, column] - side * params.gamma * (params.shares - carried)
        # Mark-to-market: value held before minus (value held after + cash received), signed by side.
        ledger[SHORTFALL, i] = side * (inventory[i] * mid[i] - carried * new_mid - amount * fill)
        ledger[TRADED, i] = amount
        ledger[PRICE, i] = fill
        cash[i] += side * amount * fill
        inventory[i] = carried
        mid[i] = new_mid
        mids[i, column] = new_mid
    return 0


@njit(cache=True)
def start_episodes(
    price_records: np.ndarray, records: np.ndarray, normals: np.ndarray, path: np.ndarray, mids: np.ndarray,
    ledger: np.ndarray,
) -> None:  # fmt: skip
    """Draw the unaffected paths and reset the ledger to the arrival: full inventory, no cash,
    only the history observed."""
    fill_paths(price_records, normals, path)
    params = records[0]
    for i in range(path.shape[0]):
        for j in range(path.shape[1]):
            mids[i, j] = path[i, j] if j <= params.lookback else np.nan
        ledger[INVENTORY, i] = params.shares
        ledger[MID, i] = path[i, params.lookback]
        ledger[CASH, i] = 0.0


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


@dataclass(frozen=True)
class LiquidationState:
    """A read-only snapshot of what is known after `step` intervals, one entry per episode."""

    step: int
    inventory: np.ndarray
    mid: np.ndarray
    cash: np.ndarray
    mids: np.ndarray
    """Mid path observed so far, shape (episodes, lookback + step + 1): never the future."""

    @property
    def episodes(self) -> int:
        """Number of episodes in the batch."""
        return int(self.inventory.shape[0])


@dataclass(frozen=True)
class LiquidationStep:
    """One interval's trades and their cost, per episode (read-only)."""

    shares: np.ndarray
    price: np.ndarray
    shortfall: np.ndarray
    """Mark-to-market shortfall increment, $: its sum over an episode is the implementation shortfall."""
    carried: np.ndarray
    """x_k: holdings carried into the next interval (what the risk term penalises)."""


class LiquidationSimulator:
    """Steps a batch of liquidation episodes in lockstep; the state changes only through `step`."""

    def __init__(self, market: MarketConfig, task: LiquidationTask, episodes: int = 1) -> None:
        check_liquidation(market, task)
        if episodes < 1:
            raise InputError(f"episodes must be >= 1, got {episodes}")
        self.market = market
        self.task = task
        self.episodes = episodes
        self.params = record(
            LIQUIDATION_PARAMS, side=task.sign, epsilon=market.epsilon, eta=market.eta, gamma=market.gamma,
            tau=task.tau, shares=task.shares, steps=task.steps, lookback=market.lookback,
        )  # fmt: skip
        self._noise = NoiseBank(episodes, market.lookback + task.steps)
        self._price_params = price_params(market, task.tau)
        self._arrival_value = task.sign * task.shares * market.s0
        """Signed value of the block at the arrival mid, which is s0 by construction (market/prices.py)."""
        width = market.lookback + task.steps + 1
        self.path = np.zeros((episodes, width))
        self.mids = np.full((episodes, width), np.nan)
        self.ledger = np.zeros((len(LEDGER_ROWS), episodes))
        self.inventory, self.mid, self.cash, self.traded, self.price, self.shortfall = self.ledger
        self.step_index = -1

    @property
    def state(self) -> LiquidationState:
        """A read-only snapshot of the current state (after `reset`)."""
        if self.step_index < 0:
            raise RuntimeError("call reset() before reading the state or stepping")
        observed = self.market.lookback + self.step_index + 1
        return LiquidationState(
            step=self.step_index,
            inventory=_read_only(self.inventory.copy()),
            mid=_read_only(self.mid.copy()),
            cash=_read_only(self.cash.copy()),
            mids=_read_only(self.mids[:, :observed].copy()),
        )

    @property
    def done(self) -> bool:
        """True once the deadline is reached."""
        return self.step_index == self.task.steps

    def reset(self, seeds: Sequence[int | None] | None = None) -> None:
        """Start new episodes; a seed re-seeds that episode's stream, None continues it."""
        if seeds is not None:
            if len(seeds) != self.episodes:
                raise InputError(f"got {len(seeds)} seeds for {self.episodes} episodes; pass one per episode")
            self._noise.reseed(seeds)
        start_episodes(self._price_params, self.params, self._noise.next_episodes(), self.path, self.mids, self.ledger)
        self.step_index = 0

    def advance(self, shares: np.ndarray) -> None:
        """Trade `shares` (>= 0, <= inventory) in every episode; results land in `traded`, `price`,
        `shortfall` and the state arrays. The last interval trades all that is left."""
        if self.step_index < 0:
            raise RuntimeError("call reset() before stepping")
        if self.done:
            raise RuntimeError("the episode is over (deadline reached); call reset()")
        if shares.shape != (self.episodes,):  # the kernel reads shares[i] without bounds checks
            raise InputError(f"shares must have shape ({self.episodes},), got {shares.shape}")
        status = liquidation_step(self.params, self.step_index, self.path, self.mids, self.ledger, shares)
        if status == BAD_SHARES:
            raise InputError("shares must be finite and lie in [0, inventory] for every episode")
        self.step_index += 1

    def step(self, shares: np.ndarray) -> tuple[LiquidationState, LiquidationStep]:
        """`advance`, then read-only copies of the new state and of the interval's trades."""
        shares = np.asarray(shares, dtype=float)
        if shares.shape != (self.episodes,):
            raise InputError(f"shares must have shape ({self.episodes},), got {shares.shape}")
        self.advance(shares)
        carried = self.inventory.copy()
        outcome = LiquidationStep(
            _read_only(self.traded.copy()), _read_only(self.price.copy()),
            _read_only(self.shortfall.copy()), _read_only(carried),
        )  # fmt: skip
        return self.state, outcome

    def implementation_shortfall(self) -> np.ndarray:
        """Arrival value minus cash received (signed by side), $, per episode, once the deadline is reached."""
        if not self.done:
            raise RuntimeError(
                f"the shortfall is final only at the deadline (step {self.step_index}/{self.task.steps})"
            )
        result: np.ndarray = self._arrival_value - self.cash
        return result
