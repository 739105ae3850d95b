"""Batched Avellaneda-Stoikov market-making simulator: N episodes step together in one compiled loop.

Each step of length dt, in every episode, given bid and ask distances delta_b, delta_a from the mid:
    the ask is hit with probability min(1, A*exp(-k*delta_a)*dt): inventory -1, cash + (mid + delta_a) - fee
    the bid is hit, independently, likewise:                       inventory +1, cash - (mid - delta_b) - fee
then the mid moves: binomial (the paper's simulation: +-sigma*sqrt(dt) with probability 1/2 each) or
brownian (drift*dt + sigma_t*sqrt(dt)*Z, with log sigma_t a random walk when vol_of_vol > 0).
A NaN distance means no quote on that side; a side whose fill would breach max_inventory is not
quoted. Distances may be negative (a quote through the mid): its fill probability is capped at 1.
Wealth = cash + inventory * mid (inventory marked at the mid, as in the paper).

Randomness comes from a NoiseBank, four standard normals per episode and step (ask, bid, mid, vol);
uniforms for the fills are Phi(z) = 0.5*(1 + erf(z/sqrt 2)) and the binomial direction is sign(z),
so a batch of N episodes equals N single simulators seed for seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from tradebrain.core.errors import InputError
from tradebrain.core.records import record
from tradebrain.desks.market_making.market import MarketMakingConfig
from tradebrain.market.noise import NoiseBank

__all__ = ["MarketMakingConfig", "MarketMakingSimulator"]

NORMALS_PER_STEP = 4
ASK_NORMAL, BID_NORMAL, MID_NORMAL, VOL_NORMAL = range(NORMALS_PER_STEP)
BAD_QUOTE = 1
"""Kernel status: some distance was infinite (use NaN for no quote); nothing changed."""

MM_PARAMS = np.dtype(
    [("brownian", "i8"), ("sigma", "f8"), ("dt", "f8"), ("drift", "f8"), ("vol_of_vol", "f8"),
     ("fill_A", "f8"), ("fill_k", "f8"), ("fee", "f8"), ("max_inventory", "f8")]
)  # fmt: skip
"""Scalars the kernel needs (a one-row record, see core.records); max_inventory = inf when unlimited."""

LEDGER_ROWS = ("mid", "inventory", "cash", "bid_fills", "ask_fills", "log_vol")
MID, INVENTORY, CASH, BID_FILLS, ASK_FILLS, LOG_VOL = range(len(LEDGER_ROWS))
"""Rows of the simulator's ledger (rows x episodes): one array argument for the kernel."""


@njit(cache=True)
def _hit(p: Any, delta: float, normal: float) -> bool:
    """True when a quote at `delta` is hit: Phi(normal) < min(1, A*exp(-k*delta)*dt); NaN never fills."""
    if math.isnan(delta):
        return False
    probability = min(1.0, p.fill_A * math.exp(-p.fill_k * delta) * p.dt)
    uniform = 0.5 * (1.0 + math.erf(normal / math.sqrt(2.0)))
    return bool(uniform < probability)


@njit(cache=True)
def market_making_step(
    records: np.ndarray, step: int, normals: np.ndarray, ledger: np.ndarray, delta_b: np.ndarray, delta_a: np.ndarray
) -> int:
    """Fill the quotes, then move the mid, in every episode in place; returns 0 or BAD_QUOTE."""
    p = records[0]
    for i in range(delta_b.shape[0]):
        if math.isinf(delta_b[i]) or math.isinf(delta_a[i]):
            return BAD_QUOTE
    base = step * 4
    root_dt = math.sqrt(p.dt)
    for i in range(delta_b.shape[0]):
        mid, inventory = ledger[MID, i], ledger[INVENTORY, i]
        ask = inventory - 1.0 >= -p.max_inventory and _hit(p, delta_a[i], normals[i, base + ASK_NORMAL])
        bid = inventory + 1.0 <= p.max_inventory and _hit(p, delta_b[i], normals[i, base + BID_NORMAL])
        cash = ledger[CASH, i]
        if ask:
            cash += mid + delta_a[i] - p.fee
            inventory -= 1.0
        if bid:
            cash -= mid - delta_b[i] + p.fee
            inventory += 1.0
        ledger[CASH, i], ledger[INVENTORY, i] = cash, inventory
        ledger[ASK_FILLS, i] = 1.0 if ask else 0.0
        ledger[BID_FILLS, i] = 1.0 if bid else 0.0
        z = normals[i, base + MID_NORMAL]
        if p.brownian:
            volatility = p.sigma * math.exp(ledger[LOG_VOL, i])
            ledger[MID, i] = mid + p.drift * p.dt + volatility * root_dt * z
            # log-volatility random walk, compensated so that E[sigma_t] stays sigma
            w = normals[i, base + VOL_NORMAL]
            ledger[LOG_VOL, i] += p.vol_of_vol * root_dt * w - 0.5 * p.vol_of_vol**2 * p.dt
        else:
            ledger[MID, i] = mid + (p.sigma * root_dt if z >= 0.0 else -p.sigma * root_dt)
    return 0


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class MarketMakingSimulator:
    """Steps a batch of market-making episodes in lockstep; the state changes only through `step`.

    Arrays (views, one entry per episode, read-only): `mid`, `inventory`, `cash`, `bid_fills`,
    `ask_fills` (1.0 when that side was hit in the last step), `volatility`; `step_index` counts
    the steps taken since `reset`.
    """

    def __init__(self, config: MarketMakingConfig, episodes: int = 1) -> None:
        if episodes < 1:
            raise InputError(f"episodes must be >= 1, got {episodes}")
        self.config = config
        self.episodes = episodes
        self.steps = config.steps
        self.params = record(
            MM_PARAMS, brownian=int(config.mid == "brownian"), sigma=config.sigma, dt=config.dt,
            drift=config.drift, vol_of_vol=config.vol_of_vol, fill_A=config.true_A, fill_k=config.true_k,
            fee=config.fee, max_inventory=math.inf if config.max_inventory is None else config.max_inventory,
        )  # fmt: skip
        self._noise = NoiseBank(episodes, NORMALS_PER_STEP * self.steps)
        self.normals = np.zeros((episodes, NORMALS_PER_STEP * self.steps))
        self.ledger = np.zeros((len(LEDGER_ROWS), episodes))
        self.step_index = -1

    def _row(self, row: int) -> np.ndarray:
        return _read_only(self.ledger[row])

    @property
    def mid(self) -> np.ndarray:
        """Current mid price, $."""
        return self._row(MID)

    @property
    def inventory(self) -> np.ndarray:
        """Current inventory, units (a float array of whole numbers)."""
        return self._row(INVENTORY)

    @property
    def cash(self) -> np.ndarray:
        """Cash, $ (starts at 0)."""
        return self._row(CASH)

    @property
    def bid_fills(self) -> np.ndarray:
        """1.0 where the bid was hit in the last step, else 0.0."""
        return self._row(BID_FILLS)

    @property
    def ask_fills(self) -> np.ndarray:
        """1.0 where the ask was hit in the last step, else 0.0."""
        return self._row(ASK_FILLS)

    @property
    def volatility(self) -> np.ndarray:
        """Volatility of the next mid move, $ per unit time^0.5 (constant unless vol_of_vol > 0)."""
        result: np.ndarray = self.config.sigma * np.exp(self.ledger[LOG_VOL])
        return result

    @property
    def time(self) -> float:
        """Time elapsed, step_index * dt."""
        return max(self.step_index, 0) * self.config.dt

    @property
    def done(self) -> bool:
        """True once the horizon is reached."""
        return self.step_index == self.steps

    def wealth(self) -> np.ndarray:
        """Mark-to-market wealth cash + inventory * mid, $, per episode."""
        result: np.ndarray = self.ledger[CASH] + self.ledger[INVENTORY] * self.ledger[MID]
        return result

    def profit(self) -> np.ndarray:
        """Wealth gained since the start, $: wealth - q0 * s0 (the paper's profit, with q0 = 0)."""
        result: np.ndarray = self.wealth() - self.config.q0 * self.config.s0
        return result

    def reset(self, seeds: Sequence[int | None] | None = None) -> None:
        """Start new episodes at (s0, q0, cash 0); a seed re-seeds that episode's stream, None continues it."""
        if seeds is not None:
            if len(seeds) != self.episodes:
                raise InputError(f"got {len(seeds)} seeds for {self.episodes} episodes; pass one per episode")
            self._noise.reseed(seeds)
        self.normals[:] = self._noise.next_episodes()
        self.ledger[:] = 0.0
        self.ledger[MID] = self.config.s0
        self.ledger[INVENTORY] = self.config.q0
        self.step_index = 0

    def step(self, delta_b: np.ndarray, delta_a: np.ndarray) -> None:
        """Quote a bid at mid - delta_b and an ask at mid + delta_a in every episode (NaN: no quote),
        fill them, then move the mid. Results land in the state arrays."""
        if self.step_index < 0:
            raise RuntimeError("call reset() before stepping")
        if self.done:
            raise RuntimeError("the episode is over (horizon reached); call reset()")
        bids = np.ascontiguousarray(delta_b, dtype=np.float64)
        asks = np.ascontiguousarray(delta_a, dtype=np.float64)
        for name, array in (("delta_b", bids), ("delta_a", asks)):
            if array.shape != (self.episodes,):  # the kernel reads [i] without bounds checks
                raise InputError(f"{name} must have shape ({self.episodes},), got {array.shape}")
        status = market_making_step(self.params, self.step_index, self.normals, self.ledger, bids, asks)
        if status == BAD_QUOTE:
            raise InputError("quote distances must be finite numbers; use NaN for no quote on a side")
        self.step_index += 1
