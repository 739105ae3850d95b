"""The coin-betting game: its config, its closed forms, the batched core and `toy/CoinBetting-v0`.

Each episode draws a coin with win probability p (uniform in [p_min, p_max], shown to the bettor)
and plays `rounds` rounds. Each round the bettor stakes a fraction of its wealth: a win adds the
stake, a loss takes it. The reward is the round's log growth of wealth, so an episode's return is
log(final wealth / initial wealth), whose expectation the Kelly fraction 2p - 1 maximises.

One core steps N episodes together; the single env is the core with one episode, the training
VecEnv (study.py) the core with N, and the evaluation drives policies through the same core, so
there is one implementation of the game. This module stays light (numpy, gymnasium, pydantic):
`gym.make` imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from pydantic import Field, model_validator

from tradebrain.core.config import StrictModel, with_overrides
from tradebrain.core.errors import InputError


class GameConfig(StrictModel):
    """The game: rounds per episode, the range the coin's win probability is drawn from, the largest stake."""

    rounds: int = Field(20, ge=1, le=10_000, description="bets per episode")
    p_min: float = Field(0.55, gt=0, lt=1, description="lowest win probability of an episode's coin")
    p_max: float = Field(0.75, gt=0, lt=1, description="highest win probability of an episode's coin")
    max_bet: float = Field(0.99, gt=0, lt=1, description="largest fraction of wealth one bet can stake")

    @model_validator(mode="after")
    def _ordered(self) -> GameConfig:
        if self.p_min > self.p_max:
            raise ValueError(f"p_min ({self.p_min}) must not exceed p_max ({self.p_max})")
        return self


def expected_log_growth(fraction: np.ndarray | float, p: np.ndarray | float) -> np.ndarray:
    """E[log(1 + f X)] for one round, X = +1 with probability p and -1 otherwise."""
    f = np.asarray(fraction, dtype=float)
    q = np.asarray(p, dtype=float)
    return np.asarray(q * np.log1p(f) + (1 - q) * np.log1p(-f))


def kelly_fraction(p: np.ndarray | float, max_bet: float = 1.0) -> np.ndarray:
    """The stake maximising the expected log growth: 2p - 1 when the coin favours the bettor, else 0
    (clipped to `max_bet`: the growth is concave in the stake, so the clipped value is the optimum)."""
    return np.asarray(np.clip(2 * np.asarray(p, dtype=float) - 1, 0.0, max_bet))


def optimal_growth(p: np.ndarray, game: GameConfig) -> np.ndarray:
    """Closed-form expected log growth of a whole episode at the Kelly stake, per episode's p."""
    return np.asarray(game.rounds * expected_log_growth(kelly_fraction(p, game.max_bet), p))


def observation_space() -> gym.spaces.Box:
    """[p, rounds left / rounds], both in [0, 1]."""
    return gym.spaces.Box(0.0, 1.0, (2,), np.float32)


def action_space() -> gym.spaces.Box:
    """The fraction of wealth to stake; values above `max_bet` stake `max_bet`, below 0 stake nothing."""
    return gym.spaces.Box(0.0, 1.0, (1,), np.float32)


class CoinCore:
    """`episodes` coin-betting episodes stepped together (the one implementation of the game)."""

    def __init__(self, game: GameConfig, episodes: int) -> None:
        self.game = game
        self.episodes = episodes
        self.p = np.full(episodes, 0.5)
        """Each episode's win probability."""
        self.wins = np.zeros((episodes, game.rounds), dtype=bool)
        """Each episode's coin flips, drawn at reset: the same seed gives every policy the same flips."""
        self.round = 0
        self.log_wealth = np.zeros(episodes)
        """log(wealth / initial wealth) so far."""
        self.observation = np.zeros((episodes, 2), dtype=np.float32)
        self.reward = np.zeros(episodes)
        self._rng = np.random.default_rng()

    def _draw(self, rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
        p = rng.uniform(self.game.p_min, self.game.p_max, count)
        return p, rng.random((count, self.game.rounds)) < p[:, None]

    def reset(self, seeds: Sequence[int | None] | None = None) -> np.ndarray:
        """Draw new coins and flips: episode i from `seeds[i]` when given (a fresh stream per seed, so
        a seed means the same episode in any batch), otherwise from the core's running stream."""
        if seeds is None:
            self.p, self.wins = self._draw(self._rng, self.episodes)
        else:
            if len(seeds) != self.episodes:
                raise InputError(f"reset got {len(seeds)} seeds for {self.episodes} episodes")
            draws = [self._draw(self._rng if seed is None else np.random.default_rng(seed), 1) for seed in seeds]
            self.p = np.concatenate([p for p, _ in draws])
            self.wins = np.concatenate([wins for _, wins in draws])
            if all(seed is not None for seed in seeds):  # later unseeded resets follow from these seeds
                self._rng = np.random.default_rng([int(seed) for seed in seeds if seed is not None])
        self.round = 0
        self.log_wealth = np.zeros(self.episodes)
        self.reward = np.zeros(self.episodes)
        return self._observe()

    def step(self, actions: np.ndarray) -> bool:
        """Bet the actions (fractions of wealth, clipped to [0, max_bet]) on this round's flips;
        True when the episodes have ended."""
        if self.round >= self.game.rounds:
            raise RuntimeError("the episodes have ended; call reset() first")
        stakes = np.asarray(actions, dtype=float).reshape(self.episodes)
        if not np.all(np.isfinite(stakes)):
            raise InputError(f"bets must be finite fractions of wealth, got {stakes}")
        fraction = np.clip(stakes, 0.0, self.game.max_bet)
        self.reward = np.log1p(np.where(self.wins[:, self.round], fraction, -fraction))
        self.log_wealth = self.log_wealth + self.reward
        self.round += 1
        self._observe()
        return self.round == self.game.rounds

    def _observe(self) -> np.ndarray:
        left = (self.game.rounds - self.round) / self.game.rounds
        self.observation = np.column_stack([self.p, np.full(self.episodes, left)]).astype(np.float32)
        return self.observation


class CoinEnv(gym.Env[np.ndarray, np.ndarray]):
    """`toy/CoinBetting-v0`: bet a fraction of wealth on a biased coin, `rounds` times.

    Observation `[p, rounds left / rounds]`; action `Box(0, 1, (1,))`, the stake as a fraction of
    wealth (capped at `max_bet`); reward log(1 + stake) on a win, log(1 - stake) on a loss.
    `terminated` after `rounds` bets, never `truncated`. Keyword overrides of `GameConfig` fields are
    accepted: `gym.make("toy/CoinBetting-v0", rounds=5)`.
    """

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012

    def __init__(self, game: GameConfig | None = None, **overrides: Any) -> None:
        self.game = with_overrides(game or GameConfig(), overrides, "CoinEnv keywords")
        self.core = CoinCore(self.game, 1)
        self.observation_space = observation_space()
        self.action_space = action_space()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; `seed` fixes its coin and flips, and every later episode's."""
        super().reset(seed=seed)
        observation = self.core.reset(None if seed is None else [seed])
        return observation[0].copy(), {"p": self.core.p.item(0)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Bet once."""
        done = self.core.step(np.asarray(action))
        info = {"log_wealth": self.core.log_wealth.item(0)}
        return self.core.observation[0].copy(), self.core.reward.item(0), done, False, info
