"""Several DayTrading-v0 episodes behind SB3's VecEnv interface, for training."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from tradebrain.core.errors import InputError
from tradebrain.desks.day_trading.config import DayTradingEnvConfig
from tradebrain.desks.day_trading.day import TradingDay
from tradebrain.desks.day_trading.env import DayTradingEnv
from tradebrain.desks.day_trading.vec_env import DayTradingVecEnv


def make_vec_env(days: Sequence[TradingDay], config: DayTradingEnvConfig, n_envs: int, seed: int) -> VecEnv:
    """`n_envs` shuffling DayTrading episodes over the same days in one `DayTradingVecEnv` (the
    natively batched twin); env i is seeded `seed + i`, so each walks its own order of the days,
    exactly as the DummyVecEnv of `make_dummy_vec_env` does, transition for transition.
    `action_masks` reaches every env through `env_method`, through any VecEnvWrapper (VecMonitor,
    VecNormalize), which is how MaskablePPO reads them."""
    if n_envs < 1:
        raise InputError(f"n_envs must be >= 1 (got {n_envs})")
    return DayTradingVecEnv(days, config, n_envs, seed)


def make_dummy_vec_env(days: Sequence[TradingDay], config: DayTradingEnvConfig, n_envs: int, seed: int) -> VecEnv:
    """`n_envs` shuffling `DayTradingEnv` copies in a DummyVecEnv, env i seeded `seed + i`: the
    reference the batched twin is tested equal to (about 19 us per env step, several times the twin's)."""
    if n_envs < 1:
        raise InputError(f"n_envs must be >= 1 (got {n_envs})")

    def factory() -> Callable[[], DayTradingEnv]:
        return lambda: DayTradingEnv(days, config, shuffle=True)

    venv = DummyVecEnv([factory() for _ in range(n_envs)])
    venv.seed(seed)
    return venv
