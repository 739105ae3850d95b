"""tradebrain: build, train, backtest and compare deep-RL trading strategies against classical ones.

Importing the package registers the Gymnasium envs (`tradebrain/Execution-v0`, `tradebrain/MarketMaking-v0`,
`tradebrain/DayTrading-v0`).
"""

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

for _id, _entry_point in (
    ("tradebrain/Execution-v0", "tradebrain.envs.execution.env:ExecutionEnv"),
    ("tradebrain/MarketMaking-v0", "tradebrain.envs.market_making.env:MarketMakingEnv"),
    ("tradebrain/DayTrading-v0", "tradebrain.envs.day_trading.env:DayTradingEnv"),
):
    if _id not in registry:
        register(id=_id, entry_point=_entry_point)
