"""`tradebrain/DayTrading-v0`: long-only intraday trading of one symbol, flat by the close."""

from tradebrain.envs.day_trading.account import DayAccount, Fill
from tradebrain.envs.day_trading.actions import BUY, HOLD, N_ACTIONS, SELL, action_mask
from tradebrain.envs.day_trading.config import DayTradingEnvConfig
from tradebrain.envs.day_trading.day import TradingDay, trading_days
from tradebrain.envs.day_trading.env import DayTradingEnv
from tradebrain.envs.day_trading.observer import observation, observation_size
from tradebrain.envs.day_trading.vec import make_vec_env
from tradebrain.envs.day_trading.vec_env import DayTradingVecEnv

__all__ = [
    "BUY",
    "HOLD",
    "N_ACTIONS",
    "SELL",
    "DayAccount",
    "DayTradingEnv",
    "DayTradingEnvConfig",
    "DayTradingVecEnv",
    "Fill",
    "TradingDay",
    "action_mask",
    "make_vec_env",
    "observation",
    "observation_size",
    "trading_days",
]
