"""`tradebrain/MarketMaking-v0`: quote a bid and an ask around the mid, Avellaneda-Stoikov style."""

from tradebrain.envs.market_making.config import MarketMakingEnvConfig
from tradebrain.envs.market_making.env import MarketMakingEnv
from tradebrain.envs.market_making.vec_env import MarketMakingVecEnv

__all__ = ["MarketMakingEnv", "MarketMakingEnvConfig", "MarketMakingVecEnv"]
